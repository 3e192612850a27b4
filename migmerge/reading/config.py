"""`[tool.migmerge]` in the repository's pyproject.toml, or the same keys in `.migmerge.toml`."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from migmerge.errors import ConfigError

STRATEGIES = ("auto", "merge", "renumber", "regenerate")
HOOK_ACTIONS = ("report", "ask", "renumber")
RENUMBER_STYLES = ("rename", "keep-names")
COMMANDS = ("makemigrations", "migrate", "rollback")
SEPARATE_FILE = ".migmerge.toml"


class Config(NamedTuple):
    """What a project can set; every field is optional in the file."""

    strategy: str = "auto"
    default_branch: str | None = None
    apps: Mapping[str, str] = {}  # shared by the defaults, so never mutated
    migration_modules: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    manage_py: str | None = None
    settings: str | None = None
    database: str | None = None
    on_merge: str = "report"
    on_rebase: str = "report"
    renumber: str = "rename"
    python: str | None = None
    manage: str | None = None
    # makemigrations / migrate / rollback: command lines for projects whose
    # migrations another tool runs (condo's yarn and knex).
    commands: Mapping[str, str] = {}


def load_config(root: Path) -> Config:
    """Read `[tool.migmerge]` from root/pyproject.toml, else root/.migmerge.toml; defaults."""
    path = root / "pyproject.toml"
    if path.is_file():
        data = path.read_bytes()
        if b"migmerge" in data:
            table = _table(data, str(path), ("tool", "migmerge"))
            if table is not None:
                return _from_table(table, str(path))
    separate = root / SEPARATE_FILE
    if separate.is_file():
        return _from_table(_table(separate.read_bytes(), str(separate), ()) or {}, str(separate))
    return Config()


def parse_config(data: bytes, where: str = "pyproject.toml") -> Config:
    """Parse pyproject.toml bytes into a Config, refusing malformed values."""
    if b"migmerge" not in data:
        return Config()  # not ours to judge, and no TOML parser to import
    return _from_table(_table(data, where, ("tool", "migmerge")) or {}, where)


def _table(data: bytes, where: str, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """Return the TOML table at `keys` (None when absent), refusing invalid TOML."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        table: object = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from exc
    for key in keys:
        if not isinstance(table, dict) or key not in table:
            return None
        table = table[key]
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{'.'.join(keys)}] must be a table")
    return table


def _from_table(table: dict[str, Any], where: str) -> Config:
    known = {f.replace("_", "-") for f in Config._fields}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) in [tool.migmerge]: {', '.join(unknown)}",
            hint=f"known keys: {', '.join(sorted(known))}",
        )
    return Config(
        strategy=_choice(table, "strategy", STRATEGIES, "auto", where),
        default_branch=_opt_str(table, "default-branch", where),
        apps=_str_map(table, "apps", where),
        migration_modules=_str_list(table, "migration-modules", where),
        exclude=_str_list(table, "exclude", where),
        manage_py=_opt_str(table, "manage-py", where),
        settings=_opt_str(table, "settings", where),
        database=_opt_str(table, "database", where),
        on_merge=_choice(table, "on-merge", HOOK_ACTIONS, "report", where),
        on_rebase=_choice(table, "on-rebase", HOOK_ACTIONS, "report", where),
        renumber=_choice(table, "renumber", RENUMBER_STYLES, "rename", where),
        python=_opt_str(table, "python", where),
        manage=_command_line(table, "manage", where),
        commands=_commands(table, where),
    )


def _command_line(table: dict[str, Any], key: str, where: str, prefix: str = "") -> str | None:
    """A string that shlex splits into a non-empty argv."""
    import shlex

    value = _opt_str(table, key, where, prefix)
    if value is None:
        return None
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: tool.migmerge.{prefix}{key} = {value!r}: {exc}") from exc
    if not argv:
        raise ConfigError(f"{where}: tool.migmerge.{prefix}{key} is empty")
    return value


def _commands(table: dict[str, Any], where: str) -> dict[str, str]:
    value = table.get("commands", {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: tool.migmerge.commands must be a table")
    unknown = sorted(set(value) - set(COMMANDS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) in [tool.migmerge.commands]: {', '.join(unknown)}",
            hint=f"known keys: {', '.join(COMMANDS)}",
        )
    return {key: _command_line(value, key, where, "commands.") or "" for key in value}


def _opt_str(table: dict[str, Any], key: str, where: str, prefix: str = "") -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: tool.migmerge.{prefix}{key} must be a string")
    return value


def _choice(
    table: dict[str, Any], key: str, allowed: tuple[str, ...], default: str, where: str
) -> str:
    value = _opt_str(table, key, where) or default
    if value not in allowed:
        raise ConfigError(
            f"{where}: tool.migmerge.{key} = {value!r} is not one of {', '.join(allowed)}"
        )
    return value


def _str_list(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: tool.migmerge.{key} must be a list of strings")
    return tuple(v.strip("/") for v in value)


def _str_map(table: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{where}: tool.migmerge.{key} must map paths to app labels")
    return {k.strip("/"): v for k, v in value.items()}

"""`[tool.migmerge]` in the repository's pyproject.toml."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from migmerge.errors import ConfigError

STRATEGIES = ("auto", "merge", "renumber", "regenerate")
HOOK_ACTIONS = ("report", "ask", "renumber")
RENUMBER_STYLES = ("rename", "keep-names")


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


def load_config(root: Path) -> Config:
    """Read `[tool.migmerge]` from root/pyproject.toml; defaults when absent."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return Config()
    return parse_config(path.read_bytes(), str(path))


def parse_config(data: bytes, where: str = "pyproject.toml") -> Config:
    """Parse pyproject.toml bytes into a Config, refusing malformed values."""
    if b"migmerge" not in data:
        return Config()  # not ours to judge, and no TOML parser to import
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from exc
    table = doc.get("tool", {}).get("migmerge", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tool.migmerge] must be a table")
    return _from_table(table, where)


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
    )


def _opt_str(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: tool.migmerge.{key} must be a string")
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

"""The project's default database, from its settings: read statically, else asked.

Static reading evaluates the settings module the project runs with (see
`settings_eval`); with `ask`, the project's own interpreter is asked when
that fails: a fixed script imports the settings (named through the
environment) and prints DATABASES["default"] as JSON; nothing is migrated and
no code is built from names. Only `reading.project` calls this, once per run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from migmerge.core.model import Database, Project
from migmerge.reading.config import Config
from migmerge.reading.git import clean_env

# Engines by their last dotted part: Django's own, GIS, and wrappers such as
# django_prometheus.db.backends.postgresql. Anything else is unknown, never guessed.
VENDORS = {
    "sqlite3": "sqlite",
    "spatialite": "sqlite",
    "postgresql": "postgresql",
    "postgresql_psycopg2": "postgresql",
    "postgis": "postgresql",
    "mysql": "mysql",
}
ASK_TIMEOUT = 60  # seconds for the project's interpreter to import its settings


def vendor_of(engine: object) -> str | None:
    """Map a database ENGINE to the vendor migmerge reads ("sqlite", ...), None when unknown."""
    if not isinstance(engine, str):
        return None
    return VENDORS.get(engine.rpartition(".")[2])


def _search_roots(project: Project) -> tuple[Path, ...]:
    """Where the project's modules are imported from: manage.py's folder, then the root."""
    return tuple(dict.fromkeys((Path(project.cwd), Path(project.root))))


def settings_path(
    project: Project, files: Iterable[str] | None = None
) -> tuple[Path, tuple[Path, ...]] | None:
    """The settings module's file and the folders its imports resolve from, or None."""
    if not project.settings:
        return None
    relative = Path(*project.settings.split("."))
    for base in _search_roots(project):
        for candidate in (base / relative.with_suffix(".py"), base / relative / "__init__.py"):
            if candidate.is_file():
                return candidate, _module_roots(candidate, project)
    return _by_suffix(project, relative, files)


def _by_suffix(
    project: Project, relative: Path, files: Iterable[str] | None
) -> tuple[Path, tuple[Path, ...]] | None:
    """A settings module deep in a monorepo (Karrio's modules/*/karrio/...): the only match."""
    if files is None:
        return None
    tails = (relative.with_suffix(".py").as_posix(), (relative / "__init__.py").as_posix())
    found = [f for f in files if f.endswith(tails) and (f in tails or f"/{f}".endswith(tails))]
    if len(found) != 1:
        return None
    path = Path(project.root) / found[0]
    return path, _module_roots(path, project)


def _module_roots(path: Path, project: Project) -> tuple[Path, ...]:
    """The folder that made `project.settings` importable, then the usual roots."""
    depth = len((project.settings or "").split(".")) + (path.name == "__init__.py")
    return (path.parents[depth - 1], *_search_roots(project))


# The database -----------------------------------------------------------------------


def find_database_of(
    project: Project, config: Config, files: Iterable[str] | None, ask: bool
) -> tuple[Database | None, str, list[Path]]:
    """The default database, where it came from (or why unknown), and the settings files read."""
    if config.database:
        path = (Path(project.root) / config.database).resolve()
        return Database("sqlite", str(path)), "[tool.migmerge] database", []
    found, why, read = _database_static(project, files)
    if found is None and ask:
        asked, asked_why = _database_asked(project)
        if asked is not None:
            return asked, f"{asked_why} ({why})", read
        why = f"{why}; {asked_why}"
    return found, why, read


def _database_static(
    project: Project, files: Iterable[str] | None
) -> tuple[Database | None, str, list[Path]]:
    from migmerge.reading.settings_eval import evaluate
    from migmerge.reading.settings_values import Unknown

    located = settings_path(project, files)
    if located is None:
        return None, _no_settings_why(project), []
    path, roots = located
    module = evaluate(Path(project.root), path, project.settings or "", roots)
    where = _relative(path, project)
    if "__error__" in module.names:
        error = module.names["__error__"]
        reason = error.reason if isinstance(error, Unknown) else "it cannot be read"
        return None, f"the settings {where} cannot be read statically: {reason}", list(module.files)
    found, why = _from_entry(_default_entry(module.names), project)
    return found, f"{why} (read statically from {where})", list(module.files)


def _no_settings_why(project: Project) -> str:
    if not project.settings and not project.manage:
        return f"{project.manage_why}, and no settings module is named"
    if not project.settings:
        return f"no settings module ({project.settings_why})"
    where = f"{project.settings} ({project.settings_why})"
    return f"the settings module {where} is not in the repository"


def _relative(path: Path, project: Project) -> str:
    try:
        return path.resolve().relative_to(Path(project.root)).as_posix()
    except ValueError:
        return str(path)


def _default_entry(names: Mapping[str, object]) -> object:
    from migmerge.reading.settings_values import Unknown

    databases = names.get("DATABASES", Unknown("the settings define no DATABASES"))
    if isinstance(databases, dict):
        return databases.get("default", Unknown("DATABASES has no 'default' entry"))
    return databases


def _from_entry(entry: object, project: Project) -> tuple[Database | None, str]:
    """Turn DATABASES["default"] into a Database, or say why it is unknown."""
    from migmerge.reading.settings_values import Unknown

    if isinstance(entry, Unknown):
        return None, f"DATABASES['default'] cannot be read: {entry.reason}"
    if not isinstance(entry, dict):
        return None, "DATABASES['default'] is not a dict"
    engine = entry.get("ENGINE")
    if isinstance(engine, Unknown):
        return None, f"ENGINE cannot be read: {engine.reason}"
    vendor = vendor_of(engine)
    if vendor is None:
        return None, f"the database engine {engine!r} is not one migmerge can read"
    name = entry.get("NAME")
    if isinstance(name, Unknown) or name in (None, ""):
        reason = name.reason if isinstance(name, Unknown) else "it is empty"
        return None, f"NAME cannot be read: {reason}"
    return _database_of(vendor, entry, Path(project.cwd)), f"{engine} database"


def _database_of(vendor: str, entry: Mapping[Any, object], cwd: Path) -> Database:
    name = str(entry["NAME"])
    if vendor == "sqlite" and not Path(name).is_absolute():
        # Django opens a relative NAME from the folder it runs in: manage.py's.
        name = str((cwd / name).resolve())
    port = str(_text(entry.get("PORT")) or "")
    return Database(
        vendor,
        name,
        host=_text(entry.get("HOST")),
        port=int(port) if port.isdigit() else None,
        user=_text(entry.get("USER")),
        password=_text(entry.get("PASSWORD")),
    )


def _text(value: object) -> str | None:
    from migmerge.reading.settings_values import Unknown

    return str(value) if value not in (None, "") and not isinstance(value, Unknown) else None


def _database_asked(project: Project) -> tuple[Database | None, str]:
    """Ask the project's interpreter for DATABASES["default"] (settings imported, nothing run)."""
    import json

    argv, env = _ask_argv(project)
    if not argv:
        return None, "and there is no settings module or manage command to ask"
    shown = project.shown(argv) if project.manage else f"{project.python} (settings import)"
    try:
        proc = subprocess.run(
            argv, cwd=project.cwd, capture_output=True, text=True, env=env, timeout=ASK_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"asking {shown} failed: {exc}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith(_MARKER)]
    if proc.returncode != 0 or not lines:
        last = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
        return None, f"asking the project's interpreter failed: {last}"
    entry: dict[str, object] = json.loads(lines[-1][len(_MARKER) :])
    found, why = _from_entry(entry, project)
    return found, f"{why}, as the project's interpreter ({project.python_why}) reads its settings"


_MARKER = "MIGMERGE-DATABASE:"


def _ask_argv(project: Project) -> tuple[list[str], dict[str, str]]:
    """The fixed script, run with the settings module in the environment (no code from names)."""
    script = Path(__file__).resolve().parent.parent / "resources" / "database_settings.py"
    if project.settings:
        env = clean_env({"DJANGO_SETTINGS_MODULE": project.settings})
        return [project.python, str(script)], env
    if project.manage:
        # No module to name: the manage command loads its own settings; its shell runs the script.
        code = script.read_text(encoding="utf-8")
        return list(project.command("shell", "-c", code)), clean_env()
    return [], {}

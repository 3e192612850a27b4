"""The project as it runs itself: one reader of its manage command, interpreter, settings, database.

`load_project` builds the `Project` record once per run (memoised in the
process, checked against the files it read): which command stands for
`python manage.py`, which interpreter runs it and why, which settings module
the project uses and where that came from (`--settings`, else
`DJANGO_SETTINGS_MODULE`, else what manage.py names, else the config), and
the default database (`dbsettings`: read statically from the settings; with
`ask=True`, for resolve and doctor, the project's own interpreter is asked
when static reading fails). `with_applied` adds what the database has
applied, read-only.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path

from migmerge.core.model import Database, Project
from migmerge.errors import ConfigError, MigmergeError
from migmerge.reading.config import Config
from migmerge.reading.interpreter import OWN, project_python

# Folders never searched for manage.py: virtualenvs and dependencies hold other projects'.
SKIP_DIRS = frozenset({".git", ".venv", "venv", "env", "node_modules", "site-packages", ".tox"})

_MEMO: dict[tuple[object, ...], tuple[tuple[tuple[str, int], ...], Project]] = {}


def load_project(
    root: Path,
    config: Config,
    *,
    settings: str | None = None,
    near: str | None = None,
    files: Iterable[str] | None = None,
    ask: bool = False,
) -> Project:
    """Describe the project as it runs itself; once per run (memoised, checked against its files).

    `settings`: the --settings flag. `near`: a repository-relative folder (an
    app's migrations) whose nearest manage.py above is the project's.
    `files`: the repository's listing, so finding manage.py walks no disk.
    `ask`: may run the project's interpreter (settings import, PATH probe).
    """
    env = (os.environ.get("DJANGO_SETTINGS_MODULE"), os.environ.get("VIRTUAL_ENV"))
    # Keyed by the manage.py found, not by `near`: every app of one project
    # shares one reading (resolve over 1,000 apps built it, probes and all, 1,000 times).
    found = _find_manage(root.resolve(), config, near, files)
    key = (str(root), settings, str(found[0]), ask, env, repr(config))
    cached = _MEMO.get(key)
    if cached is not None and _unchanged(cached[0]):
        shared: Project = cached[1]
        if shared.manage_why == found[1] or not shared.manage_why.startswith("the manage.py"):
            return shared
        return shared._replace(manage_why=found[1])
    project, read = _build(root, config, settings, found, files, ask)
    _MEMO[key] = (_stamps(read), project)
    return project


def forget_projects() -> None:
    """Forget every memoised project (a long-lived process that changed a project)."""
    _MEMO.clear()


def with_applied(project: Project) -> Project:
    """Return `project` with what its database has applied, read now, read-only."""
    from migmerge.reading.applied import read_applied

    if project.database is None:
        hint = _no_database_hint(project)
        return project._replace(applied=None, applied_why=project.database_why, applied_hint=hint)
    python = project.python if project.python_why != OWN else None
    found = read_applied(project.database, python)
    return project._replace(applied=found.keys, applied_why=found.why, applied_hint=found.hint)


def settings_module_of(source: bytes) -> str | None:
    """The settings module a manage.py names: `os.environ.setdefault("DJANGO_SETTINGS_MODULE", X)`.

    The one reader of it (discovery and the project both ask here).
    """
    if b"DJANGO_SETTINGS_MODULE" not in source:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and len(node.args) == 2:
            key, value = (_constant(arg) for arg in node.args)
            if key == "DJANGO_SETTINGS_MODULE" and isinstance(value, str):
                return value
    return None


# Building the record ------------------------------------------------------------


def _build(
    root: Path,
    config: Config,
    flag: str | None,
    found: tuple[Path | None, str],
    files: Iterable[str] | None,
    ask: bool,
) -> tuple[Project, list[Path]]:
    root = root.resolve()
    manage_py, manage_why = found
    read = [p for p in (manage_py, root / "pyproject.toml", root / ".migmerge.toml") if p]
    cwd = manage_py.parent if manage_py else root
    python, python_why = project_python(root, config, manage_py.parent if manage_py else None, ask)
    manage, shown, manage_why = _manage(config, manage_py, manage_why, python)
    settings, settings_why = _settings(flag, manage_py, config)
    chosen = settings if settings_why in (_FLAG, _CONFIG) else None
    project = Project(
        root=str(root),
        manage=manage,
        manage_shown=shown,
        manage_why=manage_why,
        cwd=str(cwd),
        python=python,
        python_why=python_why,
        settings=settings,
        settings_why=settings_why,
        database=None,
        database_why="",
        settings_args=("--settings", chosen) if chosen and manage else (),
    )
    from migmerge.reading.dbsettings import find_database_of

    database, database_why, settings_files = find_database_of(project, config, files, ask)
    read += settings_files
    return project._replace(database=database, database_why=database_why), read


def _stamps(paths: Iterable[Path]) -> tuple[tuple[str, int], ...]:
    return tuple((str(p), _mtime(p)) for p in dict.fromkeys(paths))


def _unchanged(stamps: tuple[tuple[str, int], ...]) -> bool:
    return all(_mtime(Path(p)) == t for p, t in stamps)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


# manage.py and the manage command -------------------------------------------------


def _find_manage(
    root: Path, config: Config, near: str | None, files: Iterable[str] | None
) -> tuple[Path | None, str]:
    if config.manage:
        return None, "[tool.migmerge] manage"
    if config.manage_py:
        return _configured(root, config.manage_py), "[tool.migmerge] manage-py"
    listed = None if files is None else _manage_files(files)
    if near is not None:
        found = _nearest_above(root, near, listed)
        if found is not None:
            return found, f"the manage.py nearest above {near}"
    candidates = [root / p for p in listed] if listed is not None else list(_walk(root))
    if len(candidates) == 1:
        return candidates[0].resolve(), "the repository's only manage.py"
    if candidates:
        return None, f"{len(candidates)} manage.py files and none chosen"
    return None, "no manage.py in the repository"


# The last listing's manage.py files: resolve asks once per conflicting app (1,000 apps
# filtered a 5,000-file listing 1,000 times). Held by the listing itself, not its id.
_LISTED: list[tuple[Iterable[str], int, list[str]]] = []


def _manage_files(files: Iterable[str]) -> list[str]:
    """The manage.py paths of the listing `files`, sorted."""
    sized = len(files) if isinstance(files, Sized) else -1
    if _LISTED and _LISTED[0][0] is files and _LISTED[0][1] == sized >= 0:
        return _LISTED[0][2]
    listed = sorted(f for f in files if "manage.py" in f and _is_manage(f))
    _LISTED[:] = [(files, sized, listed)]
    return listed


def _is_manage(path: str) -> bool:
    return path.endswith("manage.py") and (path == "manage.py" or path.endswith("/manage.py"))


def _nearest_above(root: Path, near: str, listed: list[str] | None) -> Path | None:
    parts = near.strip("/").split("/")
    for i in range(len(parts), -1, -1):
        relative = "/".join([*parts[:i], "manage.py"])
        exists = relative in listed if listed is not None else (root / relative).is_file()
        if exists:
            return (root / relative).resolve()
    return None


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if "manage.py" in names:
            yield Path(folder) / "manage.py"


def _configured(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if path.is_dir():
        path = path / "manage.py"
    if not path.is_file():
        raise ConfigError(
            f"[tool.migmerge] manage-py = {relative!r}: no such file in {root}",
            hint="point manage-py at the project's manage.py, relative to the repository root",
        )
    return path


def _manage(
    config: Config, manage_py: Path | None, why: str, python: str
) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    import shlex

    if config.manage:
        shown = tuple(shlex.split(config.manage))
        return (_in_environment(shown[0], python), *shown[1:]), shown, why
    if manage_py is None:
        return (), (), why
    return (python, str(manage_py)), ("python", "manage.py"), why


def _in_environment(program: str, python: str) -> str:
    """A bare command name from the interpreter's own bin folder when it has one (karrio)."""
    if os.sep in program or "/" in program:
        return program
    beside = Path(python).parent / program
    return str(beside) if beside.is_file() else program


# Settings ----------------------------------------------------------------------------

_FLAG = "--settings"
_ENV = "DJANGO_SETTINGS_MODULE"
_MANAGE = "manage.py"
_CONFIG = "[tool.migmerge] settings"


def _settings(flag: str | None, manage_py: Path | None, config: Config) -> tuple[str | None, str]:
    """The settings module the project runs with (the contract's order), and where it came from."""
    if flag:
        return flag, _FLAG
    if os.environ.get(_ENV):
        return os.environ[_ENV], _ENV
    named = _read_settings_module(manage_py) if manage_py else None
    if named:
        return named, _MANAGE
    if config.settings:
        return config.settings, _CONFIG
    return None, "no --settings, DJANGO_SETTINGS_MODULE, manage.py default or config names one"


def _read_settings_module(manage_py: Path) -> str | None:
    try:
        return settings_module_of(manage_py.read_bytes())
    except OSError:
        return None


def _no_database_hint(project: Project) -> str:
    if not project.manage and not project.settings:
        return (
            "run migmerge from the project's repository, or set [tool.migmerge] manage-py "
            '(or manage = "your-command" for a project without manage.py) and settings'
        )
    return (
        "pass --settings or set DJANGO_SETTINGS_MODULE to the settings the project runs with, "
        'or set [tool.migmerge] database = "path/to/db.sqlite3"'
    )


def _constant(node: ast.expr) -> object:
    return node.value if isinstance(node, ast.Constant) else None


# Running the project's commands ------------------------------------------------------


def find_manage_py(root: Path, config: Config, app_dir: str | None = None) -> Path | None:
    """Find manage.py: the configured one, the nearest above the app, else the only one."""
    if config.manage:
        return None
    return _find_manage(root.resolve(), config, app_dir, None)[0]


def manage_command(
    root: Path,
    config: Config,
    *args: str,
    app_dir: str | None = None,
    settings: str | None = None,
) -> tuple[str, ...]:
    """Build the argv running the project's manage command (prefer `Project.command`)."""
    project = load_project(root, config, settings=settings, near=app_dir)
    if not project.manage:
        raise no_manage_error(project)
    return project.command(*args)


def no_manage_error(project: Project) -> MigmergeError:
    """Say that no manage.py was found and what to configure."""
    return MigmergeError(
        f"cannot tell which manage.py runs the project in {project.root}: {project.manage_why}",
        hint='set [tool.migmerge] manage-py = "path/to/manage.py", or manage = "command" '
        "for a project whose own command stands for `python manage.py` (e.g. karrio)",
    )


def find_database(
    root: Path, config: Config, *, load_settings: bool = False, settings: str | None = None
) -> Database | None:
    """The project's default database (prefer `load_project(...).database`)."""
    return load_project(root, config, settings=settings, ask=load_settings).database

"""The project around the migrations: its manage.py, its interpreter, the command lines it runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from migmerge.errors import ConfigError, MigmergeError
from migmerge.reading.config import Config

# Folders never searched for manage.py: virtualenvs and dependencies hold other projects'.
SKIP_DIRS = frozenset({".git", ".venv", "venv", "env", "node_modules", "site-packages", ".tox"})
VENV_PYTHONS = (".venv/bin/python", "venv/bin/python", ".venv/Scripts/python.exe")


def find_manage_py(root: Path, config: Config, app_dir: str | None = None) -> Path | None:
    """Find manage.py: the configured one, the nearest above the app, else the only one."""
    if config.manage_py:
        return _configured(root, config.manage_py)
    if app_dir is not None:
        found = _nearest_above(root, root / app_dir)
        if found is not None:
            return found
    candidates = list(_iter_manage_pys(root))
    return candidates[0] if len(candidates) == 1 else None


def project_python(manage_py: Path, root: Path) -> str:
    """Return the interpreter for the project: its own virtualenv's next to manage.py, else ours."""
    for folder in dict.fromkeys((manage_py.parent, root)):
        for relative in VENV_PYTHONS:
            candidate = folder / relative
            if candidate.is_file():
                return str(candidate)
    return sys.executable


def manage_command(
    root: Path, config: Config, *args: str, app_dir: str | None = None
) -> tuple[str, ...]:
    """Build the argv running the project's own manage.py in the project's environment."""
    manage_py = find_manage_py(root, config, app_dir)
    if manage_py is None:
        raise MigmergeError(
            f"cannot tell which manage.py runs the project in {root}",
            hint='set [tool.migmerge] manage-py = "path/to/manage.py" in pyproject.toml',
        )
    settings = ("--settings", config.settings) if config.settings else ()
    return (project_python(manage_py, root), str(manage_py), *args, *settings)


def manage_cwd(argv: Sequence[str]) -> Path:
    """Return the folder a manage.py argv runs in: the one holding manage.py."""
    return Path(argv[1]).parent


def display_command(argv: Sequence[str]) -> str:
    """Render a manage.py argv the way a person types it (no interpreter path)."""
    if len(argv) >= 2 and Path(argv[1]).name == "manage.py":
        return " ".join(["python", "manage.py", *argv[2:]])
    return " ".join(argv)


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


def _nearest_above(root: Path, start: Path) -> Path | None:
    root = root.resolve()
    folder = start.resolve()
    while folder == root or root in folder.parents:
        if (folder / "manage.py").is_file():
            return folder / "manage.py"
        folder = folder.parent
    return None


def _iter_manage_pys(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if "manage.py" in files:
            yield Path(folder).resolve() / "manage.py"

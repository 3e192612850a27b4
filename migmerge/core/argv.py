"""A manage.py command line: the folder it runs in, and how a person types it.

Pure: an argv in, a path or words out. The project reader (reading/project)
builds the argv; plans, the executor and the report show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def manage_cwd(argv: Sequence[str]) -> Path:
    """Return the folder a manage.py argv runs in: manage.py's (prefer Project.cwd)."""
    if len(argv) >= 2 and Path(argv[1]).name == "manage.py":
        return Path(argv[1]).parent
    return Path.cwd()


def display_command(argv: Sequence[str]) -> str:
    """Render a manage.py argv the way a person types it (no interpreter path)."""
    return " ".join(display_argv(argv))


def display_argv(argv: Sequence[str]) -> list[str]:
    """A manage.py argv as a person types it: `python manage.py ...`, no interpreter path."""
    if len(argv) >= 2 and Path(argv[1]).name == "manage.py":
        return ["python", "manage.py", *argv[2:]]
    return list(argv)

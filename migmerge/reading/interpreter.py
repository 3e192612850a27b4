"""The project's interpreter, and the rule that chose it, in the contract's order.

`VIRTUAL_ENV`; a `.venv` or `venv` beside manage.py, then at the repository
root; `[tool.migmerge] python`; with `ask`, a `python` on PATH that imports
Django (checked by running it); else migmerge's own interpreter, said so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from migmerge.errors import ConfigError
from migmerge.reading.config import Config
from migmerge.reading.git import clean_env

VENV_PYTHONS = ("bin/python", "Scripts/python.exe")


VENV_DIRS = (".venv", "venv")


PROBE_TIMEOUT = 10


OWN = "migmerge's own interpreter"


def project_python(
    root: Path, config: Config, manage_dir: Path | None, ask: bool
) -> tuple[str, str]:
    """The project's interpreter and the rule that chose it, in the contract's order."""
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and _venv_python(Path(venv)):
        return str(_venv_python(Path(venv))), f"VIRTUAL_ENV ({venv})"
    places = {manage_dir: "beside manage.py"} if manage_dir else {}
    places.setdefault(root, "at the repository root")
    for folder, where in places.items():
        for name in VENV_DIRS:
            found = _venv_python(folder / name)
            if found is not None:
                return str(found), f"{name} {where}"
    if config.python:
        return _configured_python(root, config.python), "[tool.migmerge] python"
    if ask:
        for name in ("python", "python3"):
            probed = _probe(name)
            if probed is not None:
                return probed, f"{name} on PATH, which imports Django"
    return sys.executable, OWN


def _venv_python(folder: Path) -> Path | None:
    for relative in VENV_PYTHONS:
        candidate = folder / relative
        if candidate.is_file():
            return candidate
    return None


def _configured_python(root: Path, value: str) -> str:
    import shutil

    path = root / value
    found = str(path) if ("/" in value or os.sep in value) and path.is_file() else None
    found = found or shutil.which(value)
    if found is None:
        raise ConfigError(
            f"[tool.migmerge] python = {value!r}: no such interpreter",
            hint="give the project's interpreter, relative to the repository root or on PATH",
        )
    return found


def _probe(name: str) -> str | None:
    """A `python` on PATH that imports Django (checked by running it), or None."""
    import shutil

    found = shutil.which(name)
    if found is None:
        return None
    try:
        proc = subprocess.run(
            [found, "-I", "-c", "import django"],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            env=clean_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if proc.returncode == 0 else None

"""Merge migrations as the project's own Django writes them.

`makemigrations --merge` names the file, writes a header with its Django's
version and runs black on it when black is installed. The project's
interpreter renders it (migmerge/resources/render_merge.py, leaf names passed
as JSON data, never as code) when it has Django; otherwise migmerge's own
Django does, and the result says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from migmerge.core.model import Project
from migmerge.reading.git import clean_env

SCRIPT = Path(__file__).resolve().parent.parent / "resources" / "render_merge.py"
TIMEOUT = 120


class Rendered(NamedTuple):
    """A rendered merge migration: its module name, its bytes, and who wrote it, in words."""

    name: str
    source: bytes
    how: str


def render_merge(
    project: Project | None, app: str, leaves: Sequence[str], number: int, path: str
) -> Rendered:
    """Render the merge migration of `leaves` as the project's Django would write it at `path`."""
    request = {"app": app, "leaves": list(leaves), "number": number, "path": path}
    if project is None or project.python_why.startswith("migmerge's own"):
        answer = _in_process(request)
        return _rendered(answer, f"migmerge's own Django {answer['django']}")
    if _same_interpreter(project.python):
        answer = _in_process(request)
        return _rendered(answer, f"the project's Django {answer['django']} ({project.python_why})")
    asked, failure = _with(project.python, request)
    if asked is not None:
        return _rendered(asked, f"the project's Django {asked['django']} ({project.python_why})")
    answer = _in_process(request)
    why = f"migmerge's own Django {answer['django']}, because the project's interpreter {failure}"
    return _rendered(answer, why)


def _rendered(answer: dict[str, Any], who: str) -> Rendered:
    formatted = f", formatted with {answer['formatter']}" if answer.get("formatter") else ""
    return Rendered(answer["name"], str(answer["source"]).encode("utf-8"), f"{who}{formatted}")


def _same_interpreter(python: str) -> bool:
    # By path, not by the file it links to: a virtualenv's python links to the base one.
    return python == sys.executable


def _with(python: str, request: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """Render with another interpreter; (None, why) when it cannot."""
    env = clean_env()
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the writer needs no project settings
    try:
        proc = subprocess.run(
            [python, "-I", str(SCRIPT)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{python} cannot run it ({exc})"
    if proc.returncode != 0:
        has_no_django = "No module named 'django'" in proc.stderr
        return None, f"{python} has no Django" if has_no_django else f"{python} failed"
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer, ""


def _in_process(request: dict[str, Any]) -> dict[str, Any]:
    """Render with the Django migmerge runs with (the same script, loaded as a module)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("migmerge_render_merge", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answer: dict[str, Any] = module.render(request)
    return answer

"""Merge migrations as the project's own Django writes them.

`makemigrations --merge` names the file, writes a header with its Django's
version and runs black on it when black is installed. The project's
interpreter renders them (migmerge/resources/render_merge.py, leaf names
passed as JSON data, never as code) when it has Django; otherwise migmerge's
own Django does, and the result says so. Every merge migration of a run is
rendered in one process: one start of the interpreter, Django and black for
all of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migmerge.core.model import Project
from migmerge.core.plan import MergeRequest, Rendered
from migmerge.reading.git import clean_env

SCRIPT = Path(__file__).resolve().parent.parent / "resources" / "render_merge.py"
TIMEOUT = 120  # for the process, plus PER_MERGE for each merge migration it renders
PER_MERGE = 10


def render_merge(
    project: Project | None, app: str, leaves: Sequence[str], number: int, path: str
) -> Rendered:
    """Render the merge migration of `leaves` as the project's Django would write it at `path`."""
    (rendered,) = render_merges(project, [MergeRequest(app, tuple(leaves), number, path)])
    return rendered


def render_merges(project: Project | None, requests: Sequence[MergeRequest]) -> list[Rendered]:
    """Render every request as the project's Django would, in one process, in their order."""
    if not requests:
        return []
    # black finds its configuration from the file's folder up, as Django runs it on the file:
    # the repository-relative path is made whole, not left to the current directory.
    root = Path(project.root) if project is not None else Path()
    asked = [
        {"app": r.app, "leaves": list(r.leaves), "number": r.number, "path": str(root / r.path)}
        for r in requests
    ]
    if project is None or project.python_why.startswith("migmerge's own"):
        return [_rendered(a, f"migmerge's own Django {a['django']}") for a in _in_process(asked)]
    if _same_interpreter(project.python):
        who = f"({project.python_why})"
        return [
            _rendered(a, f"the project's Django {a['django']} {who}") for a in _in_process(asked)
        ]
    answers, failure = _with(project.python, asked)
    if answers is not None:
        who = f"({project.python_why})"
        return [_rendered(a, f"the project's Django {a['django']} {who}") for a in answers]
    return [
        _rendered(
            a, f"migmerge's own Django {a['django']}, because the project's interpreter {failure}"
        )
        for a in _in_process(asked)
    ]


def _rendered(answer: dict[str, Any], who: str) -> Rendered:
    formatted = f", formatted with {answer['formatter']}" if answer.get("formatter") else ""
    return Rendered(answer["name"], str(answer["source"]).encode("utf-8"), f"{who}{formatted}")


def _same_interpreter(python: str) -> bool:
    # By path, not by the file it links to: a virtualenv's python links to the base one.
    return python == sys.executable


def _with(python: str, requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]] | None, str]:
    """Render with another interpreter; (None, why) when it cannot."""
    env = clean_env()
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the writer needs no project settings
    try:
        proc = subprocess.run(
            [python, "-I", str(SCRIPT)],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT + PER_MERGE * len(requests),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{python} cannot run it ({exc})"
    if proc.returncode != 0:
        has_no_django = "No module named 'django'" in proc.stderr
        return None, f"{python} has no Django" if has_no_django else f"{python} failed"
    answers: list[dict[str, Any]] = json.loads(proc.stdout.strip().splitlines()[-1])
    if len(answers) != len(requests):
        return None, f"{python} answered {len(answers)} of {len(requests)} requests"
    return answers, ""


def _in_process(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Render with the Django migmerge runs with (the same script, loaded as a module)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("migmerge_render_merge", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answers: list[dict[str, Any]] = module.render_all(requests)
    return answers

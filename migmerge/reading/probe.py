"""Ask the project's own Django what its schema should be (doctor only), and remember the answer.

Runs migmerge/resources/doctor_probe.py with the project's interpreter and
settings: it loads the migration graph and the models, migrates nothing,
writes nothing, and answers in JSON. That costs a few seconds on a big
project (Django imports every migration), so the answer is remembered, keyed
by everything it depends on: every Python file of the work tree (by blob id,
or by its bytes when git does not hold it), the rows of django_migrations,
the interpreter, the settings module and the alias, and the probe itself.
The model changes (what `makemigrations --check` says) do not depend on the
rows: they are remembered apart, keyed without them, and not asked for again
when only django_migrations changed.
`check` and the hooks never run this: like resolve's settings lookup, it
runs project code, on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from migmerge.core.doctor import Created, Expected, Pending, Row
from migmerge.reading import git, snapshot
from migmerge.reading.cache import ResultMemo

PROBE = Path(__file__).resolve().parent.parent / "resources" / "doctor_probe.py"
MARKER = "MIGMERGE-DOCTOR:"
TIMEOUT = 600  # seconds: Django imports every migration; a hung import is given up


class Answer(NamedTuple):
    """What the project's Django said, or why it could not be asked."""

    expected: Expected | None
    django: str | None  # its version
    zone: str | None  # TIME_ZONE when USE_TZ is off (how naive `applied` values read)
    problems: tuple[str, ...]  # what could not be worked out, in words
    remembered: bool = False
    cache_tag: str | None = None  # sys.implementation.cache_tag: names the bytecode it writes


def ask(
    root: Path,
    tree: snapshot.Snapshot,
    *,
    python: str,
    cwd: str,
    settings: str | None,
    alias: str,
    rows: Iterable[Row] | None,
) -> Answer:
    """Return what the project's Django says, from the memo when nothing it depends on changed."""
    key = _signature(tree, python, settings, alias, rows)
    memo = ResultMemo.open(root, kind="doctor")
    stored = memo.get(key) if key is not None else None
    if isinstance(stored, str):
        return _answer(json.loads(stored), remembered=True)
    # The model changes depend on the files only: when just the rows changed, they are had
    # from the memo and the project's Django is not asked for them again.
    files_key = _signature(tree, python, settings, "", ()) if key is not None else None
    changes_memo = ResultMemo.open(root, kind="doctor-changes")
    known = changes_memo.get(files_key) if files_key is not None else None
    connect = rows is not None
    raw = _run(python, cwd, settings, alias, connect=connect, changes=not isinstance(known, str))
    if isinstance(known, str) and not raw.get("errors"):
        raw["changes"] = json.loads(known)
    if key is not None and not raw.get("errors"):
        memo.put(key, json.dumps(raw))
    if files_key is not None and not isinstance(known, str) and "changes" in raw:
        changes_memo.put(files_key, json.dumps(raw["changes"]))
    return _answer(raw)


def _run(
    python: str, cwd: str, settings: str | None, alias: str, *, connect: bool, changes: bool
) -> dict[str, Any]:
    env = git.clean_env({"DJANGO_SETTINGS_MODULE": settings} if settings else None)
    request = {"database": alias, "connect": connect, "changes": changes}
    try:
        proc = subprocess.run(
            [python, str(PROBE)],
            cwd=cwd,
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"errors": [f"the project's Django could not be asked ({python}): {exc}"]}
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"errors": [f"the project's Django could not be asked ({python}): {tail}"]}
    answer: dict[str, Any] = json.loads(lines[-1][len(MARKER) :])
    return answer


def _answer(raw: Mapping[str, Any], *, remembered: bool = False) -> Answer:
    problems = tuple(str(e) for e in raw.get("errors", ()))
    if "expected" not in raw and "unapplied" not in raw:
        return Answer(
            None, raw.get("django"), raw.get("zone"), problems, remembered, raw.get("cache_tag")
        )
    tables = {
        str(app): {str(t): tuple(map(str, info["columns"])) for t, info in found.items()}
        for app, found in (raw.get("expected") or {}).items()
    }
    pending = tuple(_pending(entry) for entry in raw.get("unapplied") or ())
    changes = raw.get("changes")
    expected = Expected(
        tables,
        pending,
        None if changes is None else {str(a): tuple(map(str, c)) for a, c in changes.items()},
    )
    return Answer(
        expected, raw.get("django"), raw.get("zone"), problems, remembered, raw.get("cache_tag")
    )


def _pending(entry: Mapping[str, Any]) -> Pending:
    creates = tuple(
        Created(
            str(item["op"]),
            str(item["table"]),
            item.get("column"),
            tuple(item.get("columns") or ()),
            item.get("index"),
            item.get("constraint"),
        )
        for item in entry.get("creates") or ()
    )
    return Pending(
        str(entry["app"]), str(entry["name"]), creates, tuple(entry.get("unknown") or ())
    )


def _installed(python: str) -> list[str]:
    """The site-packages folders of the interpreter's environment, with their mtimes.

    Installing, removing or upgrading a package renames entries there, which
    changes the folder's mtime: models from a package are then asked again.
    """
    prefix = Path(python).parent.parent
    found = []
    for folder in sorted(prefix.glob("lib/python*/site-packages")):
        try:
            found.append(f"{folder}:{folder.stat().st_mtime_ns}")
        except OSError:
            continue
    return found


def _signature(
    tree: snapshot.Snapshot,
    python: str,
    settings: str | None,
    alias: str,
    rows: Iterable[Row] | None,
) -> str | None:
    """Everything the probe's answer depends on, as one string (None: do not remember)."""
    if rows is None:
        return None  # the applied state is unknown: ask every time
    try:
        probe = PROBE.stat()
        interpreter = os.stat(python)
    except OSError:
        return None
    digest = hashlib.sha256()
    for part in (python, str(interpreter.st_mtime_ns), settings or "", alias, *_installed(python)):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(f"{probe.st_mtime_ns}:{probe.st_size}\0".encode())
    for row in sorted((r.app, r.name) for r in rows):
        digest.update(f"{row[0]}.{row[1]}\0".encode("utf-8", "surrogateescape"))
    python_files = sorted(p for p in tree.files if p.endswith(".py"))
    on_disk = [p for p in python_files if tree.files[p] == snapshot.DISK]
    sources = tree.read(on_disk)
    for path in python_files:
        sha = tree.files[path]
        if sha == snapshot.DISK:
            sha = hashlib.sha256(sources.get(path, b"")).hexdigest()
        digest.update(f"{path}\0{sha}\0".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()

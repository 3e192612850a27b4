"""Apply a plan, all or nothing: files, the index and the database.

Before the first step, every file the plan touches is snapshotted (its bytes,
or its absence) together with its index entries. When a step fails, the
files and the index entries are put back exactly, and the database is
restored from the backup the plan took, so `git status` reads as before.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migmerge.core.model import Action, Plan
from migmerge.doing import database as db_module
from migmerge.errors import MigmergeError, Refused, StepFailed
from migmerge.reading import git
from migmerge.reading.git import clean_env
from migmerge.reading.project import display_argv, display_command

if TYPE_CHECKING:
    from migmerge.core.model import Database
    from migmerge.doing.prompts import Questioner

Out = Callable[[str], None]


@dataclass(frozen=True)
class _FileState:
    """A file before the plan: its bytes and mode, or None when it did not exist."""

    content: bytes | None
    mode: int | None


@dataclass(frozen=True)
class _Snapshot:
    """Everything the plan may change in the work tree and the index."""

    files: dict[str, _FileState]
    index: dict[str, tuple[str, ...]]  # path -> its `ls-files -s` records (stages)


@dataclass
class _Progress:
    """What the steps done so far did to the database."""

    backup: Path | None = None
    database_changed: bool = False


def apply_plan(
    root: Path,
    plan: Plan,
    *,
    out: Out,
    questioner: Questioner | None = None,
    database: Database | None = None,
) -> None:
    """Run the plan's actions in order; on any failure put everything back and raise StepFailed."""
    snapshot = _take_snapshot(root, touched_paths(plan.actions))
    progress = _Progress()
    for number, action in enumerate(plan.actions, 1):
        try:
            _run_step(root, action, progress, questioner, database, out)
        except BaseException as exc:
            restored = _rollback(root, snapshot, progress, database)
            _raise_failure(number, action, exc, restored)
        out(f"  done: {describe(action)}")


def touched_paths(actions: Iterable[Action]) -> list[str]:
    """List every work-tree path the actions write, edit, rename or delete."""
    paths: dict[str, None] = {}
    for action in actions:
        if action.action in ("write", "edit", "rename", "delete"):
            for path in (action.path, action.target):
                if path is not None:
                    paths[path] = None
    return list(paths)


def describe(action: Action) -> str:
    """Say what an action does in a few words."""
    if action.action == "rename":
        return f"rename {action.path} -> {action.target}"
    if action.action == "run":
        return f"run {shown_command(action)}"
    if action.action == "backup":
        return f"back up the database into {action.target}"
    if action.action == "record":
        pairs = ", ".join(f"{old} -> {new}" for old, new in action.renames)
        return f"rename {action.app} rows in django_migrations: {pairs}"
    return f"{action.action} {action.path}"


def shown_command(action: Action) -> str:
    """A run step's command as a person reads it, with the variables it sets in front."""
    argv = action.command or ()
    if not action.env:
        return display_command(argv)
    # Fixed code and JSON data: quoted, so the line can be pasted into a shell.
    variables = [f"{key}={shlex.quote(value)}" for key, value in action.env]
    return " ".join([*variables, shlex.join(display_argv(argv))])


# Steps -------------------------------------------------------------------------


def _run_step(
    root: Path,
    action: Action,
    progress: _Progress,
    questioner: Questioner | None,
    database: Database | None,
    out: Out,
) -> None:
    """Perform one action."""
    kind = action.action
    if kind in ("write", "edit"):
        _write(root, action)
    elif kind == "rename":
        _rename(root, _need(action.path), _need(action.target))
    elif kind == "delete":
        _delete(root, _need(action.path))
    elif kind == "run":
        _run(root, action, progress, questioner)
    elif kind == "backup":
        _backup(action, progress, database, out)
    elif kind == "record":
        _record(action, progress, database)


def _need(value: str | None) -> str:
    """A path the action must carry."""
    if value is None:
        raise MigmergeError("malformed plan: an action lacks its path")
    return value


def _write(root: Path, action: Action) -> None:
    """Create (write) or replace (edit) a file's bytes."""
    path = root / _need(action.path)
    if action.action == "write" and path.exists():
        raise StepFailed(f"{action.path} already exists")
    if action.action == "edit" and not path.is_file():
        raise StepFailed(f"{action.path} does not exist")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(action.content or b"")


def _rename(root: Path, source: str, target: str) -> None:
    """Move a file: `git mv` when it is tracked, so git records a rename."""
    if (root / target).exists():
        raise StepFailed(f"{target} already exists")
    if not (root / source).is_file():
        raise StepFailed(f"{source} does not exist")
    tracked, _ = git.index_entries(root, [source])
    if source in tracked:
        git.git_run(root, "mv", "--", source, target)
    else:
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(root / source, root / target)


def _delete(root: Path, path: str) -> None:
    """Remove a file: `git rm` when it is tracked, so the deletion is staged like the renames."""
    tracked, _ = git.index_entries(root, [path])
    if path in tracked:
        git.git_run(root, "rm", "-q", "-f", "--", path)
    elif (root / path).exists():
        (root / path).unlink()


def _run(root: Path, action: Action, progress: _Progress, questioner: Questioner | None) -> None:
    """Run a command; a non-zero exit is a failed step."""
    argv = action.command or ()
    shown = shown_command(action)
    if action.touches_database and not _confirmed(questioner, shown):
        raise Refused(f"{shown} was not confirmed")
    cwd = root / action.cwd if action.cwd else root
    progress.database_changed = progress.database_changed or action.touches_database
    try:
        env = clean_env(dict(action.env))
        proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, env=env)
    except OSError as exc:
        raise StepFailed(f"cannot run {shown}: {exc}") from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise StepFailed(f"{shown} exited with {proc.returncode}: {_tail(output)}")


def _confirmed(questioner: Questioner | None, shown: str) -> bool:
    """Ask before a command that changes the database (no questioner: already agreed)."""
    if questioner is None:
        return True
    return questioner.confirm(f"Run {shown}? It changes your database.", default=True)


def _tail(output: str, lines: int = 15) -> str:
    """The last lines of a command's output (a traceback's end says what went wrong)."""
    return "\n".join(output.splitlines()[-lines:])


def _backup(action: Action, progress: _Progress, database: Database | None, out: Out) -> None:
    """Back up the database, remembering the file for a rollback."""
    if database is None:
        out("  no database found: nothing to back up")
        return
    progress.backup = db_module.backup(database, Path(_need(action.target)))
    out(f"  database backed up to {progress.backup}")


def _record(action: Action, progress: _Progress, database: Database | None) -> None:
    """Rename rows of django_migrations."""
    if database is None:
        raise StepFailed("no database found to rename the migration records in")
    progress.database_changed = True
    db_module.rename_records(database, _need(action.app), action.renames)


# Snapshot and rollback ---------------------------------------------------------


def _take_snapshot(root: Path, paths: Sequence[str]) -> _Snapshot:
    """Record each path's bytes (or absence) and its index records."""
    files = {path: _file_state(root / path) for path in paths}
    return _Snapshot(files=files, index=_index_records(root, paths))


def _file_state(path: Path) -> _FileState:
    """Read a file's bytes and mode; None for both when it is absent."""
    if not path.is_file():
        return _FileState(None, None)
    return _FileState(path.read_bytes(), path.stat().st_mode)


def _index_records(root: Path, paths: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Return path -> its raw `git ls-files -s` records (one per stage)."""
    records: dict[str, list[str]] = {path: [] for path in paths}
    if not paths:
        return {}
    raw = git.git_bytes(root, "ls-files", "-s", "-z", "--", *paths)
    for record in raw.decode("utf-8", "surrogateescape").split("\0"):
        if record:
            records.setdefault(record.partition("\t")[2], []).append(record)
    return {path: tuple(found) for path, found in records.items()}


def _rollback(
    root: Path, snapshot: _Snapshot, progress: _Progress, database: Database | None
) -> list[str]:
    """Put files, index and database back; return what was restored, in words."""
    restored = []
    changed = [path for path, state in snapshot.files.items() if _restore_file(root / path, state)]
    if changed:
        restored.append("files " + ", ".join(changed))
    _restore_index(root, snapshot.index)
    if progress.database_changed and database is not None:
        restored.append(_restore_database(database, progress.backup))
    return restored


def _restore_file(path: Path, state: _FileState) -> bool:
    """Make one file as it was; return True when something had to change."""
    if state.content is None:
        if path.is_file():
            path.unlink()
            return True
        return False
    if path.is_file() and path.read_bytes() == state.content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(state.content)
    if state.mode is not None:
        path.chmod(state.mode)
    return True


def _restore_index(root: Path, before: dict[str, tuple[str, ...]]) -> None:
    """Put back the index records of every touched path that changed (git mv, git rm)."""
    now = _index_records(root, list(before))
    changed = [path for path in before if sorted(now.get(path, ())) != sorted(before[path])]
    if not changed:
        return
    git.git_run(root, "update-index", "--force-remove", "--", *changed)
    # `ls-files -s` records ("mode sha stage\tpath") are exactly what --index-info reads.
    records = "".join(f"{record}\n" for path in changed for record in before[path])
    if records:
        git.git_bytes(root, "update-index", "--index-info", input=records.encode())


def _restore_database(database: Database, backup: Path | None) -> str:
    """Restore the database from the plan's backup; say what happened."""
    if backup is None:
        return "database NOT restored (the plan took no backup)"
    try:
        db_module.restore(database, backup)
    except MigmergeError as exc:
        how = db_module.restore_command(database, backup)
        return f"database NOT restored ({exc.message}): restore it with {how}"
    return f"database from {backup}"


def _raise_failure(number: int, action: Action, exc: BaseException, restored: list[str]) -> None:
    """Re-raise a step's failure as StepFailed naming the step and what was restored."""
    done = "; restored: " + ", ".join(restored) if restored else "; nothing needed restoring"
    if isinstance(exc, Refused):
        raise Refused(f"step {number} ({describe(action)}): {exc.message}{done}") from exc
    if isinstance(exc, (MigmergeError, OSError, subprocess.SubprocessError)):
        reason = exc.message if isinstance(exc, MigmergeError) else str(exc)
        hint = exc.hint if isinstance(exc, MigmergeError) else None
        raise StepFailed(
            f"step {number} ({describe(action)}) failed: {reason}{done}", hint
        ) from exc
    raise exc


def run_manage(
    argv: Sequence[str], cwd: Path, env: Sequence[tuple[str, str]] = ()
) -> subprocess.CompletedProcess[str]:
    """Run a manage.py command; raise StepFailed with its output when it fails."""
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            capture_output=True,
            text=True,
            env=clean_env(dict(env)),
            check=False,
        )
    except OSError as exc:
        raise StepFailed(f"cannot run {display_command(argv)}: {exc}") from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise StepFailed(
            f"{display_command(argv)} failed (exit {proc.returncode}):\n{output}",
            hint="fix what Django reports above, then run migmerge resolve again",
        )
    return proc

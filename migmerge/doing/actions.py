"""How each kind of step is done: write, edit, rename, delete, run, backup, record.

The executor (doing/apply.py) runs a plan's actions in order inside its
journaled transaction; this module does one action. A file written or
edited is staged where git tracks its folder, a tracked file is moved with
`git mv` and removed with `git rm`, a command runs in the clean environment
with its output kept for the failure, and no step writes through a link out
of the repository. `describe` and `shown_command` say in words what a step
does, as the journal and the transcript show it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from migmerge.core.argv import display_argv, display_command
from migmerge.core.plan import Action
from migmerge.doing import database as db_module
from migmerge.doing import db_records
from migmerge.doing.links import refuse_link_out, write_inside
from migmerge.errors import MigmergeError, Refused, StepFailed
from migmerge.reading import git, git_worktree
from migmerge.reading.git import clean_env

if TYPE_CHECKING:
    from migmerge.core.model import Database
    from migmerge.core.questions import Questioner
    from migmerge.doing.apply import Transaction


def describe(action: Action) -> str:
    """Say what an action does in a few words."""
    if action.action == "rename":
        return f"rename {action.path} -> {action.target}"
    if action.action == "run":
        return f"run {shown_command(action)}"
    if action.action == "backup":
        return f"back up the database into {action.target}"
    if action.action == "record" and action.deletes:
        return f"delete {action.app} rows from django_migrations: {', '.join(action.deletes)}"
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


def run_step(tx: Transaction, action: Action) -> None:
    """Perform one action."""
    kind = action.action
    if kind in ("write", "edit"):
        _write(tx.root, action)
    elif kind == "rename":
        _rename(tx.root, _need(action.path), _need(action.target))
    elif kind == "delete":
        _delete(tx.root, _need(action.path))
    elif kind == "run":
        run_command(tx.root, action)
    elif kind == "backup":
        _backup(tx, action)
    elif kind == "record":
        _record(action, tx.database)


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
    write_inside(root, _need(action.path), action.content or b"")
    _stage(root, _need(action.path))


def _stage(root: Path, path: str) -> None:
    """Stage a written or edited file, so a plain `git commit` records what the plan made.

    Only where git already tracks the file or files beside it: an untracked
    folder stays untracked (the journal puts the index back on an undo).
    """
    folder = path.rpartition("/")[0]
    tracked, _ = git_worktree.index_entries(root, [path, folder] if folder else [path])
    if tracked:
        git.git_run(root, "add", "--", path)


def _rename(root: Path, source: str, target: str) -> None:
    """Move a file: `git mv` when it is tracked, so git records a rename."""
    if (root / target).exists():
        raise StepFailed(f"{target} already exists")
    if not (root / source).is_file():
        raise StepFailed(f"{source} does not exist")
    for path in (source, target):
        refuse_link_out(root, path, follow_last=False)
    tracked, _ = git_worktree.index_entries(root, [source])
    if source in tracked:
        git.git_run(root, "mv", "--", source, target)
    else:
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(root / source, root / target)


def _delete(root: Path, path: str) -> None:
    """Remove a file: `git rm` when it is tracked, so the deletion is staged like the renames."""
    refuse_link_out(root, path, follow_last=False)
    tracked, _ = git_worktree.index_entries(root, [path])
    if path in tracked:
        git.git_run(root, "rm", "-q", "-f", "--", path)
    elif (root / path).exists():
        (root / path).unlink()


def run_command(root: Path, action: Action) -> None:
    """Run a step's command in the clean environment; a non-zero exit is a failed step.

    The step's failure carries the end of the command's output (a traceback's end says
    what went wrong).
    """
    argv = action.command or ()
    shown = shown_command(action)
    cwd = root / action.cwd if action.cwd else root
    try:
        env = clean_env(dict(action.env))
        proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, env=env)
    except OSError as exc:
        raise StepFailed(f"cannot run {shown}: {exc}") from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise StepFailed(f"{shown} exited with {proc.returncode}: {_tail(output)}")


def confirm_run(questioner: Questioner | None, action: Action) -> None:
    """Ask before a command that changes the database (no questioner: already agreed).

    The default is the answer that loses nothing: No for a step that drops data.
    """
    if questioner is None:
        return
    shown = shown_command(action)
    question = f"Run {shown}? It changes your database."
    if action.drops_data:
        question = f"Run {shown}? It changes your database: rolling back drops data."
    if not questioner.confirm(question, default=not action.drops_data):
        raise Refused(f"{shown} was not confirmed")


def _tail(output: str, lines: int = 15) -> str:
    """The last lines of a command's output (a traceback's end says what went wrong)."""
    return "\n".join(output.splitlines()[-lines:])


def _backup(tx: Transaction, action: Action) -> None:
    """Back up the database, recording the file in the journal for a restore."""
    if tx.database is None:
        tx.out("  no database found: nothing to back up")
        return
    if tx.database.vendor == "sqlite" and not Path(tx.database.name).exists():
        tx.out(f"  no database file at {tx.database.name} yet: nothing to lose, no backup taken")
        return
    try:
        tx.backup = db_module.backup(tx.database, Path(_need(action.target)))
    except StepFailed as exc:
        if not action.optional:
            raise StepFailed(
                f"{exc.message}; refusing to change the database without a backup",
                hint="free the backup folder or make the database readable, then run again; "
                "or add --force to go on WITHOUT a backup (a failure part-way cannot put the "
                "database back)",
            ) from exc
        tx.out(f"  {exc.message}")
        tx.out(
            "  NO BACKUP TAKEN (--force): going on without one; if a step fails, the files are "
            "put back but the database is not"
        )
        return
    tx.journal.note_backup(tx.backup)
    tx.out(f"  database backed up to {tx.backup}")


def _record(action: Action, database: Database | None) -> None:
    """Rename or delete rows of django_migrations."""
    if database is None:
        raise StepFailed("no database found to change the migration records in")
    if action.renames:
        db_records.rename_records(database, _need(action.app), action.renames)
    if action.deletes:
        db_records.delete_records(database, _need(action.app), action.deletes)

"""The one executor: run plans, all or nothing, inside a journaled transaction.

A Transaction can span several plans (regenerate runs two). Before the first
change of each plan, the undo journal (`doing.journal`) records every file the
plan touches (its bytes and mode, or its absence) with its index records, and
whole folders where commands write files no plan can name ahead; it is synced
to disk in the git directory. Each step is logged as it starts and ends. When a
step fails, the database, the files and the index are put back (`doing.undo`),
so `git status` reads as before; when the process is killed, the journal stays
and `migmerge resolve --abort` puts everything back, `--continue` finishes.

`MIGMERGE_FAULT=before:N` (or `after:N`, optionally `:TERM`) is a testing hook:
the process kills itself (SIGKILL, or SIGTERM) just before (or after) step N of
the transaction, so tests can prove a kill at any point is recoverable.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migmerge.core.plan import Action, Plan
from migmerge.doing import database as db_module
from migmerge.doing.journal import Journal
from migmerge.doing.links import refuse_link_out, write_inside
from migmerge.doing.undo import Undone, undo
from migmerge.errors import Interrupted, MigmergeError, Refused, StepFailed
from migmerge.reading import git
from migmerge.reading.git import clean_env
from migmerge.reading.project import display_argv, display_command

if TYPE_CHECKING:
    from types import TracebackType

    from migmerge.core.model import Database
    from migmerge.core.questions import Questioner

Out = Callable[[str], None]
FAULT_VARIABLE = "MIGMERGE_FAULT"


class Transaction:
    """Plans run in order under one journal; any failure undoes all of them."""

    def __init__(
        self,
        root: Path,
        *,
        out: Out,
        questioner: Questioner | None = None,
        database: Database | None = None,
        what: str = "a resolution",
        again: dict[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.out = out
        self.questioner = questioner
        self.database = database
        self.journal = Journal.begin(root, what, database, again)
        self.number = 0
        self.backup: Path | None = None
        self.database_changed = False
        self.undone = False
        self._fault = _fault_point()
        self._previous: Any = None

    def __enter__(self) -> Transaction:
        self._previous = _on_sigterm(_terminate)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _on_sigterm(self._previous)
        if exc is None:
            self.journal.finish()
        elif not self.undone:
            self._fail(exc, f"after step {self.number}" if self.number else "before the first step")

    def run(self, plan: Plan, *, folders: Sequence[str] = ()) -> None:
        """Journal the plan's paths (and whole `folders`), then run its steps."""
        shown = [describe(action) for action in plan.actions]
        self.journal.add(touched_paths(plan.actions), folders, shown)
        for action in plan.actions:
            self.number += 1
            self._step(action)

    def stage_new(self, folder: str) -> None:
        """Stage the migrations this transaction made in a tracked folder (not a person's edits)."""
        tracked, _ = git.index_entries(self.root, [folder])
        if not tracked:
            return
        changed = {
            *git.untracked_files(self.root, [folder]),
            *git.modified_files(self.root, [folder]),
        }
        ours = [p for p in self.journal.new_files() if p.endswith(".py") and p in changed]
        if not ours:
            return
        described = f"stage {', '.join(ours)}"
        self.journal.add(ours, (), [described])
        self.number += 1
        self.journal.step("start", self.number, described)
        try:
            git.git_run(self.root, "add", "--", *ours)
        except BaseException as exc:
            self._fail(exc, f"step {self.number} ({described})")
        self.journal.step("done", self.number, described)

    def _step(self, action: Action) -> None:
        described = describe(action)
        touches = action.action == "record" or (action.action == "run" and action.touches_database)
        self._maybe_die("before")
        self.journal.step("start", self.number, described, touches)
        self.out(f"  running: {described}")
        try:
            if action.action == "run" and action.touches_database:
                _confirm_run(self.questioner, action)  # declined: nothing to restore
            self.database_changed = self.database_changed or touches
            _run_step(self, action)
        except BaseException as exc:
            self._fail(exc, f"step {self.number} ({described})")
        self._maybe_die("after")
        self.journal.step("done", self.number, described)
        self.out(f"  done: {described}")

    def _fail(self, exc: BaseException, where: str) -> None:
        """Put everything back and raise the failure, naming the step and what was restored."""
        self.undone = True
        undone = undo(self.journal, self.database, touched=self.database_changed)
        _raise_failure(where, exc, undone)

    def _maybe_die(self, when: str) -> None:
        if self._fault is not None and self._fault[:2] == (when, self.number):
            os.kill(os.getpid(), self._fault[2])


class Terminated(KeyboardInterrupt):
    """SIGTERM during a transaction: an interruption, so everything is put back first."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _on_sigterm(handler: Any) -> Any:
    """Install a SIGTERM handler (main thread only); return the one it replaced."""
    try:
        return signal.signal(signal.SIGTERM, handler)
    except (ValueError, TypeError):  # not the main thread, or no handler to put back
        return None


def _fault_point() -> tuple[str, int, int] | None:
    """MIGMERGE_FAULT=before:N[:TERM] or after:N[:TERM] -> (when, N, signal), a testing hook."""
    raw = os.environ.get(FAULT_VARIABLE, "")
    parts = raw.split(":")
    if len(parts) < 2 or parts[0] not in ("before", "after") or not parts[1].isdigit():
        return None
    sig = signal.SIGTERM if parts[2:] == ["TERM"] else signal.SIGKILL
    return parts[0], int(parts[1]), sig


def apply_plan(
    root: Path,
    plan: Plan,
    *,
    out: Out,
    questioner: Questioner | None = None,
    database: Database | None = None,
) -> None:
    """Run one plan in its own transaction; on any failure put everything back, raise StepFailed."""
    with Transaction(
        root, out=out, questioner=questioner, database=database, what=what_of(plan)
    ) as transaction:
        transaction.run(plan)


def combine(plans: Sequence[Plan]) -> Plan:
    """Join plans into one; refuse when two of them change the same file."""
    seen: set[str] = set()
    for item in plans:
        paths = set(touched_paths(item.actions))
        if paths & seen:
            raise Refused(
                f"two resolutions change {', '.join(sorted(paths & seen))}",
                hint="resolve one app at a time: migmerge resolve --app LABEL",
            )
        seen |= paths
    actions = tuple(a for item in plans for a in item.actions)
    app = ", ".join(item.app for item in plans)
    return Plan(plans[0].strategy, app, actions, afterwards=afterwards(plans))


def afterwards(plans: Sequence[Plan]) -> tuple[str, ...]:
    """Every plan's closing notes, once each."""
    return tuple(dict.fromkeys(note for item in plans for note in item.afterwards))


def what_of(plan: Plan) -> str:
    """Name a plan for the journal's summary: "renumber polls"."""
    return f"{plan.strategy} {plan.app}"


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


# Steps -------------------------------------------------------------------------


def _run_step(tx: Transaction, action: Action) -> None:
    """Perform one action."""
    kind = action.action
    if kind in ("write", "edit"):
        _write(tx.root, action)
    elif kind == "rename":
        _rename(tx.root, _need(action.path), _need(action.target))
    elif kind == "delete":
        _delete(tx.root, _need(action.path))
    elif kind == "run":
        _run(tx.root, action)
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
    tracked, _ = git.index_entries(root, [path, folder] if folder else [path])
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
    tracked, _ = git.index_entries(root, [source])
    if source in tracked:
        git.git_run(root, "mv", "--", source, target)
    else:
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(root / source, root / target)


def _delete(root: Path, path: str) -> None:
    """Remove a file: `git rm` when it is tracked, so the deletion is staged like the renames."""
    refuse_link_out(root, path, follow_last=False)
    tracked, _ = git.index_entries(root, [path])
    if path in tracked:
        git.git_run(root, "rm", "-q", "-f", "--", path)
    elif (root / path).exists():
        (root / path).unlink()


def _run(root: Path, action: Action) -> None:
    """Run a command; a non-zero exit is a failed step, with the command's output."""
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


def _confirm_run(questioner: Questioner | None, action: Action) -> None:
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
        db_module.rename_records(database, _need(action.app), action.renames)
    if action.deletes:
        db_module.delete_records(database, _need(action.app), action.deletes)


def _raise_failure(where: str, exc: BaseException, undone: Undone) -> None:
    """Re-raise a failure as StepFailed (or Refused) naming the step and what was restored."""
    done = f"; {undone.words()}"
    if isinstance(exc, Refused):
        raise Refused(f"{where}: {exc.message}{done}", exc.hint) from exc
    if isinstance(exc, (MigmergeError, OSError, subprocess.SubprocessError)):
        reason = exc.message if isinstance(exc, MigmergeError) else str(exc)
        hint = exc.hint if isinstance(exc, MigmergeError) else None
        raise StepFailed(f"{where} failed: {reason}{done}", hint) from exc
    if isinstance(exc, KeyboardInterrupt):
        how = "stopped by SIGTERM" if isinstance(exc, Terminated) else "interrupted"
        raise Interrupted(f"{where}: {how}{done}") from exc
    raise exc  # a bug: everything was put back; the crash log has the details


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

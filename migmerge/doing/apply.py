"""The one executor: run plans, all or nothing, inside a journaled transaction.

A Transaction can span several plans (regenerate runs two). Before the first
change of each plan, the undo journal (`doing.journal`) records every file the
plan touches (its bytes and mode, or its absence) with its index records, and
whole folders where commands write files no plan can name ahead; it is synced
to disk in the git directory. Each step is logged as it starts and ends. When a
step fails, the database, the files and the index are put back (`doing.undo`),
so `git status` reads as before; when the process is killed, the journal stays
and `migmerge resolve --abort` puts everything back, `--continue` finishes.
Each kind of step (write, rename, run, backup, record...) is done in
`doing.actions`.

`MIGMERGE_FAULT=before:N` (or `after:N`, optionally `:TERM`) is a testing hook:
the process kills itself (SIGKILL, or SIGTERM) just before (or after) step N of
the transaction, so tests can prove a kill at any point is recoverable.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migmerge.core.plan import Action, Plan
from migmerge.doing.actions import confirm_run, describe, run_step
from migmerge.doing.journal import Journal
from migmerge.doing.undo import Undone, undo
from migmerge.errors import Interrupted, MigmergeError, Refused, StepFailed
from migmerge.reading import git, git_worktree

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
        tracked, _ = git_worktree.index_entries(self.root, [folder])
        if not tracked:
            return
        changed = {
            *git_worktree.untracked_files(self.root, [folder]),
            *git_worktree.modified_files(self.root, [folder]),
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
                confirm_run(self.questioner, action)  # declined: nothing to restore
            self.database_changed = self.database_changed or touches
            run_step(self, action)
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

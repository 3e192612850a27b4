"""What a plan is: its steps and the plan itself, data that nothing runs until the executor.

A planner (core/plans/) returns a `Plan`; `doing/apply` runs its `Action`s in
order, all or nothing. `MergeRequest` and `Rendered` are the merge plan's
question to the project's own Django and its answer (reading/render). They
are NamedTuples, as they were when they lived in core/model.py.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from migmerge.core.model import Strategy

ActionKind = Literal["write", "rename", "edit", "run", "backup", "delete", "record"]


class Action(NamedTuple):
    """One step of a plan. A plan is data: nothing happens until apply runs it.

    `write`: create `path` with `content`; `rename`: move `path` to `target`
    (git mv when tracked); `edit`: replace `path`'s bytes with `content`;
    `delete`: remove `path`; `run`: run `command` (argv) in `cwd`;
    `backup`: back up the database to `target`; `record`: rename rows of
    `django_migrations` (`renames`: old name -> new name, for `app`) or
    delete them (`deletes`: names of `app`'s stale rows), in one transaction.
    A `run` step's `env` is data for the command (JSON for fixed code), never code.
    """

    action: ActionKind
    why: str
    path: str | None = None
    target: str | None = None
    content: bytes | None = None
    command: tuple[str, ...] | None = None
    cwd: str | None = None
    app: str | None = None
    renames: tuple[tuple[str, str], ...] = ()
    deletes: tuple[str, ...] = ()
    # For run steps: does it change the database (asked before in interactive mode)?
    touches_database: bool = False
    # For run steps: variables added to the environment (data for fixed code, never code).
    env: tuple[tuple[str, str], ...] = ()
    # For run steps: rolling migrations back drops the data in the columns and tables they
    # added (asked with the default No, the answer that loses nothing).
    drops_data: bool = False
    # For backup steps: --force was given, so a database that cannot be backed up does
    # not stop the plan (it goes on without a backup, and says so).
    optional: bool = False

    def record_sql(self) -> str:
        """The statements a `record` step runs, as a person would type them."""
        updates = [
            f"UPDATE django_migrations SET name = '{new}' WHERE app = '{self.app}' "
            f"AND name = '{old}'"
            for old, new in self.renames
        ]
        deletes = [
            f"DELETE FROM django_migrations WHERE app = '{self.app}' AND name = '{name}'"
            for name in self.deletes
        ]
        return "; ".join(updates + deletes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "why": self.why}
        if self.path is not None:
            out["path"] = self.path
        elif self.action == "backup" and self.target is not None:
            out["path"] = self.target  # the folder the backup goes into
        if self.action == "record":
            out["command"] = self.record_sql()
        if self.target is not None:
            out["target"] = self.target
        if self.command is not None:
            out["command"] = " ".join(self.command)
        if self.env:
            out["env"] = dict(self.env)
        if self.action == "record":  # both keys on every record step: a reader needs no guess
            out["renames"] = dict(self.renames)
            out["deletes"] = list(self.deletes)
        return out


class Plan(NamedTuple):
    """The resolution of one or more conflicts (or doctor's fixes): ordered actions and notes."""

    strategy: Strategy | Literal["doctor"]
    app: str
    actions: tuple[Action, ...]
    warnings: tuple[str, ...] = ()
    # Said after the plan ran: how to undo, what to check.
    afterwards: tuple[str, ...] = ()


class MergeRequest(NamedTuple):
    """A merge migration to render: its app, the leaves it joins, its number, its future path."""

    app: str
    leaves: tuple[str, ...]
    number: int
    path: str  # where black looks for its config, as if the file were there


class Rendered(NamedTuple):
    """A rendered merge migration: its module name, its bytes, and who wrote it, in words."""

    name: str
    source: bytes
    how: str

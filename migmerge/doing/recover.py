"""`resolve --abort` and `--continue`: the ways on from an unfinished resolution's journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migmerge.doing.journal import Journal
from migmerge.doing.undo import undo
from migmerge.errors import Refused, StepFailed

if TYPE_CHECKING:
    from migmerge.core.model import Database

Out = Callable[[str], None]


def load(root: Path) -> Journal:
    """The unfinished journal; Refused when there is none."""
    journal = Journal.load(root)
    if journal is None:
        raise Refused("there is no unfinished migmerge resolve here: nothing to abort or continue")
    return journal


def abort(root: Path, database: Callable[[], Database | None], out: Out) -> dict[str, Any]:
    """Put files, index and database back from the journal; return the flags it was run with.

    `database` looks the project's database up (with its password), asked only
    when a step that changes the database had started.
    """
    journal = load(root)
    found = database() if journal.database_touched() else None
    recorded = journal.database
    if recorded is not None and (found is None or found[:2] != recorded[:2]):
        found = recorded  # the journal's own record: the database the steps changed
    undone = undo(journal, found)
    if undone.failed:
        raise StepFailed(f"migmerge resolve --abort ({journal.what}): {undone.words()}")
    out(f"aborted {journal.what}: {undone.words()}")
    return journal.again

"""Say what a regeneration's rollback drops, and ask with a default that keeps it.

Rolling the local side back drops the data in the columns and tables its
migrations added. Before anything runs, they are named with their row counts,
and the question's default is No; under --yes they are named and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from migmerge.errors import Refused

if TYPE_CHECKING:
    from migmerge.core.model import Conflict, Database
    from migmerge.core.questions import Questioner
    from migmerge.reading.analysis import Analysis

Out = Callable[[str], None]


def data_dropped(
    analysis: Analysis, conflicts: Sequence[Conflict], database: Database | None
) -> list[str]:
    """Each column or table the rollbacks drop, in words, with its rows where countable."""
    from migmerge.core.plans.regenerate import dropped_data
    from migmerge.doing.db_records import count_rows

    found = []
    for conflict in conflicts:
        for table, column in dropped_data(analysis, conflict):
            rows = count_rows(database, table, column) if database is not None else None
            counted = "rows unknown" if rows is None else f"{rows} row{'s' * (rows != 1)}"
            what = f"column {table}.{column}" if column else f"table {table}"
            found.append(f"{what} ({counted})")
    return found


def confirm_drops(
    analysis: Analysis,
    conflicts: Sequence[Conflict],
    database: Database | None,
    yes: bool,
    questioner: Questioner,
    out: Out,
) -> None:
    """Name what the rollbacks drop; ask (default No) unless --yes; Refused on no."""
    dropped = data_dropped(analysis, conflicts, database)
    if dropped:
        ask_to_drop(dropped, str(analysis.backups), yes, questioner, out)


def ask_to_drop(
    dropped: Sequence[str], backup: str, yes: bool, questioner: Questioner, out: Out
) -> None:
    """Say what is dropped under --yes, or ask with the default that keeps it."""
    listed = ", ".join(dropped)
    if yes:
        out(f"dropping the data in {listed}: a backup of the database goes to {backup} first")
        return
    question = (
        f"Rolling back drops the data in {listed}. Drop it (a backup of the database goes to "
        f"{backup} first)?"
    )
    if not questioner.confirm(question, default=False):
        raise Refused(
            f"the plan was not applied; nothing changed (it would drop the data in {listed})",
            hint="migmerge resolve --strategy merge keeps the data",
        )

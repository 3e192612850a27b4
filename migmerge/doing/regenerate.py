"""Run a regeneration: two plans (`core.plans.regenerate`) inside one transaction.

The first plan backs up, unapplies the local side, sets the data migrations
aside, runs makemigrations and brings them back; the second is built from a
fresh look at the files makemigrations wrote (renumber the kept migrations,
migrate, verify). The migrations folder is journaled whole, so the files
makemigrations writes, which no plan could name ahead, are removed by an undo.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from migmerge.core.plans import regenerate as plans
from migmerge.doing import database as db_module
from migmerge.doing.apply import Transaction, what_of
from migmerge.errors import StepFailed

if TYPE_CHECKING:
    from pathlib import Path

    from migmerge.core.model import Conflict, Database
    from migmerge.core.plan import Plan
    from migmerge.core.questions import Questioner
    from migmerge.reading.analysis import Analysis

Out = Callable[[str], None]


def run_regenerate(
    analysis: Analysis,
    conflict: Conflict,
    plan: Plan,
    *,
    questioner: Questioner | None,
    out: Out,
    database: Database | None,
    transaction: Transaction | None = None,
) -> None:
    """Run the regeneration (in `transaction`, or a new one); StepFailed after an undo."""
    if transaction is not None:
        _run(transaction, analysis, conflict, plan)
        return
    root = analysis.root
    what = what_of(plan)
    with Transaction(root, out=out, questioner=questioner, database=database, what=what) as tx:
        _run(tx, analysis, conflict, plan)


def _run(tx: Transaction, analysis: Analysis, conflict: Conflict, plan: Plan) -> None:
    from migmerge.reading.analysis import analyze

    kept = plans.kept_migrations(analysis, conflict)
    tx.run(plans.first_plan(plan), folders=[conflict.directory])
    fresh = analyze(analysis.root, apps=[conflict.app])
    keep_names = fresh.config.renumber == "keep-names"
    tx.run(plans.plan_finish(fresh, conflict.app, conflict.directory, kept, keep_names=keep_names))
    _verify(analysis.root, conflict.app)
    tx.stage_new(conflict.directory)
    _say_done(tx, conflict.app)


def _verify(root: Path, app: str) -> None:
    from migmerge.reading.analysis import analyze

    for conflict in analyze(root, apps=[app]).result.conflicts:
        if conflict.app == app:
            leaves = ", ".join(leaf.name for leaf in conflict.leaves)
            raise StepFailed(f"{app} still has several leaves after regenerating: {leaves}")


def _say_done(tx: Transaction, app: str) -> None:
    tx.out(f"{app}: regenerated; one leaf, and the models match the migrations")
    if tx.database is not None and tx.backup is not None:
        how = db_module.restore_command(tx.database, tx.backup)
        tx.out(f"  to go back to the database as it was: {how}")

"""The guided rollback-and-regenerate, as plans: the way out when both branches changed the same.

Back up the database, unapply the local side (the one unapply, steps.py),
remove the local side's generated migrations, `manage.py makemigrations APP`,
`manage.py migrate`. Data migrations (RunPython, RunSQL) are never deleted:
they are set aside while makemigrations runs, then renumbered onto the new
leaf. A plan is data: `doing.regenerate` runs `first_plan`, looks again, then
runs `plan_finish`, both inside one transaction of the one executor, so
anything that fails (or a kill) puts the files, the index and the database back.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from migmerge.core import edit
from migmerge.core.argv import manage_cwd
from migmerge.core.model import Conflict, Leaf, may_run
from migmerge.core.plan import Action, Plan
from migmerge.core.plans.merge import refuse_links_out
from migmerge.core.strategy import merge_command, regenerate_rule
from migmerge.errors import Refused, StepFailed

if TYPE_CHECKING:
    from migmerge.core.model import Database
    from migmerge.core.plans.inputs import AnalysisView

HIDDEN = "~"  # Django's loader skips modules whose name starts with "~" (or "_")


# Planning ----------------------------------------------------------------------


def plan_regenerate(
    analysis: AnalysisView, conflict: Conflict, *, database: Database | None, force: bool = False
) -> Plan:
    """Plan the rollback-and-regenerate of the conflict's local side (nothing is done yet)."""
    local = _local_leaf(conflict)
    ancestor = _ancestor(conflict)
    _refuse_other_conflicts(analysis, conflict.app)
    regenerate_rule(conflict, local, force=force)
    kept = kept_migrations(analysis, conflict)
    removed = [n for n in local.branch if n not in kept]
    _refuse_outside_references(analysis, conflict, local.branch, removed)
    manage = partial(analysis.manage_command, app_dir=conflict.directory)
    actions = [
        *_backup(analysis.backups, database, force),
        *_rollback(analysis, conflict, ancestor, local),
        *_removals(analysis, conflict.app, removed),
        *_set_aside(analysis, conflict.app, kept, removed, ancestor),
        _run(manage("makemigrations", conflict.app, "--noinput"), MAKE_WHY, database=False),
        *_bring_back(analysis, conflict.app, kept),
        _run(manage("migrate"), MIGRATE_WHY, database=True),
        _run(manage("makemigrations", conflict.app, "--check", "--dry-run"), CHECK_WHY),
    ]
    refuse_links_out(analysis, conflict.app, actions)
    return Plan(
        "regenerate",
        conflict.app,
        tuple(actions),
        _warnings(conflict, database, kept),
        _afterwards(conflict.app, kept),
    )


MIGRATE_WHY = "apply the regenerated migrations"
MAKE_WHY = "write the local model changes again, on top of the upstream migrations"
CHECK_WHY = "verify: the models and the migrations agree"


def _local_leaf(conflict: Conflict) -> Leaf:
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    if len(local) != 1:
        raise Refused(
            f"{conflict.app}: cannot regenerate: {len(local)} leaves are local "
            f"({_sides(conflict)}),"
            " so which migrations to regenerate cannot be told",
            hint=f"{merge_command(conflict)}, or name the branch you merge with: "
            "migmerge check --against REV",
        )
    return local[0]


def _sides(conflict: Conflict) -> str:
    return ", ".join(f"{leaf.name}: {leaf.side or 'unknown side'}" for leaf in conflict.leaves)


def _ancestor(conflict: Conflict) -> str:
    if conflict.ancestor is None:
        raise Refused(
            f"{conflict.app}: cannot regenerate: the leaves share no ancestor to roll back to",
            hint=merge_command(conflict),
        )
    return conflict.ancestor


def _refuse_other_conflicts(analysis: AnalysisView, app: str) -> None:
    others = sorted(c.app for c in analysis.result.conflicts if c.app != app)
    if others:
        raise Refused(
            f"{app}: cannot regenerate yet: Django's migrate refuses to run while "
            f"{', '.join(others)} also has parallel migrations",
            hint=f"migmerge resolve --app {others[0]}, then migmerge resolve --app {app}",
        )


def _refuse_outside_references(
    analysis: AnalysisView, conflict: Conflict, branch: Sequence[str], removed: Sequence[str]
) -> None:
    app = conflict.app
    gone = {(app, name) for name in removed}
    users = sorted(
        m.path
        for m in analysis.migrations.values()
        if not (m.app == app and m.name in branch)
        and gone & {*m.dependencies, *m.run_before, *m.replaces}
    )
    if users:
        raise Refused(
            f"{app}: cannot regenerate: {', '.join(users)} depend on local migrations that "
            "regenerate would delete",
            hint=merge_command(conflict),
        )


def _backup(backups: Path, database: Database | None, force: bool) -> list[Action]:
    if database is None:
        return []
    from migmerge.core.plans.steps import backup_action

    return [backup_action(backups, optional=force, what=database.describe())]


def _rollback(
    analysis: AnalysisView, conflict: Conflict, ancestor: str, local: Leaf
) -> list[Action]:
    if local.applied is False:
        return []  # nothing local is applied: there is nothing to unapply
    from migmerge.core.plans.steps import unapply_actions

    why = f"unapply {conflict.app}'s local migrations (back to {ancestor})"
    return list(unapply_actions(analysis, conflict.app, ancestor, why=why))


def _removals(analysis: AnalysisView, app: str, removed: Sequence[str]) -> list[Action]:
    why = "generated from the local models: makemigrations writes it again below"
    return [Action("delete", why, _path(analysis, app, name)) for name in removed]


def _set_aside(
    analysis: AnalysisView, app: str, kept: Sequence[str], removed: Sequence[str], ancestor: str
) -> list[Action]:
    """Re-point kept migrations past the removed ones, then hide them from makemigrations."""
    actions: list[Action] = []
    previous = ancestor
    for name in kept:
        path = _path(analysis, app, name)
        migration = analysis.migrations[(app, name)]
        olds = [n for a, n in migration.dependencies if a == app and n in removed]
        if olds:
            source = (analysis.root / path).read_bytes()
            for old in olds:
                source = edit.replace_dependency(source, (app, old), (app, previous))
            why = f"depend on {previous} instead of the removed {', '.join(olds)}"
            actions.append(Action("edit", why, path, content=source))
        why = "a data migration is kept: set aside while makemigrations runs"
        actions.append(Action("rename", why, path, target=_hidden(path)))
        previous = name
    return actions


def _bring_back(analysis: AnalysisView, app: str, kept: Sequence[str]) -> list[Action]:
    why = "bring the data migration back; it is renumbered onto the new leaf next"
    return [
        Action("rename", why, _hidden(path), target=path)
        for path in (_path(analysis, app, name) for name in kept)
    ]


def _run(command: tuple[str, ...], why: str, *, database: bool = False) -> Action:
    return Action(
        "run", why, command=command, cwd=str(manage_cwd(command)), touches_database=database
    )


def _path(analysis: AnalysisView, app: str, name: str) -> str:
    return analysis.migrations[(app, name)].path


def _hidden(path: str) -> str:
    folder, _, module = path.rpartition("/")
    return f"{folder}/{HIDDEN}{module}" if folder else f"{HIDDEN}{module}"


def _warnings(
    conflict: Conflict, database: Database | None, kept: Sequence[str]
) -> tuple[str, ...]:
    found = []
    if database is None:
        found.append("no database found: nothing is backed up before migrate runs")
    if kept:
        found.append(
            f"{', '.join(kept)} of {conflict.app} run code or SQL: kept and renumbered onto the "
            "new leaf; they are unapplied and applied again, so check they can run twice"
        )
    return tuple(found)


def dropped_data(analysis: AnalysisView, conflict: Conflict) -> list[tuple[str, str | None]]:
    """What rolling the local side back drops: (table, column) pairs; column None: a table.

    Read from the applied local migrations' AddField and CreateModel (Django's
    default table names, `app_model`); nothing when the local side is not applied.
    """
    local = _local_leaf(conflict)
    if local.applied is False:
        return []
    found: dict[tuple[str, str | None], None] = {}
    for name in local.branch:
        for op in may_run(analysis.migration(conflict.app, name).operations):
            table = f"{conflict.app}_{op.model}" if op.model else None
            if table and op.op == "CreateModel":
                found[(table, None)] = None
            elif table and op.op == "AddField" and op.field:
                found[(table, op.field)] = None
    return list(found)


def _afterwards(app: str, kept: Sequence[str]) -> tuple[str, ...]:
    notes = [f"review the regenerated migration of {app}, then commit it"]
    if kept:
        notes.append(f"the kept data migrations ({', '.join(kept)}) now follow the new leaf")
    return tuple(notes)


# The second plan ----------------------------------------------------------------


def first_plan(plan: Plan) -> Plan:
    """The part run before a fresh look: up to makemigrations and the kept migrations' return."""
    actions = tuple(a for a in plan.actions if a.why not in (MIGRATE_WHY, CHECK_WHY))
    return plan._replace(actions=actions)


def kept_migrations(analysis: AnalysisView, conflict: Conflict) -> list[str]:
    """The local side's data migrations, which regenerate keeps and renumbers."""
    local = _local_leaf(conflict)
    return [n for n in local.branch if analysis.migration(conflict.app, n).is_data_migration]


def plan_finish(
    analysis: AnalysisView, app: str, directory: str, kept: Sequence[str], *, keep_names: bool
) -> Plan:
    """The second plan, from a fresh analysis after makemigrations: renumber, migrate, verify.

    `keep_names`: the configuration's `renumber = "keep-names"`.
    """
    from migmerge.core.plans.renumber import plan_renumber

    manage = partial(analysis.manage_command, app_dir=directory)
    actions: list[Action] = []
    if kept:
        onto = _new_leaf(analysis, app, kept)
        # Shared-ness was vetted when the regenerate was planned; the rollback unapplied them.
        moved = plan_renumber(analysis, app, kept, onto, keep_names=keep_names, force=True)
        actions += moved.actions
    actions.append(_run(manage("migrate"), MIGRATE_WHY, database=True))
    actions.append(_run(manage("makemigrations", app, "--check", "--dry-run"), CHECK_WHY))
    return Plan("regenerate", app, tuple(actions))


def _new_leaf(analysis: AnalysisView, app: str, kept: Sequence[str]) -> str:
    for conflict in analysis.result.conflicts:
        if conflict.app == app:
            others = [leaf.name for leaf in conflict.leaves if leaf.name != kept[-1]]
            if len(others) == 1:
                return others[0]
    raise StepFailed(f"{app}: cannot tell the new leaf to renumber {', '.join(kept)} onto")

"""`doctor --fix`: diagnose, plan what is safe, show it, ask, apply all or nothing, diagnose again.

This module only coordinates: `core.plans.doctor` decides the steps, the one
executor (`doing.apply.apply_plan`) takes the backup and runs them, restoring
the files, the index and the database when one fails, and a second diagnosis
says whether the three places now agree (exit 0) or not (exit 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from migmerge.commands.doctor import Examination, examine
from migmerge.core.graph import Graph
from migmerge.core.model import Action, Key
from migmerge.core.plans import doctor as planner
from migmerge.core.plans import steps
from migmerge.doing.apply import apply_plan, describe
from migmerge.doing.prompts import FlagQuestioner
from migmerge.errors import MigmergeError, Refused
from migmerge.reading.ghosts import ghost_files

if TYPE_CHECKING:
    from migmerge.core.doctor import Diagnosis
    from migmerge.core.questions import Questioner

Out = Callable[[str], None]


def run_fix(
    *,
    repo: str | None,
    apps: Sequence[str],
    database: str,
    settings: str | None,
    fmt: str,
    yes: bool,
    dry_run: bool,
    questioner: Questioner,
    out: Out,
) -> int:
    """Fix what is safe; exit 0 when the files, the rows and the schema agree afterwards."""
    from migmerge import report as words

    seen = examine(repo, apps=apps, alias=database, settings=settings)
    found = seen.diagnosis
    fixes = plan(seen)
    text = out if fmt != "json" else _quiet
    text(words.doctor_text(found))
    _show(fixes, text)
    if dry_run or not fixes.plan.actions:
        text("dry run: nothing changed" if dry_run else "nothing doctor --fix can do")
        _json(fmt, out, found, fixes, None)
        return 1 if found.findings else 0
    again = _flags(repo, apps, database, settings)
    if not yes and isinstance(questioner, FlagQuestioner):
        raise Refused(
            "doctor --fix changes the database and needs a person to confirm (no terminal to "
            "ask); nothing changed",
            hint=f"migmerge doctor --fix --yes{again} (see it first: --dry-run)",
        )
    declined = _declined(fixes, yes, questioner)
    if declined:
        fixes = plan(seen, declined)
        text(
            "the plan without the declined rollbacks:"
            if fixes.plan.actions
            else "nothing left to do"
        )
        _show(fixes, text)
    if not fixes.plan.actions:
        _json(fmt, out, found, fixes, None)
        return 1
    if not (yes or questioner.confirm("Apply this plan?", default=True)):
        raise Refused(
            "the plan was not applied; nothing changed", hint=f"migmerge doctor --fix{again}"
        )
    root = seen.analysis.root
    apply_plan(root, fixes.plan, out=text, database=seen.project.database)
    after = examine(repo, apps=apps, alias=database, settings=settings).diagnosis
    text("after the fix:")
    text(words.doctor_text(after))
    _json(fmt, out, found, fixes, after)
    return 1 if after.findings else 0


def plan(seen: Examination, declined: frozenset[Key] = frozenset()) -> planner.Fixes:
    """Plan the fixes of a diagnosis (nothing is done yet)."""
    analysis, answer = seen.analysis, seen.answer
    graph = Graph(analysis.migrations)
    facts = planner.Facts(
        applied=frozenset((r.app, r.name) for r in seen.facts.rows or ()),
        parents=graph.parents,
        ghosts=ghost_files(
            analysis.root,
            seen.diagnosis.findings,
            schema=seen.facts.schema,
            expected=answer.expected.tables if answer and answer.expected else None,
            database=seen.project.database,
            cache_tag=answer.cache_tag if answer else None,
        ),
        forked=tuple(c.app for c in analysis.result.conflicts),
    )
    return planner.plan_fix(
        seen.diagnosis.findings,
        facts,
        backup=steps.backup_action(analysis.root),
        fake=_fake(seen),
        unapply=_unapply(seen),
        declined=declined,
    )


def _fake(seen: Examination) -> planner.Fake:
    project = seen.project

    def fake(app: str, name: str, why: str) -> Action | str:
        command = project.command("migrate", "--fake", app, name)
        if not command:
            return f"cannot run migrate --fake: {project.manage_why}"
        return Action("run", why, command=command, cwd=project.cwd, touches_database=True)

    return fake


def _unapply(seen: Examination) -> planner.Unapply:
    analysis = seen.analysis

    def unapply(app: str, target: str | None, why: str) -> Sequence[Action] | str:
        try:
            return steps.unapply_actions(analysis, app, target, why=why)
        except MigmergeError as exc:  # no manage.py to run it with
            return exc.message

    return unapply


def _declined(fixes: planner.Fixes, yes: bool, questioner: Questioner) -> frozenset[Key]:
    """Ask for each rollback that drops data (never yes by default); return those declined."""
    if yes:
        return frozenset()
    declined = set()
    for ghost in fixes.dropping:
        app, name = ghost.key
        question = f"Roll back {app}.{name}? It drops {', '.join(ghost.drops)}."
        if not questioner.confirm(question, default=False):
            declined.add(ghost.key)
    return frozenset(declined)


def _flags(repo: str | None, apps: Sequence[str], database: str, settings: str | None) -> str:
    """The flags of this run, to repeat in the command a refusal names."""
    import shlex

    words = [w for app in apps for w in ("--app", app)]
    if database != "default":
        words += ["--database", database]
    if settings:
        words += ["--settings", settings]
    if repo:
        words += ["--repo", repo]
    return "".join(f" {shlex.quote(w)}" for w in words)


# Showing -----------------------------------------------------------------------


def _show(fixes: planner.Fixes, out: Out) -> None:
    """Print the plan, step by step with why, then what it leaves and why."""
    if fixes.plan.actions:
        out("doctor --fix plan (all or nothing; the backup restores the database if a step fails):")
    for number, action in enumerate(fixes.plan.actions, 1):
        out(f"  {number}. {describe(action)}")
        out(f"     why: {action.why}")
    for item in fixes.left:
        what = item.finding.app
        if item.finding.migration:
            what += f".{item.finding.migration}"
        out(f"  left: {item.finding.kind} {what}: {item.why}")


def _json(
    fmt: str, out: Out, found: Diagnosis, fixes: planner.Fixes, after: Diagnosis | None
) -> None:
    """Print the --fix document: the findings, the plan's actions, what is left, and after."""
    if fmt != "json":
        return
    document = {
        "version": 1,
        "mode": "doctor",
        "fix": True,
        "applied": after is not None,
        "database": found.database.describe() if found.database else None,
        "findings": [f.to_json() for f in found.findings],
        "actions": [_action_json(a) for a in fixes.plan.actions],
        "left": [{**item.finding.to_json(), "why": item.why} for item in fixes.left],
        "after": None if after is None else [f.to_json() for f in after.findings],
        "unread": list(found.unread),
    }
    out(json.dumps(document, indent=2))


def _action_json(action: Action) -> dict[str, object]:
    out = action.to_json()
    if action.app is not None:
        out["app"] = action.app
    return out


def _quiet(_: str) -> None:
    """Swallow text output (the json format prints one document only)."""

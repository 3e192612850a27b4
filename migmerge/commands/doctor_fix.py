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

from migmerge.commands.doctor import examine, plan_fixes
from migmerge.core.model import Key
from migmerge.core.plan import Action
from migmerge.core.plans import doctor as planner
from migmerge.doing.actions import describe
from migmerge.doing.apply import apply_plan
from migmerge.doing.prompts import FlagQuestioner
from migmerge.errors import Refused

if TYPE_CHECKING:
    from migmerge.core.doctor import Diagnosis, Finding
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
    fixes = plan_fixes(seen)
    text = out if fmt != "json" else _quiet
    text(words.doctor_text(found, _counted(fixes), why_left=False))
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
        fixes = plan_fixes(seen, declined)
        text("the plan without what was declined:" if fixes.plan.actions else "nothing left to do")
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
    again_seen = examine(repo, apps=apps, alias=database, settings=settings)
    after = again_seen.diagnosis
    text("after the fix:")
    text(words.doctor_text(after, _counted(plan_fixes(again_seen)) if after.findings else None))
    _json(fmt, out, found, fixes, after)
    return 1 if after.findings else 0


def _counted(fixes: planner.Fixes) -> tuple[tuple[Finding, ...], list[tuple[Finding, str]]]:
    """What the plan fixes and what it leaves with why, for the summary line."""
    return fixes.fixed, [(item.finding, item.why) for item in fixes.left]


def _declined(fixes: planner.Fixes, yes: bool, questioner: Questioner) -> frozenset[Key]:
    """Ask for each rollback that drops data and each row deletion (never yes by default)."""
    if yes:
        return frozenset()
    declined = set()
    for ghost in fixes.dropping:
        app, name = ghost.key
        question = f"Roll back {app}.{name}? It drops {', '.join(ghost.drops)}."
        if not questioner.confirm(question, default=False):
            declined.add(ghost.key)
    for row in fixes.forgetting:
        app, name = row.app, row.migration or ""
        since = (
            f"It was renamed to {row.target}, which is recorded as applied too; the schema "
            "stays as it is."
            if row.target
            else "No file of it exists anywhere; whatever it changed in the schema stays."
        )
        question = f"Delete the stale row {app}.{name} from django_migrations? {since}"
        if not questioner.confirm(question, default=False):
            declined.add((app, name))
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

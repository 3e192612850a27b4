"""`resolve`: analyze, choose a strategy per conflict, plan, show, confirm, apply, verify.

This module only coordinates; the planner decides what changes (the strategy
and plan of each conflict are chosen in resolve_plans), `apply` changes it,
and the CLI turns the exceptions raised here into exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migmerge.commands.resolve_plans import (
    Options,
    Resolution,
    dry_resolution,
    project_database,
    render_ahead,
    resolution,
)
from migmerge.core.model import Conflict
from migmerge.core.plan import Plan
from migmerge.doing.actions import describe
from migmerge.doing.apply import afterwards, combine
from migmerge.errors import Refused
from migmerge.reading.analysis import analyze

if TYPE_CHECKING:
    from migmerge.commands.unfinished import Flags
    from migmerge.core.questions import Questioner
    from migmerge.doing.apply import Transaction
    from migmerge.reading.analysis import Analysis

Out = Callable[[str], None]


def resolve(
    *,
    repo: str | None,
    strategy: str | None,
    apps: Sequence[str],
    keep_names: bool,
    yes: bool,
    dry_run: bool,
    force: bool,
    fmt: str,
    questioner: Questioner,
    out: Out,
    settings: str | None = None,
    applied: str | None = None,
    abort: bool = False,
    resume: bool = False,
) -> int:
    """Resolve the conflicts of the repository (or of `apps`); return the exit code.

    `applied`: what to do with applied local migrations (--applied); None asks a
    person, and refuses when nobody can be asked.
    `abort` puts back what an unfinished resolution changed (from its journal);
    `resume` (--continue) does that, then makes and applies its plans again.
    """
    from migmerge.commands.unfinished import Flags, way_on
    from migmerge.reading import git

    info = git.find_repo(repo)
    asked = Flags(strategy, apps, keep_names, yes, dry_run, force, settings, applied)
    flags = way_on(info, asked, abort=abort, resume=resume, out=out)
    if flags is None:
        return 0
    if flags.dry_run:
        return _resolve(info.root, flags, fmt, questioner, out)
    from migmerge.doing.lock import resolve_lock

    with resolve_lock(info.root):
        return _resolve(info.root, flags, fmt, questioner, out)


def _resolve(root: Path, flags: Flags, fmt: str, questioner: Questioner, out: Out) -> int:
    """Analyze, plan, show, confirm, apply and verify."""
    analysis = analyze(root, apps=flags.apps, settings=flags.settings, ask=True)
    conflicts = _selected(analysis, flags.apps)
    if not conflicts:
        _say_nothing(fmt, out)
        return 0
    keep = flags.keep_names or analysis.config.renumber == "keep-names"
    options = Options(flags.strategy, keep, flags.force, questioner, flags.applied)
    options.rendered.update(render_ahead(analysis, conflicts, options, dry_run=flags.dry_run))
    plan = dry_resolution if flags.dry_run else resolution
    resolutions = [plan(analysis, c, options) for c in conflicts]
    if fmt != "json":
        _show(resolutions, out)
    if flags.dry_run:
        refused = [res.conflict.app for res in resolutions if res.refused]
        note = "dry run: nothing changed" + (f"; refused: {', '.join(refused)}" if refused else "")
        _finish(resolutions, fmt, out, applied=False, note=note)
        return 1 if refused else 0
    _confirm(resolutions, flags.yes, questioner)
    guided = [res.conflict for res in resolutions if _guided(analysis, res)]
    if guided:
        from migmerge.commands.drops import confirm_drops

        confirm_drops(analysis, guided, project_database(analysis), flags.yes, questioner, out)
    quiet = out if fmt != "json" else _quiet
    _apply(analysis, resolutions, questioner, quiet, flags.again())
    code = _verify(analysis, resolutions, quiet)
    _finish(resolutions, fmt, out, applied=True, note=None)
    return code


def _selected(analysis: Analysis, apps: Sequence[str]) -> list[Conflict]:
    """The conflicts to resolve: all, or those of the named apps (which must exist)."""
    analysis.require_apps(apps)
    return [c for c in analysis.result.conflicts if not apps or c.app in apps]


def _say_nothing(fmt: str, out: Out) -> None:
    """Report that there is nothing to resolve."""
    if fmt == "json":
        out(json.dumps({"version": 1, "applied": False, "actions": [], "plans": []}))
    else:
        out("no migration conflicts to resolve")


# Showing -----------------------------------------------------------------------


def _show(resolutions: Sequence[Resolution], out: Out) -> None:
    """Print each plan: numbered actions with why, then its warnings."""
    number = 0
    for res in resolutions:
        if res.refused is not None:
            _show_refused(res, out)
            continue
        out(f"{res.conflict.app}: {res.strategy} ({res.why})")
        for action in res.plan.actions:
            number += 1
            out(f"  {number}. {describe(action)}")
            out(f"     why: {action.why}")
        for warning in res.plan.warnings:
            out(f"  warning: {warning}")


def _show_refused(res: Resolution, out: Out) -> None:
    """Say what would be refused and why, then the plan it refuses (when one could be made)."""
    assert res.refused is not None
    out(f"{res.conflict.app}: {res.strategy} would be refused")
    out(f"  why: {res.refused.message}")
    if res.refused.hint:
        out(f"  hint: {res.refused.hint}")
    if not res.plan.actions:
        return
    out(f"  what {res.strategy} would do once allowed:")
    for number, action in enumerate(res.plan.actions, 1):
        out(f"  {number}. {describe(action)}")


def _finish(
    resolutions: Sequence[Resolution], fmt: str, out: Out, *, applied: bool, note: str | None
) -> None:
    """Print the JSON document (json) or the closing note (text)."""
    if fmt == "json":
        out(json.dumps(_json(resolutions, applied), indent=2))
    elif note:
        out(note)


def _json(resolutions: Sequence[Resolution], applied: bool) -> dict[str, object]:
    """The contract's resolve document, plus a summary of each plan."""
    return {
        "version": 1,
        "applied": applied,
        "actions": [
            a.to_json() for res in resolutions if not res.refused for a in res.plan.actions
        ],  # fmt: skip
        "plans": [_plan_json(res) for res in resolutions],
    }


def _plan_json(res: Resolution) -> dict[str, object]:
    """One plan's summary; a refused one (--dry-run) says why and holds what it refuses."""
    shown = res.refused is None
    doc: dict[str, object] = {
        "app": res.conflict.app,
        "strategy": res.strategy,
        "why": res.why,
        "warnings": list(res.plan.warnings) if shown else [],
        "afterwards": list(res.plan.afterwards) if shown else [],
    }
    if res.refused is not None:
        doc["refused"] = {"message": res.refused.message, "hint": res.refused.hint}
        doc["actions"] = [a.to_json() for a in res.plan.actions]
    return doc


def _quiet(_: str) -> None:
    """Swallow text output (the json format prints one document only)."""


# Applying ----------------------------------------------------------------------


def _confirm(resolutions: Sequence[Resolution], yes: bool, questioner: Questioner) -> None:
    """Ask before changing anything; refuse when the answer is no.

    The default loses nothing: yes only when no step changes the database or deletes a file.
    """
    harmless = not any(_needs_database(res.plan) or _deletes(res.plan) for res in resolutions)
    if yes or questioner.confirm("Apply this plan?", default=harmless):
        return
    apps = " ".join(f"--app {res.conflict.app}" for res in resolutions)
    raise Refused(
        "the plan was not applied; nothing changed", hint=f"migmerge resolve {apps} --yes"
    )


def _apply(
    analysis: Analysis,
    resolutions: Sequence[Resolution],
    questioner: Questioner,
    out: Out,
    again: dict[str, Any],
) -> None:
    """Apply every plan in one transaction: the file plans as one, then each regeneration."""
    from migmerge.doing.apply import Transaction, what_of

    # A kmigrator regeneration is a plan of configured commands: run like the file plans.
    files = [res for res in resolutions if not _guided(analysis, res)]
    combined = combine([res.plan for res in files]) if files else None
    guided = [res for res in resolutions if _guided(analysis, res)]
    database = (
        project_database(analysis) if guided or (combined and _needs_database(combined)) else None
    )
    what = "; ".join(what_of(res.plan) for res in resolutions)
    with Transaction(
        analysis.root, out=out, questioner=questioner, database=database, what=what, again=again
    ) as transaction:
        if combined is not None:
            transaction.run(combined)
        for res in guided:
            _regenerate(analysis, res, questioner, out, transaction)


def _guided(analysis: Analysis, res: Resolution) -> bool:
    """A Django regeneration: two plans, the second built after makemigrations ran."""
    return res.strategy == "regenerate" and res.conflict.directory not in analysis.scan.kmigrator


def _needs_database(item: Plan) -> bool:
    """True when a step backs up, renames rows in, or changes the database."""
    return any(
        a.action in ("backup", "record") or (a.action == "run" and a.touches_database)
        for a in item.actions
    )


def _deletes(item: Plan) -> bool:
    """True when a step deletes a file."""
    return any(a.action == "delete" for a in item.actions)


def _regenerate(
    analysis: Analysis,
    res: Resolution,
    questioner: Questioner,
    out: Out,
    transaction: Transaction,
) -> None:
    """Run a regeneration's two plans inside the transaction."""
    from migmerge.doing import regenerate

    regenerate.run_regenerate(
        analysis,
        res.conflict,
        res.plan,
        questioner=questioner,
        out=out,
        database=project_database(analysis),
        transaction=transaction,
    )


def _verify(analysis: Analysis, resolutions: Sequence[Resolution], out: Out) -> int:
    """Check again: each resolved app must have one leaf now; return 1 when one does not."""
    apps = [res.conflict.app for res in resolutions]
    settings, ask = analysis.options
    after = analyze(analysis.root, apps=apps, settings=settings, ask=ask)
    left = {c.app: c for c in after.result.conflicts if c.app in apps}
    for res in resolutions:
        remaining = left.get(res.conflict.app)
        if remaining is None:
            out(f"{res.conflict.app}: resolved ({res.strategy}); no parallel migrations left")
        else:
            leaves = ", ".join(leaf.name for leaf in remaining.leaves)
            out(f"{res.conflict.app}: still has several leaves after {res.strategy}: {leaves}")
    for line in _staged(analysis.root, resolutions):
        out(line)
    for note in afterwards([res.plan for res in resolutions]):
        out(f"next: {note}")
    return 1 if left else 0


def _staged(root: Path, resolutions: Sequence[Resolution]) -> list[str]:
    """Say which of the resolution's paths are staged, and which are not (an untracked folder)."""
    from migmerge.doing.apply import touched_paths
    from migmerge.reading.git_worktree import unstaged_files

    touched = touched_paths(a for res in resolutions for a in res.plan.actions)
    where = [*touched, *dict.fromkeys(res.conflict.directory for res in resolutions)]
    left = sorted(unstaged_files(root, where))
    staged = [path for path in touched if path not in left]
    lines = []
    if staged:
        lines.append(f"staged: {', '.join(staged)} (review with `git diff --cached`, then commit)")
    if left:
        lines.append(f"not staged (an untracked folder, or edits of your own): {', '.join(left)}")
    return lines

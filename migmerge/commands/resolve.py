"""`resolve`: analyze, choose a strategy per conflict, plan, show, confirm, apply, verify.

This module only coordinates; the planner decides what changes, `apply` changes
it, and the CLI turns the exceptions raised here into exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migmerge.core import strategy as rules
from migmerge.core.model import Conflict, Strategy
from migmerge.core.plan import Plan, Rendered
from migmerge.core.plans.merge import merge_request, plan_merge
from migmerge.core.plans.renumber import plan_renumber_conflict
from migmerge.doing.actions import describe
from migmerge.doing.apply import afterwards, combine
from migmerge.errors import Refused
from migmerge.reading.analysis import analyze

if TYPE_CHECKING:
    from migmerge.commands.unfinished import Flags
    from migmerge.core.model import Database, Project
    from migmerge.core.questions import Questioner
    from migmerge.doing.apply import Transaction
    from migmerge.reading.analysis import Analysis

Out = Callable[[str], None]


@dataclass(frozen=True)
class _Options:
    """The flags that shape the plans."""

    strategy: str | None
    keep_names: bool
    force: bool
    questioner: Questioner | None
    applied: str | None = None  # --applied: rollback, record, refuse (None: ask, else refuse)
    # The merge migrations rendered ahead, by app: every one of a run in one process.
    rendered: dict[str, Rendered] = field(default_factory=dict)


@dataclass(frozen=True)
class _Resolution:
    """One conflict, the strategy chosen for it, why, and its plan."""

    conflict: Conflict
    strategy: Strategy
    why: str
    plan: Plan
    # --dry-run: why it would be refused (the plan, if any, is what it would do once allowed).
    refused: Refused | None = None


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
    options = _Options(flags.strategy, keep, flags.force, questioner, flags.applied)
    options.rendered.update(_render_ahead(analysis, conflicts, options, dry_run=flags.dry_run))
    plan = _dry_resolution if flags.dry_run else _resolution
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

        confirm_drops(analysis, guided, _database(analysis), flags.yes, questioner, out)
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


def _resolution(analysis: Analysis, conflict: Conflict, options: _Options) -> _Resolution:
    """Choose the strategy for one conflict and plan it."""
    strategy, why = rules.choose_strategy(
        conflict,
        options.strategy,
        analysis.config.strategy,
        force=options.force,
        questioner=options.questioner,
    )
    return _Resolution(conflict, strategy, why, _plan(analysis, conflict, strategy, options))


def _dry_resolution(analysis: Analysis, conflict: Conflict, options: _Options) -> _Resolution:
    """Plan for --dry-run: a refusal is shown, with the plan it refuses when one can be made."""
    try:
        return _resolution(analysis, conflict, options)
    except Refused as exc:
        refused = exc
    forced = replace(options, force=True, questioner=None, applied=None)
    try:
        res = _resolution(analysis, conflict, forced)
    except Refused:
        wanted = options.strategy if options.strategy in rules.STRATEGIES[1:] else "merge"
        strategy = rules.as_strategy(wanted or "merge")
        return _Resolution(conflict, strategy, "", Plan(strategy, conflict.app, ()), refused)
    return replace(res, refused=refused)


def _plan(analysis: Analysis, conflict: Conflict, strategy: Strategy, options: _Options) -> Plan:
    """Build the plan of the chosen strategy."""
    if conflict.directory in analysis.scan.kmigrator:
        return _kmigrator_plan(analysis, conflict, strategy, options)
    if strategy == "merge":
        rendered = options.rendered.get(conflict.app) or _render(analysis, [conflict])[0]
        return plan_merge(analysis, conflict, rendered)
    if strategy == "renumber":
        return plan_renumber_conflict(
            analysis,
            conflict,
            keep_names=options.keep_names,
            force=options.force,
            applied=options.applied,
            questioner=options.questioner,
        )
    from migmerge.core.plans import regenerate

    return regenerate.plan_regenerate(
        analysis, conflict, database=_database(analysis), force=options.force
    )


def _render_ahead(
    analysis: Analysis, conflicts: Sequence[Conflict], options: _Options, *, dry_run: bool
) -> dict[str, Rendered]:
    """Render, all at once, the merge migrations the plans will want, by app.

    Those whose strategy is merge without asking anyone (with --dry-run, also
    those a refusal would show as merge); one a person chooses later is
    rendered then.
    """
    merging = []
    for conflict in conflicts:
        if conflict.directory in analysis.scan.kmigrator:
            continue
        chosen = _unasked_strategy(analysis, conflict, options, force=options.force)
        if chosen is None and dry_run and not options.force:
            chosen = _unasked_strategy(analysis, conflict, options, force=True)
        if chosen == "merge":
            merging.append(conflict)
    return {c.app: rendered for c, rendered in zip(merging, _render(analysis, merging))}


def _unasked_strategy(
    analysis: Analysis, conflict: Conflict, options: _Options, *, force: bool
) -> Strategy | None:
    """The strategy the rules choose without a question; None when they refuse or would ask."""
    try:
        strategy, _ = rules.choose_strategy(
            conflict, options.strategy, analysis.config.strategy, force=force, questioner=None
        )
    except Refused:
        return None
    return strategy


def _render(analysis: Analysis, conflicts: Sequence[Conflict]) -> list[Rendered]:
    """Each conflict's merge migration, rendered by its project's Django: one process a project."""
    from migmerge.reading.render import render_merges

    # By what rendering depends on, the interpreter and why it was chosen: each app folder
    # has its own record (its manage.py named), most of them of one interpreter.
    groups: dict[tuple[str, str], tuple[Project, list[int]]] = {}
    for index, conflict in enumerate(conflicts):
        project = analysis.project_for(conflict.directory)
        key = (project.python, project.python_why)
        groups.setdefault(key, (project, []))[1].append(index)
    rendered: list[Rendered | None] = [None] * len(conflicts)
    for project, indexes in groups.values():
        requests = [merge_request(conflicts[i]) for i in indexes]
        for index, one in zip(indexes, render_merges(project, requests)):
            rendered[index] = one
    assert all(one is not None for one in rendered)
    return [one for one in rendered if one is not None]


def _kmigrator_plan(
    analysis: Analysis, conflict: Conflict, strategy: Strategy, options: _Options
) -> Plan:
    """condo's .js migrations: renamed and re-encoded, merged in kmigrator's format, or remade."""
    from datetime import datetime

    from migmerge.core.plans import kmigrator, kmigrator_regenerate
    from migmerge.reading.kmigrator_apps import plan_folder

    files = dict(analysis.apps[conflict.app].files)
    folder = plan_folder(analysis.root, conflict.app, conflict.directory, files, analysis.config)
    now = datetime.now()  # kmigrator names the files it writes by the local time
    if strategy == "merge":
        return kmigrator.plan_merge(folder, conflict, now=now)
    if strategy == "renumber":
        keep, force = options.keep_names, options.force
        return kmigrator.plan_renumber(folder, conflict, keep_names=keep, force=force, now=now)
    commands = analysis.config.commands
    return kmigrator_regenerate.plan_regenerate(
        folder, conflict, commands, ".", force=options.force
    )


def _database(analysis: Analysis) -> Database | None:
    """The project's database (asking its own settings when they do not read statically)."""
    return analysis.project.database


# Showing -----------------------------------------------------------------------


def _show(resolutions: Sequence[_Resolution], out: Out) -> None:
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


def _show_refused(res: _Resolution, out: Out) -> None:
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
    resolutions: Sequence[_Resolution], fmt: str, out: Out, *, applied: bool, note: str | None
) -> None:
    """Print the JSON document (json) or the closing note (text)."""
    if fmt == "json":
        out(json.dumps(_json(resolutions, applied), indent=2))
    elif note:
        out(note)


def _json(resolutions: Sequence[_Resolution], applied: bool) -> dict[str, object]:
    """The contract's resolve document, plus a summary of each plan."""
    return {
        "version": 1,
        "applied": applied,
        "actions": [
            a.to_json() for res in resolutions if not res.refused for a in res.plan.actions
        ],  # fmt: skip
        "plans": [_plan_json(res) for res in resolutions],
    }


def _plan_json(res: _Resolution) -> dict[str, object]:
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


def _confirm(resolutions: Sequence[_Resolution], yes: bool, questioner: Questioner) -> None:
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
    resolutions: Sequence[_Resolution],
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
    database = _database(analysis) if guided or (combined and _needs_database(combined)) else None
    what = "; ".join(what_of(res.plan) for res in resolutions)
    with Transaction(
        analysis.root, out=out, questioner=questioner, database=database, what=what, again=again
    ) as transaction:
        if combined is not None:
            transaction.run(combined)
        for res in guided:
            _regenerate(analysis, res, questioner, out, transaction)


def _guided(analysis: Analysis, res: _Resolution) -> bool:
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
    res: _Resolution,
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
        database=_database(analysis),
        transaction=transaction,
    )


def _verify(analysis: Analysis, resolutions: Sequence[_Resolution], out: Out) -> int:
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
    for note in afterwards([res.plan for res in resolutions]):
        out(f"next: {note}")
    return 1 if left else 0

"""What `resolve` plans for each conflict: the strategy chosen, and its plan.

The rules choose (core/strategy), the planners plan (core/plans/), and this
module hands them what was read: the flags (`Options`), the merge migrations
rendered ahead for a whole run in one process, the database. `--dry-run`
plans even what a rule refuses, to show what it would do once allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from migmerge.core import strategy as rules
from migmerge.core.model import Conflict, Strategy
from migmerge.core.plan import Plan, Rendered
from migmerge.core.plans.merge import merge_request, plan_merge
from migmerge.core.plans.renumber import plan_renumber_conflict
from migmerge.errors import Refused

if TYPE_CHECKING:
    from migmerge.core.model import Database, Project
    from migmerge.core.questions import Questioner
    from migmerge.reading.analysis import Analysis


@dataclass(frozen=True)
class Options:
    """The flags that shape the plans."""

    strategy: str | None
    keep_names: bool
    force: bool
    questioner: Questioner | None
    applied: str | None = None  # --applied: rollback, record, refuse (None: ask, else refuse)
    # The merge migrations rendered ahead, by app: every one of a run in one process.
    rendered: dict[str, Rendered] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    """One conflict, the strategy chosen for it, why, and its plan."""

    conflict: Conflict
    strategy: Strategy
    why: str
    plan: Plan
    # --dry-run: why it would be refused (the plan, if any, is what it would do once allowed).
    refused: Refused | None = None


def resolution(analysis: Analysis, conflict: Conflict, options: Options) -> Resolution:
    """Choose the strategy for one conflict and plan it."""
    strategy, why = rules.choose_strategy(
        conflict,
        options.strategy,
        analysis.config.strategy,
        force=options.force,
        questioner=options.questioner,
    )
    return Resolution(conflict, strategy, why, _plan(analysis, conflict, strategy, options))


def dry_resolution(analysis: Analysis, conflict: Conflict, options: Options) -> Resolution:
    """Plan for --dry-run: a refusal is shown, with the plan it refuses when one can be made."""
    try:
        return resolution(analysis, conflict, options)
    except Refused as exc:
        refused = exc
    forced = replace(options, force=True, questioner=None, applied=None)
    try:
        res = resolution(analysis, conflict, forced)
    except Refused:
        wanted = options.strategy if options.strategy in rules.STRATEGIES[1:] else "merge"
        strategy = rules.as_strategy(wanted or "merge")
        return Resolution(conflict, strategy, "", Plan(strategy, conflict.app, ()), refused)
    return replace(res, refused=refused)


def _plan(analysis: Analysis, conflict: Conflict, strategy: Strategy, options: Options) -> Plan:
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
        analysis, conflict, database=project_database(analysis), force=options.force
    )


def render_ahead(
    analysis: Analysis, conflicts: Sequence[Conflict], options: Options, *, dry_run: bool
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
    analysis: Analysis, conflict: Conflict, options: Options, *, force: bool
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
    analysis: Analysis, conflict: Conflict, strategy: Strategy, options: Options
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


def project_database(analysis: Analysis) -> Database | None:
    """The project's database (asking its own settings when they do not read statically)."""
    return analysis.project.database

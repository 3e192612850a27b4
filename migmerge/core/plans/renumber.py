"""The renumber strategy: move the local migrations after upstream's and rewire every reference.

A plan is data. Nothing here writes: `doing.apply.apply_plan` does. The file
changes (edited bytes, renames, mentions left to a person) are computed in
renumber_files, on the working tree the plan will be applied to; this module
picks the new names and says what happens to the database of applied ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from migmerge.core import renumber_safety as rules
from migmerge.core.model import Conflict, Leaf, Strategy
from migmerge.core.plan import Action, Plan
from migmerge.core.plans.merge import refuse_links_out
from migmerge.core.plans.renumber_files import edit_actions, outside_references, rename_actions
from migmerge.core.plans.steps import (
    backup_action,
    max_migration,
    unapply_actions,
)
from migmerge.core.writer import parse_number
from migmerge.errors import MigmergeError, Refused

if TYPE_CHECKING:
    from migmerge.core.plans.inputs import AnalysisView
    from migmerge.core.questions import Questioner


@dataclass(frozen=True)
class _Options:
    """How to renumber: the flags, and who answers questions."""

    keep_names: bool = False
    force: bool = False
    applied: str | None = None  # --applied: rollback, record, refuse; None: ask, else refuse
    questioner: Questioner | None = None


@dataclass(frozen=True)
class _Segment:
    """Migrations that move together after `onto` (old names, in order)."""

    names: tuple[str, ...]
    onto: str


def plan_renumber(
    analysis: AnalysisView,
    app: str,
    moving: Sequence[str],
    onto: str,
    *,
    keep_names: bool = False,
    force: bool = False,
    applied: str | None = None,
    questioner: Questioner | None = None,
) -> Plan:
    """Plan moving `moving` (in order) after `onto`: renames, rewired references, git mv."""
    options = _Options(keep_names, force, applied, questioner)
    return _plan_segments(analysis, app, [_Segment(tuple(moving), onto)], options)


def plan_renumber_conflict(
    analysis: AnalysisView,
    conflict: Conflict,
    *,
    keep_names: bool = False,
    force: bool = False,
    applied: str | None = None,
    questioner: Questioner | None = None,
) -> Plan:
    """Plan a renumber of every local branch after the single upstream leaf, one after another.

    `applied`: what to do with applied local migrations (the --applied flag).
    """
    upstream, local = _sides(conflict)
    segments, onto = [], upstream.name
    for leaf in local:
        segments.append(_Segment(leaf.branch, onto))
        onto = leaf.branch[-1]
    options = _Options(keep_names, force, applied, questioner)
    return _plan_segments(analysis, conflict.app, segments, options)


def _sides(conflict: Conflict) -> tuple[Leaf, list[Leaf]]:
    """Return the one upstream leaf and the local leaves; refuse when that cannot be told."""
    upstream = [leaf for leaf in conflict.leaves if leaf.side == "upstream"]
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    if len(upstream) != 1 or len(local) + 1 != len(conflict.leaves):
        raise Refused(
            f"{conflict.app}: cannot renumber: there is no single upstream leaf "
            f"({_describe_sides(conflict)}), so which migrations to move cannot be told",
            hint=f"migmerge resolve --app {conflict.app} --strategy merge, or name the "
            "branch you merge with: migmerge check --against REV",
        )
    names = [n for leaf in local for n in leaf.branch]
    if len(set(names)) != len(names):
        raise Refused(
            f"{conflict.app}: cannot renumber: the local leaves share migrations",
            hint=f"migmerge resolve --app {conflict.app} --strategy merge",
        )
    return upstream[0], local


def _describe_sides(conflict: Conflict) -> str:
    """Say which leaf is on which side, for messages."""
    return ", ".join(f"{leaf.name}: {leaf.side or 'unknown side'}" for leaf in conflict.leaves)


def _plan_segments(
    analysis: AnalysisView,
    app: str,
    segments: Sequence[_Segment],
    options: _Options,
) -> Plan:
    """Build the renumber plan for consecutive segments of one app."""
    _check_names(analysis, app, segments)
    renames = {} if options.keep_names else _new_names(analysis, app, segments)
    repoint = {seg.names[0]: (_head_dependency(analysis, app, seg), seg.onto) for seg in segments}
    moving = [name for seg in segments for name in seg.names]
    fix = _applied_or_shared(analysis, app, segments, options)
    migrations = analysis.migrations
    actions = [
        *fix.before,
        *edit_actions(analysis.root, migrations.values(), app, renames, repoint),
    ]
    actions += rename_actions(migrations, app, moving, renames)
    new_leaf = renames.get(moving[-1], moving[-1])
    directory = analysis.apps[app].directory
    actions += max_migration(analysis.root, directory, new_leaf)
    actions += fix.after(renames)
    refuse_links_out(analysis, app, actions)
    mentions = analysis.mentions(renames) if renames else {}
    warnings = [*outside_references(analysis.root, mentions, renames, actions), *fix.warnings]
    strategy: Strategy = "renumber"
    return Plan(strategy, app, tuple(actions), tuple(warnings))


def _check_names(analysis: AnalysisView, app: str, segments: Sequence[_Segment]) -> None:
    """Fail when a migration to move or to move onto is unknown."""
    for seg in segments:
        for name in (*seg.names, seg.onto):
            if (app, name) not in analysis.migrations:
                raise MigmergeError(f"{app} has no migration named {name}")
        if not seg.names:
            raise MigmergeError(f"{app}: nothing to move after {seg.onto}")


def _suffix(name: str) -> str:
    """The part of a migration name after its number (`0003_add_x` -> `add_x`)."""
    match = re.match(r"^\d+_(.+)$", name)
    return match[1] if match else name


def _new_names(analysis: AnalysisView, app: str, segments: Sequence[_Segment]) -> dict[str, str]:
    """Number the moving migrations after the first segment's `onto`, keeping name suffixes."""
    number = parse_number(segments[0].onto)
    if number is None:
        raise MigmergeError(
            f"{app}: {segments[0].onto} has no number to count on from",
            hint="use --keep-names, or --strategy merge",
        )
    renames: dict[str, str] = {}
    for name in (n for seg in segments for n in seg.names):
        number += 1
        new = f"{number:04d}_{_suffix(name)}"
        if new != name:
            renames[name] = new
    _refuse_taken(analysis, app, renames)
    return renames


def _refuse_taken(analysis: AnalysisView, app: str, renames: Mapping[str, str]) -> None:
    """Refuse new names that another migration of the app already has."""
    existing = {name for a, name in analysis.migrations if a == app} - set(renames)
    taken = sorted(set(renames.values()) & existing)
    if taken:
        raise MigmergeError(
            f"{app}: cannot renumber: {', '.join(taken)} already exist",
            hint=f"migmerge resolve --app {app} --strategy merge",
        )


def _head_dependency(analysis: AnalysisView, app: str, seg: _Segment) -> str:
    """The one same-app dependency of a segment's first migration (the ancestor)."""
    head = analysis.migrations[(app, seg.names[0])]
    deps = [n for a, n in head.dependencies if a == app and n not in seg.names]
    if len(deps) != 1 or head.dynamic:
        # A refusal (exit 1), not bad input: the file is fine, migmerge cannot edit it safely.
        why = (
            "its dependencies are computed"
            if head.dynamic
            else f"found {', '.join(deps) or 'none'}"
        )
        raise Refused(
            f"{head.path}: cannot tell which dependency to move onto {seg.onto} ({why})",
            hint=f"edit its dependencies by hand, or migmerge resolve --app {app} --strategy merge",
        )
    return deps[0]


# Applied and shared migrations -------------------------------------------------


@dataclass(frozen=True)
class _Fix:
    """What a renumber of applied migrations adds around the file changes."""

    before: tuple[Action, ...] = ()
    record_app: str | None = None
    warnings: tuple[str, ...] = ()
    last: tuple[Action, ...] = ()

    def after(self, renames: Mapping[str, str]) -> list[Action]:
        """The steps that follow the file changes (rows renamed, or the migrate forward)."""
        if self.record_app is None or not renames:
            return list(self.last)
        why = "rename the applied migrations' rows so the database matches the new names"
        return [Action("record", why, app=self.record_app, renames=tuple(renames.items()))]


def _applied_or_shared(
    analysis: AnalysisView,
    app: str,
    segments: Sequence[_Segment],
    options: _Options,
) -> _Fix:
    """Ask the renumber rule (core.strategy) and add what the database needs around the files."""
    moving = {name for seg in segments for name in seg.names}
    leaves = [leaf for leaf in _app_leaves(analysis, app) if moving & set(leaf.branch)]
    facts = _facts(analysis, app, segments)
    rule = rules.renumber_rule(
        app,
        leaves,
        force=options.force,
        applied=options.applied,
        keep_names=options.keep_names,
        facts=facts,
    )
    database = rule.database
    if database == "ask":
        database = _ask_applied(app, leaves, rule, facts, options)
    fix = _Fix(warnings=rule.warnings)
    if database == "record" and not options.keep_names:  # keep-names: no row changes
        fix = _record_fix(analysis, app, fix, options.force)
    elif database == "rollback":
        ancestor = _head_dependency(analysis, app, segments[0])
        fix = _rollback_fix(analysis, app, ancestor, fix, options.force)
    return fix


def _app_leaves(analysis: AnalysisView, app: str) -> tuple[Leaf, ...]:
    """The conflict leaves of `app` in the analysis (none when it has no conflict)."""
    for conflict in analysis.result.conflicts:
        if conflict.app == app:
            return conflict.leaves
    return ()


def _facts(analysis: AnalysisView, app: str, segments: Sequence[_Segment]) -> rules.Facts:
    """What the rule needs beyond the leaves: the applied state's story, the ways out."""
    project = analysis.project_for(analysis.apps[app].directory)
    applied = project.applied or frozenset()
    pairs = [(seg.names, seg.onto) for seg in segments]
    return rules.Facts(
        why_unknown=project.applied_why,
        how_to_see=project.applied_hint,
        record_gaps=rules.record_gaps(pairs, applied, app) if project.applied is not None else (),
        can_rollback=bool(project.manage),
    )


def _ask_applied(
    app: str, leaves: Sequence[Leaf], rule: rules.Renumbering, facts: rules.Facts, options: _Options
) -> str:
    """Let a person choose what happens to the database; refuse when nobody can be asked.

    The first choice loses nothing; the one that drops data says what it drops.
    """
    applied = ", ".join(leaf.name for leaf in leaves if leaf.applied)
    message = (
        f"{app}: {applied} is applied in your database; renumbering it would leave "
        "django_migrations out of step with the files. What should happen?"
    )
    record = "rename its rows in django_migrations (after a backup; loses nothing)"
    if options.keep_names:
        record = "keep django_migrations as it is: the history stays consistent (loses nothing)"
    choices = []
    if not facts.record_gaps:
        choices.append(("record", record))
    if facts.can_rollback:
        dropped = rules.drops([leaf for leaf in leaves if leaf.applied])
        choices.append(("rollback", f"roll it back first (after a backup), then migrate again: "
                                    f"drops {dropped}"))  # fmt: skip
    choices.append(("cancel", "cancel: change nothing (migmerge resolve --strategy merge "
                              "joins the branches without renaming)"))  # fmt: skip
    assert rule.refusal is not None
    if options.questioner is None:
        raise rule.refusal
    try:
        answer = options.questioner.choose(message, choices, default=choices[0][0])
    except Refused as exc:
        raise rule.refusal from exc
    if answer == "cancel":
        raise Refused(f"{app}: renumber cancelled; nothing changed", hint=rule.refusal.hint)
    return answer


def _record_fix(analysis: AnalysisView, app: str, fix: _Fix, force: bool) -> _Fix:
    """Back up, then rename the rows after the files (every new dependency is applied)."""
    return replace(fix, before=(backup_action(analysis.backups, optional=force),), record_app=app)


def _rollback_fix(analysis: AnalysisView, app: str, ancestor: str, fix: _Fix, force: bool) -> _Fix:
    """Back up and unapply the app back to the ancestor first; migrate forward at the end."""
    why = (
        f"unapply {app} back to {ancestor} before the renames (migrate {app} {ancestor} "
        "through Django's executor: migrate itself refuses while the app has two leaves)"
    )
    run = unapply_actions(analysis, app, ancestor, why=why)
    project = analysis.project_for(analysis.apps[app].directory)
    forward = Action(
        "run",
        "apply the renumbered migrations",
        command=project.command("migrate"),
        cwd=run[0].cwd,
        touches_database=True,
    )
    backup = backup_action(analysis.backups, optional=force)
    return replace(fix, before=(backup, *run), last=(forward,))

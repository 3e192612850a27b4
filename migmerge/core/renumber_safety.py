"""The renumber rule, stated once: may these migrations be renamed, or their dependencies edited?

A shared migration may be applied in someone's database; an applied one (or
one whose state cannot be read: unknown is never "not applied") is in this
one. Pure: the leaves and what the planner read in, a `Renumbering` (what
happens to the database, what to warn about) or a refusal out. The renumber
planner, the kmigrator plans and `strategy.decide` ask here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from migmerge.core.model import Leaf, may_run
from migmerge.errors import Refused

APPLIED_CHOICES = ("rollback", "record", "refuse")


class Facts(NamedTuple):
    """What the planner read beyond the leaves, for the rule and its words."""

    why_unknown: str = ""  # why the applied state cannot be read
    how_to_see: str = ""  # how to let migmerge read it
    # (migration, the new dependency it would have) where that dependency is not applied:
    # recording the renames would leave a history Django refuses.
    record_gaps: tuple[tuple[str, str], ...] = ()
    can_rollback: bool = True  # the project's manage.py can unapply


NO_FACTS = Facts()


class Renumbering(NamedTuple):
    """How a renumber may go ahead: what happens to the database, and what to warn about.

    `database`: "untouched" (nothing applied, or --force), "rollback" or "record"
    (what --applied chose), or "ask": a person at a terminal chooses, and
    `refusal` is what to raise when nobody can be asked.
    """

    database: str
    warnings: tuple[str, ...] = ()
    refusal: Refused | None = None


SEE_DATABASE = (
    "pass --settings (or set DJANGO_SETTINGS_MODULE) to the settings the project runs with, "
    "or set [tool.migmerge] settings, database or python"
)


def renumber_rule(
    app: str,
    leaves: Sequence[Leaf],
    *,
    force: bool,
    applied: str | None = None,
    keep_names: bool = False,
    facts: Facts = NO_FACTS,
) -> Renumbering:
    """Decide whether the local `leaves` may be renumbered (or rewired), or refuse and say why.

    `applied`: the --applied flag (None: ask a person, refuse without one).
    """
    verb = "edit the dependencies of" if keep_names else "renumber"
    unknown = [leaf.name for leaf in leaves if leaf.applied is None]
    done = [leaf.name for leaf in leaves if leaf.applied is True]
    warnings = list(shared_rule(app, leaves, force=force, verb=verb))
    if unknown:
        if not force:
            raise _unknown_refusal(app, verb, unknown, facts)
        warnings.append(
            f"whether {', '.join(unknown)} of {app} is applied cannot be read "
            f"({facts.why_unknown or 'no database'}): changed anyway (--force); if it is "
            "applied, migrate --fake the new names or roll back first"
        )
    if not done:
        return Renumbering("untouched", tuple(warnings))
    if applied == "rollback":
        return Renumbering("rollback", tuple(warnings))
    if applied == "record":
        if facts.record_gaps:
            raise _gap_refusal(app, verb, keep_names, facts)
        return Renumbering("record", tuple(warnings))
    if force:
        return Renumbering("untouched", (*warnings, _forced_warning(app, done, keep_names)))
    refusal = _applied_refusal(app, verb, done, keep_names, facts)
    if applied == "refuse":
        raise refusal
    return Renumbering("ask", tuple(warnings), refusal)


def shared_rule(app: str, leaves: Sequence[Leaf], *, force: bool, verb: str) -> tuple[str, ...]:
    """Refuse to rename (or rewire) shared leaves without --force; with it, the warning."""
    shared = [leaf.name for leaf in leaves if leaf.shared]
    if not shared:
        return ()
    if not force:
        raise Refused(
            f"{app}: refusing to {verb} {', '.join(shared)}: it is shared (pushed or on the "
            "default branch), so someone may have applied it under its current name",
            hint=f"migmerge resolve --app {app} --strategy merge "
            "(or --force if nobody has applied it)",
        )
    return (f"{', '.join(shared)} of {app} is shared: changed anyway (--force)",)


def _unknown_refusal(app: str, verb: str, names: Sequence[str], facts: Facts) -> Refused:
    see = facts.how_to_see or SEE_DATABASE
    return Refused(
        f"{app}: refusing to {verb} {', '.join(names)}: whether it is applied cannot be read "
        f"({facts.why_unknown or 'no database found'}), so migmerge takes it as possibly applied",
        hint=f"{see}; or migmerge resolve --app {app} --strategy merge (changes no migration); "
        "or add --force if it is not applied",
    )


def _applied_refusal(
    app: str, verb: str, names: Sequence[str], keep_names: bool, facts: Facts
) -> Refused:
    if keep_names:
        then = "with its dependencies edited, Django would find the history inconsistent"
    else:
        then = "renamed, Django would take it for a new migration and apply it again"
    return Refused(
        f"{app}: refusing to {verb} {', '.join(names)}: it is applied in your database; {then}",
        hint="; or ".join(applied_ways(app, keep_names, facts)),
    )


def _gap_refusal(app: str, verb: str, keep_names: bool, facts: Facts) -> Refused:
    gaps = ", ".join(f"{name} would depend on {dep}" for name, dep in facts.record_gaps)
    deps = ", ".join(dict.fromkeys(dep for _, dep in facts.record_gaps))
    ways = [w for w in applied_ways(app, keep_names, facts) if "--applied record" not in w]
    return Refused(
        f"{app}: refusing to record the changes in django_migrations: {gaps}, which is not "
        f"applied, and Django refuses an applied migration whose dependency is not "
        f"(InconsistentMigrationHistory); {deps} cannot be applied first while the app has "
        "two leaves",
        hint="; or ".join(ways),
    )


def applied_ways(app: str, keep_names: bool, facts: Facts) -> list[str]:
    """The commands that renumber applied migrations, or avoid it, and would not be refused."""
    again = f"migmerge resolve --app {app} --strategy renumber" + (
        " --keep-names" if keep_names else ""
    )
    ways = []
    if not facts.record_gaps:
        ways.append(f"{again} --applied record (after a backup, the rows follow the files)")
    if facts.can_rollback:
        ways.append(f"{again} --applied rollback (after a backup, unapplies them first)")
    ways.append(f"migmerge resolve --app {app} --strategy merge (changes no migration)")
    return ways


def _forced_warning(app: str, applied: Sequence[str], keep_names: bool) -> str:
    """Say what --force leaves behind for applied migrations."""
    if keep_names:
        return (
            f"{', '.join(applied)} of {app} is applied in your database: with its dependencies "
            "edited, Django may report an inconsistent history (roll back first, or migrate "
            "the upstream migrations with --fake if they are applied)"
        )
    return (
        f"{', '.join(applied)} of {app} is applied in your database under its old name: "
        "Django will see the renumbered migrations as not applied (migrate --fake them, "
        "or roll back first)"
    )


def record_gaps(
    segments: Sequence[tuple[Sequence[str], str]], applied: frozenset[tuple[str, str]], app: str
) -> tuple[tuple[str, str], ...]:
    """The (migration, new dependency) pairs recording would break: applied on an unapplied one.

    `segments`: each run of migrations that moves, in order, and the migration its
    first one will depend on.
    """
    gaps = []
    for names, onto in segments:
        if any((app, name) in applied for name in names) and (app, onto) not in applied:
            gaps.append((names[0], onto))
    return tuple(gaps)


def drops(leaves: Sequence[Leaf]) -> str:
    """Say what unapplying the leaves' branches drops, in words."""
    things = []
    operations = [op for leaf in leaves for op in may_run(leaf.operations)]
    created = {op.model for op in operations if op.op == "CreateModel"}
    for op in operations:
        if op.op == "CreateModel" and op.model:
            things.append(f"the {op.model} table and its rows")
        elif op.op == "AddField" and op.model not in created:
            things.append(f"the {op.model}.{op.field} column and its values")
    if not things:
        return f"what {', '.join(leaf.branch[-1] for leaf in leaves)} changed"
    return ", ".join(dict.fromkeys(things))

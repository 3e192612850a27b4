"""Rolling doctor's ghosts back: which can go, in which order, and the steps that do it.

A ghost is a migration the database has applied whose file this checkout
does not have. Rolled back newest first with its file from git: written in
place, unapplied (exactly the ghosts: Django's executor is given the list),
removed again with the bytecode Python writes for it. A ghost stays when its
file depends on one that is neither here nor a ghost rolled back with it,
or when a ghost or an applied migration of this checkout depending on it
stays; each stays with the reason. A ghost's `run_before` counts as the
dependencies it names would: a migration it must run before depends on it.
Pure, like the rest of the doctor plan (core/plans/doctor.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from migmerge.core.doctor import Finding
from migmerge.core.model import Key
from migmerge.core.plan import Action

if TYPE_CHECKING:
    from migmerge.core.plans.doctor import Facts

# (keys newest first, why) -> the steps unapplying exactly those migrations, or why not.
Unapply = Callable[[Sequence[Key], str], "Sequence[Action] | str"]


class GhostFile(NamedTuple):
    """A ghost migration's file as git has it, and what rolling it back undoes."""

    key: Key
    path: str  # where it is written back for the rollback
    content: bytes
    commit: str
    dependencies: tuple[Key, ...]
    drops: tuple[str, ...] = ()  # the data its rollback drops, in words (row counts)
    undoes: tuple[str, ...] = ()  # its other operations, in words
    caches: tuple[str, ...] = ()  # bytecode files Python may write for it, removed after
    problem: str | None = None  # why it cannot be rolled back (the file does not read)
    run_before: tuple[Key, ...] = ()  # the migrations its file says depend on it


class Left(NamedTuple):
    """A finding the plan does not fix, and why."""

    finding: Finding
    why: str


def ghosts_to_roll_back(
    wanted: Mapping[Key, Finding], facts: Facts, declined: frozenset[Key], left: list[Left]
) -> list[GhostFile]:
    """The ghosts to roll back; the others are left, with why."""
    reasons: dict[Key, str] = {}
    for key in wanted:
        ghost = facts.ghosts.get(key)
        if ghost is None:
            reasons[key] = "git has no readable copy of its file"
        elif ghost.problem:
            reasons[key] = ghost.problem
        elif key in declined:
            reasons[key] = "its rollback was declined"
    _close(wanted, facts, reasons)
    left += [Left(wanted[key], why) for key, why in reasons.items()]
    return [facts.ghosts[key] for key in _newest_first(wanted, facts) if key not in reasons]


def _close(wanted: Mapping[Key, Finding], facts: Facts, reasons: dict[Key, str]) -> None:
    """Leave a ghost whose dependency cannot be loaded, or that a ghost which stays needs."""
    changed = True
    while changed:
        changed = False
        for key in wanted:
            if key in reasons:
                continue
            why = _blocked(key, wanted, facts, reasons)
            if why:
                reasons[key] = why
                changed = True


def _blocked(
    key: Key, wanted: Mapping[Key, Finding], facts: Facts, reasons: Mapping[Key, str]
) -> str | None:
    ghost = facts.ghosts[key]
    ours = {app for app, _ in facts.parents} | {app for app, _ in wanted}
    for dep in ghost.dependencies:
        if dep[0] not in ours or dep[1] == "__first__" or dep in facts.parents:
            continue
        if dep not in wanted:
            return f"it depends on {dep[0]}.{dep[1]}, which is neither here nor a ghost"
        if dep in reasons:
            return f"it depends on the ghost {dep[0]}.{dep[1]}, which cannot be rolled back"
    for later in ghost.run_before:
        if later[0] in ours and later not in facts.parents and later not in wanted:
            # Django cannot load its file: run_before names a migration it does not have.
            return (
                f"it must run before {later[0]}.{later[1]} (its run_before), which is neither "
                "here nor a ghost"
            )
    for other in _dependents(key, wanted, facts):
        if other in reasons:
            return f"the ghost {other[0]}.{other[1]} depends on it and stays applied"
    for mine, parents in facts.parents.items():
        if key in parents and mine in facts.applied:
            return f"{mine[0]}.{mine[1]} of this checkout depends on it and is applied"
    for later in ghost.run_before:
        if later in facts.parents and later in facts.applied:
            return (
                f"{later[0]}.{later[1]} of this checkout must run after it (the ghost's "
                "run_before) and is applied"
            )
    return None


def _dependents(key: Key, wanted: Mapping[Key, Finding], facts: Facts) -> list[Key]:
    """The other ghosts depending on `key`: by their dependencies or by its run_before."""
    ghost = facts.ghosts.get(key)
    after = set(ghost.run_before) if ghost else set()
    return [
        other
        for other in wanted
        if other != key
        and (other in after or key in getattr(facts.ghosts.get(other), "dependencies", ()))
    ]


def _newest_first(wanted: Mapping[Key, Finding], facts: Facts) -> list[Key]:
    """The ghosts in the order they are unapplied: each before the ghosts it depends on."""
    order: list[Key] = []
    seen: set[Key] = set()

    def visit(key: Key) -> None:
        if key in seen:
            return
        seen.add(key)
        for dep in _before(key, wanted, facts):
            visit(dep)
        order.append(key)

    for key in sorted(wanted):
        visit(key)
    return list(reversed(order))


def _before(key: Key, wanted: Mapping[Key, Finding], facts: Facts) -> list[Key]:
    """The ghosts `key` depends on: its dependencies, and those whose run_before names it."""
    ghost = facts.ghosts.get(key)
    mine = [dep for dep in ghost.dependencies if dep in wanted] if ghost else []
    by_run_before = sorted(
        other for other in wanted if key in getattr(facts.ghosts.get(other), "run_before", ())
    )
    return [*mine, *by_run_before]


def rollback_steps(
    ghosts: Sequence[GhostFile],
    wanted: Mapping[Key, Finding],
    unapply: Unapply,
    left: list[Left],
) -> list[Action]:
    """Write the ghosts' files back, unapply exactly them, remove the files again."""
    if not ghosts:
        return []
    found = unapply([g.key for g in ghosts], _unapply_why(ghosts))
    if isinstance(found, str):
        left += [Left(wanted[g.key], found) for g in ghosts]
        return []
    writes = [Action("write", _write_why(g), path=g.path, content=g.content) for g in ghosts]
    removals = [
        Action("delete", why, path=path)
        for g in ghosts
        for path, why in ((g.path, _REMOVE_WHY), *((c, _CACHE_WHY) for c in g.caches))
    ]
    return [*writes, *found, *removals]


def _write_why(ghost: GhostFile) -> str:
    app, name = ghost.key
    return f"put {app}.{name} back from commit {ghost.commit[:12]} for its rollback"


_REMOVE_WHY = "the ghost's file was only needed for its rollback: nothing of its branch stays"
_CACHE_WHY = "the bytecode Python wrote for the ghost's file goes with it"


def _unapply_why(ghosts: Sequence[GhostFile]) -> str:
    names = ", ".join(f"{app}.{name}" for app, name in (g.key for g in ghosts))
    what = [f"drops {d}" for g in ghosts for d in g.drops]
    what += [f"undoes {u}" for g in ghosts for u in g.undoes]
    effect = f": {'; '.join(what)}" if what else ""
    plural = "s" if len(ghosts) > 1 else ""
    return (
        f"roll back exactly the ghost{plural} {names}{', newest first' if plural else ''} "
        f"(no migration of this checkout is unapplied){effect}"
    )


def rolled_back(ghosts: Sequence[GhostFile], left: Sequence[Left]) -> set[Key]:
    stay = {(item.finding.app, item.finding.migration) for item in left}
    return {g.key for g in ghosts if g.key not in stay}

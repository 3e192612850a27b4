"""The plan of `doctor --fix`: what is safe to do about doctor's findings, as data.

Pure: the findings, which rows the database records, the checkout's graph
and the ghosts' files as git has them, in; a Plan (backup, row renames, fakes,
the ghosts' rollback) and the findings it leaves, each with the reason, out.

- A renamed migration's row is renamed when the history stays consistent:
  every migration the new name depends on is applied (or renamed here too).
- An unapplied migration whose effect the schema proves is faked with
  `migrate --fake APP NAME` for exactly that migration, and only when every
  unapplied migration it depends on is faked before it (`migrate --fake`
  records those too): never a blanket `--fake`.
- Ghosts (core/plans/doctor_ghosts.py) are rolled back newest first with
  their files from git: written in place, unapplied, removed again (with the
  bytecode Python writes for them).
  Exactly the ghosts are unapplied (Django's executor given the list), so a
  ghost beside an applied migration of this checkout leaves that one applied.
  A ghost is left when its file depends on one that is neither here nor a
  ghost rolled back with it, or when a ghost or an applied migration of this
  checkout depending on it stays.
- A row whose file exists nowhere (not here, not in any commit), or whose
  migration was renamed and is recorded under its new name too, is deleted,
  exactly that row, unless a migration depends on it; `doctor --fix` asks
  about each with no as the default.
- Drift, model changes and forks have no automatic fix: they are left, with
  the choices the finding names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from migmerge.core.doctor import Finding
from migmerge.core.model import Key
from migmerge.core.plan import Action, Plan
from migmerge.core.plans.doctor_ghosts import (
    GhostFile,
    Left,
    Unapply,
    ghosts_to_roll_back,
    rollback_steps,
    rolled_back,
)

# (app, name, why) -> the step running `migrate --fake APP NAME`, or why there is none.
Fake = Callable[[str, str, str], "Action | str"]


class Fixes(NamedTuple):
    """The plan of `doctor --fix`, what it fixes and what it leaves."""

    plan: Plan
    fixed: tuple[Finding, ...]
    left: tuple[Left, ...]
    # Ghosts whose rollback drops data: asked one by one, never yes by default.
    dropping: tuple[GhostFile, ...] = ()
    # Stale rows the plan deletes (no file anywhere, or recorded under a new name too):
    # asked one by one, never yes by default.
    forgetting: tuple[Finding, ...] = ()


class Facts(NamedTuple):
    """What the planner reads besides the findings."""

    applied: frozenset[Key]  # every row of django_migrations
    parents: Mapping[Key, Iterable[Key]]  # the checkout's graph: migration -> its dependencies
    ghosts: Mapping[Key, GhostFile]  # the ghosts' files, where git has them
    forked: tuple[str, ...] = ()  # apps with several leaves (Django's migrate refuses)


def plan_fix(
    findings: Sequence[Finding],
    facts: Facts,
    *,
    backup: Action,
    fake: Fake,
    unapply: Unapply,
    declined: frozenset[Key] = frozenset(),
) -> Fixes:
    """Plan what doctor --fix does about `findings`; `declined`: ghosts and rows to leave."""
    left: list[Left] = []
    renames, applied = _renames(findings, facts, left)
    stale = _stale(findings, facts, declined, left)
    fakes = _fakes(findings, facts, applied, renames, left)
    faked = _fake_steps(fakes, findings, fake, left)
    wanted = {_key(f): f for f in findings if f.action == "rollback"}
    ghosts = ghosts_to_roll_back(wanted, facts, declined, left)
    rollback = rollback_steps(ghosts, wanted, unapply, left)
    rolled = [g for g in ghosts if g.key in rolled_back(ghosts, left)]
    fixed_keys = set(renames) | {_key(f) for f in stale} | set(faked) | {g.key for g in rolled}
    fixed = tuple(
        f for f in findings if (f.action and _key(f) in fixed_keys) or _renamed_target(f, renames)
    )
    left += [Left(f, _why_none(f, rolled)) for f in findings if f.action is None]
    order = {id(f): i for i, f in enumerate(findings)}
    left.sort(key=lambda item: order.get(id(item.finding), len(order)))
    actions = (*_record(renames), *_delete(stale), *faked.values(), *rollback)
    plan = Plan("doctor", _apps(fixed), (backup, *actions) if actions else ())
    dropping = tuple(g for g in rolled if g.drops)
    return Fixes(plan, fixed, tuple(left), dropping, tuple(stale))


def _key(finding: Finding) -> Key:
    return (finding.app, finding.migration or "")


def _apps(findings: Iterable[Finding]) -> str:
    return ", ".join(dict.fromkeys(f.app for f in findings))


def _why_none(finding: Finding, ghosts: Iterable[GhostFile]) -> str:
    if finding.kind == "already-exists":
        return "only part of it is in the database: no step can be proven safe"
    why = finding.fix or "nothing migmerge can do"
    why = why if why.startswith("no automatic fix") else f"no automatic fix: {why}"
    if finding.kind == "drift" and any(g.key[0] == finding.app for g in ghosts):
        why += " (checked again after the fix: rolling the ghosts back may undo it)"
    return why


# Renamed rows ------------------------------------------------------------------


def _renames(
    findings: Sequence[Finding], facts: Facts, left: list[Left]
) -> tuple[dict[Key, str], frozenset[Key]]:
    """Old key -> new name for the rows to rename, and the applied set after them."""
    wanted = {_key(f): f for f in findings if f.action == "rename-row" and f.target}
    while True:
        applied = _after_renames(facts.applied, wanted)
        blocked = {
            key: missing
            for key, finding in wanted.items()
            if (missing := _unapplied_ancestors((key[0], finding.target or ""), facts, applied))
        }
        if not blocked:
            return {key: f.target or "" for key, f in wanted.items()}, applied
        for key, missing in blocked.items():
            finding = wanted.pop(key)
            left.append(Left(finding, _inconsistent(finding.target or "", missing)))


def _inconsistent(new: str, missing: Sequence[Key]) -> str:
    names = ", ".join(f"{a}.{n}" for a, n in missing)
    return (
        f"recording {new} as applied while {names} is not would make the history "
        "inconsistent (Django refuses it): apply that first, then migmerge doctor --fix again"
    )


def _after_renames(applied: frozenset[Key], renames: Mapping[Key, Finding]) -> frozenset[Key]:
    new = {(app, f.target) for (app, _), f in renames.items() if f.target}
    return (applied - set(renames)) | new


def _unapplied_ancestors(key: Key, facts: Facts, applied: frozenset[Key]) -> list[Key]:
    """The migrations of this checkout `key` depends on (transitively) that are not applied."""
    return sorted(k for k in _ancestors(key, facts.parents) if k not in applied and k != key)


def _ancestors(key: Key, parents: Mapping[Key, Iterable[Key]]) -> set[Key]:
    seen = {key}
    stack = [key]
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in seen and parent in parents:
                seen.add(parent)
                stack.append(parent)
    return seen


def _record(renames: Mapping[Key, str]) -> list[Action]:
    by_app: dict[str, list[tuple[str, str]]] = {}
    for (app, old), new in sorted(renames.items()):
        by_app.setdefault(app, []).append((old, new))
    return [Action("record", _RECORD_WHY[len(pairs) > 1], app=app, renames=tuple(pairs))
            for app, pairs in by_app.items()]  # fmt: skip


_RECORD_WHY = (
    "it ran under its old name and was renamed since: record it under the name its file has",
    "they ran under their old names and were renamed since: record them under the names "
    "their files have",
)


def _renamed_target(finding: Finding, renames: Mapping[Key, str]) -> bool:
    """An already-exists finding about a migration whose old row is being renamed to it."""
    return finding.kind == "already-exists" and (
        (finding.app, finding.migration) in {(a, n) for (a, _), n in renames.items()}
    )


# Stale rows --------------------------------------------------------------------


def _stale(
    findings: Sequence[Finding], facts: Facts, declined: frozenset[Key], left: list[Left]
) -> list[Finding]:
    """The stale rows to delete; the declined and the depended on stay."""
    out = []
    for finding in findings:
        if finding.action != "delete-row":
            continue
        why = _keep_row(_key(finding), facts, declined)
        if why:
            left.append(Left(finding, why))
        else:
            out.append(finding)
    return out


def _keep_row(key: Key, facts: Facts, declined: frozenset[Key]) -> str | None:
    if key in declined:
        return "the deletion of its row was declined"
    needs = [k for k, parents in facts.parents.items() if key in parents]
    needs += [g.key for g in facts.ghosts.values() if key in g.dependencies]
    if needs:
        names = ", ".join(f"{a}.{n}" for a, n in sorted(needs))
        return f"{names} depends on it: its row stays"
    return None


def _delete(stale: Sequence[Finding]) -> list[Action]:
    """A step per app for the rows of no file; one per row recorded under a new name too."""
    by_app: dict[str, list[str]] = {}
    twice: list[Action] = []
    for finding in stale:
        name = finding.migration or ""
        if finding.target:
            why = _TWICE_WHY.format(new=finding.target)
            twice.append(Action("record", why, app=finding.app, deletes=(name,)))
        else:
            by_app.setdefault(finding.app, []).append(name)
    nowhere = [Action("record", _DELETE_WHY[len(names) > 1], app=app, deletes=tuple(names))
               for app, names in by_app.items()]  # fmt: skip
    return [*nowhere, *twice]


_DELETE_WHY = (
    "no file of it exists anywhere (not in this checkout, not in any commit): the row is "
    "stale; whatever it changed in the schema stays, and the backup keeps the row",
    "no file of them exists anywhere (not in this checkout, not in any commit): the rows are "
    "stale; whatever they changed in the schema stays, and the backup keeps the rows",
)
_TWICE_WHY = (
    "it was renamed to {new}, which is recorded as applied too: the row under the old name "
    "is stale (rolling it back would undo what {new} did); the schema stays as it is, and "
    "the backup keeps the row"
)


# Fakes -------------------------------------------------------------------------

_FAKE_WHY = "record it as applied without running it: everything it creates is there"


def _fakes(
    findings: Sequence[Finding],
    facts: Facts,
    applied: frozenset[Key],
    renamed: Mapping[Key, str],
    left: list[Left],
) -> list[tuple[Key, str]]:
    """The migrations to fake, in the order migrate would run them, with why."""
    targets = {(app, new) for (app, _), new in renamed.items()}
    done = set(applied)
    out: list[tuple[Key, str]] = []
    for finding in findings:
        if finding.action != "fake" or _key(finding) in targets:
            continue
        key = _key(finding)
        reason = _why_not_fake(key, facts, done)
        if reason:
            left.append(Left(finding, reason))
            continue
        done.add(key)
        out.append((key, f"{_FAKE_WHY}: {', '.join(finding.evidence[1:])}"))
    return out


def _fake_steps(
    fakes: Sequence[tuple[Key, str]], findings: Sequence[Finding], fake: Fake, left: list[Left]
) -> dict[Key, Action]:
    steps: dict[Key, Action] = {}
    for key, why in fakes:
        step = fake(key[0], key[1], why)
        if isinstance(step, str):
            left += [Left(f, step) for f in findings if f.action == "fake" and _key(f) == key]
        else:
            steps[key] = step
    return steps


def _why_not_fake(key: Key, facts: Facts, done: set[Key]) -> str | None:
    if facts.forked:
        return (
            f"Django's migrate refuses while {', '.join(facts.forked)} has several leaves: "
            "migmerge resolve first, then migmerge doctor --fix again"
        )
    missing = _unapplied_ancestors(key, facts, frozenset(done))
    if missing:
        names = ", ".join(f"{a}.{n}" for a, n in missing)
        return (
            f"it depends on {names}, which is not applied and not proven to be in the database: "
            "`migrate --fake` would record that too"
        )
    return None

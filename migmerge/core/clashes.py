"""Clashes no graph shows, across apps.

Pure: migrations in, findings out. One side deletes or renames a model,
removes or renames a field, or deletes or renames a migration, that the other
side's migration in another app uses (a relation's `to=`/`through=`/
`to_field=`, a base, a RunPython `get_model`, a dependency). Every app keeps
a single leaf, so Django's graph calls the merge clean, and `migrate` fails.
The other clash no graph shows, one thing added twice in a straight line of
one app's migrations, is found in core/duplicates.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from migmerge.core.model import Conflict, Key, Leaf, Migration, Operation, Overlap, Side

# A thing one side can take away: ("model", app, model) or ("field", app, model, field).
Thing = tuple[str, ...]


class SideChange(NamedTuple):
    """What one side of a merge did to the migrations since the merge base."""

    side: Side
    # Added or edited migrations, operations read.
    migrations: tuple[Migration, ...]
    # Migrations it deleted: key -> the name it renamed the file to (same app), or None.
    gone: Mapping[Key, str | None] = {}


class CrossApp(NamedTuple):
    """One side takes away what the other side's migration in another app uses."""

    user: Migration  # the migration that uses it
    user_side: Side
    uses: tuple[Operation, ...]  # the operations that use it (none: a dependency)
    taker: Key  # the migration that takes it away (or the migration deleted)
    taker_path: str | None
    taker_side: Side
    takes: tuple[Operation, ...]  # the operations that take it away (none: a deleted file)
    reasons: tuple[str, ...]


def cross_app(
    a: SideChange, b: SideChange, ordered: Callable[[Key, Key], bool] = lambda x, y: False
) -> list[CrossApp]:
    """Find what each side takes away that the other side's migrations in other apps use.

    `ordered(x, y)`: whether one of the two migrations descends from the
    other in the merged graph; such a pair runs in a known order, which the
    person who ordered them chose: it is not reported.
    """
    found = _takes_used(a, b, ordered) + _takes_used(b, a, ordered)
    return found + _gone_used(a, b) + _gone_used(b, a)


def _takes_used(
    taker: SideChange, user: SideChange, ordered: Callable[[Key, Key], bool]
) -> list[CrossApp]:
    """What `taker` deletes or renames that `user`'s migrations in other apps use."""
    taken = taken_things(taker.migrations)
    if not taken:
        return []
    out = []
    for migration in user.migrations:
        hits: dict[Key, list[tuple[Operation, Operation, str]]] = {}
        for op, thing, how in _uses(migration):
            if thing[1] == migration.app:
                continue  # the same app: two leaves there, classified as such
            for key, take in taken.get(thing, ()):
                hits.setdefault(key, []).append((op, take, _reason(migration, op, how, take)))
        for key, found in hits.items():
            if not ordered(migration.key, key):
                out.append(_finding(migration, user.side, key, taker, found))
    return out


def _finding(
    user: Migration,
    user_side: Side,
    key: Key,
    taker: SideChange,
    found: list[tuple[Operation, Operation, str]],
) -> CrossApp:
    path = next((m.path for m in taker.migrations if m.key == key), None)
    return CrossApp(
        user,
        user_side,
        tuple(dict.fromkeys(op for op, _, _ in found)),
        key,
        path,
        taker.side,
        tuple(dict.fromkeys(take for _, take, _ in found)),
        tuple(dict.fromkeys(reason for _, _, reason in found)),
    )


def taken_things(migrations: Sequence[Migration]) -> dict[Thing, list[tuple[Key, Operation]]]:
    """Map each model or field the migrations leave gone to the operations that took it."""
    taken: dict[Thing, list[tuple[Key, Operation]]] = {}
    for migration in migrations:
        for op in _flat(migration.operations or ()):
            app = migration.app
            if op.op == "CreateModel" and op.model:
                taken.pop(("model", app, op.model), None)  # made again: not gone
            elif op.op == "AddField" and op.model and op.field:
                taken.pop(("field", app, op.model, op.field), None)
            thing = _taken(app, op)
            if thing is not None:
                taken.setdefault(thing, []).append((migration.key, op))
    return taken


def _taken(app: str, op: Operation) -> Thing | None:
    if op.op in ("DeleteModel", "RenameModel") and op.model:
        return ("model", app, op.model)
    if op.op in ("RemoveField", "RenameField") and op.model and op.field:
        return ("field", app, op.model, op.field)
    return None


def _uses(migration: Migration) -> Iterator[tuple[Operation, Thing, str]]:
    """Yield (operation, thing, how) for each model or field of any app it uses."""
    for op in _flat(migration.operations or ()):
        for ref in op.references:
            app, _, model = ref.partition(".")
            yield op, ("model", app, model), "points a relation at"
        for ref in op.field_refs:
            app, model, field = _split_field(ref)
            yield op, ("field", app, model, field), "points a relation at"
            yield op, ("model", app, model), "points a relation at"
        for ref in op.reaches:
            if "." not in ref:
                continue  # a model of its own app
            app, _, model = ref.partition(".")
            yield op, ("model", app, model), "reaches with get_model"
            for name in op.mentions:
                yield op, ("field", app, model, name), "reaches with get_model and names"


def _split_field(ref: str) -> tuple[str, str, str]:
    app, _, rest = ref.partition(".")
    model, _, field = rest.partition(".")
    return app, model, field


def _reason(user: Migration, op: Operation, how: str, take: Operation) -> str:
    """Say, in one sentence, what the user does with the thing and what the other side did."""
    what = _described(take)
    return f"{user.app}.{user.name} {_op_words(op)} {how} {what}"


def _described(take: Operation) -> str:
    """Name the thing an operation takes away, and how: "model choice, deleted by DeleteModel"."""
    if take.op == "DeleteModel":
        return f"model {take.model}, deleted by {take.op}"
    if take.op == "RenameModel":
        return f"model {take.model}, renamed to {take.new_name} by {take.op}"
    if take.op == "RemoveField":
        return f"field {take.model}.{take.field}, removed by {take.op}"
    return f"field {take.model}.{take.field}, renamed to {take.new_name} by {take.op}"


def _op_words(op: Operation) -> str:
    target = ".".join(x for x in (op.model, op.field) if x)
    return f"({op.op} {target})" if target else f"({op.op})"


def _gone_used(taker: SideChange, user: SideChange) -> list[CrossApp]:
    """Migrations of `user` depending on a migration of another app that `taker` deleted."""
    out = []
    for migration in user.migrations:
        for dep in migration.dependencies:
            if dep in taker.gone and dep[0] != migration.app:
                renamed = taker.gone[dep]
                how = f"renamed to {renamed}" if renamed else "deleted"
                reason = (
                    f"{migration.app}.{migration.name} depends on {dep[0]}.{dep[1]}, "
                    f"which the {taker.side} side {how}"
                )
                key = (dep[0], renamed) if renamed else dep
                out.append(CrossApp(migration, user.side, (), key, None, taker.side, (), (reason,)))
    return out


def _flat(ops: Iterable[Operation]) -> Iterator[Operation]:
    for op in ops:
        yield op
        yield from _flat(op.children)


def cross_app_conflict(
    clash: CrossApp, directory: str, taker_path: str, taker_ops: Sequence[Operation] = ()
) -> Conflict:
    """Render a finding as a `cross-app` conflict: the user's app, both migrations as leaves."""
    user = clash.user
    taker_app, taker_name = clash.taker
    leaves = (
        Leaf(
            user.name, user.path, clash.user_side, False, None, (user.name,), clash.uses, user.app
        ),
        Leaf(
            taker_name,
            taker_path,
            clash.taker_side,
            False,
            None,
            (taker_name,),
            tuple(taker_ops) or clash.takes,
            taker_app,
        ),
    )
    why = (
        f"no strategy can fix it: change {user.app}.{user.name} (or {taker_app}.{taker_name}) "
        "so that it no longer uses what the other side takes away"
    )
    return Conflict(
        user.app,
        directory,
        None,
        leaves,
        Overlap("field", (*clash.reasons, _must(clash))),
        None,
        why,
        "cross-app",
    )


def _must(clash: CrossApp) -> str:
    """Say what must change, for a person."""
    user = f"{clash.user.app}.{clash.user.name}"
    taker = f"{clash.taker[0]}.{clash.taker[1]}"
    if not clash.takes:
        return f"migrate would stop: point {user}'s dependency at the migration's new name"
    return (
        f"migrate would fail: make {user} stop using it (or keep it in {taker}), "
        "then make the later migration depend on the earlier one"
    )

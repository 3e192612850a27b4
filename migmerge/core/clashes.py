"""Clashes no graph shows: across apps, and twice in one straight line.

Pure: migrations in, findings out. Two kinds:

- cross-app: one side deletes or renames a model, removes or renames a
  field, or deletes or renames a migration, that the other side's migration
  in another app uses (a relation's `to=`/`through=`/`to_field=`, a base, a
  RunPython `get_model`, a dependency). Every app keeps a single leaf, so
  Django's graph calls the merge clean, and `migrate` fails;
- duplicate-operation: two migrations of one app, one descending from the
  other, that add the same field, create the same model or take the same
  index or constraint name: the graph is fine and `migrate` fails on
  "duplicate column".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
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


# ---------------------------------------------------------------------------
# The same thing done twice in a straight line


class Duplicate(NamedTuple):
    """Two migrations, one descending from the other, that add the same thing."""

    app: str
    first: Migration
    second: Migration
    op: Operation  # the second's operation
    thing: str  # in words: "field userprofile.age"


def duplicate_operations(
    app: str,
    migrations: Sequence[Migration],
    is_ancestor: Callable[[Key, Key], bool],
    new: Collection[Key],
) -> list[Duplicate]:
    """Find adds of a thing already added by an ancestor, with no removal between.

    `migrations`: some of the app's migrations (operations read), in an
    order where each comes after its ancestors; the others are assumed not
    to touch these things. Only pairs with a migration in `new` count.
    SeparateDatabaseAndState and RunSQL state operations are skipped: their
    database side may well be a no-op on purpose.
    """
    state: dict[Thing, list[Migration]] = {}
    out: list[Duplicate] = []
    for migration in migrations:
        for op in migration.operations or ():
            for thing in _adds(op):
                for earlier in state.get(thing, ()):
                    linear = is_ancestor(earlier.key, migration.key)
                    if linear and (earlier.key in new or migration.key in new):
                        out.append(Duplicate(app, earlier, migration, op, _words(thing)))
                state.setdefault(thing, []).append(migration)
            _forget(op, state)
    return out


def repeats(migrations: Iterable[Migration]) -> bool:
    """Tell whether two of the migrations add one same thing (the only way to a duplicate)."""
    seen: set[Thing] = set()
    for migration in migrations:
        mine = {thing for op in migration.operations or () for thing in _adds(op)}
        if mine & seen:
            return True
        seen |= mine
    return False


def _adds(op: Operation) -> Iterator[Thing]:
    """Yield what an operation brings into the schema."""
    if op.op == "CreateModel" and op.model:
        yield ("model", op.model)
        for field in op.fields:
            yield ("field", op.model, field)
    elif op.op == "AddField" and op.model and op.field:
        yield ("field", op.model, op.field)
    elif op.op == "RenameField" and op.model and op.new_name:
        yield ("field", op.model, op.new_name)
    elif op.op == "RenameModel" and op.new_name:
        yield ("model", op.new_name)
    if op.op in ("CreateModel", "AddIndex", "AddConstraint"):
        for name in op.names:
            yield ("name", name)
    if op.op == "RenameIndex" and op.new_name:
        yield ("name", op.new_name)


def _forget(op: Operation, state: dict[Thing, list[Migration]]) -> None:
    """Remove what an operation takes out of the schema, and move what it renames."""
    if op.op in ("DeleteModel", "RenameModel") and op.model:
        for thing in [t for t in state if t[:2] == ("model", op.model) or t[1:2] == (op.model,)]:
            moved = state.pop(thing)
            if op.op == "RenameModel" and op.new_name and thing[0] == "field":
                state.setdefault(("field", op.new_name, *thing[2:]), []).extend(moved)
    elif op.op in ("RemoveField", "RenameField") and op.model and op.field:
        state.pop(("field", op.model, op.field), None)
    elif op.op in ("RemoveIndex", "RemoveConstraint", "RenameIndex"):
        for name in op.names:
            if name != op.new_name:
                state.pop(("name", name), None)


def _words(thing: Thing) -> str:
    if thing[0] == "model":
        return f"model {thing[1]}"
    if thing[0] == "field":
        return f"field {thing[1]}.{thing[2]}"
    return f"index or constraint name {thing[1]}"


class Wanted(NamedTuple):
    """What a byte scan looks for in an app's other migrations: names some migrations add."""

    models: frozenset[str]  # lower-case
    names: frozenset[str]  # fields, indexes, constraints, lower-case


# A model comes into or goes out of the schema only through these.
_MODEL_OPS = (b"createmodel", b"deletemodel", b"renamemodel")


def suspect(wanted: Wanted, source: bytes) -> bool:
    """Tell whether a migration's bytes may add, remove or rename one of the wanted things.

    A field or index is named, quoted, by every operation that adds, removes
    or renames it; a model by CreateModel, DeleteModel and RenameModel.
    """
    lowered = source.lower()
    if _any_quoted(wanted.names, lowered):
        return True
    if not any(op in lowered for op in _MODEL_OPS):
        return False
    return _any_quoted(wanted.models, lowered)


# Past a few names, each file's quoted words are found once and looked up in a
# set: one search per name cost the names times the history (a long branch).
_FEW = 8
_WORD = re.compile(rb"[a-z0-9_]+")
_QUOTED_WORD = re.compile(rb"(?<=[\"'])[a-z0-9_]+(?=[\"'])")


def _any_quoted(names: frozenset[str], source: bytes) -> bool:
    if len(names) <= _FEW:
        return any(_quoted(name, source) for name in names)
    words, odd = _split(names)
    if odd and any(_quoted(name, source) for name in odd):
        return True
    # A word between two quotes of either kind: a few more suspects, none missed.
    return not words.isdisjoint(_QUOTED_WORD.findall(source))


@functools.lru_cache(maxsize=16)
def _split(names: frozenset[str]) -> tuple[frozenset[bytes], tuple[str, ...]]:
    """The names that are plain lower-case words (as bytes), and the others."""
    encoded = {name: name.encode() for name in names}
    words = frozenset(b for b in encoded.values() if _WORD.fullmatch(b))
    return words, tuple(n for n, b in encoded.items() if b not in words)


def _quoted(name: str, source: bytes) -> bool:
    return f'"{name}"'.encode() in source or f"'{name}'".encode() in source


def wanted_names(migrations: Iterable[Migration]) -> dict[str, Wanted]:
    """Per app, the models and names the migrations add (what a byte scan looks for)."""
    models: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for migration in migrations:
        for op in migration.operations or ():
            for thing in _adds(op):
                if thing[0] in ("model", "field"):
                    # A field also goes when its model does.
                    models.setdefault(migration.app, set()).add(thing[1])
                if thing[0] != "model":
                    names.setdefault(migration.app, set()).add(thing[-1])
    return {
        app: Wanted(frozenset(models.get(app, ())), frozenset(names.get(app, ())))
        for app in {*models, *names}
    }

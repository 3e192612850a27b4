"""One thing added twice in a straight line of one app's migrations.

Pure: migrations in, findings out. Two migrations of one app, one descending
from the other, that add the same field, create the same model or take the
same index or constraint name: the graph is fine and `migrate` fails on
"duplicate column". `suspect` is the byte scan that picks, among an app's
other migrations, the few that may add or remove what the new ones add, so
that only those are parsed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import NamedTuple

from migmerge.core.clashes import Thing
from migmerge.core.model import Key, Migration, Operation, may_run


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
        for op in may_run(migration.operations):
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
        mine = {thing for op in may_run(migration.operations) for thing in _adds(op)}
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
        for op in may_run(migration.operations):
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

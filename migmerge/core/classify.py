"""Decide how far the parallel branches of one app's migrations collide.

Every name is traced back to what it was called at the common ancestor, so a
model renamed on one branch is still recognised when the other branch uses it.
Branches are compared in pairs, and only on the migrations one of the pair has
and the other does not: a migration both contain is common, not a clash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations

from migmerge.core.model import Key, Migration, Operation, Overlap


def model_table(app: str, model: str) -> str:
    """Return Django's default table name for `app`.`model`."""
    return f"{app}_{model}".lower()


# Operations that do nothing the second time when their arguments are identical,
# so the very same one on both branches is harmless once both run. Any other
# operation run twice fails (a column added twice, a field removed twice).
# How a branch uses a model, for sentences like "0003_a deletes model x, which 0003_b alters".
USE_VERBS = {
    "CreateModel": "creates",
    "DeleteModel": "deletes",
    "RenameModel": "renames",
    "AddField": "adds a field to",
    "RemoveField": "removes a field from",
    "RenameField": "renames a field of",
    "RunPython": "reaches in RunPython",
    "RunSQL": "names in RunSQL",
}
FIELD_OPS = frozenset({"AddField", "AlterField", "RemoveField"})
OPTION_OPS = frozenset(
    {
        "AlterModelTable",
        "AlterModelTableComment",
        "AlterModelOptions",
        "AlterModelManagers",
        "AlterUniqueTogether",
        "AlterIndexTogether",
        "AlterOrderWithRespectTo",
    }
)


def classify(
    app: str, branches: Sequence[Sequence[Migration]], history: Sequence[Migration] = ()
) -> Overlap:
    """Classify the overlap of an app's conflicting branches as none, model, field or unknown."""
    tables = _known_tables(app, history, branches)
    walked = [_walk_branch(app, branch, tables) for branch in branches]
    keys = [{m.key for m in branch} for branch in branches]
    clashes: list[str] = []
    shared: list[str] = []
    for i, j in combinations(range(len(branches)), 2):
        mine, theirs = _own(walked[i], keys[j]), _own(walked[j], keys[i])
        clashes += _clashes(mine, theirs) + _clashes(theirs, mine, destroys_only=True)
        shared += _shared_models(app, mine, theirs)
    common = set.intersection(*keys) if keys else set()
    owns = [_own(w, common) for w in walked]
    unreadable = [note for fp in owns for note in fp.unreadable]
    return _verdict(app, _dedupe(clashes), _dedupe(unreadable), _dedupe(shared), owns)


def touched_models(migrations: Sequence[Migration]) -> set[str]:
    """Return the models the migrations' operations touch, by the names they use."""
    out: set[str] = set()
    for op in _flatten(op for m in migrations for op in m.operations or ()):
        if op.model:
            out.add(op.model)
        out.update(op.reaches)
    return out


def _verdict(
    app: str,
    clashes: list[str],
    unreadable: list[str],
    shared: list[str],
    owns: Sequence[_Footprint],
) -> Overlap:
    """Pick the kind: a proven clash beats what cannot be read, which beats sharing."""
    if clashes:
        return Overlap("field", tuple(clashes))
    if unreadable:
        return Overlap("unknown", tuple(unreadable + shared))
    unmapped = _dedupe(note for fp in owns for note in fp.unmapped)
    if shared:
        return Overlap("model", tuple(shared + unmapped))
    return Overlap("none", (_different_models(app, owns), *unmapped))


# ---------------------------------------------------------------------------
# What one branch does


class _Footprint:
    """What some migrations of one branch do, in the ancestor's names."""

    __slots__ = ("leaf", "touched", "fine", "destroys", "uses", "unreadable", "unmapped")

    def __init__(self, leaf: str) -> None:
        self.leaf = leaf
        # model -> short labels of what is done to it ("age", "RunPython")
        self.touched: dict[str, list[str]] = {}
        # the finest things touched: ("field", m, f), ("create", m), ("option", m, o), ("name", n)
        self.fine: dict[tuple[str, ...], list[Operation]] = {}
        # model -> "deletes model m" / "renames model m to n"
        self.destroys: dict[str, str] = {}
        # model -> how it is used ("alters", "points a relation at")
        self.uses: dict[str, str] = {}
        self.unreadable: list[str] = []
        self.unmapped: list[str] = []

    def merge(self, other: _Footprint) -> None:
        """Add what `other` does to this footprint."""
        for model, labels in other.touched.items():
            self.touched.setdefault(model, []).extend(labels)
        for key, ops in other.fine.items():
            self.fine.setdefault(key, []).extend(ops)
        for model, phrase in other.destroys.items():
            self.destroys.setdefault(model, phrase)
        for model, verb in other.uses.items():
            self.uses.setdefault(model, verb)
        self.unreadable += other.unreadable
        self.unmapped += other.unmapped


class _State:
    """Names as one branch sees them while its operations are walked in order."""

    __slots__ = ("app", "leaf", "tables", "models", "fields")

    def __init__(self, app: str, leaf: str, tables: dict[str, str]) -> None:
        self.app = app
        self.leaf = leaf
        self.tables = tables
        # current model name -> its name at the ancestor
        self.models: dict[str, str] = {}
        # (ancestor model, current field name) -> field name at the ancestor
        self.fields: dict[tuple[str, str], str] = {}

    def model(self, name: str) -> str:
        """Return the ancestor's name of a model ("app.model" kept for other apps)."""
        name = name.lower()
        prefix = f"{self.app}."
        bare = name[len(prefix) :] if name.startswith(prefix) else name
        return self.models.get(bare, bare)

    def field(self, model: str, name: str) -> str:
        """Return the ancestor's name of a field of an ancestor-named model."""
        return self.fields.get((model, name), name)


def _walk_branch(
    app: str, branch: Sequence[Migration], tables: dict[str, str]
) -> list[tuple[Key, _Footprint]]:
    """Walk a branch in order; return each migration's footprint."""
    leaf = branch[-1].name if branch else "?"
    state = _State(app, leaf, dict(tables))
    out = []
    for migration in branch:
        fp = _Footprint(leaf)
        if migration.operations is None:
            fp.unreadable.append(f"{leaf}: the operations of {migration.name} were not read")
        for op in migration.operations or ():
            _record(op, state, fp)
        out.append((migration.key, fp))
    return out


def _own(walked: Sequence[tuple[Key, _Footprint]], exclude: set[Key]) -> _Footprint:
    """Combine the footprints of the migrations not in `exclude`."""
    total = _Footprint(walked[-1][1].leaf if walked else "?")
    for key, fp in walked:
        if key not in exclude:
            total.merge(fp)
    return total


def _record(op: Operation, state: _State, fp: _Footprint) -> None:
    """Add what one operation does to the footprint, then follow its renames."""
    for child in op.children:
        _record(child, state, fp)
    if not op.readable:
        fp.unreadable.append(_unreadable(state.leaf, op))
    model = state.model(op.model) if op.model else None
    if model is not None:
        _record_model_op(op, model, state, fp)
    for ref in op.references:
        fp.uses.setdefault(state.model(ref), "points a relation at")
    for reached in op.reaches:
        _touch(fp, state.model(reached), op.op, op.op)
    if op.op == "RunSQL":
        _record_tables(op, state, fp)
    _follow_renames(op, model, state)


def _unreadable(leaf: str, op: Operation) -> str:
    """Say which operation cannot be read, and why."""
    if op.op == "operations":
        return f"{leaf}: {op.note}"
    return f"{leaf} runs {op.op} that cannot be read: {op.note or 'no reason given'}"


def _touch(fp: _Footprint, model: str, label: str, op_name: str) -> None:
    """Note that the branch touches `model`."""
    fp.touched.setdefault(model, []).append(label)
    fp.uses.setdefault(model, USE_VERBS.get(op_name, "alters"))


def _record_model_op(op: Operation, model: str, state: _State, fp: _Footprint) -> None:
    """Record an operation on one model of the app."""
    label = op.field or op.op
    if op.op in ("DeleteModel", "RenameModel"):
        _record_destroy(op, model, fp)
        label = "deleted" if op.op == "DeleteModel" else f"renamed to {op.new_name}"
    _touch(fp, model, label, op.op)
    for key in _fine_keys(op, model, state):
        fp.fine.setdefault(key, []).append(op)


def _record_destroy(op: Operation, model: str, fp: _Footprint) -> None:
    """Record a model that is gone (or renamed) after this branch."""
    if op.op == "DeleteModel":
        fp.destroys[model] = f"deletes model {model}"
        return
    phrase = f"renames model {model} to {op.new_name}"
    fp.destroys[model] = phrase
    if op.new_name:
        fp.destroys.setdefault(op.new_name, phrase)


def _fine_keys(op: Operation, model: str, state: _State) -> Iterator[tuple[str, ...]]:
    """Yield the finest things an operation touches: fields, options, names, creation."""
    if op.op in FIELD_OPS and op.field:
        yield ("field", model, state.field(model, op.field))
    if op.op == "RenameField" and op.field:
        yield ("field", model, state.field(model, op.field))
        if op.new_name:
            yield ("field", model, op.new_name)
    if op.op == "CreateModel":
        yield ("create", model)
    if op.op in OPTION_OPS:
        for option in op.options:
            yield ("option", model, option)
    for name in op.names:
        yield ("name", name)


def _follow_renames(op: Operation, model: str | None, state: _State) -> None:
    """After a rename, map the new name back to the ancestor's name."""
    if model is None or not op.new_name:
        return
    if op.op == "RenameModel":
        state.models[op.new_name] = model
        state.tables.setdefault(model_table(state.app, op.new_name), model)
    elif op.op == "RenameField" and op.field:
        state.fields[(model, op.new_name)] = state.field(model, op.field)


def _record_tables(op: Operation, state: _State, fp: _Footprint) -> None:
    """Touch the models whose tables a RunSQL names."""
    for table in op.tables:
        model = _table_model(table, state.tables)
        if model is None:
            fp.unmapped.append(
                f"{state.leaf} runs SQL on table {table}, which maps to no model of "
                f"{state.app}: ignored"
            )
        else:
            _touch(fp, model, "RunSQL", "RunSQL")


def _table_model(table: str, tables: dict[str, str]) -> str | None:
    """Map a table to its model; `<table>_<field>` (many-to-many tables) to the model too."""
    if table in tables:
        return tables[table]
    owners = [known for known in tables if table.startswith(f"{known}_")]
    return tables[max(owners, key=len)] if owners else None


def _known_tables(
    app: str, history: Sequence[Migration], branches: Sequence[Sequence[Migration]]
) -> dict[str, str]:
    """Map table names to models: the ancestor's state, plus models any branch creates."""
    tables: dict[str, str] = {}
    for op in _flatten(op for m in history for op in m.operations or ()):
        _track_history_table(app, op, tables)
    for op in _flatten(op for b in branches for m in b for op in m.operations or ()):
        if op.op == "CreateModel" and op.model:
            tables.setdefault(op.tables[0] if op.tables else model_table(app, op.model), op.model)
    return tables


def _track_history_table(app: str, op: Operation, tables: dict[str, str]) -> None:
    """Follow one history operation's effect on table names."""
    if not op.model:
        return
    if op.op in ("CreateModel", "AlterModelTable"):
        tables[op.tables[0] if op.tables else model_table(app, op.model)] = op.model
    elif op.op == "RenameModel" and op.new_name:
        for table, model in list(tables.items()):
            if model == op.model:
                tables[table] = op.new_name
        tables[model_table(app, op.new_name)] = op.new_name


def _flatten(ops: Iterable[Operation]) -> Iterator[Operation]:
    """Yield operations and, after each, its children."""
    for op in ops:
        yield op
        yield from _flatten(op.children)


# ---------------------------------------------------------------------------
# Comparing two branches


def _clashes(a: _Footprint, b: _Footprint, *, destroys_only: bool = False) -> list[str]:
    """Say what both footprints touch at the finest level, and what `a` destroys that `b` uses."""
    out = [] if destroys_only else [_fine_clash(a, b, key) for key in a.fine if key in b.fine]
    # Deleting or renaming is never harmless twice: the second one finds nothing.
    for model, phrase in a.destroys.items():
        if model in b.uses:
            out.append(f"{a.leaf} {phrase}, which {b.leaf} {b.uses[model]}")
    return [reason for reason in out if reason]


def _fine_clash(a: _Footprint, b: _Footprint, key: tuple[str, ...]) -> str:
    """Describe a thing both branches touch, or "" when they do the very same thing."""
    if _same_ops(a.fine[key], b.fine[key]):
        return ""
    both = f"both {a.leaf} and {b.leaf}"
    kind = key[0]
    if kind == "field":
        return f"{both} change field {key[1]}.{key[2]}"
    if kind == "create":
        return f"{both} create model {key[1]}"
    if kind == "option":
        return f"{both} change option {key[2]} of model {key[1]}"
    return f"{both} use index or constraint name {key[1]}"


def _same_ops(mine: Sequence[Operation], theirs: Sequence[Operation]) -> bool:
    """Tell whether both sides do the very same thing (the contract: no clash)."""
    return bool(mine) and list(mine) == list(theirs) and all(op.detail for op in mine)


def _shared_models(app: str, a: _Footprint, b: _Footprint) -> list[str]:
    """Describe each model both footprints touch."""
    out = []
    for model in sorted(a.touched.keys() & b.touched.keys()):
        mine, theirs = _labels(a.touched[model]), _labels(b.touched[model])
        out.append(
            f"both {a.leaf} and {b.leaf} touch model {_show(app, model)}: "
            f"{mine} ({a.leaf}), {theirs} ({b.leaf})"
        )
    return out


def _different_models(app: str, owns: Sequence[_Footprint]) -> str:
    """Say which models each branch touches, when no two touch the same."""
    parts = [
        f"{', '.join(_show(app, m) for m in sorted(fp.touched)) or 'no model'} ({fp.leaf})"
        for fp in owns
    ]
    return f"the branches touch different models: {', '.join(parts)}"


# How many of what one branch does to a model a reason names; the rest are counted
# (a CreateModel of 200 fields made one line of a hook's report 2,000 characters long).
SHOWN_LABELS = 8


def _labels(labels: Sequence[str]) -> str:
    """What one branch does to a model: its first few fields and operations, then a count."""
    unique = list(dict.fromkeys(labels))
    if len(unique) <= SHOWN_LABELS:
        return ", ".join(unique)
    return f"{', '.join(unique[:SHOWN_LABELS])} and {len(unique) - SHOWN_LABELS} more"


def _show(app: str, model: str) -> str:
    """Return a model's name as a person reads it: bare for this app."""
    return model.removeprefix(f"{app}.")


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))

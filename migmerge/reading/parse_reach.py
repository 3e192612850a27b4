"""Which models a RunPython's forward code reaches, and a custom Operation's.

The `get_model` calls in the code and in every function it calls, wherever
the repository defines it (each followed once, never recursively), with the
strings a helper is called with bound to its parameters, and the names the
code mentions as fields. What cannot be followed is said, never guessed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from migmerge.core.model import Operation
from migmerge.reading.parse_files import fixture_labels, may_be_a_path, record_model, record_names
from migmerge.reading.parse_methods import class_of, method_of
from migmerge.reading.parse_models import direct_models
from migmerge.reading.parse_names import Context, lookup_expr
from migmerge.reading.parse_nodes import last_name, local_literal, snippet, unique
from migmerge.reading.parse_strings import literal_items, string_value


def operation_class(name: str, cls: ast.ClassDef, ctx: Context) -> Operation | None:
    """What an `Operation` subclass touches: the models its database_forwards gets.

    Only a direct subclass of Operation whose state_forwards does nothing and
    whose database_forwards leaves the schema editor alone (data through
    get_model, as a RunPython would) is read; None for anything else.
    """
    if "Operation" not in {last_name(base) for base in cls.bases}:
        return None
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    where = f"{name} ({ctx.path or 'this file'})"
    state = methods.get("state_forwards")
    if state is not None and not _does_nothing(state):
        note = f"{where} changes the migration state in code"
        return Operation(op=name, readable=False, note=note)
    forwards = methods.get("database_forwards")
    reach = Reach()
    if forwards is not None:
        if _uses_schema_editor(forwards):
            note = f"{where} changes the database through its schema editor"
            return Operation(op=name, readable=False, note=note)
        walk_code(forwards, ctx, reach)
    if reach.problems:
        note = f"{where} " + "; ".join(dict.fromkeys(reach.problems))
        return Operation(op=name, readable=False, note=note, reaches=unique(reach.models))
    return Operation(op=name, reaches=unique(reach.models))


# The methods a subclass of a Django operation may override and still be read as its base.
_DATABASE_SIDE = frozenset({"database_forwards", "database_backwards"})


def silenced_base(cls: ast.ClassDef) -> ast.expr | None:
    """The base of `class FakeAddField(migrations.AddField)` that only silences the database.

    One base, no keywords, and a body of nothing but a docstring and
    database_forwards / database_backwards methods that do nothing: the
    migration state changes as the base's does and the database not at all
    (the work is done by raw SQL elsewhere), so what the base touches is all
    it touches. None for anything more: an `__init__` (the arguments would
    mean something else), a state_forwards, a class attribute, a decorator,
    a database method that does something.
    """
    if len(cls.bases) != 1 or cls.keywords or cls.decorator_list:
        return None
    for stmt in cls.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if not (
            isinstance(stmt, ast.FunctionDef)
            and stmt.name in _DATABASE_SIDE
            and not stmt.decorator_list
            and _does_nothing(stmt)
        ):
            return None
    return cls.bases[0]


def _does_nothing(function: ast.FunctionDef) -> bool:
    """A body of `pass`, a docstring, `...` or a bare `return`."""
    return all(
        isinstance(stmt, ast.Pass)
        or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        or (isinstance(stmt, ast.Return) and stmt.value is None)
        for stmt in function.body
    )


def _uses_schema_editor(function: ast.FunctionDef) -> bool:
    """Tell whether database_forwards calls its schema editor (SQL, DDL)."""
    params = [arg.arg for arg in function.args.args]
    if len(params) < 3:
        return True  # not the signature Django calls: assume the worst
    editor = params[2]
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            head = node.func
            while isinstance(head, (ast.Attribute, ast.Call)):
                head = head.value if isinstance(head, ast.Attribute) else head.func
            if isinstance(head, ast.Name) and head.id == editor:
                return True
    return False


class Reach:
    __slots__ = ("models", "problems", "names", "fixtures")

    def __init__(self) -> None:
        self.models: list[str] = []
        self.problems: list[str] = []
        self.names: set[str] = set()
        # Model labels of the fixture files the code passes by path (a loader's records).
        self.fixtures: list[str] = []


def reach_code(code: ast.expr, ctx: Context) -> Operation:
    """Read the models a RunPython's forward code reaches with get_model."""
    if isinstance(code, ast.Attribute) and code.attr == "noop":
        return Operation(op="RunPython")
    found: tuple[ast.AST, Context]
    if isinstance(code, ast.Lambda):
        label, found = "its lambda", (code, ctx)
    else:
        looked = lookup_expr(code, ctx)
        if looked is None or not isinstance(looked[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
            return Operation(op="RunPython", readable=False, note=_foreign_code(code, ctx))
        label, found = f"{snippet(code)}()", (looked[0], looked[1])
    reach = Reach()
    walk_code(found[0], found[1], reach)
    mentions = tuple(sorted(reach.names))
    if reach.problems:
        note = f"{label} " + "; ".join(dict.fromkeys(reach.problems))
        return Operation(
            op="RunPython",
            readable=False,
            note=note,
            reaches=unique(reach.models),
            mentions=mentions,
        )
    return Operation(op="RunPython", reaches=unique(reach.models), mentions=mentions)


def _foreign_code(code: ast.expr, ctx: Context) -> str:
    """Say why a RunPython's code cannot be followed."""
    if is_imported(code, ctx):
        return f"{snippet(code)}() is imported from a module that cannot be read"
    if isinstance(code, ast.Name):
        return f"{code.id}() is not a function defined in this file"
    return f"its code `{snippet(code)}` is not a function defined in this file"


def is_imported(node: ast.expr, ctx: Context) -> bool:
    """Tell whether a name (or the head of a dotted name) comes from an import."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in ctx.imports


def walk_code(node: ast.AST, ctx: Context, reach: Reach) -> None:
    """Collect get_model calls in `node` and in the functions it calls, wherever defined.

    Same-file functions and functions imported from the repository's other
    modules are followed (each once); never recursive, however deep the calls.
    """
    seen: set[_Visit] = set()
    stack: list[tuple[ast.AST, Context, Loops]] = [(node, ctx, {})]
    while stack:
        code, where, bound = stack.pop()
        loops = {**bound, **_loop_values(code, where)}
        records = record_names(code)
        models, problems = direct_models(code, where)
        reach.models += models
        reach.problems += problems
        for sub in ast.walk(code):
            _mention(sub, reach.names)
            if isinstance(sub, ast.Call):
                stack += _called(sub, where, reach, loops, seen, records)


# A function walked, with the strings its parameters were bound to.
_Visit = tuple[str, int, tuple[tuple[str, tuple[str, ...]], ...]]


# How many differently bound walks of one function before binding stops.
_MAX_BINDINGS = 16


def _called(
    call: ast.Call,
    ctx: Context,
    reach: Reach,
    loops: Loops,
    seen: set[_Visit],
    records: frozenset[str] = frozenset(),
) -> list[tuple[ast.AST, Context, Loops]]:
    """Note what one call reaches; return the function it calls when it can be read.

    The function comes back with its parameters bound to the strings this call
    passes (or their defaults), so a helper's `get_model(app, model)` is read
    once per distinct set of literal arguments it is called with. A fixture
    file passed by path gives its records' models to a `get_model` on a
    record's `model` (a loader of the repository's).
    """
    called = last_name(call.func)
    if called == "get_model":
        _get_model(call, ctx, reach, loops, records)
        return []
    if called == "call_command":
        _call_command(call, ctx, reach)
        return []
    for arg in [*call.args, *(kw.value for kw in call.keywords)]:
        if may_be_a_path(arg):
            labels = fixture_labels(arg, ctx)
            reach.fixtures += labels or []
    if called in ("get_models", "get_app_config", "get_app_configs"):
        reach.problems.append(f"calls {called}(), which may reach any model")
        return []
    if not isinstance(call.func, (ast.Name, ast.Attribute)):
        return []
    found = lookup_expr(call.func, ctx)
    skip = 0
    if found is None:
        method = method_of(call.func, ctx)
        if method is not None:
            found, skip = (method[0], method[1]), method[2]
    if found is not None and isinstance(found[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        function, where = found[0], found[1]
        path = where.path or ""
        bound = _bound_strings(function, where, call, ctx, loops, skip)
        if sum(1 for v in seen if v[:2] == (path, function.lineno)) >= _MAX_BINDINGS:
            bound = {}
        key = (path, function.lineno, tuple(sorted((n, tuple(v)) for n, (_, v) in bound.items())))
        if key not in seen:
            seen.add(key)
            return [(function, where, bound)]
    elif found is None and _passes_apps(call):
        if is_imported(call.func, ctx):
            reach.problems.append(
                f"passes apps to {snippet(call.func)}(), imported from a module that cannot be read"
            )
        elif class_of(call.func, ctx) is not None:
            reach.problems.append(f"passes apps to {snippet(call.func)}(), which cannot be read")
    return []


def _bound_strings(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    where: Context,
    call: ast.Call,
    ctx: Context,
    loops: Loops,
    skip: int = 0,
) -> dict[str, tuple[int, list[str]]]:
    """The parameters of `function` that `call` gives known strings (or that default to one).

    name -> (a group, its values), as a loop's: a parameter given a loop's
    variable keeps that loop's group, so two taken from one loop pair up. A
    parameter the function assigns to, or a call with `*` or `**`, binds
    nothing.
    """
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        kw.arg is None for kw in call.keywords
    ):
        return {}
    args = function.args
    positional = [*args.posonlyargs, *args.args][skip:]
    given: dict[str, tuple[ast.expr, Context]] = {}
    for param, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults):
        given[param.arg] = (default, where)
    for param, kw_default in zip(args.kwonlyargs, args.kw_defaults):
        if kw_default is not None:
            given[param.arg] = (kw_default, where)
    for param, value in zip(positional, call.args):
        given[param.arg] = (value, ctx)
    for kw in call.keywords:
        given[str(kw.arg)] = (kw.value, ctx)
    assigned = {
        n.id
        for n in ast.walk(function)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    out: dict[str, tuple[int, list[str]]] = {}
    for index, (name, (value, scope)) in enumerate(given.items()):
        if name in assigned:
            continue
        strings = _strings(value, scope, loops if scope is ctx else {})
        if strings:
            group = id(call) + index
            if isinstance(value, ast.Name) and value.id in loops:
                group = loops[value.id][0]
            out[name] = (group, strings)
    return out


def _mention(node: ast.AST, names: set[str]) -> None:
    """Note the names code may use as fields: `.x`, `x=`, `x__lookup=`, "x" and "-x"."""
    if isinstance(node, ast.Attribute):
        names.add(node.attr.lower())
    elif isinstance(node, ast.keyword) and node.arg:
        names.add(node.arg.partition("__")[0].lower())
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        word = node.value.lstrip("-").partition("__")[0]
        if word.isidentifier():
            names.add(word.lower())


def _passes_apps(call: ast.Call) -> bool:
    """Tell whether a call hands the `apps` registry on."""
    values = [*call.args, *(kw.value for kw in call.keywords)]
    return any(isinstance(v, ast.Name) and v.id == "apps" for v in values)


Loops = Mapping[str, tuple[int, list[str]]]


def _loop_values(code: ast.AST, ctx: Context) -> dict[str, tuple[int, list[str]]]:
    """Names a `for` loop in `code` takes from a literal of strings (or a name holding one).

    name -> (the loop, its values): names unpacked from one loop go together.
    """
    out: dict[str, tuple[int, list[str]]] = {}
    for node in ast.walk(code):
        if not isinstance(node, (ast.For, ast.comprehension)):
            continue
        items = literal_items(local_literal(node.iter, code) or node.iter, ctx)
        if items is None:
            continue
        targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
        for index, target in enumerate(targets):
            if isinstance(target, ast.Name):
                values = [_item_string(item, index, len(targets), ctx) for item in items]
                if None not in values:
                    out[target.id] = (id(node), [v for v in values if v is not None])
    return out


def _item_string(item: ast.expr, index: int, width: int, ctx: Context) -> str | None:
    """One loop variable's value: the item itself, or its `index`-th part when unpacked."""
    if width > 1:
        if not isinstance(item, (ast.Tuple, ast.List)) or len(item.elts) != width:
            return None
        item = item.elts[index]
    return string_value(item, ctx)


def _get_model(
    call: ast.Call, ctx: Context, reach: Reach, loops: Loops, records: frozenset[str]
) -> None:
    """Record the models one get_model call names (each value a loop gives it, too)."""
    values = [_strings(arg, ctx, loops) for arg in call.args]
    if len(values) == 1 and values[0] and all("." in v for v in values[0]):
        pairs = [tuple(v.split(".", 1)) for v in values[0]]
    elif len(values) == 2 and values[0] and values[1]:
        pairs = _pairs_of(call.args, values[0], values[1], loops)
    elif len(call.args) == 1 and reach.fixtures and record_model(call.args[0], records):
        pairs = [tuple(label.split(".", 1)) for label in reach.fixtures]
    else:
        reach.problems.append("calls get_model with a non-literal argument")
        return
    _add_models(pairs, ctx, reach)


def _add_models(pairs: list[tuple[str, ...]], ctx: Context, reach: Reach) -> None:
    for app, model in pairs:
        reach.models.append(model.lower() if app == ctx.app else f"{app}.{model.lower()}")


def _call_command(call: ast.Call, ctx: Context, reach: Reach) -> None:
    """`call_command("loaddata", path, ...)`: the fixtures' models; any other command, any."""
    command = string_value(call.args[0], ctx) if call.args else None
    if command != "loaddata" or len(call.args) < 2:
        what = repr(command) if command else "..."
        reach.problems.append(f"calls call_command({what}), which may reach any model")
        return
    for arg in call.args[1:]:
        labels = fixture_labels(arg, ctx)
        if labels is None:
            reach.problems.append(f"loads a fixture that cannot be read (`{snippet(arg)}`)")
            return
        _add_models([tuple(label.split(".", 1)) for label in labels], ctx, reach)


def _pairs_of(
    args: list[ast.expr], apps: list[str], models: list[str], loops: Loops
) -> list[tuple[str, ...]]:
    """(app, model) pairs: side by side when both come from one loop, else every pair."""
    first, second = (loops.get(a.id) if isinstance(a, ast.Name) else None for a in args)
    if first and second and first[0] == second[0]:
        return list(zip(apps, models))
    return [(a, m) for a in apps for m in models]


def _strings(node: ast.expr, ctx: Context, loops: Loops) -> list[str] | None:
    """The strings an argument may be: a literal, a module-level name, a loop's values."""
    if isinstance(node, ast.Name) and node.id in loops:
        return loops[node.id][1]
    text = string_value(node, ctx)
    return [text] if text is not None else None

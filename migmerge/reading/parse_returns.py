"""Operations a repository function picks from the lists it is given.

awx builds squashed migrations' `operations` with `_squashed.operations(SQUASHED_30)`:
a function of the repository that takes a literal dict of operation lists
and returns some of them, chosen at run time from the migration recorder's
rows. Which ones cannot be read; that they are some of the operations the
argument holds can, when every value the function returns is drawn from
the arguments it was given (read below, statically: subscripts, slices,
comprehensions and `for` loops over them, `+`, `list`, `sorted`,
`itertools.chain`). Then all the argument's operations are a superset of
what runs. A function that builds, imports or computes a value it returns
in any other way is not read.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping

from migmerge.core.model import Operation
from migmerge.reading.parse_names import Context, changed_in, lookup_expr, sole_value
from migmerge.reading.parse_nodes import snippet, summands

# Builtins whose result holds the items of their first argument, unchanged.
_PASS_THROUGH = frozenset({"list", "tuple", "sorted", "reversed"})
# Keywords of those that change which items come out, never what they are.
_HARMLESS_KEYWORDS = frozenset({"key", "reverse"})
# Methods that put a value into a list or a dict.
_MUTATORS = frozenset({"append", "extend", "insert", "add", "update", "setdefault"})
# Nodes that make a function's values too hard to follow.
_OPAQUE = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.Yield,
    ast.YieldFrom,
    ast.Await,
    ast.Global,
    ast.Nonlocal,
    ast.With,
    ast.AsyncWith,
    ast.Try,
)


class Picked:
    """The operations a call may return, with the context each was written in."""

    __slots__ = ("function", "operations")

    def __init__(self, function: str, operations: list[tuple[ast.expr, Context]]) -> None:
        self.function = function
        self.operations = operations


def picked_list(
    node: ast.expr,
    ctx: Context,
    read_one: Callable[[ast.expr, Context], Operation],
) -> tuple[Operation, ...] | None:
    """`[...] + pick(LISTS)`: the literal parts as they are, each call's pick as possible ones.

    None when a part is neither a literal list nor a call of a repository
    function. A call's part is one `operations` entry whose children are
    every operation it is given: a superset of what runs, safe for overlap;
    a rename among them would make later names depend on the pick: unknown.
    """
    out: list[Operation] = []
    for part in summands(node):
        part = sole_value(part, ctx) or part
        if isinstance(part, (ast.List, ast.Tuple)):
            out += [read_one(element, ctx) for element in part.elts]
            continue
        picked = picked_operations(part, ctx) if isinstance(part, ast.Call) else None
        if picked is None:
            return None
        if isinstance(picked, str):
            note = f"operations is not a literal list: `{snippet(part)}` ({picked})"
            out.append(Operation(op="operations", readable=False, note=note))
            continue
        children = tuple(read_one(element, where) for element, where in picked.operations)
        if any(op.op.startswith("Rename") for op in children):
            note = f"operations picked at run time by {picked.function} rename things"
            out.append(Operation(op="operations", readable=False, note=note, children=children))
            continue
        note = f"picked at run time by {picked.function}: read as every operation it is given"
        out.append(Operation(op="operations", note=note, children=children))
    return tuple(out)


def picked_operations(call: ast.Call, ctx: Context) -> Picked | str | None:
    """What `f(LISTS, ...)` may return: the operations of the literal lists it is given.

    None when `call` does not call a function of the repository (the caller
    says "not a literal list"); a reason when it does and cannot be read.
    """
    found = (
        lookup_expr(call.func, ctx) if isinstance(call.func, (ast.Name, ast.Attribute)) else None
    )
    if found is None or not isinstance(found[0], ast.FunctionDef):
        return None
    function, where = found[0], found[1]
    label = f"{ast.unparse(call.func)}()"
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        kw.arg is None for kw in call.keywords
    ):
        return f"{label} is called with `*` or `**`"
    sources: set[str] = set()
    operations: list[tuple[ast.expr, Context]] = []
    for param, value in _bound(function, call):
        held = _operations_held(value, ctx)
        if held is not None:
            sources.add(param)
            operations += held
    if not sources:
        return f"{label} is given no literal list of operations"
    if not _drawn_from(function, sources, where):
        return f"{label} returns values not drawn from the operations it is given"
    return Picked(label, operations)


def _bound(function: ast.FunctionDef, call: ast.Call) -> Iterator[tuple[str, ast.expr]]:
    positional = [*function.args.posonlyargs, *function.args.args]
    for param, value in zip(positional, call.args):
        yield param.arg, value
    names = {a.arg for a in [*positional, *function.args.kwonlyargs]}
    for kw in call.keywords:
        if kw.arg in names:
            yield str(kw.arg), kw.value


def _operations_held(value: ast.expr, ctx: Context) -> list[tuple[ast.expr, Context]] | None:
    """The operation calls a literal list (or a dict of lists) holds, each with its context.

    A name must hold the literal and be changed nowhere in its module (nor
    in the module that passes it): assigned once, never subscripted,
    never a method's object.
    """
    node, where = _unchanged(value, ctx)
    if node is None:
        return None
    lists = node.values if isinstance(node, ast.Dict) else [node]
    if isinstance(node, ast.Dict) and None in node.keys:
        return None  # `**other`: what it holds is not read
    out: list[tuple[ast.expr, Context]] = []
    for item in lists:
        held, scope = _unchanged(item, where) if isinstance(item, ast.Name) else (item, where)
        if not isinstance(held, (ast.List, ast.Tuple)):
            return None
        out += [(element, scope) for element in held.elts]
    return out


def _unchanged(value: ast.expr, ctx: Context) -> tuple[ast.expr | None, Context]:
    """The literal a name holds when no module on the way changes it; a literal itself."""
    if isinstance(value, (ast.List, ast.Tuple, ast.Dict)):
        return value, ctx
    if not isinstance(value, (ast.Name, ast.Attribute)) or _changed(value, ctx):
        return None, ctx
    found = lookup_expr(value, ctx)
    if found is None or not isinstance(found[0], (ast.List, ast.Tuple, ast.Dict)):
        return None, ctx
    node, where = found[0], found[1]
    names = [name for name, held in where.constants.items() if held is node]
    if len(names) != 1 or changed_in(names[0], where.module_body):
        return None, ctx
    return node, where


def _changed(value: ast.expr, ctx: Context) -> bool:
    """A bare name the module changes; `module.NAME` is checked where it is defined."""
    return isinstance(value, ast.Name) and changed_in(value.id, ctx.module_body)


def _drawn_from(function: ast.FunctionDef, sources: set[str], where: Context) -> bool:
    """Tell whether every value `function` returns is made of items of its `sources` parameters."""
    if function.decorator_list or any(isinstance(n, _OPAQUE) for n in _inside(function)):
        return False
    params = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    flows = _flows(function)
    if flows is None:
        return False
    env = {name: name in sources for name in params}
    env.update((name, True) for name in flows if name not in params)
    changed = True
    while changed:  # the greatest solution: a name is drawn unless a value it gets is not
        changed = False
        for name, values in flows.items():
            if env[name] and not all(_drawn(v, env, where) for v in values):
                env[name], changed = False, True
    returns = [n for n in _inside(function) if isinstance(n, ast.Return)]
    return bool(returns) and all(
        r.value is not None and _drawn(r.value, env, where) for r in returns
    )


def _inside(function: ast.FunctionDef) -> Iterator[ast.AST]:
    for stmt in function.body:
        yield from ast.walk(stmt)


def _flows(function: ast.FunctionDef) -> dict[str, list[ast.expr]] | None:
    """Every value each local name may get; None when a store cannot be followed."""
    flows: dict[str, list[ast.expr]] = {}
    for node in _inside(function):
        if isinstance(node, ast.Assign):
            pairs: list[tuple[ast.expr, ast.expr]] = [(t, node.value) for t in node.targets]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            pairs = [(node.target, node.value)]
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            pairs = [(node.target, ast.Subscript(value=node.iter, slice=ast.Constant(0)))]
        elif isinstance(node, ast.NamedExpr):
            pairs = [(node.target, node.value)]
        elif isinstance(node, ast.Call) and _mutates(node):
            assert isinstance(node.func, ast.Attribute)
            pairs = [(node.func.value, arg) for arg in node.args]
            pairs += [(node.func.value, kw.value) for kw in node.keywords]
        else:
            continue
        for target, value in pairs:
            for name in _target_names(target):
                if name is None:
                    return None
                flows.setdefault(name, []).append(value)
    return flows


def _mutates(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr in _MUTATORS


def _target_names(target: ast.expr) -> Iterator[str | None]:
    """The names a store writes into (`x`, `a, *b`, `x[i]`, `x.y`); None: not a name."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, (ast.Starred, ast.Subscript, ast.Attribute)):
        yield from _target_names(target.value)
    else:
        yield None


def _drawn(node: ast.expr, env: Mapping[str, bool], where: Context) -> bool:
    """Tell whether `node`'s value is made only of items of the drawn names."""
    if isinstance(node, ast.Name):
        return env.get(node.id, False)
    if isinstance(node, (ast.Subscript, ast.Starred)):
        return _drawn(node.value, env, where)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_drawn(e, env, where) for e in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _drawn(node.left, env, where) and _drawn(node.right, env, where)
    if isinstance(node, ast.IfExp):
        return _drawn(node.body, env, where) and _drawn(node.orelse, env, where)
    if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
        scope = dict(env)
        for loop in node.generators:
            drawn = _drawn(loop.iter, scope, where)
            for name in _target_names(loop.target):
                if name is None:
                    return False
                scope[name] = drawn
        return _drawn(node.elt, scope, where)
    if isinstance(node, ast.Call):
        return _passes_through(node, where) and all(_drawn(a, env, where) for a in node.args)
    return False


def _passes_through(call: ast.Call, where: Context) -> bool:
    """`list(x)`, `sorted(x)` (builtins, not names of the module), `chain(...)` of itertools."""
    if any(kw.arg not in _HARMLESS_KEYWORDS for kw in call.keywords):
        return False
    func = call.func
    if isinstance(func, ast.Name) and func.id in _PASS_THROUGH:
        defined = (where.functions, where.classes, where.constants, where.origins)
        return not any(func.id in names for names in defined) and not _star_imports(where)
    dotted = []
    while isinstance(func, ast.Attribute):
        dotted.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return False
    origin = where.origins.get(func.id)
    if origin is None:
        return False
    module, attribute, _ = origin
    path = ".".join(
        [module, attribute, *reversed(dotted)] if attribute else [module, *reversed(dotted)]
    )
    return path in ("itertools.chain", "itertools.chain.from_iterable")


def _star_imports(where: Context) -> bool:
    return any(key.startswith("*") for key in where.origins)

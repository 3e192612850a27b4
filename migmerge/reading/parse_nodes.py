"""Small readings of `ast` nodes, shared by the migration reader's parts.

A string constant, a dotted name, a call's arguments bound to parameters, the
items of a literal list: pure, nodes in and values out.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence


def simple_assignment(stmt: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """Return (name, value) for `name = value` or `name: T = value`, else (None, None)."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            return target.id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id, stmt.value
    return None, None


def shape(node: object) -> str:
    """`node` as text, positions and comments left out: equal only for the very same code.

    `ast.dump` without field names says the same; this is its strict part
    alone (every field, by position), about 40% cheaper, which counts for a
    long branch: one call per operation read. RecursionError when too deep.
    """
    if type(node) is list:
        return f"[{', '.join([shape(item) for item in node])}]"
    if isinstance(node, ast.AST):
        fields = ", ".join([shape(getattr(node, field, None)) for field in node._fields])
        return f"{type(node).__name__}({fields})"
    return repr(node)


def summands(node: ast.expr) -> list[ast.expr]:
    """The parts of `a + b + c` in order (just `node` when it is no sum); never recursive."""
    out: list[ast.expr] = []
    stack = [node]
    while stack:
        part = stack.pop()
        if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Add):
            stack += (part.right, part.left)
        else:
            out.append(part)
    return out


def const_str(node: ast.expr | None) -> str | None:
    """Return the value of a string constant, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def lower_str(node: ast.expr | None) -> str | None:
    """Return a string constant lower-cased, else None."""
    value = const_str(node)
    return value.lower() if value is not None else None


def last_name(node: ast.expr) -> str | None:
    """Return `c` for `a.b.c` or `c`, else None."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def dotted_name(node: ast.expr) -> str | None:
    """Return "a.b.c" for an attribute chain of names, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def snippet(node: ast.AST, limit: int = 60) -> str:
    """Return a short source rendering of `node` for messages."""
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def bind(call: ast.Call, params: Sequence[str]) -> dict[str, ast.expr]:
    """Bind a call's positional and keyword arguments to parameter names."""
    bound = {param: arg for param, arg in zip(params, call.args, strict=False)}
    for kw in call.keywords:
        if kw.arg is not None:
            bound[kw.arg] = kw.value
    return bound


def literal_elements(node: ast.expr | None) -> list[ast.expr] | None:
    """Return the items of a list/tuple literal (or a sum of them), else None."""
    if node is None:
        return []
    out: list[ast.expr] = []
    for part in summands(node):
        if not isinstance(part, (ast.List, ast.Tuple)):
            return None
        out += part.elts
    return out


def unique(items: Sequence[str]) -> tuple[str, ...]:
    """Remove duplicates, keeping order."""
    return tuple(dict.fromkeys(items))


def mutated_in(name: str, body: list[ast.stmt]) -> bool:
    """Tell whether a module may change what `name` holds, anywhere in it.

    Assigned twice, `X[k] = v` or `del X[k]` at any depth, a method called on
    it or on an item of it (`X.update(...)`, `X['a'].setdefault(...)`), `X`
    itself handed to a call, `global X`. Reading an item is no change.
    """
    stores = 0
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            stores += 1
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and not isinstance(
            node.ctx, ast.Load
        ):
            if _root(node) == name:
                return True
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and _root(node.func.value) == name:
                return True
            handed = [*node.args, *(kw.value for kw in node.keywords)]
            if any(isinstance(a, ast.Name) and a.id == name for a in handed):
                return True
        elif isinstance(node, ast.Global) and name in node.names:
            return True
    return stores > 1


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def local_literal(node: ast.expr, code: ast.AST) -> ast.expr | None:
    """The list or tuple literal a name holds in a function that assigns it once, else None.

    `relations = [[...], ...]` then `for a, b in relations:`: nothing else
    in the function may store into it or call a method on it (`mutated_in`).
    """
    body = getattr(code, "body", None)
    if not isinstance(node, ast.Name) or not isinstance(body, list):
        return None
    values = [
        stmt.value
        for stmt in ast.walk(code)
        if isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and stmt.targets[0].id == node.id
    ]
    if len(values) != 1 or not isinstance(values[0], (ast.List, ast.Tuple)):
        return None
    return None if mutated_in(node.id, body) else values[0]

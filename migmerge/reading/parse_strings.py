"""Strings a migration builds without running code, and the SQL a RunSQL holds.

Literals, names assigned one (here or in an imported module), `+`, `%`,
f-strings of such names, `sep.join([...])`, `.format(...)`, `dedent(...)`;
a RunSQL's `sql` argument read into its statements (sql_tables.py reads
which tables they name). In SQL, a value the file cannot tell (a setting, a
call) that is spliced into the text by `+`, `%`, `.format` or an f-string
stands as UNREAD: sql_tables takes it as data where the SQL quotes it, and
as unreadable anywhere else. What `.format`, `%` and f-strings splice in
may also be a whole number the file tells (a literal, a name, a setting):
its digits.
"""

from __future__ import annotations

import ast

from migmerge.reading.parse_names import Context, lookup_expr
from migmerge.reading.parse_nodes import last_name, summands
from migmerge.reading.parse_settings import item_value, settings_name, settings_value
from migmerge.reading.sql_tables import UNREAD


def literal_items(node: ast.expr, ctx: Context) -> list[ast.expr] | None:
    """The items of a list, tuple or set literal, or of a module-level name holding one."""
    if isinstance(node, (ast.Name, ast.Attribute)):
        found = lookup_expr(node, ctx)
        if found is None or not isinstance(found[0], ast.expr):
            return None
        node, ctx = found[0], found[1]
    if isinstance(node, ast.Dict):
        return [key for key in node.keys if key is not None]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return list(node.elts)
    return None


def string_value(
    node: ast.expr, ctx: Context, depth: int = 0, hole: str | None = None
) -> str | None:
    """The value of a string expression that needs no code to run, else None.

    Literals, names assigned one (here or in an imported module), `+`, `%`,
    f-strings of such names, `sep.join([...])`, `.format(...)`, `dedent(...)`,
    items of dict literals and `django.conf.settings` values (parse_settings).
    `hole`: what stands for a part spliced in (a `+` summand, a `%` or
    `.format` argument, an f-string value, a joined item) whose value cannot
    be told; without it, such a part makes the whole None.
    """
    if depth > 20:
        return None
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Attribute) and settings_name(node, ctx):
        return settings_value(node, ctx, string_value, depth)
    if isinstance(node, (ast.Name, ast.Attribute)):
        found = lookup_expr(node, ctx)
        if found is None or not isinstance(found[0], ast.expr):
            return None
        return string_value(found[0], found[1], depth + 1, hole)
    if isinstance(node, ast.Subscript):
        return item_value(node, ctx, string_value, depth)
    if isinstance(node, ast.BinOp):
        return _string_operation(node, ctx, depth, hole)
    if isinstance(node, ast.JoinedStr):
        parts = [_formatted(value, ctx, depth, hole) for value in node.values]
        return None if None in parts else "".join(parts)  # type: ignore[arg-type]
    if isinstance(node, ast.Call):
        return _string_call(node, ctx, depth, hole)
    return None


def _part(
    node: ast.expr, ctx: Context, depth: int, hole: str | None, numbers: bool = False
) -> str | None:
    """A part spliced into a string: its value, else the hole (None without one).

    `numbers`: `.format`, `%` and f-strings also write a whole number's digits.
    """
    text = string_value(node, ctx, depth + 1, hole)
    if text is None and numbers:
        typed = _typed(node, ctx, depth + 1)
        text = typed[len(NUMBER) :] if typed and typed.startswith(NUMBER) else typed
    return hole if text is None else text


# Marks a whole number's digits while it is looked up (a key `0` is not the key `"0"`).
NUMBER = "\x00number:"


def _typed(node: ast.expr, ctx: Context, depth: int) -> str | None:
    """A string, or a whole number (NUMBER and its digits): a literal, a name or a setting."""
    if isinstance(node, ast.Constant) and type(node.value) is int:  # not a bool
        return f"{NUMBER}{node.value}"
    if depth > 20:
        return None
    if isinstance(node, ast.Attribute) and settings_name(node, ctx):
        return settings_value(node, ctx, _typed, depth)
    if isinstance(node, ast.Subscript):
        return item_value(node, ctx, _typed, depth)
    if isinstance(node, (ast.Name, ast.Attribute)):
        found = lookup_expr(node, ctx)
        if found is None or not isinstance(found[0], ast.expr):
            return None
        return _typed(found[0], found[1], depth + 1)
    return string_value(node, ctx, depth)


def _string_operation(node: ast.BinOp, ctx: Context, depth: int, hole: str | None) -> str | None:
    if isinstance(node.op, ast.Add):
        parts = summands(node)
        if hole is not None and string_value(parts[0], ctx, depth + 1, hole) is None:
            return None  # no known text to splice into: not a string built here
        values = [_part(part, ctx, depth, hole) for part in parts]
        return None if None in values else "".join(values)  # type: ignore[arg-type]
    if isinstance(node.op, ast.Mod):
        template = string_value(node.left, ctx, depth + 1, hole)
        items = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        values = [_part(item, ctx, depth, hole, numbers=True) for item in items]
        if template is None or None in values:
            return None
        try:
            return template % tuple(values)
        except (TypeError, ValueError, KeyError):
            return None
    return None


def _formatted(value: ast.expr, ctx: Context, depth: int, hole: str | None) -> str | None:
    if isinstance(value, ast.FormattedValue):
        if value.conversion != -1 or value.format_spec is not None:
            return hole
        return _part(value.value, ctx, depth, hole, numbers=True)
    return string_value(value, ctx, depth + 1, hole)


def _string_call(node: ast.Call, ctx: Context, depth: int, hole: str | None) -> str | None:
    """`sep.join([...])`, `template.format(...)`, `dedent(text)`, `text.strip()`."""
    func = node.func
    name = last_name(func)
    if name == "dedent" and len(node.args) == 1:
        return string_value(node.args[0], ctx, depth + 1, hole)
    if not isinstance(func, ast.Attribute):
        return None
    base = string_value(func.value, ctx, depth + 1, hole)
    if base is None:
        return None
    if name in ("strip", "lstrip", "rstrip", "lower", "upper") and not node.args:
        return str(getattr(base, name)())
    if name == "join" and len(node.args) == 1:
        items = literal_items(node.args[0], ctx)
        parts = [_part(item, ctx, depth, hole) for item in items or []]
        return None if items is None or None in parts else base.join(parts)  # type: ignore[arg-type]
    if name == "format":
        args = [_part(arg, ctx, depth, hole, numbers=True) for arg in node.args]
        kwargs = {
            kw.arg: _part(kw.value, ctx, depth, hole, numbers=True)
            for kw in node.keywords
            if kw.arg
        }
        if None in args or None in kwargs.values() or len(kwargs) != len(node.keywords):
            return None
        try:
            return base.format(*args, **kwargs)
        except (IndexError, KeyError, ValueError, AttributeError):
            return None
    return None


def sql_statements(node: ast.expr | None, ctx: Context) -> list[str] | None:
    """Return the SQL statements of a RunSQL `sql` argument; None when they cannot be read."""
    if node is None:
        return None
    if isinstance(node, ast.Attribute) and node.attr == "noop":
        return []
    text = string_value(node, ctx, hole=UNREAD)
    if text is not None:
        return [text]
    items = literal_items(node, ctx) if not isinstance(node, ast.Dict) else None
    if items is None:
        return None
    out = []
    for element in items:
        if isinstance(element, (ast.List, ast.Tuple)) and element.elts:
            element = element.elts[0]  # (sql, params)
        text = string_value(element, ctx, hole=UNREAD)
        if text is None:
            return None
        out.append(text)
    return out

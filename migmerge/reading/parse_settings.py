"""Items of literal dicts, and values of the settings a project runs with, read statically.

A migration may build SQL from settings: osf.io creates its cache table
with `'CREATE TABLE "{}" ...'.format(settings.CACHES['default']['LOCATION'])`
(`django.conf.settings`, or the dict imported from a settings module). An
item of a dict literal is read when every key before it is known and
nothing changes the dict. Which settings module runs is not in the tree
(DJANGO_SETTINGS_MODULE), so `django.conf.settings.X` is read in every
settings module of the tree a project may run with, through its imports:
the value when all that hold it agree; unknown when they differ, when one
cannot be read, or when none holds it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from migmerge.reading.parse_names import Context, lookup, lookup_expr
from migmerge.reading.parse_nodes import mutated_in
from migmerge.reading.parse_source import module_tree

# What string_value gives (passed in: it calls here for subscripts and settings).
Strings = Callable[[ast.expr, Context, int], "str | None"]


class _Missing:
    """A key a dict literal does not hold, or a setting a module does not assign."""


MISSING = _Missing()


def item_value(node: ast.Subscript, ctx: Context, strings: Strings, depth: int) -> str | None:
    """`X['a']['b']` (X a dict literal, or a name holding one nothing changes): a string."""
    keys: list[ast.expr] = []
    base: ast.expr = node
    while isinstance(base, ast.Subscript):
        keys.insert(0, base.slice)
        base = base.value
    texts = [strings(key, ctx, depth + 1) for key in keys]
    if None in texts:
        return None
    root = settings_name(base, ctx)
    if root is not None:
        return _from_settings(root, [t for t in texts if t is not None], ctx, strings, depth)
    held = _held(base, ctx)
    if held is None:
        return None
    found = select(held[0], held[1], [t for t in texts if t is not None], strings, depth)
    if found is None or isinstance(found, _Missing):
        return None
    return strings(found[0], found[1], depth + 1)


def settings_name(node: ast.expr, ctx: Context) -> str | None:
    """`X` of `settings.X` where `settings` is `django.conf.settings`; else None."""
    if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
        return None
    if ctx.origins.get(node.value.id) != ("django.conf", "settings", 0):
        return None
    return node.attr


def settings_value(node: ast.Attribute, ctx: Context, strings: Strings, depth: int) -> str | None:
    """`settings.X` as a string, read in every settings module of the tree."""
    name = settings_name(node, ctx)
    return _from_settings(name, [], ctx, strings, depth) if name else None


def _from_settings(
    name: str, keys: list[str], ctx: Context, strings: Strings, depth: int
) -> str | None:
    if ctx.modules is None:
        return None
    modules = ctx.modules.as_seen_by(ctx.path)  # the settings of the migration's own side
    values: set[str] = set()
    for path in modules.settings_files():
        value = _in_settings_module(path, name, keys, ctx._replace(modules=modules), strings, depth)
        if value is None:
            return None
        if not isinstance(value, _Missing):
            values.add(value)
    return values.pop() if len(values) == 1 else None


def _in_settings_module(
    path: str, name: str, keys: list[str], ctx: Context, strings: Strings, depth: int
) -> str | _Missing | None:
    """The setting in one settings module: a string, MISSING, or None (not readable)."""
    assert ctx.modules is not None
    source = ctx.modules.data(ctx.path, path)
    if source is None:
        return MISSING  # not a file of this side
    tree = module_tree(source)
    if tree is None:
        return None
    module = Context.build(ctx.app, tree, ctx.settings, path=path, modules=ctx.modules, depth=1)
    if mutated_in(name, module.module_body) or _stored_below(name, module):
        return None
    found = lookup(name, module)
    if found is None:
        # Absent, or behind an import that is not followed: only the first is MISSING.
        follows = any(key.startswith("*") for key in module.origins)
        return None if follows or name in module.origins else MISSING
    value, where = found
    if not isinstance(value, ast.expr) or _changed_where(value, where, name):
        return None
    selected = select(value, where, keys, strings, depth)
    if selected is None or isinstance(selected, _Missing):
        return selected
    return strings(selected[0], selected[1], depth + 1)


def _stored_below(name: str, module: Context) -> bool:
    """Assigned under an `if` or a `try` only (the lookup reads module-level assignments)."""
    if name in module.constants:
        return False
    return any(
        isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
        for node in ast.walk(ast.Module(body=module.module_body, type_ignores=[]))
    )


def select(
    value: ast.expr, ctx: Context, keys: list[str], strings: Strings, depth: int
) -> tuple[ast.expr, Context] | _Missing | None:
    """The item `keys` pick out of nested dict literals; MISSING when a dict lacks a key."""
    for key in keys:
        held = _held(value, ctx) if not isinstance(value, ast.Dict) else (value, ctx)
        if held is None:
            return None
        found: ast.expr | None = None
        for item_key, item in zip(held[0].keys, held[0].values):
            if item_key is None:
                return None  # `**other`: it may hold the key
            text = strings(item_key, held[1], depth + 1)
            if text is None:
                return None  # a key not known may be this one
            if text == key:
                found = item
        if found is None:
            return MISSING
        value, ctx = found, held[1]
    return value, ctx


def _held(node: ast.expr, ctx: Context) -> tuple[ast.Dict, Context] | None:
    """The dict literal a name holds when no module on the way changes it."""
    if isinstance(node, ast.Dict):
        return node, ctx
    if not isinstance(node, (ast.Name, ast.Attribute)):
        return None
    if isinstance(node, ast.Name) and mutated_in(node.id, ctx.module_body):
        return None
    found = lookup_expr(node, ctx)
    if found is None or not isinstance(found[0], ast.Dict):
        return None
    name = node.id if isinstance(node, ast.Name) else node.attr
    if _changed_where(found[0], found[1], name):
        return None
    return found[0], found[1]


def _changed_where(value: ast.expr, where: Context, name: str) -> bool:
    """Tell whether the module that assigns `value` changes it (under whatever name)."""
    names = [n for n, held in where.constants.items() if held is value] or [name]
    return any(mutated_in(n, where.module_body) for n in names)

"""A method a RunPython calls on a repository class, as a function to walk.

awx's `CredentialType.setup_tower_managed_defaults(apps)`: the class found
where the code's names lead (its module, or a package `__init__` that
imports it), then the method the class itself defines. Read, never run.
"""

from __future__ import annotations

import ast

from migmerge.reading.parse_names import Context, lookup_expr
from migmerge.reading.parse_nodes import last_name


def class_of(func: ast.expr, ctx: Context) -> tuple[ast.ClassDef, Context] | None:
    """The repository class `func` is an attribute of (`CredentialType.setup`), or None."""
    if not isinstance(func, ast.Attribute):
        return None
    base = lookup_expr(func.value, ctx)
    if base is None or not isinstance(base[0], ast.ClassDef):
        return None
    return base[0], base[1]


def method_of(
    func: ast.expr, ctx: Context
) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, Context, int] | None:
    """A method called on its class (`Model.setup_defaults(apps)`), as a function to walk.

    Only a method the class itself defines (not one it inherits), plain,
    `@classmethod` or `@staticmethod`; with how many leading parameters the
    call does not pass (1 for a classmethod's `cls`). In a classmethod, `cls`
    stands for the class, so its calls to the class's other methods are
    followed too. Anything else: None (what it reaches stays unknown).
    """
    owner = class_of(func, ctx)
    if owner is None or not isinstance(func, ast.Attribute):
        return None
    cls, where = owner
    methods = [
        n
        for n in cls.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == func.attr
    ]
    if len(methods) != 1:
        return None
    (method,) = methods
    decorators = [last_name(d) for d in method.decorator_list]
    if decorators == ["classmethod"]:
        params = [*method.args.posonlyargs, *method.args.args]
        if not params:
            return None
        where = where._replace(classes={**where.classes, params[0].arg: cls})
        return method, where, 1
    if decorators in ([], ["staticmethod"]):
        return method, where, 0
    return None

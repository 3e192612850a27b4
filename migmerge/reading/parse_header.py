"""A Migration class's attributes and its header, read by `ast`.

dependencies, replaces, run_before and initial. The byte scan in headers.py
reads plain makemigrations files; this reads the rest: lists built by code
(a module-level name, a function called without arguments, `append`,
`extend`, `+=`, a branch of an `if`), swappable dependencies, and says in
`dynamic` what was not a plain literal and what is assumed instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

from migmerge.core.model import Key
from migmerge.reading.headers import swappable_key
from migmerge.reading.parse_names import Context
from migmerge.reading.parse_nodes import const_str, last_name, simple_assignment, snippet, summands
from migmerge.reading.parse_source import unparsed_line, why_not_taken

HEADER_NAMES = ("dependencies", "replaces", "run_before")


class Attrs:
    """Class-level assignments of a Migration class."""

    __slots__ = ("plain", "changed")

    def __init__(self) -> None:
        # Plain top-level assignments: the last one wins, as in Python.
        self.plain: dict[str, ast.expr] = {}
        # Names also assigned or changed in a nested block or by augmented assignment.
        self.changed: dict[str, str] = {}


WATCHED = (*HEADER_NAMES, "operations", "initial")


def class_attributes(cls: ast.ClassDef) -> Attrs:
    """Collect the class-level assignments of the watched names."""
    attrs = Attrs()
    for stmt in cls.body:
        target, value = simple_assignment(stmt)
        if target in WATCHED and value is not None:
            attrs.plain[target] = value
        elif (chosen := _chosen_operations(stmt, attrs.plain.get("operations"))) is not None:
            attrs.plain["operations"] = chosen
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for name, how in _nested_changes(stmt):
                attrs.changed.setdefault(name, how)
    return attrs


def chosen_at_module_level(tree: ast.Module) -> ast.Module:
    """The module with each top-level `if` choosing `operations` as one assignment.

    `if C: operations = A` (`else: operations = B`) becomes
    `operations = A if C else B`, as `class_attributes` reads it in the class
    body, so `operations = operations` in the class is read the same way.
    The tree itself is left as it is.
    """
    body: list[ast.stmt] = []
    before: ast.expr | None = None
    for stmt in tree.body:
        target, value = simple_assignment(stmt)
        if target == "operations":
            before = value
        elif (chosen := _chosen_operations(stmt, before)) is not None:
            if (
                isinstance(stmt, ast.If) and not stmt.orelse
            ):  # the value it keeps is in the choice now: one assignment
                body = [s for s in body if simple_assignment(s)[0] != "operations"]
            name = ast.Name(id="operations", ctx=ast.Store())
            stmt = ast.copy_location(ast.Assign(targets=[name], value=chosen), stmt)
            before = chosen
        body.append(stmt)
    return ast.Module(body=body, type_ignores=tree.type_ignores)


def _chosen_operations(stmt: ast.stmt, before: ast.expr | None) -> ast.expr | None:
    """`if C: operations = A` (`else: operations = B`) as the expression `A if C else B`.

    Each branch assigns `operations` once, plainly, and changes no other
    watched name; a branch that is missing keeps the value `before` (if any).
    Anything else is None (the name is then "changed in an `if` block").
    """
    if not isinstance(stmt, ast.If):
        return None
    arms = [_assigned_operations(stmt.body), _assigned_operations(stmt.orelse)]
    if not stmt.orelse:
        arms[1] = before
    if arms[0] is None or arms[1] is None:
        return None
    return ast.copy_location(ast.IfExp(test=stmt.test, body=arms[0], orelse=arms[1]), stmt)


def _assigned_operations(body: list[ast.stmt]) -> ast.expr | None:
    """The value a block assigns `operations`, when that is all it does to a watched name."""
    values = []
    for stmt in body:
        target, value = simple_assignment(stmt)
        if target == "operations" and value is not None:
            values.append(value)
        elif any(True for _ in _nested_changes(stmt)):
            return None
    return values[0] if len(values) == 1 else None


def _nested_changes(stmt: ast.stmt) -> Iterator[tuple[str, str]]:
    """Yield watched names a statement assigns or mutates other than plainly."""
    how = "changed in an `if` block" if isinstance(stmt, ast.If) else "changed by code"
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and node.id in WATCHED and isinstance(node.ctx, ast.Store):
            yield node.id, how
        elif _is_mutation(node):
            assert isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            yield node.value.id, f"changed by .{node.attr}()"


def _is_mutation(node: ast.AST) -> bool:
    """Tell whether `node` is `<watched name>.append` (or extend, insert)."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in WATCHED
        and node.attr in ("append", "extend", "insert")
    )


class _Header(NamedTuple):
    values: dict[str, tuple[Key, ...]]
    notes: list[str]


def guarded_header(attrs: Attrs, ctx: Context) -> _Header:
    """Read the header; a failure to read it is noted, never raised."""
    try:
        return _read_header_attrs(attrs, ctx)
    except Exception as exc:  # noqa: BLE001 - one file must never stop a check
        why = f"reading them failed ({why_not_taken(exc)})"
        ctx.problems.append(f"its dependencies cannot be read: {why}")
        empty: dict[str, tuple[Key, ...]] = {attr: () for attr in HEADER_NAMES}
        return _Header(empty, [dynamic_note("dependencies", [why])])


def _read_header_attrs(attrs: Attrs, ctx: Context) -> _Header:
    """Evaluate the literal parts of dependencies, replaces and run_before."""
    header = _Header({}, [])
    for attr in HEADER_NAMES:
        node = attrs.plain.get(attr)
        keys, problems = _keys(node, ctx) if node is not None else ([], [])
        header.values[attr] = tuple(keys)
        if attr in attrs.changed:
            problems.append(attrs.changed[attr])
        if problems:
            own = any(app == ctx.app for app, _ in keys)
            header.notes.append(dynamic_note(attr, problems, own))
    return header


def dynamic_note(attr: str, problems: Sequence[str], own: bool = False) -> str:
    """Say, in words, what was not read and what is assumed instead."""
    if attr != "dependencies":
        assumed = "only its literal parts were read"
    elif own:
        assumed = "what could be read is kept"
    else:
        assumed = "assumed the previous migration of the app by number"
    return f"{attr} is not a plain literal ({', '.join(problems)}): {assumed}"


def _keys(node: ast.expr, ctx: Context) -> tuple[list[Key], list[str]]:
    """Read a list of migration keys; return what was read and what could not be.

    A module-level name or a call of a module-level function without
    arguments is evaluated statically (karrio's `get_dependencies()`).
    """
    keys: list[Key] = []
    problems: list[str] = []
    for part in summands(node):
        if isinstance(part, (ast.List, ast.Tuple)):
            _list_keys(part, ctx, keys, problems)
            continue
        built = _built_keys(part, ctx)
        if built is None:
            problems.append(f"`{snippet(part)}`")
            continue
        keys += built.certain + built.possible
        problems += built.problems
        if built.possible:
            shown = ", ".join(f"{a}.{n}" for a, n in built.possible)
            problems.append(f"`{snippet(part)}` adds {shown} only when a condition holds")
    return keys, problems


class _Built(NamedTuple):
    """A list built by code, as far as it reads statically."""

    certain: list[Key]
    possible: list[Key]  # added under a condition (`if`, a loop, `try`)
    problems: list[str]


def _built_keys(node: ast.expr, ctx: Context) -> _Built | None:
    """Evaluate a module-level name, or a call of a module-level function, for its keys."""
    if isinstance(node, ast.Name) and node.id in ctx.constants and node.id not in ctx.evaluating:
        body, name = ctx.module_body, node.id
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ctx.functions
        and not node.args
        and not node.keywords
        and node.func.id not in ctx.evaluating
    ):
        body, name = ctx.functions[node.func.id].body, None
    else:
        return None
    ctx.evaluating.add(name or node.func.id)  # type: ignore[union-attr]
    try:
        return _ListBuilder(ctx).run(body, name)
    finally:
        ctx.evaluating.discard(name or node.func.id)  # type: ignore[union-attr]


class _ListBuilder:
    """Follow the statements that build a list of keys: assignments, append, extend, +=."""

    __slots__ = ("ctx", "lists", "returned")

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.lists: dict[str, _Built] = {}
        self.returned: _Built | None = None

    def run(self, body: list[ast.stmt], name: str | None) -> _Built | None:
        """The keys of `name` after `body` (None: of what `body` returns)."""
        self._visit(body, certain=True)
        return self.lists.get(name) if name else self.returned

    def _visit(self, body: list[ast.stmt], certain: bool) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            self._statement(stmt, certain)
            for nested in (getattr(stmt, f, []) for f in ("body", "orelse", "finalbody")):
                self._visit(nested, certain=False)
            for handler in getattr(stmt, "handlers", []):
                self._visit(handler.body, certain=False)

    def _statement(self, stmt: ast.stmt, certain: bool) -> None:
        target, value = simple_assignment(stmt)
        if target is not None and value is not None:
            self._add(target, value, certain, replace=certain)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            self._add(stmt.target.id, stmt.value, certain, replace=False)
        elif isinstance(stmt, ast.Expr) and _is_list_call(stmt.value):
            call: ast.Call = stmt.value  # type: ignore[assignment]
            func: ast.Attribute = call.func  # type: ignore[assignment]
            items = ast.List(elts=call.args[-1:], ctx=ast.Load())
            added = items if func.attr in ("append", "insert") else call.args[0]
            self._add(func.value.id, added, certain, replace=False)  # type: ignore[attr-defined]
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            found = self._value(stmt.value, certain)
            self.returned = found if self.returned is None else _merged(self.returned, found)

    def _add(self, name: str, value: ast.expr, certain: bool, *, replace: bool) -> None:
        before = _Built([], [], []) if replace else self.lists.get(name, _Built([], [], []))
        self.lists[name] = _merged(before, self._value(value, certain))

    def _value(self, value: ast.expr, certain: bool) -> _Built:
        """The keys of an expression, the lists built so far standing for their names."""
        total = _Built([], [], [])
        for part in summands(value):
            if isinstance(part, ast.Name) and part.id in self.lists:
                total = _merged(total, self.lists[part.id])
            else:
                keys, problems = _keys(part, self.ctx)
                total = _merged(total, _Built(keys, [], problems))
        if certain:
            return total
        return _Built([], total.certain + total.possible, total.problems)


def _merged(a: _Built, b: _Built) -> _Built:
    return _Built(a.certain + b.certain, a.possible + b.possible, a.problems + b.problems)


def _is_list_call(node: ast.expr) -> bool:
    """`name.append(x)`, `name.extend(xs)`, `name.insert(i, x)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.attr in ("append", "extend", "insert")
        and len(node.args) in (1, 2)
    )


def _list_keys(
    node: ast.List | ast.Tuple, ctx: Context, keys: list[Key], problems: list[str]
) -> None:
    """Read the keys of one list literal into `keys`, what cannot be read into `problems`."""
    for element in node.elts:
        line = unparsed_line(element)
        key = _key(element, ctx) if line is None else None
        if line is not None:
            problems.append(f"line {line} cannot be parsed")
        elif key is None:
            problems.append(f"`{snippet(element)}`")
        else:
            keys.append(key)


def _key(node: ast.expr, ctx: Context) -> Key | None:
    """Read one dependency: a pair of strings or a swappable_dependency call."""
    if isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) == 2:
        app, name = (const_str(e) for e in node.elts)
        if app is not None and name is not None:
            return (app, name)
        return None
    if isinstance(node, ast.Call) and last_name(node.func) == "swappable_dependency":
        return _swappable(node.args[0], ctx.settings) if len(node.args) == 1 else None
    return None


def _swappable(arg: ast.expr, settings: Mapping[str, str]) -> Key | None:
    """Resolve the argument of swappable_dependency as Django does: (app, "__first__")."""
    literal = const_str(arg)
    if literal is not None and "." in literal:
        return (literal.split(".", 1)[0], "__first__")
    if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
        return swappable_key(arg.attr, settings)
    return None


def read_initial(attrs: Attrs) -> bool | None:
    """Return the class's `initial` when it is a literal bool."""
    node = attrs.plain.get("initial")
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None

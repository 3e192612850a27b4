"""Read Django migration files statically: `ast`, never import or exec.

`parse_migration` reads a whole file (header and operations); `read_header` is
the fast path the conflict search runs on every migration of a repository.

Longer than 400 lines for one reason: the operation readers are one table,
a short reader for each operation Django (and the common third-party apps)
define, with what RunPython and RunSQL reach, all sharing one context of the
file's names and imports. Split, each piece would need that context passed
through every reader; the SQL itself is read in sql_tables, the fallback
for what Python cannot parse in salvage.
"""

from __future__ import annotations

import ast
import copy
import io
import re
import sys
import tokenize
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple, Protocol

from migmerge.core.model import SETTING_APP, Key, Migration, Operation
from migmerge.errors import NotAMigration, SouthMigration
from migmerge.reading.headers import fast_header_fields, header_migration, swappable_key
from migmerge.reading.salvage import Unparsed, salvage
from migmerge.reading.sql_tables import sql_tables

HEADER_NAMES = ("dependencies", "replaces", "run_before")
# South's migration classes (Django before 1.7): not Django migrations.
SOUTH_BASES = frozenset({"SchemaMigration", "DataMigration"})

# Postgres extension operations: they install an extension and touch no model.
HARMLESS_OPS = frozenset(
    {
        "CreateExtension",
        "BtreeGinExtension",
        "BtreeGistExtension",
        "BloomExtension",
        "CITextExtension",
        "CryptoExtension",
        "HStoreExtension",
        "TrigramExtension",
        "UnaccentExtension",
        # django.contrib.postgres: a database collation is no model's.
        "CreateCollation",
        "RemoveCollation",
    }
)

RELATION_FIELDS = ("ForeignKey", "OneToOneField", "ManyToManyField", "ForeignObject")


# ---------------------------------------------------------------------------
# Entry points


def parse_migration(
    source: bytes,
    *,
    app: str,
    name: str,
    path: str,
    operations: bool = True,
    settings: Mapping[str, str] | None = None,
    modules: ModuleSource | None = None,
) -> Migration:
    """Read a migration's source into a Migration, with its operations unless told not to.

    `modules`: where to find the repository's other modules, to follow what
    the operations import (RunPython functions, SQL, custom operations).

    Never fails on a file that holds a migration: what Python cannot parse is
    read by the fallback reader as far as it goes, an operation whose reading
    fails is unreadable, and `unreadable` says what was not read. NotAMigration
    when the file holds no Migration class.
    """
    tree, problem = _parse_tree(source, path)
    cls = _migration_class(tree, path, problem, source)
    ctx = _Context.build(app, tree, settings or {}, path=path, modules=modules)
    if problem:
        ctx.problems.append(problem)
    if cls is None:
        return _unread(app, name, path, operations, ctx)
    _class_scope(cls, ctx)
    attrs = _class_attributes(cls)
    if problem and problem.startswith(SALVAGED):
        _unsalvaged(attrs)
    header = _guarded_header(attrs, ctx)
    ops = _read_operations(attrs, ctx) if operations else None
    return Migration(
        app=app,
        name=name,
        path=path,
        dependencies=header.values["dependencies"],
        replaces=header.values["replaces"],
        run_before=header.values["run_before"],
        initial=_read_initial(attrs),
        operations=ops,
        dynamic="; ".join(header.notes) or None,
        unreadable="; ".join(dict.fromkeys(ctx.problems)) or None,
    )


def _class_scope(cls: ast.ClassDef, ctx: _Context) -> None:
    """Names the class body defines come first in its own expressions (`operations`).

    arches defines its RunPython functions inside `class Migration`, and
    keeps SQL in class attributes.
    """
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ctx.functions[stmt.name] = stmt
        target, value = _simple_assignment(stmt)
        if target is not None and value is not None and target not in WATCHED:
            ctx.constants[target] = value


def _unsalvaged(attrs: _Attrs) -> None:
    """What the fallback reader did not find is unknown, not absent."""
    for attr in ("dependencies", "operations"):
        if attr not in attrs.plain:
            attrs.changed.setdefault(attr, "in a part of the file that cannot be parsed")


def _unread(app: str, name: str, path: str, operations: bool, ctx: _Context) -> Migration:
    """A migration nothing of which can be read: placed as makemigrations would, unknown."""
    note = "the Migration class cannot be read"
    return Migration(
        app=app,
        name=name,
        path=path,
        operations=(Operation(op="operations", readable=False, note=note),) if operations else None,
        dynamic=_dynamic_note("dependencies", [note]),
        unreadable="; ".join(ctx.problems),
    )


def read_header(
    source: bytes,
    *,
    app: str,
    name: str,
    path: str,
    settings: Mapping[str, str] | None = None,
) -> Migration:
    """Read only a migration's dependencies, replaces, run_before and initial, fast."""
    fields = fast_header_fields(source)
    if fields is not None:
        return header_migration(fields, app, name, path, settings or {})
    return parse_migration(
        source, app=app, name=name, path=path, operations=False, settings=settings
    )


# ---------------------------------------------------------------------------
# Decoding and finding the class


def _parse_tree(source: bytes, path: str) -> tuple[ast.Module, str | None]:
    """Parse `source` as Python's compiler does; else what the fallback reader salvages.

    The bytes go to the compiler as they are, so it decides the encoding (BOM,
    coding line, bytes in comments) exactly as when Django imports the file.
    Returns the tree and, when Python would not take the file, why.
    """
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return _salvaged(source, exc)
    refusal = _refusal(tree, source, path)
    return tree, refusal


def _refusal(tree: ast.Module, source: bytes, path: str) -> str | None:
    """What Python's compiler refuses beyond syntax (`from __future__ import braces`).

    Asked of every file read in full: no cheaper test is sound (a keyword
    repeated in a call is refused only here), and it costs a tenth of the parse.
    """
    try:
        try:
            compile(tree, path, "exec", dont_inherit=True)
        except RecursionError:  # too deep as Python objects; the compiler may still take it
            compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return f"Python refuses it ({_why(exc)}), so Django cannot import it either"
    return None


def _salvaged(source: bytes, exc: BaseException) -> tuple[ast.Module, str]:
    """Read what the fallback reader can of a file Python cannot parse."""
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(source).readline)[0]
        text = source.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        text = source.decode("utf-8", errors="replace")
    found = salvage(text.replace("\0", ""))
    lost = ", ".join(map(str, found.lost[:5])) + (", ..." if len(found.lost) > 5 else "")
    left = f" (left out: line {lost})" if lost else ""
    reason = f"{SALVAGED} ({_why(exc)}): read as far as it goes{left}"
    return found.tree, reason


# How an `unreadable` note begins when the fallback reader read the file.
SALVAGED = f"Python {sys.version_info[0]}.{sys.version_info[1]} cannot parse it"


def _why(exc: BaseException) -> str:
    """Say in a few words why Python did not take a file."""
    if "null bytes" in str(exc):
        return "the file contains NUL bytes"
    if isinstance(exc, SyntaxError):
        return f"line {exc.lineno}: {exc.msg}" if exc.lineno else str(exc.msg)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _migration_class(
    tree: ast.Module, path: str, problem: str | None, source: bytes
) -> ast.ClassDef | None:
    """Return the last module-level `class Migration`, as Python would bind it.

    None when the file is a migration that cannot be read (Python cannot
    parse it and the class was not salvaged); NotAMigration when it is none.
    """
    found = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration"]
    if found:
        if {_last_name(base) for base in found[-1].bases} & SOUTH_BASES:
            raise SouthMigration(path, "a South migration, which Django does not read")
        return found[-1]
    if problem and re.search(rb"class\s+Migration\b", source):
        return None
    raise NotAMigration(path, "no Migration class" + (f" ({problem})" if problem else ""))


class _Attrs:
    """Class-level assignments of a Migration class."""

    __slots__ = ("plain", "changed")

    def __init__(self) -> None:
        # Plain top-level assignments: the last one wins, as in Python.
        self.plain: dict[str, ast.expr] = {}
        # Names also assigned or changed in a nested block or by augmented assignment.
        self.changed: dict[str, str] = {}


WATCHED = (*HEADER_NAMES, "operations", "initial")


def _class_attributes(cls: ast.ClassDef) -> _Attrs:
    """Collect the class-level assignments of the watched names."""
    attrs = _Attrs()
    for stmt in cls.body:
        target, value = _simple_assignment(stmt)
        if target in WATCHED and value is not None:
            attrs.plain[target] = value
        elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for name, how in _nested_changes(stmt):
                attrs.changed.setdefault(name, how)
    return attrs


def _simple_assignment(stmt: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """Return (name, value) for `name = value` or `name: T = value`, else (None, None)."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            return target.id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id, stmt.value
    return None, None


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


# ---------------------------------------------------------------------------
# Module context: settings, module-level functions, imports


class ModuleSource(Protocol):
    """Other modules of the repository, at the revision being read, by import name.

    Given to `parse_migration` where a migration's operations may use code
    from elsewhere in the tree (a RunPython function, SQL, a custom
    operation). Only bytes pass: nothing is imported or run.
    """

    # Parsed modules by (path, hash of bytes), kept across migrations (None: unparsable).
    trees: dict[tuple[str, int], ast.Module | None]

    def find(self, importer: str, module: str, level: int) -> tuple[str, bytes] | None:
        """The path and bytes of `module` as `importer` (a path) imports it, or None."""


# How far imports are followed from a migration (module to module).
FOLLOW_DEPTH = 4


class _Context(NamedTuple):
    app: str
    settings: Mapping[str, str]
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]
    imports: dict[str, str]
    # What could not be read, in words: the file's `unreadable`.
    problems: list[str]
    module_body: list[ast.stmt]
    # Module-level names assigned a value, and the value last assigned.
    constants: dict[str, ast.expr]
    # Names being evaluated now (a name defined by itself is not read twice).
    evaluating: set[str]
    path: str = ""
    modules: ModuleSource | None = None
    depth: int = 0
    classes: dict[str, ast.ClassDef] = {}
    # name -> (module, attribute or "" for the module itself, relative level)
    origins: dict[str, tuple[str, str, int]] = {}

    @classmethod
    def build(
        cls,
        app: str,
        tree: ast.Module,
        settings: Mapping[str, str],
        *,
        path: str = "",
        modules: ModuleSource | None = None,
        depth: int = 0,
    ) -> _Context:
        """Index the module's functions, classes, imported names and module-level values."""
        functions = {
            n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        constants = {}
        for stmt in tree.body:
            target, value = _simple_assignment(stmt)
            if target is not None and value is not None:
                constants[target] = value
        return cls(
            app,
            settings,
            functions,
            _imports(tree),
            [],
            tree.body,
            constants,
            set(),
            path,
            modules,
            depth,
            classes,
            _origins(tree),
        )


def _imports(tree: ast.Module) -> dict[str, str]:
    """Map each module-level imported name to the dotted path it comes from."""
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                out[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                out[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
    return out


def _origins(tree: ast.Module) -> dict[str, tuple[str, str, int]]:
    """Where each imported name comes from: (module, attribute, relative level)."""
    out: dict[str, tuple[str, str, int]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                # Star imports under "*<n>": looked into when a name is found nowhere else.
                key = f"*{len(out)}" if alias.name == "*" else alias.asname or alias.name
                out[key] = (node.module or "", alias.name, node.level)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    out[alias.asname] = (alias.name, "", 0)
                else:
                    out[alias.name.split(".")[0]] = (alias.name.split(".")[0], "", 0)
    return out


# ---------------------------------------------------------------------------
# Names defined elsewhere: in this module, or in a module it imports


class _Module(NamedTuple):
    """A module reached through an import (`from . import helpers`; `helpers.f`)."""

    ctx: _Context


Found = tuple[ast.AST | _Module, _Context]


def _lookup(name: str, ctx: _Context) -> Found | None:
    """Where `name` is defined, seen from `ctx`: a def, a class, a value or a module."""
    if name in ctx.functions:
        return ctx.functions[name], ctx
    if name in ctx.classes:
        return ctx.classes[name], ctx
    if name in ctx.constants:
        return ctx.constants[name], ctx
    origin = ctx.origins.get(name)
    if origin is None:
        return _star_lookup(name, ctx)
    module, attribute, level = origin
    if not attribute:
        other = _module_of(ctx, module, level)
        return (_Module(other), other) if other else None
    other = _module_of(ctx, module, level)
    found = _lookup(attribute, other) if other is not None else None
    if found is not None:
        return found
    submodule = _module_of(ctx, f"{module}.{attribute}" if module else attribute, level)
    return (_Module(submodule), submodule) if submodule else None


def _star_lookup(name: str, ctx: _Context) -> Found | None:
    """`name` from a module this one star-imports (`from awx.main.utils.common import *`)."""
    for key, (module, _, level) in ctx.origins.items():
        if key.startswith("*"):
            other = _module_of(ctx, module, level)
            found = _lookup(name, other) if other is not None else None
            if found is not None:
                return found
    return None


def _lookup_expr(node: ast.expr, ctx: _Context) -> Found | None:
    """Where a name or a dotted name (`helpers.forwards`) is defined."""
    if isinstance(node, ast.Name):
        return _lookup(node.id, ctx)
    if isinstance(node, ast.Attribute):
        base = _lookup_expr(node.value, ctx)
        if base is not None and isinstance(base[0], _Module):
            return _lookup(node.attr, base[0].ctx)
    return None


def _module_of(ctx: _Context, module: str, level: int) -> _Context | None:
    """The context of another module of the repository, parsed once per run."""
    if ctx.modules is None or ctx.depth >= FOLLOW_DEPTH or module.startswith("django."):
        return None
    found = ctx.modules.find(ctx.path, module, level)
    if found is None:
        return None
    path, source = found
    key = (path, hash(source))  # one path, two sides: two versions
    if key not in ctx.modules.trees:
        ctx.modules.trees[key] = _module_tree(source)
    tree = ctx.modules.trees[key]
    if tree is None:
        return None
    return _Context.build(
        ctx.app, tree, ctx.settings, path=path, modules=ctx.modules, depth=ctx.depth + 1
    )


def _module_tree(source: bytes) -> ast.Module | None:
    """Parse a module imported by a migration, as far as it reads."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        try:
            return salvage(source.decode("utf-8", "replace").replace("\0", "")).tree
        except RecursionError:
            return None


def module_paths(importer: str, module: str, level: int) -> list[str]:
    """Where `module` may live, as `importer` (a repository path) imports it.

    Relative imports: from the importer's folder. Absolute ones: under each
    folder above the importer, the shallowest first (sys.path roots are
    near the top: a project's root, or `modules/core` in a monorepo).
    """
    rest = module.replace(".", "/")
    if level:
        parts = importer.split("/")[:-1]
        parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
        stems = ["/".join(filter(None, ["/".join(parts), rest]))]
    else:
        parts = importer.split("/")[:-1]
        stems = ["/".join(filter(None, ["/".join(parts[:i]), rest])) for i in range(len(parts) + 1)]
    return [f"{stem}{end}" for stem in stems if stem for end in (".py", "/__init__.py")]


# ---------------------------------------------------------------------------
# Header: dependencies, replaces, run_before, initial


class _Header(NamedTuple):
    values: dict[str, tuple[Key, ...]]
    notes: list[str]


def _guarded_header(attrs: _Attrs, ctx: _Context) -> _Header:
    """Read the header; a failure to read it is noted, never raised."""
    try:
        return _read_header_attrs(attrs, ctx)
    except Exception as exc:  # noqa: BLE001 - one file must never stop a check
        why = f"reading them failed ({_why(exc)})"
        ctx.problems.append(f"its dependencies cannot be read: {why}")
        empty: dict[str, tuple[Key, ...]] = {attr: () for attr in HEADER_NAMES}
        return _Header(empty, [_dynamic_note("dependencies", [why])])


def _read_header_attrs(attrs: _Attrs, ctx: _Context) -> _Header:
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
            header.notes.append(_dynamic_note(attr, problems, own))
    return header


def _dynamic_note(attr: str, problems: Sequence[str], own: bool = False) -> str:
    """Say, in words, what was not read and what is assumed instead."""
    if attr != "dependencies":
        assumed = "only its literal parts were read"
    elif own:
        assumed = "what could be read is kept"
    else:
        assumed = "assumed the previous migration of the app by number"
    return f"{attr} is not a plain literal ({', '.join(problems)}): {assumed}"


def _keys(node: ast.expr, ctx: _Context) -> tuple[list[Key], list[str]]:
    """Read a list of migration keys; return what was read and what could not be.

    A module-level name or a call of a module-level function without
    arguments is evaluated statically (karrio's `get_dependencies()`).
    """
    keys: list[Key] = []
    problems: list[str] = []
    for part in _summands(node):
        if isinstance(part, (ast.List, ast.Tuple)):
            _list_keys(part, ctx, keys, problems)
            continue
        built = _built_keys(part, ctx)
        if built is None:
            problems.append(f"`{_snippet(part)}`")
            continue
        keys += built.certain + built.possible
        problems += built.problems
        if built.possible:
            shown = ", ".join(f"{a}.{n}" for a, n in built.possible)
            problems.append(f"`{_snippet(part)}` adds {shown} only when a condition holds")
    return keys, problems


class _Built(NamedTuple):
    """A list built by code, as far as it reads statically."""

    certain: list[Key]
    possible: list[Key]  # added under a condition (`if`, a loop, `try`)
    problems: list[str]


def _built_keys(node: ast.expr, ctx: _Context) -> _Built | None:
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

    def __init__(self, ctx: _Context) -> None:
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
        target, value = _simple_assignment(stmt)
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
        for part in _summands(value):
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
    node: ast.List | ast.Tuple, ctx: _Context, keys: list[Key], problems: list[str]
) -> None:
    """Read the keys of one list literal into `keys`, what cannot be read into `problems`."""
    for element in node.elts:
        line = _unparsed(element)
        key = _key(element, ctx) if line is None else None
        if line is not None:
            problems.append(f"line {line} cannot be parsed")
        elif key is None:
            problems.append(f"`{_snippet(element)}`")
        else:
            keys.append(key)


def _summands(node: ast.expr) -> list[ast.expr]:
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


def _key(node: ast.expr, ctx: _Context) -> Key | None:
    """Read one dependency: a pair of strings or a swappable_dependency call."""
    if isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) == 2:
        app, name = (_const_str(e) for e in node.elts)
        if app is not None and name is not None:
            return (app, name)
        return None
    if isinstance(node, ast.Call) and _last_name(node.func) == "swappable_dependency":
        return _swappable(node.args[0], ctx.settings) if len(node.args) == 1 else None
    return None


def _swappable(arg: ast.expr, settings: Mapping[str, str]) -> Key | None:
    """Resolve the argument of swappable_dependency as Django does: (app, "__first__")."""
    literal = _const_str(arg)
    if literal is not None and "." in literal:
        return (literal.split(".", 1)[0], "__first__")
    if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
        return swappable_key(arg.attr, settings)
    return None


def _read_initial(attrs: _Attrs) -> bool | None:
    """Return the class's `initial` when it is a literal bool."""
    node = attrs.plain.get("initial")
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


# ---------------------------------------------------------------------------
# Small AST helpers


def _const_str(node: ast.expr | None) -> str | None:
    """Return the value of a string constant, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _lower(node: ast.expr | None) -> str | None:
    """Return a string constant lower-cased, else None."""
    value = _const_str(node)
    return value.lower() if value is not None else None


def _last_name(node: ast.expr) -> str | None:
    """Return `c` for `a.b.c` or `c`, else None."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _dotted(node: ast.expr) -> str | None:
    """Return "a.b.c" for an attribute chain of names, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _snippet(node: ast.AST, limit: int = 60) -> str:
    """Return a short source rendering of `node` for messages."""
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bind(call: ast.Call, params: Sequence[str]) -> dict[str, ast.expr]:
    """Bind a call's positional and keyword arguments to parameter names."""
    bound = {param: arg for param, arg in zip(params, call.args, strict=False)}
    for kw in call.keywords:
        if kw.arg is not None:
            bound[kw.arg] = kw.value
    return bound


def _elements(node: ast.expr | None) -> list[ast.expr] | None:
    """Return the items of a list/tuple literal (or a sum of them), else None."""
    if node is None:
        return []
    out: list[ast.expr] = []
    for part in _summands(node):
        if not isinstance(part, (ast.List, ast.Tuple)):
            return None
        out += part.elts
    return out


# ---------------------------------------------------------------------------
# Operations


def _read_operations(attrs: _Attrs, ctx: _Context) -> tuple[Operation, ...]:
    """Read the class's `operations` list."""
    node = attrs.plain.get("operations")
    if "operations" in attrs.changed:
        note = f"operations is {attrs.changed['operations']}"
        return (Operation(op="operations", readable=False, note=note),)
    return _operation_list(node, ctx) if node is not None else ()


def _operation_list(node: ast.expr | None, ctx: _Context) -> tuple[Operation, ...]:
    """Read a list literal of operation calls."""
    elements = _elements(node)
    if elements is None:
        assert node is not None
        note = f"operations is not a literal list: `{_snippet(node)}`"
        return (Operation(op="operations", readable=False, note=note),)
    expanded = [item for element in elements for item in _unrolled(element, ctx)]
    return tuple(_guarded_operation(element, ctx) for element in expanded)


def _unrolled(element: ast.expr, ctx: _Context) -> list[ast.expr]:
    """`*[AddField(model_name=m, ...) for m in ('a', 'b')]`: one operation per value.

    Only a comprehension with one `for` over a literal (or a module-level
    name holding one) of strings, unfiltered; anything else stays as it is.
    """
    if not isinstance(element, ast.Starred) or not isinstance(element.value, ast.ListComp):
        return [element]
    comp = element.value
    if len(comp.generators) != 1 or comp.generators[0].ifs:
        return [element]
    loop = comp.generators[0]
    items = _literal_items(loop.iter, ctx)
    if items is None or not isinstance(loop.target, ast.Name):
        return [element]
    strings = [_string(item, ctx) for item in items]
    if None in strings:
        return [element]
    return [_substituted(comp.elt, loop.target.id, text) for text in strings if text is not None]


class _Substitute(ast.NodeTransformer):
    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def visit_Name(self, node: ast.Name) -> ast.expr:  # noqa: N802 - ast's visitor name
        return ast.Constant(self.value) if node.id == self.name else node


def _substituted(node: ast.expr, name: str, value: str) -> ast.expr:
    """A copy of `node` with the loop variable `name` replaced by `value`."""
    result: ast.expr = _Substitute(name, value).visit(copy.deepcopy(node))
    return result


def _guarded_operation(node: ast.expr, ctx: _Context) -> Operation:
    """Read one operation; a failure to read it makes it unreadable, never stops the check."""
    try:
        return _operation(node, ctx)
    except Exception as exc:  # noqa: BLE001 - one operation must never stop a check
        name = (_last_name(node.func) if isinstance(node, ast.Call) else None) or "operation"
        note = f"reading it failed ({_why(exc)})"
        ctx.problems.append(f"{name} at line {getattr(node, 'lineno', '?')}: {note}")
        return Operation(op=name, readable=False, note=note)


def _unparsed(node: ast.expr) -> int | None:
    """The line of a list item the fallback reader could not parse, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, Unparsed):
        return node.value.line
    return None


def _operation(node: ast.expr, ctx: _Context) -> Operation:
    """Read one operation call."""
    line = _unparsed(node)
    if line is not None:
        return Operation(op="operations", readable=False, note=f"line {line} cannot be parsed")
    if not isinstance(node, ast.Call):
        note = f"`{_snippet(node)}` is not an operation call"
        return Operation(op="operations", readable=False, note=note)
    name = _last_name(node.func) or "operation"
    if name in HARMLESS_OPS:
        return Operation(op=name)
    reader = READERS.get(name)
    if reader is None or not _is_django_operation(node.func, ctx):
        reader = THIRD_PARTY_READERS.get(_full_name(node.func, ctx))
        if reader is None:
            return _custom_operation(name, node, ctx)
    op = reader(name, _bind(node, reader.params), ctx)
    return op._replace(detail=_detail(node))


def _detail(node: ast.Call) -> str | None:
    """The call's arguments, normalised; None when too deep to render (then never equal)."""
    try:
        return ast.dump(node, annotate_fields=False)
    except RecursionError:
        return None


def _custom_operation(name: str, node: ast.Call, ctx: _Context) -> Operation:
    """Read a custom operation defined in the repository; else it is unknown."""
    found = _lookup_expr(node.func, ctx)
    if found is not None and isinstance(found[0], ast.ClassDef):
        read = _operation_class(name, found[0], found[1])
        if read is not None:
            return read._replace(detail=_detail(node))
    origin = _origin(node.func, ctx)
    note = f"{name} is a custom operation{origin}; what it touches is unknown"
    return Operation(op=name, readable=False, note=note)


def _operation_class(name: str, cls: ast.ClassDef, ctx: _Context) -> Operation | None:
    """What an `Operation` subclass touches: the models its database_forwards gets.

    Only a direct subclass of Operation whose state_forwards does nothing and
    whose database_forwards leaves the schema editor alone (data through
    get_model, as a RunPython would) is read; None for anything else.
    """
    if "Operation" not in {_last_name(base) for base in cls.bases}:
        return None
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    where = f"{name} ({ctx.path or 'this file'})"
    state = methods.get("state_forwards")
    if state is not None and not _does_nothing(state):
        note = f"{where} changes the migration state in code"
        return Operation(op=name, readable=False, note=note)
    forwards = methods.get("database_forwards")
    reach = _Reach()
    if forwards is not None:
        if _uses_schema_editor(forwards):
            note = f"{where} changes the database through its schema editor"
            return Operation(op=name, readable=False, note=note)
        _walk_code(forwards, ctx, reach)
    if reach.problems:
        note = f"{where} " + "; ".join(dict.fromkeys(reach.problems))
        return Operation(op=name, readable=False, note=note, reaches=_unique(reach.models))
    return Operation(op=name, reaches=_unique(reach.models))


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


def _is_django_operation(func: ast.expr, ctx: _Context) -> bool:
    """Tell whether a call names one of Django's own migration operations."""
    dotted = _dotted(func)
    if dotted is None:
        return False
    head = dotted.partition(".")[0]
    # A bare name imported from nowhere visible, or `migrations.X`: trust the name.
    return (
        _full_name(func, ctx).startswith("django.")
        or head == "migrations"
        or head not in ctx.imports
    )


def _full_name(func: ast.expr, ctx: _Context) -> str:
    """The dotted name a call's function has through the file's imports ("" when not a name)."""
    dotted = _dotted(func)
    if dotted is None:
        return ""
    head, _, rest = dotted.partition(".")
    module = ctx.imports.get(head, head)
    return f"{module}.{rest}" if rest else module


def _origin(func: ast.expr, ctx: _Context) -> str:
    """Say where a custom operation comes from, when the imports tell."""
    dotted = _dotted(func) or ""
    head, _, rest = dotted.partition(".")
    module = ctx.imports.get(head)
    if module is None:
        return ""
    return f" from {module.rsplit('.', 1)[0] if not rest else module}"


class _Reader(NamedTuple):
    params: tuple[str, ...]
    read: Callable[[str, dict[str, ast.expr], _Context], Operation]

    def __call__(self, name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
        return self.read(name, args, ctx)


def _needs(name: str, args: Mapping[str, ast.expr], *required: str) -> Operation | None:
    """Return an unreadable Operation when a required name argument is not a string literal."""
    for param in required:
        if _const_str(args.get(param)) is None:
            where = _snippet(args[param]) if param in args else "missing"
            note = f"{name}'s {param} is not a string literal ({where})"
            return Operation(op=name, readable=False, note=note)
    return None


def _create_model(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    bad = _needs(name, args, "name")
    if bad:
        return bad
    model = _lower(args["name"])
    assert model is not None
    fields = _pairs(args.get("fields"))
    options = _dict_items(args.get("options"))
    refs = [ref for _, value in fields for ref in _field_references(value, ctx, model)]
    refs += [ref for base in _elements(args.get("bases")) or [] for ref in _base_ref(base, ctx)]
    table = _const_str(options.get("db_table"))
    return Operation(
        op=name,
        model=model,
        fields=tuple(f.lower() for f, _ in fields),
        options=tuple(options),
        names=tuple(_option_names(options)),
        references=_unique(refs),
        field_refs=_unique([r for _, value in fields for r in _to_field(value, ctx, model)]),
        tables=(table.lower(),) if table else (),
    )


def _pairs(node: ast.expr | None) -> list[tuple[str, ast.expr]]:
    """Read CreateModel's `fields`: a list of (name, field) pairs."""
    out = []
    for element in _elements(node) or []:
        if isinstance(element, (ast.Tuple, ast.List)) and len(element.elts) == 2:
            key = _const_str(element.elts[0])
            if key is not None:
                out.append((key, element.elts[1]))
    return out


def _dict_items(node: ast.expr | None) -> dict[str, ast.expr]:
    """Read a dict literal with string keys."""
    if not isinstance(node, ast.Dict):
        return {}
    out = {}
    for key, value in zip(node.keys, node.values, strict=True):
        text = _const_str(key)
        if text is not None:
            out[text] = value
    return out


def _option_names(options: Mapping[str, ast.expr]) -> Iterator[str]:
    """Yield the names of indexes and constraints declared in model options."""
    for key in ("indexes", "constraints"):
        for element in _elements(options.get(key)) or []:
            found = _object_name(element)
            if found:
                yield found


def _object_name(node: ast.expr | None) -> str | None:
    """Return the `name=` of an Index(...) or constraint call."""
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "name":
                return _const_str(kw.value)
    return None


def _field_references(node: ast.expr, ctx: _Context, model: str | None) -> list[str]:
    """Return the models a field definition points at through relations."""
    if not isinstance(node, ast.Call) or _last_name(node.func) not in RELATION_FIELDS:
        return []
    args = _bind(node, ("to",))
    refs = [_model_ref(args["to"], ctx, model)] if "to" in args else []
    if "through" in args:
        refs.append(_model_ref(args["through"], ctx, model))
    return [ref for ref in refs if ref]


def _to_field(node: ast.expr, ctx: _Context, model: str | None) -> list[str]:
    """Return "app.model.field" for a relation whose `to_field` names a field."""
    if not isinstance(node, ast.Call) or _last_name(node.func) not in RELATION_FIELDS:
        return []
    args = _bind(node, ("to",))
    field = _const_str(args.get("to_field"))
    target = _model_ref(args["to"], ctx, model) if "to" in args and field else None
    return [f"{target}.{field.lower()}"] if target and field else []


def _base_ref(node: ast.expr, ctx: _Context) -> list[str]:
    """Return the model a CreateModel base names, for multi-table inheritance."""
    ref = _model_ref(node, ctx, None) if _const_str(node) else None
    return [ref] if ref else []


def _model_ref(node: ast.expr, ctx: _Context, model: str | None) -> str | None:
    """Turn a relation target into "app.model"."""
    text = _const_str(node)
    if text is not None:
        if text == "self":
            return f"{ctx.app}.{model}" if model else None
        return text.lower() if "." in text else f"{ctx.app}.{text.lower()}"
    if isinstance(node, ast.Attribute) and _dotted(node.value) == "settings":
        value = ctx.settings.get(node.attr)
        return value.lower() if value else f"{SETTING_APP}.{node.attr.lower()}"
    return None


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    """Remove duplicates, keeping order."""
    return tuple(dict.fromkeys(items))


def _model_only(option: str | None) -> Callable[[str, dict[str, ast.expr], _Context], Operation]:
    """Build a reader for operations that name a model (and maybe set one option)."""

    def read(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
        bad = _needs(name, args, "name")
        if bad:
            return bad
        model = _lower(args["name"])
        if option == "db_table":
            table = _const_str(args.get("table"))
            tables = (table.lower(),) if table else ()
            return Operation(op=name, model=model, options=(option,), tables=tables)
        return Operation(op=name, model=model, options=(option,) if option else ())

    return read


def _alter_model_options(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    bad = _needs(name, args, "name")
    if bad:
        return bad
    options = _dict_items(args.get("options"))
    return Operation(op=name, model=_lower(args["name"]), options=tuple(options))


def _rename_model(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    bad = _needs(name, args, "old_name", "new_name")
    return bad or Operation(
        op=name, model=_lower(args["old_name"]), new_name=_lower(args["new_name"])
    )


def _field_op(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    bad = _needs(name, args, "model_name", "name")
    if bad:
        return bad
    model = _lower(args["model_name"])
    refs = _field_references(args["field"], ctx, model) if "field" in args else []
    to_field = _to_field(args["field"], ctx, model) if "field" in args else []
    return Operation(
        op=name,
        model=model,
        field=_lower(args["name"]),
        references=tuple(refs),
        field_refs=tuple(to_field),
    )


def _rename_field(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    bad = _needs(name, args, "model_name", "old_name", "new_name")
    if bad:
        return bad
    return Operation(
        op=name,
        model=_lower(args["model_name"]),
        field=_lower(args["old_name"]),
        new_name=_lower(args["new_name"]),
    )


def _named_object(key: str) -> Callable[[str, dict[str, ast.expr], _Context], Operation]:
    """Build a reader for operations adding an index/constraint object under `key`."""

    def read(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
        bad = _needs(name, args, "model_name")
        if bad:
            return bad
        found = _object_name(args.get(key))
        if found is None:
            note = f"{name}'s {key} has no literal name"
            return Operation(op=name, model=_lower(args["model_name"]), readable=False, note=note)
        return Operation(op=name, model=_lower(args["model_name"]), names=(found,))

    return read


def _remove_named(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    bad = _needs(name, args, "model_name", "name")
    if bad:
        return bad
    return Operation(
        op=name, model=_lower(args["model_name"]), names=(_const_str(args["name"]) or "",)
    )


def _rename_index(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    bad = _needs(name, args, "model_name", "new_name")
    if bad:
        return bad
    new = _const_str(args["new_name"]) or ""
    old = _const_str(args.get("old_name"))
    return Operation(
        op=name,
        model=_lower(args["model_name"]),
        new_name=new,
        names=(old, new) if old else (new,),
    )


def _separate(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    children = _operation_list(args.get("state_operations"), ctx) + _operation_list(
        args.get("database_operations"), ctx
    )
    return Operation(op=name, children=children)


def _run_python(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    code = args.get("code")
    if code is None:
        return Operation(op=name, readable=False, note="RunPython without code")
    return _reach_code(code, ctx)


def _run_sql(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    children = _operation_list(args["state_operations"], ctx) if "state_operations" in args else ()
    statements = _sql_strings(args.get("sql"), ctx)
    if statements is None:
        note = f"its SQL is not a literal ({_snippet(args['sql']) if 'sql' in args else 'none'})"
        return Operation(op=name, readable=False, note=note, children=children)
    tables, problem = sql_tables(statements)
    if problem:
        return Operation(op=name, readable=False, note=problem, children=children)
    return Operation(op=name, tables=tables, children=children)


READERS: dict[str, _Reader] = {
    "CreateModel": _Reader(("name", "fields", "options", "bases", "managers"), _create_model),
    "DeleteModel": _Reader(("name",), _model_only(None)),
    "RenameModel": _Reader(("old_name", "new_name"), _rename_model),
    "AlterModelTable": _Reader(("name", "table"), _model_only("db_table")),
    "AlterModelTableComment": _Reader(("name", "table_comment"), _model_only("db_table_comment")),
    "AlterModelOptions": _Reader(("name", "options"), _alter_model_options),
    "AlterModelManagers": _Reader(("name", "managers"), _model_only("managers")),
    "AlterUniqueTogether": _Reader(("name", "unique_together"), _model_only("unique_together")),
    "AlterIndexTogether": _Reader(("name", "index_together"), _model_only("index_together")),
    "AlterOrderWithRespectTo": _Reader(
        ("name", "order_with_respect_to"), _model_only("order_with_respect_to")
    ),
    "AddField": _Reader(("model_name", "name", "field"), _field_op),
    "AlterField": _Reader(("model_name", "name", "field"), _field_op),
    "RemoveField": _Reader(("model_name", "name"), _field_op),
    "RenameField": _Reader(("model_name", "old_name", "new_name"), _rename_field),
    "AddIndex": _Reader(("model_name", "index"), _named_object("index")),
    "RemoveIndex": _Reader(("model_name", "name"), _remove_named),
    "RenameIndex": _Reader(("model_name", "new_name", "old_name", "old_fields"), _rename_index),
    "AddConstraint": _Reader(("model_name", "constraint"), _named_object("constraint")),
    "AlterConstraint": _Reader(("model_name", "name", "constraint"), _remove_named),
    "RemoveConstraint": _Reader(("model_name", "name"), _remove_named),
    "SeparateDatabaseAndState": _Reader(("database_operations", "state_operations"), _separate),
    "RunPython": _Reader(("code", "reverse_code"), _run_python),
    "RunSQL": _Reader(("sql", "reverse_sql", "state_operations"), _run_sql),
    # django.contrib.postgres.operations
    "AddIndexConcurrently": _Reader(("model_name", "index"), _named_object("index")),
    "RemoveIndexConcurrently": _Reader(("model_name", "name"), _remove_named),
    "AddConstraintNotValid": _Reader(("model_name", "constraint"), _named_object("constraint")),
    "ValidateConstraint": _Reader(("model_name", "name"), _remove_named),
}


def _trigger_name(node: ast.expr | None) -> str | None:
    """The name of a pgtrigger `Trigger(name=...)`."""
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "name":
                return _const_str(kw.value)
    return None


def _add_trigger(name: str, args: dict[str, ast.expr], ctx: _Context) -> Operation:
    """pgtrigger's AddTrigger: a trigger on the model's table (what its body does later, when
    rows change, is no change this migration makes)."""
    bad = _needs(name, args, "model_name")
    if bad:
        return bad
    model = _lower(args["model_name"])
    found = _trigger_name(args.get("trigger"))
    if found is None:
        note = f"{name}'s trigger has no literal name"
        return Operation(op=name, model=model, readable=False, note=note)
    return Operation(op=name, model=model, names=(found,))


# Operations of other packages, by the dotted name the file imports them under.
THIRD_PARTY_READERS: dict[str, _Reader] = {
    "pgtrigger.migrations.AddTrigger": _Reader(("model_name", "trigger"), _add_trigger),
    "pgtrigger.migrations.RemoveTrigger": _Reader(("model_name", "name"), _remove_named),
}


# ---------------------------------------------------------------------------
# RunPython: which models does the forward function reach?


class _Reach:
    __slots__ = ("models", "problems", "names")

    def __init__(self) -> None:
        self.models: list[str] = []
        self.problems: list[str] = []
        self.names: set[str] = set()


def _reach_code(code: ast.expr, ctx: _Context) -> Operation:
    """Read the models a RunPython's forward code reaches with get_model."""
    if isinstance(code, ast.Attribute) and code.attr == "noop":
        return Operation(op="RunPython")
    found: tuple[ast.AST, _Context]
    if isinstance(code, ast.Lambda):
        label, found = "its lambda", (code, ctx)
    else:
        looked = _lookup_expr(code, ctx)
        if looked is None or not isinstance(looked[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
            return Operation(op="RunPython", readable=False, note=_foreign_code(code, ctx))
        label, found = f"{_snippet(code)}()", (looked[0], looked[1])
    reach = _Reach()
    _walk_code(found[0], found[1], reach)
    mentions = tuple(sorted(reach.names))
    if reach.problems:
        note = f"{label} " + "; ".join(dict.fromkeys(reach.problems))
        return Operation(
            op="RunPython",
            readable=False,
            note=note,
            reaches=_unique(reach.models),
            mentions=mentions,
        )
    return Operation(op="RunPython", reaches=_unique(reach.models), mentions=mentions)


def _foreign_code(code: ast.expr, ctx: _Context) -> str:
    """Say why a RunPython's code cannot be followed."""
    if _is_imported(code, ctx):
        return f"{_snippet(code)}() is imported from a module that cannot be read"
    if isinstance(code, ast.Name):
        return f"{code.id}() is not a function defined in this file"
    return f"its code `{_snippet(code)}` is not a function defined in this file"


def _is_imported(node: ast.expr, ctx: _Context) -> bool:
    """Tell whether a name (or the head of a dotted name) comes from an import."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in ctx.imports


def _walk_code(node: ast.AST, ctx: _Context, reach: _Reach) -> None:
    """Collect get_model calls in `node` and in the functions it calls, wherever defined.

    Same-file functions and functions imported from the repository's other
    modules are followed (each once); never recursive, however deep the calls.
    """
    seen: set[_Visit] = set()
    stack: list[tuple[ast.AST, _Context, Loops]] = [(node, ctx, {})]
    while stack:
        code, where, bound = stack.pop()
        loops = {**bound, **_loop_values(code, where)}
        for sub in ast.walk(code):
            _mention(sub, reach.names)
            if isinstance(sub, ast.Call):
                stack += _called(sub, where, reach, loops, seen)


# A function walked, with the strings its parameters were bound to.
_Visit = tuple[str, int, tuple[tuple[str, tuple[str, ...]], ...]]

# How many differently bound walks of one function before binding stops.
_MAX_BINDINGS = 16


def _called(
    call: ast.Call,
    ctx: _Context,
    reach: _Reach,
    loops: Loops,
    seen: set[_Visit],
) -> list[tuple[ast.AST, _Context, Loops]]:
    """Note what one call reaches; return the function it calls when it can be read.

    The function comes back with its parameters bound to the strings this call
    passes (or their defaults), so a helper's `get_model(app, model)` is read
    once per distinct set of literal arguments it is called with.
    """
    called = _last_name(call.func)
    if called == "get_model":
        _get_model(call, ctx, reach, loops)
        return []
    if called in ("get_models", "get_app_config", "get_app_configs"):
        reach.problems.append(f"calls {called}(), which may reach any model")
        return []
    if not isinstance(call.func, (ast.Name, ast.Attribute)):
        return []
    found = _lookup_expr(call.func, ctx)
    if found is not None and isinstance(found[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        function, where = found[0], found[1]
        path = where.path or ""
        bound = _bound_strings(function, where, call, ctx, loops)
        if sum(1 for v in seen if v[:2] == (path, function.lineno)) >= _MAX_BINDINGS:
            bound = {}
        key = (path, function.lineno, tuple(sorted((n, tuple(v)) for n, (_, v) in bound.items())))
        if key not in seen:
            seen.add(key)
            return [(function, where, bound)]
    elif found is None and _is_imported(call.func, ctx) and _passes_apps(call):
        reach.problems.append(
            f"passes apps to {_snippet(call.func)}(), imported from a module that cannot be read"
        )
    return []


def _bound_strings(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    where: _Context,
    call: ast.Call,
    ctx: _Context,
    loops: Loops,
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
    positional = [*args.posonlyargs, *args.args]
    given: dict[str, tuple[ast.expr, _Context]] = {}
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


def _loop_values(code: ast.AST, ctx: _Context) -> dict[str, tuple[int, list[str]]]:
    """Names a `for` loop in `code` takes from a literal of strings (or a name holding one).

    name -> (the loop, its values): names unpacked from one loop go together.
    """
    out: dict[str, tuple[int, list[str]]] = {}
    for node in ast.walk(code):
        if not isinstance(node, (ast.For, ast.comprehension)):
            continue
        items = _literal_items(node.iter, ctx)
        if items is None:
            continue
        targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
        for index, target in enumerate(targets):
            if isinstance(target, ast.Name):
                values = [_item_string(item, index, len(targets), ctx) for item in items]
                if None not in values:
                    out[target.id] = (id(node), [v for v in values if v is not None])
    return out


def _literal_items(node: ast.expr, ctx: _Context) -> list[ast.expr] | None:
    """The items of a list, tuple or set literal, or of a module-level name holding one."""
    if isinstance(node, (ast.Name, ast.Attribute)):
        found = _lookup_expr(node, ctx)
        if found is None or not isinstance(found[0], ast.expr):
            return None
        node, ctx = found[0], found[1]
    if isinstance(node, ast.Dict):
        return [key for key in node.keys if key is not None]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return list(node.elts)
    return None


def _item_string(item: ast.expr, index: int, width: int, ctx: _Context) -> str | None:
    """One loop variable's value: the item itself, or its `index`-th part when unpacked."""
    if width > 1:
        if not isinstance(item, (ast.Tuple, ast.List)) or len(item.elts) != width:
            return None
        item = item.elts[index]
    return _string(item, ctx)


def _get_model(call: ast.Call, ctx: _Context, reach: _Reach, loops: Loops) -> None:
    """Record the models one get_model call names (each value a loop gives it, too)."""
    values = [_strings(arg, ctx, loops) for arg in call.args]
    if len(values) == 1 and values[0] and all("." in v for v in values[0]):
        pairs = [tuple(v.split(".", 1)) for v in values[0]]
    elif len(values) == 2 and values[0] and values[1]:
        pairs = _pairs_of(call.args, values[0], values[1], loops)
    else:
        reach.problems.append("calls get_model with a non-literal argument")
        return
    for app, model in pairs:
        reach.models.append(model.lower() if app == ctx.app else f"{app}.{model.lower()}")


def _pairs_of(
    args: list[ast.expr], apps: list[str], models: list[str], loops: Loops
) -> list[tuple[str, ...]]:
    """(app, model) pairs: side by side when both come from one loop, else every pair."""
    first, second = (loops.get(a.id) if isinstance(a, ast.Name) else None for a in args)
    if first and second and first[0] == second[0]:
        return list(zip(apps, models))
    return [(a, m) for a in apps for m in models]


def _strings(node: ast.expr, ctx: _Context, loops: Loops) -> list[str] | None:
    """The strings an argument may be: a literal, a module-level name, a loop's values."""
    if isinstance(node, ast.Name) and node.id in loops:
        return loops[node.id][1]
    text = _string(node, ctx)
    return [text] if text is not None else None


# ---------------------------------------------------------------------------
# Strings built in the file (or imported): SQL held in a module-level name


def _string(node: ast.expr, ctx: _Context, depth: int = 0) -> str | None:
    """The value of a string expression that needs no code to run, else None.

    Literals, names assigned one (here or in an imported module), `+`, `%`,
    f-strings of such names, `sep.join([...])`, `.format(...)`, `dedent(...)`.
    """
    if depth > 20:
        return None
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, (ast.Name, ast.Attribute)):
        found = _lookup_expr(node, ctx)
        if found is None or not isinstance(found[0], ast.expr):
            return None
        return _string(found[0], found[1], depth + 1)
    if isinstance(node, ast.BinOp):
        return _string_operation(node, ctx, depth)
    if isinstance(node, ast.JoinedStr):
        parts = [_formatted(value, ctx, depth) for value in node.values]
        return None if None in parts else "".join(parts)  # type: ignore[arg-type]
    if isinstance(node, ast.Call):
        return _string_call(node, ctx, depth)
    return None


def _string_operation(node: ast.BinOp, ctx: _Context, depth: int) -> str | None:
    if isinstance(node.op, ast.Add):
        parts = [_string(part, ctx, depth + 1) for part in _summands(node)]
        return None if None in parts else "".join(parts)  # type: ignore[arg-type]
    if isinstance(node.op, ast.Mod):
        template = _string(node.left, ctx, depth + 1)
        items = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        values = [_string(item, ctx, depth + 1) for item in items]
        if template is None or None in values:
            return None
        try:
            return template % tuple(values)
        except (TypeError, ValueError, KeyError):
            return None
    return None


def _formatted(value: ast.expr, ctx: _Context, depth: int) -> str | None:
    if isinstance(value, ast.FormattedValue):
        if value.conversion != -1 or value.format_spec is not None:
            return None
        return _string(value.value, ctx, depth + 1)
    return _string(value, ctx, depth + 1)


def _string_call(node: ast.Call, ctx: _Context, depth: int) -> str | None:
    """`sep.join([...])`, `template.format(...)`, `dedent(text)`, `text.strip()`."""
    func = node.func
    name = _last_name(func)
    if name == "dedent" and len(node.args) == 1:
        return _string(node.args[0], ctx, depth + 1)
    if not isinstance(func, ast.Attribute):
        return None
    base = _string(func.value, ctx, depth + 1)
    if base is None:
        return None
    if name in ("strip", "lstrip", "rstrip", "lower", "upper") and not node.args:
        return str(getattr(base, name)())
    if name == "join" and len(node.args) == 1:
        items = _literal_items(node.args[0], ctx)
        parts = [_string(item, ctx, depth + 1) for item in items or []]
        return None if items is None or None in parts else base.join(parts)  # type: ignore[arg-type]
    if name == "format":
        args = [_string(arg, ctx, depth + 1) for arg in node.args]
        kwargs = {kw.arg: _string(kw.value, ctx, depth + 1) for kw in node.keywords if kw.arg}
        if None in args or None in kwargs.values() or len(kwargs) != len(node.keywords):
            return None
        try:
            return base.format(*args, **kwargs)
        except (IndexError, KeyError, ValueError, AttributeError):
            return None
    return None


# ---------------------------------------------------------------------------
# RunSQL: which tables does the SQL name?


def _sql_strings(node: ast.expr | None, ctx: _Context) -> list[str] | None:
    """Return the SQL statements of a RunSQL `sql` argument; None when they cannot be read."""
    if node is None:
        return None
    if isinstance(node, ast.Attribute) and node.attr == "noop":
        return []
    text = _string(node, ctx)
    if text is not None:
        return [text]
    items = _literal_items(node, ctx) if not isinstance(node, ast.Dict) else None
    if items is None:
        return None
    out = []
    for element in items:
        if isinstance(element, (ast.List, ast.Tuple)) and element.elts:
            element = element.elts[0]  # (sql, params)
        text = _string(element, ctx)
        if text is None:
            return None
        out.append(text)
    return out

"""What a name in a migration stands for: the file's context and the modules it imports.

A `Context` indexes one module's functions, classes, imported names and
module-level values. `lookup` follows a name through `from x import y`, star
imports and dotted access into the repository's other modules, whose bytes a
`ModuleSource` gives (nothing is imported or run), at most FOLLOW_DEPTH
modules deep.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import NamedTuple, Protocol

from migmerge.reading.parse_nodes import simple_assignment
from migmerge.reading.parse_source import module_tree


class ModuleSource(Protocol):
    """Other modules of the repository, at the revision being read, by import name.

    Given to `parse_migration` where a migration's operations may use code
    from elsewhere in the tree (a RunPython function, SQL, a custom
    operation). Only bytes pass: nothing is imported or run. A parse learns
    of other files through these methods alone: the cache of parses
    (reading/parsed.py) records every call and its answer, and believes an
    entry only while each is answered the same, so a new way to read the
    tree is a new method here, which its Recorder must then record.
    """

    # Parsed modules by (path, hash of bytes), kept across migrations (None: unparsable).
    trees: dict[tuple[str, int], ast.Module | None]

    def find(self, importer: str, module: str, level: int) -> tuple[str, bytes] | None:
        """The path and bytes of `module` as `importer` (a path) imports it, or None."""

    def data(self, importer: str, path: str) -> bytes | None:
        """The bytes of the file at `path` (from the root) as `importer`'s revision has it."""

    def settings_files(self) -> list[str]:
        """The paths of the settings modules a project of the tree may run with."""

    def as_seen_by(self, reader: str) -> ModuleSource:
        """The same modules, every one read as `reader`'s revision has it."""


# How far imports are followed from a migration (module to module).
FOLLOW_DEPTH = 4


class Context(NamedTuple):
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
    ) -> Context:
        """Index the module's functions, classes, imported names and module-level values."""
        functions = {
            n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        constants = {}
        for stmt in tree.body:
            target, value = simple_assignment(stmt)
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


class ModuleRef(NamedTuple):
    """A module reached through an import (`from . import helpers`; `helpers.f`)."""

    ctx: Context


Found = tuple[ast.AST | ModuleRef, Context]


def lookup(name: str, ctx: Context) -> Found | None:
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
        return (ModuleRef(other), other) if other else None
    other = _module_of(ctx, module, level)
    found = lookup(attribute, other) if other is not None else None
    if found is not None:
        return found
    submodule = _module_of(ctx, f"{module}.{attribute}" if module else attribute, level)
    return (ModuleRef(submodule), submodule) if submodule else None


def _star_lookup(name: str, ctx: Context) -> Found | None:
    """`name` from a module this one star-imports (`from awx.main.utils.common import *`)."""
    for key, (module, _, level) in ctx.origins.items():
        if key.startswith("*"):
            other = _module_of(ctx, module, level)
            found = lookup(name, other) if other is not None else None
            if found is not None:
                return found
    return None


def lookup_expr(node: ast.expr, ctx: Context) -> Found | None:
    """Where a name or a dotted name (`helpers.forwards`) is defined."""
    if isinstance(node, ast.Name):
        return lookup(node.id, ctx)
    if isinstance(node, ast.Attribute):
        base = lookup_expr(node.value, ctx)
        if base is not None and isinstance(base[0], ModuleRef):
            return lookup(node.attr, base[0].ctx)
    return None


def sole_value(node: ast.expr | None, ctx: Context) -> ast.expr | None:
    """A bare name's module-level value when nothing else in the module changes it.

    The one assignment must be the only place the name is stored, deleted or
    has an attribute or item used (`X.append(...)`, `X += [...]`, `X[0] = ...`);
    else, and for anything but a bare name of this module, `node` itself.
    """
    if not isinstance(node, ast.Name) or node.id not in ctx.constants:
        return node
    return node if changed_in(node.id, ctx.module_body) else ctx.constants[node.id]


def changed_in(name: str, body: list[ast.stmt]) -> bool:
    """Tell whether a module stores `name` more than once or uses it as an object.

    `X[k] = v`, `X.update(...)`, `X.append(...)`, `X += ...`, `global X`: any
    attribute or item of it, read or written, counts (a value whose reading
    must not depend on what the module does to it later). A class attribute
    of the same name (`operations = operations` in the class) is not the
    module's name.
    """
    stores = 0
    attributes = {
        id(target)
        for stmt in body
        if isinstance(stmt, ast.ClassDef)
        for inner in stmt.body
        if isinstance(inner, ast.Assign)
        for target in inner.targets
    }
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            stores += id(node) not in attributes
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node.value, ast.Name) and node.value.id == name:
                return True
        elif isinstance(node, ast.Global) and name in node.names:
            return True
    return stores > 1


def _module_of(ctx: Context, module: str, level: int) -> Context | None:
    """The context of another module of the repository, parsed once per run."""
    if ctx.modules is None or ctx.depth >= FOLLOW_DEPTH or module.startswith("django."):
        return None
    found = ctx.modules.find(ctx.path, module, level)
    if found is None:
        return None
    path, source = found
    key = (path, hash(source))  # one path, two sides: two versions
    if key not in ctx.modules.trees:
        ctx.modules.trees[key] = module_tree(source)
    tree = ctx.modules.trees[key]
    if tree is None:
        return None
    return Context.build(
        ctx.app, tree, ctx.settings, path=path, modules=ctx.modules, depth=ctx.depth + 1
    )


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

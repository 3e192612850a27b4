"""Evaluate a settings module statically: the values settings compute, with no code run.

Settings in real projects compute their values: `BASE_DIR` from `__file__`,
imported from a base module (`from .base import *`), environment lookups with
defaults, f-strings, `if`s on those, `try: from .local import *`. This module
runs a settings module's top-level statements over a tiny model of Python:
constants, paths, dicts, the `os`, `os.path` and `pathlib` calls settings use,
and imports of other modules of the same repository (followed, never
imported). Anything else is an `Unknown` carrying the reason, so a caller can
say why a value could not be read instead of guessing it.

This module runs the statements (assignments, imports followed inside the
repository, `if`, `try`); settings_values is the model of the values and
expressions they compute.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from migmerge.reading.settings_values import (
    MODELLED,
    CannotEvaluate,
    Expressions,
    Ref,
    Unknown,
)


class Module(NamedTuple):
    """A settings module as far as it could be evaluated."""

    path: Path
    names: dict[str, object]
    files: tuple[Path, ...]  # every file read, this one and the ones it imports


class Reader:
    """Evaluate settings modules of one repository, following imports inside it."""

    def __init__(self, root: Path, search: tuple[Path, ...]) -> None:
        self.root = root.resolve()
        self.search = tuple(dict.fromkeys(p.resolve() for p in search))
        self.files: list[Path] = []
        self._busy: set[Path] = set()

    def module(self, path: Path, dotted: str) -> Module:
        """Evaluate the module at `path`, named `dotted`."""
        names = self._evaluate(path.resolve(), dotted)
        return Module(path, names, tuple(dict.fromkeys(self.files)))

    def find(self, dotted: str) -> Path | None:
        """Find module `dotted` in the search folders, inside the repository only."""
        relative = Path(*dotted.split("."))
        for base in self.search:
            for candidate in (base / relative.with_suffix(".py"), base / relative / "__init__.py"):
                if candidate.is_file() and self._inside(candidate):
                    return candidate
        return None

    def _inside(self, path: Path) -> bool:
        resolved = path.resolve()
        return resolved == self.root or self.root in resolved.parents

    def _evaluate(self, path: Path, dotted: str) -> dict[str, object]:
        if path in self._busy:
            raise CannotEvaluate(f"{dotted} imports itself")
        self._busy.add(path)
        self.files.append(path)
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, OSError) as exc:
            raise CannotEvaluate(f"{path.name} cannot be read: {exc}") from exc
        try:
            scope = _Scope(self, path, dotted)
            scope.run(tree.body)
            return scope.names
        finally:
            self._busy.discard(path)

    def imported(self, dotted: str) -> dict[str, object] | None:
        """The names of module `dotted` when it is a file of the repository, else None."""
        path = self.find(dotted)
        if path is None:
            return None
        return self._evaluate(path.resolve(), dotted)


def evaluate(root: Path, path: Path, dotted: str, search: tuple[Path, ...]) -> Module:
    """Evaluate settings module `dotted` (the file `path`); unreadable names are `Unknown`."""
    reader = Reader(root, search)
    try:
        return reader.module(path, dotted)
    except (CannotEvaluate, RecursionError) as exc:
        return Module(path, {"__error__": Unknown(str(exc))}, tuple(reader.files))


class _Scope(Expressions):
    """One module's namespace while its statements run."""

    def __init__(self, reader: Reader, path: Path, dotted: str) -> None:
        self.reader = reader
        self.dotted = dotted
        self.package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
        self.names: dict[str, object] = {"__file__": str(path), "__name__": dotted}
        self.trying = 0  # inside a `try`: a failed import runs the handler, as in Python

    def run(self, body: list[ast.stmt]) -> None:
        for node in body:
            self.statement(node)

    def statement(self, node: ast.stmt) -> None:
        handler = _STATEMENTS.get(type(node))
        if handler is not None:
            handler(self, node)
        else:
            for name in _bound_names(node):
                self.names[name] = Unknown(f"{name} is set by a {type(node).__name__.lower()}")

    # Statements ---------------------------------------------------------------

    def assign(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            value = self.value(node.value)
            for target in node.targets:
                self.store(target, value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.store(node.target, self.value(node.value))
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name):
                return
            load = ast.Name(node.target.id, ast.Load())
            self.store(node.target, self.value(ast.BinOp(load, node.op, node.value)))

    def store(self, target: ast.expr, value: object) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id] = value
        elif isinstance(target, ast.Subscript):
            self._store_item(target, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for item in target.elts:
                self.store(item, Unknown("set by unpacking"))

    def _store_item(self, target: ast.Subscript, value: object) -> None:
        container = self.value(target.value)
        key = self.value(target.slice)
        if isinstance(container, dict) and not isinstance(key, Unknown):
            container[key] = value

    def import_from(self, node: ast.stmt) -> None:
        assert isinstance(node, ast.ImportFrom)
        dotted = self._absolute(node)
        names = self.reader.imported(dotted) if dotted else None
        for alias in node.names:
            if alias.name == "*":
                self._star(dotted, names)
            else:
                self.names[alias.asname or alias.name] = self._imported(dotted, names, alias.name)

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.package.split(".") if self.package else []
        base = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
        return ".".join([*base, *([node.module] if node.module else [])])

    def _star(self, dotted: str, names: dict[str, object] | None) -> None:
        if names is None:
            if self.trying and dotted.partition(".")[0] not in MODELLED:
                raise _Missing(dotted)
            return
        public = names.get("__all__")
        keys = public if isinstance(public, list) else [n for n in names if not n.startswith("_")]
        self.names.update({k: names[k] for k in keys if isinstance(k, str) and k in names})

    def _imported(self, dotted: str, names: dict[str, object] | None, name: str) -> object:
        if names is not None:
            return names.get(name, Unknown(f"{dotted} has no {name} migmerge can read"))
        if dotted in MODELLED or dotted.partition(".")[0] in MODELLED:
            return Ref(f"{dotted}.{name}")
        if self.reader.find(f"{dotted}.{name}") is not None:
            return Unknown(f"{dotted}.{name} is a module")
        if self.trying:
            raise _Missing(dotted)
        return Unknown(f"{name} comes from {dotted}, which is not a module of the repository")

    def import_(self, node: ast.stmt) -> None:
        assert isinstance(node, ast.Import)
        for alias in node.names:
            top = alias.name.partition(".")[0]
            self.names[alias.asname or top] = Ref(alias.name if alias.asname else top)

    def if_(self, node: ast.stmt) -> None:
        assert isinstance(node, ast.If)
        test = self.value(node.test)
        if isinstance(test, Unknown):
            self._undecided(node, f"an `if` migmerge cannot decide ({test.reason})")
        else:
            self.run(node.body if test else node.orelse)

    def _undecided(self, node: ast.stmt, why: str) -> None:
        for name in _bound_names(node):
            self.names[name] = Unknown(f"{name} is set under {why}")
        for call in _mutated_names(node):
            self.names[call] = Unknown(f"{call} is changed under {why}")

    def try_(self, node: ast.stmt) -> None:
        assert isinstance(node, ast.Try)
        before = dict(self.names)
        self.trying += 1
        try:
            self.run(node.body)
        except _Missing as missing:
            self.trying -= 1
            # Python runs the handler when the import fails: the module is not in the repository.
            self.names = before
            handler = _import_handler(node.handlers)
            if handler is None:
                raise CannotEvaluate(f"imports {missing.module}, not in the repository") from None
            self.run(handler.body)
        else:
            self.trying -= 1
            self.run(node.orelse)
        self.run(node.finalbody)

    def expression(self, node: ast.stmt) -> None:
        assert isinstance(node, ast.Expr)
        if isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
            self.value(node.value)  # dict.update and friends change what they are called on


class _Missing(Exception):
    """An import of a module that is neither in the repository nor modelled."""

    def __init__(self, module: str) -> None:
        super().__init__(module)
        self.module = module


def _import_handler(handlers: list[ast.ExceptHandler]) -> ast.ExceptHandler | None:
    """The handler Python would run for a failed import."""
    for handler in handlers:
        names = {ast.unparse(t) for t in _handler_types(handler.type)}
        if handler.type is None or names & {"ImportError", "ModuleNotFoundError", "Exception"}:
            return handler
    return None


def _handler_types(node: ast.expr | None) -> list[ast.expr]:
    if node is None:
        return []
    return list(node.elts) if isinstance(node, ast.Tuple) else [node]


def _bound_names(node: ast.stmt) -> Iterator[str]:
    """Every module-level name a statement (and the statements inside it) may bind."""
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            yield child.id
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield child.name
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            yield from (a.asname or a.name.partition(".")[0] for a in child.names if a.name != "*")


def _mutated_names(node: ast.stmt) -> Iterator[str]:
    """Names a statement changes in place (`X["k"] = v`, `X.update(...)`)."""
    for child in ast.walk(node):
        target = None
        if isinstance(child, ast.Subscript) and isinstance(child.ctx, ast.Store):
            target = child.value
        elif isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
            target = child.func.value
        while isinstance(target, ast.Subscript):
            target = target.value
        if isinstance(target, ast.Name):
            yield target.id


_STATEMENTS: dict[type, Callable[[_Scope, Any], None]] = {
    ast.Assign: _Scope.assign,
    ast.AnnAssign: _Scope.assign,
    ast.AugAssign: _Scope.assign,
    ast.ImportFrom: _Scope.import_from,
    ast.Import: _Scope.import_,
    ast.If: _Scope.if_,
    ast.Try: _Scope.try_,
    ast.Expr: _Scope.expression,
    ast.Pass: lambda scope, node: None,
}

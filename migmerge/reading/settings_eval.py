"""Evaluate a settings module statically: the values settings compute, with no code run.

Settings in real projects compute their values: `BASE_DIR` from `__file__`,
imported from a base module (`from .base import *`), environment lookups with
defaults, f-strings, `if`s on those, `try: from .local import *`. This module
runs a settings module's top-level statements over a tiny model of Python:
constants, paths, dicts, the `os`, `os.path` and `pathlib` calls settings use,
and imports of other modules of the same repository (followed, never
imported). Anything else is an `Unknown` carrying the reason, so a caller can
say why a value could not be read instead of guessing it.

It is longer than the other modules for one reason: the tables at the end
(statements, expressions, the calls and methods modelled) are the model of
Python it evaluates, one short handler a row.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple


class Unknown(NamedTuple):
    """A value the static reader cannot work out, and why."""

    reason: str


class _Ref(NamedTuple):
    """A module, function or class the evaluator models, by dotted name."""

    name: str


class _Bound(NamedTuple):
    """A method of a value (`path.resolve`, `dict.update`)."""

    name: str
    value: object


class _Evaluate(Exception):
    """Raised inside the evaluator with the reason a value cannot be worked out."""


class Module(NamedTuple):
    """A settings module as far as it could be evaluated."""

    path: Path
    names: dict[str, object]
    files: tuple[Path, ...]  # every file read, this one and the ones it imports


# Modules whose names the evaluator models; `from x import y` binds _Ref("x.y").
_MODELLED = ("os", "os.path", "pathlib", "sys", "dj_database_url")


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
            raise _Evaluate(f"{dotted} imports itself")
        self._busy.add(path)
        self.files.append(path)
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, OSError) as exc:
            raise _Evaluate(f"{path.name} cannot be read: {exc}") from exc
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
    except (_Evaluate, RecursionError) as exc:
        return Module(path, {"__error__": Unknown(str(exc))}, tuple(reader.files))


class _Scope:
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
            if self.trying and dotted.partition(".")[0] not in _MODELLED:
                raise _Missing(dotted)
            return
        public = names.get("__all__")
        keys = public if isinstance(public, list) else [n for n in names if not n.startswith("_")]
        self.names.update({k: names[k] for k in keys if isinstance(k, str) and k in names})

    def _imported(self, dotted: str, names: dict[str, object] | None, name: str) -> object:
        if names is not None:
            return names.get(name, Unknown(f"{dotted} has no {name} migmerge can read"))
        if dotted in _MODELLED or dotted.partition(".")[0] in _MODELLED:
            return _Ref(f"{dotted}.{name}")
        if self.reader.find(f"{dotted}.{name}") is not None:
            return Unknown(f"{dotted}.{name} is a module")
        if self.trying:
            raise _Missing(dotted)
        return Unknown(f"{name} comes from {dotted}, which is not a module of the repository")

    def import_(self, node: ast.stmt) -> None:
        assert isinstance(node, ast.Import)
        for alias in node.names:
            top = alias.name.partition(".")[0]
            self.names[alias.asname or top] = _Ref(alias.name if alias.asname else top)

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
                raise _Evaluate(f"imports {missing.module}, not in the repository") from None
            self.run(handler.body)
        else:
            self.trying -= 1
            self.run(node.orelse)
        self.run(node.finalbody)

    def expression(self, node: ast.stmt) -> None:
        assert isinstance(node, ast.Expr)
        if isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
            self.value(node.value)  # dict.update and friends change what they are called on

    # Expressions --------------------------------------------------------------

    def value(self, node: ast.expr) -> object:
        try:
            return self._eval(node)
        except _Evaluate as exc:
            return Unknown(str(exc))
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            return Unknown(f"{ast.unparse(node)} fails: {exc}")

    def _eval(self, node: ast.expr) -> object:
        handler = _EXPRESSIONS.get(type(node))
        if handler is None:
            raise _Evaluate(f"{_short(node)} is not something migmerge evaluates")
        value = handler(self, node)
        if isinstance(value, Unknown):
            raise _Evaluate(value.reason)
        return value

    def name(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Name)
        if node.id in self.names:
            return self.names[node.id]
        if node.id in _BUILTINS:
            return _Ref(node.id)
        raise _Evaluate(f"{node.id} is not defined where migmerge can read it")

    def call(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Call)
        func = self._eval(node.func)
        args = [self._eval(arg) for arg in node.args if not isinstance(arg, ast.Starred)]
        kwargs = {k.arg: self._eval(k.value) for k in node.keywords if k.arg is not None}
        if len(args) != len(node.args) or len(kwargs) != len(node.keywords):
            raise _Evaluate(f"{_short(node)} passes * or ** arguments")
        if isinstance(func, _Ref) and func.name in _CALLS:
            return _CALLS[func.name](args, kwargs)
        if isinstance(func, _Bound) and func.name in _METHODS:
            return _METHODS[func.name](func.value, args, kwargs)
        raise _Evaluate(f"{_short(node)} calls something migmerge does not evaluate")

    def attribute(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Attribute)
        value = self._eval(node.value)
        if isinstance(value, _Ref):
            return _Ref(f"{value.name}.{node.attr}")
        if isinstance(value, Path) and node.attr in ("parent", "name", "stem", "suffix"):
            return getattr(value, node.attr)
        kind = _KINDS.get(type(value))
        if kind is not None and f"{kind}.{node.attr}" in _METHODS:
            return _Bound(f"{kind}.{node.attr}", value)
        raise _Evaluate(f"{_short(node)} is not something migmerge evaluates")

    def subscript(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Subscript)
        container = self._eval(node.value)
        key = self._eval(node.slice)
        if container == _Ref("os.environ"):
            return _environ_item(str(key))
        if isinstance(container, (dict, list, tuple, str)):
            items: Any = container
            return items[key]
        raise _Evaluate(f"{_short(node)} is not something migmerge evaluates")

    def dict_(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Dict)
        out: dict[object, object] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                spread = self._eval(value)
                if not isinstance(spread, dict):
                    raise _Evaluate(f"{_short(value)} is not a dict migmerge can read")
                out.update(spread)
            else:
                out[self._eval(key)] = self.value(value)
        return out

    def sequence(self, node: ast.expr) -> object:
        assert isinstance(node, (ast.List, ast.Tuple))
        items = [self.value(item) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)

    def joined(self, node: ast.expr) -> object:
        assert isinstance(node, ast.JoinedStr)
        parts = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                if part.format_spec is not None or part.conversion not in (-1, 115):
                    raise _Evaluate(f"{_short(node)} formats a value")
                parts.append(str(self._eval(part.value)))
            else:
                parts.append(str(self._eval(part)))
        return "".join(parts)

    def binop(self, node: ast.expr) -> object:
        assert isinstance(node, ast.BinOp)
        left, right = self._eval(node.left), self._eval(node.right)
        if isinstance(node.op, ast.Div) and isinstance(left, Path):
            return left / str(right)
        if isinstance(node.op, ast.Add) and type(left) is type(right):
            return left + right  # type: ignore[operator]
        raise _Evaluate(f"{_short(node)} is not something migmerge evaluates")

    def boolop(self, node: ast.expr) -> object:
        assert isinstance(node, ast.BoolOp)
        value: object = None
        for item in node.values:
            value = self._eval(item)
            if bool(value) == isinstance(node.op, ast.Or):
                return value
        return value

    def compare(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Compare)
        left = self._eval(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self._eval(comparator)
            test = _COMPARE.get(type(op))
            if test is None:
                raise _Evaluate(f"{_short(node)} compares in a way migmerge does not evaluate")
            if not test(left, right):
                return False
            left = right
        return True

    def unary(self, node: ast.expr) -> object:
        assert isinstance(node, ast.UnaryOp)
        operand = self._eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(node.op, ast.USub) and isinstance(operand, (int, float)):
            return -operand
        raise _Evaluate(f"{_short(node)} is not something migmerge evaluates")

    def if_exp(self, node: ast.expr) -> object:
        assert isinstance(node, ast.IfExp)
        return self._eval(node.body if self._eval(node.test) else node.orelse)


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


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _environ_item(key: str) -> object:
    # The project sees the same environment when it runs, so reading it is faithful.
    if key not in os.environ:
        raise _Evaluate(f"the environment variable {key} is not set")
    return os.environ[key]


def _environ_get(args: list[object], kwargs: dict[str, object]) -> object:
    default = args[1] if len(args) > 1 else kwargs.get("default")
    value = os.environ.get(str(args[0]))
    return default if value is None else value


def _path(args: list[object], _: dict[str, object]) -> object:
    return Path(*(str(a) for a in args))


def _database_url(url: object, kwargs: dict[str, object]) -> dict[str, object]:
    """What dj_database_url makes of a URL: Django's DATABASES entry."""
    from urllib.parse import unquote, urlsplit

    if not isinstance(url, str) or not url:
        raise _Evaluate("the database URL is not set")
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    engine = _URL_ENGINES.get(scheme)
    if engine is None:
        raise _Evaluate(f"the database URL scheme {scheme!r} is not one migmerge knows")
    # sqlite:////abs/x.db names /abs/x.db, sqlite:///x.db names x.db, postgres://h/db names db.
    name = unquote(parts.path[1:])
    entry: dict[str, object] = {"ENGINE": kwargs.get("engine") or engine}
    entry.update(NAME=name or ":memory:", HOST=parts.hostname or "", PORT=parts.port or "")
    entry.update(USER=unquote(parts.username or ""), PASSWORD=unquote(parts.password or ""))
    return entry


def _dj_config(args: list[object], kwargs: dict[str, object]) -> object:
    env = str(kwargs.get("env", "DATABASE_URL"))
    return _database_url(os.environ.get(env, kwargs.get("default")), kwargs)


_URL_ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
    "postgis": "django.contrib.gis.db.backends.postgis",
    "mysql": "django.db.backends.mysql",
    "mysql2": "django.db.backends.mysql",
    "mysqlgis": "django.contrib.gis.db.backends.mysql",
    "sqlite": "django.db.backends.sqlite3",
    "spatialite": "django.contrib.gis.db.backends.spatialite",
}

_BUILTINS = frozenset({"str", "int", "dict", "bool", "list", "tuple"})
_KINDS: dict[type, str] = {Path: "Path", type(Path()): "Path", str: "str", dict: "dict"}

_Call = Callable[[list[object], dict[str, object]], object]
_CALLS: dict[str, _Call] = {
    "str": lambda a, _: str(a[0]) if a else "",
    "int": lambda a, _: int(a[0]),  # type: ignore[call-overload]
    "bool": lambda a, _: bool(a[0]) if a else False,
    "dict": lambda a, k: {**(a[0] if a and isinstance(a[0], dict) else {}), **k},
    "pathlib.Path": _path,
    "pathlib.PurePath": _path,
    "os.path.join": lambda a, _: os.path.join(*(str(x) for x in a)),
    "os.path.dirname": lambda a, _: os.path.dirname(str(a[0])),
    "os.path.abspath": lambda a, _: os.path.abspath(str(a[0])),
    "os.path.realpath": lambda a, _: os.path.realpath(str(a[0])),
    "os.path.normpath": lambda a, _: os.path.normpath(str(a[0])),
    "os.path.expanduser": lambda a, _: os.path.expanduser(str(a[0])),
    "os.environ.get": _environ_get,
    "os.getenv": _environ_get,
    "dj_database_url.config": _dj_config,
    "dj_database_url.parse": lambda a, k: _database_url(a[0], k),
}
# `from pathlib import Path` binds _Ref("pathlib.Path"); a bare `Path` without import is unknown.
_CALLS["Path"] = _path

_Method = Callable[[Any, list[object], dict[str, object]], object]
_METHODS: dict[str, _Method] = {
    "Path.resolve": lambda p, a, k: Path(p).resolve(),
    "Path.absolute": lambda p, a, k: Path(p).absolute(),
    "Path.joinpath": lambda p, a, k: Path(p).joinpath(*map(str, a)),
    "Path.with_name": lambda p, a, k: Path(p).with_name(str(a[0])),
    "Path.with_suffix": lambda p, a, k: Path(p).with_suffix(str(a[0])),
    "Path.expanduser": lambda p, a, k: Path(p).expanduser(),
    "str.format": lambda s, a, k: str(s).format(*a, **{str(x): y for x, y in k.items()}),
    "str.lower": lambda s, a, k: str(s).lower(),
    "dict.get": lambda d, a, k: d.get(a[0], a[1] if len(a) > 1 else None),
    "dict.update": lambda d, a, k: d.update(*a, **{str(x): y for x, y in k.items()}),
    "dict.setdefault": lambda d, a, k: d.setdefault(a[0], a[1] if len(a) > 1 else None),
    "dict.copy": lambda d, a, k: dict(d),
}

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: bool(a == b),
    ast.NotEq: lambda a, b: bool(a != b),
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b,
    ast.IsNot: lambda a, b: a is not b,
}

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
_EXPRESSIONS: dict[type, Callable[[_Scope, Any], object]] = {
    ast.Constant: lambda scope, node: node.value,
    ast.Name: _Scope.name,
    ast.Call: _Scope.call,
    ast.Attribute: _Scope.attribute,
    ast.Subscript: _Scope.subscript,
    ast.Dict: _Scope.dict_,
    ast.List: _Scope.sequence,
    ast.Tuple: _Scope.sequence,
    ast.JoinedStr: _Scope.joined,
    ast.BinOp: _Scope.binop,
    ast.BoolOp: _Scope.boolop,
    ast.Compare: _Scope.compare,
    ast.UnaryOp: _Scope.unary,
    ast.IfExp: _Scope.if_exp,
}

"""The model of Python that settings_eval runs settings over: values and expressions.

What a settings expression can be worth (constants, paths, dicts, references
to the modelled modules `os`, `os.path`, `pathlib`, `sys`, `dj_database_url`,
or an `Unknown` with its reason), and how each kind of expression, call and
method is worked out. settings_eval runs the statements; this module says
what their right-hand sides are worth.

It is longer than most modules for one reason: the tables at the end (the
expressions, the calls and methods modelled) are the model, one short
handler a row.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple


class Unknown(NamedTuple):
    """A value the static reader cannot work out, and why."""

    reason: str


class Ref(NamedTuple):
    """A module, function or class the evaluator models, by dotted name."""

    name: str


class Bound(NamedTuple):
    """A method of a value (`path.resolve`, `dict.update`)."""

    name: str
    value: object


class CannotEvaluate(Exception):
    """Raised inside the evaluator with the reason a value cannot be worked out."""


# Modules whose names the evaluator models; `from x import y` binds Ref("x.y").
MODELLED = ("os", "os.path", "pathlib", "sys", "dj_database_url")


class Expressions:
    """Work out expressions over a namespace of names already bound."""

    names: dict[str, object]

    def value(self, node: ast.expr) -> object:
        try:
            return self._eval(node)
        except CannotEvaluate as exc:
            return Unknown(str(exc))
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            return Unknown(f"{ast.unparse(node)} fails: {exc}")

    def _eval(self, node: ast.expr) -> object:
        handler = _EXPRESSIONS.get(type(node))
        if handler is None:
            raise CannotEvaluate(f"{short(node)} is not something migmerge evaluates")
        value = handler(self, node)
        if isinstance(value, Unknown):
            raise CannotEvaluate(value.reason)
        return value

    def name(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Name)
        if node.id in self.names:
            return self.names[node.id]
        if node.id in _BUILTINS:
            return Ref(node.id)
        raise CannotEvaluate(f"{node.id} is not defined where migmerge can read it")

    def call(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Call)
        func = self._eval(node.func)
        args = [self._eval(arg) for arg in node.args if not isinstance(arg, ast.Starred)]
        kwargs = {k.arg: self._eval(k.value) for k in node.keywords if k.arg is not None}
        if len(args) != len(node.args) or len(kwargs) != len(node.keywords):
            raise CannotEvaluate(f"{short(node)} passes * or ** arguments")
        if isinstance(func, Ref) and func.name in _CALLS:
            return _CALLS[func.name](args, kwargs)
        if isinstance(func, Bound) and func.name in _METHODS:
            return _METHODS[func.name](func.value, args, kwargs)
        raise CannotEvaluate(f"{short(node)} calls something migmerge does not evaluate")

    def attribute(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Attribute)
        value = self._eval(node.value)
        if isinstance(value, Ref):
            return Ref(f"{value.name}.{node.attr}")
        if isinstance(value, Path) and node.attr in ("parent", "name", "stem", "suffix"):
            return getattr(value, node.attr)
        kind = _KINDS.get(type(value))
        if kind is not None and f"{kind}.{node.attr}" in _METHODS:
            return Bound(f"{kind}.{node.attr}", value)
        raise CannotEvaluate(f"{short(node)} is not something migmerge evaluates")

    def subscript(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Subscript)
        container = self._eval(node.value)
        key = self._eval(node.slice)
        if container == Ref("os.environ"):
            return _environ_item(str(key))
        if isinstance(container, (dict, list, tuple, str)):
            items: Any = container
            return items[key]
        raise CannotEvaluate(f"{short(node)} is not something migmerge evaluates")

    def dict_(self, node: ast.expr) -> object:
        assert isinstance(node, ast.Dict)
        out: dict[object, object] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                spread = self._eval(value)
                if not isinstance(spread, dict):
                    raise CannotEvaluate(f"{short(value)} is not a dict migmerge can read")
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
                    raise CannotEvaluate(f"{short(node)} formats a value")
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
        raise CannotEvaluate(f"{short(node)} is not something migmerge evaluates")

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
                raise CannotEvaluate(f"{short(node)} compares in a way migmerge does not evaluate")
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
        raise CannotEvaluate(f"{short(node)} is not something migmerge evaluates")

    def if_exp(self, node: ast.expr) -> object:
        assert isinstance(node, ast.IfExp)
        return self._eval(node.body if self._eval(node.test) else node.orelse)


def short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _environ_item(key: str) -> object:
    # The project sees the same environment when it runs, so reading it is faithful.
    if key not in os.environ:
        raise CannotEvaluate(f"the environment variable {key} is not set")
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
        raise CannotEvaluate("the database URL is not set")
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    engine = _URL_ENGINES.get(scheme)
    if engine is None:
        raise CannotEvaluate(f"the database URL scheme {scheme!r} is not one migmerge knows")
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
# `from pathlib import Path` binds Ref("pathlib.Path"); a bare `Path` without import is unknown.
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

_EXPRESSIONS: dict[type, Callable[[Expressions, Any], object]] = {
    ast.Constant: lambda scope, node: node.value,
    ast.Name: Expressions.name,
    ast.Call: Expressions.call,
    ast.Attribute: Expressions.attribute,
    ast.Subscript: Expressions.subscript,
    ast.Dict: Expressions.dict_,
    ast.List: Expressions.sequence,
    ast.Tuple: Expressions.sequence,
    ast.JoinedStr: Expressions.joined,
    ast.BinOp: Expressions.binop,
    ast.BoolOp: Expressions.boolop,
    ast.Compare: Expressions.compare,
    ast.UnaryOp: Expressions.unary,
    ast.IfExp: Expressions.if_exp,
}

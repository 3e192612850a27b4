"""Where the project's default database is, read from its settings statically.

Finding it is static by default (the settings file read with `ast` and a tiny
evaluator for the path expressions settings use), so the check path never
imports Django; `load_settings` asks the project's own interpreter instead.
"""

from __future__ import annotations

import ast
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from migmerge.core.model import Database
from migmerge.reading.config import Config

VENDORS = {
    "django.db.backends.sqlite3": "sqlite",
    "django.contrib.gis.db.backends.spatialite": "sqlite",
    "django.db.backends.postgresql": "postgresql",
    "django.db.backends.postgresql_psycopg2": "postgresql",
    "django.contrib.gis.db.backends.postgis": "postgresql",
    "django.db.backends.mysql": "mysql",
    "django.contrib.gis.db.backends.mysql": "mysql",
}
MARKER = "MIGMERGE-DATABASE:"


def find_database(root: Path, config: Config, *, load_settings: bool = False) -> Database | None:
    """Find the default database: config.database, the project's settings, or the settings file."""
    if config.database:
        return Database("sqlite", str((root / config.database).resolve()))
    if load_settings:
        found = _database_from_django(root, config)
        if found is not None:
            return found
    return _database_from_source(root, config)


def settings_file(root: Path, config: Config) -> Path | None:
    """Find the settings module's file, from config.settings or manage.py's default."""
    from migmerge.reading.project import find_manage_py

    manage_py = find_manage_py(root, config)
    module = config.settings or (manage_py and _settings_module(manage_py))
    if not module:
        return None
    relative = Path(*module.split("."))
    bases = [manage_py.parent, root] if manage_py else [root]
    for base in dict.fromkeys(bases):
        for candidate in (base / relative.with_suffix(".py"), base / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def database_from_settings_source(source: bytes, settings_path: Path) -> Database | None:
    """Read DATABASES["default"] from a settings file's source with ast, or None."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    evaluator = _Evaluator(settings_path)
    default: dict[str, Any] | None = None
    for node in tree.body:
        for name, value in _assignments(node):
            evaluator.assign(name, value)
            if name == "DATABASES":
                default = _default_entry(evaluator, value)
    return _database(default, base=settings_path.parent) if default else None


def _database_from_source(root: Path, config: Config) -> Database | None:
    path = settings_file(root, config)
    if path is None:
        return None
    found = database_from_settings_source(path.read_bytes(), path)
    if found is not None and found.vendor == "sqlite" and not Path(found.name).is_absolute():
        # Django opens a relative NAME from the working folder: manage.py's.
        return Database("sqlite", str((_project_dir(root, config) / found.name).resolve()))
    return found


def _project_dir(root: Path, config: Config) -> Path:
    from migmerge.reading.project import find_manage_py

    manage_py = find_manage_py(root, config)
    return manage_py.parent if manage_py else root


def _settings_module(manage_py: Path) -> str | None:
    """Read `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x")` from manage.py."""
    try:
        tree = ast.parse(manage_py.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and len(node.args) == 2:
            key, value = (_constant(arg) for arg in node.args)
            if key == "DJANGO_SETTINGS_MODULE" and isinstance(value, str):
                return value
    return None


def _assignments(node: ast.stmt) -> Iterator[tuple[str, ast.expr]]:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                yield target.id, node.value
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        yield node.target.id, node.value


def _default_entry(evaluator: _Evaluator, value: ast.expr) -> dict[str, Any] | None:
    if not isinstance(value, ast.Dict):
        return None
    for key, entry in zip(value.keys, value.values, strict=True):
        if key is not None and _constant(key) == "default" and isinstance(entry, ast.Dict):
            return {
                str(_constant(k)): evaluator.value(v)
                for k, v in zip(entry.keys, entry.values, strict=True)
                if k is not None
            }
    return None


def _database(entry: dict[str, Any], base: Path) -> Database | None:
    vendor = VENDORS.get(str(entry.get("ENGINE")))
    name = entry.get("NAME")
    if vendor is None or name is None or name is _UNKNOWN:
        return None
    port = entry.get("PORT")
    return Database(
        vendor,
        str(name),
        host=_opt_text(entry.get("HOST")),
        port=int(str(port)) if str(port or "").isdigit() else None,
        user=_opt_text(entry.get("USER")),
        password=_opt_text(entry.get("PASSWORD")),
    )


def _opt_text(value: object) -> str | None:
    return str(value) if value not in (None, "", _UNKNOWN) else None


class _Unknown:
    """A value the static reader cannot work out."""


_UNKNOWN = _Unknown()


class _Evaluator:
    """Evaluate the few expressions settings use for paths, with no code run."""

    def __init__(self, settings_path: Path) -> None:
        self.names: dict[str, object] = {"__file__": str(settings_path)}

    def assign(self, name: str, value: ast.expr) -> None:
        self.names[name] = self.value(value)

    def value(self, node: ast.expr) -> object:
        try:
            return self._eval(node)
        except (_CannotEvaluate, TypeError, ValueError):
            return _UNKNOWN

    def _eval(self, node: ast.expr) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.BinOp):
            return _binop(node.op, self._eval(node.left), self._eval(node.right))
        if isinstance(node, ast.JoinedStr):
            return "".join(str(self._eval(part)) for part in node.values)
        if isinstance(node, ast.FormattedValue):
            return self._eval(node.value)
        if isinstance(node, ast.Attribute):
            return _attribute(self._eval(node.value), node.attr)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _CannotEvaluate

    def _name(self, name: str) -> object:
        if name in self.names and self.names[name] is not _UNKNOWN:
            return self.names[name]
        if name in ("Path", "os", "str"):
            return _Callable(name)
        raise _CannotEvaluate

    def _call(self, node: ast.Call) -> object:
        func = self._eval(node.func)
        args = [self._eval(arg) for arg in node.args]
        if not isinstance(func, _Callable) or node.keywords:
            raise _CannotEvaluate
        return func.call(args)


class _CannotEvaluate(Exception):
    """Raised inside the evaluator for anything it does not model."""


class _Callable(NamedTuple):
    """A function or method the evaluator models, by dotted name."""

    name: str
    bound: object = None

    def call(self, args: list[object]) -> object:
        handler = _CALLS.get(self.name)
        if handler is None:
            raise _CannotEvaluate
        return handler(self.bound, args)


def _attribute(value: object, attr: str) -> object:
    if isinstance(value, Path) and attr in ("parent", "name", "stem"):
        return getattr(value, attr)
    if isinstance(value, _Callable) and value.bound is None:
        return _Callable(f"{value.name}.{attr}")
    if isinstance(value, (Path, str)):
        return _Callable(f"{type(value).__name__}.{attr}", bound=value)
    raise _CannotEvaluate


def _binop(op: ast.operator, left: object, right: object) -> object:
    if isinstance(op, ast.Div) and isinstance(left, Path) and isinstance(right, (str, Path)):
        return left / right
    if isinstance(op, ast.Add) and isinstance(left, str) and isinstance(right, str):
        return left + right
    raise _CannotEvaluate


def _environ_get(_: object, args: list[object]) -> object:
    # The project sees the same environment when it runs, so reading it is faithful.
    value = os.environ.get(str(args[0]))
    if value is None and len(args) < 2:
        raise _CannotEvaluate
    return value if value is not None else args[1]


_CALLS: dict[str, Callable[[object, list[object]], object]] = {
    "Path": lambda _, args: Path(*(str(a) for a in args)),
    "str": lambda _, args: str(args[0]),
    "os.path.join": lambda _, args: os.path.join(*(str(a) for a in args)),
    "os.path.dirname": lambda _, args: os.path.dirname(str(args[0])),
    "os.path.abspath": lambda _, args: os.path.abspath(str(args[0])),
    "os.path.realpath": lambda _, args: os.path.realpath(str(args[0])),
    "os.environ.get": _environ_get,
    "os.getenv": _environ_get,
    "PosixPath.resolve": lambda bound, _: Path(str(bound)).resolve(),
    "PosixPath.absolute": lambda bound, _: Path(str(bound)).absolute(),
    "PosixPath.joinpath": lambda bound, args: Path(str(bound)).joinpath(*map(str, args)),
    "WindowsPath.resolve": lambda bound, _: Path(str(bound)).resolve(),
}


def _constant(node: ast.expr) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _database_from_django(root: Path, config: Config) -> Database | None:
    """Ask the project's own settings, in a subprocess running its interpreter."""
    import json  # here, not above: check reads applied migrations without it

    from migmerge.reading.git import clean_env
    from migmerge.reading.project import find_manage_py, project_python

    manage_py = find_manage_py(root, config)
    module = config.settings or (manage_py and _settings_module(manage_py))
    if manage_py is None or not module:
        return None
    code = (
        "import json; from django.conf import settings; d = settings.DATABASES['default'];"
        f"print({MARKER!r} + json.dumps({{k: str(d.get(k) or '') for k in"
        " ('ENGINE', 'NAME', 'HOST', 'PORT', 'USER', 'PASSWORD')}))"
    )
    argv = [project_python(manage_py, root), "-c", code]
    env = clean_env({"DJANGO_SETTINGS_MODULE": module})
    proc = subprocess.run(argv, cwd=manage_py.parent, capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        return None
    entry: dict[str, Any] = json.loads(lines[-1][len(MARKER) :])
    found = _database(entry, base=manage_py.parent)
    if found is not None and found.vendor == "sqlite":
        return Database("sqlite", str((manage_py.parent / found.name).resolve()))
    return found

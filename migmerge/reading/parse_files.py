"""The SQL a repository's RunSQL subclass reads from a file of the repository.

rapidpro's `InstallSQL("0042_msgs")` is a RunSQL whose `__init__` opens
`os.path.join(os.path.dirname(__file__), "%s.sql" % filename)` and passes
what it read to RunSQL. Such an `__init__` is read, never run: the call's
string arguments bound to its parameters, its statements one by one
(assignments of strings and paths, `with open(path) as f:`, `f.read()`,
`Path(...).read_text()`), until `super().__init__(sql, ...)`. The file is read
from the same revision as the module defining the class. Anything else in
the body (a loop, an `if`, a call of its own) and the class is not read.

Also here: the model labels of a Django fixture file (`.json`, `.yaml`) that
a RunPython passes by path to a loader (`call_command("loaddata", path)`, or
a helper of the repository that takes each record's `model`).
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Callable

from migmerge.reading.parse_names import Context
from migmerge.reading.parse_nodes import dotted_name, last_name
from migmerge.reading.parse_strings import string_value

# What a name in the body holds: a string (a path or SQL) or an open file's path.
_File = tuple[str]
_Value = str | _File | None

_MAX_SQL = 4 * 1024 * 1024


class FileSql:
    """What the call reads: RunSQL's arguments as literals, or why they cannot be."""

    def __init__(self, call: ast.Call | None, why: str = "", paths: tuple[str, ...] = ()) -> None:
        self.call = call  # RunSQL(sql, reverse_sql) of literals, when read
        self.why = why
        self.paths = paths


def file_sql(cls: ast.ClassDef, where: Context, call: ast.Call, caller: Context) -> FileSql | None:
    """Read a RunSQL subclass's `__init__` for the SQL `call` makes it run; None: not one."""
    if "RunSQL" not in {last_name(base) for base in cls.bases}:
        return None
    init = next(
        (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
    )
    if init is None:
        return None
    env = _bind(init, call, caller)
    if env is None:
        return FileSql(None, "its arguments are not string literals")
    env["__file__"] = where.path
    reader = _Body(where, env)
    for stmt in init.body:
        done = reader.run(stmt)
        if done is not None:
            return done
    return FileSql(None, "its __init__ passes nothing to RunSQL that can be read")


def _bind(init: ast.FunctionDef, call: ast.Call, caller: Context) -> dict[str, _Value] | None:
    """The call's arguments by parameter name (self left out), as strings; None: not all are."""
    params = [a.arg for a in init.args.args][1:]
    defaults = dict(zip(params[len(params) - len(init.args.defaults) :], init.args.defaults))
    given: dict[str, ast.expr] = dict(zip(params, call.args))
    if len(call.args) > len(params) or init.args.vararg or init.args.kwarg:
        return None
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg not in params:
            return None
        given[keyword.arg] = keyword.value
    env: dict[str, _Value] = {}
    for param in params:
        if param in given:
            value = string_value(given[param], caller)
        elif param in defaults:
            value = _literal(defaults[param])
        else:
            return None
        if value is None and not _is_none(given.get(param, defaults.get(param))):
            return None
        env[param] = value  # None here: the argument is None
    return env


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


class _Body:
    """The statements of `__init__`, read in order with what each name holds."""

    def __init__(self, where: Context, env: dict[str, _Value]) -> None:
        self.where = where
        self.env = env
        self.read: list[str] = []
        self.evaluating: set[str] = set()
        self.params = {name for name, value in env.items() if value is None}

    def run(self, stmt: ast.stmt) -> FileSql | None:
        """Read one statement; a FileSql once RunSQL is given its SQL or it cannot be read."""
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return None  # a docstring
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                self.env[target.id] = self.value(stmt.value)
                return None
        if isinstance(stmt, ast.With):
            for item in stmt.items:
                path = self.opened(item.context_expr)
                if path is None or not isinstance(item.optional_vars, ast.Name):
                    return self.fail(stmt)
                self.env[item.optional_vars.id] = (path,)
            for inner in stmt.body:
                done = self.run(inner)
                if done is not None:
                    return done
            return None
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            args = _super_init(stmt.value)
            if args is not None:
                return self.given(args)
        return self.fail(stmt)

    def fail(self, stmt: ast.stmt) -> FileSql:
        return FileSql(None, f"its __init__ does more than read a file (line {stmt.lineno})")

    def given(self, args: dict[str, ast.expr]) -> FileSql:
        """RunSQL's own arguments: literals when each can be read."""
        sql = args.get("sql")
        if sql is None:
            return FileSql(None, "its __init__ gives RunSQL no SQL")
        values = {}
        for key in ("sql", "reverse_sql"):
            if key in args and not (key == "reverse_sql" and self.none(args[key])):
                value = self.value(args[key])
                if not isinstance(value, str):
                    files = ", ".join(self.read)
                    why = (
                        f"it reads {files}, not in the tree at this revision"
                        if files
                        else (f"the {key} it gives RunSQL cannot be read")
                    )
                    return FileSql(None, why, self.paths)
                values[key] = value
        if set(args) - {"sql", "reverse_sql"}:
            return FileSql(None, "it gives RunSQL more than its SQL", self.paths)
        keywords = [ast.keyword(arg=k, value=ast.Constant(value=v)) for k, v in values.items()]
        call = ast.Call(func=ast.Name(id="RunSQL", ctx=ast.Load()), args=[], keywords=keywords)
        return FileSql(call, "", self.paths)

    def none(self, node: ast.expr) -> bool:
        """Tell whether `node` is None: the literal, or a parameter given None."""
        if isinstance(node, ast.Name) and node.id in self.params:
            return self.env.get(node.id) is None
        return _is_none(node)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(self.read)

    def value(self, node: ast.expr) -> _Value:
        """A string (a path or the text of a file), an open file, or None."""
        if isinstance(node, ast.Name) and node.id in self.env:
            return self.env[node.id]
        if isinstance(node, ast.Name) and node.id in self.where.constants:
            if node.id in self.evaluating:
                return None
            self.evaluating.add(node.id)  # a module-level path (`HERE = Path(__file__).parent`)
            try:
                return self.value(self.where.constants[node.id])
            finally:
                self.evaluating.discard(node.id)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, str) and isinstance(right, str):
                return posixpath.join(left, right)
            return None
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            base = self.value(node.value)
            return posixpath.dirname(base) if isinstance(base, str) else None
        strings = {k: ast.Constant(value=v) for k, v in self.env.items() if isinstance(v, str)}
        scope = self.where._replace(constants={**self.where.constants, **strings})
        return string_value(node, scope)

    def call(self, node: ast.Call) -> _Value:
        name = dotted_name(node.func) or ""
        strings = [self.value(arg) for arg in node.args]
        if node.keywords or any(not isinstance(s, str) for s in strings):
            return self.method(node)
        text = [s for s in strings if isinstance(s, str)]
        path_op = _PATH_OPS.get(self._os_name(name))
        if path_op is not None and text:
            try:
                return path_op(text)
            except TypeError:
                return None
        if last_name(node.func) in ("Path", "PurePath", "PosixPath") and len(text) == 1:
            return text[0]
        return self.method(node)

    def method(self, node: ast.Call) -> _Value:
        """`f.read()`, `open(p).read()`, `Path(p).read_text()`, `p.joinpath(q)`."""
        func = node.func
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr in ("read", "read_text") and not node.args:
            target = self.value(func.value) if func.attr == "read" else None
            if func.attr == "read" and isinstance(func.value, ast.Call):
                opened = self.opened(func.value)
                target = (opened,) if opened is not None else None
            if func.attr == "read_text":
                base = self.value(func.value)
                target = (base,) if isinstance(base, str) else None
            if isinstance(target, tuple):
                return self.contents(target[0])
            return None
        if func.attr == "joinpath":
            parts = [self.value(func.value), *(self.value(a) for a in node.args)]
            if all(isinstance(p, str) for p in parts):
                return posixpath.join(*[p for p in parts if isinstance(p, str)])
        return None

    def opened(self, node: ast.expr) -> str | None:
        """The path `open(path[, "r"])` (or `io.open`, `codecs.open`) opens for reading."""
        if not (isinstance(node, ast.Call) and last_name(node.func) == "open" and node.args):
            return None
        modes = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "mode")]
        if any(_literal(m) not in ("r", "rt", "rb") for m in modes):
            return None
        if any(k.arg not in ("mode", "encoding") for k in node.keywords):
            return None
        path = self.value(node.args[0])
        return path if isinstance(path, str) else None

    def contents(self, path: str) -> str | None:
        """The text of `path` (relative to the repository) at the class's revision."""
        where = posixpath.normpath(path)
        if where.startswith(("/", "../")) or where == ".." or self.where.modules is None:
            return None
        self.read.append(where)
        data = self.where.modules.data(self.where.path, where)
        if data is None or len(data) > _MAX_SQL:
            return None
        return data.decode("utf-8", "replace")

    def _os_name(self, dotted: str) -> str:
        """The dotted name through the imports: `path.join` after `from os import path`."""
        head, _, rest = dotted.partition(".")
        module = self.where.imports.get(head, head)
        return f"{module}.{rest}" if rest else module


def _super_init(call: ast.Call) -> dict[str, ast.expr] | None:
    """RunSQL's arguments in `super().__init__(...)` (or `RunSQL.__init__(self, ...)`)."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "__init__"):
        return None
    args = list(call.args)
    if isinstance(func.value, ast.Call) and last_name(func.value.func) == "super":
        pass
    elif last_name(func.value) == "RunSQL" and args:
        args = args[1:]  # self
    else:
        return None
    if any(isinstance(a, ast.Starred) for a in args) or any(k.arg is None for k in call.keywords):
        return None
    out = dict(zip(("sql", "reverse_sql", "state_operations", "hints", "elidable"), args))
    out.update({k.arg: k.value for k in call.keywords if k.arg})
    return out


def _one(parts: list[str]) -> str:
    if len(parts) != 1:
        raise TypeError("one argument")
    return parts[0]


_PATH_OPS: dict[str, Callable[[list[str]], str]] = {
    "os.path.join": lambda parts: posixpath.join(*parts),
    "os.path.dirname": lambda parts: posixpath.dirname(_one(parts)),
    # Paths here are relative to the repository, as `__file__` is: already absolute enough.
    "os.path.abspath": _one,
    "os.path.realpath": _one,
    "os.path.normpath": lambda parts: posixpath.normpath(_one(parts)),
}


# Django fixtures: a list of records, each naming its model ("app_label.modelname").
FIXTURE_SUFFIXES = (".json", ".yaml", ".yml")
_YAML_ITEM = re.compile(r"^- ", re.MULTILINE)
_YAML_MODEL = re.compile(
    r"^(?:- |  )model:[ \t]*(['\"]?)([A-Za-z_]\w*\.[A-Za-z_]\w*)\1[ \t]*\r?$", re.MULTILINE
)


def path_value(node: ast.expr, ctx: Context) -> str | None:
    """The repository path an expression builds from `__file__` and strings, else None."""
    value = _Body(ctx, {"__file__": ctx.path}).value(node)
    return value if isinstance(value, str) else None


def fixture_labels(node: ast.expr, ctx: Context) -> list[str] | None:
    """The model labels of the fixture file `node` is the path of; None: not one, or unread.

    Read at the revision of the module asking. A file whose records cannot
    all be matched with a model label is not read (None).
    """
    path = path_value(node, ctx)
    if path is None or not path.endswith(FIXTURE_SUFFIXES):
        return None
    where = posixpath.normpath(path)
    if where.startswith(("/", "../")) or ctx.modules is None:
        return None
    data = ctx.modules.data(ctx.path, where)
    if data is None or len(data) > _MAX_SQL:
        return None
    text = data.decode("utf-8", "replace")
    if where.endswith(".json"):
        return _json_labels(text)
    labels = [m.group(2) for m in _YAML_MODEL.finditer(text)]
    if not labels or len(labels) != len(_YAML_ITEM.findall(text)):
        return None
    return labels


def _json_labels(text: str) -> list[str] | None:
    import json  # a fixture in JSON only: reading a migration needs no json

    try:
        records = json.loads(text)
    except ValueError:
        return None
    if not isinstance(records, list) or not records:
        return None
    labels = [r.get("model") if isinstance(r, dict) else None for r in records]
    if not all(isinstance(label, str) and label.count(".") == 1 for label in labels):
        return None
    return [str(label) for label in labels]


def may_be_a_path(node: ast.expr) -> bool:
    """A cheap look: does `node` use `__file__` or a string naming a fixture file?"""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id == "__file__":
            return True
        if (
            isinstance(sub, ast.Constant)
            and isinstance(sub.value, str)
            and sub.value.endswith(FIXTURE_SUFFIXES)
        ):
            return True
    return False


def record_names(code: ast.AST) -> frozenset[str]:
    """Names `code` assigns a record's model to (`label = item["model"]`)."""
    return frozenset(
        target.id
        for node in ast.walk(code)
        if isinstance(node, ast.Assign) and record_model(node.value, frozenset())
        for target in node.targets
        if isinstance(target, ast.Name)
    )


def record_model(node: ast.expr, records: frozenset[str]) -> bool:
    """`x["model"]`, `x.get("model")`, or a name assigned one."""
    if isinstance(node, ast.Name):
        return node.id in records
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "model"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        first = node.args[0] if node.args else None
        named = isinstance(first, ast.Constant) and first.value == "model"
        return node.func.attr == "get" and named
    return False

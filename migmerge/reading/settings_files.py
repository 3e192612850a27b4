"""The settings files of a tree, and what they say about migrations, read statically.

Which files are settings (named like them, or named by a manage.py or the
config), and from them `MIGRATION_MODULES` (wherever assigned: under `if`,
`try`, in a `dict(...)` call) and the swappable models (`AUTH_USER_MODEL`).
Discovery labels packages with what is read here; nothing is imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

from migmerge.reading.config import Config
from migmerge.reading.project import settings_module_of
from migmerge.reading.snapshot import Snapshot


class Settings:
    """What migmerge reads from settings files."""

    __slots__ = ("migration_modules", "modules", "swappable")

    def __init__(self) -> None:
        # label -> its migrations module; None: no migrations, as every settings module says.
        self.migration_modules: dict[str, str | None] = {}
        # Every (label, module) some settings module names, for discovery.
        self.modules: list[tuple[str, str]] = []
        self.swappable: dict[str, str] = {}  # AUTH_USER_MODEL -> "app.Model"


class _FileSettings(NamedTuple):
    """What one settings module assigns, wherever in it (under `if`, `try`, ...)."""

    modules: dict[str, str | None]  # MIGRATION_MODULES entries
    installs: bool  # assigns INSTALLED_APPS: a settings module a project may run with


# Pathspecs for every file `is_settings_file` accepts.
SETTINGS_GLOBS = (":(glob)**/*settings*.py", ":(glob)**/settings/*.py")


def is_settings_file(path: str) -> bool:
    """Tell whether `path` looks like a Django settings module."""
    if "settings" not in path or not path.endswith(".py"):
        return False
    folder, _, name = path.rpartition("/")
    return name == "settings.py" or folder.rpartition("/")[2] == "settings" or "settings" in name


def settings_paths(snapshot: Snapshot, config: Config) -> list[str]:
    """Where the settings modules live that the tree's manage.py files (or the config) name.

    As Django finds them: manage.py sets DJANGO_SETTINGS_MODULE, relative to
    its own folder. Each module is a file or a package (every file under it).
    """
    manage = [p for p in snapshot.files if p.rpartition("/")[2] == "manage.py"]
    return _named_settings(snapshot.read(manage), config)


def _named_settings(manage_py: Mapping[str, bytes], config: Config) -> list[str]:
    """settings_paths from the manage.py files' bytes (path -> source)."""
    modules = {("", config.settings)} if config.settings else set()
    for path, source in manage_py.items():
        named = settings_module_of(source)
        if named:
            modules.add((path.rpartition("/")[0], named))
    out = []
    for folder, module in sorted(modules):
        stem = "/".join(filter(None, (folder, module.replace(".", "/"))))
        out += [stem + ".py", stem + "/"]
    return out


def read_settings(snapshot: Snapshot, paths: Iterable[str], config: Config) -> Settings:
    """Read MIGRATION_MODULES and AUTH_USER_MODEL from settings files, statically.

    The files: those named like settings among `paths`, the module the config
    names, and the modules the tree's manage.py files name, whatever they are
    called (DJANGO_SETTINGS_MODULE = "conf").
    """
    candidates = [p for p in paths if "settings" in p and is_settings_file(p)]
    if config.settings:
        module_path = config.settings.replace(".", "/")
        candidates += [p for p in snapshot.files if p.endswith(module_path + ".py")]
    manage = [p for p in snapshot.files if p.rpartition("/")[2] == "manage.py"]
    sources = snapshot.read(sorted({*candidates, *manage}))
    named = _named_settings({p: sources[p] for p in manage if p in sources}, config)
    files = [n for n in named if not n.endswith("/") and n in snapshot.files]
    folders = tuple(n for n in named if n.endswith("/"))
    if folders:
        files += [p for p in snapshot.files if p.startswith(folders) and p.endswith(".py")]
    sources.update(snapshot.read(p for p in files if p not in sources))
    settings = Settings()
    found = []
    for path in sorted({*candidates, *files}):
        source = sources.get(path)
        if source is not None and any(word in source for word in _SETTINGS_WORDS):
            found.append(_read_settings_source(source, settings))
    _settle_modules(found, settings)
    return settings


_SETTINGS_WORDS = (b"MIGRATION_MODULES", b"_USER_MODEL", b"INSTALLED_APPS")


def _settle_modules(found: list[_FileSettings], settings: Settings) -> None:
    """Decide each label's migrations module from every settings module read.

    A module named anywhere counts; `None` (no migrations) only when no
    settings module names a module for the label and none that installs apps
    leaves it at its default: one project's test or admin settings never hide
    a package another project migrates.
    """
    settings.modules = list(
        dict.fromkeys((label, m) for f in found for label, m in f.modules.items() if m)
    )
    for label in dict.fromkeys(label for f in found for label in f.modules):
        named = [f.modules[label] for f in found if f.modules.get(label)]
        if named:
            settings.migration_modules[label] = named[0]
        elif not any(f.installs and label not in f.modules for f in found):
            settings.migration_modules[label] = None


def _read_settings_source(source: bytes, settings: Settings) -> _FileSettings:
    """Read one settings module's MIGRATION_MODULES, INSTALLED_APPS and swappable models."""
    modules: dict[str, str | None] = {}
    installs = False
    for node in _assignments(source):
        target, value = _assigned_name(node)
        if target == "MIGRATION_MODULES":
            modules.update(_module_map(value))
        elif target == "INSTALLED_APPS":
            installs = True
        elif target and target.endswith("_MODEL") and _is_model_name(value):
            settings.swappable[target] = value.value  # type: ignore[union-attr]
    return _FileSettings(modules, installs)


def _assignments(source: bytes) -> Iterator[ast.stmt]:
    """Every statement of a module outside functions and classes (under `if` too)."""
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        from migmerge.reading.salvage import salvage  # an old or templated settings file

        body = salvage(source.decode("utf-8", "replace").replace("\0", "")).tree.body
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        stack += reversed(_nested(node))


def _nested(node: ast.stmt) -> list[ast.stmt]:
    """The statements directly inside a compound statement (none for a def or class)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return []
    out: list[ast.stmt] = []
    for field in ("body", "orelse", "finalbody"):
        out += getattr(node, field, [])
    for handler in getattr(node, "handlers", []):
        out += handler.body
    for case in getattr(node, "cases", []):
        out += case.body
    return out


def _assigned_name(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """(setting, value) for `X = v`, `X |= v`, `X += v`, `X.update(v)`, `X["k"] = v`."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        if isinstance(target, ast.Name):
            return target.id, node.value
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            return target.value.id, ast.Dict(keys=[target.slice], values=[node.value])
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.attr in ("update", "setdefault")
        ):
            return func.value.id, _call_dict(node.value)
    return None, None


def _call_dict(call: ast.Call) -> ast.expr:
    """A dict literal standing for the arguments of `.update(...)` or `dict(...)`."""
    if call.args and isinstance(call.args[0], ast.Dict):
        first: ast.Dict = call.args[0]
        keys, values = list(first.keys), list(first.values)
    elif len(call.args) == 2:  # setdefault(key, value)
        keys, values = [call.args[0]], [call.args[1]]
    else:
        keys, values = [], []
    keys += [ast.Constant(kw.arg) for kw in call.keywords if kw.arg]
    values += [kw.value for kw in call.keywords if kw.arg]
    return ast.Dict(keys=keys, values=values)


def _module_map(node: ast.expr | None) -> dict[str, str | None]:
    """Literal label -> module entries of a MIGRATION_MODULES dict (or `dict(...)` call)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        node = _call_dict(node)
    if not isinstance(node, ast.Dict):
        return {}
    out: dict[str, str | None] = {}
    for key, value in zip(node.keys, node.values):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            continue
        if isinstance(value, ast.Constant) and (
            value.value is None or isinstance(value.value, str)
        ):
            out[key.value] = value.value
    return out


def _is_model_name(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value

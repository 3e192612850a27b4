"""Render merge migrations as `makemigrations --merge` does, with the Django that runs this.

migmerge runs it with the project's interpreter (`python -I`, the requests as
a JSON list on stdin: for each, app label, leaf names, number, the file's
future path), or loads it to render with its own Django. Fixed code: names
are data, never code. Like Django's makemigrations, it names each file
NNNN_merge_<leaves> (a timestamp past 47 characters), writes the header with
this Django's version, and runs black on the result when this Django runs
formatters and black is installed. Prints a JSON list, one
{"name", "source", "django", "formatter"} a request, in their order.

One process renders every merge migration of a run: Django is set up once,
and black, when the `black` found is the one this interpreter imports, runs
in this process, not as a process per file: its configuration is found once
for every file that shares it, as its command line finds it (black's own
find_project_root, find_pyproject_toml, parse_pyproject_toml, Mode), and
each file is formatted with format_file_contents (once per shape: see
_Black._format_here), as `black --fast --stdin-filename <path> -` formats
it. A configuration whose effect on the bytes this script cannot promise
(force-exclude, required-version, diff, a value the command line would
refuse, ...) goes through black's command line instead, here, with the same
arguments and the text on a stand-in stdin.
"""

import importlib
import io
import json
import locale
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

MAX_LEAF_NAMES = 47
UTF8 = {"utf-8", "utf8"}
NAME = re.compile(r"'([A-Za-z0-9_]+)'")  # a name as Django's writer quotes it
PLACED = re.compile(r"""(["'])(Q[0-9a-f]+Z*)\1""")  # a stand-in as black quotes it
# Configuration keys whose values this script turns into black's Mode as its command line does.
MODE_KEYS = {"line_length", "skip_string_normalization", "skip_magic_trailing_comma"}
MODE_KEYS |= {"target_version", "preview"}
# Keys that cannot change what `black --fast --quiet --stdin-filename <path> -` prints.
INERT_KEYS = {"include", "exclude", "extend_exclude", "quiet", "verbose", "fast", "color"}
INERT_KEYS |= {"cache_dir", "no_cache", "workers"}


def render_all(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Render every merge migration `requests` ask for, in their order."""
    black = _Black()
    return [render(request, black) for request in requests]


def render(request: dict[str, Any], black: "_Black | None" = None) -> dict[str, Any]:
    """Render the merge migration `request` asks for."""
    django = _module("django")
    settings = _module("django.conf").settings
    if not settings.configured:
        settings.configure(USE_TZ=True)
    migrations = _module("django.db.migrations")
    utils = _module("django.db.migrations.utils")
    MigrationWriter = _module("django.db.migrations.writer").MigrationWriter  # noqa: N806

    app, leaves = request["app"], sorted(request["leaves"])
    names = "_".join(leaves)
    if len(names) > MAX_LEAF_NAMES:
        names = utils.get_migration_name_timestamp()
    name = f"{request['number']:04d}_merge_{names}"
    dependencies = [(app, leaf) for leaf in leaves]
    subclass = type("Migration", (migrations.Migration,), {"dependencies": dependencies})
    source = str(MigrationWriter(subclass(name, app), include_header=True).as_string())
    black = black or _Black()
    formatted, formatter = black.format(source, request.get("path") or f"{name}.py")
    version = str(django.get_version())
    return {"name": name, "source": formatted, "django": version, "formatter": formatter}


def _shape(source: str) -> tuple[str, list[str]] | None:
    """`source` with each 'name' string swapped for a same-width stand-in, and the names."""
    if '"' in source or any(line.lstrip().startswith("'") for line in source.splitlines()):
        return None  # a string that could be a docstring, or one of another kind
    names: list[str] = []

    def stand_in(match: re.Match[str]) -> str:
        names.append(match[1])
        return "'" + f"Q{len(names) - 1:x}".ljust(len(match[1]), "Z") + "'"

    shaped = NAME.sub(stand_in, source)
    if "'" in NAME.sub("", source) or any(len(f"Q{i:x}") > len(n) for i, n in enumerate(names)):
        return None  # another string, or a name too short for its stand-in
    return shaped, names


def _module(name: str) -> Any:
    """Import a Django module (Django ships no type information)."""
    return importlib.import_module(name)


class _Black:
    """black as Django's run_formatters would run it, on the text instead of the file."""

    def __init__(self) -> None:
        self.found = False
        self.path: str | None = None
        self.main: Any = None  # black's command, when it can run in this process
        self.black: Any = None  # black's module, then
        self.modes: dict[str | None, Any] = {}  # by configuration file: its Mode, or None
        self.roots: dict[Path, bool] = {}  # by project root: whether black can read it here
        self.configs: dict[Path, str | None] = {}  # by project root: the configuration file
        self.shapes: dict[tuple[str, Any], tuple[str, str | None]] = {}  # formatted stand-ins

    def format(self, source: str, path: str) -> tuple[str, str | None]:
        """`source` as black formats it for `path` (its config), or unchanged without black."""
        if not self.found:
            self.found = True
            self.path = self._find()
            self.main = self._importable() if self.path else None
        if self.path is None:
            return source, None
        args = ["--fast", "--quiet", "--stdin-filename", path, "-"]
        if self.main is not None:
            mode = self._mode(source, path)
            if mode is not None:
                return self._format_here(source, mode)
            try:
                return self._in_process(args, source)
            except Exception:  # noqa: BLE001 - the separate process says it as black does
                self.main = None
        try:
            proc = subprocess.run(
                [self.path, *args], input=source, capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired):
            return source, None
        if proc.returncode != 0:
            return source, None
        return proc.stdout, "black"

    @staticmethod
    def _find() -> str | None:
        if not hasattr(_module("django.core.management.utils"), "run_formatters"):
            return None  # this Django (before 4.1) runs no formatter
        # As the activated environment would: its own bin/ first on PATH.
        path_env = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
        return shutil.which("black", path=path_env)

    def _importable(self) -> Any:
        """black's click command when the `black` found is this interpreter's own, else None."""
        assert self.path is not None
        try:
            with open(self.path, "rb") as script:
                first = script.readline(4096)
        except OSError:
            return None
        if first.rstrip(b"\r\n") != b"#!" + os.fsencode(sys.executable):
            return None  # another interpreter's black (pipx, a system package): its own process
        try:
            black = importlib.import_module("black")
        except Exception:  # noqa: BLE001 - any failure: run the found one instead
            return None
        main = getattr(black, "main", None)
        self.black = black
        return main if hasattr(main, "main") else None

    def _mode(self, source: str, path: str) -> Any:
        """black's Mode for `path` as its command line builds it, or None where it cannot say."""
        if not path.endswith(".py") or "\r" in source:
            return None  # a .pyi or another newline: the command line decides
        if not source.isascii() and locale.getpreferredencoding(False).lower() not in UTF8:
            return None
        black = self.black
        try:
            # As `black --stdin-filename <path> -` looks: from the file's folder up.
            root, _ = black.find_project_root(("-",), path)
            if root is None or not self._readable(root):
                return None
            resolved = Path(path).resolve()
            if resolved != root and root not in resolved.parents:
                return None  # outside the root: black would print it unchanged
            if root not in self.configs:  # the same for every path under this root
                self.configs[root] = black.find_pyproject_toml(("-",), path)
            config = self.configs[root]
            if config not in self.modes:
                self.modes[config] = self._mode_of(config)
            return self.modes[config]
        except Exception:  # noqa: BLE001 - another black: its command line decides
            return None

    def _readable(self, root: Path) -> bool:
        """Whether black's command line reads `root`'s .gitignore without failing."""
        if root not in self.roots:
            try:
                _module("black.files").get_gitignore(root)
                self.roots[root] = True
            except Exception:  # noqa: BLE001 - the command line says it, as black does
                self.roots[root] = False
        return self.roots[root]

    def _mode_of(self, config: str | None) -> Any:
        """The Mode black's command line builds from `config`, None if this cannot promise it."""
        black = self.black
        values = black.parse_pyproject_toml(config) if config else {}
        if set(values) - MODE_KEYS - INERT_KEYS:
            return None
        length = values.get("line_length", black.DEFAULT_LINE_LENGTH)
        flags = [values.get(k, False) for k in MODE_KEYS - {"line_length", "target_version"}]
        if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
            return None
        if not all(isinstance(flag, bool) for flag in flags):
            return None
        names = values.get("target_version", [])
        known = {v.name.lower(): v for v in black.TargetVersion}
        if not isinstance(names, list) or not all(n in known for n in names):
            return None
        return black.Mode(
            target_versions={known[n] for n in names},
            line_length=length,
            string_normalization=not values.get("skip_string_normalization", False),
            magic_trailing_comma=not values.get("skip_magic_trailing_comma", False),
            preview=values.get("preview", False),
        )

    def _format_here(self, source: str, mode: Any) -> tuple[str, str | None]:
        """`source` as `black --fast --stdin-filename <path> -` prints it under `mode`.

        Merge migrations of one run differ only in their names (app labels,
        leaves), which Django writes as plain 'name' strings. Black's stable
        style decides a file's layout from its tokens and their widths, never
        from what such a string holds (its quotes: the string has none), so a
        file whose names are swapped for same-width stand-ins is laid out as
        the file is: it is formatted once per shape and mode, the names put
        back. Anything else (preview style, a name with other characters, a
        string that could be a docstring) is formatted as itself.
        """
        shape = None if mode.preview else _shape(source)
        if shape is not None:
            key = (shape[0], mode)
            if key not in self.shapes:
                self.shapes[key] = self._format_one(shape[0], mode)
            laid_out, formatter = self.shapes[key]
            if formatter is not None and len(PLACED.findall(laid_out)) == len(shape[1]):
                names = iter(shape[1])
                return PLACED.sub(lambda m: m[1] + next(names) + m[1], laid_out), formatter
        return self._format_one(source, mode)

    def _format_one(self, source: str, mode: Any) -> tuple[str, str | None]:
        black = self.black
        try:
            formatted = black.format_file_contents(source, fast=True, mode=mode)
        except black.NothingChanged:
            formatted = source
        except Exception:  # noqa: BLE001 - black's command line fails on it too
            return source, None
        if formatted and formatted[-1] != "\n":
            formatted += "\n"  # as black writes to stdout
        return formatted, "black"

    def _in_process(self, args: list[str], source: str) -> tuple[str, str | None]:
        """Run black's command line here: the same arguments, `source` on a stand-in stdin."""
        encoding = locale.getpreferredencoding(False)  # as subprocess's text mode encodes
        stdin, stdout = sys.stdin, sys.stdout
        written = io.BytesIO()
        # Held here: a stand-in closes its buffer when collected.
        given = io.TextIOWrapper(io.BytesIO(source.encode(encoding)), encoding=encoding)
        taken = io.TextIOWrapper(written, encoding=encoding)
        sys.stdin, sys.stdout = given, taken
        try:
            code = self.main.main(args=args, prog_name="black", standalone_mode=False)
            taken.flush()
        except SystemExit as exc:
            code = exc.code
        finally:
            sys.stdin, sys.stdout = stdin, stdout
        if code not in (0, None):
            return source, None
        # As subprocess's text mode decodes: universal newlines.
        text = written.getvalue().decode(encoding)
        return text.replace("\r\n", "\n").replace("\r", "\n"), "black"


if __name__ == "__main__":
    print(json.dumps(render_all(json.load(sys.stdin))))

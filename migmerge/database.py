"""The project's database: where it is, what it has applied, backups, renamed records.

Finding it is static by default (the settings file read with `ast`), so the
check path never imports Django. Reading is read-only: a missing SQLite file
is never created. Drivers and client programs are used only when present.
"""

from __future__ import annotations

import ast
import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from migmerge.config import Config
from migmerge.errors import MigmergeError, StepFailed
from migmerge.model import Key

VENDORS = {
    "django.db.backends.sqlite3": "sqlite",
    "django.contrib.gis.db.backends.spatialite": "sqlite",
    "django.db.backends.postgresql": "postgresql",
    "django.db.backends.postgresql_psycopg2": "postgresql",
    "django.contrib.gis.db.backends.postgis": "postgresql",
    "django.db.backends.mysql": "mysql",
    "django.contrib.gis.db.backends.mysql": "mysql",
}
SELECT_APPLIED = "SELECT app, name FROM django_migrations"
# Django writes migration names as identifiers; anything else is refused before SQL is built.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_]+$")
MARKER = "MIGMERGE-DATABASE:"


class Database(NamedTuple):
    """Where the project's default database lives."""

    vendor: str  # "sqlite" | "postgresql" | "mysql"
    name: str  # SQLite: absolute file path; otherwise the database name
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None

    def describe(self) -> str:
        """Name the database for a person: the file, or vendor://host/name."""
        if self.vendor == "sqlite":
            return self.name
        return f"{self.vendor}://{self.host or 'localhost'}/{self.name}"


# Finding the database


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
    from migmerge.django_side import find_manage_py

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
    from migmerge.django_side import find_manage_py

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

    from migmerge.django_side import clean_env, find_manage_py, project_python

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


# Reading what is applied


def applied_migrations(db: Database) -> frozenset[Key] | None:
    """Read django_migrations without writing; None when there is none or it is unreadable."""
    readers = {
        "sqlite": _applied_sqlite,
        "postgresql": _applied_postgresql,
        "mysql": _applied_mysql,
    }
    reader = readers.get(db.vendor)
    return reader(db) if reader else None


def _applied_sqlite(db: Database) -> frozenset[Key] | None:
    path = Path(db.name)
    if not path.is_file():
        return None  # opening it would create it; there is nothing applied to read
    try:
        with _sqlite_readonly(path) as conn:
            rows = conn.execute(SELECT_APPLIED).fetchall()
    except sqlite3.OperationalError as exc:
        return frozenset() if "no such table" in str(exc) else None
    except sqlite3.DatabaseError:
        return None
    return frozenset((str(app), str(name)) for app, name in rows)


class _sqlite_readonly:
    """A read-only SQLite connection that is closed on exit (sqlite3's own only commits)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def _applied_postgresql(db: Database) -> frozenset[Key] | None:
    try:
        import psycopg
    except ImportError:
        return None
    try:
        with psycopg.connect(**_pg_params(db), connect_timeout=5) as conn:
            conn.read_only = True
            rows = conn.execute(SELECT_APPLIED).fetchall()
    except psycopg.errors.UndefinedTable:
        return frozenset()
    except psycopg.Error:
        return None
    return frozenset((str(app), str(name)) for app, name in rows)


def _applied_mysql(db: Database) -> frozenset[Key] | None:
    try:
        proc = _mysql(db, "mysql", "--batch", "--skip-column-names", "-e", SELECT_APPLIED)
    except OSError:
        return None  # no client installed: the applied state stays unknown
    if proc.returncode != 0:
        return frozenset() if "doesn't exist" in proc.stderr else None
    rows = (line.split("\t") for line in proc.stdout.splitlines() if "\t" in line)
    return frozenset((app, name) for app, name in rows)


# Backups


def backup(db: Database, target_dir: Path) -> Path:
    """Back up the whole database into a new file under target_dir; return the file."""
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem = Path(db.name).stem if db.vendor == "sqlite" else db.name
    suffix = {"sqlite": ".sqlite3", "postgresql": ".dump", "mysql": ".sql"}[db.vendor]
    target = _fresh(target_dir / f"{stem}-{stamp}{suffix}")
    {"sqlite": _backup_sqlite, "postgresql": _backup_pg, "mysql": _backup_mysql}[db.vendor](
        db, target
    )
    return target


def restore(db: Database, backup_file: Path) -> None:
    """Put the database back exactly as the backup has it (tables made since are dropped)."""
    restorers = {"sqlite": _restore_sqlite, "postgresql": _restore_pg, "mysql": _restore_mysql}
    restorers[db.vendor](db, backup_file)


def restore_command(db: Database, backup_file: Path) -> str:
    """Say how a person restores the backup by hand."""
    if db.vendor == "sqlite":
        return f"cp {backup_file} {db.name}"
    if db.vendor == "postgresql":
        return f"pg_restore --clean --if-exists --dbname {db.name} {backup_file}"
    return f"mysql {db.name} < {backup_file}"


def _fresh(path: Path) -> Path:
    counter = 1
    candidate = path
    while candidate.exists():
        counter += 1
        candidate = path.with_name(f"{path.stem}-{counter}{path.suffix}")
    return candidate


def _backup_sqlite(db: Database, target: Path) -> None:
    source = Path(db.name)
    if not source.is_file():
        raise StepFailed(f"cannot back up {source}: the database file does not exist")
    # The backup API copies a consistent snapshot even while another process writes.
    with _sqlite_readonly(source) as src:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()


def _restore_sqlite(db: Database, backup_file: Path) -> None:
    src = sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(db.name)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _backup_pg(db: Database, target: Path) -> None:
    _run_client(db, ["pg_dump", "--format=custom", f"--file={target}", *_pg_args(db), db.name])


def _restore_pg(db: Database, backup_file: Path) -> None:
    listing = _run_client(db, ["pg_restore", "--list", str(backup_file)]).stdout
    script = _run_client(
        db, ["pg_restore", "--clean", "--if-exists", "--file=-", str(backup_file)]
    ).stdout
    drops = _drop_statements(_pg_relations(db), keep=_dumped_tables(listing))
    _run_client(
        db,
        [
            "psql",
            "--quiet",
            "--no-psqlrc",
            "--single-transaction",
            "-v",
            "ON_ERROR_STOP=1",
            *_pg_args(db),
            "--dbname",
            db.name,
            "--file=-",
        ],
        input=drops + script,
    )


def _dumped_tables(listing: str) -> set[tuple[str, str]]:
    # Lines read: "215; 1259 16390 TABLE public django_migrations postgres".
    found = re.findall(
        r"^\d+; \d+ \d+ (?:TABLE|VIEW|MATERIALIZED VIEW) (\S+) (\S+) ", listing, re.M
    )
    return {(schema, name) for schema, name in found}


def _pg_relations(db: Database) -> dict[tuple[str, str], str]:
    """Tables and views now in the database (-> relkind), leaving out extensions' own."""
    import psycopg

    query = """
        SELECT n.nspname, c.relname, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
    """
    with psycopg.connect(**_pg_params(db), connect_timeout=5) as conn:
        rows = conn.execute(query).fetchall()
    return {(str(s), str(n)): str(k) for s, n, k in rows}


def _drop_statements(relations: dict[tuple[str, str], str], keep: set[tuple[str, str]]) -> str:
    """DROP what the backup does not have (made since), so restore leaves nothing behind."""
    kinds = {"v": "VIEW", "m": "MATERIALIZED VIEW"}
    return "".join(
        f'DROP {kinds.get(kind, "TABLE")} IF EXISTS "{schema}"."{name}" CASCADE;\n'
        for (schema, name), kind in sorted(relations.items())
        if (schema, name) not in keep
    )


def _backup_mysql(db: Database, target: Path) -> None:
    proc = _run_client(
        db, ["mysqldump", "--single-transaction", "--routines", *_my_args(db), db.name]
    )
    target.write_text(proc.stdout)


def _restore_mysql(db: Database, backup_file: Path) -> None:
    tables = _run_client(
        db, ["mysql", "--batch", "--skip-column-names", *_my_args(db), "-e", "SHOW TABLES", db.name]
    ).stdout.split()
    drop = "SET FOREIGN_KEY_CHECKS=0;\n" + "".join(f"DROP TABLE IF EXISTS `{t}`;\n" for t in tables)
    script = drop + backup_file.read_text()
    _run_client(db, ["mysql", *_my_args(db), db.name], input=script)


def _run_client(
    db: Database, argv: Sequence[str], *, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a database client program; StepFailed with its output when it fails."""
    import shutil  # here, not above: check reads applied migrations without it

    if shutil.which(argv[0]) is None:
        raise StepFailed(f"{argv[0]} is not installed: cannot back up or restore {db.describe()}")
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, input=input, env=_client_env(db)
    )
    if proc.returncode != 0:
        raise StepFailed(f"{' '.join(argv[:1])} failed on {db.describe()}:\n{proc.stderr.strip()}")
    return proc


def _client_env(db: Database) -> dict[str, str]:
    env = dict(os.environ)
    if db.password:
        # Passwords go through the environment, never the command line (ps shows it).
        env["PGPASSWORD" if db.vendor == "postgresql" else "MYSQL_PWD"] = db.password
    return env


def _pg_args(db: Database) -> list[str]:
    args = [f"--host={db.host}"] if db.host else []
    args += [f"--port={db.port}"] if db.port else []
    return args + ([f"--username={db.user}"] if db.user else [])


def _pg_params(db: Database) -> dict[str, Any]:
    params = {"dbname": db.name, "host": db.host, "port": db.port, "user": db.user}
    params["password"] = db.password
    return {k: v for k, v in params.items() if v is not None}


def _my_args(db: Database) -> list[str]:
    args = [f"--host={db.host}"] if db.host else []
    args += [f"--port={db.port}"] if db.port else []
    return args + ([f"--user={db.user}"] if db.user else [])


def _mysql(db: Database, *argv: str) -> subprocess.CompletedProcess[str]:
    program, rest = argv[0], argv[1:]
    return subprocess.run(
        [program, *_my_args(db), *rest, db.name],
        capture_output=True,
        text=True,
        env=_client_env(db),
        timeout=30,
    )


# Renamed records


def rename_records(db: Database, app: str, renames: Sequence[tuple[str, str]]) -> None:
    """Rename rows of django_migrations for `app`, all in one transaction."""
    for name in (app, *(n for pair in renames for n in pair)):
        if not SAFE_NAME.match(name):
            raise MigmergeError(f"refusing to write the unexpected migration name {name!r}")
    # Two passes through temporary names, so a chain (0003_x -> 0004_x -> 0005_x) cannot merge rows.
    steps = [(old, f"~migmerge~{i}") for i, (old, _) in enumerate(renames)]
    steps += [(f"~migmerge~{i}", new) for i, (_, new) in enumerate(renames)]
    {"sqlite": _rename_sqlite, "postgresql": _rename_pg, "mysql": _rename_mysql}[db.vendor](
        db, app, steps
    )


def _rename_sqlite(db: Database, app: str, steps: list[tuple[str, str]]) -> None:
    if not Path(db.name).is_file():
        raise StepFailed(f"cannot rename migration records: {db.name} does not exist")
    conn = sqlite3.connect(db.name)
    try:
        with conn:  # one transaction: committed on success, rolled back on error
            for old, new in steps:
                conn.execute(_UPDATE.replace("%s", "?"), (new, app, old))
    finally:
        conn.close()


_UPDATE = "UPDATE django_migrations SET name = %s WHERE app = %s AND name = %s"


def _rename_pg(db: Database, app: str, steps: list[tuple[str, str]]) -> None:
    import psycopg

    try:
        with psycopg.connect(**_pg_params(db), connect_timeout=5) as conn, conn.transaction():
            for old, new in steps:
                conn.execute(_UPDATE, (new, app, old))
    except psycopg.Error as exc:
        raise StepFailed(f"cannot rename migration records in {db.describe()}: {exc}") from exc


def _rename_mysql(db: Database, app: str, steps: list[tuple[str, str]]) -> None:
    updates = "".join(
        f"UPDATE django_migrations SET name = '{new}' WHERE app = '{app}' AND name = '{old}';\n"
        for old, new in steps
    )
    script = f"START TRANSACTION;\n{updates}COMMIT;\n"
    _run_client(db, ["mysql", *_my_args(db), db.name], input=script)

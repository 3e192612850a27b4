"""What the project's database has applied, read without writing anything.

Read-only: a missing SQLite file is never created, and a SQLite database is
opened immutable (no `-wal`/`-shm` files appear), or, when another
connection's write-ahead log is there to be read, copied with it and the
copy read (reading through the log would update its shared `-shm` index).
No driver is needed in migmerge's own environment (pipx, pre-commit, CI):
PostgreSQL is read with psycopg when migmerge has it, else through the
`psql` client, else through the project's interpreter; MariaDB/MySQL
through the `mysql` client, else the project's interpreter. Every
connection and statement has a timeout. Anything that cannot be read is
unknown (None, with the reason and how to let migmerge see it), never
"nothing applied".
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from migmerge.core.model import Database, Key
from migmerge.reading.files import read_regular
from migmerge.reading.git import clean_env

SELECT_APPLIED = "SELECT app, name FROM django_migrations"
DJANGO = "django_migrations"
KNEX = "knex_migrations"  # kmigrator apps (condo): knex records applied files by name
# The fixed statement for each table migmerge reads, two columns each: knex's
# rows are ("knex", file name), the file name with its ".js".
QUERIES = {DJANGO: SELECT_APPLIED, KNEX: "SELECT 'knex', name FROM knex_migrations"}
TIMEOUT = 5  # seconds: to connect, and for the one statement
CLIENT_TIMEOUT = 3 * TIMEOUT  # a client program that hangs anyway is stopped


class Reading(NamedTuple):
    """What was read: the applied keys (None: unknown), how or why not, and what to do."""

    keys: frozenset[Key] | None
    why: str
    hint: str = ""


def applied_migrations(db: Database, python: str | None = None) -> frozenset[Key] | None:
    """Read django_migrations without writing; None when there is none or it is unreadable."""
    return read_applied(db, python).keys


def read_applied(db: Database, python: str | None = None, table: str = DJANGO) -> Reading:
    """Read `table` read-only; `python`: the project's interpreter, a last resort.

    `table`: django_migrations, or knex_migrations for a kmigrator app.
    """
    readers: dict[str, Callable[[Database, str | None, str], Reading]] = {
        "sqlite": _sqlite,
        "postgresql": _postgresql,
        "mysql": _mysql,
    }
    reader = readers.get(db.vendor)
    if reader is None:
        return Reading(None, f"migmerge cannot read {db.vendor} databases")
    return reader(db, python, table)


def _rows(rows: object) -> frozenset[Key]:
    return frozenset((str(app), str(name)) for app, name in rows)  # type: ignore[attr-defined]


# SQLite


def _sqlite(db: Database, _: str | None, table: str) -> Reading:
    path = Path(db.name)
    where = f"read from {db.name}"
    if not path.is_file():
        # Opening it would create it; the settings may point at another file anyway.
        return Reading(
            None,
            f"the SQLite database {db.name} does not exist",
            "run `manage.py migrate` first, or pass --settings / set DJANGO_SETTINGS_MODULE "
            "to the settings your project runs with",
        )
    try:
        with sqlite_snapshot(path) as conn:
            rows = conn.execute(QUERIES[table]).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return Reading(frozenset(), f"{where}: no {table} table yet")
        return Reading(None, f"{db.name} cannot be read: {exc}", "check that the file is readable")
    except sqlite3.DatabaseError as exc:
        return Reading(None, f"{db.name} is not a SQLite database migmerge can read: {exc}")
    return Reading(_rows(rows), where)


class sqlite_readonly:  # noqa: N801 - used like a function
    """A read-only SQLite connection that creates no file and is closed on exit.

    Immutable (no locks, no `-wal`/`-shm` files) when no write-ahead log is
    beside the database: every committed row is then in the file itself.
    When a log is there, another connection may hold rows not yet in the file,
    so it is read through the log that already exists.
    """

    def __init__(self, path: Path) -> None:
        wal = path.with_name(path.name + "-wal")
        mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        uri = f"{path.resolve().as_uri()}?{mode}"
        self.conn = sqlite3.connect(uri, uri=True, timeout=TIMEOUT)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


class sqlite_snapshot:  # noqa: N801 - used like a function
    """A read-only view of a SQLite database that touches none of its files.

    With no write-ahead log beside it, the file opened immutable. With one,
    reading through it would update the `-shm` index another connection
    shares: the database and its log are copied into a temporary folder and
    the copy is read (a copy that changed while taken is "cannot be read").
    """

    def __init__(self, path: Path) -> None:
        import tempfile

        self.folder: tempfile.TemporaryDirectory[str] | None = None
        wal = path.with_name(path.name + "-wal")
        if not wal.exists():
            self.inner = sqlite_readonly(path)
            return
        self.folder = tempfile.TemporaryDirectory(prefix="migmerge-sqlite-")
        copy = Path(self.folder.name) / "db.sqlite3"
        try:
            before = [_stamp(path), _stamp(wal)]
            _copy(path, copy)
            _copy(wal, copy.with_name(copy.name + "-wal"))
            changed = [_stamp(path), _stamp(wal)] != before
        except OSError as exc:
            self.folder.cleanup()
            raise sqlite3.OperationalError(f"it cannot be copied to be read: {exc}") from exc
        if changed:
            self.folder.cleanup()
            raise sqlite3.OperationalError("it changed while being read; try again")
        self.inner = sqlite_readonly(copy)

    def __enter__(self) -> sqlite3.Connection:
        return self.inner.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)
        if self.folder is not None:
            self.folder.cleanup()


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _copy(source: Path, target: Path) -> None:
    data = read_regular(source)
    if data is None:
        raise sqlite3.OperationalError(f"{source} is not a regular file")
    target.write_bytes(data)


# PostgreSQL


def _postgresql(db: Database, python: str | None, table: str) -> Reading:
    try:
        import psycopg
    except ImportError:
        return _postgresql_without_driver(db, python, table)
    options = f"-c statement_timeout={TIMEOUT * 1000} -c default_transaction_read_only=on"
    try:
        with psycopg.connect(**pg_params(db), connect_timeout=TIMEOUT, options=options) as conn:
            rows = conn.execute(QUERIES[table]).fetchall()
    except psycopg.errors.UndefinedTable:
        return Reading(frozenset(), f"read from {db.describe()}: no {table} table yet")
    except psycopg.Error as exc:
        return _unreachable(db, str(exc))
    return Reading(_rows(rows), f"read from {db.describe()}")


def _postgresql_without_driver(db: Database, python: str | None, table: str) -> Reading:
    missing = "no PostgreSQL driver (psycopg) in migmerge's environment"
    argv = ["psql", "-X", "-q", "-A", "-t", "-w", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    argv += [*pg_args(db), "--dbname", db.name, "-c", QUERIES[table]]
    env = client_env(db)
    env["PGCONNECT_TIMEOUT"] = str(TIMEOUT)
    env["PGOPTIONS"] = f"-c statement_timeout={TIMEOUT * 1000} -c default_transaction_read_only=on"
    found = _client(db, argv, env, table, "does not exist", f"{missing}; read through psql")
    if found is not None:
        return found
    return _through_python(db, python, table, f"{missing} and no psql client on PATH")


def pg_params(db: Database) -> dict[str, Any]:
    params = {"dbname": db.name, "host": db.host, "port": db.port, "user": db.user}
    params["password"] = db.password
    return {k: v for k, v in params.items() if v is not None}


def pg_args(db: Database) -> list[str]:
    args = [f"--host={db.host}"] if db.host else []
    args += [f"--port={db.port}"] if db.port else []
    return args + ([f"--username={db.user}"] if db.user else [])


# MariaDB / MySQL


def _mysql(db: Database, python: str | None, table: str) -> Reading:
    argv = ["mysql", *my_args(db), f"--connect-timeout={TIMEOUT}", "--batch"]
    argv += ["--skip-column-names", "-e", QUERIES[table], db.name]
    how = "read through the mysql client"
    found = _client(db, argv, client_env(db), table, "doesn't exist", how)
    if found is not None:
        return found
    return _through_python(db, python, table, "no mysql client on PATH")


def my_args(db: Database) -> list[str]:
    args = [f"--host={db.host}"] if db.host else []
    args += [f"--port={db.port}"] if db.port else []
    return args + ([f"--user={db.user}"] if db.user else [])


def mysql(db: Database, *argv: str) -> subprocess.CompletedProcess[str]:
    program, rest = argv[0], argv[1:]
    return subprocess.run(
        [program, *my_args(db), *rest, db.name],
        capture_output=True,
        text=True,
        env=client_env(db),
        timeout=30,
    )


# Shared


def client_env(db: Database) -> dict[str, str]:
    if not db.password:
        return clean_env()
    # Passwords go through the environment, never the command line (ps shows it).
    return clean_env({"PGPASSWORD" if db.vendor == "postgresql" else "MYSQL_PWD": db.password})


def _client(
    db: Database, argv: list[str], env: dict[str, str], table: str, no_table: str, how: str
) -> Reading | None:
    """Read through a client program; None when it is not installed."""
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=CLIENT_TIMEOUT, stdin=None
        )
    except FileNotFoundError:
        return None
    except subprocess.TimeoutExpired:
        return _unreachable(db, f"{argv[0]} had no answer after {CLIENT_TIMEOUT} s")
    except OSError as exc:
        return _unreachable(db, f"{argv[0]} cannot run: {exc}")
    if proc.returncode != 0:
        if table in proc.stderr and no_table in proc.stderr:
            return Reading(frozenset(), f"{how} from {db.describe()}: no {table} table")
        return _unreachable(db, proc.stderr.strip() or f"{argv[0]} exit {proc.returncode}")
    rows = (line.split("\t") for line in proc.stdout.splitlines() if "\t" in line)
    return Reading(frozenset((app, name) for app, name in rows), f"{how} from {db.describe()}")


def _through_python(db: Database, python: str | None, table: str, missing: str) -> Reading:
    """Read with the project's interpreter, which has the driver its settings use."""
    import json

    hint = _driver_hint(db)
    if python is None:
        return Reading(None, f"{missing}, and no project interpreter to read it with", hint)
    script = Path(__file__).resolve().parent.parent / "resources" / "read_applied.py"
    params = pg_params(db) if db.vendor == "postgresql" else _my_params(db)
    request = json.dumps(
        {"vendor": db.vendor, "params": params, "timeout": TIMEOUT, "table": table}
    )
    try:
        proc = subprocess.run(
            [python, "-I", str(script)],
            input=request,
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT,
            env=client_env(db),
        )
        answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        return Reading(None, f"{missing}; the project's interpreter {python} failed: {exc}", hint)
    how = f"{missing}; read through the project's interpreter {python}"
    if "rows" in answer:
        return Reading(_rows(answer["rows"]), f"{how} from {db.describe()}")
    if answer.get("missing"):
        return Reading(frozenset(), f"{how} from {db.describe()}: no {table} table")
    if answer.get("driver") is False:
        return Reading(None, f"{missing}, and the project's interpreter {python} has none", hint)
    return _unreachable(db, str(answer.get("error")))


def _my_params(db: Database) -> dict[str, Any]:
    params = {"database": db.name, "host": db.host, "port": db.port, "user": db.user}
    params["password"] = db.password
    return {k: v for k, v in params.items() if v is not None}


def _driver_hint(db: Database) -> str:
    if db.vendor == "postgresql":
        return (
            "install the PostgreSQL client (psql), or psycopg where migmerge runs, or set "
            "[tool.migmerge] python to the project's interpreter"
        )
    return "install the mysql client, or set [tool.migmerge] python to the project's interpreter"


def _unreachable(db: Database, error: str) -> Reading:
    first = error.strip().splitlines()[0] if error.strip() else "no answer"
    return Reading(
        None,
        f"{db.describe()} cannot be read: {first}",
        "start the database server, or check HOST, PORT and USER in the settings",
    )

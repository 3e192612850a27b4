"""What the project's database has applied, read without writing anything.

Read-only: a missing SQLite file is never created. Drivers and client
programs are used only when present; anything that cannot be read is None
(unknown), never "nothing applied".
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from migmerge.core.model import Database, Key
from migmerge.reading.git import clean_env

SELECT_APPLIED = "SELECT app, name FROM django_migrations"


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
        with sqlite_readonly(path) as conn:
            rows = conn.execute(SELECT_APPLIED).fetchall()
    except sqlite3.OperationalError as exc:
        return frozenset() if "no such table" in str(exc) else None
    except sqlite3.DatabaseError:
        return None
    return frozenset((str(app), str(name)) for app, name in rows)


class sqlite_readonly:  # noqa: N801 - used like a function
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
        with psycopg.connect(**pg_params(db), connect_timeout=5) as conn:
            conn.read_only = True
            rows = conn.execute(SELECT_APPLIED).fetchall()
    except psycopg.errors.UndefinedTable:
        return frozenset()
    except psycopg.Error:
        return None
    return frozenset((str(app), str(name)) for app, name in rows)


def _applied_mysql(db: Database) -> frozenset[Key] | None:
    try:
        proc = mysql(db, "mysql", "--batch", "--skip-column-names", "-e", SELECT_APPLIED)
    except OSError:
        return None  # no client installed: the applied state stays unknown
    if proc.returncode != 0:
        return frozenset() if "doesn't exist" in proc.stderr else None
    rows = (line.split("\t") for line in proc.stdout.splitlines() if "\t" in line)
    return frozenset((app, name) for app, name in rows)


# Database clients (shared with doing.database)


def client_env(db: Database) -> dict[str, str]:
    if not db.password:
        return clean_env()
    # Passwords go through the environment, never the command line (ps shows it).
    return clean_env({"PGPASSWORD" if db.vendor == "postgresql" else "MYSQL_PWD": db.password})


def pg_args(db: Database) -> list[str]:
    args = [f"--host={db.host}"] if db.host else []
    args += [f"--port={db.port}"] if db.port else []
    return args + ([f"--username={db.user}"] if db.user else [])


def pg_params(db: Database) -> dict[str, Any]:
    params = {"dbname": db.name, "host": db.host, "port": db.port, "user": db.user}
    params["password"] = db.password
    return {k: v for k, v in params.items() if v is not None}


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

"""Read and change django_migrations rows: count what a rollback drops, rename, delete.

Names are checked against what Django writes before any SQL is built; each
change runs in one transaction.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from migmerge.core.model import Database
from migmerge.doing.db_clients import PSQL, pg_timeouts, run_client, timeouts
from migmerge.errors import MigmergeError, StepFailed
from migmerge.reading.applied import my_args, pg_args, pg_params, sqlite_readonly

# Django writes migration names as identifiers; anything else is refused before SQL is built.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


# What a rollback drops


def count_rows(db: Database, table: str, column: str | None) -> int | None:
    """Rows of `table` (with `column` set, when given); None when they cannot be counted."""
    if not all(SAFE_NAME.match(name) for name in (table, column or "x")):
        return None  # never build SQL from a name Django would not write
    where = f' WHERE "{column}" IS NOT NULL' if column else ""
    query = f'SELECT COUNT(*) FROM "{table}"{where}'
    try:
        if db.vendor == "sqlite":
            with sqlite_readonly(Path(db.name)) as conn:
                return int(conn.execute(query).fetchone()[0])
        if db.vendor == "postgresql":
            argv = ["psql", "--no-psqlrc", "--tuples-only", "--no-align", *pg_args(db)]
            return int(run_client(db, [*argv, "--dbname", db.name, "-c", query]).stdout)
        query = query.replace('"', "`")
        argv = ["mysql", "--batch", "--skip-column-names", *my_args(db), "-e", query, db.name]
        return int(run_client(db, argv).stdout)
    except (MigmergeError, sqlite3.Error, OSError, ValueError, TypeError):
        return None


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
    try:
        import psycopg
    except ImportError:  # pipx, pre-commit, CI: no driver where migmerge runs; psql, then
        run_client(db, [*PSQL, *pg_args(db), "--dbname", db.name, "--file=-"],
                    input=_updates(app, steps))  # fmt: skip
        return
    try:
        options = pg_timeouts(timeouts())
        connect = psycopg.connect(**pg_params(db), connect_timeout=5, options=options)
        with connect as conn, conn.transaction():
            for old, new in steps:
                conn.execute(_UPDATE, (new, app, old))
    except psycopg.Error as exc:
        raise StepFailed(f"cannot rename migration records in {db.describe()}: {exc}") from exc


def _updates(app: str, steps: list[tuple[str, str]]) -> str:
    """The UPDATE statements as a client reads them (names checked against SAFE_NAME first)."""
    return "".join(
        f"UPDATE django_migrations SET name = '{new}' WHERE app = '{app}' AND name = '{old}';\n"
        for old, new in steps
    )


def _rename_mysql(db: Database, app: str, steps: list[tuple[str, str]]) -> None:
    script = f"START TRANSACTION;\n{_updates(app, steps)}COMMIT;\n"
    run_client(db, ["mysql", *my_args(db), db.name], input=script)


# Deleted records


def delete_records(db: Database, app: str, names: Sequence[str]) -> None:
    """Delete exactly these rows of django_migrations for `app`, in one transaction."""
    for name in (app, *names):
        if not SAFE_NAME.match(name):
            raise MigmergeError(f"refusing to write the unexpected migration name {name!r}")
    if db.vendor == "sqlite":
        if not Path(db.name).is_file():
            raise StepFailed(f"cannot delete migration records: {db.name} does not exist")
        conn = sqlite3.connect(db.name)
        try:
            with conn:  # one transaction: committed on success, rolled back on error
                for name in names:
                    conn.execute(_DELETE.replace("%s", "?"), (app, name))
        finally:
            conn.close()
        return
    # The clients run the statements in one transaction (names checked above).
    script = "".join(
        f"DELETE FROM django_migrations WHERE app = '{app}' AND name = '{name}';\n"
        for name in names
    )
    if db.vendor == "postgresql":
        run_client(db, [*PSQL, *pg_args(db), "--dbname", db.name, "--file=-"], input=script)
    else:
        script = f"START TRANSACTION;\n{script}COMMIT;\n"
        run_client(db, ["mysql", *my_args(db), db.name], input=script)


_DELETE = "DELETE FROM django_migrations WHERE app = %s AND name = %s"

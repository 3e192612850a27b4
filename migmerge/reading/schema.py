"""What the database holds, read without writing: django_migrations rows and the schema.

`doctor` compares these with what the files and the project's Django say.
Read-only everywhere: SQLite is opened read-only and immutable (no -wal or
-shm file appears, a missing file is never created); PostgreSQL and MariaDB
are read through their command-line clients, which their backups need anyway,
so no driver has to be installed where migmerge runs. Every query is a fixed
text: no name found in the repository or the database is ever put into SQL.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from migmerge.core.doctor import Row, Schema
from migmerge.core.model import Database
from migmerge.reading.applied import client_env, my_args, pg_args

TIMEOUT = 30  # seconds for a whole client run: a server that never answers is given up


class Facts(NamedTuple):
    """The database's rows and schema, or why they could not be read."""

    rows: tuple[Row, ...] | None
    schema: Schema | None
    problem: str | None  # why nothing could be read (None: read)


_ROWS = "SELECT app, name, applied FROM django_migrations"
_SQLITE_COLUMNS = (
    "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
    "WHERE m.type = 'table'"
)
_SQLITE_OBJECTS = "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'table')"
_PG = (
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = ANY (current_schemas(false))",
    "SELECT indexname FROM pg_indexes WHERE schemaname = ANY (current_schemas(false))",
    "SELECT c.conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
    "WHERE n.nspname = ANY (current_schemas(false))",
)
_MY = (
    "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA = DATABASE()",
    "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()",
    "SELECT CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS "
    "WHERE TABLE_SCHEMA = DATABASE()",
)
_SECTION = "MIGMERGE-SECTION"
_CONSTRAINT = re.compile(r"CONSTRAINT\s+[\"`\[]?(\w+)", re.I)


def read_facts(db: Database) -> Facts:
    """Read the rows of django_migrations and the schema of `db`."""
    if db.vendor == "sqlite":
        return _sqlite(Path(db.name))
    if db.vendor == "postgresql":
        return _client(db, ["psql", "-X", "-A", "-t", "-F", "\t", *pg_args(db), "-d", db.name], _PG)
    if db.vendor == "mysql":
        argv = ["mysql", "--batch", "--skip-column-names", "--connect-timeout=5", *my_args(db)]
        return _client(db, [*argv, db.name], _MY)
    return Facts(None, None, f"migmerge cannot read {db.vendor} databases")


def _sqlite(path: Path) -> Facts:
    if not path.is_file():
        return Facts(None, None, f"{path} does not exist (nothing was migrated here yet)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        return Facts(None, None, f"cannot open {path}: {exc}")
    try:
        columns = conn.execute(_SQLITE_COLUMNS).fetchall()
        objects = conn.execute(_SQLITE_OBJECTS).fetchall()
        try:
            rows: tuple[Row, ...] = tuple(Row(*map(str, r)) for r in conn.execute(_ROWS))
        except sqlite3.OperationalError:
            rows = ()  # no django_migrations table: nothing was ever migrated
    except sqlite3.DatabaseError as exc:
        return Facts(None, None, f"cannot read {path}: {exc}")
    finally:
        conn.close()
    indexes = frozenset(str(name) for kind, name, _ in objects if kind == "index")
    constraints = frozenset(
        match
        for kind, _, sql in objects
        if kind == "table"
        for match in _CONSTRAINT.findall(sql or "")
    )
    return Facts(rows, Schema(_tables(columns), indexes, constraints), None)


def _tables(pairs: Sequence[Sequence[object]]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for table, column in pairs:
        found.setdefault(str(table), set()).add(str(column))
    return {table: frozenset(columns) for table, columns in found.items()}


def _client(db: Database, argv: list[str], queries: Sequence[str]) -> Facts:
    """Run the schema queries and the rows query through one client process."""
    script = "".join(f"SELECT '{_SECTION}';\n{q};\n" for q in (*queries, _ROWS))
    env = {**client_env(db), "PGCONNECT_TIMEOUT": "5", "PGOPTIONS": "-c statement_timeout=20000"}
    try:
        proc = subprocess.run(
            argv, input=script, capture_output=True, text=True, env=env, timeout=TIMEOUT
        )
    except FileNotFoundError:
        return Facts(None, None, f"the {argv[0]} client is not installed")
    except subprocess.TimeoutExpired:
        return Facts(None, None, f"{db.describe()} did not answer within {TIMEOUT} s")
    sections = _sections(proc.stdout)
    if len(sections) < 4:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return Facts(None, None, f"cannot read {db.describe()}: {reason}")
    columns, indexes, constraints, rows = sections[:4]
    applied = tuple(Row(*r[:3]) for r in rows if len(r) >= 3)
    schema = Schema(
        _tables([r for r in columns if len(r) == 2]),
        frozenset(r[0] for r in indexes if r),
        frozenset(r[0] for r in constraints if r),
    )
    return Facts(applied, schema, None)


def _sections(out: str) -> list[list[list[str]]]:
    sections: list[list[list[str]]] = []
    for line in out.splitlines():
        if line == _SECTION:
            sections.append([])
        elif sections and line:
            sections[-1].append(line.split("\t"))
    return sections


# Row counts (doctor --fix says what a rollback drops) ----------------------------

Counted = tuple[str, "str | None"]  # (table, column): the rows of a table, or a column's values
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def count_values(db: Database, items: Sequence[Counted], schema: Schema) -> dict[Counted, int]:
    """How many rows each table holds, or how many non-null values each column (read-only).

    Only names the schema read from the database holds, and only plain
    identifiers, reach the SQL (quoted); anything else, or a failed read, is
    left out of the answer: not known, never zero.
    """
    wanted = [item for item in dict.fromkeys(items) if _countable(item, schema)]
    if not wanted:
        return {}
    quote = "`" if db.vendor == "mysql" else '"'
    queries = [_count_query(item, quote) for item in wanted]
    if db.vendor == "sqlite":
        counts = _count_sqlite(Path(db.name), queries)
    else:
        counts = _count_client(db, queries)
    return {item: n for item, n in zip(wanted, counts) if n is not None}


def _countable(item: Counted, schema: Schema) -> bool:
    table, column = item
    columns = schema.tables.get(table)
    if columns is None or not _IDENTIFIER.match(table):
        return False
    return column is None or (column in columns and bool(_IDENTIFIER.match(column)))


def _count_query(item: Counted, quote: str) -> str:
    table, column = item
    what = f"{quote}{column}{quote}" if column else "*"
    return f"SELECT COUNT({what}) FROM {quote}{table}{quote}"


def _count_sqlite(path: Path, queries: Sequence[str]) -> list[int | None]:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return [None] * len(queries)
    try:
        return [_one(conn, query) for query in queries]
    finally:
        conn.close()


def _one(conn: sqlite3.Connection, query: str) -> int | None:
    try:
        return int(conn.execute(query).fetchone()[0])
    except (sqlite3.Error, TypeError, ValueError):
        return None


def _count_client(db: Database, queries: Sequence[str]) -> list[int | None]:
    if db.vendor == "postgresql":
        argv = ["psql", "-X", "-A", "-t", "-F", "\t", *pg_args(db), "-d", db.name]
    else:
        argv = ["mysql", "--batch", "--skip-column-names", "--connect-timeout=5", *my_args(db)]
        argv.append(db.name)
    script = "".join(f"SELECT '{_SECTION}';\n{q};\n" for q in queries)
    env = {**client_env(db), "PGCONNECT_TIMEOUT": "5", "PGOPTIONS": "-c statement_timeout=20000"}
    try:
        proc = subprocess.run(
            argv, input=script, capture_output=True, text=True, env=env, timeout=TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired):
        return [None] * len(queries)
    sections = _sections(proc.stdout)
    out: list[int | None] = []
    for index in range(len(queries)):
        rows = sections[index] if index < len(sections) else []
        value = rows[0][0] if rows and rows[0] else ""
        out.append(int(value) if value.isdigit() else None)
    return out

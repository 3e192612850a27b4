"""Change the project's database: backups, restores, renamed or deleted migration records."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from migmerge.core.model import Database
from migmerge.errors import MigmergeError, StepFailed
from migmerge.reading.applied import (
    TIMEOUT,
    client_env,
    my_args,
    pg_args,
    pg_params,
    sqlite_readonly,
)

# Django writes migration names as identifiers; anything else is refused before SQL is built.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


# Backups


def backup(db: Database, target_dir: Path) -> Path:
    """Back up the whole database into a new file under target_dir; return the file.

    StepFailed, saying why, when it cannot be (nothing half-written is left behind).
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem = Path(db.name).stem if db.vendor == "sqlite" else db.name
    suffix = {"sqlite": ".sqlite3", "postgresql": ".dump", "mysql": ".sql"}[db.vendor]
    target: Path | None = None
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        target = _fresh(target_dir / f"{stem}-{stamp}{suffix}")
        {"sqlite": _backup_sqlite, "postgresql": _backup_pg, "mysql": _backup_mysql}[db.vendor](
            db, target
        )
    except (OSError, sqlite3.Error, StepFailed) as exc:
        if target is not None:  # a new name: only this attempt's partial file is removed
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)
        if isinstance(exc, StepFailed):
            raise
        raise StepFailed(f"cannot back up {db.describe()} into {target_dir}: {exc}") from exc
    return target


def restore(db: Database, backup_file: Path) -> None:
    """Put the database back exactly as the backup has it (tables made since are dropped)."""
    restorers = {"sqlite": _restore_sqlite, "postgresql": _restore_pg, "mysql": _restore_mysql}
    try:
        with open(backup_file, "rb") as handle:  # before anything changes
            handle.read(1)
    except OSError as exc:
        raise StepFailed(f"cannot read the backup {backup_file}: {exc.strerror}") from exc
    try:
        restorers[db.vendor](db, backup_file)
    except (OSError, sqlite3.Error) as exc:  # a read-only file or folder, a full disk
        raise StepFailed(f"cannot write {db.describe()}: {exc}") from exc


def restore_command(db: Database, backup_file: Path) -> str:
    """Say how a person restores the backup by hand: the whole command, connection included."""
    import shlex

    if db.vendor == "sqlite":
        return shlex.join(["cp", str(backup_file), db.name])
    # Unlike migmerge's own restore, the clients leave tables the backup does not have.
    since = " (then drop any table made since the backup, which it leaves)"
    if db.vendor == "postgresql":
        argv = ["pg_restore", "--clean", "--if-exists", "--single-transaction", *pg_args(db)]
        return shlex.join([*argv, f"--dbname={db.name}", str(backup_file)]) + since
    mysql = shlex.join(["mysql", *my_args(db), db.name])
    return f"{mysql} < {shlex.quote(str(backup_file))}{since}"


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
    with sqlite_readonly(source) as src:
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
    _run_client(db, ["pg_dump", "--format=custom", f"--file={target}", *pg_args(db), db.name])


def _restore_pg(db: Database, backup_file: Path) -> None:
    listing = _run_client(db, ["pg_restore", "--list", str(backup_file)]).stdout
    script = _run_client(
        db, ["pg_restore", "--clean", "--if-exists", "--file=-", str(backup_file)]
    ).stdout
    drops = _drop_statements(_pg_relations(db), keep=_dumped_tables(listing))
    _run_client(db, [*_PSQL, *pg_args(db), "--dbname", db.name, "--file=-"], input=drops + script)


# psql running a script in one transaction that stops at the first error.
_PSQL = ("psql", "--quiet", "--no-psqlrc", "--single-transaction", "-v", "ON_ERROR_STOP=1")


def _dumped_tables(listing: str) -> set[tuple[str, str]]:
    # Lines read: "215; 1259 16390 TABLE public django_migrations postgres".
    found = re.findall(
        r"^\d+; \d+ \d+ (?:TABLE|VIEW|MATERIALIZED VIEW) (\S+) (\S+) ", listing, re.M
    )
    return {(schema, name) for schema, name in found}


def _pg_relations(db: Database) -> dict[tuple[str, str], str]:
    """Tables and views now in the database (-> relkind), leaving out extensions' own."""
    query = """
        SELECT n.nspname, c.relname, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
    """
    try:
        import psycopg
    except ImportError:  # no driver where migmerge runs: ask psql
        argv = [*_PSQL, "--tuples-only", "--no-align", "--field-separator=\t", *pg_args(db)]
        out = _run_client(db, [*argv, "--dbname", db.name, "-c", query]).stdout
        rows = [line.split("\t") for line in out.splitlines() if line.count("\t") == 2]
        return {(s, n): k for s, n, k in rows}
    with psycopg.connect(**pg_params(db), connect_timeout=5) as conn:
        found = conn.execute(query).fetchall()
    return {(str(s), str(n)): str(k) for s, n, k in found}


def _drop_statements(relations: dict[tuple[str, str], str], keep: set[tuple[str, str]]) -> str:
    """DROP what the backup does not have (made since), so restore leaves nothing behind."""
    kinds = {"v": "VIEW", "m": "MATERIALIZED VIEW"}
    return "".join(
        f'DROP {kinds.get(kind, "TABLE")} IF EXISTS "{schema}"."{name}" CASCADE;\n'
        for (schema, name), kind in sorted(relations.items())
        if (schema, name) not in keep
    )


def _backup_mysql(db: Database, target: Path) -> None:
    # mysqldump has no connect timeout: a server that accepts and never answers
    # would hang it for good, so the mysql client (which has one) asks first.
    _run_client(db, ["mysql", "--batch", *my_args(db), "-e", "SELECT 1", db.name])
    proc = _run_client(
        db, ["mysqldump", "--single-transaction", "--routines", *my_args(db), db.name]
    )
    target.write_text(proc.stdout)


def _restore_mysql(db: Database, backup_file: Path) -> None:
    tables = _run_client(
        db, ["mysql", "--batch", "--skip-column-names", *my_args(db), "-e", "SHOW TABLES", db.name]
    ).stdout.split()
    drop = "SET FOREIGN_KEY_CHECKS=0;\n" + "".join(f"DROP TABLE IF EXISTS `{t}`;\n" for t in tables)
    script = drop + backup_file.read_text()
    try:
        _run_client(db, ["mysql", *my_args(db), db.name], input=script)
    except StepFailed as exc:
        # MySQL commits each DROP and CREATE at once: a script stopped midway leaves part of it.
        raise StepFailed(
            f"{exc.message}\nMySQL cannot roll a schema change back: {db.describe()} may now "
            "hold part of the backup only"
        ) from exc


def _run_client(
    db: Database, argv: Sequence[str], *, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a database client program; StepFailed with its output when it fails."""
    import shutil  # here, not above: check reads applied migrations without it

    if shutil.which(argv[0]) is None:
        raise StepFailed(f"{argv[0]} is not installed: cannot back up or restore {db.describe()}")
    env = client_env(db)
    # A server that accepts connections and never answers: each client gives up
    # after TIMEOUT seconds of connecting, then says so (pg_dump honours libpq's).
    env["PGCONNECT_TIMEOUT"] = str(TIMEOUT)
    if argv[0] == "mysql":
        argv = [argv[0], f"--connect-timeout={TIMEOUT}", *argv[1:]]
    proc = subprocess.run(list(argv), capture_output=True, text=True, input=input, env=env)
    if proc.returncode != 0:
        raise StepFailed(f"{argv[0]} failed on {db.describe()}:\n{_errors(proc.stderr)}")
    return proc


def _errors(stderr: str) -> str:
    """The client's error lines (mysql echoes the whole failing statement before its ERROR)."""
    lines = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    return "\n".join(lines) if lines else stderr.strip()


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
            return int(_run_client(db, [*argv, "--dbname", db.name, "-c", query]).stdout)
        query = query.replace('"', "`")
        argv = ["mysql", "--batch", "--skip-column-names", *my_args(db), "-e", query, db.name]
        return int(_run_client(db, argv).stdout)
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
        _run_client(db, [*_PSQL, *pg_args(db), "--dbname", db.name, "--file=-"],
                    input=_updates(app, steps))  # fmt: skip
        return
    try:
        with psycopg.connect(**pg_params(db), connect_timeout=5) as conn, conn.transaction():
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
    _run_client(db, ["mysql", *my_args(db), db.name], input=script)


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
        _run_client(db, [*_PSQL, *pg_args(db), "--dbname", db.name, "--file=-"], input=script)
    else:
        script = f"START TRANSACTION;\n{script}COMMIT;\n"
        _run_client(db, ["mysql", *my_args(db), db.name], input=script)


_DELETE = "DELETE FROM django_migrations WHERE app = %s AND name = %s"

"""Back up the project's database and restore it: whole, or not at all.

The clients run through doing/db_clients.py (timeouts, errors); the rows of
django_migrations are changed in doing/db_records.py.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from pathlib import Path

from migmerge.core.model import Database
from migmerge.doing.db_clients import PSQL, Timeouts, run_client, timeouts
from migmerge.errors import StepFailed
from migmerge.reading.applied import my_args, pg_args, pg_params, sqlite_readonly

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
    # pg_dump turns PGOPTIONS' lock_timeout off for its own session: its option sets it.
    wait = f"--lock-wait-timeout={timeouts().lock}s"
    run_client(db, ["pg_dump", "--format=custom", wait, f"--file={target}", *pg_args(db), db.name])


def _restore_pg(db: Database, backup_file: Path) -> None:
    listing = run_client(db, ["pg_restore", "--list", str(backup_file)]).stdout
    script = run_client(
        db, ["pg_restore", "--clean", "--if-exists", "--file=-", str(backup_file)]
    ).stdout
    drops = _drop_statements(_pg_relations(db), keep=_dumped_tables(listing))
    # One transaction that stops at the first error: a failure anywhere, a lock
    # waited for too long included, leaves the database as it was.
    script = drops + pg_script_timeouts(script, timeouts())
    run_client(db, [*PSQL, *pg_args(db), "--dbname", db.name, "--file=-"], input=script)


def pg_script_timeouts(script: str, limits: Timeouts) -> str:
    """pg_restore's script with its header's `SET lock_timeout = 0` (wait forever) made ours."""
    # Only the header, before the first object: a row of data may hold the same words.
    end = script.find("\n--\n-- Name: ")
    head, rest = (script, "") if end < 0 else (script[:end], script[end:])
    for setting, seconds in (
        ("lock_timeout", limits.lock),
        ("statement_timeout", limits.statement),
    ):
        head = head.replace(f"\nSET {setting} = 0;\n", f"\nSET {setting} = {seconds * 1000};\n", 1)
    return head + rest


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
        argv = [*PSQL, "--tuples-only", "--no-align", "--field-separator=\t", *pg_args(db)]
        out = run_client(db, [*argv, "--dbname", db.name, "-c", query]).stdout
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
    # The restore loads into scratch databases: made and dropped here, so a
    # user who may not make them is told before anything changes, not after.
    _make_scratch(db)
    _drop_scratch(db)
    _wait_for_tables(db)
    limits = timeouts()
    statement = [f"--max-statement-time={limits.statement}"] if limits.statement else []
    proc = run_client(
        db, ["mysqldump", "--single-transaction", "--routines", *statement, *my_args(db), db.name]
    )
    target.write_text(proc.stdout)


def _wait_for_tables(db: Database) -> None:
    """Open every table as mysqldump will, under the lock timeout mysqldump cannot be given."""
    # mysqldump waits a year (lock_wait_timeout) for a table another session
    # locked (LOCK TABLES, an ALTER under way); its rows it reads from a
    # snapshot, which no lock holds up. Opening each table here first turns
    # such a lock into a refusal within the timeout.
    tables = run_client(db, [*_mysql(db), "--skip-column-names", "-e", "SHOW TABLES", db.name])
    opens = "".join(f"SELECT 1 FROM {_ident(t)} LIMIT 0;\n" for t in tables.stdout.splitlines())
    if opens:
        run_client(db, [*_mysql(db), db.name], input=f"START TRANSACTION;\n{opens}COMMIT;\n")


# A MariaDB/MySQL restore commits each CREATE and DROP at once, so it never
# runs in the database itself: the backup is loaded into a scratch database,
# checked, then one RENAME TABLE (all or nothing) moves the database's tables
# into a second scratch database and the backup's in; only then is the old
# dropped. A failure before the rename leaves the database as it was.


def _restore_mysql(db: Database, backup_file: Path) -> None:
    dump = backup_file.read_text()
    if "\n-- Dump completed" not in dump[-200:]:  # mysqldump's last line: the file is whole
        raise StepFailed(
            f"the backup {backup_file} is incomplete (no '-- Dump completed' line at its end): "
            f"{db.describe()} was not touched"
        )
    new, old = scratch_names(db)
    _make_scratch(db)
    try:
        _load_scratch(db, new, dump, backup_file)
        if _other_objects(db, new):
            _restore_mysql_in_place(db, dump)
        else:
            _swap(db, new, old)
    finally:
        with contextlib.suppress(StepFailed):  # a scratch left behind is dropped by the next one
            _drop_scratch(db)


def scratch_names(db: Database) -> tuple[str, str]:
    """The scratch databases a MariaDB/MySQL restore loads into and moves the old tables to."""
    import hashlib

    base = db.name
    if len(base) > 48:  # names are at most 64 characters
        base = f"{base[:39]}_{hashlib.sha1(base.encode()).hexdigest()[:8]}"
    return f"{base}_migmerge_new", f"{base}_migmerge_old"


def scratch_grant(db: Database) -> str:
    """The database pattern (as GRANT reads it) that covers both scratch databases."""
    base = scratch_names(db)[0].removesuffix("_new")
    return _ident(base.replace("_", "\\_") + "\\_%")


def _make_scratch(db: Database) -> None:
    """Make both scratch databases anew (dropping any a killed restore left), as the database's."""
    query = (
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
        f"FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {_literal(db.name)}"
    )
    found = run_client(
        db, [*_mysql(db), "--skip-column-names", "-e", query, db.name]
    ).stdout.split()
    # The dump leaves some things (a routine's strings, a column without its own) to the default.
    charset = f" CHARACTER SET {found[0]} COLLATE {found[1]}" if len(found) == 2 else ""
    made = "".join(f"CREATE DATABASE {_ident(name)}{charset};" for name in scratch_names(db))
    try:
        run_client(db, [*_mysql(db), "-e", _drop_scratch_sql(db) + made, db.name])
    except StepFailed as exc:
        raise StepFailed(
            f"{exc.message}\na restore loads the backup into the scratch databases "
            f"{' and '.join(scratch_names(db))} first, so that a failure never leaves part of it: "
            f"let {db.user or 'the user'} make them (GRANT ALL ON {scratch_grant(db)}.* TO ...), "
            "then try again"
        ) from exc


def _drop_scratch(db: Database) -> None:
    run_client(db, [*_mysql(db), "-e", _drop_scratch_sql(db), db.name])


def _drop_scratch_sql(db: Database) -> str:
    return "".join(f"DROP DATABASE IF EXISTS {_ident(name)};" for name in scratch_names(db))


def _load_scratch(db: Database, new: str, dump: str, backup_file: Path) -> None:
    """Load the dump into the scratch database and check it holds every table the dump makes."""
    try:
        run_client(db, [*_mysql(db), new], input=dump)
    except StepFailed as exc:
        raise StepFailed(
            f"{exc.message}\nthe backup {backup_file} did not load into the scratch database "
            f"{new}: {db.describe()} was not touched and is as it was"
        ) from exc
    made = set(_base_tables(db, new))
    dumped = {_unquote(name) for name in re.findall(r"^CREATE TABLE `((?:[^`]|``)+)`", dump, re.M)}
    if made != dumped:
        missing = ", ".join(sorted(dumped - made)) or "none"
        raise StepFailed(
            f"the backup {backup_file} loaded into the scratch database {new} without the "
            f"tables it makes (missing: {missing}): {db.describe()} was not touched"
        )


def _swap(db: Database, new: str, old: str) -> None:
    """Move the database's tables out and the backup's in, in one RENAME TABLE."""
    moves = [
        f"{_ident(db.name)}.{_ident(t)} TO {_ident(old)}.{_ident(t)}"
        for t in _base_tables(db, db.name)
    ]
    moves += [
        f"{_ident(new)}.{_ident(t)} TO {_ident(db.name)}.{_ident(t)}" for t in _base_tables(db, new)
    ]
    if not moves:
        return
    try:
        run_client(db, [*_mysql(db), db.name], input=f"RENAME TABLE {', '.join(moves)};\n")
    except StepFailed as exc:
        raise StepFailed(
            f"{exc.message}\nRENAME TABLE is all or nothing: {db.describe()} was not touched and "
            "is as it was"
        ) from exc


def _restore_mysql_in_place(db: Database, dump: str) -> None:
    """Views, triggers or routines cannot move between databases: drop and load in place."""
    tables = run_client(
        db, [*_mysql(db), "--skip-column-names", "-e", "SHOW TABLES", db.name]
    ).stdout.split()
    drop = "SET FOREIGN_KEY_CHECKS=0;\n" + "".join(f"DROP TABLE IF EXISTS `{t}`;\n" for t in tables)
    try:
        run_client(db, [*_mysql(db), db.name], input=drop + dump)
    except StepFailed as exc:
        # The backup loaded whole into the scratch database: only what differs
        # here (a lock, a lost connection) can stop it, and each DROP and CREATE
        # was committed at once.
        raise StepFailed(
            f"{exc.message}\nthe database has views, triggers or routines, which cannot be moved "
            f"between databases, so the backup was loaded in place, and MySQL cannot roll a "
            f"schema change back: {db.describe()} may now hold part of the backup only"
        ) from exc


def _other_objects(db: Database, new: str) -> bool:
    """Whether the database or the loaded backup holds views, triggers or routines."""
    schemas = f"({_literal(db.name)}, {_literal(new)})"
    query = (
        "SELECT COUNT(*) FROM (SELECT TABLE_NAME FROM information_schema.TABLES "
        f"WHERE TABLE_TYPE = 'VIEW' AND TABLE_SCHEMA IN {schemas} UNION ALL "
        f"SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN {schemas} "
        "UNION ALL SELECT ROUTINE_NAME FROM information_schema.ROUTINES "
        f"WHERE ROUTINE_SCHEMA IN {schemas}) found"
    )
    out = run_client(db, [*_mysql(db), "--skip-column-names", "-e", query, db.name]).stdout
    return out.strip() != "0"


def _base_tables(db: Database, schema: str) -> list[str]:
    query = (
        "SELECT TABLE_NAME FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA = {_literal(schema)} AND TABLE_TYPE <> 'VIEW' ORDER BY 1"
    )
    out = run_client(db, [*_mysql(db), "--skip-column-names", "-e", query, db.name]).stdout
    return out.splitlines()


def _mysql(db: Database) -> list[str]:
    return ["mysql", "--batch", *my_args(db)]


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _unquote(quoted: str) -> str:
    return quoted.replace("``", "`")


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

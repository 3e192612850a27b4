"""Change the project's database: backups, restores, renamed or deleted migration records."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

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
    # pg_dump turns PGOPTIONS' lock_timeout off for its own session: its option sets it.
    wait = f"--lock-wait-timeout={timeouts().lock}s"
    _run_client(db, ["pg_dump", "--format=custom", wait, f"--file={target}", *pg_args(db), db.name])


def _restore_pg(db: Database, backup_file: Path) -> None:
    listing = _run_client(db, ["pg_restore", "--list", str(backup_file)]).stdout
    script = _run_client(
        db, ["pg_restore", "--clean", "--if-exists", "--file=-", str(backup_file)]
    ).stdout
    drops = _drop_statements(_pg_relations(db), keep=_dumped_tables(listing))
    # One transaction that stops at the first error: a failure anywhere, a lock
    # waited for too long included, leaves the database as it was.
    script = drops + pg_script_timeouts(script, timeouts())
    _run_client(db, [*_PSQL, *pg_args(db), "--dbname", db.name, "--file=-"], input=script)


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
    # The restore loads into scratch databases: made and dropped here, so a
    # user who may not make them is told before anything changes, not after.
    _make_scratch(db)
    _drop_scratch(db)
    _wait_for_tables(db)
    limits = timeouts()
    statement = [f"--max-statement-time={limits.statement}"] if limits.statement else []
    proc = _run_client(
        db, ["mysqldump", "--single-transaction", "--routines", *statement, *my_args(db), db.name]
    )
    target.write_text(proc.stdout)


def _wait_for_tables(db: Database) -> None:
    """Open every table as mysqldump will, under the lock timeout mysqldump cannot be given."""
    # mysqldump waits a year (lock_wait_timeout) for a table another session
    # locked (LOCK TABLES, an ALTER under way); its rows it reads from a
    # snapshot, which no lock holds up. Opening each table here first turns
    # such a lock into a refusal within the timeout.
    tables = _run_client(db, [*_mysql(db), "--skip-column-names", "-e", "SHOW TABLES", db.name])
    opens = "".join(f"SELECT 1 FROM {_ident(t)} LIMIT 0;\n" for t in tables.stdout.splitlines())
    if opens:
        _run_client(db, [*_mysql(db), db.name], input=f"START TRANSACTION;\n{opens}COMMIT;\n")


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
    found = _run_client(
        db, [*_mysql(db), "--skip-column-names", "-e", query, db.name]
    ).stdout.split()
    # The dump leaves some things (a routine's strings, a column without its own) to the default.
    charset = f" CHARACTER SET {found[0]} COLLATE {found[1]}" if len(found) == 2 else ""
    made = "".join(f"CREATE DATABASE {_ident(name)}{charset};" for name in scratch_names(db))
    try:
        _run_client(db, [*_mysql(db), "-e", _drop_scratch_sql(db) + made, db.name])
    except StepFailed as exc:
        raise StepFailed(
            f"{exc.message}\na restore loads the backup into the scratch databases "
            f"{' and '.join(scratch_names(db))} first, so that a failure never leaves part of it: "
            f"let {db.user or 'the user'} make them (GRANT ALL ON {scratch_grant(db)}.* TO ...), "
            "then try again"
        ) from exc


def _drop_scratch(db: Database) -> None:
    _run_client(db, [*_mysql(db), "-e", _drop_scratch_sql(db), db.name])


def _drop_scratch_sql(db: Database) -> str:
    return "".join(f"DROP DATABASE IF EXISTS {_ident(name)};" for name in scratch_names(db))


def _load_scratch(db: Database, new: str, dump: str, backup_file: Path) -> None:
    """Load the dump into the scratch database and check it holds every table the dump makes."""
    try:
        _run_client(db, [*_mysql(db), new], input=dump)
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
        _run_client(db, [*_mysql(db), db.name], input=f"RENAME TABLE {', '.join(moves)};\n")
    except StepFailed as exc:
        raise StepFailed(
            f"{exc.message}\nRENAME TABLE is all or nothing: {db.describe()} was not touched and "
            "is as it was"
        ) from exc


def _restore_mysql_in_place(db: Database, dump: str) -> None:
    """Views, triggers or routines cannot move between databases: drop and load in place."""
    tables = _run_client(
        db, [*_mysql(db), "--skip-column-names", "-e", "SHOW TABLES", db.name]
    ).stdout.split()
    drop = "SET FOREIGN_KEY_CHECKS=0;\n" + "".join(f"DROP TABLE IF EXISTS `{t}`;\n" for t in tables)
    try:
        _run_client(db, [*_mysql(db), db.name], input=drop + dump)
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
    out = _run_client(db, [*_mysql(db), "--skip-column-names", "-e", query, db.name]).stdout
    return out.strip() != "0"


def _base_tables(db: Database, schema: str) -> list[str]:
    query = (
        "SELECT TABLE_NAME FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA = {_literal(schema)} AND TABLE_TYPE <> 'VIEW' ORDER BY 1"
    )
    out = _run_client(db, [*_mysql(db), "--skip-column-names", "-e", query, db.name]).stdout
    return out.splitlines()


def _mysql(db: Database) -> list[str]:
    return ["mysql", "--batch", *my_args(db)]


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _unquote(quoted: str) -> str:
    return quoted.replace("``", "`")


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


# Clients


class Timeouts(NamedTuple):
    """Seconds a client waits for another session's lock, and for one statement (0: no limit)."""

    lock: int
    statement: int


LOCK_TIMEOUT = 30  # seconds: long enough for a lock held by a moment's work, not a forgotten shell


def timeouts() -> Timeouts:
    """The timeouts from MIGMERGE_LOCK_TIMEOUT and MIGMERGE_STATEMENT_TIMEOUT, or the defaults."""
    import os

    found = []
    for variable, default in (
        ("MIGMERGE_LOCK_TIMEOUT", LOCK_TIMEOUT),
        ("MIGMERGE_STATEMENT_TIMEOUT", 0),
    ):
        value = os.environ.get(variable, "").strip()
        if not value:
            found.append(default)
        elif value.isdigit() and (int(value) > 0 or variable == "MIGMERGE_STATEMENT_TIMEOUT"):
            found.append(int(value))
        else:
            raise MigmergeError(f"{variable}={value!r} is not a whole number of seconds (above 0)")
    return Timeouts(*found)


def _run_client(
    db: Database, argv: Sequence[str], *, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a database client program; StepFailed with its output when it fails."""
    import shutil  # here, not above: check reads applied migrations without it

    if shutil.which(argv[0]) is None:
        raise StepFailed(f"{argv[0]} is not installed: cannot back up or restore {db.describe()}")
    env = client_env(db)
    limits = timeouts()
    # A server that accepts connections and never answers: each client gives up
    # after TIMEOUT seconds of connecting, then says so (pg_dump honours libpq's).
    env["PGCONNECT_TIMEOUT"] = str(TIMEOUT)
    # Another session's lock (a shell, a server, an open transaction) is waited
    # for so long, then the statement fails: a refusal, never a hang.
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {pg_timeouts(limits)}".strip()
    if argv[0] == "mysql":
        argv = [
            argv[0],
            f"--connect-timeout={TIMEOUT}",
            f"--init-command={my_timeouts(limits)}",
            *argv[1:],
        ]
    proc = subprocess.run(list(argv), capture_output=True, text=True, input=input, env=env)
    if proc.returncode != 0:
        said = f"{argv[0]} failed on {db.describe()}:\n{_errors(proc.stderr)}"
        raise StepFailed(said + _timed_out(proc.stderr, limits))
    return proc


def pg_timeouts(limits: Timeouts) -> str:
    """PostgreSQL options: the lock and statement timeouts, in milliseconds."""
    return f"-c lock_timeout={limits.lock * 1000} -c statement_timeout={limits.statement * 1000}"


def my_timeouts(limits: Timeouts) -> str:
    """The statement a mysql client runs first: the session's lock (and statement) timeouts."""
    # lock_wait_timeout is for tables (its default is a year), the InnoDB one for rows;
    # max_statement_time is MariaDB's own, so MySQL reads it as a comment.
    statement = (
        f" /*M!100108 , max_statement_time={limits.statement} */" if limits.statement else ""
    )
    return (
        f"SET SESSION lock_wait_timeout={limits.lock}, "
        f"innodb_lock_wait_timeout={limits.lock}{statement}"
    )


_LOCKED = ("lock timeout", "Lock wait timeout exceeded", "could not obtain lock")
_SLOW = ("statement timeout", "max_statement_time exceeded")


def _timed_out(stderr: str, limits: Timeouts) -> str:
    """What to do when a client gave up on a lock or a statement (empty otherwise)."""
    # pg_dump's --lock-wait-timeout is a statement timeout on its LOCK TABLE.
    if any(words in stderr for words in _LOCKED) or ("Query was: LOCK TABLE" in stderr):
        return (
            f"\nanother session holds a lock this needs: migmerge waited {limits.lock} s "
            "(MIGMERGE_LOCK_TIMEOUT); end that session (a running server, a shell, an open "
            "transaction), then try again"
        )
    if any(words in stderr for words in _SLOW):
        return (
            f"\na statement ran past {limits.statement} s (MIGMERGE_STATEMENT_TIMEOUT): "
            "raise it (0: no limit), then try again"
        )
    return ""


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

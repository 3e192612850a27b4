"""A restore that cannot complete on PostgreSQL or MariaDB says what is where (issue 11, item 3).

regenerate is killed after its rollback ran (rows dropped with the local
column) and a migration was deleted; then `resolve --abort` meets real faults,
one after another:

- a client program the restore runs is not on PATH (pg_restore, psql; mysql);
- the backup cannot be read (mode 000; as root, the --abort process runs
  without CAP_DAC_OVERRIDE, through setpriv, so the mode holds);
- PostgreSQL: the database went read-only (default_transaction_read_only):
  psql stops mid-script, and its one transaction leaves nothing half-done;
- MariaDB: the project's user may no longer CREATE: the tables are dropped,
  the first CREATE TABLE is refused, and the database holds part of the
  backup (MySQL cannot roll a schema change back), which is said.

Each is exit 1 (never 3) with the backup's path and the whole command that
restores it by hand; the journal stays. Once the fault is gone, `--abort`
again gives back exactly the old schema, rows, files and index, and the
command printed for a person restores the backup too.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from migmerge.core.model import Database
from migmerge.doing.database import scratch_grant, scratch_names
from tests.testing.benchmarks import faults
from tests.testing.databases import (
    MARIA_SERVER,
    PG_SERVER,
    maria_database,
    maria_settings,
    path_without,
    pg_database,
    pg_settings,
)
from tests.testing.projects import applied_age_fork
from tests.testing.repos import PYTHON

REGENERATE = ("resolve", "--strategy", "regenerate", "--yes")
ROWS = "INSERT INTO polls_userprofile (name, age) VALUES ('ann', '31'), ('bob', '42')"


def abort(root: Path, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> str:
    """Run `resolve --abort` (under `prefix`); its stderr, once it said it could not finish."""
    argv = [*prefix, PYTHON, "-m", "migmerge", "resolve", "--abort"]
    env = {**os.environ, **(env or {})}
    # A restore that hangs (on a lock) fails the test instead of hanging it.
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    return proc.stderr


@contextmanager
def unreadable(backup: Path) -> Iterator[tuple[str, ...]]:
    """Make the backup unreadable; yield the prefix that runs a process unable to read it."""
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root reads any mode: drop the capability that lets it
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
        tried = subprocess.run([*prefix, "true"], capture_output=True, text=True)
        if tried.returncode != 0:
            pytest.skip(f"cannot drop root's CAP_DAC_OVERRIDE here: {tried.stderr.strip()}")
    mode = backup.stat().st_mode
    backup.chmod(0)
    try:
        yield prefix
    finally:
        backup.chmod(mode)


def refused(
    root: Path,
    db: Database,
    how: str,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> str:
    """`--abort` under a fault: exit 1 naming the database, its backup, by hand, the journal."""
    words = abort(root, env, prefix)
    backup = only_backup(root)
    assert f"NOT restored: database {db.describe()} (" in words
    assert f"the backup is {backup}: restore it by hand with {how}" in words
    assert "(then drop any table made since the backup, which it leaves)" in words
    assert f"the journal stays in {root / '.git' / 'migmerge' / 'journal'}" in words
    assert "then run migmerge resolve --abort again" in words
    assert faults.journal(root).exists()
    return words


def missing(tmp_path: Path, root: Path, db: Database, how: str, program: str) -> str:
    words = refused(root, db, how, {"PATH": path_without(tmp_path, program)})
    assert f"({program} is not installed: cannot back up or restore {db.describe()})" in words
    return words


def cannot_read(root: Path, db: Database, how: str) -> None:
    backup = only_backup(root)
    with unreadable(backup) as prefix:
        words = refused(root, db, how, prefix=prefix)
    assert f"(cannot read the backup {backup}: Permission denied)" in words


def only_backup(root: Path) -> Path:
    (backup,) = (root / ".git" / "migmerge" / "backups").iterdir()
    return backup


def killed_after_the_rollback(root: Path) -> None:
    proc = subprocess.run(
        [PYTHON, "-m", "migmerge", *REGENERATE],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "MIGMERGE_FAULT": "after:3"},
    )
    assert proc.returncode == -9, proc.stdout + proc.stderr


def finished(root: Path, old: object, old_db: object, db_state: object) -> None:
    """--abort once the faults are gone: exactly the old files, index, schema and rows."""
    proc = subprocess.run(
        [PYTHON, "-m", "migmerge", "resolve", "--abort"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "restored: database " in proc.stdout
    assert faults.state(root) == old
    assert db_state() == old_db  # type: ignore[operator]
    assert not faults.journal(root).parent.exists()


def by_hand(how: str) -> None:
    """Run the command printed for a person, as a person would paste it into a shell."""
    command = how.partition(" (then drop")[0]
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# PostgreSQL


def pg_state(db: Database) -> tuple[object, ...]:
    """Columns, indexes and every row of every table in the public schema."""
    import psycopg

    with psycopg.connect(dbname=db.name, **PG_SERVER) as conn:  # type: ignore[arg-type]
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' ORDER BY 1, 2"
        ).fetchall()
        tables = sorted({str(column[0]) for column in columns})
        rows = {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    return columns, indexes, rows


def pg_sql(database: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(dbname=database, autocommit=True, **PG_SERVER) as conn:  # type: ignore[arg-type]
        conn.execute(statement)


@pytest.mark.postgres
def test_postgres_restore_faults_are_said_and_abort_finishes_once_they_are_gone(
    tmp_path: Path,
) -> None:
    with pg_database() as db:
        root = applied_age_fork(tmp_path, pg_settings(db))
        pg_sql(db.name, ROWS)
        old, old_db = faults.state(root), pg_state(db)
        killed_after_the_rollback(root)
        rolled_back = pg_state(db)
        assert rolled_back != old_db  # the local column went, and its rows with it
        backup = only_backup(root)
        how = (
            "pg_restore --clean --if-exists --single-transaction --host=127.0.0.1 --port=5432 "
            f"--username=postgres --dbname={db.name} {backup}"
        )

        words = missing(tmp_path, root, db, how, "pg_restore")
        assert "restored: files polls/migrations/0002_local_age.py" in words  # files all the same
        assert pg_state(db) == rolled_back
        missing(tmp_path, root, db, how, "psql")
        assert pg_state(db) == rolled_back
        cannot_read(root, db, how)
        assert pg_state(db) == rolled_back

        pg_sql("postgres", f"ALTER DATABASE {db.name} SET default_transaction_read_only = on")
        try:
            words = refused(root, db, how)
        finally:
            pg_sql("postgres", f"ALTER DATABASE {db.name} RESET default_transaction_read_only")
        assert "psql failed on " in words and "read-only transaction" in words
        assert pg_state(db) == rolled_back  # one transaction: nothing half-restored

        finished(root, old, old_db, lambda: pg_state(db))
        pg_sql(db.name, "DROP TABLE polls_userprofile; DELETE FROM django_migrations")
        by_hand(how)
        assert pg_state(db) == old_db


# MariaDB


def maria_state(db: Database) -> tuple[object, ...]:
    """Columns, indexes and every row of every table of the database."""
    import pymysql

    with pymysql.connect(database=db.name, **MARIA_SERVER) as conn:  # type: ignore[arg-type]
        cursor = conn.cursor()
        cursor.execute(
            "SELECT table_name, column_name, column_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2",
            (db.name,),
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT table_name, index_name, column_name, seq_in_index "
            "FROM information_schema.statistics WHERE table_schema = %s ORDER BY 1, 2, 4",
            (db.name,),
        )
        indexes = cursor.fetchall()
        rows = {}
        for table in sorted({str(column[0]) for column in columns}):
            cursor.execute(f"SELECT * FROM `{table}`")
            rows[table] = sorted(map(repr, cursor.fetchall()))
    return columns, indexes, rows


def maria_sql(*statements: str, database: str | None = None) -> None:
    import pymysql

    with pymysql.connect(database=database, **MARIA_SERVER) as conn:  # type: ignore[arg-type]
        for statement in statements:
            conn.cursor().execute(statement)
        conn.commit()


@contextmanager
def maria_user(db: Database) -> Iterator[Database]:
    """The database reached by a user of its own (whose rights a test can take away)."""
    user = f"{db.name}_u"[-32:]
    maria_sql(
        f"CREATE USER '{user}'@'%'",
        f"CREATE USER '{user}'@'localhost'",
        f"GRANT ALL ON {db.name}.* TO '{user}'@'%'",
        f"GRANT ALL ON {db.name}.* TO '{user}'@'localhost'",
        # The scratch databases a restore loads the backup into first.
        f"GRANT ALL ON {scratch_grant(db)}.* TO '{user}'@'%'",
        f"GRANT ALL ON {scratch_grant(db)}.* TO '{user}'@'localhost'",
    )
    try:
        yield db._replace(user=user)
    finally:
        maria_sql(f"DROP USER IF EXISTS '{user}'@'%'", f"DROP USER IF EXISTS '{user}'@'localhost'")


@pytest.mark.mariadb
def test_mariadb_restore_faults_are_said_and_abort_finishes_once_they_are_gone(
    tmp_path: Path,
) -> None:
    with maria_database() as server_db, maria_user(server_db) as db:
        root = applied_age_fork(tmp_path, maria_settings(db))
        maria_sql(ROWS, database=db.name)
        old, old_db = faults.state(root), maria_state(db)
        killed_after_the_rollback(root)
        rolled_back = maria_state(db)
        assert rolled_back != old_db
        backup = only_backup(root)
        how = f"mysql --host=127.0.0.1 --port=3306 --user={db.user} {db.name} < {backup}"

        words = missing(tmp_path, root, db, how, "mysql")
        assert "restored: files polls/migrations/0002_local_age.py" in words
        assert maria_state(db) == rolled_back
        cannot_read(root, db, how)
        assert maria_state(db) == rolled_back

        grants = [(host, f"CREATE ON {db.name}.*") for host in ("%", "localhost")]
        for host, what in grants:
            maria_sql(f"REVOKE {what} FROM '{db.user}'@'{host}'")
        try:
            words = refused(root, db, how)
        finally:
            for host, what in grants:
                maria_sql(f"GRANT {what} TO '{db.user}'@'{host}'")
        assert "ERROR 1142 (42000) at line " in words and "CREATE command denied" in words
        assert "CREATE TABLE" not in words  # the error line, not the whole statement
        assert f"RENAME TABLE is all or nothing: {db.describe()} was not touched" in words
        assert maria_state(db) == rolled_back  # loaded aside, refused as a whole: nothing half-done

        finished(root, old, old_db, lambda: maria_state(db))
        maria_sql("DROP TABLE polls_userprofile", "DELETE FROM django_migrations", database=db.name)
        by_hand(how)
        assert maria_state(db) == old_db


# A restore (and a backup) that fails half-way or meets another session's lock
# leaves the database exactly as it was, and says so within the lock timeout.

LOCK_WAIT = {"MIGMERGE_LOCK_TIMEOUT": "2"}


def timed_refusal(root: Path, db: Database, how: str) -> str:
    """`--abort` while a lock is held: refused within seconds of the 2 s timeout, not hung."""
    start = time.monotonic()
    words = refused(root, db, how, LOCK_WAIT)
    assert time.monotonic() - start < 30  # the abort process itself, plus 2 s of waiting
    assert "another session holds a lock this needs: migmerge waited 2 s" in words
    return words


def regenerate_refused_by_a_lock(root: Path, old: object) -> None:
    """The backup meets a lock: regenerate refuses before changing anything, journal-free."""
    start = time.monotonic()
    proc = subprocess.run(
        [PYTHON, "-m", "migmerge", *REGENERATE],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **LOCK_WAIT},
        timeout=120,  # a backup that hangs on the lock fails the test instead
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert time.monotonic() - start < 60
    assert "another session holds a lock this needs: migmerge waited 2 s" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert faults.state(root) == old
    assert not faults.journal(root).exists()


@contextmanager
def replaced(backup: Path, content: bytes) -> Iterator[None]:
    """The backup's bytes replaced for a while (a dump broken half-way), then put back."""
    original = backup.read_bytes()
    backup.write_bytes(content)
    try:
        yield
    finally:
        backup.write_bytes(original)


@pytest.mark.postgres
def test_postgres_restore_and_backup_blocked_by_a_lock_or_a_broken_dump_change_nothing(
    tmp_path: Path,
) -> None:
    import psycopg

    with pg_database() as db:
        root = applied_age_fork(tmp_path, pg_settings(db))
        pg_sql(db.name, ROWS)
        old, old_db = faults.state(root), pg_state(db)
        with psycopg.connect(dbname=db.name, **PG_SERVER) as holder:  # type: ignore[arg-type]
            holder.execute("LOCK TABLE polls_userprofile IN ACCESS EXCLUSIVE MODE")
            regenerate_refused_by_a_lock(root, old)  # pg_dump cannot lock it
            holder.rollback()
        assert pg_state(db) == old_db

        killed_after_the_rollback(root)
        rolled_back = pg_state(db)
        backup = only_backup(root)
        how = (
            "pg_restore --clean --if-exists --single-transaction --host=127.0.0.1 --port=5432 "
            f"--username=postgres --dbname={db.name} {backup}"
        )
        # A transaction that read the table holds a lock DROP TABLE must wait for.
        with psycopg.connect(dbname=db.name, **PG_SERVER) as holder:  # type: ignore[arg-type]
            holder.execute("SELECT * FROM polls_userprofile").fetchall()
            words = timed_refusal(root, db, how)
            assert "canceling statement due to lock timeout" in words
            holder.rollback()
        assert pg_state(db) == rolled_back  # one transaction: nothing half-restored

        # A dump cut short: pg_restore stops; nothing reached the database.
        with replaced(backup, backup.read_bytes()[: backup.stat().st_size // 2]):
            refused(root, db, how)
        assert pg_state(db) == rolled_back

        finished(root, old, old_db, lambda: pg_state(db))


def broken_after_the_first_table(dump: str) -> str:
    """The dump with a statement the server refuses after its first table's CREATE and rows."""
    first = dump.index("CREATE TABLE `")
    second = dump.index("CREATE TABLE `", first + 1)
    cut = dump.rindex("\n--\n", first, second)
    return dump[:cut] + "\nTHIS IS NOT SQL;\n" + dump[cut:]


@pytest.mark.mariadb
def test_mariadb_restore_and_backup_blocked_by_a_lock_or_a_broken_dump_change_nothing(
    tmp_path: Path,
) -> None:
    import pymysql

    with maria_database() as server_db, maria_user(server_db) as db:
        root = applied_age_fork(tmp_path, maria_settings(db))
        maria_sql(ROWS, database=db.name)
        old, old_db = faults.state(root), maria_state(db)
        holder = pymysql.connect(database=db.name, **MARIA_SERVER)  # type: ignore[arg-type]
        try:
            holder.cursor().execute("LOCK TABLES polls_userprofile WRITE")
            regenerate_refused_by_a_lock(root, old)  # mysqldump would wait a year for it
            holder.cursor().execute("UNLOCK TABLES")
            assert maria_state(db) == old_db

            killed_after_the_rollback(root)
            rolled_back = maria_state(db)
            backup = only_backup(root)
            how = f"mysql --host=127.0.0.1 --port=3306 --user={db.user} {db.name} < {backup}"
            # An open transaction that read the table holds the lock RENAME TABLE needs.
            holder.cursor().execute("START TRANSACTION")
            holder.cursor().execute("SELECT * FROM polls_userprofile")
            words = timed_refusal(root, db, how)
            assert "Lock wait timeout exceeded" in words
            assert f"RENAME TABLE is all or nothing: {db.describe()} was not touched" in words
            holder.rollback()
        finally:
            holder.close()
        assert maria_state(db) == rolled_back

        new, _ = scratch_names(db)
        dump = backup.read_text()
        with replaced(backup, broken_after_the_first_table(dump).encode()):
            words = refused(root, db, how)
        assert "ERROR 1064 (42000)" in words
        assert f"did not load into the scratch database {new}: {db.describe()} was not" in words
        assert maria_state(db) == rolled_back
        with replaced(backup, dump[: len(dump) // 2].encode()):
            words = refused(root, db, how)
        assert "is incomplete (no '-- Dump completed' line at its end)" in words
        assert maria_state(db) == rolled_back

        # A user who may not make the scratch databases: refused before anything changes.
        for host in ("%", "localhost"):
            maria_sql(f"REVOKE ALL ON {scratch_grant(db)}.* FROM '{db.user}'@'{host}'")
        try:
            words = refused(root, db, how)
        finally:
            for host in ("%", "localhost"):
                maria_sql(f"GRANT ALL ON {scratch_grant(db)}.* TO '{db.user}'@'{host}'")
        assert f"(GRANT ALL ON {scratch_grant(db)}.* TO ...)" in words
        assert maria_state(db) == rolled_back

        finished(root, old, old_db, lambda: maria_state(db))
        assert not scratch_left(db)


def scratch_left(db: Database) -> list[str]:
    import pymysql

    with pymysql.connect(**MARIA_SERVER) as conn:  # type: ignore[arg-type]
        cursor = conn.cursor()
        cursor.execute("SHOW DATABASES")
        return [row[0] for row in cursor.fetchall() if row[0] in scratch_names(db)]

"""Before regenerate changes a database: a backup, or --force and the words "no backup taken";
the data its rollback drops named with row counts, on SQLite, PostgreSQL and MariaDB.

Real git, real Django, real databases, the real command line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from migmerge.core.model import Database
from tests.testing.databases import (
    maria_database,
    maria_settings,
    path_without,
    pg_database,
    pg_settings,
)
from tests.testing.projects import applied_age_fork, django_conflicts, sqlite_rows
from tests.testing.repos import git, run_migmerge

REGENERATE = ("resolve", "--strategy", "regenerate", "--yes")


def migration_files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "polls/migrations").glob("*.py"))}


# SQLite: the backup folder cannot be written


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    """An applied SQLite fork whose backup folder cannot be made (a file holds its name)."""
    root = applied_age_fork(tmp_path)
    (root / ".git" / "migmerge").mkdir(exist_ok=True)
    (root / ".git" / "migmerge" / "backups").write_text("not a folder\n")
    return root


def test_a_database_that_cannot_be_backed_up_is_refused(blocked: Path) -> None:
    rows, files, index = (
        sqlite_rows(blocked),
        migration_files(blocked),
        git(blocked, "ls-files", "-s"),
    )
    proc = run_migmerge(blocked, *REGENERATE)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot back up" in proc.stderr
    assert "refusing to change the database without a backup" in proc.stderr
    assert "--force to go on WITHOUT a backup" in proc.stderr
    assert sqlite_rows(blocked) == rows  # nothing was rolled back
    assert migration_files(blocked) == files
    assert git(blocked, "ls-files", "-s") == index
    assert not (blocked / ".git" / "migmerge" / "journal").exists()


def test_force_goes_on_without_a_backup_and_says_so(blocked: Path) -> None:
    proc = run_migmerge(blocked, *REGENERATE, "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  NO BACKUP TAKEN (--force): going on without one" in proc.stdout
    assert "database backed up" not in proc.stdout
    assert "to go back to the database as it was" not in proc.stdout  # there is no backup
    assert django_conflicts(blocked) == {}
    assert ("polls", "0004_fill_names") in sqlite_rows(blocked)


def test_without_force_the_dry_run_says_what_the_backup_does(blocked: Path) -> None:
    forced = run_migmerge(blocked, *REGENERATE, "--force", "--dry-run")
    assert "go on without a backup" in forced.stdout, forced.stdout
    plain = run_migmerge(blocked, *REGENERATE, "--dry-run")
    assert "go on without a backup" not in plain.stdout


# PostgreSQL: pg_dump is not on PATH


@pytest.fixture
def pg_fork(tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    with pg_database() as db:
        yield applied_age_fork(tmp_path, pg_settings(db)), db


def pg_applied(db: Database) -> set[tuple[str, str]]:
    import psycopg

    with psycopg.connect(dbname=db.name, host=db.host, port=db.port, user=db.user) as conn:
        return set(conn.execute("SELECT app, name FROM django_migrations").fetchall())


@pytest.mark.postgres
def test_postgres_without_pg_dump_is_refused_unless_forced(
    pg_fork: tuple[Path, Database], tmp_path: Path
) -> None:
    root, db = pg_fork
    env = {"PATH": path_without(tmp_path, "pg_dump")}
    before, files = pg_applied(db), migration_files(root)
    refused = run_migmerge(root, *REGENERATE, env=env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "pg_dump is not installed" in refused.stderr
    assert "refusing to change the database without a backup" in refused.stderr
    assert pg_applied(db) == before and migration_files(root) == files

    forced = run_migmerge(root, *REGENERATE, "--force", env=env)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "pg_dump is not installed" in forced.stdout
    assert "  NO BACKUP TAKEN (--force)" in forced.stdout
    assert ("polls", "0004_fill_names") in pg_applied(db)
    assert django_conflicts(root) == {}


# What the rollback drops, counted in each database


def dropping_line(stdout: str) -> str:
    [line] = [line for line in stdout.splitlines() if line.startswith("dropping the data in")]
    return line


def test_sqlite_names_the_dropped_column_with_its_rows(tmp_path: Path) -> None:
    root = applied_age_fork(tmp_path)
    with sqlite3.connect(root / "db.sqlite3") as conn:
        conn.execute("INSERT INTO polls_userprofile (name, age) VALUES ('a', '1'), ('b', '2')")
    proc = run_migmerge(root, *REGENERATE)
    assert proc.returncode == 0, proc.stderr
    assert "column polls_userprofile.age (2 rows)" in dropping_line(proc.stdout)


def test_a_column_added_by_a_list_chosen_at_run_time_is_named_too(tmp_path: Path) -> None:
    # `operations = [] if SKIP else [AddField(age)]`: the rollback drops age all the same.
    root = applied_age_fork(tmp_path, chosen=True)
    with sqlite3.connect(root / "db.sqlite3") as conn:
        conn.execute("INSERT INTO polls_userprofile (name, age) VALUES ('a', '1'), ('b', '2')")
    proc = run_migmerge(root, *REGENERATE)  # said before anything runs, however it ends
    assert "column polls_userprofile.age (2 rows)" in dropping_line(proc.stdout), proc.stderr


@pytest.mark.postgres
def test_postgres_names_the_dropped_column_with_its_rows(pg_fork: tuple[Path, Database]) -> None:
    import psycopg

    root, db = pg_fork
    with psycopg.connect(dbname=db.name, host=db.host, port=db.port, user=db.user) as conn:
        conn.execute(
            "INSERT INTO polls_userprofile (name, age) VALUES ('a', '1'), ('b', '2'), ('c', '3')"
        )
    proc = run_migmerge(root, *REGENERATE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "column polls_userprofile.age (3 rows)" in dropping_line(proc.stdout)
    assert ("polls", "0004_fill_names") in pg_applied(db)


@pytest.mark.mariadb
def test_mariadb_names_the_dropped_column_with_its_rows(tmp_path: Path) -> None:
    import pymysql

    from tests.testing.databases import MARIA_SERVER

    with maria_database() as db:
        root = applied_age_fork(tmp_path, maria_settings(db))
        with pymysql.connect(database=db.name, **MARIA_SERVER) as conn:  # type: ignore[arg-type]
            conn.cursor().execute(
                "INSERT INTO polls_userprofile (name, age) VALUES ('a', '1'), ('b', '2')"
            )
            conn.commit()
        proc = run_migmerge(root, *REGENERATE)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "column polls_userprofile.age (2 rows)" in dropping_line(proc.stdout)
        assert django_conflicts(root) == {}


def test_an_abort_after_a_forced_run_says_the_database_was_not_restored(blocked: Path) -> None:
    files = migration_files(blocked)
    proc = run_migmerge(blocked, *REGENERATE, "--force", env={"MIGMERGE_FAULT": "after:2"})
    assert proc.returncode == -9  # killed after the rollback ran, without a backup
    assert "NO BACKUP TAKEN (--force)" in proc.stdout
    abort = run_migmerge(blocked, "resolve", "--abort")
    assert abort.returncode == 0, abort.stderr
    db = blocked / "db.sqlite3"
    assert f"; database {db} NOT restored: no backup was taken, so what the steps changed" in (
        abort.stdout
    )
    assert migration_files(blocked) == files

"""Reading what the database has applied: read-only, without a driver, never hanging.

SQLite, PostgreSQL and MariaDB databases are migrated by real Django; migmerge
then runs the way pipx, pre-commit or CI run it: without psycopg, without the
clients, against servers that never answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from migmerge.core.model import Database
from migmerge.reading.applied import TIMEOUT, read_applied
from tests.testing.databases import (
    maria_database,
    maria_settings,
    pg_database,
    pg_settings,
    use_database,
)
from tests.testing.projects import POLLS_V1, parallel_branches
from tests.testing.repos import PYTHON, ROOT, git, run_migmerge

LOCAL = POLLS_V1 + "\n\nclass Choice(models.Model):\n    label = models.CharField(max_length=10)\n"
UPSTREAM = POLLS_V1 + "\n\nclass Tag(models.Model):\n    name = models.CharField(max_length=10)\n"


def django(root: Path, *args: str) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    proc = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=root, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def conflict_project(base: Path, databases: str | None = None) -> Path:
    """polls with a local 0002_choice applied (by real `migrate`) and upstream's 0002_tag merged."""
    root = parallel_branches(base, LOCAL, UPSTREAM, merge=False)
    if databases is not None:
        use_database(root, databases)
    django(root, "migrate")
    git(root, "merge", "-q", "-X", "ours", "main", "-m", "merge main")
    return root


def check(root: Path, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    proc = run_migmerge(root, "check", "--format", "json", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc: dict = json.loads(proc.stdout)  # type: ignore[type-arg]
    return doc


def applied_of(doc: dict) -> dict[str, bool | None]:  # type: ignore[type-arg]
    return {leaf["name"]: leaf["applied"] for leaf in doc["conflicts"][0]["leaves"]}


def unknown_reasons(doc: dict) -> list[str]:  # type: ignore[type-arg]
    return [w["message"] for w in doc["warnings"] if w["kind"] == "applied-unknown"]


KNOWN = {"0002_choice": True, "0002_tag": False}


# migmerge as pipx, pre-commit and CI run it


@pytest.fixture
def no_driver(tmp_path: Path) -> dict[str, str]:
    """PYTHONPATH for migmerge that hides psycopg (and psycopg2): `import psycopg` fails."""
    shadow = tmp_path / "shadow"
    for name in ("psycopg", "psycopg2", "pymysql", "MySQLdb"):
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(
            "raise ImportError('hidden: migmerge runs without database drivers here')\n"
        )
    return {"PYTHONPATH": str(shadow)}


@pytest.fixture
def no_clients(tmp_path: Path) -> dict[str, str]:
    """A PATH with git and nothing else: no psql, no mysql."""
    import shutil

    folder = tmp_path / "bin"
    folder.mkdir()
    git_path = shutil.which("git")
    assert git_path is not None
    (folder / "git").symlink_to(git_path)
    return {"PATH": str(folder)}


def project_venv(root: Path) -> None:
    """The project's interpreter: a .venv beside manage.py (this test run's, with the drivers)."""
    (root / ".venv").symlink_to(ROOT / ".venv")


def test_hidden_driver_really_is_hidden(no_driver: dict[str, str]) -> None:
    import subprocess

    env = {**os.environ, **no_driver}
    code = "import psycopg"
    proc = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "hidden" in proc.stderr


@pytest.mark.postgres
def test_postgres_without_driver_is_read_through_psql(
    tmp_path: Path, no_driver: dict[str, str]
) -> None:
    with pg_database() as db:
        root = conflict_project(tmp_path, pg_settings(db))
        doc = check(root, env=no_driver)
        assert applied_of(doc) == KNOWN
        assert unknown_reasons(doc) == []


@pytest.mark.postgres
def test_postgres_without_driver_or_psql_is_read_through_the_project_interpreter(
    tmp_path: Path, no_driver: dict[str, str], no_clients: dict[str, str]
) -> None:
    with pg_database() as db:
        root = conflict_project(tmp_path, pg_settings(db))
        env = {**no_driver, **no_clients}
        doc = check(root, env=env)
        assert applied_of(doc) == {"0002_choice": None, "0002_tag": None}
        (reason,) = unknown_reasons(doc)
        assert "no PostgreSQL driver (psycopg) in migmerge's environment" in reason
        assert "no psql client on PATH" in reason and "psql" in reason.split("hint:")[1]
        project_venv(root)
        assert applied_of(check(root, env=env)) == KNOWN
        auto = run_migmerge(root, "resolve", "--dry-run", env=env)
        assert auto.returncode == 0, auto.stderr
        assert auto.stdout.startswith("polls: merge ("), auto.stdout  # 0002_choice is applied


@pytest.mark.mariadb
def test_mariadb_migrated_by_django_is_read(
    tmp_path: Path, no_driver: dict[str, str], no_clients: dict[str, str]
) -> None:
    with maria_database() as db:
        root = conflict_project(tmp_path, maria_settings(db))
        assert applied_of(check(root, env=no_driver)) == KNOWN  # the mysql client
        env = {**no_driver, **no_clients}
        doc = check(root, env=env)
        assert applied_of(doc) == {"0002_choice": None, "0002_tag": None}
        assert "no mysql client on PATH" in unknown_reasons(doc)[0]
        project_venv(root)
        assert applied_of(check(root, env=env)) == KNOWN  # the project's PyMySQL


def test_sqlite_applied_null_makes_auto_merge_and_says_why(tmp_path: Path) -> None:
    root = conflict_project(tmp_path)
    assert applied_of(check(root)) == KNOWN
    (root / "db.sqlite3").unlink()
    doc = check(root)
    assert applied_of(doc) == {"0002_choice": None, "0002_tag": None}
    (reason,) = unknown_reasons(doc)
    assert f"the SQLite database {root / 'db.sqlite3'} does not exist" in reason
    assert doc["conflicts"][0]["strategy"] == "merge"


# SQLite: read-only and immutable


def test_sqlite_in_wal_mode_gets_no_wal_or_shm_files(tmp_path: Path) -> None:
    root = conflict_project(tmp_path)
    db = root / "db.sqlite3"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    conn.close()
    assert not db.with_name("db.sqlite3-wal").exists()
    before = sorted(p.name for p in root.iterdir())
    assert applied_of(check(root)) == KNOWN
    assert sorted(p.name for p in root.iterdir()) == before


def test_sqlite_rows_still_in_another_connections_log_are_read(tmp_path: Path) -> None:
    root = conflict_project(tmp_path)
    db = root / "db.sqlite3"
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        with writer:
            writer.execute(
                "INSERT INTO django_migrations (app, name, applied)"
                " VALUES ('polls', '0002_tag', '2024-01-01')"
            )
        assert db.with_name("db.sqlite3-wal").stat().st_size > 0
        # Read through a copy: the -shm index the writer shares is left as it was
        # (issue 11, item 7; reading through the log rewrote it).
        files = [db, db.with_name("db.sqlite3-wal"), db.with_name("db.sqlite3-shm")]
        before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in files]
        assert applied_of(check(root)) == {"0002_choice": True, "0002_tag": True}
        assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in files] == before
    finally:
        writer.close()


# Servers that accept connections and never answer


class silent_server:  # noqa: N801 - used like a function
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        port: int = self.sock.getsockname()[1]
        return port

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.parametrize("vendor", ["postgresql", "mysql"])
def test_a_server_that_never_answers_is_unknown_within_the_timeout(vendor: str) -> None:
    with silent_server() as port:
        db = Database(vendor, "shop", host="127.0.0.1", port=port, user="u")
        started = time.monotonic()
        found = read_applied(db)
        took = time.monotonic() - started
    assert found.keys is None
    assert took < 3 * TIMEOUT + 2, took
    assert f"{vendor}://127.0.0.1/shop cannot be read" in found.why
    assert "start the database server" in found.hint


@pytest.fixture
def silent_project(tmp_path: Path) -> Iterator[Path]:
    """The conflict project, its settings pointing at a PostgreSQL port that never answers."""
    root = conflict_project(tmp_path)
    with silent_server() as port:
        entry = {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "HOST": "127.0.0.1"}
        entry.update(PORT=str(port), USER="u")
        settings = root / "proj" / "settings.py"
        text = settings.read_text()
        settings.write_text(text + f"\nDATABASES = {{'default': {entry!r}}}\n")
        yield root


@pytest.mark.parametrize("driver", ["psycopg", "psql"])
def test_check_and_resolve_do_not_hang_on_a_silent_server(
    silent_project: Path, driver: str, no_driver: dict[str, str]
) -> None:
    env = no_driver if driver == "psql" else {}
    started = time.monotonic()
    doc = check(silent_project, env=env)
    assert applied_of(doc) == {"0002_choice": None, "0002_tag": None}
    assert "cannot be read" in unknown_reasons(doc)[0]
    proc = run_migmerge(silent_project, "resolve", "--dry-run", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("polls: merge (")
    assert time.monotonic() - started < 4 * (3 * TIMEOUT + 2)


# --applied rollback and record, on each database


@contextlib.contextmanager
def each_database(vendor: str) -> Iterator[tuple[str | None, Database | None]]:
    """(settings' DATABASES, the Database) for `vendor`; SQLite is the project's default."""
    if vendor == "sqlite":
        yield None, None
        return
    maker, settings = (
        (pg_database, pg_settings) if vendor == "postgresql" else (maria_database, maria_settings)
    )
    with maker() as db:
        yield settings(db), db


def applied_names(root: Path, db: Database | None) -> set[str]:
    db = db or Database("sqlite", str(root / "db.sqlite3"))
    keys = read_applied(db).keys
    assert keys is not None
    return {name for app, name in keys if app == "polls"}


VENDORS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mariadb),
]
RENUMBER = ("resolve", "--strategy", "renumber", "--yes")


@pytest.mark.parametrize("vendor", VENDORS)
def test_applied_rollback_unapplies_renumbers_and_migrates(tmp_path: Path, vendor: str) -> None:
    with each_database(vendor) as (databases, db):
        root = conflict_project(tmp_path, databases)
        record = run_migmerge(root, *RENUMBER, "--applied", "record")
        assert record.returncode == 1, record.stdout + record.stderr
        assert record.stderr.startswith(
            "migmerge: polls: refusing to record the changes in django_migrations: 0002_choice "
            "would depend on 0002_tag, which is not applied"
        )
        assert "--applied rollback" in record.stderr and "--applied record" not in record.stderr
        assert applied_names(root, db) == {"0001_initial", "0002_choice"}
        proc = run_migmerge(root, *RENUMBER, "--applied", "rollback")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert applied_names(root, db) == {"0001_initial", "0002_tag", "0003_choice"}
        django(root, "migrate", "--check")


@pytest.mark.parametrize("vendor", VENDORS)
def test_applied_record_renames_the_rows(tmp_path: Path, vendor: str) -> None:
    with each_database(vendor) as (databases, db):
        root = parallel_branches(tmp_path, LOCAL, UPSTREAM, merge=False)
        if databases is not None:
            use_database(root, databases)
        django(root, "migrate")
        git(root, "checkout", "-q", "main")
        django(root, "migrate")  # the developer ran upstream's migrations too
        git(root, "checkout", "-q", "feature")
        git(root, "merge", "-q", "-X", "ours", "main", "-m", "merge main")
        proc = run_migmerge(root, *RENUMBER, "--applied", "record")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "rename polls rows in django_migrations: 0002_choice -> 0003_choice" in proc.stdout
        assert applied_names(root, db) == {"0001_initial", "0002_tag", "0003_choice"}
        django(root, "migrate", "--check")  # nothing to apply: the history is consistent


@pytest.mark.postgres
def test_record_and_restore_without_a_driver_in_migmerges_environment(
    tmp_path: Path, no_driver: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """pipx, pre-commit, CI: psycopg is not where migmerge runs; pg_dump and psql do the work."""
    from migmerge.doing import database

    with pg_database() as db:
        root = parallel_branches(tmp_path, LOCAL, UPSTREAM, merge=False)
        use_database(root, pg_settings(db))
        django(root, "migrate")
        git(root, "checkout", "-q", "main")
        django(root, "migrate")
        git(root, "checkout", "-q", "feature")
        git(root, "merge", "-q", "-X", "ours", "main", "-m", "merge main")
        proc = run_migmerge(root, *RENUMBER, "--applied", "record", env=no_driver)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert applied_names(root, db) == {"0001_initial", "0002_tag", "0003_choice"}
        django(root, "migrate", "--check")
        with monkeypatch.context() as mp:
            mp.setitem(sys.modules, "psycopg", None)  # `import psycopg` fails here too
            backup = database.backup(db, tmp_path / "backups")
            django(root, "migrate", "polls", "0001_initial")  # drops polls_choice and polls_tag
            database.restore(db, backup)
        assert applied_names(root, db) == {"0001_initial", "0002_tag", "0003_choice"}


@pytest.fixture(params=["postgresql", "mysql"])
def silent_vendor_project(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Path, str]]:
    """The conflict project, its database a PostgreSQL or MariaDB port that never answers."""
    root = conflict_project(tmp_path)
    engine: str = request.param
    with silent_server() as port:
        entry = {"ENGINE": f"django.db.backends.{engine}", "NAME": "shop", "HOST": "127.0.0.1"}
        entry.update(PORT=str(port), USER="u")
        settings = root / "proj" / "settings.py"
        driver = "import pymysql\n\npymysql.install_as_MySQLdb()\n" if engine == "mysql" else ""
        settings.write_text(
            driver + settings.read_text() + f"\nDATABASES = {{'default': {entry!r}}}\n"
        )
        git(root, "commit", "-q", "-am", "a database that never answers")
        yield root, engine


def test_resolve_and_doctor_refuse_a_silent_server_after_the_timeout(
    silent_vendor_project: tuple[Path, str],
) -> None:
    # Issue 11, item 9: pg_dump and mysqldump waited for ever (mysqldump has no
    # connect timeout: the mysql client asks first), so regenerate hung.
    root, vendor = silent_vendor_project
    before = git(root, "status", "--porcelain", "--untracked-files=all")
    started = time.monotonic()
    limit = 4 * (3 * TIMEOUT + 2)
    proc = run_migmerge(root, "resolve", "--strategy", "regenerate", "--yes", timeout=limit)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "step 1 (back up the database into " in proc.stderr
    assert f"on {vendor}://127.0.0.1/shop" in proc.stderr
    assert "timeout expired" in proc.stderr or "handshake" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert git(root, "status", "--porcelain", "--untracked-files=all") == before
    doctor = run_migmerge(root, "doctor", timeout=limit)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert f"could not read the database: cannot read {vendor}://127.0.0.1/shop" in doctor.stdout
    assert time.monotonic() - started < 8 * (3 * TIMEOUT + 2)

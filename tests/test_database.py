"""database.py against real SQLite, PostgreSQL and MariaDB databases written by real Django."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from migmerge.core.model import Database
from migmerge.doing.database import backup, pg_script_timeouts, restore, scratch_names
from migmerge.doing.db_clients import Timeouts, my_timeouts, timeouts
from migmerge.doing.db_records import rename_records
from migmerge.errors import MigmergeError
from migmerge.reading.applied import applied_migrations
from migmerge.reading.config import Config
from migmerge.reading.project import find_database
from tests.testing.databases import pg_database, pg_settings, use_database
from tests.testing.projects import make_django_project, manage

POLLS = """\
from django.db import models


class Question(models.Model):
    text = models.CharField(max_length=200)
"""
POLLS_MORE = (
    POLLS + "\n\nclass Choice(models.Model):\n    label = models.CharField(max_length=20)\n"
)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Django project with polls migrated on SQLite (read-only users copy it)."""
    root = make_django_project(
        tmp_path_factory.mktemp("db") / "proj", {"polls": POLLS}, git_init=False
    )
    manage(root, "makemigrations", "polls")
    manage(root, "migrate")
    return root


@pytest.fixture
def project(migrated: Path, tmp_path: Path) -> Path:
    """A private copy of the migrated project, free to change."""
    return Path(shutil.copytree(migrated, tmp_path / "proj"))


def database_from_settings_source(source: bytes, settings: Path) -> Database | None:
    """Write `source` as the settings module proj.settings under settings' folder; read it."""
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_bytes(source)
    root = settings.parent.parent
    return find_database(root, Config(settings=f"{settings.parent.name}.{settings.stem}"))


def sqlite_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute("SELECT app, name FROM django_migrations").fetchall())


# Finding the database


def test_find_database_reads_base_dir_path_statically(migrated: Path) -> None:
    found = find_database(migrated, Config())
    assert found == Database("sqlite", str(migrated / "db.sqlite3"))


def test_config_database_overrides_the_settings(migrated: Path) -> None:
    found = find_database(migrated, Config(database="data/other.sqlite3"))
    assert found == Database("sqlite", str(migrated / "data" / "other.sqlite3"))


@pytest.mark.parametrize(
    ("prelude", "name", "expected"),
    [
        (
            "BASE_DIR = Path(__file__).resolve().parent.parent",
            'BASE_DIR / "db.sqlite3"',
            "db.sqlite3",
        ),
        (
            "BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))",
            'os.path.join(BASE_DIR, "data.db")',
            "data.db",
        ),
        ("BASE_DIR = Path(__file__).resolve().parent.parent", 'str(BASE_DIR / "x.db")', "x.db"),
        ("BASE_DIR = Path(__file__).resolve().parent.parent", 'f"{BASE_DIR}/f.db"', "f.db"),
    ],
)
def test_sqlite_name_patterns_are_evaluated(
    tmp_path: Path, prelude: str, name: str, expected: str
) -> None:
    settings = tmp_path / "proj" / "settings.py"
    source = (
        "import os\nfrom pathlib import Path\n"
        f"{prelude}\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', "
        f"'NAME': {name}}}}}\n"
    )
    found = database_from_settings_source(source.encode(), settings)
    assert found is not None and found.vendor == "sqlite"
    assert Path(found.name) == (tmp_path / expected).resolve()


def test_relative_sqlite_name_is_taken_from_manage_py_folder(project: Path) -> None:
    settings = project / "proj" / "settings.py"
    settings.write_text(settings.read_text().replace('BASE_DIR / "db.sqlite3"', '"rel.db"'))
    assert find_database(project, Config()) == Database("sqlite", str(project / "rel.db"))


def test_postgres_settings_are_read_statically(tmp_path: Path) -> None:
    source = (
        b"DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql',"
        b" 'NAME': 'shop', 'HOST': 'db', 'PORT': '5433', 'USER': 'u', 'PASSWORD': 'p'}}\n"
    )
    found = database_from_settings_source(source, tmp_path / "settings.py")
    assert found == Database("postgresql", "shop", host="db", port=5433, user="u", password="p")


def test_unreadable_name_gives_none_statically(tmp_path: Path) -> None:
    source = b"DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': f()}}\n"
    assert database_from_settings_source(source, tmp_path / "settings.py") is None


def test_load_settings_asks_the_project_when_static_reading_fails(project: Path) -> None:
    settings = project / "proj" / "settings.py"
    text = settings.read_text().replace(
        'BASE_DIR / "db.sqlite3"', 'BASE_DIR / "".join(["a", ".db"])'
    )
    settings.write_text(text)
    assert find_database(project, Config()) is None
    found = find_database(project, Config(), load_settings=True)
    assert found == Database("sqlite", str(project / "a.db"))


# SQLite


def test_applied_migrations_on_sqlite(migrated: Path) -> None:
    applied = applied_migrations(Database("sqlite", str(migrated / "db.sqlite3")))
    assert applied is not None
    assert ("polls", "0001_initial") in applied
    assert ("contenttypes", "0001_initial") in applied


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.sqlite3"
    assert applied_migrations(Database("sqlite", str(missing))) is None
    assert not missing.exists()


def test_sqlite_without_django_migrations_table_has_nothing_applied(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).close()
    assert applied_migrations(Database("sqlite", str(path))) == frozenset()


def test_sqlite_backup_restore_round_trip(project: Path, tmp_path: Path) -> None:
    db = Database("sqlite", str(project / "db.sqlite3"))
    before = sqlite_rows(project / "db.sqlite3")
    saved = backup(db, tmp_path / "backups")
    (project / "polls" / "models.py").write_text(POLLS_MORE)
    manage(project, "makemigrations", "polls")
    manage(project, "migrate")
    assert sqlite_rows(project / "db.sqlite3") != before
    restore(db, saved)
    assert sqlite_rows(project / "db.sqlite3") == before
    with sqlite3.connect(project / "db.sqlite3") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "polls_choice" not in tables and "polls_question" in tables


def test_rename_records_on_sqlite_follows_chains(project: Path) -> None:
    path = project / "db.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO django_migrations (app, name, applied)"
            " VALUES ('polls', '0002_x', '2024-01-01')"
        )
    db = Database("sqlite", str(path))
    rename_records(db, "polls", [("0001_initial", "0002_x"), ("0002_x", "0003_x")])
    polls = [name for app, name in sqlite_rows(path) if app == "polls"]
    assert polls == ["0002_x", "0003_x"]


def test_rename_records_refuses_odd_names(project: Path) -> None:
    from migmerge.errors import MigmergeError

    with pytest.raises(MigmergeError):
        rename_records(Database("sqlite", str(project / "db.sqlite3")), "polls", [("a'", "b")])


# PostgreSQL


@pytest.fixture
def pg_project(tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    """A polls project migrated on a throwaway PostgreSQL database."""
    with pg_database() as db:
        root = make_django_project(tmp_path / "proj", {"polls": POLLS}, git_init=False)
        use_database(root, pg_settings(db))
        manage(root, "makemigrations", "polls")
        manage(root, "migrate")
        yield root, db


def pg_rows(db: Database) -> list[tuple[str, str]]:
    return sorted(applied_migrations(db) or ())


@pytest.mark.postgres
def test_postgres_is_found_through_settings_and_read(pg_project: tuple[Path, Database]) -> None:
    root, db = pg_project
    assert find_database(root, Config()) == db
    assert find_database(root, Config(), load_settings=True) == db
    applied = applied_migrations(db)
    assert applied is not None and ("polls", "0001_initial") in applied


@pytest.mark.postgres
def test_postgres_backup_restore_round_trip(
    pg_project: tuple[Path, Database], tmp_path: Path
) -> None:
    root, db = pg_project
    before = pg_rows(db)
    saved = backup(db, tmp_path / "backups")
    (root / "polls" / "models.py").write_text(POLLS_MORE)
    manage(root, "makemigrations", "polls")
    manage(root, "migrate")
    assert pg_rows(db) != before
    restore(db, saved)
    assert pg_rows(db) == before
    # The table made after the backup is gone, so migrating again works.
    manage(root, "migrate")


@pytest.mark.postgres
def test_rename_records_on_postgres(pg_project: tuple[Path, Database]) -> None:
    _, db = pg_project
    rename_records(db, "polls", [("0001_initial", "0001_renamed")])
    assert ("polls", "0001_renamed") in pg_rows(db)
    assert ("polls", "0001_initial") not in pg_rows(db)


@pytest.mark.postgres
def test_unreachable_postgres_reads_as_unknown() -> None:
    db = Database("postgresql", "nope", host="127.0.0.1", port=1, user="postgres")
    assert applied_migrations(db) is None


# MariaDB / MySQL (through the mysql client; Django's MySQL driver is not installed here)


@pytest.fixture
def maria() -> Iterator[Database]:
    """A throwaway MariaDB database holding a django_migrations table."""
    if shutil.which("mysql") is None:
        pytest.skip("the mysql client is not installed")
    name = f"migmerge_test_{secrets.token_hex(6)}"
    create = subprocess.run(
        ["mysql", "-h127.0.0.1", "-P3306", "-uroot", "-e", f"CREATE DATABASE {name}"],
        capture_output=True,
        text=True,
    )
    if create.returncode != 0:
        pytest.skip(f"MariaDB is not reachable at 127.0.0.1:3306: {create.stderr.strip()}")
    db = Database("mysql", name, host="127.0.0.1", port=3306, user="root")
    sql = (
        "CREATE TABLE django_migrations (id INT AUTO_INCREMENT PRIMARY KEY, app VARCHAR(255),"
        " name VARCHAR(255), applied DATETIME) ENGINE=InnoDB;"
        "INSERT INTO django_migrations (app, name, applied)"
        " VALUES ('polls', '0001_initial', NOW());"
    )
    subprocess.run(["mysql", "-h127.0.0.1", "-P3306", "-uroot", name, "-e", sql], check=True)
    try:
        yield db
    finally:
        subprocess.run(["mysql", "-h127.0.0.1", "-P3306", "-uroot", "-e", f"DROP DATABASE {name}"])


def test_mysql_applied_backup_restore_and_rename(maria: Database, tmp_path: Path) -> None:
    assert applied_migrations(maria) == {("polls", "0001_initial")}
    saved = backup(maria, tmp_path)
    rename_records(maria, "polls", [("0001_initial", "0001_other")])
    assert applied_migrations(maria) == {("polls", "0001_other")}
    extra = "CREATE TABLE polls_new (id INT)"
    subprocess.run(
        ["mysql", "-h127.0.0.1", "-P3306", "-uroot", maria.name, "-e", extra], check=True
    )
    restore(maria, saved)
    assert applied_migrations(maria) == {("polls", "0001_initial")}


def my(db: Database, sql: str, database: str | None = None) -> str:
    argv = ["mysql", "-h127.0.0.1", "-P3306", "-uroot", "--batch", "--skip-column-names"]
    return subprocess.run(
        [*argv, database or db.name, "-e", sql], check=True, capture_output=True, text=True
    ).stdout


def test_mysql_restore_with_a_view_loads_in_place_once_the_scratch_load_held(
    maria: Database, tmp_path: Path
) -> None:
    # A view cannot move between databases: checked in the scratch database, then loaded here.
    my(maria, "CREATE TABLE p (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO p VALUES (1), (2);")
    my(maria, "CREATE TABLE c (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES p (id));")
    my(maria, "INSERT INTO c VALUES (1, 2); CREATE VIEW v AS SELECT c.id, c.p FROM c;")
    saved = backup(maria, tmp_path)
    my(maria, "DROP VIEW v; DELETE FROM c; CREATE TABLE since (id INT);")
    restore(maria, saved)
    assert my(maria, "SELECT * FROM v") == "1\t2\n"
    assert my(maria, "SHOW TABLES").split() == ["c", "django_migrations", "p", "v"]
    assert not [n for n in my(maria, "SHOW DATABASES").split() if n in scratch_names(maria)]


def test_mysql_restore_swaps_tables_with_foreign_keys_and_leaves_no_scratch(
    maria: Database, tmp_path: Path
) -> None:
    my(maria, "CREATE TABLE p (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO p VALUES (1), (2);")
    my(maria, "CREATE TABLE c (id INT PRIMARY KEY, p INT, CONSTRAINT c_p FOREIGN KEY (p) "
              "REFERENCES p (id));")  # fmt: skip
    my(maria, "INSERT INTO c VALUES (1, 2);")
    saved = backup(maria, tmp_path)
    my(maria, "DELETE FROM c; DROP TABLE c; "
              "CREATE TABLE since (id INT, FOREIGN KEY (id) REFERENCES p (id));")  # fmt: skip
    restore(maria, saved)
    assert my(maria, "SELECT * FROM c") == "1\t2\n"
    assert my(maria, "SHOW TABLES").split() == ["c", "django_migrations", "p"]
    constraint = "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS"
    assert my(maria, f"{constraint} WHERE CONSTRAINT_SCHEMA = '{maria.name}'").split() == ["c_p"]
    assert not [n for n in my(maria, "SHOW DATABASES").split() if n in scratch_names(maria)]


def test_a_timeout_that_is_no_number_of_seconds_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIGMERGE_LOCK_TIMEOUT", "30s")
    with pytest.raises(MigmergeError, match=r"MIGMERGE_LOCK_TIMEOUT='30s' is not a whole number"):
        timeouts()
    monkeypatch.setenv("MIGMERGE_LOCK_TIMEOUT", "7")
    monkeypatch.setenv("MIGMERGE_STATEMENT_TIMEOUT", "0")
    assert timeouts() == (7, 0)
    assert my_timeouts(timeouts()) == "SET SESSION lock_wait_timeout=7, innodb_lock_wait_timeout=7"


def test_pg_restore_script_header_waits_no_longer_than_the_lock_timeout() -> None:
    # pg_restore's script turns both timeouts off in its header; a row may hold the same words.
    head = "--\n-- dump\n--\n\nSET statement_timeout = 0;\nSET lock_timeout = 0;\n"
    rest = "\n--\n-- Name: t\n--\nCOPY t FROM stdin;\nSET lock_timeout = 0;\n"
    assert pg_script_timeouts(head + rest, Timeouts(3, 0)) == (
        head.replace("lock_timeout = 0", "lock_timeout = 3000") + rest
    )

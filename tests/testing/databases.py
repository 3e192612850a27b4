"""Real PostgreSQL and MariaDB databases for a test: made, pointed at, dropped.

Each skips when its server is unreachable, and fails instead under CI=true.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# PostgreSQL

PG_SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def require_postgres() -> None:
    """Skip when PostgreSQL is unreachable, but fail under CI=true (it must run there)."""
    import psycopg
    import pytest

    try:
        psycopg.connect(dbname="postgres", connect_timeout=3, **PG_SERVER).close()
    except psycopg.Error as exc:
        reason = f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc}); start it: .ci/postgres.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


class pg_database:  # noqa: N801 - used like a function: `with pg_database() as db`
    """Create a throwaway database migmerge_test_<random>; drop it on exit."""

    def __enter__(self):  # type: ignore[no-untyped-def]
        import secrets

        import psycopg

        from migmerge.core.model import Database

        require_postgres()
        self.name = f"migmerge_test_{secrets.token_hex(6)}"
        with psycopg.connect(dbname="postgres", autocommit=True, **PG_SERVER) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        return Database("postgresql", self.name, host="127.0.0.1", port=5432, user="postgres")

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(dbname="postgres", autocommit=True, **PG_SERVER) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def pg_settings(db: object) -> str:
    """The DATABASES setting pointing Django at `db` (a migmerge.database.Database)."""
    name, host, port, user = (getattr(db, k) for k in ("name", "host", "port", "user"))
    entry = {"ENGINE": "django.db.backends.postgresql", "NAME": name, "HOST": host}
    entry.update({"PORT": str(port), "USER": user})
    return f"DATABASES = {{'default': {entry!r}}}\n"


def use_database(root: Path, databases: str, project: str = "proj") -> None:
    """Replace the DATABASES block of the project's settings with `databases`."""
    settings = root / project / "settings.py"
    text = settings.read_text()
    start = text.index("DATABASES = {")
    end = text.index("\n}\n", start) + 3
    settings.write_text(text[:start] + databases + text[end:])


# MariaDB (Django talks to it through PyMySQL; migmerge through the mysql client)

MARIA_SERVER = {"host": "127.0.0.1", "port": 3306, "user": "root"}


def require_mariadb() -> None:
    """Skip when MariaDB is unreachable, but fail under CI=true (it must run there)."""
    import pymysql
    import pytest

    try:
        pymysql.connect(connect_timeout=3, **MARIA_SERVER).close()  # type: ignore[arg-type]
    except pymysql.Error as exc:
        reason = f"MariaDB is not reachable at 127.0.0.1:3306 ({exc}); start it: .ci/mariadb.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


class maria_database:  # noqa: N801 - used like a function: `with maria_database() as db`
    """Create a throwaway MariaDB database migmerge_test_<random>; drop it on exit."""

    def __enter__(self):  # type: ignore[no-untyped-def]
        import secrets

        import pymysql

        from migmerge.core.model import Database

        require_mariadb()
        self.name = f"migmerge_test_{secrets.token_hex(6)}"
        with pymysql.connect(**MARIA_SERVER) as conn:  # type: ignore[arg-type]
            conn.cursor().execute(f"CREATE DATABASE {self.name}")
        return Database("mysql", self.name, host="127.0.0.1", port=3306, user="root")

    def __exit__(self, *exc: object) -> None:
        import pymysql

        with pymysql.connect(**MARIA_SERVER) as conn:  # type: ignore[arg-type]
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {self.name}")


def maria_settings(db: object) -> str:
    """DATABASES pointing Django at `db` through PyMySQL (installed as MySQLdb)."""
    name, host, port, user = (getattr(db, k) for k in ("name", "host", "port", "user"))
    entry = {"ENGINE": "django.db.backends.mysql", "NAME": name, "HOST": host}
    entry.update({"PORT": str(port), "USER": user})
    return f"import pymysql\n\npymysql.install_as_MySQLdb()\nDATABASES = {{'default': {entry!r}}}\n"


# Client programs


def path_without(tmp_path: Path, *programs: str) -> str:
    """A PATH with every program of this one but `programs` (links in a folder of their own)."""
    folder = tmp_path / f"path-without-{'-'.join(programs)}"
    folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = folder / entry.name
            if entry.name not in programs and not link.exists() and os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    assert all(shutil.which(program, path=str(folder)) is None for program in programs)
    return str(folder)

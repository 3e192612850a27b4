"""A kmigrator app's database, read as condo's config reads DATABASE_URL; knex's applied files."""

from __future__ import annotations

from pathlib import Path

import pytest

from migmerge.core.model import Database
from migmerge.reading import knex


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://postgres:p%40ss@127.0.0.1/main",
            Database("postgresql", "main", "127.0.0.1", None, "postgres", "p@ss"),
        ),
        ("postgres://db:5433/condo", Database("postgresql", "condo", "db", 5433)),
        (
            'custom:{"main": "postgresql://u@h:5432/a", "replica": "postgresql://u@h:5433/a"}',
            Database("postgresql", "a", "h", 5432, "u"),
        ),
        ("mongodb://localhost/main", None),
        ("postgresql://localhost", None),
        ("custom:{not json", None),
        ("postgresql://h:notaport/x", None),
    ],
)
def test_database_urls(url: str, expected: Database | None) -> None:
    assert knex.database_from_url(url) == expected


def test_the_environment_then_the_apps_env_then_the_roots(tmp_path: Path) -> None:
    (tmp_path / "apps/condo").mkdir(parents=True)
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://root@h/rootdb\n")
    found = knex.find_database(tmp_path, "apps/condo", {})
    assert (found.database and found.database.name, found.why) == ("rootdb", "DATABASE_URL in .env")
    (tmp_path / "apps/condo/.env").write_text(
        "# written by bin/prepare.js\nexport DATABASE_URL='postgresql://app@h/appdb'\n"
    )
    found = knex.find_database(tmp_path, "apps/condo", {})
    assert found.database and found.database.name == "appdb"
    assert found.why == "DATABASE_URL in apps/condo/.env"
    environ = {"DATABASE_URL": "postgresql://env@h/envdb"}
    found = knex.find_database(tmp_path, "apps/condo", environ)
    assert found.database and found.database.name == "envdb"
    environ["condo_DATABASE_URL"] = "postgresql://ns@h/nsdb"  # @open-condo/config's namespace
    assert knex.find_database(tmp_path, "apps/condo", environ).database == Database(
        "postgresql", "nsdb", "h", None, "ns"
    )


def test_no_database_url_says_where_it_looked(tmp_path: Path) -> None:
    found = knex.find_database(tmp_path, "apps/condo", {})
    assert found == (None, "no DATABASE_URL in the environment, apps/condo/.env or .env")


def test_applied_keys_follow_the_file_each_entry_lives_in() -> None:
    modules = {
        "0003_a": "apps/condo/migrations/20240103000000-0004_by_hand.js",
        "0003_b": "apps/condo/migrations/20240103000000-0004_by_hand.js",
        "0004_c": "apps/condo/migrations/20240104000000-0004_c.js",
    }
    files = ["20240103000000-0004_by_hand.js", "other.js"]
    assert knex.applied_keys("condo", modules, files) == {("condo", "0003_a"), ("condo", "0003_b")}

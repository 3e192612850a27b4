"""SQL built from the settings: a cache table named by `settings.CACHES` (issue 12).

A project that keeps a database cache creates its table in a migration,
named by the settings: `'CREATE TABLE "{}" (...)'.format(
settings.CACHES[settings.STATS_CACHE]['LOCATION'])`. The name was a value
the file does not tell, so every conflict holding it was unknown. Which
settings module runs is not in the tree; every settings module of the tree
a project may run with (one that assigns INSTALLED_APPS) is read, through
its imports: when all that hold the value agree, that is the table.
"""

from __future__ import annotations

from pathlib import Path

from migmerge.core.model import Operation
from tests.testing.projects import add_field, app_files, migration_text, only_operation
from tests.testing.repos import Files, assert_one_conflict, diverged

BASE = """\
import os

INSTALLED_APPS = ['django.contrib.contenttypes', 'stats']
STATS_CACHE = 'stats'
CACHES = {
    'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'},
    STATS_CACHE: {
        'BACKEND': 'django.core.cache.backends.db.DatabaseCache',
        'LOCATION': 'stats_cache_rows',
    },
}
"""

DEV = "from .base import *  # noqa\n\nINSTALLED_APPS += ['debug_toolbar']\n"

TABLE = """
CREATE TABLE "{}" (
    "cache_key" varchar(255) NOT NULL PRIMARY KEY,
    "value" text NOT NULL,
    "expires" timestamp with time zone NOT NULL
);
"""

CACHE_TABLE = (
    f"migrations.RunSQL([{TABLE!r}.format("
    "settings.CACHES[settings.STATS_CACHE]['LOCATION'])], "
    "['DROP TABLE \"{}\";'.format(settings.CACHES[settings.STATS_CACHE]['LOCATION'])]),"
)

MIGRATION = migration_text(
    "[('stats', '0001_initial')]", CACHE_TABLE, prelude="from django.conf import settings\n"
)


def _settings(base: str = BASE, dev: str = DEV) -> Files:
    files = app_files("stats", "0001_initial")
    files.update({"site/__init__.py": "", "site/settings/__init__.py": ""})
    files["site/settings/base.py"] = base
    files["site/settings/dev.py"] = dev
    return files


def _op(files: Files, migration: str = MIGRATION) -> Operation:
    return only_operation(migration, "stats", "0002_cache_table", files)


def test_the_table_named_by_the_settings_is_read() -> None:
    op = _op(_settings())
    assert (op.op, op.readable, op.tables) == ("RunSQL", True, ("stats_cache_rows",))


def test_a_dict_imported_from_a_settings_module_is_read_by_its_keys() -> None:
    imported = CACHE_TABLE.replace("settings.CACHES[settings.STATS_CACHE]", "CACHES['stats']")
    source = migration_text(
        "[('stats', '0001_initial')]", imported, prelude="from site.settings.base import CACHES\n"
    )
    op = _op(_settings(), source)
    assert (op.readable, op.tables) == (True, ("stats_cache_rows",))


def test_what_the_settings_do_not_tell_stays_unknown() -> None:
    location = "'LOCATION': 'stats_cache_rows'"
    variants = [
        # two settings modules that disagree, or one that changes the dict
        _settings(dev=DEV + "CACHES = {'stats': {'LOCATION': 'other_rows'}}\n"),
        _settings(dev=DEV + "CACHES['stats']['LOCATION'] = 'other_rows'\n"),
        _settings(base=BASE + "CACHES.update(EXTRA)\n"),
        # a value computed at run time, or keys that cannot be told
        _settings(base=BASE.replace(location, "'LOCATION': os.environ['TABLE']")),
        _settings(base=BASE.replace("    STATS_CACHE: {", "    os.environ['X']: {")),
        _settings(base=BASE.replace("CACHES = {", "CACHES = {**SHARED,")),
        # assigned only under an `if`, or taken from a module not in the tree
        _settings(base=BASE.replace("CACHES = {", "if os.environ:\n  CACHES = {")),
        _settings(dev="from company_settings import *\nINSTALLED_APPS = []\n"),
    ]
    for files in variants:
        op = _op(files)
        assert not op.readable, files
    # no settings module holds it
    files = _settings(base=BASE.replace("CACHES", "OTHER"))
    assert not _op(files).readable


def test_a_settings_module_that_lacks_the_key_does_not_decide() -> None:
    # a settings module that cannot run this migration (KeyError) is no other reading
    files = _settings()
    files["site/settings/tests.py"] = (
        "INSTALLED_APPS = ['stats']\nSTATS_CACHE = 'stats'\nCACHES = {}\n"
    )
    op = _op(files)
    assert (op.readable, op.tables) == (True, ("stats_cache_rows",))


def _conflict(root: Path, upstream_ops: str, overlap: str) -> None:
    local: Files = {"stats/migrations/0002_cache_table.py": MIGRATION}
    other = migration_text("[('stats', '0001_initial')]", upstream_ops)
    upstream: Files = {"stats/migrations/0002_other.py": other}
    diverged(root, _settings(), local, upstream)
    assert_one_conflict(root, "stats", ["0002_cache_table", "0002_other"], overlap)


def test_a_conflict_with_the_cache_table_migration_has_a_known_overlap(tmp_path: Path) -> None:
    _conflict(tmp_path / "repo", add_field("counter", "hits"), "none")

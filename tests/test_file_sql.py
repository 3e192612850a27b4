"""A RunSQL subclass of the repository that reads its SQL from a file (issue 12).

rapidpro's `InstallSQL("0042_msgs")` opens `<its folder>/0042_msgs.sql` in
`__init__`; about one conflict in ten there was `unknown` for that alone. The
`__init__` is read (never run) and the file taken from the same revision.
"""

from __future__ import annotations

from pathlib import Path

from migmerge.reading.parse import parse_migration
from tests.testing.projects import FileModules, add_field, app_files, migration_text
from tests.testing.repos import Files, assert_one_conflict, diverged

INSTALL_SQL = '''\
import os

from django.db.migrations import RunSQL


class InstallSQL(RunSQL):
    """Reads the SQL from the named file."""

    def __init__(self, filename, reverse=None):
        sql_path = os.path.join(os.path.dirname(__file__), "%s.sql" % filename)
        with open(sql_path) as sql_file:
            sql = sql_file.read()

        super().__init__(sql, reverse)
'''

PATHLIB_SQL = """\
from pathlib import Path

from django.db import migrations

HERE = Path(__file__).parent


class LoadSQL(migrations.RunSQL):
    def __init__(self, name):
        super(LoadSQL, self).__init__((HERE / "sql" / f"{name}.sql").read_text())
"""

TRIGGERS = """\
CREATE OR REPLACE FUNCTION polls_count() RETURNS TRIGGER AS $$
BEGIN
  UPDATE polls_choice SET votes = votes + 1 WHERE id = NEW.choice_id;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER polls_count_trg AFTER INSERT ON polls_vote
  FOR EACH ROW EXECUTE PROCEDURE polls_count();
"""


def _operations(migration: str, files: dict[str, str]):  # type: ignore[no-untyped-def]
    parsed = parse_migration(
        migration.encode(),
        app="polls",
        name="0002_x",
        path="polls/migrations/0002_x.py",
        modules=FileModules(files),  # type: ignore[arg-type]
    )
    assert parsed.operations is not None
    return parsed.operations


def test_the_sql_file_a_runsql_subclass_opens_is_read() -> None:
    migration = migration_text(
        "[('polls', '0001_initial')]",
        "InstallSQL('0002_triggers'), InstallSQL('0003_gone', reverse='SELECT 1'),",
        prelude="from proj.sql import InstallSQL",
    )
    files = {"proj/sql/__init__.py": INSTALL_SQL, "proj/sql/0002_triggers.sql": TRIGGERS}
    read, gone = _operations(migration, files)
    assert (read.op, read.readable) == ("InstallSQL", True)
    assert set(read.tables) == {"polls_choice", "polls_vote"}
    assert (gone.op, gone.readable) == ("InstallSQL", False)
    assert gone.note == (
        "InstallSQL (proj/sql/__init__.py) is a RunSQL that reads its SQL in __init__: "
        "it reads proj/sql/0003_gone.sql, not in the tree at this revision"
    )


def test_pathlib_and_a_module_level_folder_are_read_too() -> None:
    migration = migration_text(
        "[('polls', '0001_initial')]",
        "LoadSQL('triggers'),",
        prelude="from polls.migrations._sql import LoadSQL",
    )
    files = {
        "polls/migrations/_sql.py": PATHLIB_SQL,
        "polls/migrations/sql/triggers.sql": TRIGGERS,
    }
    (read,) = _operations(migration, files)
    assert read.readable and set(read.tables) == {"polls_choice", "polls_vote"}


def test_an_init_that_does_more_than_read_a_file_stays_unknown() -> None:
    looping = INSTALL_SQL.replace(
        "        with open(sql_path)",
        "        for _ in range(2):\n            pass\n        with open(sql_path)",
    )
    migration = migration_text(
        "[('polls', '0001_initial')]",
        "InstallSQL('0002_triggers'),",
        prelude="from proj.sql import InstallSQL",
    )
    files = {"proj/sql/__init__.py": looping, "proj/sql/0002_triggers.sql": TRIGGERS}
    (op,) = _operations(migration, files)
    assert not op.readable
    assert op.note is not None and "does more than read a file (line 11)" in op.note
    # A file outside the repository is never read.
    outside = INSTALL_SQL.replace('os.path.dirname(__file__), "%s.sql"', '"/etc", "%s.sql"')
    files["proj/sql/__init__.py"] = outside.replace('"/etc"', '"../../.."')
    (op,) = _operations(migration, files)
    assert not op.readable


def test_a_conflict_whose_sql_comes_from_files_has_a_known_overlap(tmp_path: Path) -> None:
    # rapidpro: a branch installs triggers from temba/sql/<name>.sql while the other
    # branch changes another model. Both replays read the file at the branch's revision.
    base = app_files("polls", "0001_initial")
    base["proj/__init__.py"] = ""
    base["proj/sql/__init__.py"] = INSTALL_SQL
    local: Files = {
        "proj/sql/0002_triggers.sql": TRIGGERS,
        "polls/migrations/0002_triggers.py": migration_text(
            "[('polls', '0001_initial')]",
            "InstallSQL('0002_triggers'),",
            prelude="from proj.sql import InstallSQL",
        ),
    }
    upstream: Files = {
        "polls/migrations/0002_owner.py": migration_text(
            "[('polls', '0001_initial')]", add_field("poll", "owner")
        ),
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    assert_one_conflict(root, "polls", ["0002_owner", "0002_triggers"], "none")

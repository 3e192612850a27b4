"""The guided rollback-and-regenerate, end to end on real projects, SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from migmerge.core.model import Conflict, Database
from migmerge.core.plans.regenerate import plan_regenerate
from migmerge.doing.prompts import ScriptedQuestioner
from migmerge.doing.regenerate import run_regenerate
from migmerge.errors import Refused, StepFailed
from migmerge.reading import analysis as check
from migmerge.reading.applied import applied_migrations
from migmerge.reading.config import Config
from migmerge.reading.project import find_database
from tests.testing.databases import pg_database, pg_settings
from tests.testing.projects import (
    AGE_INT,
    AGE_TEXT,
    applied_age_fork,
    django_conflicts,
    manage,
    parallel_branches,
    sqlite_rows,
)
from tests.testing.repos import git


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return applied_age_fork(tmp_path_factory.mktemp("regen"))


@pytest.fixture
def project(sqlite_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(sqlite_template, tmp_path / "proj", symlinks=True))


def polls_conflict(root: Path) -> tuple[check.Analysis, Conflict]:
    analysis = check.analyze(root)
    [conflict] = [c for c in analysis.result.conflicts if c.app == "polls"]
    return analysis, conflict


def migration_files(root: Path) -> dict[str, bytes]:
    folder = root / "polls" / "migrations"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.py"))}


def regenerate(
    root: Path, answers: list[object], database: Database | None
) -> tuple[list[str], ScriptedQuestioner]:
    analysis, conflict = polls_conflict(root)
    plan = plan_regenerate(analysis, conflict, database=database)
    said: list[str] = []
    questioner = ScriptedQuestioner(answers)
    run_regenerate(
        analysis, conflict, plan, questioner=questioner, out=said.append, database=database
    )
    return said, questioner


def assert_regenerated(root: Path) -> None:
    names = sorted(migration_files(root))
    assert "0002_upstream_age.py" in names  # the upstream one, untouched
    assert "0002_local_age.py" not in names  # the local one, regenerated
    assert "0003_fill_names.py" not in names
    [data] = [n for n in names if n.endswith("_fill_names.py")]
    assert data == "0004_fill_names.py"
    source = (root / "polls" / "migrations" / data).read_text()
    assert "RunPython(fill" in source and "0003_" in source
    assert django_conflicts(root) == {}
    manage(root, "makemigrations", "polls", "--check", "--dry-run")
    assert [c for c in check.analyze(root).result.conflicts if c.app == "polls"] == []


# Planning


def test_plan_lists_the_whole_sequence_and_keeps_the_data_migration(project: Path) -> None:
    analysis, conflict = polls_conflict(project)
    db = find_database(project, Config())
    plan = plan_regenerate(analysis, conflict, database=db)
    steps = [
        (a.action, a.path, " ".join(a.command[2:]) if a.command else None) for a in plan.actions
    ]
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"][0]
    assert local.applied is True
    assert steps[0][0] == "backup"
    [unapply] = [a for a in plan.actions if a.env]
    assert unapply.env == (("MIGMERGE_UNAPPLY", '[["polls", "0001_initial"]]'),)
    assert unapply.command is not None and unapply.command[2:4] == ("shell", "-c")
    assert "polls" not in unapply.command[4]  # data in the variable, never in the code
    deleted = [path for kind, path, _ in steps if kind == "delete"]
    assert deleted == ["polls/migrations/0002_local_age.py"]
    assert not any(kind == "write" for kind, _, _ in steps)  # no temporary joining migration
    assert ("run", None, "makemigrations polls --noinput") in steps
    assert ("run", None, "migrate") in steps
    assert ("run", None, "makemigrations polls --check --dry-run") in steps
    assert any("0003_fill_names" in w for w in plan.warnings)


def test_plan_refuses_when_no_leaf_is_local(tmp_path: Path) -> None:
    root = parallel_branches(tmp_path, AGE_TEXT, AGE_INT, merge=False)
    git(root, "checkout", "-q", "feature")
    # Copy upstream's migration in by hand, untracked: no merge, so no side can be told.
    upstream = git(root, "show", "main:polls/migrations/0002_userprofile_age.py")
    (root / "polls" / "migrations" / "0002_upstream_age.py").write_text(upstream)
    git(root, "branch", "-q", "-D", "main")
    analysis = check.analyze(root)
    conflict = analysis.result.conflicts[0]
    if any(leaf.side == "local" for leaf in conflict.leaves):
        pytest.skip("sides were told from the default branch")
    with pytest.raises(Refused):
        plan_regenerate(analysis, conflict, database=None)


# Running on SQLite


def test_regenerate_on_sqlite_end_to_end(project: Path) -> None:
    before = applied_migrations(Database("sqlite", str(project / "db.sqlite3")))
    assert before is not None and ("polls", "0003_fill_names") in before
    said, questioner = regenerate(project, [True, True], find_database(project, Config()))
    assert_regenerated(project)
    assert len(questioner.transcript) == 2
    assert questioner.transcript[0].startswith(
        """? Run MIGMERGE_UNAPPLY='[["polls", "0001_initial"]]' python manage.py shell -c """
    )
    assert questioner.transcript[1].startswith("? Run python manage.py migrate?")
    rows = sqlite_rows(project)
    assert ("polls", "0004_fill_names") in rows and ("polls", "0003_fill_names") not in rows
    assert any("database backed up to" in line for line in said)
    assert any(line.strip().startswith("to go back") for line in said)
    # The deletion of the old local migration is staged with the new files.
    staged = git(project, "ls-files", "polls/migrations").split()
    assert "polls/migrations/0002_local_age.py" not in staged
    assert "polls/migrations/0004_fill_names.py" in staged
    assert "polls/migrations/0003_alter_userprofile_age.py" in staged
    assert git(project, "diff", "--name-only", "--", "polls/migrations") == ""


def test_failure_half_way_restores_database_and_files(project: Path) -> None:
    rows, files = sqlite_rows(project), migration_files(project)
    index = git(project, "ls-files", "-s")

    def break_models(message: str) -> bool:
        # The rollback ran, files were deleted, makemigrations ran: now break the last migrate.
        (project / "polls" / "models.py").write_text("raise RuntimeError('broken on purpose')\n")
        return True

    with pytest.raises(StepFailed) as failed:
        regenerate(project, [True, break_models], find_database(project, Config()))
    assert "broken on purpose" in failed.value.message
    assert "restored" in failed.value.message
    assert sqlite_rows(project) == rows
    assert migration_files(project) == files
    assert git(project, "ls-files", "-s") == index


def test_declining_the_rollback_changes_nothing(project: Path) -> None:
    rows, files = sqlite_rows(project), migration_files(project)
    with pytest.raises(Refused):
        regenerate(project, [False], find_database(project, Config()))
    assert sqlite_rows(project) == rows
    assert migration_files(project) == files


# Running on PostgreSQL


@pytest.fixture
def pg_project(tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    with pg_database() as db:
        yield applied_age_fork(tmp_path, pg_settings(db)), db


@pytest.mark.postgres
def test_regenerate_on_postgres_end_to_end(pg_project: tuple[Path, Database]) -> None:
    root, db = pg_project
    assert find_database(root, Config(), load_settings=True) == db
    regenerate(root, [True, True], db)
    assert_regenerated(root)
    applied = applied_migrations(db) or frozenset()
    assert ("polls", "0004_fill_names") in applied


@pytest.mark.postgres
def test_failure_on_postgres_restores_the_database(pg_project: tuple[Path, Database]) -> None:
    root, db = pg_project
    before, files = applied_migrations(db), migration_files(root)
    breaker: Callable[[str], bool] = lambda _: (  # noqa: E731
        (root / "polls" / "models.py").write_text("raise RuntimeError('broken')\n") > 0
    )
    with pytest.raises(StepFailed):
        regenerate(root, [True, breaker], db)
    assert applied_migrations(db) == before
    assert migration_files(root) == files


# What the rollback drops, and a missing database file


def test_regenerate_names_the_data_it_drops_before_rolling_back(project: Path) -> None:
    from tests.testing.repos import run_migmerge

    with sqlite3.connect(project / "db.sqlite3") as conn:
        conn.execute("INSERT INTO polls_userprofile (name, age) VALUES ('ann', '7'), ('bo', '')")
    proc = run_migmerge(project, "resolve", "--strategy", "regenerate", "--yes")
    assert proc.returncode == 0, proc.stderr
    backups = project / ".git" / "migmerge" / "backups"
    assert (
        f"dropping the data in column polls_userprofile.age (2 rows): a backup of the database "
        f"goes to {backups} first"
    ) in proc.stdout.splitlines()
    # Each step is shown as it starts.
    assert "  running: run python manage.py makemigrations polls --noinput" in proc.stdout


def test_declining_to_drop_the_data_changes_nothing(project: Path) -> None:
    from migmerge.commands.drops import ask_to_drop

    questioner = ScriptedQuestioner([False])
    with pytest.raises(Refused, match=r"would drop the data in column polls_userprofile.age"):
        ask_to_drop(["column polls_userprofile.age (0 rows)"], "/b", False, questioner, print)
    assert questioner.transcript == [
        "? Rolling back drops the data in column polls_userprofile.age (0 rows). Drop it (a "
        "backup of the database goes to /b first)? [y/N] no"
    ]


def test_without_a_database_file_regenerate_skips_the_backup_and_says_so(project: Path) -> None:
    from tests.testing.repos import run_migmerge

    (project / "db.sqlite3").unlink()
    proc = run_migmerge(project, "resolve", "--strategy", "regenerate", "--yes")
    assert proc.returncode == 0, proc.stderr
    db = project / "db.sqlite3"
    assert f"  no database file at {db} yet: nothing to lose, no backup taken" in proc.stdout
    assert_regenerated(project)

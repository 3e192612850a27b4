"""Killed at any step, a resolution leaves the old state, the new one, or a journal --abort undoes.

One fast, deterministic case per strategy and signal, through the testing hook
MIGMERGE_FAULT (benchmarks/faults.py runs every point of every family).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.testing.benchmarks import faults
from tests.testing.projects import applied_age_fork
from tests.testing.repos import git, run_migmerge


@pytest.fixture(scope="module")
def files_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return faults.template("renumber", tmp_path_factory.mktemp("faults-files"))


@pytest.fixture(scope="module")
def regen_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return applied_age_fork(tmp_path_factory.mktemp("faults-regen"))


def family(template: Path, tmp_path: Path, strategy: str, signal: str, chosen: list) -> None:
    new = faults.reference(template, tmp_path, strategy)
    tried, held, failures = faults.run_family(template, tmp_path, strategy, signal, chosen, new)
    assert failures == []
    assert tried == held and tried > 0


@pytest.mark.parametrize("strategy", ["merge", "renumber", "keep-names"])
def test_a_kill_at_every_step_of_a_file_strategy_is_recoverable(
    files_template: Path, tmp_path: Path, strategy: str
) -> None:
    family(files_template, tmp_path, strategy, "KILL", faults.points(12, ["before", "after"]))


def test_sigterm_puts_everything_back_at_once(files_template: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(files_template, tmp_path / "proj", symlinks=True))
    old = faults.state(root)
    proc = run_migmerge(
        root, "resolve", "--strategy", "renumber", "--yes", env={"MIGMERGE_FAULT": "after:2:TERM"}
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == (
        "migmerge: after step 2: stopped by SIGTERM; restored: files "
        "audit/migrations/0002_before_choice.py, polls/migrations/0002_choice.py\n"
    )
    assert faults.state(root) == old
    assert not faults.journal(root).parent.exists()


def test_a_kill_during_regenerate_is_recoverable(regen_template: Path, tmp_path: Path) -> None:
    # After the backup, after the unapply (the database changed), after makemigrations.
    chosen = [("after", 1), ("after", 2), ("before", 5), ("after", 6)]
    family(regen_template, tmp_path, "regenerate", "KILL", chosen)


def test_check_names_the_unfinished_resolution_and_resolve_refuses(
    regen_template: Path, tmp_path: Path
) -> None:
    root = Path(shutil.copytree(regen_template, tmp_path / "proj", symlinks=True))
    proc = run_migmerge(
        root, "resolve", "--strategy", "regenerate", "--yes", env={"MIGMERGE_FAULT": "after:2"}
    )
    assert proc.returncode == -9
    journal = root / ".git" / "migmerge" / "journal"
    check = run_migmerge(root, "check")
    assert check.returncode == 1
    first = check.stdout.splitlines()[0]
    assert first.startswith("migmerge: an unfinished migmerge resolve (regenerate polls, started ")
    assert first.endswith(
        f") left its journal in {journal}: run migmerge resolve --abort to put everything "
        "back as it was, or migmerge resolve --continue to finish it"
    )
    doc = json.loads(run_migmerge(root, "check", "--format", "json").stdout)
    assert doc["unfinished"]["journal"] == str(journal)
    assert doc["unfinished"]["what"] == "regenerate polls"
    again = run_migmerge(root, "resolve", "--yes")
    assert again.returncode == 1
    assert "unfinished migmerge resolve (regenerate polls" in again.stderr
    assert "--abort" in again.stderr and "--continue" in again.stderr
    resumed = run_migmerge(root, "resolve", "--continue")
    assert resumed.returncode == 0, resumed.stderr
    assert "aborted regenerate polls: restored: database " in resumed.stdout
    assert "polls: regenerated; one leaf" in resumed.stdout
    assert not journal.exists()
    assert run_migmerge(root, "check").returncode == 0
    assert "polls/migrations/0004_fill_names.py" in git(root, "ls-files")


def test_a_stale_index_lock_never_stops_the_database_restore(
    regen_template: Path, tmp_path: Path
) -> None:
    root = Path(shutil.copytree(regen_template, tmp_path / "proj", symlinks=True))
    old = faults.state(root)
    proc = run_migmerge(
        root, "resolve", "--strategy", "regenerate", "--yes", env={"MIGMERGE_FAULT": "after:3"}
    )
    assert proc.returncode == -9
    lock = root / ".git" / "index.lock"
    lock.write_text("")
    abort = run_migmerge(root, "resolve", "--abort")
    assert abort.returncode == 1, abort.stderr
    assert "restored: database " in abort.stderr  # the database first, whatever git says
    assert "NOT restored: the index (" in abort.stderr
    assert f"if no git command is running, remove {lock}" in abort.stderr
    assert "then run migmerge resolve --abort again" in abort.stderr
    assert faults.state(root).database == old.database
    lock.unlink()
    again = run_migmerge(root, "resolve", "--abort")
    assert again.returncode == 0, again.stderr
    assert faults.state(root) == old
    assert not faults.journal(root).parent.exists()


def test_a_second_resolve_waits_then_refuses(files_template: Path, tmp_path: Path) -> None:
    from migmerge.doing.lock import resolve_lock

    root = Path(shutil.copytree(files_template, tmp_path / "proj", symlinks=True))
    with resolve_lock(root):
        proc = run_migmerge(root, "resolve", "--strategy", "merge", "--yes")
    assert proc.returncode == 1
    lock = root / ".git" / "migmerge" / "resolve.lock"
    assert proc.stderr == (
        f"migmerge: another migmerge resolve is running in this repository (process {os.getpid()}; "
        f"lock {lock}); waited 5 s: let it finish, then run migmerge resolve again\n"
    )
    assert run_migmerge(root, "resolve", "--strategy", "merge", "--yes").returncode == 0


@pytest.mark.parametrize(
    "vendor",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_a_kill_after_the_unapply_is_undone_on_a_server(tmp_path: Path, vendor: str) -> None:
    from migmerge.reading.applied import applied_migrations
    from tests.testing.databases import maria_database, maria_settings, pg_database, pg_settings

    database, settings = (
        (pg_database, pg_settings) if vendor == "postgres" else (maria_database, maria_settings)
    )
    with database() as db:
        root = applied_age_fork(tmp_path, settings(db))
        before = applied_migrations(db)
        assert before is not None and ("polls", "0003_fill_names") in before
        proc = run_migmerge(
            root, "resolve", "--strategy", "regenerate", "--yes",
            env={"MIGMERGE_FAULT": "after:2"},
        )  # fmt: skip
        assert proc.returncode == -9, proc.stderr
        assert applied_migrations(db) != before  # the unapply ran
        abort = run_migmerge(root, "resolve", "--abort")
        assert abort.returncode == 0, abort.stderr
        assert f"restored: database {db.describe()} from " in abort.stdout
        assert applied_migrations(db) == before

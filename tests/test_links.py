"""resolve never writes through a link leading out of the repository (issue 11, item 12).

A committed `max_migration.txt` that links outside, an untracked migration that
links outside and an app folder linked outside were written through by merge,
renumber and keep-names: each is now a refusal (exit 1) that names the link,
and what lies outside keeps its bytes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from migmerge.core.plan import Action, Plan
from migmerge.doing.apply import apply_plan
from migmerge.errors import Refused
from tests.testing.projects import add_field, app_files, migration_text
from tests.testing.repos import commit_all, diverged, git, init_repo, run_migmerge

STRATEGIES = {
    "merge": ("--strategy", "merge"),
    # --force: no database here, so whether 0002_mine is applied is unknown.
    "renumber": ("--strategy", "renumber", "--force"),
    "keep-names": ("--strategy", "renumber", "--keep-names", "--force"),
}
OUTSIDE = b"someone else's file\n"


def forked(root: Path) -> Path:
    """polls with 0002_mine on feature and 0002_theirs on main, merged (feature checked out)."""
    base = app_files("polls", "0001_initial")
    mine = {"polls/migrations/0002_mine.py": migration_text("[('polls', '0001_initial')]")}
    theirs = migration_text("[('polls', '0001_initial')]", add_field("thing", "theirs"))
    diverged(root, base, mine, {"polls/migrations/0002_theirs.py": theirs})
    return root


def merged(root: Path) -> None:
    git(root, "merge", "-q", "--no-edit", "main")


def refused(root: Path, args: tuple[str, ...], strategy: str, link: str) -> None:
    before = git(root, "status", "--porcelain", "--untracked-files=all")
    why = f"polls: refusing to write through a link out of the repository: {link}"
    hint = "replace the link with the file or folder it points to, then retry"
    proc = run_migmerge(root, "resolve", "--yes", *args, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == f"migmerge: {why}\nhint: {hint}\n"
    proc = run_migmerge(root, "resolve", "--yes", "--dry-run", *args, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == (
        f"polls: {strategy} would be refused\n  why: {why}\n  hint: {hint}\n"
        "dry run: nothing changed; refused: polls\n"
    )
    assert git(root, "status", "--porcelain", "--untracked-files=all") == before


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_max_migration_txt_linked_outside_is_never_written(tmp_path: Path, strategy: str) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(OUTSIDE)
    root = forked(tmp_path / "repo")
    git(root, "checkout", "-q", "main")
    os.symlink(outside, root / "polls" / "migrations" / "max_migration.txt")
    commit_all(root, "max_migration.txt, django-linear-migrations style")
    git(root, "checkout", "-q", "feature")
    merged(root)
    shown = "merge" if strategy == "merge" else "renumber"
    link = f"polls/migrations/max_migration.txt -> {outside}"
    refused(root, STRATEGIES[strategy], shown, link)
    assert outside.read_bytes() == OUTSIDE


@pytest.mark.parametrize("strategy", ["renumber", "keep-names"])
def test_an_untracked_migration_linked_outside_is_never_edited(
    tmp_path: Path, strategy: str
) -> None:
    outside = tmp_path / "0003_more.py"
    outside.write_text(migration_text("[('polls', '0002_mine')]"))
    kept = outside.read_bytes()
    root = forked(tmp_path / "repo")
    merged(root)
    os.symlink(outside, root / "polls" / "migrations" / "0003_more.py")
    # A link out of the repository is not followed when reading either, so it is
    # no migration of the branch, and nothing resolve does writes through it.
    proc = run_migmerge(root, "resolve", "--yes", *STRATEGIES[strategy], timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    assert outside.read_bytes() == kept
    assert (root / "polls" / "migrations" / "0003_more.py").is_symlink()


def test_a_merge_migration_is_never_written_into_an_app_folder_linked_outside(
    tmp_path: Path,
) -> None:
    root = forked(tmp_path / "repo")
    merged(root)
    elsewhere = tmp_path / "elsewhere"
    (root / "polls").rename(elsewhere)
    os.symlink(elsewhere, root / "polls")
    listing = sorted(p.name for p in (elsewhere / "migrations").iterdir())
    proc = run_migmerge(root, "resolve", "--yes", "--strategy", "merge", timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in (elsewhere / "migrations").iterdir()) == listing


# check: an untracked migration that is a link


def leaves(root: Path) -> list[str]:
    proc = run_migmerge(root, "check", "--format", "json", timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    document = json.loads(proc.stdout)
    return sorted(leaf["name"] for c in document["conflicts"] for leaf in c["leaves"])


def test_check_reports_an_untracked_migration_linked_outside_and_never_reads_it(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "0003_more.py"
    outside.write_text(migration_text("[('polls', '0002_mine')]"))
    root = forked(tmp_path / "repo")
    merged(root)
    os.symlink(outside, root / "polls" / "migrations" / "0003_more.py")
    proc = run_migmerge(root, "check", "--format", "json", timeout=120)
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    [warning] = [w for w in document["warnings"] if w["kind"] == "link-outside-repository"]
    assert warning["path"] == "polls/migrations/0003_more.py"
    assert "leads out of the repository: not read" in warning["message"]
    # Not read: had it been, 0003_more would be the local leaf instead of 0002_mine.
    assert leaves(root) == ["0002_mine", "0002_theirs"]
    text = run_migmerge(root, "check", timeout=120)
    assert (
        "warning: polls/migrations/0003_more.py is a symbolic link that leads out of the "
        "repository: not read"
    ) in text.stdout


def test_check_follows_an_untracked_migration_linked_inside_as_django_does(
    tmp_path: Path,
) -> None:
    root = forked(tmp_path / "repo")
    merged(root)
    (root / "drafts").mkdir()
    (root / "drafts" / "0003_more.py").write_text(migration_text("[('polls', '0002_mine')]"))
    os.symlink("../../drafts/0003_more.py", root / "polls" / "migrations" / "0003_more.py")
    assert leaves(root) == ["0002_theirs", "0003_more"]


# The executor: a link planted between the plan and the write


def planted(tmp_path: Path) -> tuple[Path, Path]:
    """A repository with polls/migrations/0002_x.py, and a folder outside it."""
    root = init_repo(tmp_path / "repo")
    (root / "polls" / "migrations").mkdir(parents=True)
    (root / "polls" / "migrations" / "0002_x.py").write_bytes(b"# x\n")
    commit_all(root, "base")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "0002_x.py").write_bytes(OUTSIDE)
    return root, outside


def outside_bytes(outside: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(outside.iterdir())}


def plan_of(*actions: Action) -> Plan:
    return Plan("renumber", "polls", actions)


EDIT = Action("edit", "rewire", path="polls/migrations/0002_x.py", content=b"# edited\n")
WRITE = Action("write", "merge", path="polls/migrations/0003_merge.py", content=b"# merge\n")
RENAME = Action(
    "rename", "renumber", path="polls/migrations/0002_x.py", target="polls/migrations/0004_x.py"
)
DELETE = Action("delete", "regenerate", path="polls/migrations/0002_x.py")


def link_file(root: Path, outside: Path) -> str:
    """0002_x.py becomes a link to the file outside."""
    (root / "polls" / "migrations" / "0002_x.py").unlink()
    os.symlink(outside / "0002_x.py", root / "polls" / "migrations" / "0002_x.py")
    return f"polls/migrations/0002_x.py -> {outside / '0002_x.py'}"


def link_folder(root: Path, outside: Path) -> str:
    """polls/migrations becomes a link to the folder outside."""
    shutil.rmtree(root / "polls" / "migrations")
    os.symlink(outside, root / "polls" / "migrations")
    return f"polls/migrations -> {outside}"


@pytest.mark.parametrize(
    ("action", "plant"),
    [
        (EDIT, link_file),
        (EDIT, link_folder),
        (WRITE, link_folder),
        (RENAME, link_folder),
        (DELETE, link_folder),
    ],
    ids=["edit-file", "edit-folder", "write-folder", "rename-folder", "delete-folder"],
)
def test_the_executor_refuses_a_link_planted_after_the_plan(
    tmp_path: Path, action: Action, plant: Callable[[Path, Path], str]
) -> None:
    root, outside = planted(tmp_path)
    plan = plan_of(action)  # made while every path was a plain file or folder
    link = plant(root, outside)
    before = outside_bytes(outside)
    with pytest.raises(Refused) as refused:
        apply_plan(root, plan, out=lambda _: None)
    assert f"refusing to write through a link out of the repository: {link}" in str(
        refused.value.message
    )
    assert outside_bytes(outside) == before  # nothing written, renamed or deleted out there
    assert not (root / ".git" / "migmerge" / "journal").exists()


def test_the_executor_writes_through_a_link_that_stays_inside(tmp_path: Path) -> None:
    root, _ = planted(tmp_path)
    (root / "shared").mkdir()
    (root / "shared" / "0002_x.py").write_bytes(b"# x\n")
    (root / "polls" / "migrations" / "0002_x.py").unlink()
    os.symlink("../../shared/0002_x.py", root / "polls" / "migrations" / "0002_x.py")
    apply_plan(root, plan_of(EDIT), out=lambda _: None)
    assert (root / "shared" / "0002_x.py").read_bytes() == b"# edited\n"
    assert (root / "polls" / "migrations" / "0002_x.py").is_symlink()


# regenerate: the plan checks links, and so does the executor when it runs


def test_regenerate_refuses_a_link_out_at_plan_time_and_at_write_time(tmp_path: Path) -> None:
    from migmerge.core.plans.regenerate import plan_regenerate
    from migmerge.doing.regenerate import run_regenerate
    from migmerge.reading.analysis import analyze
    from migmerge.reading.config import Config
    from migmerge.reading.project import find_database
    from tests.testing.projects import applied_age_fork, sqlite_rows

    root = applied_age_fork(tmp_path / "fork")
    kept = root / "polls" / "migrations" / "0003_fill_names.py"  # edited, then set aside
    outside = tmp_path / "0003_fill_names.py"
    outside.write_bytes(kept.read_bytes())
    analysis = analyze(root)
    [conflict] = analysis.result.conflicts
    database = find_database(root, Config())
    plan = plan_regenerate(analysis, conflict, database=database)
    rows = sqlite_rows(root)

    # Planted between reading and planning: the plan is refused.
    kept.unlink()
    os.symlink(outside, kept)
    with pytest.raises(Refused, match="refusing to write through a link out of the repository"):
        plan_regenerate(analysis, conflict, database=database)

    # Planted between planning and running: the executor refuses at the write.
    with pytest.raises(Refused) as refused:
        run_regenerate(analysis, conflict, plan, questioner=None, out=print, database=database)
    assert "polls/migrations/0003_fill_names.py -> " in refused.value.message
    assert outside.read_bytes().count(b"0002_local_age") == 1  # its dependency, never edited
    assert sqlite_rows(root) == rows  # the rollback before the write was undone
    assert kept.is_symlink()


def test_an_undo_puts_back_a_link_and_the_file_it_leads_to(tmp_path: Path) -> None:
    import sys

    from migmerge.errors import StepFailed

    root, _ = planted(tmp_path)
    (root / "shared").mkdir()
    (root / "shared" / "0002_x.py").write_bytes(b"# x\n")
    link = root / "polls" / "migrations" / "0002_x.py"
    link.unlink()
    os.symlink("../../shared/0002_x.py", link)
    fail = Action("run", "fails", command=(sys.executable, "-c", "raise SystemExit(3)"))
    with pytest.raises(StepFailed):
        apply_plan(root, plan_of(EDIT, fail), out=lambda _: None)
    assert (root / "shared" / "0002_x.py").read_bytes() == b"# x\n"
    assert link.is_symlink() and os.readlink(link) == "../../shared/0002_x.py"

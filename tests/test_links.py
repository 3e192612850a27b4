"""resolve never writes through a link leading out of the repository (issue 11, item 12).

A committed `max_migration.txt` that links outside, an untracked migration that
links outside and an app folder linked outside were written through by merge,
renumber and keep-names: each is now a refusal (exit 1) that names the link,
and what lies outside keeps its bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.testing.projects import add_field, app_files, migration_text
from tests.testing.repos import commit_all, diverged, git, run_migmerge

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

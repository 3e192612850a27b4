"""A restore that cannot complete says what is where and how to finish (issue 11, item 3).

Real faults, not mocks: a SQLite database file or folder made immutable
(`chattr +i` as root, whose writes ignore file modes; `chmod` otherwise), a
full disk (a small tmpfs, filled), and a file-size limit (RLIMIT_FSIZE: every
write past it fails with EFBIG). Each leaves exit 1 (never 3), the words of
what was and was not restored, and the journal, until `migmerge resolve --abort`
is run again once the fault is gone and puts back exactly the old state.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.testing.benchmarks import faults
from tests.testing.projects import applied_age_fork
from tests.testing.repos import PYTHON, run_migmerge

REGENERATE = ("resolve", "--strategy", "regenerate", "--yes")


@pytest.fixture(scope="module")
def regen_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return applied_age_fork(tmp_path_factory.mktemp("restore-regen"))


@pytest.fixture(scope="module")
def files_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return faults.template("renumber", tmp_path_factory.mktemp("restore-files"))


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file or folder unwritable for everyone, root included, for the block."""
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"cannot make {path} immutable here: {made.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    mode = path.stat().st_mode
    path.chmod(mode & ~0o222)
    try:
        yield
    finally:
        path.chmod(mode)


def killed(template: Path, tmp_path: Path, args: tuple[str, ...], point: str) -> Path:
    """A copy of the template where resolve was killed at `point`, its journal left."""
    root = Path(shutil.copytree(template, tmp_path / "proj", symlinks=True))
    proc = run_migmerge(root, *args, env={"MIGMERGE_FAULT": point})
    assert proc.returncode == -9, proc.stdout + proc.stderr
    assert faults.journal(root).exists()
    return root


def finished_by_running_abort_again(root: Path, old: object) -> None:
    again = run_migmerge(root, "resolve", "--abort")
    assert again.returncode == 0, again.stdout + again.stderr
    assert faults.state(root) == old
    assert not faults.journal(root).parent.exists()


# A read-only database during the restore


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_database_is_said_with_how_to_restore_it_by_hand(
    regen_template: Path, tmp_path: Path, what: str
) -> None:
    old = faults.state(Path(regen_template))
    # After step 3: the rollback ran (the database changed) and a migration was deleted.
    root = killed(regen_template, tmp_path, REGENERATE, "after:3")
    db = root / "db.sqlite3"
    backups = sorted((root / ".git" / "migmerge" / "backups").iterdir())
    with read_only(db if what == "file" else root):
        abort = run_migmerge(root, "resolve", "--abort")
        check = run_migmerge(root, "check")
    assert abort.returncode == 1, abort.stdout + abort.stderr
    assert "internal error" not in abort.stderr
    words = abort.stderr
    assert "restored: files polls/migrations/0002_local_age.py" in words  # the files still
    assert f"NOT restored: database {db} (cannot write {db}: " in words
    assert f"the backup is {backups[-1]}: restore it by hand with cp {backups[-1]} {db}" in words
    assert f"the journal stays in {root / '.git' / 'migmerge' / 'journal'}" in words
    assert "then run migmerge resolve --abort again" in words
    assert check.returncode == 1 and "an unfinished migmerge resolve" in check.stdout
    assert faults.state(root).database != old.database  # still rolled back: nothing pretended
    finished_by_running_abort_again(root, old)


# A full disk during the restore


@contextmanager
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs mounted for the test (root only; skipped where mounting is not allowed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte; return the file to delete to free it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    with pytest.raises(OSError):
        (disk / "one-more").write_bytes(b"x" * 4096)
    return filler


def assert_files_not_restored(words: str, root: Path) -> None:
    assert "internal error" not in words
    assert "NOT restored: files " in words
    assert "polls/migrations/0002_choice.py (" in words
    assert f"their original bytes are in {faults.journal(root)}" in words
    assert "then run migmerge resolve --abort again" in words


def test_a_full_disk_during_the_restore_keeps_the_journal_until_it_can_finish(
    files_template: Path, tmp_path: Path
) -> None:
    old = faults.state(Path(files_template))
    with small_disk(tmp_path) as disk:
        # Killed after 3 steps of the renumber: files renamed and edited, half-applied.
        root = killed(
            files_template, disk, ("resolve", "--strategy", "renumber", "--yes"), "after:3"
        )
        filler = fill(disk)
        abort = run_migmerge(root, "resolve", "--abort")
        assert abort.returncode == 1, abort.stdout + abort.stderr
        assert_files_not_restored(abort.stderr, root)
        assert "No space left on device" in abort.stderr
        assert faults.journal(root).exists()  # never half-applied without a journal
        assert run_migmerge(root, "check").returncode == 1
        filler.unlink()
        finished_by_running_abort_again(root, old)


def test_a_full_disk_before_the_first_change_changes_nothing(
    files_template: Path, tmp_path: Path
) -> None:
    old = faults.state(Path(files_template))
    with small_disk(tmp_path) as disk:
        root = Path(shutil.copytree(files_template, disk / "proj", symlinks=True))
        filler = fill(disk)
        proc = run_migmerge(root, "resolve", "--strategy", "renumber", "--yes")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "before the first step failed: cannot write the undo journal in " in proc.stderr
        assert "(No space left on device); nothing needed restoring" in proc.stderr
        assert "hint: free some space" in proc.stderr
        filler.unlink()
        assert faults.state(root) == old
        assert not faults.journal(root).parent.exists()


def test_a_file_size_limit_during_the_restore_is_said_the_same_way(
    files_template: Path, tmp_path: Path
) -> None:
    """No root needed: RLIMIT_FSIZE makes every write past 256 bytes fail (EFBIG)."""
    old = faults.state(Path(files_template))
    root = killed(
        files_template, tmp_path, ("resolve", "--strategy", "renumber", "--yes"), "after:3"
    )

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (256, 256))

    argv = [PYTHON, "-m", "migmerge", "resolve", "--abort"]  # as run_migmerge, but limited
    abort = subprocess.run(argv, cwd=root, capture_output=True, text=True, preexec_fn=limit)
    assert abort.returncode == 1, abort.stdout + abort.stderr
    assert_files_not_restored(abort.stderr, root)
    assert "File too large" in abort.stderr
    assert "; the index (git update-index --force-remove" in abort.stderr
    assert "failed: killed by SIGXFSZ" in abort.stderr  # git, writing its index past the limit
    assert faults.journal(root).exists()
    lock = root / ".git" / "index.lock"
    if lock.exists():  # git was killed by SIGXFSZ writing the index: its lock stays
        again = run_migmerge(root, "resolve", "--abort")
        assert again.returncode == 1
        assert f"if no git command is running, remove {lock}" in again.stderr
        lock.unlink()
    finished_by_running_abort_again(root, old)

"""Put back what a journal recorded: the database first, then the files, then the index.

Each part is restored on its own, so a part that cannot be (a stale
`.git/index.lock`, a full disk, a read-only database) never stops the others,
and the database is never left behind because a file could not be written.
What could not be restored is said exactly, with how to finish by hand, and
the journal stays so `migmerge resolve --abort` can be run again.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from migmerge.core.model import Database
from migmerge.doing import database as db_module
from migmerge.doing.journal import Journal, index_records
from migmerge.errors import MigmergeError
from migmerge.reading import git


@dataclass
class Undone:
    """What a restore did, and what it could not do, in words."""

    restored: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # What nothing can restore (no backup was taken): said, but no reason to keep the journal.
    lost: list[str] = field(default_factory=list)

    def words(self) -> str:
        """ "restored: ..." and, when something failed, what is left to do by hand."""
        done = "restored: " + ", ".join(self.restored) if self.restored else ""
        done = done or ("nothing restored" if self.failed else "nothing needed restoring")
        done += "".join(f"; {lost}" for lost in self.lost)
        if not self.failed:
            return done
        return f"{done}; NOT restored: {'; '.join(self.failed)}"


def undo(journal: Journal, database: Database | None, touched: bool | None = None) -> Undone:
    """Restore database, files and index from the journal; remove it when all are back."""
    result = Undone()
    if touched if touched is not None else journal.database_touched():
        _database(journal, database or journal.database, result)
    _files(journal, result)
    _index(journal, result)
    if result.failed:
        result.failed.append(
            f"the journal stays in {journal.folder}: fix the above, then run "
            "migmerge resolve --abort again"
        )
    else:
        journal.finish()
    return result


def _database(journal: Journal, database: Database | None, result: Undone) -> None:
    """The database from the backup the transaction took."""
    if database is None:
        result.failed.append("the database (migmerge could not tell which one it is)")
        return
    if journal.backup is None:
        result.lost.append(
            f"database {database.describe()} NOT restored: no backup was taken, so what the "
            "steps changed in it stays"
        )
        return
    backup = Path(journal.backup)
    try:
        db_module.restore(database, backup)
    except (MigmergeError, OSError) as exc:
        reason = exc.message if isinstance(exc, MigmergeError) else str(exc)
        how = db_module.restore_command(database, backup)
        result.failed.append(
            f"database {database.describe()} ({reason.strip()}); the backup is {backup}: "
            f"restore it by hand with {how}"
        )
        return
    result.restored.append(f"database {database.describe()} from {backup}")


def _files(journal: Journal, result: Undone) -> None:
    """Every journaled file's bytes and mode; files new in journaled folders removed."""
    changed, failed = [], []
    for path in journal.new_files():
        try:
            (journal.root / path).unlink()
            changed.append(path)
        except OSError as exc:
            failed.append(f"{path} (made by the resolution; {exc.strerror}): delete it")
    for path, (content, mode) in journal.files.items():
        try:
            if _put(journal.root / path, content, mode):
                changed.append(path)
        except OSError as exc:
            failed.append(f"{path} ({exc.strerror})")
    if changed:
        result.restored.append("files " + ", ".join(dict.fromkeys(changed)))
    if failed:
        result.failed.append(
            f"files {', '.join(failed)}: their original bytes are in {journal.folder}/undo.json"
        )


def _put(file: Path, content: bytes | None, mode: int | None) -> bool:
    """Make one file (or link) as it was; True when something had to change."""
    if content is not None and mode is not None and stat.S_ISLNK(mode):
        return _put_link(file, os.fsdecode(content))
    if content is None:
        if file.is_file() or file.is_symlink():
            file.unlink()
            return True
        return False
    if file.is_file() and not file.is_symlink() and file.read_bytes() == content:
        if mode is not None and file.stat().st_mode != mode:
            file.chmod(mode)
        return False
    file.parent.mkdir(parents=True, exist_ok=True)
    if file.is_symlink():
        file.unlink()  # never write through a link
    temporary = file.with_name(f".{file.name}.migmerge-restore")
    temporary.write_bytes(content)
    if mode is not None:
        temporary.chmod(mode)
    os.replace(temporary, file)
    return True


def _put_link(file: Path, target: str) -> bool:
    """Make the symbolic link as it was (never writing through whatever is there now)."""
    if file.is_symlink() and os.readlink(file) == target:
        return False
    if file.is_symlink() or file.is_file():
        file.unlink()
    file.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, file)
    return True


def _index(journal: Journal, result: Undone) -> None:
    """The index records of every journaled path that changed (git mv, git rm, git add)."""
    paths = sorted({*journal.index, *journal.files})
    if not paths:
        return
    try:
        now = index_records(journal.root, paths)
        changed = [p for p in paths if sorted(now.get(p, ())) != sorted(journal.index.get(p, ()))]
        if not changed:
            return
        git.git_run(journal.root, "update-index", "--force-remove", "--", *changed)
        records = "".join(f"{r}\n" for path in changed for r in journal.index.get(path, ()))
        if records:
            git.git_bytes(journal.root, "update-index", "--index-info", input=records.encode())
    except MigmergeError as exc:
        lock = git.find_repo(journal.root).git_dir / "index.lock"
        hint = f"if no git command is running, remove {lock}" if lock.exists() else "fix it"
        result.failed.append(f"the index ({exc.message.strip()}): {hint}")

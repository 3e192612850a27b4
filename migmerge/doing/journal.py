"""The one undo journal: what a transaction may change, on disk before the first change.

Kept in `<git-dir>/migmerge/journal/` like git's own sequencer state:

- `undo.json`: every touched file's original bytes and mode (or its absence),
  their index records, the folders journaled whole (makemigrations writes files
  no plan can name ahead: a file in such a folder that the journal does not
  know did not exist), the plans, the database and its backup. Written to a
  temporary file, fsync'd and renamed over the old one, before the first step
  of each plan that adds paths.
- `steps`: one JSON line appended (and fsync'd) as each step starts and ends.
- `about.json`: the small summary `reading.unfinished` shows.

The folder is removed only when the transaction is done or undone, so a
process killed at any moment leaves the old state, the new state, or a journal
that `migmerge resolve --abort` undoes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migmerge.core.model import Database
from migmerge.errors import Refused, StepFailed
from migmerge.reading import git
from migmerge.reading.unfinished import ABOUT, UNDO, find_unfinished, journal_dir

STEPS = "steps"


@dataclass
class Journal:
    """The undo record of one transaction (working state: it grows as plans are added)."""

    root: Path
    folder: Path
    what: str
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))
    folders: list[str] = field(default_factory=list)
    files: dict[str, tuple[bytes | None, int | None]] = field(default_factory=dict)
    index: dict[str, list[str]] = field(default_factory=dict)
    plans: list[list[str]] = field(default_factory=list)
    database: Database | None = None
    backup: str | None = None
    written: bool = False
    # The resolve flags that made the plans, so `--continue` can make them again.
    again: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def begin(
        cls, root: Path, what: str, database: Database | None, again: dict[str, Any] | None = None
    ) -> Journal:
        """Start a journal; refuse while an unfinished one is there."""
        git_dir = git.find_repo(root).git_dir
        unfinished = find_unfinished(git_dir)
        if unfinished is not None:
            raise Refused(unfinished.sentence())
        folder = journal_dir(git_dir)
        shutil.rmtree(folder, ignore_errors=True)  # a journal killed before its first change
        return cls(root, folder, what, database=database, again=dict(again or {}))

    # Recording ---------------------------------------------------------------

    def add(self, paths: Iterable[str], folders: Sequence[str], plan: Sequence[str]) -> None:
        """Remember paths and whole folders as they are now (first sight wins), then sync."""
        new_folders = [f for f in folders if f not in self.folders]
        in_folders = _files_in(self.root, new_folders)
        self.folders += new_folders
        paths = [*paths, *_link_targets(self.root, [*in_folders, *paths])]
        fresh = [p for p in dict.fromkeys([*in_folders, *paths]) if p not in self.files]
        # A path in a folder journaled earlier that the journal does not know was absent then.
        fresh_now = [p for p in fresh if p in in_folders or not self._in_old_folder(p, new_folders)]
        for path in fresh:
            self.files[path] = _state(self.root / path) if path in fresh_now else (None, None)
        for path, records in index_records(self.root, [*new_folders, *fresh_now]).items():
            self.index.setdefault(path, records)
        for path in fresh_now:
            self.index.setdefault(path, [])
        self.plans.append(list(plan))
        self.write()

    def _in_old_folder(self, path: str, new_folders: Sequence[str]) -> bool:
        folder = path.rpartition("/")[0]
        return folder in self.folders and folder not in new_folders

    def write(self) -> None:
        """Write undo.json and about.json durably (temporary file, fsync, rename, fsync folder)."""
        about = {"what": self.what, "started": self.started, "pid": os.getpid()}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _durable(self.folder / ABOUT, json.dumps(about).encode())
            _durable(self.folder / UNDO, json.dumps(self._document()).encode())
        except OSError as exc:  # a full disk, a read-only git directory
            raise StepFailed(
                f"cannot write the undo journal in {self.folder} ({exc.strerror})",
                hint=f"free some space or make {self.folder.parent} writable, then run "
                "migmerge resolve again",
            ) from exc
        self.written = True

    def note_backup(self, backup: Path) -> None:
        """Record where the database backup is, as soon as it exists."""
        self.backup = str(backup)
        self.write()

    def step(self, event: str, number: int, description: str, database: bool = False) -> None:
        """Append one step event ("start", "done") to the steps log, synced."""
        line = json.dumps({"event": event, "step": number, "what": description, "db": database})
        with open(self.folder / STEPS, "ab") as handle:
            handle.write(line.encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())

    def finish(self) -> None:
        """The transaction is done (or undone): the journal goes."""
        shutil.rmtree(self.folder, ignore_errors=True)

    # Reading back ------------------------------------------------------------

    def _document(self) -> dict[str, Any]:
        return {
            "version": 1,
            "what": self.what,
            "started": self.started,
            "folders": self.folders,
            "files": {
                path: {"content": _b64(content), "mode": mode}
                for path, (content, mode) in self.files.items()
            },
            "index": self.index,
            "plans": self.plans,
            "database": None if self.database is None else _database_json(self.database),
            "backup": self.backup,
            "again": self.again,
        }

    @classmethod
    def load(cls, root: Path) -> Journal | None:
        """The unfinished journal of the repository, or None."""
        git_dir = git.find_repo(root).git_dir
        folder = journal_dir(git_dir)
        if not (folder / UNDO).is_file():
            return None
        doc = json.loads((folder / UNDO).read_bytes())
        files = {
            path: (None if item["content"] is None else base64.b64decode(item["content"]),
                   item["mode"])
            for path, item in doc["files"].items()
        }  # fmt: skip
        database = doc.get("database")
        return cls(
            root,
            folder,
            doc["what"],
            doc["started"],
            list(doc["folders"]),
            files,
            {path: list(records) for path, records in doc["index"].items()},
            [list(plan) for plan in doc["plans"]],
            None if database is None else Database(**database),
            doc.get("backup"),
            written=True,
            again=dict(doc.get("again") or {}),
        )

    def events(self) -> list[dict[str, Any]]:
        """The steps log, up to the last whole line (a kill may cut the last one)."""
        try:
            raw = (self.folder / STEPS).read_bytes()
        except FileNotFoundError:
            return []
        found = []
        for line in raw.splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                break
        return found

    def database_touched(self) -> bool:
        """True when a step that changes the database started (it may have changed it)."""
        return any(e["event"] == "start" and e.get("db") for e in self.events())

    def new_files(self) -> list[str]:
        """Files now in the journaled folders that did not exist before (makemigrations')."""
        return [
            path
            for path in _files_in(self.root, self.folders)
            if self.files.get(path, (None, None))[0] is None
        ]


def _database_json(db: Database) -> dict[str, Any]:
    """The database without its password (it is read again from the settings when needed)."""
    return {"vendor": db.vendor, "name": db.name, "host": db.host, "port": db.port, "user": db.user}


def _b64(content: bytes | None) -> str | None:
    return None if content is None else base64.b64encode(content).decode("ascii")


def _durable(path: Path, content: bytes) -> None:
    """Replace `path` with `content` so that a crash leaves the old or the new file, never half."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _state(path: Path) -> tuple[bytes | None, int | None]:
    """A file's bytes and mode; (None, None) when it is absent.

    A symbolic link is recorded as itself (its target, and a link's mode), never
    read through: an undo makes the link again.
    """
    if path.is_symlink():
        return os.fsencode(os.readlink(path)), path.lstat().st_mode
    if not path.is_file():
        return None, None
    return path.read_bytes(), path.stat().st_mode


def _link_targets(root: Path, paths: Sequence[str]) -> list[str]:
    """The files that links among `paths` lead to inside the repository (written through)."""
    inside = os.path.realpath(root)
    found = []
    for path in paths:
        if os.path.islink(root / path):
            real = os.path.realpath(root / path)
            if real.startswith(inside + os.sep):
                found.append(os.path.relpath(real, inside).replace(os.sep, "/"))
    return found


def _files_in(root: Path, folders: Sequence[str]) -> list[str]:
    """Files directly in the folders (not __pycache__), repository-relative."""
    found = []
    for folder in folders:
        base = root / folder
        if base.is_dir():
            found += [f"{folder}/{p.name}" for p in sorted(base.iterdir()) if p.is_file()]
    return found


def index_records(root: Path, paths: Sequence[str]) -> dict[str, list[str]]:
    """Path -> its raw `git ls-files -s` records (one per stage)."""
    if not paths:
        return {}
    raw = git.git_bytes(root, "ls-files", "-s", "-z", "--", *paths)
    records: dict[str, list[str]] = {}
    for record in raw.decode("utf-8", "surrogateescape").split("\0"):
        if record:
            records.setdefault(record.partition("\t")[2], []).append(record)
    return records

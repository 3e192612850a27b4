"""Read kmigrator migration files (condo and other Keystone projects): entries, views, names.

kmigrator (condo's `bin/kmigrator.py`) keeps Django migrations inside knex
migration files. A file `<YYYYmmddHHMMSS>-<migration name>.js` in an app's
`migrations/` folder holds:

- one or more lines `// KMIGRATOR:<name>:<base64>`, each one Django
  migration of the app `_django_schema`: `<name>` is the migration's name
  (the module kmigrator writes as `<name>.py`; it runs to the line's last
  colon), the payload is the migration's Python source, base64 without line
  breaks. The file's name and the name in the line may differ (hand-made
  files: `-00100_x.js` holding `0100_x`); the line is what counts;
- since kmigrator 1.7 (February 2026), a line
  `// KMIGRATOR_VIEWS:<name>:<base64>`: the JSON state of the analytics
  views after that migration (`{"dv": 1, "lists": {...}}`); kmigrator diffs
  against the state of the line whose name has the highest number;
- `exports.up` / `exports.down`, the SQL knex runs (`knex.raw`). knex
  records each applied file by its file name (with `.js`) in the `name`
  column of `knex_migrations`, and orders files by name.

kmigrator reads every file of the folder as UTF-8 text with universal
newlines (CRLF and a lone CR end a line too). A line counts when it starts
with the prefix, has a colon after the name, and nothing but base64
characters after that last colon; any other line is skipped, among them
`// KMIGRATOR:<name>` without payload, condo's mark for hand-written SQL
migrations (Bare here). This module reads the bytes the same way, never runs
anything, and reports what kmigrator would skip or fail on as Damaged
records instead of raising: a bad payload, an empty name or payload, a name
repeated in the file (kmigrator keeps the last), a file that is not UTF-8 or
holds git's conflict markers.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

APP_LABEL = "_django_schema"  # the app every decoded migration's dependencies name
MIGRATION_PREFIX = b"// KMIGRATOR:"
VIEWS_PREFIX = b"// KMIGRATOR_VIEWS:"

_MARK = b"// KMIGRATOR"
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_FILE_NAME = re.compile(r"(\d+)([-_])(.+)\.js")
_CANONICAL = re.compile(r"\d{14}-\d{4,}_.+\.js")


class Entry(NamedTuple):
    """One `// KMIGRATOR:<name>:<base64>` line: a Django migration."""

    name: str
    source: bytes  # the decoded Python source
    line: int  # 1-based, counting line breaks as kmigrator does
    start: int  # byte offset of the line's first byte
    end: int  # byte offset just past its last byte, before the line break


class Views(NamedTuple):
    """One `// KMIGRATOR_VIEWS:<name>:<base64>` line: the analytics views' state."""

    name: str
    state: bytes  # the decoded JSON text, not parsed
    line: int
    start: int
    end: int


class Bare(NamedTuple):
    """A `// KMIGRATOR:<name>` line without payload: kmigrator skips it (hand-written SQL)."""

    name: str
    line: int
    start: int
    end: int


class Damaged(NamedTuple):
    """A line (or the file: `line` 0) that kmigrator would skip or fail on."""

    kind: str  # "migration", "views" or "file"
    name: str | None
    line: int
    start: int
    end: int
    reason: str


class Decoded(NamedTuple):
    """Everything kmigrator reads in one file."""

    entries: tuple[Entry, ...]
    views: tuple[Views, ...]
    bare: tuple[Bare, ...]
    damaged: tuple[Damaged, ...]


class Change(NamedTuple):
    """What re-encoding does to one entry: a new name, a new source, or both."""

    name: str | None = None
    source: bytes | None = None


class FileName(NamedTuple):
    """A migration file's name split into its parts."""

    timestamp: str  # the leading digits: 14 when kmigrator wrote it
    separator: str  # "-" when kmigrator wrote it
    migration: str  # what follows, without ".js": the first entry's name when generated

    @property
    def canonical(self) -> bool:
        """Tell whether kmigrator itself could have written this name."""
        name = f"{self.timestamp}{self.separator}{self.migration}.js"
        return _CANONICAL.fullmatch(name) is not None


class _Line(NamedTuple):
    views: bool
    name: bytes
    payload: bytes | None  # None: no colon after the name
    line: int
    start: int
    end: int


def is_migration_file(path: str) -> bool:
    """Tell whether `path` (with `/`) names a kmigrator migration file: `migrations/<digits>-*.js`.

    kmigrator itself reads every file of the folder and knex runs every `.js`
    file in it, so any other file there (`.DS_Store`) is a stray to warn about.
    """
    folder, _, name = path.rpartition("/")
    return folder.rpartition("/")[2] == "migrations" and parse_file_name(name) is not None


def folders(paths: Iterable[str]) -> set[str]:
    """Return the folders that hold kmigrator migration files, among `paths`."""
    found: set[str] = set()
    for path in paths:
        # The cheap tests first: a tree may hold tens of thousands of paths.
        if path.endswith(".js") and "migrations/" in path:
            folder = path.rpartition("/")[0]
            if folder not in found and is_migration_file(path):
                found.add(folder)
    return found


def parse_file_name(name: str) -> FileName | None:
    """Split a file name `<digits><- or _><rest>.js`; None for any other name."""
    match = _FILE_NAME.fullmatch(name)
    return FileName(match[1], match[2], match[3]) if match else None


def decode(data: bytes) -> Decoded:
    """Decode every KMIGRATOR and KMIGRATOR_VIEWS line of a file's bytes."""
    entries: list[Entry] = []
    views: list[Views] = []
    bare: list[Bare] = []
    damaged = _file_problems(data)
    for found in _lines(data):
        record = _read_line(found)
        if isinstance(record, Entry):
            entries.append(record)
        elif isinstance(record, Views):
            views.append(record)
        elif isinstance(record, Bare):
            bare.append(record)
        else:
            damaged.append(record)
    damaged += _shadowed(entries)
    return Decoded(tuple(entries), tuple(views), tuple(bare), tuple(damaged))


def _file_problems(data: bytes) -> list[Damaged]:
    """Return what makes the whole file unreadable: not UTF-8, or git's conflict markers."""
    problems = []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 (byte {error.start}): kmigrator stops with UnicodeDecodeError"
        problems.append(Damaged("file", None, 0, 0, 0, reason))
    if _at_line_start(data, b"<<<<<<<") and _at_line_start(data, b">>>>>>>"):
        reason = "holds git's conflict markers: a merge conflict was left unresolved"
        problems.append(Damaged("file", None, 0, 0, 0, reason))
    return problems


def _at_line_start(data: bytes, text: bytes) -> bool:
    """Tell whether some line of `data` starts with `text`."""
    start = data.find(text)
    while start > 0 and data[start - 1] not in b"\r\n":
        start = data.find(text, start + 1)
    return start >= 0


def _shadowed(entries: list[Entry]) -> list[Damaged]:
    """Report entries that a later line of the same name replaces (kmigrator keeps the last)."""
    last = {entry.name: entry for entry in entries}
    return [
        Damaged("migration", e.name, e.line, e.start, e.end, _shadow_reason(last[e.name]))
        for e in entries
        if last[e.name] is not e
    ]


def _shadow_reason(last: Entry) -> str:
    """Say which line hides an earlier one of the same name."""
    return f"line {last.line} has the same name: kmigrator reads only the last one"


def _lines(data: bytes) -> Iterator[_Line]:
    """Yield each KMIGRATOR line's parts, split at its last colon as kmigrator's regex does."""
    for start, views in _marks(data):
        body = start + len(VIEWS_PREFIX if views else MIGRATION_PREFIX)
        end = _line_end(data, body)
        rest = data[body:end]
        colon = rest.rfind(b":")
        name, payload = (rest, None) if colon < 0 else (rest[:colon], rest[colon + 1 :])
        yield _Line(views, name, payload, _line_number(data, start), start, end)


def _line_end(data: bytes, start: int) -> int:
    """Return the offset of the first CR or LF from `start`, or the end of `data`."""
    ends = [end for end in (data.find(b"\n", start), data.find(b"\r", start)) if end >= 0]
    return min(ends, default=len(data))


def _marks(data: bytes) -> Iterator[tuple[int, bool]]:
    """Yield (offset, is views line) of each line starting with a KMIGRATOR prefix."""
    # bytes.find is a hundred times faster than a regex with a look-behind over 10 kB payloads.
    start = data.find(_MARK)
    while start >= 0:
        if start == 0 or data[start - 1] in b"\r\n":
            if data.startswith(MIGRATION_PREFIX, start):
                yield start, False
            elif data.startswith(VIEWS_PREFIX, start):
                yield start, True
        start = data.find(_MARK, start + len(_MARK))


def _line_number(data: bytes, start: int) -> int:
    """Return the 1-based line number of the line starting at `start` (CRLF, LF, lone CR)."""
    crlf = data.count(b"\r\n", 0, start)
    return data.count(b"\n", 0, start) + data.count(b"\r", 0, start) - crlf + 1


def _read_line(found: _Line) -> Entry | Views | Bare | Damaged:
    """Turn one line into its record, or say why kmigrator would not read it."""
    name = found.name.decode("utf-8", "replace")
    if found.payload is None:
        if found.views:
            return _damaged(found, name, "no ':' before a payload: kmigrator skips this line")
        return Bare(name, found.line, found.start, found.end)
    problem = _line_problem(found, name)
    if problem:
        return _damaged(found, name, problem)
    try:
        payload = base64.b64decode(found.payload)  # not strict: what kmigrator accepts
    except (binascii.Error, ValueError) as error:
        return _damaged(found, name, f"bad base64 ({error}): kmigrator fails on this line")
    if found.views:
        return Views(name, payload, found.line, found.start, found.end)
    return Entry(name, payload, found.line, found.start, found.end)


def _line_problem(found: _Line, name: str) -> str | None:
    """Return why a line with a payload is not one kmigrator reads, or None."""
    assert found.payload is not None
    if found.payload.translate(None, _BASE64):  # what is left is not base64
        return "the payload after the last ':' is not base64: kmigrator skips this line"
    if not name:
        return "no migration name"
    if not found.payload:
        return "empty payload: kmigrator would read nothing for it"
    if found.views and not name.split("_")[0].isdigit():
        return "the name has no leading number: kmigrator's makemigrations fails on it"
    return None


def _damaged(found: _Line, name: str, reason: str) -> Damaged:
    """Build the record of a line that cannot be read."""
    kind = "views" if found.views else "migration"
    return Damaged(kind, name or None, found.line, found.start, found.end, reason)

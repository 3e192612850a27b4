"""What `check` derived before, kept by what it was derived from: never stale.

Four caches, all keyed by exact inputs, so an entry cannot go stale:

- HeaderCache: migration headers by blob id. A blob id names exact bytes: a
  changed file is a new blob and is read again. Only plain makemigrations
  headers (what `headers.fast_header_fields` reads) are kept; anything unusual
  is parsed on every run.
- KmigratorCache: what a kmigrator `.js` file holds (each KMIGRATOR entry's
  name and header, and what kmigrator would skip), by blob id, so the names
  of a condo app's migrations are known without reading its files.
- ParseCache: a conflicting branch's migrations read whole (operations,
  what their code reaches, what could not be read), by blob id, app, name,
  path and settings, each with what its parse found of the repository's
  other modules, checked again before it is believed (reading/parsed.py);
  the file is stamped with the migmerge code and the Python that parsed.
- ResultMemo: what the migration graph made of a whole tree (labels, leaves,
  branches, warnings), by the tree's signature: every package's files and
  their blob ids (or bytes, for files git has not stored), the settings that
  steer the graph, and the migmerge code that computed it. An unchanged tree
  checked again skips the headers and the graph altogether.

They live under the user's cache folder, never inside the repository:
`check` writes nothing there.

    MIGMERGE_CACHE_DIR   where the files go (default: $XDG_CACHE_HOME/migmerge,
                         else ~/.cache/migmerge)
    MIGMERGE_NO_CACHE=1  neither read nor write it

Deleting the folder is always safe. Any error reading or writing it is
ignored: the cache only ever saves time. Each file carries a checksum of
what it holds: a file damaged or edited by hand is a miss, never believed.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migmerge.reading.files import read_regular

if TYPE_CHECKING:
    from typing_extensions import Self

    from migmerge.reading.headers import HeaderFields

    # Per file: ((entry name, header fields or None when the fast reader
    # declined, CRC-32 of the decoded source), ...), ((line, name or None,
    # reason), ...) for what kmigrator would skip or fail on (line 0: the
    # whole file), and how many lines start with a KMIGRATOR mark (0: not a
    # kmigrator file).
    KmigratorFacts = tuple[
        tuple[tuple[str, HeaderFields | None, int], ...],
        tuple[tuple[int, str | None, str], ...],
        int,
    ]

# Bump when headers.fast_header_fields changes what it returns for the same bytes.
FORMAT = 2
# Bump when kmigrator.decode or the header fields change what a kmigrator file gives.
KMIGRATOR_FORMAT = 1
# Bump when what reading/parsed.py stores changes shape (the code stamp covers the rest).
PARSE_FORMAT = 1
# What a cache file starts with: the format, then a checksum and the length of the rest.
_MAGIC = b"migmerge-cache-%d\n" % FORMAT
# Results kept per repository: the full tree's and a few hooks' parts of it.
MEMO_ENTRIES = 8
# Past this many entries, a save keeps only what the run used.
MAX_ENTRIES = 100_000
# An entry takes about 80 bytes and loads ten times faster than a migration
# is read: a cache file up to this many bytes per wanted header pays off.
BYTES_PER_FILE_READ = 800


class _BlobCache:
    """blob sha -> what was read from that blob, loaded once, saved once when it grew."""

    KIND = "blobs"
    FORMAT = FORMAT
    BYTES_PER_WANTED = BYTES_PER_FILE_READ
    MAX_ENTRIES = MAX_ENTRIES

    def __init__(self, file: Path | None, entries: dict[str, Any]) -> None:
        self.file = file
        self.entries = entries
        self.used: set[str] = set()
        self.added = 0

    @classmethod
    def open(cls, repository: Path, wanted: int) -> Self:
        """Return the cache of `repository` (its root), for reading `wanted` blobs.

        Loading costs about a tenth of reading a file for every entry, so a
        cache far bigger than the job (a whole repository's, when `--against`
        or a hook wants a few folders) is left alone: neither read nor written.
        """
        folder = cache_folder()
        if folder is None:
            return cls(None, {})
        file = folder / f"{cls.KIND}-{_repository_id(repository)}-v{cls.FORMAT}.marshal"
        try:
            size = file.stat().st_size
        except OSError:
            size = 0
        if size > cls.BYTES_PER_WANTED * wanted:
            return cls(None, {})
        return cls(file, _load_entries(file) if size else {})

    def _tuple(self, sha: str, length: int) -> Any | None:
        """The entry of `sha` when it is a tuple of `length` items, else None."""
        value = self.entries.get(sha)
        if type(value) is not tuple or len(value) != length:
            return None  # absent, or a damaged file's debris
        self.used.add(sha)
        return value

    def _put(self, sha: str, value: Any) -> None:
        self.entries[sha] = value
        self.used.add(sha)
        self.added += 1

    def save(self) -> None:
        """Write the cache back when this run added to it; never raise."""
        if self.file is None or not self.added:
            return
        entries = self.entries
        if len(entries) > self.MAX_ENTRIES:
            entries = {sha: entries[sha] for sha in self.used if sha in entries}
        _write(self.file, entries)


class HeaderCache(_BlobCache):
    """blob sha -> header fields of a migration module."""

    KIND = "headers"

    def get(self, sha: str) -> HeaderFields | None:
        fields: HeaderFields | None = self._tuple(sha, 2)
        return fields

    def put(self, sha: str, fields: HeaderFields) -> None:
        self._put(sha, fields)


class KmigratorCache(_BlobCache):
    """blob sha -> what a kmigrator file holds: each entry's name and header, its damage."""

    KIND = "kmigrator"
    FORMAT = KMIGRATOR_FORMAT

    def get(self, sha: str) -> KmigratorFacts | None:
        facts: KmigratorFacts | None = self._tuple(sha, 3)
        return facts

    def put(self, sha: str, facts: KmigratorFacts) -> None:
        self._put(sha, facts)


class ParseCache(_BlobCache):
    """A migration's key (blob id, app, name, path, settings) -> its whole parse, stamped.

    What an entry holds is reading/parsed.py's to say and to check; here it
    is only kept. The entry under STAMP names the code and the Python that
    parsed: a file stamped otherwise is read as empty.
    """

    KIND = "parses"
    FORMAT = PARSE_FORMAT
    # A parse costs about 0.5 ms, loading an entry of a few hundred bytes a few
    # microseconds: a file this many bytes per wanted parse still pays off.
    BYTES_PER_WANTED = 50_000
    # Branches come and go: past this many entries a save keeps what the run used.
    MAX_ENTRIES = 10_000
    STAMP = ""

    @classmethod
    def stamped(cls, repository: Path, wanted: int, stamp: str) -> ParseCache:
        """Return the cache of `repository` for `wanted` parses by the code `stamp` names."""
        cache = cls.open(repository, wanted)
        if cache.entries.get(cls.STAMP) != stamp:
            cache.entries = {}
        cache.entries[cls.STAMP] = stamp
        cache.used.add(cls.STAMP)
        return cache

    def get(self, key: str) -> tuple[Any, Any] | None:
        entry: tuple[Any, Any] | None = self._tuple(key, 2)
        return entry

    def put(self, key: str, entry: tuple[Any, Any]) -> None:
        self._put(key, entry)


class ResultMemo:
    """Tree signature -> what the graph made of it, one file per signature.

    The file's name holds a checksum of the signature and the file holds the
    signature itself, compared in full: two trees never share an entry. The
    newest MEMO_ENTRIES files of a repository are kept.
    """

    def __init__(self, folder: Path | None, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix

    @classmethod
    def open(cls, repository: Path, kind: str = "graph") -> ResultMemo:
        """Return the memo of `repository` for one kind of result ("graph"; "doctor")."""
        return cls(cache_folder(), f"{kind}-{_repository_id(repository)}-v{FORMAT}-")

    def get(self, signature: str) -> Any | None:
        """Return what was stored for exactly `signature`, or None."""
        file = self._file(signature)
        if file is None:
            return None
        stored = _load(file)
        if type(stored) is not tuple or len(stored) != 2 or stored[0] != signature:
            return None  # absent, damaged, or another tree with the same checksum
        with contextlib.suppress(OSError):
            os.utime(file)  # recently used: pruned last
        return stored[1]

    def put(self, signature: str, outcome: Any) -> None:
        """Store `outcome` for `signature` and prune old entries; never raise."""
        file = self._file(signature)
        if file is None or not _write(file, (signature, outcome)):
            return
        with contextlib.suppress(OSError):
            mine = [p for p in file.parent.iterdir() if p.name.startswith(self.prefix)]
            mine.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
            for old in mine[MEMO_ENTRIES:]:
                old.unlink(missing_ok=True)

    def _file(self, signature: str) -> Path | None:
        if self.folder is None:
            return None
        checksum = zlib.crc32(signature.encode("utf-8", "surrogatepass"))
        return self.folder / f"{self.prefix}{checksum:08x}-{len(signature):x}.marshal"


def cache_folder() -> Path | None:
    """Return where cache files go, or None when caching is off."""
    if os.environ.get("MIGMERGE_NO_CACHE", "") not in ("", "0"):
        return None
    return user_folder()


def user_folder() -> Path:
    """The user's own migmerge folder: MIGMERGE_CACHE_DIR, else the XDG cache folder's."""
    configured = os.environ.get("MIGMERGE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "migmerge"


def _repository_id(repository: Path) -> str:
    return f"{zlib.crc32(str(repository).encode()):08x}"


def _load_entries(file: Path) -> dict[str, Any]:
    entries = _load(file)
    return entries if isinstance(entries, dict) else {}


def _load(file: Path) -> Any:
    """Return what `file` holds, or None when it is missing, damaged or edited."""
    data = read_regular(file)  # a FIFO put in the cache folder must not hang a check
    if data is None:
        return None
    head = len(_MAGIC) + 12
    if not data.startswith(_MAGIC) or len(data) < head:
        return None  # another format, or not a cache file at all
    checksum = int.from_bytes(data[len(_MAGIC) : len(_MAGIC) + 4], "big")
    length = int.from_bytes(data[len(_MAGIC) + 4 : head], "big")
    payload = data[head:]
    if len(payload) != length or zlib.crc32(payload) != checksum:
        return None  # torn, damaged or edited: start over
    try:
        return marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None


def _write(file: Path, value: Any) -> bool:
    """Write `value` to `file` atomically (a reader sees the old or the new file)."""
    temporary = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    try:
        payload = marshal.dumps(value)
        head = _MAGIC + zlib.crc32(payload).to_bytes(4, "big") + len(payload).to_bytes(8, "big")
        file.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(head + payload)
        os.replace(temporary, file)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return False
    return True

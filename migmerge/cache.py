"""Migration headers already read, by blob id: a hook never reads a file twice.

A blob id names exact bytes, so an entry cannot go stale: a changed file is
a new blob and is read again. Only plain makemigrations headers (what
`parse.fast_header_fields` reads) are kept; anything unusual is parsed on
every run. The cache lives under the user's cache folder, one file per
repository, never inside the repository: `check` writes nothing there.

    MIGMERGE_CACHE_DIR   where the files go (default: $XDG_CACHE_HOME/migmerge,
                         else ~/.cache/migmerge)
    MIGMERGE_NO_CACHE=1  neither read nor write it

Deleting the folder is always safe. Any error reading or writing it is
ignored: the cache only ever saves time.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import zlib
from pathlib import Path

from migmerge.parse import HeaderFields

# Bump when parse.fast_header_fields changes what it returns for the same bytes.
FORMAT = 1
# Past this many entries, a save keeps only what the run used.
MAX_ENTRIES = 100_000
# An entry takes about 80 bytes and loads ten times faster than a migration
# is read: a cache file up to this many bytes per wanted header pays off.
BYTES_PER_FILE_READ = 800


class HeaderCache:
    """blob sha -> header fields, loaded once, saved once when it grew."""

    def __init__(self, file: Path | None, entries: dict[str, HeaderFields]) -> None:
        self.file = file
        self.entries = entries
        self.used: set[str] = set()
        self.added = 0

    @classmethod
    def open(cls, repository: Path, wanted: int) -> HeaderCache:
        """Return the cache of `repository` (its root), for reading `wanted` headers.

        Loading costs about a tenth of reading a file for every entry, so a
        cache far bigger than the job (a whole repository's, when `--against`
        or a hook wants a few folders) is left alone: neither read nor written.
        """
        folder = cache_folder()
        if folder is None:
            return cls(None, {})
        name = f"headers-{zlib.crc32(str(repository).encode()):08x}-v{FORMAT}.marshal"
        file = folder / name
        try:
            size = file.stat().st_size
        except OSError:
            size = 0
        if size > BYTES_PER_FILE_READ * wanted:
            return cls(None, {})
        return cls(file, _load(file) if size else {})

    def get(self, sha: str) -> HeaderFields | None:
        fields = self.entries.get(sha)
        if type(fields) is not tuple or len(fields) != 2:
            return None  # absent, or a damaged file's debris
        self.used.add(sha)
        return fields

    def put(self, sha: str, fields: HeaderFields) -> None:
        self.entries[sha] = fields
        self.used.add(sha)
        self.added += 1

    def save(self) -> None:
        """Write the cache back when this run added to it; never raise."""
        if self.file is None or not self.added:
            return
        entries = self.entries
        if len(entries) > MAX_ENTRIES:
            entries = {sha: entries[sha] for sha in self.used}
        temporary = self.file.with_name(f"{self.file.name}.{os.getpid()}.tmp")
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(marshal.dumps(entries))
            os.replace(temporary, self.file)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


def cache_folder() -> Path | None:
    """Return where cache files go, or None when caching is off."""
    if os.environ.get("MIGMERGE_NO_CACHE", "") not in ("", "0"):
        return None
    configured = os.environ.get("MIGMERGE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "migmerge"


def _load(file: Path) -> dict[str, HeaderFields]:
    try:
        data = file.read_bytes()
    except OSError:
        return {}
    try:
        entries = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return {}  # torn or foreign: start over
    return entries if isinstance(entries, dict) else {}

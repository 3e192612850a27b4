"""Read a file only when it is a regular file: never block on a FIFO, never read a device.

Whatever a repository (or a cache folder) holds at a path is read through
here: a FIFO named like a migration would make `open()` wait for a writer
forever, a link to /dev/zero would read until memory runs out.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

# Never wait on what only looks like a file (a FIFO swapped in after the stat).
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
# No migration, settings module or cache file is this big: more is not read.
MAX_BYTES = 256 << 20


def read_regular(path: Path | str) -> bytes | None:
    """The bytes of a regular file (through links); None for anything else or too big."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def link_out(root: Path, path: str, *, follow_last: bool = True) -> str | None:
    """The link by which writing `path` (relative to root) would leave the repository, or None.

    `follow_last`: the file itself is written through (an edit, a write); else
    only its folder is (a rename or a delete moves or removes the link itself).
    Said as `link -> target`; a link that stays inside the repository is fine.
    """
    parts = path.split("/") if follow_last else path.split("/")[:-1]
    inside = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, *parts))
    if real == inside or real.startswith(inside + os.sep):
        return None
    for end in range(1, len(parts) + 1):
        step = os.path.join(root, *parts[:end])
        if os.path.islink(step):
            return f"{'/'.join(parts[:end])} -> {os.readlink(step)}"
    return "/".join(parts)


def links_out(root: Path, writes: Iterable[tuple[str, bool]]) -> list[str]:
    """Every link out of the repository that these writes would follow: (path, follow_last)."""
    found = (link_out(root, path, follow_last=last) for path, last in writes)
    return sorted({link for link in found if link is not None})

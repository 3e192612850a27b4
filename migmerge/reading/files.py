"""Read a file only when it is a regular file: never block on a FIFO, never read a device.

Whatever a repository (or a cache folder) holds at a path is read through
here: a FIFO named like a migration would make `open()` wait for a writer
forever, a link to /dev/zero would read until memory runs out.
"""

from __future__ import annotations

import os
import stat
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

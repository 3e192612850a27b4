"""One resolution at a time: a lock file in the git directory.

`fcntl.flock` on `<git-dir>/migmerge/resolve.lock`: the kernel releases it when
the holder exits, however it exits (kill -9 included), so a lock is never
stale. A second `resolve` waits briefly, then refuses naming the holder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from migmerge.errors import Refused, StepFailed
from migmerge.reading import git

WAIT_SECONDS = 5.0


@contextmanager
def resolve_lock(root: Path, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the repository's resolve lock; Refused when another resolve keeps it past `wait`."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one at a time is not enforced there
        yield
        return
    path = git.find_repo(root).git_dir / "migmerge" / "resolve.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:  # a full disk, a read-only git directory
        raise StepFailed(
            f"cannot take the resolve lock {path}: {exc.strerror}; nothing was changed",
            hint=f"free some space or make {path.parent} writable, then run migmerge resolve again",
        ) from exc
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Refused(_busy(fd, path, wait)) from None
                time.sleep(0.1)
        with suppress(OSError):  # who holds it, for the message: not needed to hold it
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _busy(fd: int, path: Path, wait: float) -> str:
    """Say who holds the lock."""
    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    return (
        f"another migmerge resolve is running in this repository (process {holder}; lock "
        f"{path}); waited {wait:g} s: let it finish, then run migmerge resolve again"
    )

"""At write time, never follow a link out of the repository.

The plans are checked for links when they are made (`core.plans.merge.refuse_links_out`),
but a link can be planted between the plan and the write: the executor looks
again just before each write, rename and delete, and writes a file by its
resolved path, opened without following a last link.
"""

from __future__ import annotations

import os
from pathlib import Path

from migmerge.errors import Refused
from migmerge.reading.files import link_out

# No link followed at the last step: the resolved path was checked, a link swapped in is refused.
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)


def refuse_link_out(root: Path, path: str, *, follow_last: bool) -> None:
    """Refuse (exit 1) when writing `path` would go through a link leading out of the repository.

    `follow_last`: the file itself is written (write, edit); else only its folder is
    (a rename or a delete moves or removes the link itself).
    """
    found = link_out(root, path, follow_last=follow_last)
    if found is not None:
        raise Refused(
            f"refusing to write through a link out of the repository: {found} (it was not "
            "there when the plan was made)",
            hint="replace the link with the file or folder it points to, then run "
            "migmerge resolve again",
        )


def write_inside(root: Path, path: str, content: bytes) -> None:
    """Write `path`'s bytes through links that stay inside the repository, never out of it."""
    refuse_link_out(root, path, follow_last=True)
    real = Path(os.path.realpath(root / path))
    real.parent.mkdir(parents=True, exist_ok=True)
    refuse_link_out(root, path, follow_last=True)  # the folders made: look once more
    fd = os.open(real, _WRITE_FLAGS, 0o666)
    with os.fdopen(fd, "wb") as file:
        file.write(content)

"""Models files still holding merge conflict markers, found while a merge or rebase is under way.

`makemigrations` on such a file fails or, worse, reads half of each side;
resolving migrations before the models are resolved builds on sand. Only the
apps whose migrations are in the tree are looked at, only their `models.py`
or `models/*.py`, and only where the working tree changed them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from migmerge.core.model import Warning
from migmerge.reading.snapshot import DISK, Snapshot

_OPEN = re.compile(rb"^<{7}(?: |\r?$)", re.MULTILINE)
_CLOSE = re.compile(rb"^>{7}(?: |\r?$)", re.MULTILINE)


def conflict_markers(tree: Snapshot, apps: Iterable[tuple[str, str]]) -> list[Warning]:
    """Warn for each models file of `apps` ((label, migrations folder)) holding conflict markers."""
    by_folder = {directory.rpartition("/")[0]: label for label, directory in apps}
    # Only files changed in the working tree (unmerged or edited) can hold markers
    # git has not seen; committed ones are git's blobs. Reading those takes no git call.
    changed = (path for path, sha in tree.files.items() if sha == DISK and "models" in path)
    paths = {path: label for path in changed if (label := _app_of(path, by_folder))}
    out = []
    for path, source in sorted(tree.read(paths).items()):
        if _OPEN.search(source) and _CLOSE.search(source):
            message = (
                f"{path} still holds merge conflict markers: resolve it before the migrations "
                f"(makemigrations reads it); hint: edit it, then `git add {path}`"
            )
            out.append(Warning("conflict-markers", paths[path], message, path))
    return out


def _app_of(path: str, by_folder: dict[str, str]) -> str | None:
    """The app label whose models `path` is (models.py or models/*.py beside migrations/)."""
    folder, _, name = path.rpartition("/")
    if name == "models.py":
        return by_folder.get(folder)
    if name.endswith(".py") and folder.rpartition("/")[2] == "models":
        return by_folder.get(folder.rpartition("/")[0])
    return None

"""Files still holding merge conflict markers, found while a merge or rebase is under way.

`makemigrations` on a models file with markers fails or, worse, reads half of
each side; resolving migrations before the models are resolved builds on
sand. Only the apps whose migrations are in the tree are looked at, only their
`models.py` or `models/*.py`, and only where the working tree changed them.
A migration both sides changed (git's modify/modify) is read with upstream's
side of each conflict; the warning says so.
"""

from __future__ import annotations

from collections.abc import Iterable

from migmerge.core.model import Warning
from migmerge.reading.snapshot import DISK, Snapshot, has_markers


def conflict_markers(tree: Snapshot, apps: Iterable[tuple[str, str]]) -> list[Warning]:
    """Warn for each models file or migration of `apps` ((label, folder)) holding markers."""
    pairs = list(apps)
    by_folder = {directory.rpartition("/")[0]: label for label, directory in pairs}
    # Only files changed in the working tree (unmerged or edited) can hold markers
    # git has not seen; committed ones are git's blobs. Reading those takes no git call.
    both = set(tree.changed_both)
    changed = (
        path
        for path, sha in tree.files.items()
        if (sha == DISK or path in both) and "models" in path
    )
    paths = {path: label for path in changed if (label := _app_of(path, by_folder))}
    on_disk = Snapshot(tree.root, dict.fromkeys(paths, DISK))
    out = []
    for path, source in sorted(on_disk.read(paths).items()):
        if has_markers(source):
            message = (
                f"{path} still holds merge conflict markers: resolve it before the migrations "
                f"(makemigrations reads it); hint: edit it, then `git add {path}`"
            )
            out.append(Warning("conflict-markers", paths[path], message, path))
    by_directory = {directory: label for label, directory in pairs}
    for path in tree.changed_both:
        label = by_directory.get(path.rpartition("/")[0])
        if label is not None and path.endswith(".py"):
            message = (
                f"{path}: both sides changed this migration and it still holds merge conflict "
                "markers; migmerge reads upstream's side of each conflict (what git merged "
                "cleanly stays); hint: "
                f"resolve it (both sides' dependencies, if both are needed), then `git add {path}`"
            )
            out.append(Warning("conflict-markers", label, message, path))
    return out


def _app_of(path: str, by_folder: dict[str, str]) -> str | None:
    """The app label whose models `path` is (models.py or models/*.py beside migrations/)."""
    folder, _, name = path.rpartition("/")
    if name == "models.py":
        return by_folder.get(folder)
    if name.endswith(".py") and folder.rpartition("/")[2] == "models":
        return by_folder.get(folder.rpartition("/")[0])
    return None

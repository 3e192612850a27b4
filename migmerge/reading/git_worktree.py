"""The index and the working tree: what is staged, unmerged, changed, untracked.

`list_worktree` runs the three listings a check needs at once (the index,
the changed files, the untracked ones); `start_worktree_listing` starts them
before the rest of the check's start-up, so git reads the disk meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from migmerge.reading.git import Started, git_bytes


def _split_z(data: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in data.split(b"\0") if p]


# Untracked files worth a look: what .gitignore keeps, and never __pycache__
# (Python writes one per folder it imports; walking ten thousand .pyc files
# costs more than the rest of a check, and Python 3 never loads them alone).
UNTRACKED_OPTIONS = ("--exclude-standard", "--exclude=__pycache__/", "-z")


class Stages(NamedTuple):
    """The blobs of an unmerged path: the merge base's, ours, theirs (None: absent)."""

    base: str | None
    ours: str | None
    theirs: str | None


class WorktreeListing(NamedTuple):
    """What git knows of the working tree, from three listings run at once."""

    entries: dict[str, str]  # path -> blob sha of stage 0 in the index
    unmerged: dict[str, Stages]  # paths with conflict stages -> the blob of each
    modified: list[str]  # tracked paths that differ from the index
    untracked: list[str]  # untracked, not ignored paths
    links: frozenset[str] = frozenset()  # tracked symbolic links among `entries`


def start_worktree_listing(root: Path, pathspecs: Iterable[str] = ()) -> Started:
    """Start listing the working tree now; `list_worktree(started=...)` collects it."""
    specs = list(pathspecs)
    return Started(
        root,
        [
            ["ls-files", "-s", "-z", "--", *specs],
            ["diff-files", "--name-only", "-z", "--ignore-submodules=all", "--", *specs],
            ["ls-files", "-o", *UNTRACKED_OPTIONS, "--", *specs],
        ],
    )


def list_worktree(
    root: Path, pathspecs: Iterable[str] = (), started: Started | None = None
) -> WorktreeListing:
    """List index entries, changed and untracked files in one round of git calls.

    `started`: the listing `start_worktree_listing` began for the same root.
    """
    listing = started or start_worktree_listing(root, pathspecs)
    # The index first: reading it overlaps with git still looking at the disk.
    links: set[str] = set()
    entries, unmerged = _index_entries(listing.output(0), links)
    modified, untracked = listing.output(1), listing.output(2)
    return WorktreeListing(
        entries, unmerged, _split_z(modified), _split_z(untracked), frozenset(links)
    )


def index_entries(
    root: Path, pathspecs: Iterable[str] = ()
) -> tuple[dict[str, str], dict[str, Stages]]:
    """Return (path -> blob sha of stage 0, paths with unmerged stages -> their blobs)."""
    return _index_entries(git_bytes(root, "ls-files", "-s", "-z", "--", *pathspecs))


def _index_entries(
    out: bytes, links: set[str] | None = None
) -> tuple[dict[str, str], dict[str, Stages]]:
    # Records are "MODE SHA STAGE\tPATH", MODE always six octal digits. Plain
    # string slicing: a regex's match tuples cost twice as much on 10,000 lines.
    # `links`: filled with the paths that are symbolic links (mode 120000).
    entries: dict[str, str] = {}
    stages: dict[str, dict[str, str]] = {}
    for record in out.decode("utf-8", "surrogateescape").split("\0"):
        meta, _, path = record.partition("\t")
        if not path or meta.startswith("160000"):
            continue  # the end, or a submodule: not a file of this tree
        if meta.endswith(" 0"):
            entries[path] = meta[7:-2]
            if links is not None and meta.startswith("120000"):
                links.add(path)
        else:
            stages.setdefault(path, {})[meta[-1]] = meta[7:-2]
    unmerged = {p: Stages(s.get("1"), s.get("2"), s.get("3")) for p, s in stages.items()}
    return entries, unmerged


def modified_files(root: Path, pathspecs: Iterable[str] = ()) -> list[str]:
    """Return tracked paths whose working-tree file differs from the index."""
    args = ("diff-files", "--name-only", "-z", "--ignore-submodules=all", "--", *pathspecs)
    return _split_z(git_bytes(root, *args))


def untracked_files(root: Path, pathspecs: Iterable[str] = ()) -> list[str]:
    """Return untracked, not ignored paths."""
    return _split_z(git_bytes(root, "ls-files", "-o", *UNTRACKED_OPTIONS, "--", *pathspecs))


def unstaged_files(root: Path, pathspecs: Iterable[str] = ()) -> list[str]:
    """Paths whose working-tree file is not what the index holds, by content, or untracked.

    `git status` compares contents where the index's stat data is stale (a
    copied checkout), which `diff-files` does not; it never writes the index here.
    """
    args = ("--no-optional-locks", "status", "--porcelain", "-z", "--no-renames")
    out = git_bytes(
        root, *args, "--untracked-files=all", "--ignore-submodules=all", "--", *pathspecs
    )
    return [
        record[3:] for record in _split_z(out) if record[1] != " " and "__pycache__/" not in record
    ]

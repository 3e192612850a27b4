"""A tree of files to read: the working tree, a commit, or a predicted merge.

A snapshot maps each repository-relative path to the blob that holds it, or
to "" when the bytes must come from disk (changed or untracked files). Reading
many unchanged files from the object store in one `git cat-file --batch` is
several times faster than opening them one by one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from migmerge.reading import git

DISK = ""
WORKING_TREE = "working tree"  # the label of a snapshot of the working tree


class Snapshot(NamedTuple):
    """Files of one tree: path -> blob sha, or DISK."""

    root: Path
    files: Mapping[str, str]
    label: str = WORKING_TREE

    def read(self, paths: Iterable[str]) -> dict[str, bytes]:
        """Return the bytes of `paths` (those that exist)."""
        wanted = [p for p in paths if p in self.files]
        shas = {p: self.files[p] for p in wanted if self.files[p] != DISK}
        blobs = git.read_blobs(self.root, shas.values())
        out = {p: blobs[sha] for p, sha in shas.items() if sha in blobs}
        for path in wanted:
            if self.files[path] == DISK:
                data = _read_disk(self.root / path)
                if data is not None:
                    out[path] = data
        return out

    def overlay(self, changes: Mapping[str, str | None], label: str) -> Snapshot:
        """Return this snapshot with `changes` (path -> sha, None: deleted) applied."""
        files = dict(self.files)
        for path, sha in changes.items():
            if sha is None:
                files.pop(path, None)
            else:
                files[path] = sha
        return Snapshot(self.root, files, label)


def _read_disk(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def worktree(
    root: Path, pathspecs: Iterable[str] = (), started: git.Started | None = None
) -> Snapshot:
    """Return the working tree as it is now, tracked and untracked files alike.

    `started`: its listing, begun early with `git.start_worktree_listing`.
    """
    listing = git.list_worktree(root, pathspecs, started)
    files = listing.entries
    for path in listing.modified + sorted(listing.unmerged):
        if os.path.lexists(root / path):
            files[path] = DISK
        else:
            files.pop(path, None)
    for path in listing.untracked:
        files[path] = DISK
    return Snapshot(root, files)


def commit(root: Path, rev: str, pathspecs: Iterable[str] = ()) -> Snapshot:
    """Return the files of commit `rev`."""
    return Snapshot(root, git.tree_entries(root, rev, pathspecs), label=rev[:12])


def on_disk(root: Path, paths: Iterable[str]) -> Snapshot:
    """Return the working tree's files at `paths` (a trailing "/": a folder's .py files).

    Read straight from disk, without asking git: for a few known paths (the
    settings modules) that is cheaper than git's three listings of the index.
    """
    files: dict[str, str] = {}
    for path in paths:
        if not path.endswith("/"):
            if os.path.isfile(root / path):
                files[path] = DISK
            continue
        for folder, dirs, names in os.walk(root / path):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            relative = os.path.relpath(folder, root).replace(os.sep, "/")
            files.update((f"{relative}/{n}", DISK) for n in names if n.endswith(".py"))
    return Snapshot(root, files)

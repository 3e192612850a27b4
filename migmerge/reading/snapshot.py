"""A tree of files to read: the working tree, a commit, or a predicted merge.

A snapshot maps each repository-relative path to the blob that holds it, or
to "" when the bytes must come from disk (changed or untracked files). Reading
many unchanged files from the object store in one `git cat-file --batch` is
several times faster than opening them one by one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from migmerge.reading import git, git_objects, git_worktree
from migmerge.reading.files import read_regular

DISK = ""
WORKING_TREE = "working tree"  # the label of a snapshot of the working tree
NO_TWINS: Mapping[str, tuple[str, str]] = {}
NO_SIDES: Mapping[str, str] = {}
# Seven or more (git writes eight for a rename/rename conflict, more when nested).
_OPEN = re.compile(rb"^<{7,}(?: |\r?$)", re.MULTILINE)
_CLOSE = re.compile(rb"^>{7,}(?: |\r?$)", re.MULTILINE)


def has_markers(source: bytes) -> bool:
    """Tell whether `source` holds git's merge conflict markers (`<<<<<<<` ... `>>>>>>>`)."""
    return bool(_OPEN.search(source) and _CLOSE.search(source))


_MARK = re.compile(rb"([<|=>])\1{6,}(?: |\r?\n|$)")


def one_side(source: bytes, side: str) -> bytes:
    """`source` with each conflict resolved to one side's lines ("ours" or "theirs").

    The base of a diff3 conflict goes with the markers; what git merged
    cleanly outside the conflicts stays as it is.
    """
    out: list[bytes] = []
    section = ""
    for line in source.splitlines(keepends=True):
        mark = _MARK.match(line)
        kind = mark.group(1) if mark else b""
        if kind == b"<" and not section:
            section = "ours"
        elif kind in (b"|", b"=") and section in ("ours", "base"):
            section = "base" if kind == b"|" else "theirs"
        elif kind == b">" and section == "theirs":
            section = ""
        elif section in ("", side):
            out.append(line)
    return b"".join(out)


class Origin(NamedTuple):
    """Where the files of a part of a predicted merge come from, side by side.

    `local`: the local commit, or None for the working tree; `upstream`: the
    commit merged in; `upstream_paths`: the files whose bytes are upstream's.
    Files the part leaves out are read from the side of the file asking.
    """

    local: str | None
    upstream: str
    upstream_paths: frozenset[str]


class Snapshot(NamedTuple):
    """Files of one tree: path -> blob sha, or DISK."""

    root: Path
    files: Mapping[str, str]
    label: str = WORKING_TREE
    # Paths both sides added with different contents (git's add/add):
    # path -> (local blob or DISK, upstream blob). `files` holds upstream's.
    twins: Mapping[str, tuple[str, str]] = NO_TWINS
    # Set for a part of a tree (the folders a merge changes): where the rest is.
    origin: Origin | None = None
    # Symbolic links that lead out of the repository: not followed, not read.
    links_out: tuple[str, ...] = ()
    # Paths upstream deleted and the local side changed (git's modify/delete,
    # left on disk during the merge): read as deleted, as `--against` predicts.
    deleted_upstream: tuple[str, ...] = ()
    # Paths both sides changed that git left with conflict markers (modify/modify),
    # read from disk with upstream's side of each conflict: path -> that side
    # ("theirs" in a merge, "ours" in a rebase). What git merged cleanly stays.
    changed_both: Mapping[str, str] = NO_SIDES

    def read(self, paths: Iterable[str]) -> dict[str, bytes]:
        """Return the bytes of `paths` (those that exist)."""
        wanted = [p for p in paths if p in self.files]
        shas = {p: self.files[p] for p in wanted if self.files[p] != DISK}
        blobs = git_objects.read_blobs(self.root, shas.values())
        out = {p: blobs[sha] for p, sha in shas.items() if sha in blobs}
        for path in wanted:
            if self.files[path] == DISK:
                data = _read_disk(self.root / path, self.root)
                if data is not None and path in self.changed_both:
                    data = one_side(data, self.changed_both[path])
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
        return self._replace(files=files, label=label)

    def with_twins(self, twins: Mapping[str, tuple[str, str]]) -> Snapshot:
        """Return this snapshot with `twins` added, upstream's blob at each path."""
        if not twins:
            return self
        files = {**self.files, **{path: upstream for path, (_, upstream) in twins.items()}}
        return self._replace(files=files, twins={**self.twins, **twins})


def _read_disk(path: Path, root: Path) -> bytes | None:
    """The bytes of a regular file; None for anything else, never blocking.

    A FIFO or a device named like a migration is never read (opening a FIFO
    waits for a writer), and a symbolic link is followed only where it stays
    inside the repository, as Django would read it.
    """
    if os.path.islink(path) and not _inside(Path(os.path.realpath(path)), root):
        return None
    return read_regular(path)


def _inside(path: Path, root: Path) -> bool:
    """Tell whether a resolved path lies inside the repository `root`."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, str(path)]) == real_root


def worktree(
    root: Path,
    pathspecs: Iterable[str] = (),
    started: git.Started | None = None,
    *,
    rebase: bool = False,
) -> Snapshot:
    """Return the working tree as it is now, tracked and untracked files alike.

    `started`: its listing, begun early with `git_worktree.start_worktree_listing`.
    A path both sides added (unmerged, no base stage) is read as upstream's
    blob, local's kept as its twin: stage 2 is ours in a merge, but the
    branch being rebased onto in a rebase (`rebase`). A path upstream deleted
    and the local side changed (modify/delete) is read as deleted, though git
    leaves the local version on disk: the prediction of `--against` too.
    A path both sides changed (git's modify/modify, conflict markers on disk)
    is read, while the markers are there, with upstream's side of each
    conflict and what git merged cleanly (`changed_both`): half of each
    side's lines is neither side's migration.
    """
    listing = git_worktree.list_worktree(root, pathspecs, started)
    files = listing.entries
    gone = tuple(
        sorted(
            path
            for path, (base, ours, theirs) in listing.unmerged.items()
            if base and ((ours, theirs)[0 if rebase else 1] is None)
        )
    )
    for path in listing.modified + sorted(listing.unmerged):
        if os.path.lexists(root / path) and path not in gone:
            files[path] = DISK
        else:
            files.pop(path, None)
    for path in listing.untracked:
        files[path] = DISK
    # Untracked links are followed like tracked ones: inside the repository as
    # Django would, out of it never (reported, not read).
    untracked_links = {p for p in listing.untracked if os.path.islink(root / p)}
    out = _follow_disk_links(root, files, {*listing.links, *untracked_links})
    twins: dict[str, tuple[str, str]] = {}
    both: dict[str, str] = {}
    for path, (base, ours, theirs) in listing.unmerged.items():
        if base is None and ours and theirs:
            twins[path] = (theirs, ours) if rebase else (ours, theirs)
        elif (
            base
            and ours
            and theirs
            and files.get(path) == DISK
            and has_markers(_read_disk(root / path, root) or b"")  # else resolved on disk
        ):
            both[path] = "ours" if rebase else "theirs"
    return Snapshot(
        root, files, links_out=out, deleted_upstream=gone, changed_both=both
    ).with_twins(twins)


def _follow_disk_links(root: Path, files: dict[str, str], links: Iterable[str]) -> tuple[str, ...]:
    """Read tracked links as Django would: a file through its link, a folder's files under it.

    Only where the link stays inside the repository; returns those that leave it.
    """
    out = []
    for link in sorted(links):
        if link not in files:
            continue
        target = Path(os.path.realpath(root / link))
        if not _inside(target, root):
            out.append(link)
            del files[link]
        elif target.is_dir():
            del files[link]
            for folder, dirs, names in os.walk(target):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                relative = os.path.relpath(folder, target).replace(os.sep, "/")
                prefix = link if relative == "." else f"{link}/{relative}"
                files.update(
                    (f"{prefix}/{name}", DISK)
                    for name in names
                    if _inside(Path(os.path.realpath(os.path.join(folder, name))), root)
                )
        else:
            files[link] = DISK  # its bytes: the target's, read through the link
    return tuple(out)


def commit(root: Path, rev: str, pathspecs: Iterable[str] = ()) -> Snapshot:
    """Return the files of commit `rev` (links inside the repository followed)."""
    links: set[str] = set()
    files = git_objects.tree_entries(root, rev, pathspecs, links)
    out = _follow_tree_links(root, rev, files, links) if links else ()
    return Snapshot(root, files, label=rev[:12], links_out=out)


def _follow_tree_links(
    root: Path, rev: str, files: dict[str, str], links: set[str]
) -> tuple[str, ...]:
    """Follow a commit's links as a checkout would: the target file's blob, a folder's files.

    A target outside what was listed is listed from the same commit; a link to
    a link is followed a few times; a link that leaves the repository is not.
    """
    blobs = git_objects.read_blobs(root, {files[link] for link in links})
    targets = {link: _link_target(link, blobs.get(files[link], b"")) for link in links}
    for link in links:
        del files[link]
    out = []
    for link in sorted(links):
        target = targets[link]
        for _ in range(8):  # a link to a link: where the last one leads
            if target not in targets:
                break
            target = targets[target]
        if target is None or target in targets:
            out.append(link)
            continue
        for relative, sha in _under(root, rev, files, target).items():
            files[f"{link}/{relative}" if relative else link] = sha
    return tuple(out)


def _link_target(link: str, target: bytes) -> str | None:
    """The repository path a link's target names, or None when it leaves the repository."""
    text = target.decode("utf-8", "surrogateescape")
    if not text or text.startswith("/"):
        return None
    parts: list[str] = link.split("/")[:-1]
    for part in text.split("/"):
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _under(root: Path, rev: str, files: Mapping[str, str], target: str) -> dict[str, str]:
    """The blob of file `target`, or the files of folder `target` (relative path -> blob)."""
    if target in files:
        return {"": files[target]}
    prefix = target + "/"
    inside = {p[len(prefix) :]: sha for p, sha in files.items() if p.startswith(prefix)}
    if inside:
        return inside
    listed = git_objects.tree_entries(root, rev, [f":(literal){target}"])
    if target in listed:
        return {"": listed[target]}
    return {p[len(prefix) :]: sha for p, sha in listed.items() if p.startswith(prefix)}


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

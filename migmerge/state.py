"""Which git situation the working tree is in, and so which side is whose."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from migmerge import gitrepo
from migmerge.config import Config
from migmerge.errors import GitFailed
from migmerge.model import Mode


class GitState(NamedTuple):
    """The sides of the work: local and upstream commits and their merge base."""

    mode: Mode
    local: str | None
    upstream: str | None
    base: str | None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().split()[0]
    except (OSError, IndexError):
        return None


def detect_state(info: gitrepo.RepoInfo, config: Config, refs: gitrepo.Refs) -> GitState:
    """Tell merge or rebase (in progress or just made) from a plain working tree."""
    git_dir = info.git_dir
    head, parents = _head(info.root)
    merge_head = _read(git_dir / "MERGE_HEAD")
    if merge_head:
        return _state(info.root, "merge", head, merge_head)
    for folder in ("rebase-merge", "rebase-apply"):
        onto = _read(git_dir / folder / "onto")
        if onto:
            return _state(info.root, "rebase", _read(git_dir / folder / "orig-head"), onto)
    orig_head = _read(git_dir / "ORIG_HEAD")
    if len(parents) == 2 and orig_head == parents[0]:
        return _state(info.root, "merge", parents[0], parents[1])
    onto = _just_rebased_onto(git_dir)
    if onto and orig_head:
        return _state(info.root, "rebase", orig_head, onto)
    return _state(info.root, "worktree", head, _upstream_ref(info.root, config, refs))


def _is_sha(text: str) -> bool:
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


def _head(root: Path) -> tuple[str | None, list[str]]:
    try:
        line = gitrepo.git_run(root, "log", "-1", "--format=%H %P", "HEAD").split()
    except GitFailed:
        return None, []  # an unborn branch
    return line[0], line[1:]


def _state(root: Path, mode: Mode, local: str | None, upstream: str | None) -> GitState:
    if upstream is not None and not _is_sha(upstream):
        upstream = gitrepo.try_rev(root, upstream)
    base = gitrepo.merge_base(root, local, upstream) if local and upstream else None
    return GitState(mode, local, upstream, base)


def _upstream_ref(root: Path, config: Config, refs: gitrepo.Refs) -> str | None:
    """The branch's upstream, else the default branch unless HEAD is on it."""
    upstream = refs.upstream()
    if upstream:
        return upstream
    if config.default_branch:
        default = config.default_branch if gitrepo.try_rev(root, config.default_branch) else None
    else:
        default = refs.default_branch()
    if default is None or refs.current in (default, "refs/heads/" + default):
        return None
    return default


def fast_forwarded_from(info: gitrepo.RepoInfo) -> str | None:
    """Return the commit HEAD was on before the fast-forward merge just made, or None.

    git writes "<old> <new> ... merge <rev>: Fast-forward" (or "pull: ...")
    to HEAD's reflog; nothing else marks a fast-forward once it is done.
    """
    lines = _reflog_tail(info.git_dir)
    if not lines:
        return None
    fields, _, message = lines[-1].partition("\t")
    old = fields.split(" ", 1)[0]
    if not message.endswith(": Fast-forward") or not _is_sha(old) or old == gitrepo.ZERO_SHA:
        return None
    return old


def _reflog_tail(git_dir: Path) -> list[str]:
    """The last lines of HEAD's reflog (none when there is no reflog)."""
    try:
        with open(git_dir / "logs" / "HEAD", "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            return handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def _just_rebased_onto(git_dir: Path) -> str | None:
    """Return the commit the last finished rebase started from, per HEAD's reflog."""
    lines = _reflog_tail(git_dir)
    if not lines or not _is_rebase(lines[-1], "finish"):
        return None
    for line in reversed(lines[:-1]):
        if _is_rebase(line, "start"):
            return line.split()[1]
        if not _is_rebase(line, ""):
            return None
    return None


def _is_rebase(line: str, phase: str) -> bool:
    message = line.partition("\t")[2]
    return "rebase" in message.split(":")[0] and f"({phase}" in message.split(":")[0]

"""What changed between two trees (or a tree and the working tree), path by path.

Many diffs from commits go through one `diff-tree --stdin` (starting a
process is the cost); against the working tree they run at once in the
background.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from migmerge.errors import GitFailed
from migmerge.reading.git import ZERO_SHA, Started, big_output, git_env, is_sha


class ChangedPaths(dict[str, "str | None"]):
    """path -> new blob sha ("" read from disk, None deleted); `added`: the paths that are new."""

    def __init__(self) -> None:
        super().__init__()
        self.added: set[str] = set()


def changed_paths(root: Path, old: str, new: str | None) -> dict[str, str | None]:
    """Return path -> new blob sha (None: deleted) from `old` to `new`.

    `new` None compares against the working tree (tracked files; add
    `untracked_files` for the rest).
    """
    return changed_paths_to(root, old, [new])[0]


def changed_paths_to(
    root: Path, old: str, news: Sequence[str | None]
) -> list[dict[str, str | None]]:
    """`changed_paths` from `old` to each of `news`, the diffs run at once."""
    commits = [new for new in news if new is not None and is_sha(new)]
    if len(commits) == len(news) and is_sha(old):
        # Commits only: one process for every diff (starting a process is the cost).
        return diff_pairs(root, [(old, new) for new in commits])
    started = Started(root, [_diff_args(old, new) for new in news])
    return [_changed(started.output(i)) for i in range(len(news))]


def diff_pairs(root: Path, pairs: Sequence[tuple[str, str]]) -> list[dict[str, str | None]]:
    """`changed_paths` from `old` to `new` for each (old, new) pair, in one `diff-tree --stdin`.

    Each input line "new old" makes git diff `new` against `old` as its
    parent; `--always` prints the header even for an empty diff, so the
    results come back one per line, in order.
    """
    if not pairs:
        return []
    lines = "".join(f"{new} {old}\n" for old, new in pairs).encode()
    out = big_output(
        root, "diff-tree", "--stdin", "--always", "-r", "-z", "--no-renames", input=lines
    )
    results: list[dict[str, str | None]] = []
    fields = out.split(b"\0")
    result = ChangedPaths()
    at = 0
    while at < len(fields):
        field = fields[at]
        if field.startswith(b":") and results:
            _record(result, field, fields[at + 1])
            at += 2
            continue
        if field:
            result = ChangedPaths()  # a header: the commit the next records belong to
            results.append(result)
        at += 1
    if len(results) != len(pairs):
        raise GitFailed(f"git diff-tree --stdin gave {len(results)} diffs for {len(pairs)} pairs")
    return results


def _record(result: ChangedPaths, meta: bytes, path: bytes) -> None:
    """Add one raw diff record (":mode mode sha sha status", path) to `result`."""
    parts = meta.decode().split()
    status, new_sha = parts[4], parts[3]
    name = path.decode("utf-8", "surrogateescape")
    if status == "A":
        result.added.add(name)
    if status == "D":
        result[name] = None
    elif new_sha == ZERO_SHA:
        result[name] = ""  # changed in the working tree: read it from disk
    else:
        result[name] = new_sha


def _diff_args(old: str, new: str | None) -> list[str]:
    if new is None:
        return ["diff-index", "-r", "-z", "--no-renames", "--ignore-submodules=all", old, "--"]
    return ["diff-tree", "-r", "-z", "--no-renames", old, new, "--"]


def _changed(out: bytes) -> dict[str, str | None]:
    fields = out.split(b"\0")
    result = ChangedPaths()
    for meta, path in zip(fields[0::2], fields[1::2]):
        if meta.startswith(b":"):
            _record(result, meta, path)
    return result


def any_differs(root: Path, pairs: Sequence[tuple[str, str]], pathspecs: Sequence[str]) -> bool:
    """Tell whether anything under `pathspecs` changed in any (old, new) pair: one process.

    `diff-tree --stdin` prints nothing for a pair whose diff is empty (no
    `--always`), so any output is a change.
    """
    if not pairs:
        return False
    lines = "".join(f"{new} {old}\n" for old, new in pairs).encode()
    proc = subprocess.run(
        ["git", "diff-tree", "--stdin", "-r", "--name-only", "-z", "--no-renames",
         "--", *pathspecs],
        cwd=root,
        input=lines,
        capture_output=True,
        env=git_env(),
    )  # fmt: skip
    # An error is no proof that nothing changed: look rather than guess.
    return proc.returncode != 0 or bool(proc.stdout.strip(b"\0\n"))


def differs(root: Path, old: str, new: str, pathspecs: Sequence[str]) -> bool:
    """Tell whether anything under `pathspecs` changed from `old` to `new` (no output read)."""
    proc = subprocess.run(
        ["git", "diff-tree", "-r", "--quiet", old, new, "--", *pathspecs],
        cwd=root,
        capture_output=True,
        env=git_env(),
    )
    # 1 means "differences"; anything else but 0 is an error: look rather than guess.
    return proc.returncode != 0

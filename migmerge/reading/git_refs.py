"""Git's branches and where histories meet: refs, upstreams, the default branch, merge bases.

One `for-each-ref` reads every branch and remote-tracking ref at once; one
`rev-list --boundary` finds the merge bases of many tips with one branch.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from migmerge.reading.git import git_env, git_run


def merge_base(root: Path, a: str, b: str) -> str | None:
    """Return the best common ancestor of two commits, or None (unrelated)."""
    proc = subprocess.run(["git", "merge-base", a, b], cwd=root, capture_output=True, env=git_env())
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def all_merge_bases(root: Path, a: str, b: str) -> list[str]:
    """Every best common ancestor of two commits (several after criss-cross merges), the
    one `merge_base` returns first; empty when unrelated."""
    proc = subprocess.run(
        ["git", "merge-base", "--all", a, b], cwd=root, capture_output=True, env=git_env()
    )
    return proc.stdout.decode().split() if proc.returncode == 0 else []


def merge_bases(root: Path, tips: Sequence[str], onto: str) -> dict[str, str | None]:
    """Return each tip's merge base with `onto`, from one `rev-list` for all of them.

    `rev-list --boundary tips... --not onto` lists what the tips have that
    `onto` has not, and marks where that history meets `onto`'s. A tip whose
    walk meets it at one commit has that commit as its merge base (the usual
    branch, made from the default branch and never merged with it since); a
    tip listed nowhere is part of `onto` already. Only a tip that meets it at
    several commits (it merged the default branch in) asks `git merge-base`.
    """
    wanted = list(dict.fromkeys(tips))
    if not wanted:
        return {}
    out = git_run(root, "rev-list", "--parents", "--boundary", *wanted, "--not", onto)
    parents: dict[str, list[str]] = {}
    boundary: set[str] = set()
    for line in out.splitlines():
        sha, *above = line.split()
        if sha.startswith("-"):
            boundary.add(sha[1:])
        else:
            parents[sha] = above
    return {tip: _met(root, tip, onto, parents, boundary) for tip in wanted}


def _met(
    root: Path, tip: str, onto: str, parents: Mapping[str, list[str]], boundary: set[str]
) -> str | None:
    """Where `tip`'s own history meets `onto`'s."""
    if tip not in parents:
        return tip  # reachable from onto: merged, or behind it
    met: set[str] = set()
    seen = {tip}
    stack = [tip]
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent in boundary:
                met.add(parent)
            elif parent not in seen and parent in parents:
                seen.add(parent)
                stack.append(parent)
    if len(met) == 1:
        return met.pop()
    return merge_base(root, tip, onto) if met else None  # several: git picks; none: unrelated


class Refs(NamedTuple):
    """Branches and remote-tracking refs, from one `for-each-ref`."""

    shas: Mapping[str, str]  # full ref name -> commit
    symrefs: Mapping[str, str]  # full ref name -> the ref it points at
    upstreams: Mapping[str, str]  # branch -> its upstream ref
    current: str | None  # the branch HEAD is on (refs/heads/NAME); None: detached

    def remote_tracking(self) -> list[str]:
        """Return the distinct commits remote-tracking refs point at."""
        found = [
            sha
            for name, sha in self.shas.items()
            if name.startswith("refs/remotes/") and not name.endswith("/HEAD")
        ]
        return list(dict.fromkeys(found))

    def default_branch(self, configured: str | None = None, remote: str = "origin") -> str | None:
        """Return the full ref name of the default branch as this clone last fetched it.

        The one home of "the default branch". `configured` (`[tool.migmerge]
        default-branch`) names a branch: `<remote>/<name>` when fetched, else
        the local branch, else a remote-tracking ref of that name; None when
        none exists (a configured name is never second-guessed). Otherwise
        `<remote>/HEAD`, `<remote>/main`, `<remote>/master`, then the local
        `main`, `master`. None: nothing of the kind here.
        """
        prefix = f"refs/remotes/{remote}/"
        if configured:
            short = configured.removeprefix("refs/heads/")
            candidates = [
                prefix + short,
                f"refs/heads/{short}",
                f"refs/remotes/{short}",
                configured,
            ]
        else:
            candidates = [self.symrefs.get(prefix + "HEAD", ""), prefix + "main", prefix + "master"]
            candidates += ["refs/heads/main", "refs/heads/master"]
        return next((name for name in candidates if name in self.shas), None)

    def upstream(self) -> str | None:
        """Return the commit the current branch's upstream points at, or None."""
        name = self.upstreams.get(self.current or "")
        return self.shas.get(name) if name else None


def list_refs(root: Path) -> Refs:
    """Read every branch and remote-tracking ref, with upstreams and HEAD's branch, at once."""
    out = git_run(
        root,
        "for-each-ref",
        "--format=%(HEAD)%00%(objectname)%00%(refname)%00%(symref)%00%(upstream)",
        "refs/heads",
        "refs/remotes",
    )
    shas: dict[str, str] = {}
    symrefs: dict[str, str] = {}
    upstreams: dict[str, str] = {}
    current = None
    for line in out.splitlines():
        head, sha, name, target, upstream = line.split("\0")
        shas[name] = sha
        if target:
            symrefs[name] = target
        if upstream:
            upstreams[name] = upstream
        if head == "*":
            current = name
    return Refs(shas, symrefs, upstreams, current)

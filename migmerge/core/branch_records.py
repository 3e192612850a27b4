"""The records of `check --branches`: each branch looked at, each pair that conflicts.

NamedTuples, as every record of the check path (core/model.py says why);
`to_json` gives the contract's `check --branches --format json` document.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from migmerge.core.model import Conflict, Warning


class BranchInfo(NamedTuple):
    """One branch `check --branches` looked at."""

    ref: str  # "HEAD" or the remote-tracking branch, as a person names it: origin/feature
    commit: str
    base: str | None  # where it left the default branch
    current: bool  # HEAD: exit 1 when it conflicts with anything
    apps: tuple[str, ...]  # the apps whose migrations it changed

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "base": self.base,
            "current": self.current,
            "apps": list(self.apps),
        }


class Pair(NamedTuple):
    """Two branches (or a branch and the default branch) that conflict once merged."""

    a: str
    b: str
    conflicts: tuple[Conflict, ...]

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "conflicts": [c.to_json() for c in self.conflicts]}


class BranchesResult(NamedTuple):
    """What `check --branches` found: each branch against the default branch and each other."""

    remote: str
    default: str  # the default branch, as a person names it
    default_commit: str
    branches: tuple[BranchInfo, ...]
    pairs: tuple[Pair, ...]
    warnings: tuple[Warning, ...] = ()

    @property
    def current(self) -> str | None:
        """The ref of the current branch, when it is among the branches."""
        return next((b.ref for b in self.branches if b.current), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "mode": "branches",
            "remote": self.remote,
            "default": {"ref": self.default, "commit": self.default_commit},
            "branches": [b.to_json() for b in self.branches],
            "pairs": [p.to_json() for p in self.pairs],
            "warnings": [w.to_json() for w in self.warnings],
        }

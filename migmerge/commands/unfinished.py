"""An interrupted `resolve`: refuse until `--abort` or `--continue`, and carry them out.

The journal (doing/journal.py) keeps the flags the interrupted run had, so
`--continue` (undo, then resolve again) asks for the same resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migmerge.errors import Refused

if TYPE_CHECKING:
    from migmerge.core.model import Database
    from migmerge.reading.git import RepoInfo

Out = Callable[[str], None]


@dataclass(frozen=True)
class Flags:
    """What the person asked for (kept in the journal so --continue can ask it again)."""

    strategy: str | None
    apps: Sequence[str]
    keep_names: bool
    yes: bool
    dry_run: bool
    force: bool
    settings: str | None
    applied: str | None

    def again(self) -> dict[str, object]:
        """The flags --continue runs with again."""
        kept = ("strategy", "keep_names", "force", "applied")
        return {"apps": list(self.apps), **{key: getattr(self, key) for key in kept}}


def way_on(info: RepoInfo, flags: Flags, *, abort: bool, resume: bool, out: Out) -> Flags | None:
    """Abort or continue an unfinished resolve; refuse one when it is there.

    Returns the flags to resolve with, or None when there is nothing more to do (--abort).
    """
    from migmerge.reading.unfinished import find_unfinished

    if abort or resume:
        again = _abort(info.root, flags.settings, out)
        if abort:
            return None
        out("continuing: the plans are made again from the files as they were")
        flags = replace(
            flags,
            strategy=again.get("strategy"),
            apps=tuple(again.get("apps") or ()),
            keep_names=bool(again.get("keep_names")),
            force=bool(again.get("force")),
            applied=again.get("applied"),
            yes=True,
        )
    unfinished = find_unfinished(info.git_dir)
    if unfinished is not None:
        raise Refused(unfinished.sentence())
    return flags


def _abort(root: Path, settings: str | None, out: Out) -> dict[str, Any]:
    """Undo an unfinished resolution under the lock; return the flags it ran with."""
    from migmerge.doing import recover
    from migmerge.doing.lock import resolve_lock

    def database() -> Database | None:
        from migmerge.reading.config import load_config
        from migmerge.reading.project import find_database

        return find_database(root, load_config(root), load_settings=True, settings=settings)

    with resolve_lock(root):
        return recover.abort(root, database, out)

"""Is a resolution unfinished? Read the journal's summary, write nothing.

The executor (`doing.journal`) keeps its undo journal in `<git-dir>/migmerge/journal/`
while a resolution runs and removes it when done or undone. A journal still
there means a `resolve` was interrupted (killed, power lost, a restore that
could not finish): every command says so first. This module only reads the
small `about.json` beside the journal, so the check path stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from migmerge.core.model import Unfinished

JOURNAL = ("migmerge", "journal")
ABOUT = "about.json"
UNDO = "undo.json"


def journal_dir(git_dir: Path) -> Path:
    """Where the executor keeps its journal, inside the git directory."""
    return git_dir.joinpath(*JOURNAL)


def find_unfinished(git_dir: Path) -> Unfinished | None:
    """The interrupted resolution's summary, or None when there is none.

    A journal folder without its undo record is a resolution killed before its
    first change: nothing to report (the executor clears it next time).
    """
    folder = journal_dir(git_dir)
    if not (folder / UNDO).is_file():
        return None  # the common case: asked by every hook, it imports nothing more
    import json

    from migmerge.core.model import Unfinished

    try:
        about = json.loads((folder / ABOUT).read_text(encoding="utf-8"))
        what, started = str(about["what"]), str(about["started"])
    except (OSError, ValueError, KeyError, TypeError):
        what, started = "a resolution", "at an unknown time"
    return Unfinished(str(folder), what, started)

"""A small Python API: what `migmerge check` finds, for a test suite or a script.

    from migmerge.api import assert_no_conflicts

    def test_migrations_do_not_fork():
        assert_no_conflicts()                          # the repository holding "."
        assert_no_conflicts(against="origin/main")     # and once merged with main

`check` returns the result `migmerge check --format json` prints (the same
records: docs/json.md); `assert_no_conflicts` raises `MigrationConflicts`, an
AssertionError whose text is `migmerge check`'s report, when any app's graph
forks. Both read the repository statically (no migration is imported, no
database opened) and write nothing. Errors migmerge raises on purpose
(`migmerge.errors.MigmergeError`: not a repository, an unknown revision, a
migration that cannot be read) propagate.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from migmerge.core.model import CheckResult, Conflict, Leaf

__all__ = ["CheckResult", "Conflict", "Leaf", "MigrationConflicts", "assert_no_conflicts", "check"]


def check(
    path: str | os.PathLike[str] = ".",
    *,
    against: str | None = None,
    apps: Sequence[str] = (),
) -> CheckResult:
    """Return what `migmerge check` finds in the repository holding `path`.

    `against`: predict merging that revision into HEAD plus the working tree
    (as `check --against`). `apps`: only these app labels.
    """
    from migmerge.reading.analysis import analyze

    return analyze(os.fspath(path), against=against, apps=apps).result


class MigrationConflicts(AssertionError):
    """Some app's migration graph forks; `result` holds the conflicts, str() the report."""

    def __init__(self, result: CheckResult, against: str | None = None) -> None:
        from migmerge.report import check_text

        super().__init__(check_text(result, against))
        self.result = result


def assert_no_conflicts(
    path: str | os.PathLike[str] = ".",
    *,
    against: str | None = None,
    apps: Sequence[str] = (),
) -> CheckResult:
    """Raise MigrationConflicts when `check` finds any; return its result otherwise."""
    result = check(path, against=against, apps=apps)
    if result.conflicts:
        raise MigrationConflicts(result, against)
    return result

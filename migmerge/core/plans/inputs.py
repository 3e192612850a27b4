"""What a plan may ask of the analysis: the read side, as a protocol.

Plans are core and import nothing from reading/: the coordinator hands them
`reading.analysis.Analysis`, which fulfils this protocol, and a plan sees only
what is named here (the tree's migrations and apps, the check's result, the
project that runs a folder and its manage command, the files that mention a name, the writes that
would follow a link out of the repository).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from migmerge.core.model import AppMigrations, CheckResult, Key, Migration, Project


class AnalysisView(Protocol):
    """The analysis as a plan reads it."""

    @property
    def root(self) -> Path:
        """The repository's root."""
        ...

    @property
    def result(self) -> CheckResult:
        """What `check` found."""
        ...

    @property
    def apps(self) -> Mapping[str, AppMigrations]:
        """Each app label's migrations package."""
        ...

    @property
    def backups(self) -> Path:
        """Where database backups go (inside the git folder)."""
        ...

    @property
    def migrations(self) -> Mapping[Key, Migration]:
        """Every migration of the tree, header only, by key."""
        ...

    def project_for(self, directory: str | None = None) -> Project:
        """The project that runs the app in `directory`."""
        ...

    def mentions(self, names: Iterable[str]) -> dict[str, set[str]]:
        """The tracked text files that name each of `names` as a word."""
        ...

    def manage_command(self, *args: str, app_dir: str | None = None) -> tuple[str, ...]:
        """The argv running the project's manage command; MigmergeError without one."""
        ...

    def links_out(self, writes: Iterable[tuple[str, bool]]) -> list[str]:
        """The links out of the repository these writes would follow."""
        ...

    def migration(self, app: str, name: str) -> Migration:
        """The migration fully parsed (operations included)."""
        ...

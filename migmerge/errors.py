"""The errors migmerge raises on purpose; anything else is a bug (exit 3)."""

from __future__ import annotations

from typing import NamedTuple


class MigmergeError(Exception):
    """Bad input or an impossible request: exit 2 with this message."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class NotARepository(MigmergeError):
    """The folder is not inside a git repository."""


class UnknownRevision(MigmergeError):
    """A revision name git cannot resolve."""


class GitFailed(MigmergeError):
    """A git command failed."""


class UnreadableMigration(MigmergeError):
    """A migration file cannot be decoded or parsed."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"cannot read migration {path}: {reason}",
            hint="fix the file (Django could not load it either), then run migmerge again",
        )
        self.path = path
        self.reason = reason


class NotAMigration(UnreadableMigration):
    """A module in a `migrations` folder that holds no Migration class."""


class SouthMigration(NotAMigration):
    """A South migration (Django before 1.7): not a Django migration, skipped without a word."""


class ConfigError(MigmergeError):
    """`[tool.migmerge]` in pyproject.toml is malformed."""


class Refused(MigmergeError):
    """A resolution was refused: a person must decide, or --force is needed (exit 1)."""

    exit_code = 1


class StepFailed(MigmergeError):
    """A step of a plan failed; everything done before it was restored (exit 1)."""

    exit_code = 1


class Interrupted(StepFailed):
    """Ctrl-C stopped a resolution; what was restored is in the message."""

    exit_code = 130


class KmigratorError(MigmergeError):
    """A kmigrator file name or line that cannot be made or changed as asked."""


class ErrorPolicy(NamedTuple):
    """What a command adds to the one error handler (`cli.handle_errors`): the hooks' rules.

    The exception's type still gives the message and the exit code; a policy
    only adds a way on under every failure, or says git must not see one.
    """

    hint: str | None = None  # one more way on, under any failure (pre-push: --no-verify)
    never_fail: bool = False  # exit 0 whatever happens: git's command is already done
    done: str | None = None  # said after a failure when never_fail (what did succeed)

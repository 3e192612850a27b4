"""The questioner seam: what planners and rules ask through, never knowing who answers.

Django's questioner, as a protocol: a person at a terminal, the command-line
flags or a test script answer (doing/prompts.py has the three), and the core
holds only this type. An answer nobody may give is `errors.Refused`, never an
exit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Choices = Sequence[tuple[str, str]]


class Questioner(Protocol):
    """Answers yes/no questions and picks one of several choices."""

    def confirm(self, message: str, *, default: bool = False) -> bool:
        """Return True when the step described by `message` may go ahead."""
        ...

    def choose(self, message: str, choices: Choices, *, default: str | None = None) -> str:
        """Return the value of one of `choices` ((value, label) pairs)."""
        ...

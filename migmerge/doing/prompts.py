"""Who answers questions: a person at a terminal, the command-line flags, or a test script.

The core holds a `Questioner` (core/questions.py) and never knows which one it
has (Django's questioner seam). Nothing here exits the process: a question
nobody may answer raises `errors.Refused`, and the CLI turns that into an exit
code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from migmerge.core.questions import Choices, Questioner
from migmerge.errors import MigmergeError, Refused


class InteractiveQuestioner:
    """Ask a person at a terminal with questionary (imported only when a question is asked).

    With `yes`, confirmations are answered yes without asking (`--yes`), but a
    choice still goes to the person: `--yes` never picks a strategy for them.
    """

    def __init__(self, *, yes: bool = False) -> None:
        self.yes = yes

    def confirm(self, message: str, *, default: bool = False) -> bool:
        """Ask a yes/no question, or answer yes at once under `--yes`."""
        if self.yes:
            return True
        questionary = _questionary()
        # unsafe_ask lets Ctrl-C propagate (exit 130) instead of answering None.
        return bool(questionary.confirm(message, default=default).unsafe_ask())

    def choose(self, message: str, choices: Choices, *, default: str | None = None) -> str:
        """Let the person pick one of `choices` with the arrow keys."""
        questionary = _questionary()
        items = [questionary.Choice(title=label, value=value) for value, label in choices]
        answer = questionary.select(message, choices=items, default=default).unsafe_ask()
        return str(answer)


class FlagQuestioner:
    """Answer from the command-line flags alone; never prompt.

    `command` is the command a person runs to make a choice themselves, with
    `{value}` standing for the chosen value; the refusal names each one.
    """

    def __init__(self, yes: bool, *, command: str = "migmerge resolve --strategy {value}") -> None:
        self.yes = yes
        self.command = command

    def confirm(self, message: str, *, default: bool = False) -> bool:
        """Answer with `--yes`: go ahead only when it was given."""
        return self.yes

    def choose(self, message: str, choices: Choices, *, default: str | None = None) -> str:
        """Refuse: choosing needs a person, so name the commands that choose."""
        options = " | ".join(self.command.format(value=value) for value, _ in choices)
        raise Refused(f"{message} (needs a person to choose; no terminal to ask)", hint=options)


class ScriptedQuestioner:
    """Answer from a list, in order, and keep a transcript (for tests).

    An answer may be a callable: it is called with the question's message and
    its result is the answer, so a test can act at a precise moment.
    """

    def __init__(self, answers: Sequence[object]) -> None:
        self.answers = list(answers)
        self.transcript: list[str] = []

    def confirm(self, message: str, *, default: bool = False) -> bool:
        """Pop the next answer, which must be a bool."""
        answer = self._next(message)
        if not isinstance(answer, bool):
            raise TypeError(f"scripted answer to {message!r} must be a bool, got {answer!r}")
        self.transcript.append(f"? {message} {'[Y/n]' if default else '[y/N]'} {_yes_no(answer)}")
        return answer

    def choose(self, message: str, choices: Choices, *, default: str | None = None) -> str:
        """Pop the next answer, which must be one of the choices' values."""
        answer = self._next(message)
        values = [value for value, _ in choices]
        if answer not in values:
            raise ValueError(f"scripted answer {answer!r} to {message!r} is not one of {values}")
        self.transcript.append(f"? {message} ({', '.join(values)}) {answer}")
        return str(answer)

    def _next(self, message: str) -> object:
        if not self.answers:
            raise AssertionError(f"unexpected question (no scripted answer left): {message}")
        answer = self.answers.pop(0)
        return answer(message) if callable(answer) else answer


def make_questioner(*, yes: bool, interactive: bool | None = None) -> Questioner:
    """Pick the questioner: a person when stdin and stdout are terminals, else the flags."""
    if interactive is None:
        interactive = at_a_terminal()
    if interactive:
        return InteractiveQuestioner(yes=yes)
    return FlagQuestioner(yes)


def at_a_terminal() -> bool:
    """Tell whether a person can be asked: stdin and stdout are both terminals."""
    return _isatty(sys.stdin) and _isatty(sys.stdout)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (ValueError, OSError):  # closed or detached streams are not terminals
        return False


def _yes_no(answer: bool) -> str:
    return "yes" if answer else "no"


def _questionary() -> Any:
    try:
        import questionary
    except ImportError as exc:  # pragma: no cover - questionary is a dependency
        raise MigmergeError(
            "questionary is not installed: cannot ask questions",
            hint="pip install questionary, or pass --yes",
        ) from exc
    return questionary


__all__ = [
    "FlagQuestioner",
    "InteractiveQuestioner",
    "ScriptedQuestioner",
    "make_questioner",
]

"""The questioner seam: flags, scripts and the choice of questioner."""

from __future__ import annotations

import pytest

from migmerge.doing.prompts import (
    FlagQuestioner,
    InteractiveQuestioner,
    ScriptedQuestioner,
    make_questioner,
)
from migmerge.errors import Refused

CHOICES = [("merge", "merge them"), ("regenerate", "regenerate the local side")]


def test_flag_questioner_confirms_only_with_yes() -> None:
    assert FlagQuestioner(True).confirm("Run it?") is True
    assert FlagQuestioner(False).confirm("Run it?", default=True) is False


def test_flag_questioner_refuses_to_choose_and_names_the_commands() -> None:
    with pytest.raises(Refused) as refused:
        FlagQuestioner(True).choose("polls: which strategy?", CHOICES)
    assert refused.value.exit_code == 1
    assert refused.value.hint == (
        "migmerge resolve --strategy merge | migmerge resolve --strategy regenerate"
    )
    assert "polls: which strategy?" in refused.value.message


def test_scripted_questioner_answers_in_order_and_keeps_a_transcript() -> None:
    q = ScriptedQuestioner([True, "regenerate", lambda message: "Run" in message])
    assert q.confirm("Back up?") is True
    assert q.choose("Strategy?", CHOICES) == "regenerate"
    assert q.confirm("Run migrate?", default=True) is True
    assert q.transcript == [
        "? Back up? [y/N] yes",
        "? Strategy? (merge, regenerate) regenerate",
        "? Run migrate? [Y/n] yes",
    ]


def test_scripted_questioner_rejects_wrong_or_missing_answers() -> None:
    with pytest.raises(ValueError):
        ScriptedQuestioner(["renumber"]).choose("Strategy?", CHOICES)
    with pytest.raises(TypeError):
        ScriptedQuestioner(["yes"]).confirm("Go?")
    with pytest.raises(AssertionError):
        ScriptedQuestioner([]).confirm("Go?")


def test_make_questioner_follows_the_terminal() -> None:
    assert isinstance(make_questioner(yes=False, interactive=True), InteractiveQuestioner)
    flags = make_questioner(yes=True, interactive=False)
    assert isinstance(flags, FlagQuestioner) and flags.confirm("Go?") is True
    # Under pytest stdin is not a terminal, so nobody is asked.
    assert isinstance(make_questioner(yes=False), FlagQuestioner)


def test_interactive_yes_confirms_without_asking() -> None:
    # With --yes no prompt is drawn: this would block on a non-terminal otherwise.
    assert InteractiveQuestioner(yes=True).confirm("Run migrate?") is True

"""The strategy rules as a table, in memory: overlap x shared x applied x strategy x force.

`core.strategy.decide` is what `resolve` does when nobody can be asked; the
expected column is written out here, rule by rule, from the contract.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from migmerge.core.model import Conflict, Leaf, Operation, Overlap
from migmerge.core.renumber_safety import Facts, drops, record_gaps, renumber_rule
from migmerge.core.strategy import decide
from migmerge.errors import Refused

MIG = "polls/migrations"


def conflict(overlap: str, *, shared: bool, applied: bool | None) -> Conflict:
    local = Leaf("0002_a", f"{MIG}/0002_a.py", "local", shared, applied, ("0002_a",), ())
    upstream = Leaf("0002_b", f"{MIG}/0002_b.py", "upstream", True, False, ("0002_b",), ())
    kind = Overlap(overlap, (f"{overlap} reason",))  # type: ignore[arg-type]
    return Conflict("polls", MIG, "0001_initial", (local, upstream), kind, None)


def expected(overlap: str, shared: bool, applied: bool | None, strategy: str, force: bool) -> str:
    """The contract, one rule a line."""
    collide = overlap in ("field", "unknown")
    if strategy == "auto":
        if overlap == "field":
            return "refused: shared, regenerate (--force)" if shared and not force else "regenerate"
        if overlap == "unknown":
            return "refused: a person must choose"
        return "renumber, database untouched" if not shared and applied is False else "merge"
    if strategy == "regenerate":
        return "refused: shared, regenerate (--force)" if shared and not force else "regenerate"
    if collide and not force:
        return "refused: the operations may collide (--force)"
    if strategy == "merge":
        return "merge"
    if shared and not force:
        return "refused: shared (--force)"
    if applied is None and not force:
        return "refused: applied cannot be read"
    if applied and not force:
        return "refused: applied (--applied, or merge)"
    return "renumber, database untouched"


def outcome(case: Conflict, strategy: str, force: bool) -> str:
    try:
        chosen, database = decide(case, strategy, "auto", force=force)
    except Refused as exc:
        return "refused: " + _category(exc)
    return f"{chosen}, database {database}" if chosen == "renumber" else chosen


def _category(exc: Refused) -> str:
    for words, category in (
        ("a person must choose", "a person must choose"),
        ("change the same things", "the operations may collide (--force)"),
        ("it is shared", "shared (--force)"),
        ("refusing to regenerate", "shared, regenerate (--force)"),
        ("whether it is applied cannot be read", "applied cannot be read"),
        ("it is applied in your database", "applied (--applied, or merge)"),
    ):
        if words in exc.message:
            return category
    raise AssertionError(exc.message)


TABLE = list(
    itertools.product(
        ("none", "model", "field", "unknown"),
        (False, True),
        (False, True, None),
        ("auto", "merge", "renumber", "regenerate"),
        (False, True),
    )
)


@pytest.mark.parametrize(("overlap", "shared", "applied", "strategy", "force"), TABLE)
def test_the_strategy_table(
    overlap: str, shared: bool, applied: bool | None, strategy: str, force: bool
) -> None:
    case = conflict(overlap, shared=shared, applied=applied)
    assert outcome(case, strategy, force) == expected(overlap, shared, applied, strategy, force)


def local(applied: bool | None) -> list[Leaf]:
    ops = (Operation("CreateModel", "choice", None), Operation("AddField", "choice", "votes"))
    return [Leaf("0002_a", f"{MIG}/0002_a.py", "local", False, applied, ("0002_a",), ops)]


@pytest.mark.parametrize(
    ("applied", "mode", "gaps", "database"),
    [
        (True, "rollback", (), "rollback"),
        (True, "record", (), "record"),
        (True, "record", (("0002_a", "0002_b"),), "refused"),
        (True, "refuse", (), "refused"),
        (True, None, (), "ask"),
        (False, "rollback", (), "untouched"),
        (False, "record", (("0002_a", "0002_b"),), "untouched"),
        (None, "rollback", (), "refused"),
        (None, "record", (), "refused"),
    ],
)
def test_the_applied_modes(
    applied: bool | None, mode: str | None, gaps: tuple[tuple[str, str], ...], database: str
) -> None:
    facts = Facts("no database", "set it", gaps)
    try:
        rule = renumber_rule("polls", local(applied), force=False, applied=mode, facts=facts)
    except Refused:
        assert database == "refused"
        return
    assert rule.database == database
    assert (rule.refusal is not None) == (database == "ask")


def test_a_suggested_way_out_is_never_refused_with_the_same_facts() -> None:
    for gaps in ((), (("0002_a", "0002_b"),)):
        facts = Facts(record_gaps=gaps)
        with pytest.raises(Refused) as info:
            renumber_rule("polls", local(True), force=False, applied="refuse", facts=facts)
        hint = info.value.hint or ""
        for mode in ("record", "rollback"):
            suggested = f"--applied {mode}" in hint
            try:
                renumber_rule("polls", local(True), force=False, applied=mode, facts=facts)
            except Refused:
                assert not suggested, (mode, hint)
        assert "--force" not in hint  # --force is not what renumbering applied migrations needs


def test_record_gaps_and_what_a_rollback_drops() -> None:
    applied = frozenset({("polls", "0001_initial"), ("polls", "0002_a")})
    assert record_gaps([(("0002_a",), "0002_b")], applied, "polls") == (("0002_a", "0002_b"),)
    assert record_gaps([(("0002_a",), "0001_initial")], applied, "polls") == ()
    assert record_gaps([(("0003_c",), "0002_b")], applied, "polls") == ()  # nothing applied
    assert drops(local(True)) == "the choice table and its rows"
    # A list chosen at run time (`A if FLAG else B`) drops what either arm made.
    (leaf,) = local(True)
    chosen = Operation("operations", None, None, children=leaf.operations)
    assert drops([leaf._replace(operations=(chosen,))]) == "the choice table and its rows"


@pytest.mark.parametrize("overlap", ["field", "unknown"])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("strategy", ["auto", "merge", "renumber"])
def test_an_overlap_refusal_suggests_only_what_the_same_facts_allow(
    overlap: str, shared: bool, strategy: str
) -> None:
    case = conflict(overlap, shared=shared, applied=False)
    if strategy == "auto" and overlap == "field":
        return  # auto regenerates
    with pytest.raises(Refused) as info:
        decide(case, strategy, "auto", force=False)
    hint = info.value.hint or ""
    # regenerate refuses a shared local side (core/plans/regenerate.py): not suggested then.
    assert ("--strategy regenerate" in hint) == (not shared), hint
    wanted = "merge" if strategy == "auto" else strategy
    assert f"--strategy {wanted} --force if you checked the operations by hand" in hint
    assert decide(case, wanted, "auto", force=True)[0] == wanted


@pytest.mark.parametrize("overlap", ["none", "model", "field", "unknown"])
def test_a_shared_regenerate_is_refused_with_a_merge_the_same_facts_allow(overlap: str) -> None:
    case = conflict(overlap, shared=True, applied=False)
    with pytest.raises(Refused) as info:
        decide(case, "regenerate", "auto", force=False)
    assert "refusing to regenerate 0002_a: they are shared" in info.value.message
    hint = info.value.hint or ""
    suggested = hint.split(" (or ")[0]
    # merge needs --force only where the branches (may) change the same things
    assert ("--force" in suggested) == (overlap in ("field", "unknown")), hint
    assert suggested == "migmerge resolve --app polls --strategy merge" + (
        " --force" if overlap in ("field", "unknown") else ""
    )
    assert decide(case, "merge", "auto", force="--force" in suggested)[0] == "merge"
    assert decide(case, "regenerate", "auto", force=True)[0] == "regenerate"


def test_the_regenerate_plans_ask_the_one_rule() -> None:
    """Neither regenerate plan states the rule again: both call core.strategy.regenerate_rule."""
    from migmerge.core.plans import kmigrator_regenerate, regenerate

    for module in (regenerate, kmigrator_regenerate):
        source = Path(module.__file__ or "").read_text()
        assert "regenerate_rule(conflict, " in source, module.__name__
        assert "local.shared" not in source and ".shared and not force" not in source

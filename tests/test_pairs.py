"""Pairwise prediction in memory: each branch against the default branch, and each pair."""

from __future__ import annotations

import itertools
import random

import pytest

from migmerge.core.model import Migration
from migmerge.core.pairs import Contribution, _alone, _Union, app_pairs


def m(name: str, *deps: str, replaces: tuple[str, ...] = ()) -> Migration:
    return Migration(
        "polls",
        name,
        f"polls/migrations/{name}.py",
        tuple(("polls", d) for d in deps),
        tuple(("polls", r) for r in replaces),
    )


DEFAULT = {n.name: n for n in (m("0001_initial"), m("0002_b", "0001_initial"))}


def branch(ref: str, *added: Migration, removed: frozenset[str] = frozenset()) -> Contribution:
    return Contribution(ref, {x.name: x for x in added}, removed)


A = branch("a", m("0003_a", "0002_b"))
B = branch("b", m("0003_b", "0002_b"))
STACKED = branch("c", m("0003_a", "0002_b"), m("0004_c", "0003_a"))  # built on a
OLD = branch("d", m("0002_d", "0001_initial"))  # left main before 0002_b


def found(contributions: list[Contribution]) -> dict[tuple[str, ...], tuple[str, ...]]:
    return {f.refs: f.leaves for f in app_pairs("polls", DEFAULT, contributions)}


def test_each_against_the_default_and_each_pair() -> None:
    assert found([A, B, STACKED, OLD]) == {
        ("d",): ("0002_b", "0002_d"),
        ("a", "b"): ("0003_a", "0003_b"),
        ("a", "d"): ("0002_d", "0003_a"),
        ("b", "c"): ("0003_b", "0004_c"),
        ("b", "d"): ("0002_d", "0003_b"),
        ("c", "d"): ("0002_d", "0004_c"),
    }


def test_the_conflict_says_who_owns_each_leaf_and_where_the_branches_start() -> None:
    (pair,) = [f for f in app_pairs("polls", DEFAULT, [B, STACKED]) if f.refs == ("b", "c")]
    assert pair.owners == {"0003_b": ("b",), "0004_c": ("c",)}
    assert pair.ancestor == "0002_b"
    assert pair.branches == (("0003_b",), ("0003_a", "0004_c"))
    (alone,) = app_pairs("polls", DEFAULT, [OLD])
    assert alone.owners == {"0002_b": (), "0002_d": ("d",)}
    assert alone.ancestor == "0001_initial"


def test_a_branch_that_builds_on_the_default_leaf_is_clean() -> None:
    assert found([A]) == {}


def test_a_branch_that_deletes_a_default_migration_gets_its_own_graph() -> None:
    # It renamed 0002_b to 0003_b (a renumber pushed by mistake): the default
    # branch's 0002_b is gone, its own 0003_b is the leaf.
    renamed = branch("r", m("0003_b", "0001_initial"), removed=frozenset({"0002_b"}))
    assert found([renamed]) == {}
    assert found([renamed, A]) == {("r", "a"): ("0003_a", "0003_b")}


def test_a_squash_on_the_default_branch_is_followed() -> None:
    default = {
        **DEFAULT,
        "0001_squashed_0002_b": m("0001_squashed_0002_b", replaces=("0001_initial", "0002_b")),
    }
    late = branch("late", m("0003_x", "0002_b"))  # depends on a replaced migration
    assert app_pairs("polls", default, [late]) == []


def test_two_contents_under_one_name_are_left_to_the_caller() -> None:
    other = branch("o", m("0003_a", "0001_initial"))
    assert ("a", "o") not in found([A, other])


@pytest.mark.parametrize("seed", range(12))
def test_the_shared_graph_agrees_with_a_graph_per_combination(seed: int) -> None:
    rng = random.Random(seed)
    names = ["0001_initial", "0002_b"]
    contributions: list[Contribution] = []
    for i in range(8):
        # On the default branch, or stacked on an earlier branch (whose migrations it holds).
        under = rng.choice([None, *contributions])
        held = list(under.added.values()) if under else []
        parent = held[-1].name if held else rng.choice(names)
        chain = [m(f"{5 + j:04d}_{i}", parent if j == 0 else f"{4 + j:04d}_{i}") for j in range(2)]
        contributions.append(branch(f"r{i}", *held, *chain[: rng.randint(1, 2)]))
    union = _Union("polls", DEFAULT, contributions)
    for size in (1, 2):
        for chosen in itertools.combinations(contributions, size):
            fast = union.combine(chosen)
            slow = _alone("polls", DEFAULT, chosen)
            assert (fast and (fast.leaves, fast.ancestor, fast.branches)) == (
                slow and (slow.leaves, slow.ancestor, slow.branches)
            ), chosen

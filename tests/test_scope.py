"""Which git state the work is in, and whose each side is: decide_state from hand-made facts.

The end-to-end tests (test_check.py) make real merges and rebases; these name
every state the contract defines, in memory, so each rule is seen on its own.
"""

from __future__ import annotations

import pytest

from migmerge.reading.scope import StateFacts, decide_state

A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def facts(**values: object) -> StateFacts:
    base: dict[str, object] = {
        "head": A,
        "parents": (B,),
        "merge_head": None,
        "rebase_onto": None,
        "rebase_orig_head": None,
        "orig_head": None,
        "reflog": (),
    }
    base.update(values)
    return StateFacts(**base)  # type: ignore[arg-type]


def reflog(*messages: str, new: str = A) -> tuple[str, ...]:
    return tuple(f"{B} {new} Dev <d@example.com> 1700000000 +0000\t{m}" for m in messages)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(facts(), ("worktree", A, None), id="plain working tree"),
        pytest.param(facts(merge_head=C), ("merge", A, C), id="merge in progress"),
        pytest.param(
            facts(merge_head=C, rebase_onto=D), ("merge", A, C), id="MERGE_HEAD wins over a rebase"
        ),
        pytest.param(
            facts(rebase_onto=D, rebase_orig_head=C),
            ("rebase", C, D),
            id="rebase in progress: local is what is replayed, not git's ours",
        ),
        pytest.param(
            facts(head=A, parents=(B, C), orig_head=B),
            ("merge", B, C),
            id="merge just made: ORIG_HEAD is the first parent",
        ),
        pytest.param(
            facts(head=A, parents=(B, C), merge_head=C, orig_head=B),
            ("merge", B, C),
            id="merge just made, in its post-merge hook: git has not removed MERGE_HEAD yet",
        ),
        pytest.param(
            facts(head=A, parents=(B, C), orig_head=D),
            ("worktree", A, None),
            id="a merge commit checked out later is not a merge just made",
        ),
        pytest.param(
            facts(
                orig_head=C,
                reflog=reflog("rebase (start): checkout main", new=D)
                + reflog("rebase (pick): x", "rebase (finish): returning to refs/heads/feature"),
            ),
            ("rebase", C, D),
            id="rebase just finished: onto is where the reflog's start moved from",
        ),
        pytest.param(
            facts(orig_head=C, reflog=reflog("commit: x")),
            ("worktree", A, None),
            id="an ordinary commit after an old rebase",
        ),
    ],
)
def test_decide_state(state: StateFacts, expected: tuple[str, str | None, str | None]) -> None:
    assert decide_state(state) == expected

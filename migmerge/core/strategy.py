"""The strategy rules, stated once: the `auto` table, what each strategy refuses, and why.

Pure: conflicts in, a strategy (or a refusal) out. `resolve`, the hooks and
`check`'s suggestion all ask here, so a rule changed here changes everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from migmerge.core.model import CheckResult, Conflict, Leaf, Overlap, Strategy
from migmerge.errors import MigmergeError, Refused

if TYPE_CHECKING:
    from migmerge.doing.prompts import Questioner
    from migmerge.reading.config import Config

STRATEGIES: tuple[str, ...] = ("auto", "merge", "renumber", "regenerate")
_CHOICES = (
    ("merge", "merge: add a merge migration that depends on every leaf"),
    ("renumber", "renumber: move the local migrations after the upstream ones"),
    ("regenerate", "regenerate: roll back, delete the local migrations, makemigrations again"),
)


def choose_strategy(
    conflict: Conflict,
    requested: str | None,
    config: Config,
    *,
    force: bool,
    questioner: Questioner | None = None,
) -> tuple[Strategy, str]:
    """Pick the strategy for a conflict (the contract's auto table) and say why in a sentence."""
    _refuse_cross_app(conflict)
    wanted = requested or config.strategy
    if wanted not in STRATEGIES:
        raise MigmergeError(
            f"unknown strategy {wanted!r}", hint=f"use one of: {', '.join(STRATEGIES)}"
        )
    if wanted == "auto":
        return _auto(conflict, questioner)
    if wanted in ("merge", "renumber"):
        _refuse_on_overlap(conflict, wanted, force)
    return _as_strategy(wanted), f"{wanted} was asked for"


def _auto(conflict: Conflict, questioner: Questioner | None) -> tuple[Strategy, str]:
    """Apply the auto table; ask a person when an operation cannot be read."""
    strategy, why = recommend(conflict)
    if strategy is not None:
        return strategy, why
    reasons = "; ".join(conflict.overlap.reasons) or "an operation cannot be read"
    message = f"{conflict.app}: {reasons}. How should it be resolved?"
    hint = f"migmerge resolve --app {conflict.app} --strategy merge|renumber|regenerate"
    if questioner is None:
        raise Refused(f"{message} (a person must choose)", hint=hint)
    answer = questioner.choose(message, _CHOICES, default="merge")
    return _as_strategy(answer), f"{answer} was chosen because {why}"


def _as_strategy(value: str) -> Strategy:
    """Narrow a chosen value to a Strategy."""
    for strategy in ("merge", "renumber", "regenerate"):
        if value == strategy:
            return strategy
    raise MigmergeError(f"unknown strategy {value!r}")


def _refuse_cross_app(conflict: Conflict) -> None:
    """Refuse a cross-app conflict, with or without --force: only a person knows which side wins."""
    if conflict.kind != "cross-app":
        return
    user, taker = conflict.leaves[0], conflict.leaves[1]
    raise Refused(
        f"{user.app}.{user.name} ({user.side or 'side unknown'}) uses what "
        f"{taker.app}.{taker.name} ({taker.side or 'side unknown'}) takes away: "
        + "; ".join(conflict.overlap.reasons)
        + ". No strategy fixes that without guessing which side is right",
        hint=f"edit {user.path} so that it no longer uses it, or keep it in {taker.path}; "
        "then run `migmerge check`",
    )


def _refuse_on_overlap(conflict: Conflict, wanted: str, force: bool) -> None:
    """Refuse merge/renumber on a field or unknown overlap unless --force."""
    kind = conflict.overlap.kind
    if kind not in ("field", "unknown") or force:
        return
    reasons = "; ".join(conflict.overlap.reasons) or f"{kind} overlap"
    danger = "change the same things" if kind == "field" else "may change the same things"
    raise Refused(
        f"{conflict.app}: refusing to {wanted}: the branches {danger} ({reasons}); "
        "Django would apply both sets of operations one after the other",
        hint=f"migmerge resolve --app {conflict.app} --strategy regenerate "
        f"(or --strategy {wanted} --force if you checked the operations by hand)",
    )


def recommend(conflict: Conflict) -> tuple[Strategy | None, str]:
    """Return the contract's `auto` choice for a conflict, and why, in one sentence."""
    if conflict.kind == "cross-app":
        return None, conflict.strategy_why or "a person must change one of the two migrations"
    kind = conflict.overlap.kind
    if kind == "field":
        return "regenerate", "the branches change the same things, so the local side is regenerated"
    if kind == "unknown":
        return None, "an operation cannot be read, so a person must choose"
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    upstream = [leaf for leaf in conflict.leaves if leaf.side == "upstream"]
    if len(local) == 1 and upstream and not local[0].shared and not possibly_applied(local[0]):
        return "renumber", (
            f"the branches do not collide ({_overlap_words(conflict.overlap)}) and the local "
            "migrations are neither shared nor applied, so they move after the upstream ones"
        )
    return "merge", (
        f"the branches do not collide ({_overlap_words(conflict.overlap)}), but "
        f"{_why_not_renumber(local, upstream)}, so a merge migration joins them"
    )


def _overlap_words(overlap: Overlap) -> str:
    return "different models" if overlap.kind == "none" else "same models, different fields"


def _why_not_renumber(local: list[Leaf], upstream: list[Leaf]) -> str:
    if not local or not upstream:
        return "which side is local cannot be told"
    if len(local) > 1:
        return "more than one leaf is local"
    if local[0].shared:
        return "the local migrations are shared"
    if local[0].applied is None:
        return "whether the local migrations are applied cannot be read, so they may be"
    return "the local migrations are applied"


def possibly_applied(leaf: Leaf) -> bool:
    """Tell whether a leaf's branch may be applied: unknown (None) is never "not applied"."""
    return leaf.applied is not False


def safe_to_renumber(result: CheckResult) -> bool:
    """Tell whether every conflict can be renumbered without asking anyone."""
    return bool(result.conflicts) and all(_renumberable(c) for c in result.conflicts)


def _renumberable(conflict: Conflict) -> bool:
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    known_sides = all(leaf.side is not None for leaf in conflict.leaves)
    untouched = not any(leaf.shared or possibly_applied(leaf) for leaf in local)
    return conflict.overlap.kind in ("none", "model") and known_sides and bool(local) and untouched


def unsafe_reason(result: CheckResult) -> str:
    for conflict in result.conflicts:
        if conflict.kind == "cross-app":
            return f"{conflict.app}: a cross-app conflict needs a person to change a migration"
        if conflict.overlap.kind not in ("none", "model"):
            return f"{conflict.app}: both sides touch the same things ({conflict.overlap.kind})"
        if any(leaf.side is None for leaf in conflict.leaves):
            return f"{conflict.app}: cannot tell which migrations are yours"
        local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
        if any(leaf.applied is None and not leaf.shared for leaf in local):
            return f"{conflict.app}: whether your migrations are applied cannot be read"
    return "your migrations are shared or applied to the database"


def resolve_command(conflicts: Sequence[Conflict], *, rebase: bool) -> str:
    """Return the command that resolves `conflicts` in the way that suits them."""
    linear = all(c.overlap.kind in ("none", "model") for c in conflicts)
    if rebase and linear:
        return "migmerge resolve --strategy renumber"
    return "migmerge resolve"

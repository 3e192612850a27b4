"""The strategy rules, stated once: the `auto` table, what each strategy refuses, and why.

Pure: conflicts in, a strategy (or a refusal) out. `resolve`, the hooks and
`check`'s suggestion all ask here, so a rule changed here changes everywhere.
Whether migrations may be renamed (shared, applied, unknown) is the renumber
rule, in core/renumber_safety.py; `decide` states both as one table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from migmerge.core.model import CheckResult, Conflict, Leaf, Overlap, Strategy
from migmerge.errors import MigmergeError, Refused

if TYPE_CHECKING:
    from migmerge.core.questions import Questioner
    from migmerge.core.renumber_safety import Facts

STRATEGIES: tuple[str, ...] = ("auto", "merge", "renumber", "regenerate")
_CHOICES = (
    ("merge", "merge: add a merge migration that depends on every leaf"),
    ("renumber", "renumber: move the local migrations after the upstream ones"),
    ("regenerate", "regenerate: roll back, delete the local migrations, makemigrations again"),
)


def choose_strategy(
    conflict: Conflict,
    requested: str | None,
    configured: str,
    *,
    force: bool,
    questioner: Questioner | None = None,
) -> tuple[Strategy, str]:
    """Pick the strategy for a conflict (the contract's auto table) and say why in a sentence.

    `requested`: the --strategy flag; `configured`: the project's configured strategy.
    """
    _refuse_cross_app(conflict)
    wanted = requested or configured
    if wanted not in STRATEGIES:
        raise MigmergeError(
            f"unknown strategy {wanted!r}", hint=f"use one of: {', '.join(STRATEGIES)}"
        )
    if wanted == "auto":
        return _auto(conflict, questioner)
    if wanted in ("merge", "renumber"):
        _refuse_on_overlap(conflict, wanted, force)
    return as_strategy(wanted), f"{wanted} was asked for"


def _auto(conflict: Conflict, questioner: Questioner | None) -> tuple[Strategy, str]:
    """Apply the auto table; ask a person when an operation cannot be read."""
    strategy, why = recommend(conflict)
    if strategy is not None:
        return strategy, why
    reasons = "; ".join(conflict.overlap.reasons) or "an operation cannot be read"
    message = f"{conflict.app}: {reasons}. How should it be resolved?"
    hint = _overlap_hint(conflict, "merge")
    if questioner is None:
        raise Refused(f"{message} (a person must choose)", hint=hint)
    answer = questioner.choose(message, _CHOICES, default="merge")
    return as_strategy(answer), f"{answer} was chosen because {why}"


def as_strategy(value: str) -> Strategy:
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
        hint=_overlap_hint(conflict, wanted),
    )


def _overlap_hint(conflict: Conflict, wanted: str) -> str:
    """The ways past a (possible) overlap that the same facts allow: regenerate, or --force."""
    forced = f"--strategy {wanted} --force if you checked the operations by hand"
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    if len(local) != 1 or local[0].shared:  # regenerate would refuse these
        return f"migmerge resolve --app {conflict.app} {forced}"
    return f"migmerge resolve --app {conflict.app} --strategy regenerate (or {forced})"


def merge_command(conflict: Conflict) -> str:
    """The merge a refusal suggests: with --force only where the overlap needs it."""
    forced = " --force" if conflict.overlap.kind in ("field", "unknown") else ""
    return f"migmerge resolve --app {conflict.app} --strategy merge{forced}"


def regenerate_rule(conflict: Conflict, local: Leaf, *, force: bool) -> None:
    """Refuse to regenerate a shared local side without --force (someone may have applied it).

    Regenerating deletes the local migrations and writes new ones: for a
    migration pushed or on the default branch, that is a rename others would
    see. The hint is a merge, which changes no migration.
    """
    if local.shared and not force:
        raise Refused(
            f"{conflict.app}: refusing to regenerate {', '.join(local.branch)}: they are shared "
            "(pushed or on the default branch), so someone may have applied them",
            hint=f"{merge_command(conflict)} (or --strategy regenerate --force if nobody has "
            "applied them)",
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
    if len(local) == 1 and upstream and _untouched(conflict.app, local):
        return "renumber", (
            f"the branches do not collide ({_overlap_words(conflict.overlap)}) and the local "
            "migrations are neither shared nor applied, so they move after the upstream ones"
        )
    return "merge", (
        f"the branches do not collide ({_overlap_words(conflict.overlap)}), but "
        f"{_why_not_renumber(local, upstream)}, so a merge migration joins them"
    )


def _untouched(app: str, local: Sequence[Leaf]) -> bool:
    """True when `renumber_rule` lets the local leaves move without --force or the database."""
    from migmerge.core.renumber_safety import renumber_rule  # only where there is a conflict

    try:
        return renumber_rule(app, local, force=False, applied="refuse").database == "untouched"
    except Refused:
        return False


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
        return "whether the local migrations are applied cannot be read (they may be)"
    return "the local migrations are applied"


def safe_to_renumber(result: CheckResult) -> bool:
    """Tell whether every conflict can be renumbered without asking anyone (auto would)."""
    return bool(result.conflicts) and all(recommend(c)[0] == "renumber" for c in result.conflicts)


def unsafe_reason(result: CheckResult) -> str:
    """Say why `safe_to_renumber` is false: the first conflict auto would not renumber, and why."""
    for conflict in result.conflicts:
        strategy, why = recommend(conflict)
        if strategy != "renumber":
            return f"{conflict.app}: {why}"
    return "there is nothing to renumber"


def decide(
    conflict: Conflict,
    requested: str | None,
    configured: str,
    *,
    force: bool,
    applied: str | None = None,
    keep_names: bool = False,
    facts: Facts | None = None,
) -> tuple[Strategy, str]:
    """The whole rule without asking anyone: the strategy, and what happens to the database.

    What `resolve` does when nobody can be asked: `choose_strategy`, then, for a
    renumber, `renumber_rule` over the local leaves ("n/a" for other strategies).
    """
    from migmerge.core.renumber_safety import NO_FACTS, renumber_rule  # not on the check path

    strategy, _ = choose_strategy(conflict, requested, configured, force=force)
    if strategy == "regenerate":
        local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
        if len(local) == 1:
            regenerate_rule(conflict, local[0], force=force)
    if strategy != "renumber":
        return strategy, "n/a"
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    rule = renumber_rule(
        conflict.app,
        local,
        force=force,
        applied=applied,
        keep_names=keep_names,
        facts=NO_FACTS if facts is None else facts,
    )
    if rule.refusal is not None:
        raise rule.refusal
    return strategy, rule.database


def resolve_command(conflicts: Sequence[Conflict], *, rebase: bool) -> str:
    """Return the command that resolves `conflicts` as `check` recommends (never one refused)."""
    if rebase and conflicts and all(recommend(c)[0] == "renumber" for c in conflicts):
        return "migmerge resolve --strategy renumber"
    return "migmerge resolve"

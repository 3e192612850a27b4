"""The words of `check --branches`: the table of pairs, the JSON document, CI annotations.

Pure functions returning strings, as report.py is for `check`; the
annotations use report's one encoder of GitHub workflow commands.
"""

from __future__ import annotations

from migmerge.core.branch_records import BranchesResult, Pair
from migmerge.core.model import Conflict
from migmerge.report import on_leaf, workflow_command


def branches_json(result: BranchesResult) -> str:
    """Render the contract's `check --branches --format json` document."""
    import json

    return json.dumps(result.to_json(), indent=2)


def branches_text(result: BranchesResult) -> str:
    """Render `check --branches` for a person: a table of the pairs that conflict."""
    refs = ", ".join(b.ref for b in result.branches)
    count = len(result.branches)
    lines = [
        f"{count} branch{'es' if count != 1 else ''} changed migrations since leaving "
        f"{result.default}" + (f": {refs}" if refs else "")
    ]
    rows = [_pair_row(pair, conflict) for pair in result.pairs for conflict in pair.conflicts]
    if rows:
        header = ("branch", "conflicts with", "app", "leaves", "overlap")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        lines.append("")
        for row in [header, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths)]
            lines.append("  ".join([*cells, row[4]]).rstrip())
    else:
        lines.append(f"No conflicts: none conflicts with {result.default} or with another.")
    lines += [f"warning: {w.message}" for w in result.warnings]
    lines += _branches_hint(result)
    return "\n".join(lines)


def _pair_row(pair: Pair, conflict: Conflict) -> tuple[str, str, str, str, str]:
    """One table row: branch, conflicts with, app, leaves, overlap."""
    if conflict.kind == "cross-app":
        user, taker = conflict.leaves[0], conflict.leaves[1]
        leaves = (
            f"{user.app}.{user.name} ({user.ref}) uses what "
            f"{taker.app}.{taker.name} ({taker.ref}) takes away"
        )
        return pair.a, pair.b, conflict.app, leaves, "cross-app"
    leaves = ", ".join(f"{leaf.name} ({leaf.ref})" for leaf in conflict.leaves)
    overlap = "same-name" if conflict.kind == "same-name" else conflict.overlap.kind
    return pair.a, pair.b, conflict.app, leaves, overlap


def _branches_hint(result: BranchesResult) -> list[str]:
    current = result.current
    mine = [p for p in result.pairs if current in (p.a, p.b)]
    if not mine:
        return []
    others = ", ".join(dict.fromkeys(p.b if p.a == current else p.a for p in mine))
    first = mine[0].b if mine[0].a == current else mine[0].a
    return [
        "",
        f"{current} conflicts with {others}",
        f"hint: see one in full with `migmerge check --against {first}`",
    ]


def branches_github(result: BranchesResult) -> str:
    """Annotate the current branch's files; say the other pairs as notices."""
    current = result.current
    lines = []
    for pair in result.pairs:
        for conflict in pair.conflicts:
            lines += _pair_annotations(pair, conflict, current)
    for warning in result.warnings:
        mine = warning.ref == current
        where = {"file": warning.path} if warning.path and mine else {}
        lines.append(workflow_command("warning" if mine else "notice", where, warning.message))
    if not result.pairs:
        lines.append(f"No migration conflicts between the branches and {result.default}.")
    return "\n".join(lines)


def _pair_annotations(pair: Pair, conflict: Conflict, current: str | None) -> list[str]:
    _, other, app, leaves, overlap = _pair_row(pair, conflict)
    if current not in (pair.a, pair.b):
        title = {"title": f"{pair.a} and {pair.b} conflict in {app}"}
        return [workflow_command("notice", title, f"{leaves}; overlap {overlap}")]
    other = pair.b if pair.a == current else pair.a
    message = f"{leaves}; overlap {overlap}. " + " ".join(conflict.overlap.reasons)
    title = {"title": f"Migration conflict with {other} in {app}"}
    mine = [leaf for leaf in conflict.leaves if leaf.ref == current]
    return [on_leaf(leaf, title, message) for leaf in mine]

"""The merge strategy: the merge migration `makemigrations --merge` would write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from migmerge.core.model import Action, Conflict, Plan
from migmerge.core.plans.steps import max_migration
from migmerge.core.writer import merge_number, render_merge_migration
from migmerge.errors import MigmergeError

if TYPE_CHECKING:
    from migmerge.reading.analysis import Analysis


def plan_merge(analysis: Analysis, conflict: Conflict) -> Plan:
    """Plan the merge migration makemigrations --merge would write, depending on every leaf."""
    leaves = [leaf.name for leaf in conflict.leaves]
    name, source = render_merge_migration(conflict.app, leaves, merge_number(leaves))
    path = f"{conflict.directory}/{name}.py"
    if (analysis.root / path).exists():
        raise MigmergeError(f"{path} already exists", hint="remove it or rename it, then retry")
    write = Action(
        "write",
        f"a merge migration depending on every leaf ({', '.join(sorted(leaves))}), "
        "as makemigrations --merge writes it",
        path=path,
        content=source,
    )
    actions = (write, *max_migration(analysis.root, conflict.directory, name))
    return Plan("merge", conflict.app, actions, afterwards=(f"git add {path}",))

"""The merge strategy: the merge migration `makemigrations --merge` would write.

Rendered as the project's own Django writes it (its version in the header,
black run when it runs black): `resolve` asks `reading.render` for every merge
of a run at once (one process), and hands each plan its rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from migmerge.core.model import Conflict
from migmerge.core.plan import Action, MergeRequest, Plan, Rendered
from migmerge.core.plans.steps import max_migration
from migmerge.core.writer import merge_number
from migmerge.errors import MigmergeError, Refused

if TYPE_CHECKING:
    from migmerge.core.plans.inputs import AnalysisView


def merge_request(conflict: Conflict) -> MergeRequest:
    """What to render for the merge migration of `conflict`: one depending on every leaf."""
    leaves = tuple(leaf.name for leaf in conflict.leaves)
    number = merge_number(leaves)
    future = f"{conflict.directory}/{number:04d}_merge.py"  # black reads its config there
    return MergeRequest(conflict.app, leaves, number, future)


def plan_merge(analysis: AnalysisView, conflict: Conflict, rendered: Rendered) -> Plan:
    """Plan the merge migration makemigrations --merge would write (`rendered` for `conflict`)."""
    leaves = [leaf.name for leaf in conflict.leaves]
    path = f"{conflict.directory}/{rendered.name}.py"
    if (analysis.root / path).exists():
        raise MigmergeError(f"{path} already exists", hint="remove it or rename it, then retry")
    write = Action(
        "write",
        f"a merge migration depending on every leaf ({', '.join(sorted(leaves))}), "
        f"as makemigrations --merge writes it: rendered by {rendered.how}",
        path=path,
        content=rendered.source,
    )
    actions = (write, *max_migration(analysis.root, conflict.directory, rendered.name))
    refuse_links_out(analysis, conflict.app, actions)
    return Plan("merge", conflict.app, actions, afterwards=(f"git add {path}",))


def refuse_links_out(analysis: AnalysisView, app: str, actions: Sequence[Action]) -> None:
    """Refuse a plan that would write through a link leading out of the repository."""
    writes = []
    for action in actions:
        if action.action in ("write", "edit") and action.path:
            writes.append((action.path, True))
        elif action.action in ("rename", "delete"):
            writes += [(p, False) for p in (action.path, action.target) if p]
    found = analysis.links_out(writes)
    if found:
        raise Refused(
            f"{app}: refusing to write through a link out of the repository: {', '.join(found)}",
            hint="replace the link with the file or folder it points to, then retry",
        )

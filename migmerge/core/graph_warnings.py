"""What is wrong with a migration graph, as warnings: pure, the graph in, warnings out.

A dependency on a migration that does not exist, a circle of dependencies
(each worded as the Django error `migrate` would stop with), several
migrations with one number that are not a conflict, a file read only in part.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from migmerge.core.graph import Graph, Missing
from migmerge.core.model import Key, Migration, Warning


def unreadable_warning(migration: Migration) -> Warning:
    """Say which file could not be read in full, and what was assumed instead."""
    assumed = f"; {migration.dynamic}" if migration.dynamic else ""
    return Warning(
        "unreadable-migration",
        migration.app,
        f"{migration.path}: {migration.unreadable}{assumed}; what it does not show counts as "
        "unknown",
        migration.path,
    )


def graph_warnings(graph: Graph, packages: Sequence[tuple[str, str]]) -> list[Warning]:
    """Every warning `graph` gives; `packages`: (label, folder) of each migrations package."""
    folders = dict(packages)
    out = [_missing(graph, missing, folders) for missing in graph.missing]
    cycle = graph.cycle()
    if cycle is not None:
        out.append(_cycle(graph, cycle))
    for label, _ in packages:
        out += _duplicate_numbers(graph, label)
    return out


def _missing(graph: Graph, missing: Missing, folders: Mapping[str, str]) -> Warning:
    """Say which file names a migration that does not exist, as Django's NodeNotFoundError."""
    (app, name), (node_app, node_name) = missing.origin, missing.node
    path = graph.migrations[missing.origin].path
    verb = "depends on" if missing.how == "dependencies" else "must run before (run_before)"
    folder = folders.get(node_app)
    expected = f" (no {folder}/{node_name}.py)" if folder else ""
    return Warning(
        "missing-dependency",
        app,
        f"{path}: {app}.{name} {verb} {node_app}.{node_name}, which does not exist{expected}; "
        "Django's migrate stops there with NodeNotFoundError (hint: restore that migration "
        "or point the dependency at one that exists)",
        path,
    )


def _cycle(graph: Graph, cycle: list[Key]) -> Warning:
    """Say which migrations depend on each other in a circle, as Django would refuse them."""
    names = " -> ".join(f"{a}.{n}" for a, n in [*cycle, cycle[0]])
    first = graph.migrations.get(cycle[0])
    return Warning(
        "circular-dependency",
        cycle[0][0],
        f"{names} depend on each other in a circle; Django's migrate stops there with "
        "CircularDependencyError (hint: make one of them depend on a migration before the others)",
        first.path if first is not None else None,
    )


def _duplicate_numbers(graph: Graph, app: str) -> list[Warning]:
    names = graph.nodes(app)
    numbers = [name.partition("_")[0] for name in names]
    if len(set(numbers)) == len(numbers):
        return []  # the usual case, found without a loop in Python
    twice = {n for n, count in Counter(numbers).items() if count > 1 and n.isdigit()}
    if not twice:
        return []
    repeated: dict[str, list[str]] = {}
    for name, number in zip(names, numbers):
        if number in twice:  # a long history with one repeated number: one look each
            repeated.setdefault(number, []).append(name)
    conflicting = len(graph.leaves(app)) > 1
    out = []
    for number, names in sorted(repeated.items()):
        in_line = _in_line(graph, app, names)
        if conflicting and not in_line:
            continue  # the conflict itself: reported as such
        how = "in a straight line" if in_line else "on parallel branches joined by a merge"
        out.append(
            Warning(
                "duplicate-number",
                app,
                f"{app} has several migrations numbered {number}: {', '.join(names)} "
                f"({how}: not a conflict)",
            )
        )
    return out


def _in_line(graph: Graph, app: str, names: list[str]) -> bool:
    """Tell whether each of `names` descends from the one before it."""
    chain = sorted(names, key=lambda n: len(graph.ancestry((app, n))))
    return all((app, a) in graph.ancestry((app, b)) for a, b in zip(chain, chain[1:]))

"""Which branches conflict with the default branch and with each other, in one app, in memory.

Pure: the default branch's migrations of one app and what each branch adds
or removes there in, the conflicting combinations out. Every branch is laid
on the default branch, as pull requests land: a branch conflicts with the
default branch when the app has two leaves once it is merged, and two
branches conflict with each other when, both merged, a leaf of each is left.

One graph holds the default branch and every branch that only adds
migrations; a combination's leaves are read off it by keeping only the
children that combination has. A branch that removes or rewrites a
migration of the default branch, adds a squash, or uses `run_before` gets a
graph of its own per combination (rare; Django's rules then apply in full).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from itertools import combinations
from typing import NamedTuple

from migmerge.core.graph import Graph
from migmerge.core.model import Key, Migration


class Contribution(NamedTuple):
    """What one branch does to one app, against the default branch."""

    ref: str
    added: Mapping[str, Migration]  # name -> header: migrations it adds or changes
    removed: frozenset[str] = frozenset()  # the default branch's migrations it deletes


class Found(NamedTuple):
    """One conflicting combination in one app: the default plus `refs`."""

    app: str
    refs: tuple[str, ...]  # (a,): a against the default branch; (a, b): a with b
    leaves: tuple[str, ...]
    owners: Mapping[str, tuple[str, ...]]  # leaf -> the refs that add it; () the default's
    ancestor: str | None
    branches: tuple[tuple[str, ...], ...]  # per leaf, from just after the ancestor


def app_pairs(
    app: str, default: Mapping[str, Migration], contributions: Sequence[Contribution]
) -> list[Found]:
    """Find every branch that conflicts with the default branch, and every conflicting pair."""
    union = _Union(app, default, [c for c in contributions if _simple(c, default)])
    out: list[Found] = []
    for c in contributions:
        found = union.combine((c,)) if c.ref in union.simple else _alone(app, default, (c,))
        if found and any(c.ref in found.owners[leaf] for leaf in found.leaves):
            out.append(found)
    for a, b in combinations(contributions, 2):
        if _clashing_names(a, b):
            continue  # the same file, two contents: git's add/add, told apart by the caller
        both = (a, b)
        simple = a.ref in union.simple and b.ref in union.simple
        found = union.combine(both) if simple else _alone(app, default, both)
        if found and _each_leaves_one(found, a.ref, b.ref):
            out.append(found)
    return out


def _simple(c: Contribution, default: Mapping[str, Migration]) -> bool:
    """Tell whether a branch only adds plain migrations (the shared graph can hold it)."""
    if c.removed or any(name in default for name in c.added):
        return False
    return _plain(next(iter(c.added.values())).app, c.added.values()) if c.added else True


def _clashing_names(a: Contribution, b: Contribution) -> bool:
    return any(name in b.added and b.added[name] != m for name, m in a.added.items())


def _each_leaves_one(found: Found, a: str, b: str) -> bool:
    """Tell whether a leaf of `a` alone and a leaf of `b` alone are left."""
    owners = [found.owners[leaf] for leaf in found.leaves]
    return any(a in o and b not in o for o in owners) and any(b in o and a not in o for o in owners)


class _Union:
    """The default branch's graph of one app with every simple branch's migrations in it.

    When the default branch's migrations are plain (no squash, `run_before`
    or computed dependencies, the usual case) its leaves come from the
    dependencies alone and only the branches' migrations get edges: the
    cost follows what the branches add, not the app's history. The full
    graph is built only for what needs its walks.
    """

    def __init__(
        self, app: str, default: Mapping[str, Migration], simple: Sequence[Contribution]
    ) -> None:
        self.app = app
        self.simple = {c.ref for c in simple}
        self.default = {(app, name) for name in default}
        self.owners: dict[Key, tuple[str, ...]] = {}
        self.migrations = {(app, name): m for name, m in default.items()}
        for c in simple:
            for name, migration in c.added.items():
                key = (app, name)
                self.migrations.setdefault(key, migration)
                self.owners[key] = (*self.owners.get(key, ()), c.ref)
        self._graph: Graph | None = None
        if _plain(app, default.values()):
            self.parents, self.children, self.default_leaves = self._light(default)
        else:
            graph = self.graph
            self.parents, self.children = graph.parents, graph.children
            self.default_leaves = self._leaves(self.default, self.default.__contains__)

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = Graph(self.migrations)
        return self._graph

    def _light(
        self, default: Mapping[str, Migration]
    ) -> tuple[dict[Key, set[Key]], dict[Key, set[Key]], list[Key]]:
        """Edges of the branches' migrations only, and the default branch's leaves."""
        app = self.app
        below = {dep for m in default.values() for dep in m.dependencies if dep[0] == app}
        leaves = [key for key in self.default if key not in below]
        parents: dict[Key, set[Key]] = {}
        children: dict[Key, set[Key]] = {key: set() for key in (*leaves, *self.owners)}
        for key in self.owners:
            deps = self.migrations[key].dependencies
            parents[key] = {d for d in deps if d[0] == app and d in self.migrations}
            for parent in parents[key]:
                children.setdefault(parent, set()).add(key)
        return parents, children, leaves

    def _leaves(self, candidates: Iterable[Key], member: Callable[[Key], bool]) -> list[Key]:
        """The candidates that have no child of the app among the members."""
        children = self.children
        app = self.app
        return [
            key
            for key in candidates
            if key in children and not any(c[0] == app and member(c) for c in children[key])
        ]

    def combine(self, chosen: tuple[Contribution, ...]) -> Found | None:
        """The default branch with `chosen` merged: its leaves, when more than one."""
        refs = {c.ref for c in chosen}
        added = [k for k, owners in self.owners.items() if refs.intersection(owners)]

        def member(key: Key) -> bool:
            return key in self.default or bool(refs.intersection(self.owners.get(key, ())))

        leaves = sorted(self._leaves([*self.default_leaves, *added], member))
        if len(leaves) < 2:
            return None
        owners = {k[1]: tuple(r for r in self.owners.get(k, ()) if r in refs) for k in leaves}
        refs_in = tuple(c.ref for c in chosen)
        names = [k[1] for k in leaves]
        shape = _near(self.app, self.parents, leaves, self.default)
        if shape is None:
            return _found(self.app, self.graph, refs_in, leaves, owners)
        return Found(self.app, refs_in, tuple(names), owners, *shape)


def _plain(app: str, migrations: Iterable[Migration]) -> bool:
    """Tell whether dependencies alone give the edges (no squash, run_before, computed ones)."""
    for m in migrations:
        if m.replaces or m.run_before or m.dynamic:
            return False
        if any(d[0] == app and d[1] in ("__first__", "__latest__") for d in m.dependencies):
            return False
    return True


def _alone(
    app: str, default: Mapping[str, Migration], chosen: tuple[Contribution, ...]
) -> Found | None:
    """The default branch with `chosen` merged, on a graph of its own."""
    migrations = {(app, name): m for name, m in default.items()}
    owners: dict[str, tuple[str, ...]] = {}
    for c in chosen:
        for name in c.removed:
            migrations.pop((app, name), None)
        for name, migration in c.added.items():
            migrations[(app, name)] = migration
            owners[name] = (*owners.get(name, ()), c.ref)
    graph = Graph(migrations)
    leaves = sorted((app, name) for name in graph.leaves(app))
    if len(leaves) < 2:
        return None
    refs = tuple(c.ref for c in chosen)
    return _found(app, graph, refs, leaves, {k[1]: owners.get(k[1], ()) for k in leaves})


def _found(
    app: str,
    graph: Graph,
    refs: tuple[str, ...],
    leaves: Sequence[Key],
    owners: Mapping[str, tuple[str, ...]],
) -> Found:
    """A conflicting combination, its ancestor and branches walked on the full graph."""
    names = [k[1] for k in leaves]
    ancestor = graph.common_ancestor(app, names)
    branches = tuple(tuple(graph.branch(app, ancestor, name)) for name in names)
    return Found(app, refs, tuple(names), owners, ancestor, branches)


def _near(
    app: str, parents: Mapping[Key, set[Key]], leaves: Sequence[Key], default: Collection[Key]
) -> tuple[str, tuple[tuple[str, ...], ...]] | None:
    """Ancestor and branches without walking the default branch's whole history.

    The usual case: every leaf is a branch's own, and each branch's own
    migrations rest on one and the same migration of the default branch,
    which is then the newest they all descend from (Django's graph names the
    same). Anything else (a leaf of the default branch, branches resting on
    different migrations, sharing some) is left to the graph's full walks.
    """
    found = [_own(app, parents, leaf, default) for leaf in leaves]
    rests = {rest for _, rest in found}
    owns = [own for own, _ in found]
    if None in rests or len(rests) != 1 or sum(map(len, owns)) != len(set().union(*owns)):
        return None
    (rest,) = rests
    assert rest is not None
    return rest[1], tuple(_order(parents, own) for own in owns)


def _own(
    app: str, parents: Mapping[Key, set[Key]], leaf: Key, default: Collection[Key]
) -> tuple[set[Key], Key | None]:
    """A leaf's own migrations (not the default branch's), and the one default migration
    they rest on (None: the leaf is the default's, or they rest on several)."""
    if leaf in default:
        return set(), None
    own = {leaf}
    rests = set()
    stack = [leaf]
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent[0] != app or parent in own:
                continue
            if parent in default:
                rests.add(parent)
            else:
                own.add(parent)
                stack.append(parent)
    return own, (rests.pop() if len(rests) == 1 else None)


def _order(parents: Mapping[Key, set[Key]], members: set[Key]) -> tuple[str, ...]:
    """Members in the graph's order: each after its parents, ties by name (as Graph.branch)."""
    pending = {k: {p for p in parents.get(k, ()) if p in members} for k in members}
    order: list[str] = []
    while pending:
        ready = sorted(k for k, deps in pending.items() if not deps) or sorted(pending)
        for key in ready:
            order.append(key[1])
            del pending[key]
        for deps in pending.values():
            deps.difference_update(ready)
    return tuple(order)

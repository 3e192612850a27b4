"""The migration graph, built as Django's MigrationLoader builds it, from data only.

It knows no files: give it migrations read by `parse`, get leaves, the common
ancestor of conflicting leaves and each leaf's branch.

Where Django's loader would stop with NodeNotFoundError (a dependency on a
migration that does not exist), the graph keeps going: the edge is recorded in
`missing`, the missing node stands in as a dummy while squashes are applied
(so a squash can repoint it, as in Django), and no reading method ever returns
a dummy: leaves, ancestors and branches hold only migrations that exist.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, NamedTuple

from migmerge.core.model import Key, Migration


class Missing(NamedTuple):
    """A reference to a migration that does not exist (Django: NodeNotFoundError)."""

    origin: Key  # the migration that names it
    node: Key  # what it names
    how: Literal["dependencies", "run_before"]


class Lineage(NamedTuple):
    """Depth and ancestry among a few chosen keys of a graph (see Graph.lineage)."""

    depth: dict[Key, int]
    masks: dict[Key, int]
    bits: dict[Key, int]

    def before(self, a: Key, b: Key) -> bool:
        """Tell whether `a` is `b` or one of its ancestors."""
        return bool(self.masks[b] & self.bits[a])


class Graph:
    """Nodes are (app, name); an edge runs from a dependency to its dependant."""

    def __init__(
        self, migrations: Mapping[Key, Migration], applied: frozenset[Key] | None = None
    ) -> None:
        self.migrations = migrations
        self.parents: dict[Key, set[Key]] = {key: set() for key in migrations}
        self.children: dict[Key, set[Key]] = {key: set() for key in migrations}
        self.by_app: dict[str, list[str]] = defaultdict(list)
        for app, name in migrations:
            self.by_app[app].append(name)
        for names in self.by_app.values():
            names.sort()  # strings sort faster than (app, name) tuples
        self.missing: list[Missing] = []
        self._latest: dict[str, str | None] = {}
        # Each node's ancestry once walked (a check asks for a leaf's several times:
        # its common ancestor, its branch, the warnings); kept from the built graph only.
        self._ancestry: dict[Key, set[Key]] = {}
        parents, children = self.parents, self.children
        for key, migration in migrations.items():
            # Inlined fast path (ten thousand nodes per check): a dependency on
            # a node that exists is an edge; anything else goes the long way.
            own = False
            for dep in migration.dependencies:
                if dep in migrations:
                    parents[key].add(dep)
                    children[dep].add(key)
                    own = own or dep[0] == key[0]
                    continue
                target = self._resolve(key[0], dep)
                if target is not None:
                    own = own or target[0] == key[0]
                    self._edge(target, key, Missing(key, target, "dependencies"))
            if migration.dynamic and not own:
                previous = self._previous_by_number(migration)
                if previous is not None:
                    self._edge(previous, key)
        for migration in migrations.values():
            for later in migration.run_before:
                target = self._resolve(migration.app, later)
                if target is not None:
                    self._edge(migration.key, target, Missing(migration.key, target, "run_before"))
        self._apply_replacements(applied)
        self._ancestry.clear()  # the graph is built: from here on it does not change

    # building -----------------------------------------------------------

    def _edge(self, parent: Key, child: Key, missing: Missing | None = None) -> None:
        for key in (parent, child):
            if key not in self.parents:
                # A dummy node, so that a squash can repoint it, as Django does.
                self.parents[key] = set()
                self.children[key] = set()
        if missing is not None and missing.node not in self.migrations:
            self.missing.append(missing)
        self.parents[child].add(parent)
        self.children[parent].add(child)

    def _resolve(self, app: str, dep: Key) -> Key | None:
        """Turn __first__/__latest__ into a node; None for what Django skips."""
        dep_app, name = dep
        if name == "__first__":
            if dep_app == app:
                return None  # Django ignores same-app __first__ (#22325)
            names = self.by_app.get(dep_app)
            return (dep_app, self._roots(dep_app)[0]) if names else None
        if name == "__latest__" and dep_app != app:
            latest = self._latest_of(dep_app)
            return (dep_app, latest) if latest else None
        if dep_app not in self.by_app and dep not in self.migrations:
            return None  # an app outside this tree (django.contrib, a package)
        return dep

    def _roots(self, app: str) -> list[str]:
        names = self.by_app[app]
        own = set(names)
        roots = [
            n
            for n in names
            if not any(d[0] == app and d[1] in own for d in self.migrations[(app, n)].dependencies)
        ]
        return roots or names

    def _latest_of(self, app: str) -> str | None:
        """Django's `__latest__`: the first by name of the app's leaves by its own dependencies."""
        if app not in self._latest:
            names = self.by_app[app]
            below = {d[1] for n in names for d in self.migrations[(app, n)].dependencies}
            leaves = [n for n in names if n not in below]
            self._latest[app] = leaves[0] if leaves else (names[-1] if names else None)
        return self._latest[app]

    def _previous_by_number(self, migration: Migration) -> Key | None:
        names = self.by_app[migration.app]
        index = names.index(migration.name)
        return (migration.app, names[index - 1]) if index > 0 else None

    def _apply_replacements(self, applied: frozenset[Key] | None) -> None:
        for key, migration in sorted(self.migrations.items()):
            if not migration.replaces or key not in self.parents:
                continue
            done = [r in applied for r in migration.replaces] if applied is not None else []
            if all(done) or not any(done):
                self._remove_replaced(key, migration.replaces)
            else:
                self._remove_replacement(key, migration.replaces)
        # Still missing: what no squash stood in for, named by a migration in use.
        self.missing = [
            m
            for m in dict.fromkeys(self.missing)
            if m.node not in self.migrations and m.node in self.parents and m.origin in self.parents
        ]
        for key in [k for k in self.parents if k not in self.migrations]:
            if not self.children[key]:
                self._drop(key)

    def _remove_replaced(self, replacement: Key, replaced: Iterable[Key]) -> None:
        gone = set(replaced)
        for old in gone & set(self.parents):
            for child in list(self.children[old]):
                if child not in gone:
                    self._edge(replacement, child)
            for parent in list(self.parents[old]):
                if parent not in gone:
                    self._edge(parent, replacement)
            self._drop(old)

    def _remove_replacement(self, replacement: Key, replaced: tuple[Key, ...]) -> None:
        """Drop a partly applied squash; its dependants hang on the newest replaced nodes."""
        present = [r for r in replaced if r in self.parents]
        below = {p for r in present for p in self.parents[r]}
        newest = [r for r in present if r not in below]
        for child in list(self.children[replacement]):
            for old in newest:
                self._edge(old, child)
        self._drop(replacement)

    def _drop(self, key: Key) -> None:
        for parent in self.parents.pop(key, set()):
            self.children[parent].discard(key)
        for child in self.children.pop(key, set()):
            self.parents[child].discard(key)

    # reading ------------------------------------------------------------

    def _real(self, key: Key) -> bool:
        """Tell whether `key` is a migration in use (not replaced, not a dummy)."""
        return key in self.parents and key in self.migrations

    def nodes(self, app: str) -> list[str]:
        """Return the app's migrations in use, by name."""
        return [n for n in self.by_app.get(app, []) if (app, n) in self.parents]

    def leaves(self, app: str) -> list[str]:
        """Return migrations of `app` no other migration of `app` depends on."""
        children = self.children
        out = []
        for name in self.by_app.get(app, ()):
            below = children.get((app, name))
            if below is None:
                continue  # replaced by a squash
            for child in below:
                if child[0] == app and child in self.migrations:
                    break
            else:
                out.append(name)
        return out

    def conflicts(self) -> dict[str, list[str]]:
        """Return app -> leaves for every app with more than one leaf."""
        found = {app: self.leaves(app) for app in self.by_app}
        return {app: leaves for app, leaves in found.items() if len(leaves) > 1}

    def cycle(self) -> list[Key] | None:
        """One dependency cycle (Django's CircularDependencyError), or None.

        Kahn's algorithm leaves what lies on or after a cycle; walking parents
        from there inside that rest must come back to a node already seen.
        """
        waiting = {k: len(parents) for k, parents in self.parents.items()}
        ready = [k for k, count in waiting.items() if count == 0]
        while ready:
            key = ready.pop()
            del waiting[key]
            for child in self.children.get(key, ()):
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        if not waiting:
            return None
        path: list[Key] = []
        at = min(waiting)
        while at not in path:
            path.append(at)
            at = min(p for p in self.parents[at] if p in waiting)
        return path[path.index(at) :]

    def lineage(self, keys: Sequence[Key]) -> Lineage | None:
        """Which of `keys` each of them is or descends from, and its depth: one pass.

        Kahn's algorithm with a bitmask of `keys` per node, so asking about
        pairs of a long branch over a long history costs the sum of the two,
        not their product. None when a cycle leaves nodes unordered.
        """
        bit = {key: 1 << i for i, key in enumerate(keys)}
        waiting = {k: len(parents) for k, parents in self.parents.items()}
        ready = [k for k, count in waiting.items() if count == 0]
        masks: dict[Key, int] = {}
        depths: dict[Key, int] = {}
        while ready:
            key = ready.pop()
            mask, depth = bit.get(key, 0), 0
            for parent in self.parents[key]:
                mask |= masks[parent]
                depth = max(depth, depths[parent] + 1)
            masks[key], depths[key] = mask, depth
            for child in self.children.get(key, ()):
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        if len(masks) < len(waiting) or any(key not in masks for key in keys):
            return None
        return Lineage({key: depths[key] for key in keys}, {key: masks[key] for key in keys}, bit)

    def ancestors(self, key: Key) -> set[Key]:
        """Return `key` and everything it depends on, transitively (dummies included)."""
        known = self._ancestry.get(key)
        return set(known) if known is not None else self._walked(key)  # the caller's to change

    def ancestry(self, key: Key) -> set[Key]:
        """`ancestors`, walked once per key and kept: the caller must not change it.

        For the few keys asked again and again (leaves, their common ancestor,
        migrations sharing a number): each walk covers the whole history below.
        """
        known = self._ancestry.get(key)
        if known is None:
            known = self._ancestry[key] = self._walked(key)
        return known

    def _walked(self, key: Key) -> set[Key]:
        seen = {key}
        stack = [key]
        while stack:
            for parent in self.parents.get(stack.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    def common_ancestor(self, app: str, leaves: Iterable[str]) -> str | None:
        """Return the newest migration of `app` every leaf descends from."""
        walks = [self.ancestry((app, leaf)) for leaf in leaves]
        # What every leaf descends from, then only the app's migrations in use.
        shared = set.intersection(*walks) if walks else set()
        parents, migrations = self.parents, self.migrations  # _real, inlined: 20,000 calls
        common = {k for k in shared if k[0] == app and k in parents and k in migrations}
        if not common:
            return None
        # The newest: no other common ancestor descends from it (in a cycle, which
        # Django refuses, every one does: then the newest by name). What a common
        # one depends on is not newest: one union, not a look at each one's children.
        newest = common.difference(*[parents[k] for k in common])
        return max(newest or common, key=lambda k: k[1])[1]

    def branch(self, app: str, ancestor: str | None, leaf: str) -> list[str]:
        """Return the migrations from just after `ancestor` up to `leaf`, in order."""
        return self.branches(app, ancestor, [leaf])[0]

    def branches(self, app: str, ancestor: str | None, leaves: Iterable[str]) -> list[list[str]]:
        """Return each leaf's branch: its migrations after `ancestor`, in order.

        Linear in the part of the graph below each leaf: a long local branch
        over a long history costs the sum of the two, not their product.
        """
        below = self.ancestry((app, ancestor)) if ancestor is not None else set()
        return [self._ordered(app, self.ancestry((app, leaf)) - below) for leaf in leaves]

    def _ordered(self, app: str, members: set[Key]) -> list[str]:
        """`app`'s migrations among `members`, in dependency order, ties broken by name.

        Kahn's algorithm over every member (other apps' too: a path through
        another app still orders two migrations of this one).
        """
        waiting = {k: sum(1 for p in self.parents.get(k, ()) if p in members) for k in members}
        # Other apps' nodes first (they are not shown), then this app's by name.
        ready = [(k[0] == app, k[1], k) for k, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, name, key = heapq.heappop(ready)
            del waiting[key]
            if key[0] == app and key in self.migrations:
                order.append(name)
            for child in self.children.get(key, ()):
                if child in waiting:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        heapq.heappush(ready, (child[0] == app, child[1], child))
        # A cycle: Django refuses it too; keep a stable order.
        order += sorted(k[1] for k in waiting if k[0] == app and k in self.migrations)
        return order

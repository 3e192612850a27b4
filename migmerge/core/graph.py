"""The migration graph, built as Django's MigrationLoader builds it, from data only.

It knows no files: give it migrations read by `parse`, get leaves, the common
ancestor of conflicting leaves and each leaf's branch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from migmerge.core.model import Key, Migration


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
        self.missing: list[tuple[Key, Key]] = []
        parents, children = self.parents, self.children
        for key, migration in migrations.items():
            # Inlined fast path (ten thousand nodes per check): a dependency on
            # a node that exists is an edge; anything else goes the long way.
            own = False
            for dep in migration.dependencies:
                if dep in parents:
                    parents[key].add(dep)
                    children[dep].add(key)
                    own = own or dep[0] == key[0]
                    continue
                target = self._resolve(key[0], dep)
                if target is not None:
                    own = own or target[0] == key[0]
                    self._edge(target, key)
            if migration.dynamic and not own:
                previous = self._previous_by_number(migration)
                if previous is not None:
                    self._edge(previous, key)
        for migration in migrations.values():
            for later in migration.run_before:
                self._edge(migration.key, later, dependant_missing_ok=True)
        self._apply_replacements(applied)

    # building -----------------------------------------------------------

    def _edge(self, parent: Key, child: Key, dependant_missing_ok: bool = False) -> None:
        if parent not in self.parents or child not in self.parents:
            if child in self.parents or not dependant_missing_ok:
                self.missing.append((child, parent))
            # Dummy node so that a squash can repoint it, as Django does.
            self.parents.setdefault(parent, set())
            self.children.setdefault(parent, set())
            self.parents.setdefault(child, set())
            self.children.setdefault(child, set())
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
        if name == "__latest__":
            names = self.by_app.get(dep_app)
            return (dep_app, names[-1]) if names else None
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
        self.missing = [
            (child, parent)
            for child, parent in self.missing
            if child in self.migrations
            and parent not in self.migrations
            and child in self.parents
            and parent in self.parents
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
        last = next((r for r in reversed(replaced) if r in self.parents), None)
        for child in list(self.children[replacement]):
            if last is not None and child not in replaced:
                self._edge(last, child)
        self._drop(replacement)

    def _drop(self, key: Key) -> None:
        for parent in self.parents.pop(key, set()):
            self.children[parent].discard(key)
        for child in self.children.pop(key, set()):
            self.parents[child].discard(key)

    # reading ------------------------------------------------------------

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
                if child[0] == app:
                    break
            else:
                out.append(name)
        return out

    def conflicts(self) -> dict[str, list[str]]:
        """Return app -> leaves for every app with more than one leaf."""
        found = {app: self.leaves(app) for app in self.by_app}
        return {app: leaves for app, leaves in found.items() if len(leaves) > 1}

    def ancestors(self, key: Key) -> set[Key]:
        """Return `key` and everything it depends on, transitively."""
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
        sets = [{k for k in self.ancestors((app, leaf)) if k[0] == app} for leaf in leaves]
        common = set.intersection(*sets) if sets else set()
        if not common:
            return None
        # The newest: no other common ancestor descends from it.
        newest = [k for k in common if not any(c in common for c in self.children[k])]
        return max(newest, key=lambda k: k[1])[1]

    def branch(self, app: str, ancestor: str | None, leaf: str) -> list[str]:
        """Return the migrations from just after `ancestor` up to `leaf`, in order."""
        below = self.ancestors((app, ancestor)) if ancestor is not None else set()
        members = {k for k in self.ancestors((app, leaf)) if k[0] == app} - below
        return [k[1] for k in self._ordered(members)]

    def _ordered(self, members: set[Key]) -> list[Key]:
        """Topological order over `members`, ties broken by name."""
        pending = {k: {p for p in self.ancestors(k) if p in members and p != k} for k in members}
        order: list[Key] = []
        while pending:
            ready = sorted(k for k, deps in pending.items() if not deps)
            if not ready:  # a cycle: Django refuses it too; keep a stable order
                ready = sorted(pending)
            for key in ready:
                order.append(key)
                del pending[key]
            for deps in pending.values():
                deps.difference_update(ready)
        return order

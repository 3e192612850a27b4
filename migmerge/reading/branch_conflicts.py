"""`check --branches`: which pairs conflict, judged in memory from what each side holds.

Two leaves in one app (each branch with the default branch, each pair of
branches), two branches adding one file with different contents, one side
taking away what the other's migrations use, and a branch that rewrites a
migration of the default branch. Nothing is checked out; no check per pair.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import combinations

from migmerge.core import clashes, kmigrator
from migmerge.core.branch_records import BranchesResult, BranchInfo, Pair
from migmerge.core.graph import Graph
from migmerge.core.model import Conflict, Key, Leaf, Migration, Overlap, Side, Warning
from migmerge.core.pairs import Contribution, Found, app_pairs
from migmerge.core.strategy import recommend
from migmerge.reading import discover
from migmerge.reading.branch_versions import Branch, Changes, Versions, folders_of
from migmerge.reading.sides import renamed_to, rewrite_warning

# Operations that take something away: only migrations naming one need a full read
# to find what another branch's migrations might still use.
_TAKERS = (b"DeleteModel", b"RenameModel", b"RemoveField", b"RenameField")


class Prediction(Versions):
    """What the branches do to one another once merged: the conflicts of every pair."""

    def result(self, remote: str) -> BranchesResult:
        pairs: dict[tuple[str, str], list[Conflict]] = {}
        for conflict, refs in self.leaf_conflicts():
            pairs.setdefault(refs, []).append(conflict)
        for conflict, refs in self.cross_app_conflicts():
            pairs.setdefault(refs, []).append(conflict)
        infos = tuple(self.info(b) for b in self.branches)
        place = {b.ref: i for i, b in enumerate(self.branches)}
        order = sorted(
            pairs, key=lambda p: (place.get(p[0], len(place)), place.get(p[1], len(place)))
        )
        found = tuple(Pair(a, b, tuple(pairs[a, b])) for a, b in order)
        warnings = tuple(w for b in self.branches for w in self.rewrites(b))
        return BranchesResult(
            remote, self.default_ref, self.default_sha, infos, found, tuple(warnings)
        )

    def info(self, branch: Branch) -> BranchInfo:
        apps = sorted(
            {
                self.where.by_dir[p.rpartition("/")[0]].label
                for p in branch.own
                if p.rpartition("/")[0] in self.where.by_dir
            }
        )
        return BranchInfo(branch.ref, branch.commit, branch.base, branch.current, tuple(apps))

    def leaf_conflicts(self) -> Iterator[tuple[Conflict, tuple[str, str]]]:
        """Two leaves in one app: each branch with the default, each pair."""
        for package in self.scan.packages:
            touching = [b for b in self.branches if package.directory in folders_of(b.own)]
            if not touching:
                continue
            default = self.default_migrations(package)
            made = [(b, self.contribution(b, package)) for b in touching]
            contributions = [c for _, c in made if c is not None]
            for found in app_pairs(package.label, default, contributions):
                yield self.conflict(found, package), self.pair_of(found.refs)
            yield from self.same_names(package, [(b, c) for b, c in made if c is not None])

    def pair_of(self, refs: tuple[str, ...]) -> tuple[str, str]:
        return (refs[0], refs[1]) if len(refs) == 2 else (refs[0], self.default_ref)

    def conflict(self, found: Found, package: discover.Package) -> Conflict:
        """A `leaves` conflict of one combination, with each leaf's branch parsed and classified."""
        sides = _sides_of(found.refs, self.default_ref)
        names = {name for branch in found.branches for name in branch} | set(found.leaves)
        versions = {name: self.version(name, found.refs, package) for name in names}
        self.ensure(sha for _, sha in versions.values())
        leaves = []
        parsed_branches = []
        for leaf, branch in zip(found.leaves, found.branches):
            ref = found.owners[leaf][0] if found.owners[leaf] else self.default_ref
            members = [self.full(*versions[name]) for name in branch]
            parsed_branches.append(members)
            migration = versions[leaf][0]
            leaves.append(
                Leaf(
                    leaf,
                    migration.path,
                    sides.get(ref),
                    ref != "HEAD",
                    None,
                    branch,
                    tuple(op for m in members for op in m.operations or ()),
                    None,
                    ref,
                )
            )
        from migmerge.core.classify import classify  # only when there is a conflict to judge

        overlap = classify(package.label, parsed_branches)
        conflict = Conflict(
            package.label, package.directory, found.ancestor, tuple(leaves), overlap, None
        )
        strategy, why = recommend(conflict)
        return conflict._replace(strategy=strategy, strategy_why=why)

    def same_names(
        self, package: discover.Package, made: Sequence[tuple[Branch, Contribution]]
    ) -> Iterator[tuple[Conflict, tuple[str, str]]]:
        """Two branches adding one file with different contents: git stops on add/add."""
        for (a, ca), (b, cb) in combinations(made, 2):
            for name in sorted(ca.added.keys() & cb.added.keys()):
                path = ca.added[name].path
                if a.own.get(path) != b.own.get(path) and path not in self.tree.files:
                    yield self.same_name(package, name, path, (a, b)), (a.ref, b.ref)

    def same_name(
        self, package: discover.Package, name: str, path: str, pair: tuple[Branch, Branch]
    ) -> Conflict:
        sides: tuple[Side, Side] = ("local", "upstream")
        leaves = tuple(
            Leaf(name, path, side, b.ref != "HEAD", None, (name,), (), None, b.ref)
            for side, b in zip(sides, pair)
        )
        reason = (
            f"{pair[0].ref} and {pair[1].ref} both add {path} with different contents: "
            "git stops the merge on it (add/add)"
        )
        why = "rename one of them (a new number), then check again"
        return Conflict(
            package.label,
            package.directory,
            None,
            leaves,
            Overlap("unknown", (reason,)),
            None,
            why,
            "same-name",
        )

    # cross-app ----------------------------------------------------------------

    def cross_app_conflicts(self) -> Iterator[tuple[Conflict, tuple[str, str]]]:
        """One branch takes away what the other's (or the default branch's) migrations use."""
        takes = {b.ref: self.takes(b.own) for b in self.branches}
        for branch in self.branches:
            if takes[branch.ref] or self.takes(branch.since):
                mine = self.side_change(branch.ref, branch.own, "local")
                theirs = self.side_change(self.default_ref, branch.since, "upstream")
                for clash in clashes.cross_app(mine, theirs, self.ordered(mine, theirs)):
                    yield (
                        self.cross_conflict(clash, branch.ref, self.default_ref),
                        (
                            branch.ref,
                            self.default_ref,
                        ),
                    )
        for a, b in combinations(self.branches, 2):
            if takes[a.ref] or takes[b.ref]:
                mine = self.side_change(a.ref, a.own, "local")
                theirs = self.side_change(b.ref, b.own, "upstream")
                for clash in clashes.cross_app(mine, theirs, self.ordered(mine, theirs)):
                    yield self.cross_conflict(clash, a.ref, b.ref), (a.ref, b.ref)

    def takes(self, changes: Changes) -> bool:
        """Tell whether changes may take something away (a deleted file, a taking operation)."""
        for path, sha in changes.items():
            folder = path.rpartition("/")[0]
            if folder not in self.where.by_dir:
                continue
            if sha is None:
                return True
            text = self.blobs.get(sha, b"")
            if folder in self.scan.kmigrator:  # the Python sits base64-encoded in the .js
                text = b"".join(e.source for e in kmigrator.decode(text).entries)
            if any(op in text for op in _TAKERS):
                return True
        return False

    def side_change(self, ref: str, changes: Changes, side: Side) -> clashes.SideChange:
        """One side's changed migrations, fully read, and the migrations it deleted."""
        present = [
            self.full(m, sha) for path, sha in sorted(changes.items()) for m in self.held(path, sha)
        ]
        new: dict[Key | None, str] = {m.key: m.path for m in present}
        gone: dict[Key, str | None] = {}
        for path, sha in sorted(changes.items()):
            if sha is None:
                for m in self.held(path, self.tree.files.get(path)):
                    gone[m.key] = renamed_to(m.key, new) if m.key not in new else None
        return clashes.SideChange(side, tuple(present), gone)

    def ordered(self, a: clashes.SideChange, b: clashes.SideChange) -> _Ordered:
        return _Ordered(self, a, b)

    def cross_conflict(self, clash: clashes.CrossApp, a: str, b: str) -> Conflict:
        directory = clash.user.path.rpartition("/")[0]
        path = clash.taker_path or self.where.path(clash.taker, directory)
        path = path or f"{directory.rpartition('/')[0]}/{clash.taker[1]}.py"
        conflict = clashes.cross_app_conflict(clash, directory, path)
        refs = {"local": a, "upstream": b}
        leaves = tuple(
            leaf._replace(
                ref=refs[leaf.side or "local"], shared=refs[leaf.side or "local"] != "HEAD"
            )
            for leaf in conflict.leaves
        )
        return conflict._replace(leaves=leaves)

    # rewrites ----------------------------------------------------------------

    def rewrites(self, branch: Branch) -> Iterator[Warning]:
        """A branch that edits, renames or deletes a migration of the default branch."""
        new = {self.where.key(p): p for p, sha in branch.own.items() if sha is not None}
        for path, sha in sorted(branch.own.items()):
            theirs = self.tree.files.get(path)
            if path in branch.own.added or theirs is None or theirs == sha:
                continue
            if path.rpartition("/")[0] in self.where.by_dir:
                yield rewrite_warning(
                    path, sha, self.where, new, self.default_name, self.default_sha, branch.ref
                )


class _Ordered:
    """Whether two migrations of a pair are ordered, from a graph built only when asked."""

    def __init__(self, prediction: Prediction, *sides: clashes.SideChange) -> None:
        self.prediction = prediction
        self.sides = sides
        self.graph: Graph | None = None

    def __call__(self, a: Key, b: Key) -> bool:
        if self.graph is None:
            migrations: dict[Key, Migration] = {}
            for package in self.prediction.scan.packages:
                migrations.update(
                    {m.key: m for m in self.prediction.default_migrations(package).values()}
                )
            for side in self.sides:
                migrations.update({m.key: m for m in side.migrations})
            self.graph = Graph(migrations)
        return a in self.graph.ancestors(b) or b in self.graph.ancestors(a)


def _sides_of(refs: Sequence[str], default: str) -> dict[str, Side]:
    """a is local, b (or the default branch, against it alone) upstream."""
    if len(refs) == 1:
        return {refs[0]: "local", default: "upstream"}
    return {refs[0]: "local", refs[1]: "upstream"}

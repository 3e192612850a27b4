"""`check --branches`: HEAD and every remote branch against the default branch and each other.

Nothing is checked out or written. The cost follows what the branches
changed: one `for-each-ref`; one `rev-list` for every merge base (see
`git_refs.merge_bases`); one `diff-tree --stdin` for every branch's changes and
the default branch's since each base; the default branch's tree only in the
migrations folders those touched; the branches' migration blobs in one
`cat-file` stream, headers from the header cache; then every comparison in
memory (core/pairs, core/classify, core/clashes), never a check per pair.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import NamedTuple

from migmerge.core import clashes, kmigrator
from migmerge.core.graph import Graph
from migmerge.core.model import (
    BranchesResult,
    BranchInfo,
    Conflict,
    Key,
    Leaf,
    Migration,
    Overlap,
    Pair,
    Side,
    Warning,
)
from migmerge.core.pairs import Contribution, Found, app_pairs
from migmerge.core.strategy import recommend
from migmerge.errors import MigmergeError
from migmerge.reading import discover, git, git_diff, git_objects, git_refs, snapshot
from migmerge.reading.config import Config, load_config
from migmerge.reading.derive import Scan, header_from, scan_tree, settle
from migmerge.reading.scope import GitState, changed_part
from migmerge.reading.sides import Where, renamed_to, rewrite_warning

Changes = Mapping[str, "str | None"]

# Names a migration file's path may have (the hooks' pathspecs say the same).
_NUMBERED = re.compile(r"\d{4}_\w*\.py")
# Operations that take something away: only migrations naming one need a full read
# to find what another branch's migrations might still use.
_TAKERS = (b"DeleteModel", b"RenameModel", b"RemoveField", b"RenameField")


class Branch(NamedTuple):
    """A branch looked at, and what it changed in migrations since it left the default."""

    ref: str
    commit: str
    base: str | None
    current: bool
    own: git_diff.ChangedPaths  # its own changes since the base, migrations only
    since: Changes  # what the default branch changed since that base, migrations only


def check_branches(repo: str | Path | None, remote: str | None) -> BranchesResult:
    """Predict, without touching anything, which branches conflict once merged."""
    info = git.find_repo(repo)
    config = load_config(info.root)
    refs = git_refs.list_refs(info.root)
    remote = remote or "origin"
    default = _default(refs, config, remote)
    branches = _branches(info.root, refs, remote, default[1], config)
    if not branches:
        return BranchesResult(remote, _short(default[0]), default[1], (), ())
    return _Prediction(info.root, config, default, branches).result(remote)


def _default(refs: git_refs.Refs, config: Config, remote: str) -> tuple[str, str]:
    name = refs.default_branch(config.default_branch, remote)
    if name is None:
        raise MigmergeError(
            f"no default branch of {remote!r} is known here",
            hint=f"git fetch {remote}; or set [tool.migmerge] default-branch",
        )
    if not any(n.startswith(f"refs/remotes/{remote}/") for n in refs.shas):
        raise MigmergeError(
            f"no remote-tracking branch of {remote!r} is known here",
            hint=f"git fetch {remote}; or name another remote with --remote",
        )
    return name, refs.shas[name]


def _short(name: str) -> str:
    return name.removeprefix("refs/remotes/").removeprefix("refs/heads/")


def _tips(
    refs: git_refs.Refs, remote: str, default: str, detached: str | None
) -> list[tuple[str, str, bool]]:
    """(ref, commit, current) of HEAD and every remote branch HEAD does not stand for."""
    prefix = f"refs/remotes/{remote}/"
    mine = {refs.upstreams.get(refs.current or "", ""), prefix + _short(refs.current or "")}
    tips = []
    head = refs.shas.get(refs.current or "") or detached
    if head is not None and head != default:
        tips.append(("HEAD", head, True))
    for name in sorted(refs.shas):
        sha = refs.shas[name]
        # HEAD is the newer work on its own upstream, and is what points at its commit.
        stands_for = head is not None and (name in mine or sha == head)
        remote_branch = name.startswith(prefix) and not name.endswith("/HEAD")
        if remote_branch and sha != default and not stands_for:
            tips.append((_short(name), sha, False))
    return tips


def _branches(
    root: Path, refs: git_refs.Refs, remote: str, default: str, config: Config
) -> list[Branch]:
    """The branches that changed migrations since they left the default branch."""
    head = None if refs.current else git.try_rev(root, "HEAD")  # detached: still current work
    tips = _tips(refs, remote, default, head)
    bases = git_refs.merge_bases(root, [sha for _, sha, _ in tips], default)
    own_pairs = [(bases[sha] or sha, sha) for _, sha, _ in tips]
    distinct = sorted({b for b in bases.values() if b})
    diffs = git_diff.diff_pairs(root, own_pairs + [(b, default) for b in distinct])
    since = dict(zip(distinct, diffs[len(tips) :]))
    out = []
    for (ref, sha, current), own in zip(tips, diffs):
        base = bases[sha]
        mine = _migrations_only(own, config)
        if base is not None and mine:
            out.append(Branch(ref, sha, base, current, mine, _migrations_only(since[base], config)))
    return out


def _migrations_only(changes: Changes, config: Config) -> git_diff.ChangedPaths:
    """Keep the paths that may be migrations (a `migrations` folder, a numbered module)."""
    out = git_diff.ChangedPaths()
    modules = tuple(config.migration_modules)
    for path, sha in changes.items():
        folder, _, name = path.rpartition("/")
        python = name.endswith(".py") and (
            folder.rpartition("/")[2] == "migrations"
            or _NUMBERED.fullmatch(name)
            or folder in modules
        )
        if python or kmigrator.is_migration_file(path):
            out[path] = sha
    out.added = {p for p in getattr(changes, "added", ()) if p in out}
    return out


class _Prediction:
    """The default branch's tree where the branches touched it, and what each brings."""

    def __init__(
        self, root: Path, config: Config, default: tuple[str, str], branches: list[Branch]
    ) -> None:
        self.root = root
        self.default_name = default[0]
        self.default_ref = _short(default[0])
        self.default_sha = default[1]
        self.branches = branches
        self.tree, self.scan = _discover(root, config, default[1], branches)
        self.blobs = _read_once(root, self.tree, self.scan, branches)
        settle(self.scan)
        self.where = Where(self.scan)
        self.parsed: dict[tuple[str, str], Migration] = {}
        self.by_dir: dict[str, dict[str, str]] = {}  # the default branch's modules by folder
        packages = self.where.by_dir
        for path, sha in self.tree.files.items():
            folder, _, name = path.rpartition("/")
            if folder in packages and self.holds_migrations(folder, path):
                self.by_dir.setdefault(folder, {})[path] = sha
        self.defaults: dict[str, dict[str, Migration]] = {}
        self.own_versions: dict[tuple[str, str], dict[str, tuple[Migration, str]]] = {}

    # what each side holds -------------------------------------------------

    def holds_migrations(self, folder: str, path: str) -> bool:
        """Tell whether a file of a package holds migrations (a module, or kmigrator's .js)."""
        if folder in self.scan.kmigrator:
            return kmigrator.is_migration_file(path)
        return _is_module(path.rpartition("/")[2])

    def held(self, path: str, sha: str | None) -> list[Migration]:
        """The migrations one version of a file holds, headers only (a .js may hold several)."""
        folder = path.rpartition("/")[0]
        if (
            sha is None
            or folder not in self.where.by_dir
            or not self.holds_migrations(folder, path)
        ):
            return []
        if folder not in self.scan.kmigrator:
            header = self.header(path, sha)
            return [] if header is None else [header]
        from migmerge.reading import kmigrator_apps

        source = self.blobs.get(sha)
        if source is None:
            return []
        label = self.where.by_dir[folder].label
        swappable = self.scan.settings.swappable
        return kmigrator_apps.file_migrations(source, label, path, swappable)

    def header(self, path: str, sha: str) -> Migration | None:
        """The header of one version of a migration, by its path and blob."""
        package = self.where.by_dir.get(path.rpartition("/")[0])
        if package is None:
            return None
        name = path.rpartition("/")[2][:-3]
        if self.scan.tree.files.get(path) == sha and path in self.scan.headers:
            return self.scan.headers[path]
        source = self.blobs.get(sha)
        if source is None:
            return None
        return header_from(source, package.label, name, path, self.scan.settings.swappable)

    def default_migrations(self, package: discover.Package) -> dict[str, Migration]:
        """The default branch's migrations of one package (its tree, not the branches')."""
        if package.directory not in self.defaults:
            out: dict[str, Migration] = {}
            union, settled = self.scan.tree.files, self.scan.headers
            for path, sha in self.by_dir.get(package.directory, {}).items():
                if package.directory in self.scan.kmigrator:
                    out.update((m.name, m) for m in self.held(path, sha))
                    continue
                # Mostly the very file discovery read: its header is settled already.
                header = settled.get(path) if union.get(path) == sha else self.header(path, sha)
                if header is not None:
                    out[header.name] = header
            self.defaults[package.directory] = out
        return self.defaults[package.directory]

    def contribution(self, branch: Branch, package: discover.Package) -> Contribution | None:
        """What a branch does to one package, against the default branch's tree."""
        added = {name: header for name, (header, _) in self.owns(branch, package).items()}
        removed: set[str] = set()
        for path, sha in branch.own.items():
            if path.rpartition("/")[0] == package.directory and path in self.tree.files:
                had = {m.name for m in self.held(path, self.tree.files[path])}
                removed |= had - {m.name for m in self.held(path, sha)}
        if not added and not removed:
            return None
        return Contribution(branch.ref, added, frozenset(removed))

    def owns(self, branch: Branch, package: discover.Package) -> dict[str, tuple[Migration, str]]:
        """A branch's own versions of a package's migrations: name -> (header, blob)."""
        key = (branch.ref, package.directory)
        if key not in self.own_versions:
            out: dict[str, tuple[Migration, str]] = {}
            for path, sha in branch.own.items():
                if path.rpartition("/")[0] != package.directory or sha is None:
                    continue
                if self.tree.files.get(path) != sha:  # the same file as the default's: not its own
                    out.update((m.name, (m, sha)) for m in self.held(path, sha))
            self.own_versions[key] = out
        return self.own_versions[key]

    def version(
        self, name: str, refs: Sequence[str], package: discover.Package
    ) -> tuple[Migration, str | None]:
        """A migration as a combination holds it: the branches' version, else the default's."""
        for branch in self.branches:
            if branch.ref in refs and name in self.owns(branch, package):
                return self.owns(branch, package)[name]
        migration = self.default_migrations(package)[name]
        return migration, self.tree.files.get(migration.path)

    def full(self, migration: Migration, sha: str | None) -> Migration:
        """The migration with its operations read (from the blobs read already)."""
        key = (migration.path, sha or "")
        if key not in self.parsed:
            source = self.blobs.get(sha or "")
            kmig = migration.path.rpartition("/")[0] in self.scan.kmigrator
            self.parsed[key] = _parse(migration, source, self.scan, kmigrator_file=kmig)
        return self.parsed[key]

    def ensure(self, shas: Iterable[str | None]) -> None:
        """Read the blobs not read yet (a branch reaching back before where it left, say)."""
        missing = sorted({sha for sha in shas if sha and sha not in self.blobs})
        if missing:
            self.blobs.update(git_objects.read_blobs(self.root, missing))

    # the result --------------------------------------------------------------

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
            touching = [b for b in self.branches if package.directory in _folders(b.own)]
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

    def __init__(self, prediction: _Prediction, *sides: clashes.SideChange) -> None:
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


def _is_module(name: str) -> bool:
    return "/" not in name and name.endswith(".py") and name[:1] not in ("_", "~")


def _folders(changes: Changes) -> set[str]:
    return {p.rpartition("/")[0] for p in changes}


def _discover(
    root: Path, config: Config, default: str, branches: Sequence[Branch]
) -> tuple[snapshot.Snapshot, Scan]:
    """The default branch's tree in the folders any side touched, and the packages found there.

    Discovery runs on that tree with every branch's files laid over it, so a
    package a branch adds is found too; the default branch's own files stay
    in the returned tree.
    """
    touched: dict[str, str | None] = {}
    for branch in branches:
        touched.update(branch.since)
        touched.update(branch.own)
    state = GitState("against", default, default, default)
    tree = changed_part(root, state, config, default, predict=False, diffs=({}, touched))
    dirs = _folders(touched)
    around = discover.context_paths(dirs)
    overlay = {
        p: sha
        for b in branches
        for p, sha in b.own.items()
        if p.rpartition("/")[0] in dirs or p in around
    }
    union = tree.overlay(overlay, "branches")
    return tree, scan_tree(union, config)


def _read_once(
    root: Path, tree: snapshot.Snapshot, scan: Scan, branches: Sequence[Branch]
) -> dict[str, bytes]:
    """Read every migration blob the comparison may need, in one `cat-file` stream.

    The branches' own files, what the default branch changed since each
    base, and the default branch's files the branches changed; the default
    branch's other files come from the header cache (or, not cached yet,
    from the headers' own read).
    """
    dirs = {p.directory for p in scan.packages}
    wanted: set[str] = set()
    for branch in branches:
        for changes in (branch.own, branch.since):
            wanted.update(sha for p, sha in changes.items() if sha and _in(p, dirs))
        wanted.update(tree.files[p] for p in branch.own if p in tree.files and _in(p, dirs))
    # kmigrator's .js files have no header cache: the default branch's are read here too.
    wanted.update(sha for p, sha in tree.files.items() if p.rpartition("/")[0] in scan.kmigrator)
    blobs = git_objects.read_blobs(root, sorted(wanted))
    files = scan.tree.files
    for path, sha in files.items():
        if sha in blobs and _in(path, dirs):
            scan.sources[path] = blobs[sha]  # the headers' read finds them here
    return blobs


def _in(path: str, dirs: set[str]) -> bool:
    return path.rpartition("/")[0] in dirs


def _parse(
    migration: Migration, source: bytes | None, scan: Scan, *, kmigrator_file: bool = False
) -> Migration:
    """Parse one migration fully; the header alone when its bytes are not at hand."""
    from migmerge.reading import kmigrator_apps, parse

    if source is None:
        return migration
    try:
        if kmigrator_file:
            name, path = migration.name, migration.path
            decoded = kmigrator_apps.sources({path: source}, {name: path}, [name]).get(name)
            swappable = scan.settings.swappable
            if decoded is None:
                return migration
            return kmigrator_apps.parse_full(decoded, migration.app, name, path, swappable)
        return parse.parse_migration(
            source,
            app=migration.app,
            name=migration.name,
            path=migration.path,
            settings=scan.settings.swappable,
        )
    except MigmergeError:
        return migration


def only_apps(result: BranchesResult, apps: Sequence[str]) -> BranchesResult:
    """Keep the conflicts of the named apps (all, when none is named)."""
    if not apps:
        return result
    pairs = []
    for pair in result.pairs:
        kept = tuple(c for c in pair.conflicts if c.app in apps)
        if kept:
            pairs.append(pair._replace(conflicts=kept))
    return result._replace(pairs=tuple(pairs))

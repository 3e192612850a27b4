"""`check --branches`: what each side holds, read once for every comparison.

A branch, what it changed since it left the default branch, and the
default branch's tree where any branch touched it: the migrations each
version of a file holds (headers first, fully parsed only when judged),
read from one `cat-file` stream and the header cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from migmerge.core import kmigrator
from migmerge.core.model import (
    Migration,
)
from migmerge.core.pairs import Contribution
from migmerge.errors import MigmergeError
from migmerge.reading import discover, git_diff, git_objects, snapshot
from migmerge.reading.config import Config
from migmerge.reading.derive import Scan, header_from, scan_tree, settle
from migmerge.reading.scope import GitState, changed_part
from migmerge.reading.sides import Where

Changes = Mapping[str, "str | None"]


class Branch(NamedTuple):
    """A branch looked at, and what it changed in migrations since it left the default."""

    ref: str
    commit: str
    base: str | None
    current: bool
    own: git_diff.ChangedPaths  # its own changes since the base, migrations only
    since: Changes  # what the default branch changed since that base, migrations only


def short_ref(name: str) -> str:
    return name.removeprefix("refs/remotes/").removeprefix("refs/heads/")


class Versions:
    """The default branch's tree where the branches touched it, and what each brings."""

    def __init__(
        self, root: Path, config: Config, default: tuple[str, str], branches: list[Branch]
    ) -> None:
        self.root = root
        self.default_name = default[0]
        self.default_ref = short_ref(default[0])
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


def _is_module(name: str) -> bool:
    return "/" not in name and name.endswith(".py") and name[:1] not in ("_", "~")


def folders_of(changes: Changes) -> set[str]:
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
    dirs = folders_of(touched)
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

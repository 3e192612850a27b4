"""What each side changed, and the clashes it makes that no app's leaves show.

Runs after the graph: takes what each side's commits changed since the merge
base (the diffs `--against` and the hooks run anyway), reads and fully parses
only those migrations, and asks core/clashes for cross-app conflicts and
core/duplicates for duplicate operations; `--against` and pre-push also warn
when the local side rewrites a migration that is on the default branch. The
cost follows the change: the graph is built, and an app's other migrations read, only when a
finding needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from migmerge.core import clashes
from migmerge.core.graph import Graph
from migmerge.core.model import Conflict, Key, Migration, Side, Warning
from migmerge.errors import MigmergeError
from migmerge.reading import git_diff, git_objects, git_refs, snapshot
from migmerge.reading.config import Config
from migmerge.reading.derive import Scan
from migmerge.reading.scope import Diffs, GitState

if TYPE_CHECKING:
    from migmerge.core.duplicates import Duplicate, Wanted

Changes = Mapping[str, "str | None"]


class Sides(NamedTuple):
    """Paths each side changed since the merge base (blob, "" for disk, None: deleted)."""

    local: Changes
    upstream: Changes  # empty when upstream's changes are not in the tree
    # Paths the local side's commits added (git's diff says so): no rewrite of anything.
    local_added: frozenset[str] = frozenset()


def sides_of(
    root: Path, state: GitState, tree: snapshot.Snapshot, diffs: Diffs | None
) -> Sides | None:
    """Tell what each side changed, for the modes where both sides' work can be in the tree."""
    if diffs is None and state.base and state.local:
        if state.mode in ("merge", "rebase") and state.upstream:
            theirs, ours = git_diff.changed_paths_to(
                root, state.base, [state.upstream, state.local]
            )
            diffs = theirs, ours
        else:
            diffs = {}, git_diff.changed_paths(root, state.base, state.local)
    if diffs is None:
        return None
    theirs, ours = diffs
    # Uncommitted work is local too.
    local = {**ours, **{p: sha for p, sha in tree.files.items() if sha == snapshot.DISK}}
    in_tree = state.mode != "worktree"
    # git's diffs are ChangedPaths, which know what is new.
    added = frozenset(getattr(ours, "added", ()))
    return Sides(local, theirs if in_tree else {}, added)


class Found(NamedTuple):
    """What the clash finders add to a check."""

    conflicts: list[Conflict]
    warnings: list[Warning]


def find_clashes(
    root: Path,
    scan: Scan,
    sides: Sides,
    graph: Callable[[], Graph],
    *,
    state: GitState,
    config: Config,
    refs: git_refs.Refs | None,
) -> Found:
    """Find cross-app conflicts, duplicate operations and (`--against`) shared rewrites."""
    where = Where(scan)
    local = where.side("local", sides.local)
    upstream = where.side("upstream", sides.upstream)
    parsed = _parse(scan, [*local.migrations, *upstream.migrations])
    local = local._replace(migrations=tuple(parsed[m.path] for m in local.migrations))
    upstream = upstream._replace(migrations=tuple(parsed[m.path] for m in upstream.migrations))
    ordered = _Order(graph)
    found = Found([], [])
    for clash in clashes.cross_app(local, upstream, ordered.either):
        found.conflicts.append(_cross_app_conflict(clash, where, parsed))
    new = {m.key: m for m in (*local.migrations, *upstream.migrations)}
    # With both sides in the tree, a duplicate is between their migrations; in a
    # plain working tree the other side is history already: look there too.
    history = state.mode == "worktree"
    found.warnings.extend(_duplicates(scan, where, new, ordered, history=history))
    if state.mode == "against":
        found.warnings.extend(_rewrites(root, where, sides, state, config, refs))
    return found


class Where:
    """Which package each path belongs to, and each key's path."""

    def __init__(self, scan: Scan) -> None:
        self.by_dir = {p.directory: p for p in scan.packages}

    def key(self, path: str) -> Key | None:
        """The migration a path holds (or held), when it is in a migrations package."""
        directory, _, name = path.rpartition("/")
        package = self.by_dir.get(directory)
        if package is None or not name.endswith(".py") or name[:1] in ("_", "~"):
            return None
        return (package.label, name[:-3])

    def path(self, key: Key, near: str | None = None) -> str | None:
        """The path of a migration by key (in the package `near` is in, when several)."""
        for package in self.by_dir.values():
            here = near is None or package.project == self.by_dir[near].project
            if package.label == key[0] and key[1] in package.modules and here:
                return package.modules[key[1]]
        return None

    def side(self, side: Side, changes: Changes) -> clashes.SideChange:
        """The migrations a side added or edited (headers), and those it deleted."""
        present: list[Migration] = []
        gone: dict[Key, str | None] = {}
        added = {self.key(p): p for p, sha in changes.items() if sha is not None}
        for path, sha in sorted(changes.items()):
            key = self.key(path)
            if key is None:
                continue
            if sha is None:
                gone[key] = renamed_to(key, added)
            elif key[1] in self.by_dir[path.rpartition("/")[0]].modules:
                present.append(Migration(key[0], key[1], path))
        return clashes.SideChange(side, tuple(present), gone)


def renamed_to(key: Key, added: Mapping[Key | None, str]) -> str | None:
    """The name a deleted migration came back under: same app, same words or same number."""
    names = [k[1] for k in added if k and k[0] == key[0] and k != key]
    for part in (2, 0):  # the words after the number (a renumber), then the number
        same = key[1].partition("_")[part]
        found = [n for n in names if n.partition("_")[part] == same]
        if len(found) == 1:
            return found[0]
    return None


def _parse(scan: Scan, migrations: Iterable[Migration]) -> dict[str, Migration]:
    """Parse the migrations fully; a file that cannot be read is left out (others say why)."""
    wanted = {m.path: m for m in migrations}
    known = {
        path: scan.parsed[path]  # a conflict's branch, read whole already
        for path, m in wanted.items()
        if path in scan.parsed and (scan.parsed[path].app, scan.parsed[path].name) == m.key
    }
    sources = scan.read(p for p in wanted if p not in known)
    if len(known) < len(wanted):
        from migmerge.reading import parse  # only for what no conflict's reading parsed

    out = {}
    for path, migration in wanted.items():
        if path in known:
            out[path] = known[path]
            continue
        try:
            out[path] = parse.parse_migration(
                sources[path],
                app=migration.app,
                name=migration.name,
                path=path,
                settings=scan.settings.swappable,
            )
        except (MigmergeError, KeyError):
            out[path] = migration  # header only: no operation to compare
    return out


class _Order:
    """Ancestry in the tree's graph, built only when a finding needs it."""

    def __init__(self, graph: Callable[[], Graph]) -> None:
        self.build = graph
        self.graph: Graph | None = None
        self.seen: dict[Key, set[Key]] = {}

    def ancestors(self, key: Key) -> set[Key]:
        if key not in self.seen:
            if self.graph is None:
                self.graph = self.build()
            self.seen[key] = self.graph.ancestors(key)
        return self.seen[key]

    def before(self, a: Key, b: Key) -> bool:
        """Tell whether `a` is `b` or one of its ancestors."""
        return a in self.ancestors(b)

    def line(
        self, migrations: Sequence[Migration]
    ) -> tuple[list[Migration], Callable[[Key, Key], bool]]:
        """The migrations, each after its ancestors, and how to ask which precede which.

        One pass over the graph for all of them (a long branch over a long
        history cost their product when each asked for its ancestors).
        """
        if self.graph is None:
            self.graph = self.build()
        lineage = self.graph.lineage([m.key for m in migrations])
        if lineage is None:  # a cycle: the slow way, which copes
            return sorted(migrations, key=lambda m: len(self.ancestors(m.key))), self.before
        return sorted(migrations, key=lambda m: lineage.depth[m.key]), lineage.before

    def either(self, a: Key, b: Key) -> bool:
        return self.before(a, b) or self.before(b, a)


def _cross_app_conflict(
    clash: clashes.CrossApp, where: Where, parsed: Mapping[str, Migration]
) -> Conflict:
    directory = clash.user.path.rpartition("/")[0]
    path = clash.taker_path or where.path(clash.taker, directory)
    if path is None:  # a migration deleted, not renamed: where it was
        path = _gone_path(where, clash.taker, directory)
    taker = parsed.get(path)
    return clashes.cross_app_conflict(
        clash, directory, path, taker.operations or () if taker else ()
    )


def _gone_path(where: Where, key: Key, near: str) -> str:
    """Where a deleted migration's file was: its app's migrations folder."""
    for package in where.by_dir.values():
        if package.label == key[0] and package.project == where.by_dir[near].project:
            return f"{package.directory}/{key[1]}.py"
    return f"{key[0]}/migrations/{key[1]}.py"


def _duplicates(
    scan: Scan, where: Where, new: Mapping[Key, Migration], ordered: _Order, *, history: bool
) -> list[Warning]:
    """Warn about a new migration that adds again what an ancestor added."""
    from migmerge.core import duplicates  # only when a side added migrations

    out: list[Warning] = []
    for app, wanted in sorted(duplicates.wanted_names(new.values()).items()):
        mine = [m for m in new.values() if m.app == app]
        parsed = _suspects(scan, where, app, wanted, mine, new) if history else {}
        if not duplicates.repeats([*mine, *parsed.values()]):
            continue  # nothing added twice: no need to know the order
        line, before = ordered.line([*mine, *parsed.values()])
        for dup in duplicates.duplicate_operations(app, line, before, new):
            out.append(_duplicate_warning(dup))
    return out


def _suspects(
    scan: Scan,
    where: Where,
    app: str,
    wanted: Wanted,
    mine: Iterable[Migration],
    new: Mapping[Key, Migration],
) -> dict[str, Migration]:
    """The app's other migrations whose bytes may add or remove what `mine` add, parsed."""
    from migmerge.core.duplicates import suspect

    folders = {m.path.rpartition("/")[0] for m in mine}
    others = [
        path
        for folder in sorted(folders)
        for name, path in where.by_dir[folder].modules.items()
        if (app, name) not in new
    ]
    sources = scan.read(others)
    suspects = [p for p in others if p in sources and suspect(wanted, sources[p])]
    keys = [where.key(p) for p in suspects]
    return _parse(scan, (Migration(k[0], k[1], p) for k, p in zip(keys, suspects) if k))


def _duplicate_warning(dup: Duplicate) -> Warning:
    fails = {"field": "duplicate column", "model": "table already exists"}.get(
        dup.thing.partition(" ")[0], "the name is taken"
    )
    return Warning(
        "duplicate-operation",
        dup.app,
        f"{dup.app}: {dup.second.name} runs {dup.op.op} on {dup.thing}, which {dup.first.name} "
        f"already added, and {dup.first.name} comes first in the same line of migrations: "
        f"migrate would fail ({fails}); remove the operation from {dup.second.name}",
        dup.second.path,
    )


def _rewrites(
    root: Path,
    where: Where,
    sides: Sides,
    state: GitState,
    config: Config,
    refs: git_refs.Refs | None,
) -> list[Warning]:
    """Warn about migrations on the default branch that the local side edits or deletes."""
    local = sides.local
    touched = sorted(p for p in local if p not in sides.local_added and is_migration_path(p, where))
    if not touched or state.base is None:
        return []
    refs = refs or git_refs.list_refs(root)
    name = refs.default_branch(config.default_branch)
    if name is None:
        return []
    sha = refs.shas[name]
    ids = git_objects.object_ids(root, [f"{rev}:{p}" for rev in (state.base, sha) for p in touched])
    out = []
    new = {where.key(p): p for p, blob in local.items() if blob is not None}
    for path in touched:
        theirs = ids.get(f"{sha}:{path}")
        if ids.get(f"{state.base}:{path}") is None or theirs is None or theirs == local[path]:
            continue  # new on this side, not on the default branch, or the same there
        out.append(rewrite_warning(path, local[path], where, new, name, sha))
    return out


def is_migration_path(path: str, where: Where) -> bool:
    directory, _, base = path.rpartition("/")
    if not base.endswith(".py") or base[:1] in ("_", "~"):
        return False
    return directory in where.by_dir or directory.rpartition("/")[2] == "migrations"


def rewrite_warning(
    path: str,
    blob: str | None,
    where: Where,
    added: Mapping[Key | None, str],
    default: str,
    sha: str,
    ref: str | None = None,
) -> Warning:
    """Say that a branch edits, renames or deletes (`blob` None) a default branch migration."""
    key = where.key(path)
    renamed = renamed_to(key, added) if key and blob is None else None
    what = "edits it" if blob is not None else "deletes it"
    if renamed:
        what = f"renames it to {renamed}"
    short = default.removeprefix("refs/remotes/").removeprefix("refs/heads/")
    return Warning(
        "rewrites-shared-migration",
        key[0] if key else None,
        f"{path} is on the default branch {short} (at {sha[:12]}) and "
        f"{ref or 'this branch'} {what}: databases that applied it keep the old version; "
        "leave it as it is there and add a new migration instead",
        path,
        sha,
        ref,
    )

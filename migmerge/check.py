"""`check`: find apps with parallel migrations and say how far they collide.

Coordinates the read side: git state -> snapshot -> packages -> headers ->
graph -> conflicts -> classification. Imports neither Django nor questionary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from migmerge import discover, gitrepo, parse, snapshot
from migmerge.cache import HeaderCache
from migmerge.config import Config, load_config
from migmerge.errors import MigmergeError, NotAMigration
from migmerge.graph import Graph
from migmerge.model import (
    AppMigrations,
    CheckResult,
    Conflict,
    Key,
    Leaf,
    Migration,
    Mode,
    Overlap,
    Side,
    Strategy,
    Warning,
)
from migmerge.state import GitState, detect_state


@dataclass
class Scan:
    """Every migrations package of a snapshot, read to headers."""

    packages: list[discover.Package]
    headers: dict[str, Migration]  # path -> header (operations None)
    tree: snapshot.Snapshot
    settings: discover.Settings
    warnings: list[Warning] = field(default_factory=list)
    # Bytes read so far: headers served by the cache were never read.
    sources: dict[str, bytes] = field(default_factory=dict)

    def read(self, paths: Iterable[str]) -> dict[str, bytes]:
        """Return the bytes of `paths`, reading what was not read yet in one go."""
        wanted = list(paths)
        self.sources.update(self.tree.read(p for p in wanted if p not in self.sources))
        return {p: self.sources[p] for p in wanted if p in self.sources}


@dataclass(frozen=True)
class Analysis:
    """The result of `check` plus what resolution needs to plan."""

    root: Path
    result: CheckResult
    apps: Mapping[str, AppMigrations]
    migrations: Mapping[Key, Migration]
    config: Config
    scan: Scan
    _parsed: dict[Key, Migration] = field(default_factory=dict, compare=False, repr=False)

    @property
    def settings(self) -> Mapping[str, str]:
        """The swappable models settings name (AUTH_USER_MODEL -> "app.Model")."""
        return self.scan.settings.swappable

    def migration(self, app: str, name: str) -> Migration:
        """Return the migration fully parsed (operations included)."""
        key = (app, name)
        if key not in self._parsed:
            header = self.migrations[key]
            source = self.scan.read([header.path]).get(header.path)
            if source is None:
                source = (self.root / header.path).read_bytes()
            self._parsed[key] = parse.parse_migration(
                source, app=app, name=name, path=header.path, settings=self.settings
            )
        return self._parsed[key]


def find_root(start: str | Path | None) -> Path:
    """Return the root of the repository holding `start`."""
    return gitrepo.find_root(start)


def analyze(
    repo: str | Path | None = None,
    *,
    against: str | None = None,
    apps: Sequence[str] = (),
    changed_only: bool = False,
) -> Analysis:
    """Inspect the working tree (or predict merging `against`) for conflicts.

    `changed_only` (the hooks): look only at the folders the merge or rebase
    in progress or just made changed on either side, when there is one.
    """
    info = gitrepo.find_repo(repo)
    config = load_config(info.root)
    if against is not None:
        upstream = gitrepo.resolve_rev(info.root, against)
        local = gitrepo.try_rev(info.root, "HEAD")
        state = _against_state(info.root, local, upstream, "against")
        tree = _changed_part(info.root, state, config, local_rev=None, predict=True)
    else:
        state = detect_state(info, config)
        if changed_only and state.mode in ("merge", "rebase") and state.base:
            tree = _changed_part(info.root, state, config, local_rev=None, predict=False)
        else:
            tree = snapshot.worktree(info.root)
    return _analyze_tree(info.root, tree, state, config, apps)


def analyze_revisions(
    repo: Path, local: str, upstream: str, *, mode: Mode = "against"
) -> CheckResult:
    """Predict merging commit `upstream` into commit `local` (no working tree)."""
    info = gitrepo.find_repo(repo)
    config = load_config(info.root)
    state = _against_state(info.root, local, upstream, mode)
    tree = _changed_part(info.root, state, config, local_rev=local, predict=True)
    return _analyze_tree(info.root, tree, state, config, ()).result


def _against_state(root: Path, local: str | None, upstream: str, mode: Mode) -> GitState:
    base = gitrepo.merge_base(root, local, upstream) if local else None
    if local and base is None:
        raise MigmergeError(
            f"{local[:12]} and {upstream[:12]} share no history",
            hint="compare against a branch of the same project",
        )
    return GitState(mode, local, upstream, base)


def _changed_part(
    root: Path, state: GitState, config: Config, local_rev: str | None, *, predict: bool
) -> snapshot.Snapshot:
    """Return the part of the tree in the folders either side's commits changed.

    Merging can only give an app a new leaf where the branches added
    migrations, so only those folders (and what discovery needs around them:
    apps.py, manage.py, settings) are read, from `local_rev` or the working
    tree (uncommitted work counts inside them). `predict`: lay upstream's
    changes over it, as merging would. Every git call here follows the
    change, not the repository's size.
    """
    assert state.upstream is not None
    if state.base is None or state.local is None:
        return snapshot.commit(root, state.upstream) if predict else snapshot.worktree(root)
    theirs = gitrepo.changed_paths(root, state.base, state.upstream)
    ours = gitrepo.changed_paths(root, state.base, local_rev or state.local)
    dirs = sorted({p.rpartition("/")[0] for p in {*theirs, *ours} if p.endswith(".py")} - {""})
    if not dirs:
        return snapshot.Snapshot(root, {}, "predicted merge" if predict else "working tree")

    def side(specs: list[str]) -> snapshot.Snapshot:
        """Our side of the merge (commit or working tree), under `specs`."""
        if local_rev is None:
            return snapshot.worktree(root, specs)
        return snapshot.commit(root, local_rev, specs)

    around = discover.context_paths(dirs)
    tree = side([f":(literal){d}/" for d in dirs] + [f":(literal){p}" for p in around])
    if predict:
        wanted = set(dirs)
        tree = tree.overlay(
            {p: sha for p, sha in theirs.items() if _wanted(p, wanted, around)}, "predicted merge"
        )
    # Settings where manage.py (or the config) says; else every settings-like
    # file, which costs a look at the whole tree: name them to keep hooks fast.
    named = discover.settings_paths(tree, config)
    if named and local_rev is None:
        found = snapshot.on_disk(root, named)
    else:
        found = side([f":(literal){p}" for p in named] if named else list(discover.SETTINGS_GLOBS))
    extra: dict[str, str | None] = dict(found.files)
    if predict:
        extra.update({p: sha for p, sha in theirs.items() if discover.is_settings_file(p)})
    return tree.overlay(extra, tree.label)


def _wanted(path: str, dirs: set[str], around: set[str]) -> bool:
    """Tell whether an upstream change falls inside the predicted part of the tree."""
    return path.rpartition("/")[0] in dirs or path in around or discover.is_settings_file(path)


# the common path -------------------------------------------------------------


def scan_tree(tree: snapshot.Snapshot, config: Config) -> Scan:
    """Find every migrations package of `tree` and read every migration's header."""
    warnings: list[Warning] = []
    settings = discover.read_settings(tree, tree.files, config)
    packages = discover.find_packages(tree, config, settings, warnings)
    discover.label_packages(packages, tree, config)
    scan = Scan(packages, {}, tree, settings, warnings)
    _read_headers(scan)
    changed = discover.infer_labels(packages, scan.headers)
    for package in packages:
        if package.directory in changed:
            for path in package.modules.values():
                if path in scan.headers:
                    scan.headers[path] = discover.relabel(scan.headers[path], package.label)
    _drop_unmigrated(packages, settings)
    return scan


def _read_headers(scan: Scan) -> None:
    """Fill `scan.headers`: from the header cache by blob id, else from the bytes."""
    files = scan.tree.files
    swappable = scan.settings.swappable
    headers = scan.headers
    cache = HeaderCache.open(scan.tree.root, sum(len(p.modules) for p in scan.packages))
    unread: list[tuple[discover.Package, str, str]] = []
    cached = cache.get
    make = parse.header_migration
    for package in scan.packages:
        label = package.label
        for name, path in package.modules.items():
            # The loop every check runs ten thousand times: kept to two calls.
            fields = cached(files.get(path) or "")
            if fields is None:
                unread.append((package, name, path))
            else:
                headers[path] = make(fields, label, name, path, swappable)
    sources = scan.read(path for _, _, path in unread)
    for package, name, path in unread:
        if path not in sources:
            continue  # vanished while we looked
        fields = parse.fast_header_fields(sources[path])
        if fields is not None:
            if files[path] != snapshot.DISK:
                cache.put(files[path], fields)
            headers[path] = parse.header_migration(fields, package.label, name, path, swappable)
            continue
        try:
            headers[path] = parse.read_header(
                sources[path], app=package.label, name=name, path=path, settings=swappable
            )
        except NotAMigration:
            # A helper module, or a `migrations` package that is not Django's.
            del package.modules[name]
            scan.warnings.append(_not_a_migration(path, package.label))
    cache.save()


def _not_a_migration(path: str, app: str) -> Warning:
    return Warning(
        "not-a-migration",
        app,
        f"{path} has no Migration class: skipped (Django would refuse it if the app is installed; "
        "exclude the folder in [tool.migmerge] if it is not a Django migrations package)",
        path,
    )


def _drop_unmigrated(packages: list[discover.Package], settings: discover.Settings) -> None:
    """MIGRATION_MODULES = {label: None} means the app has no migrations."""
    off = {label for label, module in settings.migration_modules.items() if module is None}
    packages[:] = [p for p in packages if not (p.label in off and p.label_source != "settings")]


def _analyze_tree(
    root: Path, tree: snapshot.Snapshot, state: GitState, config: Config, only: Sequence[str]
) -> Analysis:
    scan = scan_tree(tree, config)
    warnings = list(scan.warnings)
    conflicts: list[Conflict] = []
    all_migrations: dict[Key, Migration] = {}
    app_map: dict[str, AppMigrations] = {}
    for packages in _by_project(scan.packages).values():
        migrations = _project_migrations(packages, scan, warnings)
        all_migrations.update(migrations)
        graph = Graph(migrations)
        warnings += _graph_warnings(graph, packages)
        for package in packages:
            app_map.setdefault(package.label, _app(package))
        for app, leaves in sorted(graph.conflicts().items()):
            if only and app not in only:
                continue
            package = next(p for p in packages if p.label == app)
            conflicts.append(_conflict(graph, app, leaves, package, scan))
    analysis = Analysis(
        root,
        CheckResult(state.mode, state.local, state.upstream, state.base),
        app_map,
        all_migrations,
        config,
        scan,
    )
    if conflicts:
        conflicts = _with_git_facts(root, analysis, conflicts, state, _with_manage_py(config, tree))
    result = CheckResult(
        state.mode, state.local, state.upstream, state.base, tuple(conflicts), tuple(warnings)
    )
    return Analysis(
        root,
        result,
        app_map,
        all_migrations,
        config,
        scan,
        analysis._parsed,
    )


def _by_project(packages: list[discover.Package]) -> dict[str, list[discover.Package]]:
    out: dict[str, list[discover.Package]] = {}
    for package in packages:
        out.setdefault(package.project, []).append(package)
    return out


def _app(package: discover.Package) -> AppMigrations:
    return AppMigrations(
        package.label,
        package.directory,
        package.label_source,
        tuple(sorted(package.modules.items())),
    )


def _project_migrations(
    packages: list[discover.Package], scan: Scan, warnings: list[Warning]
) -> dict[Key, Migration]:
    migrations: dict[Key, Migration] = {}
    owner: dict[str, str] = {}
    for package in packages:
        if package.label in owner and owner[package.label] != package.directory:
            warnings.append(
                Warning(
                    "duplicate-label",
                    package.label,
                    f"{package.directory} and {owner[package.label]} both hold migrations of app "
                    f"{package.label!r}; Django would refuse the duplicate label",
                )
            )
            continue
        owner[package.label] = package.directory
        for path in package.modules.values():
            header = scan.headers.get(path)
            if header is not None:
                migrations[header.key] = header
                if header.dynamic:
                    warnings.append(
                        Warning("dynamic-dependencies", header.app, header.dynamic, path)
                    )
    return migrations


def _graph_warnings(graph: Graph, packages: list[discover.Package]) -> list[Warning]:
    out = [
        Warning(
            "missing-dependency",
            child[0],
            f"{child[0]}.{child[1]} depends on {parent[0]}.{parent[1]}, which does not exist",
        )
        for child, parent in graph.missing
    ]
    for package in packages:
        out += _duplicate_numbers(graph, package.label)
    return out


def _duplicate_numbers(graph: Graph, app: str) -> list[Warning]:
    names = graph.nodes(app)
    numbers = [name.partition("_")[0] for name in names]
    if len(set(numbers)) == len(numbers):
        return []  # the usual case, found without a loop in Python
    seen: dict[str, list[str]] = {}
    for name, number in zip(names, numbers):
        if number.isdigit():
            seen.setdefault(number, []).append(name)
    repeated = {number: names for number, names in seen.items() if len(names) > 1}
    if not repeated:
        return []
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
    chain = sorted(names, key=lambda n: len(graph.ancestors((app, n))))
    return all((app, a) in graph.ancestors((app, b)) for a, b in zip(chain, chain[1:]))


def _conflict(
    graph: Graph, app: str, leaves: list[str], package: discover.Package, scan: Scan
) -> Conflict:
    ancestor = graph.common_ancestor(app, leaves)
    branches = {leaf: graph.branch(app, ancestor, leaf) for leaf in leaves}
    parsed = _full_parse(app, package, scan, {n for b in branches.values() for n in b})
    history: list[Migration] = []
    if any(_names_tables(m) for m in parsed.values()):
        # Only SQL needs the table names the app's history gives its models.
        in_branches = {n for b in branches.values() for n in b}
        names = {n for n in graph.nodes(app) if n not in in_branches}
        history = list(_full_parse(app, package, scan, names).values())
    from migmerge.classify import classify  # only when there is a conflict to judge

    overlap = classify(app, [[parsed[n] for n in branches[leaf]] for leaf in leaves], history)
    built = tuple(
        Leaf(
            name=leaf,
            path=package.modules[leaf],
            side=None,
            shared=False,
            applied=None,
            branch=tuple(branches[leaf]),
            operations=tuple(op for n in branches[leaf] for op in parsed[n].operations or ()),
        )
        for leaf in leaves
    )
    return Conflict(app, package.directory, ancestor, built, overlap, None)


def _names_tables(migration: Migration) -> bool:
    ops = list(migration.operations or ())
    while ops:
        op = ops.pop()
        if op.tables:
            return True
        ops.extend(op.children)
    return False


def _full_parse(
    app: str, package: discover.Package, scan: Scan, names: set[str]
) -> dict[str, Migration]:
    sources = scan.read(package.modules[name] for name in names)
    out = {}
    for name in sorted(names):
        path = package.modules[name]
        out[name] = parse.parse_migration(
            sources[path], app=app, name=name, path=path, settings=scan.settings.swappable
        )
    return out


# git facts: sides, shared, applied ---------------------------------------------


def _with_git_facts(
    root: Path, analysis: Analysis, conflicts: list[Conflict], state: GitState, config: Config
) -> list[Conflict]:
    paths = {
        analysis.migrations[(c.app, n)].path: (c.app, n)
        for c in conflicts
        for leaf in c.leaves
        for n in leaf.branch
    }
    folders = {c.directory: ("", "") for c in conflicts}
    refs = gitrepo.list_refs(root)
    shared_revs = refs.remote_tracking()
    if config.default_branch:
        default = gitrepo.try_rev(root, config.default_branch)
    else:
        name = refs.default_branch()
        default = refs.shas.get(name) if name else None
    if default:
        shared_revs.append(default)
    # One object lookup for both questions: which files upstream has, which are shared.
    upstream = [state.upstream] if state.upstream else []
    found = gitrepo.existing_objects(
        root, _names(upstream, {**paths, **folders}) + _names(shared_revs, paths)
    )
    upstream_has = {name.partition(":")[2] for name in found if name.split(":")[0] in upstream}
    shared = {name.partition(":")[2] for name in found if name.split(":")[0] in shared_revs}
    moved = {p for p in paths if p.rpartition("/")[0] not in upstream_has}
    if state.upstream and moved:
        # The app's folder is not where it is upstream: look for the files by name.
        upstream_has |= _moved(root, state.upstream, moved - upstream_has)
    applied = _applied(root, config)
    return [_decide(_facts(c, state, upstream_has, shared, applied, analysis)) for c in conflicts]


def _names(revs: Iterable[str], paths: Iterable[str]) -> list[str]:
    """`rev:path` names for git's object lookup."""
    return [f"{rev}:{path}" for rev in dict.fromkeys(revs) for path in paths]


def _moved(root: Path, rev: str, missing: set[str]) -> set[str]:
    """Return which `missing` paths exist in `rev` under a moved app folder."""
    if not missing:
        return set()
    specs = [
        f":(glob)**/{p.rpartition('/')[0].rpartition('/')[2]}/{p.rpartition('/')[2]}"
        for p in missing
    ]
    found = {p.rpartition("/")[2] for p in gitrepo.tree_entries(root, rev, specs)}
    return {p for p in missing if p.rpartition("/")[2] in found}


def _with_manage_py(config: Config, tree: snapshot.Snapshot) -> Config:
    """Name the project's manage.py from the tree, so nothing walks the disk for it."""
    if config.manage_py or config.database:
        return config
    found = [p for p in tree.files if p == "manage.py" or p.endswith("/manage.py")]
    return replace(config, manage_py=found[0]) if len(found) == 1 else config


def _applied(root: Path, config: Config) -> frozenset[Key] | None:
    if not (config.manage_py or config.database or config.settings):
        return None  # no project to ask: no manage.py, or several
    from migmerge import database  # sqlite3 and friends: only when there is a project

    try:
        db = database.find_database(root, config)
        return database.applied_migrations(db) if db is not None else None
    except MigmergeError:
        return None


def _facts(
    conflict: Conflict,
    state: GitState,
    upstream_has: set[str],
    shared: set[str],
    applied: frozenset[Key] | None,
    analysis: Analysis,
) -> Conflict:
    leaves = []
    for leaf in conflict.leaves:
        branch_paths = [analysis.migrations[(conflict.app, n)].path for n in leaf.branch]
        side: Side | None = None
        if state.upstream is not None:
            side = "upstream" if leaf.path in upstream_has else "local"
        leaves.append(
            Leaf(
                leaf.name,
                leaf.path,
                side,
                any(p in shared for p in branch_paths),
                None if applied is None else any((conflict.app, n) in applied for n in leaf.branch),
                leaf.branch,
                leaf.operations,
            )
        )
    return Conflict(
        conflict.app,
        conflict.directory,
        conflict.ancestor,
        tuple(leaves),
        conflict.overlap,
        None,
    )


def _decide(conflict: Conflict) -> Conflict:
    strategy, why = recommend(conflict)
    return Conflict(
        conflict.app,
        conflict.directory,
        conflict.ancestor,
        conflict.leaves,
        conflict.overlap,
        strategy,
        why,
    )


def recommend(conflict: Conflict) -> tuple[Strategy | None, str]:
    """Return the contract's `auto` choice for a conflict, and why, in one sentence."""
    kind = conflict.overlap.kind
    if kind == "field":
        return "regenerate", "the branches change the same things, so the local side is regenerated"
    if kind == "unknown":
        return None, "an operation cannot be read, so a person must choose"
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    upstream = [leaf for leaf in conflict.leaves if leaf.side == "upstream"]
    if len(local) == 1 and upstream and not local[0].shared and not local[0].applied:
        return "renumber", (
            f"the branches do not collide ({_overlap_words(conflict.overlap)}) and the local "
            "migrations are neither shared nor applied, so they move after the upstream ones"
        )
    return "merge", (
        f"the branches do not collide ({_overlap_words(conflict.overlap)}), but "
        f"{_why_not_renumber(local, upstream)}, so a merge migration joins them"
    )


def _overlap_words(overlap: Overlap) -> str:
    return "different models" if overlap.kind == "none" else "same models, different fields"


def _why_not_renumber(local: list[Leaf], upstream: list[Leaf]) -> str:
    if not local or not upstream:
        return "which side is local cannot be told"
    if len(local) > 1:
        return "more than one leaf is local"
    return "the local migrations are " + ("shared" if local[0].shared else "applied")

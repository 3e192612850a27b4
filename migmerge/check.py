"""`check`: find apps with parallel migrations and say how far they collide.

Coordinates the read side: git state -> snapshot -> packages -> headers ->
graph -> conflicts -> classification. Imports neither Django nor questionary.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from migmerge import discover, gitrepo, snapshot
from migmerge.cache import HeaderCache, ResultMemo
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
from migmerge.state import GitState, detect_state, fast_forwarded_from


class Scan:
    """Every migrations package of a snapshot, and its headers once read."""

    __slots__ = ("packages", "headers", "tree", "settings", "warnings", "sources")

    def __init__(
        self,
        packages: list[discover.Package],
        tree: snapshot.Snapshot,
        settings: discover.Settings,
        warnings: list[Warning],
    ) -> None:
        self.packages = packages
        self.headers: dict[str, Migration] = {}  # path -> header (operations None), once read
        self.tree = tree
        self.settings = settings
        self.warnings = warnings
        # Bytes read so far: headers served by the cache were never read.
        self.sources: dict[str, bytes] = {}

    def read(self, paths: Iterable[str]) -> dict[str, bytes]:
        """Return the bytes of `paths`, reading what was not read yet in one go."""
        wanted = list(paths)
        self.sources.update(self.tree.read(p for p in wanted if p not in self.sources))
        return {p: self.sources[p] for p in wanted if p in self.sources}

    def package(self, directory: str) -> discover.Package:
        return next(p for p in self.packages if p.directory == directory)


class Analysis:
    """The result of `check` plus what resolution needs to plan."""

    __slots__ = ("root", "result", "apps", "config", "scan", "_migrations", "_parsed")

    def __init__(
        self,
        root: Path,
        result: CheckResult,
        apps: Mapping[str, AppMigrations],
        config: Config,
        scan: Scan,
        migrations: dict[Key, Migration],
    ) -> None:
        self.root = root
        self.result = result
        self.apps = apps
        self.config = config
        self.scan = scan
        # Every header by key: filled on first use (a remembered result needs none).
        self._migrations = migrations
        self._parsed: dict[Key, Migration] = {}

    @property
    def settings(self) -> Mapping[str, str]:
        """The swappable models settings name (AUTH_USER_MODEL -> "app.Model")."""
        return self.scan.settings.swappable

    @property
    def migrations(self) -> Mapping[Key, Migration]:
        """Every migration of the tree, header only, by key."""
        if not self._migrations:
            self._migrations.update(_all_migrations(self.scan))
        return self._migrations

    def migration(self, app: str, name: str) -> Migration:
        """Return the migration fully parsed (operations included)."""
        key = (app, name)
        if key not in self._parsed:
            path = dict(self.apps[app].files)[name]
            source = self.scan.read([path]).get(path)
            if source is None:
                source = (self.root / path).read_bytes()
            from migmerge import parse

            self._parsed[key] = parse.parse_migration(
                source, app=app, name=name, path=path, settings=self.settings
            )
        return self._parsed[key]


def find_root(start: str | Path | None) -> Path:
    """Return the root of the repository holding `start`."""
    return gitrepo.find_root(start)


def analyze(
    repo: str | Path | gitrepo.RepoInfo | None = None,
    *,
    against: str | None = None,
    apps: Sequence[str] = (),
    changed_only: bool = False,
    listing: gitrepo.Started | None = None,
) -> Analysis:
    """Inspect the working tree (or predict merging `against`) for conflicts.

    `changed_only` (the hooks): look only at the folders the merge or rebase
    in progress or just made changed on either side, or a fast-forward just
    brought in, when there is one.
    `listing`: the whole working tree's listing, started early (see `start`).
    """
    info = repo if isinstance(repo, gitrepo.RepoInfo) else gitrepo.find_repo(repo)
    config = load_config(info.root)
    refs = None
    if against is not None:
        upstream = gitrepo.resolve_rev(info.root, against)
        local = gitrepo.try_rev(info.root, "HEAD")
        state = _against_state(info.root, local, upstream, "against")
        tree = _changed_part(info.root, state, config, local_rev=None, predict=True)
    else:
        refs = gitrepo.list_refs(info.root)
        state = detect_state(info, config, refs)
        pulled = changed_only and state.mode == "worktree" and fast_forwarded_from(info)
        if changed_only and state.mode in ("merge", "rebase") and state.base:
            tree = _changed_part(info.root, state, config, local_rev=None, predict=False)
        elif pulled and state.local:
            # A fast-forward (a plain `git pull`): only what it brought in.
            scope = GitState("merge", pulled, state.local, pulled)
            tree = _changed_part(info.root, scope, config, local_rev=None, predict=False)
        else:
            tree = snapshot.worktree(info.root, started=listing)
    return _analyze_tree(info.root, tree, state, config, apps, refs)


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
    theirs, ours = gitrepo.changed_paths_to(
        root, state.base, [state.upstream, local_rev or state.local]
    )
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
    """Find every migrations package of `tree`, labelled as far as names and files tell."""
    warnings: list[Warning] = []
    settings = discover.read_settings(tree, tree.files, config)
    packages = discover.find_packages(tree, config, settings, warnings)
    discover.label_packages(packages, tree, config)
    return Scan(packages, tree, settings, warnings)


# What the graph makes of a scan, as plain tuples the memo can store:
#   kept:     (directory, label, label_source) of every package, final labels
#   removed:  (directory, module name) of modules that are not migrations
#   warnings: (kind, app, message, path)
#   shapes:   (directory, app, leaves, ancestor, branches, nodes) per conflicting app
Shape = tuple[str, str, tuple[str, ...], str | None, tuple[tuple[str, ...], ...], tuple[str, ...]]
Outcome = tuple[
    tuple[tuple[str, str, str], ...],
    tuple[tuple[str, str], ...],
    tuple[tuple[str, str | None, str, str | None], ...],
    tuple[Shape, ...],
]


def _derive(scan: Scan) -> tuple[Outcome, dict[Key, Migration]]:
    """Read every header, settle labels, build each project's graph.

    Relabels and prunes `scan.packages` as it goes. Returns the outcome and
    every migration's header by key.
    """
    before = {p.directory: set(p.modules) for p in scan.packages}
    found = len(scan.warnings)
    _read_headers(scan)
    changed = discover.infer_labels(scan.packages, scan.headers)
    for package in scan.packages:
        if package.directory in changed:
            for path in package.modules.values():
                if path in scan.headers:
                    scan.headers[path] = discover.relabel(scan.headers[path], package.label)
    _drop_unmigrated(scan.packages, scan.settings)
    warnings = scan.warnings[found:]
    migrations: dict[Key, Migration] = {}
    shapes: list[Shape] = []
    for packages in _by_project(scan.packages).values():
        project = _project_migrations(packages, scan, warnings)
        migrations.update(project)
        graph = Graph(project)
        warnings += _graph_warnings(graph, packages)
        for app, leaves in sorted(graph.conflicts().items()):
            directory = next(p.directory for p in packages if p.label == app)
            ancestor = graph.common_ancestor(app, leaves)
            branches = tuple(tuple(graph.branch(app, ancestor, leaf)) for leaf in leaves)
            shapes.append(
                (directory, app, tuple(leaves), ancestor, branches, tuple(graph.nodes(app)))
            )
    scan.warnings[found:] = warnings
    outcome: Outcome = (
        tuple((p.directory, p.label, p.label_source) for p in scan.packages),
        _removed(before, scan.packages),
        tuple((w.kind, w.app, w.message, w.path) for w in warnings),
        tuple(shapes),
    )
    return outcome, migrations


def _removed(
    before: dict[str, set[str]], packages: list[discover.Package]
) -> tuple[tuple[str, str], ...]:
    """(directory, module) pairs found before that are gone from the packages now."""
    after = {p.directory: p.modules for p in packages}
    return tuple(
        (directory, name)
        for directory, names in before.items()
        for name in sorted(names - after.get(directory, {}).keys())
    )


def _replay(scan: Scan, outcome: Outcome) -> None:
    """Bring `scan` where `_derive` left it, from a remembered outcome."""
    kept, removed, warnings, _ = outcome
    by_dir = {p.directory: p for p in scan.packages}
    for directory, name in removed:
        by_dir[directory].modules.pop(name, None)
    packages = []
    for directory, label, source in kept:
        package = by_dir[directory]
        package.label, package.label_source = label, source
        packages.append(package)
    scan.packages[:] = packages
    scan.warnings += [Warning(*w) for w in warnings]


def _signature(scan: Scan) -> str | None:
    """Everything `_derive` depends on, as one string; None when too big to keep.

    Files git stores count by blob id, the others by their bytes. Parts hold
    no NUL (paths cannot, reprs escape it) except file bytes, which come with
    their length: two different inputs never give the same string.
    """
    stamp = _code_stamp()
    if stamp is None:
        return None
    files = scan.tree.files
    settings = scan.settings
    parts = [
        stamp,
        repr(sorted(settings.swappable.items())),
        repr(sorted(settings.migration_modules.items(), key=lambda item: item[0])),
    ]
    on_disk: list[str] = []
    for package in scan.packages:
        shas = [files[path] for path in package.modules.values()]
        parts.append(
            repr((package.directory, package.label, package.label_source, package.project))
        )
        parts.append(str(len(shas)))
        parts += package.modules
        parts += shas
        if snapshot.DISK in shas:
            on_disk += [path for path in package.modules.values() if files[path] == snapshot.DISK]
    if on_disk:
        sources = scan.read(on_disk)
        if sum(len(data) for data in sources.values()) > MEMO_DISK_BYTES:
            return None
        for path in on_disk:
            data = sources.get(path)
            parts.append(repr(path))
            parts.append("-" if data is None else f"{len(data)}:{data.decode('latin-1')}")
    return "\0".join(parts)


# Bytes of changed or untracked migrations a signature may carry (a tree
# nobody committed yet is read in full on every run anyway).
MEMO_DISK_BYTES = 1 << 20


# The modules whose code decides an outcome (found by file: parse need not load).
_DERIVING = ("check.py", "discover.py", "headers.py", "parse.py", "graph.py", "model.py")


def _code_stamp() -> str | None:
    """Which migmerge computed an outcome: edited or upgraded code starts afresh."""
    from migmerge import __version__

    folder = os.path.dirname(__file__)
    parts = [__version__]
    for name in _DERIVING:
        try:
            stat = os.stat(os.path.join(folder, name))
        except OSError:
            return None
        parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
    return " ".join(parts)


def _all_migrations(scan: Scan) -> dict[Key, Migration]:
    """Every header of a scan whose labels are settled, by key."""
    if not scan.headers:
        _read_headers(scan)
    migrations: dict[Key, Migration] = {}
    for packages in _by_project(scan.packages).values():
        migrations.update(_project_migrations(packages, scan, []))
    return migrations


def _read_headers(scan: Scan) -> None:
    """Fill `scan.headers`: from the header cache by blob id, else from the bytes."""
    # Here, not above: a remembered result needs no header.
    from migmerge.headers import fast_header_fields, header_migration

    files = scan.tree.files
    swappable = scan.settings.swappable
    headers = scan.headers
    cache = HeaderCache.open(scan.tree.root, sum(len(p.modules) for p in scan.packages))
    unread: list[tuple[discover.Package, str, str]] = []
    cached = cache.get
    make = header_migration
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
        fields = fast_header_fields(sources[path])
        if fields is not None:
            if files[path] != snapshot.DISK:
                cache.put(files[path], fields)
            headers[path] = header_migration(fields, package.label, name, path, swappable)
            continue
        from migmerge import parse  # only for what the fast path leaves

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
    root: Path,
    tree: snapshot.Snapshot,
    state: GitState,
    config: Config,
    only: Sequence[str],
    refs: gitrepo.Refs | None = None,
) -> Analysis:
    scan = scan_tree(tree, config)
    memo = ResultMemo.open(root)
    signature = _signature(scan)
    outcome = memo.get(signature) if signature is not None else None
    migrations: dict[Key, Migration] = {}
    if outcome is None:
        outcome, migrations = _derive(scan)
        if signature is not None:
            memo.put(signature, outcome)
    else:
        _replay(scan, outcome)
    app_map: dict[str, AppMigrations] = {}
    for packages in _by_project(scan.packages).values():
        for package in packages:
            app_map.setdefault(package.label, _app(package))
    conflicts = [
        _conflict(shape, scan.package(shape[0]), scan)
        for shape in outcome[3]
        if not only or shape[1] in only
    ]
    analysis = Analysis(
        root,
        CheckResult(state.mode, state.local, state.upstream, state.base),
        app_map,
        config,
        scan,
        migrations,
    )
    if conflicts:
        config = _with_manage_py(config, tree)
        conflicts = _with_git_facts(root, analysis, conflicts, state, config, refs)
    analysis.result = CheckResult(
        state.mode, state.local, state.upstream, state.base, tuple(conflicts), tuple(scan.warnings)
    )
    return analysis


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
                migrations[header.app, header.name] = header
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
    shape: Shape,
    package: discover.Package,
    scan: Scan,
) -> Conflict:
    _, app, leaves, ancestor, branch_list, nodes = shape
    branches = dict(zip(leaves, branch_list))
    in_branches = {n for b in branch_list for n in b}
    parsed = _full_parse(app, package, scan, in_branches)
    history: list[Migration] = []
    if any(_names_tables(m) for m in parsed.values()):
        # Only SQL needs the table names the app's history gives its models.
        names = {n for n in nodes if n not in in_branches}
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
            branch=branches[leaf],
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
    from migmerge import parse

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
    root: Path,
    analysis: Analysis,
    conflicts: list[Conflict],
    state: GitState,
    config: Config,
    refs: gitrepo.Refs | None,
) -> list[Conflict]:
    paths = {
        analysis.scan.package(c.directory).modules[n]: (c.app, n)
        for c in conflicts
        for leaf in c.leaves
        for n in leaf.branch
    }
    folders = {c.directory: ("", "") for c in conflicts}
    refs = refs or gitrepo.list_refs(root)
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
    return config._replace(manage_py=found[0]) if len(found) == 1 else config


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
        modules = analysis.scan.package(conflict.directory).modules
        branch_paths = [modules[n] for n in leaf.branch]
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

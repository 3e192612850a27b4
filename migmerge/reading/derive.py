"""What the migration graph makes of a tree: labels, leaves, branches, warnings; remembered.

A scan holds every migrations package of a snapshot; `derive` reads the
headers, settles labels and builds each project's graph; its outcome is plain
tuples, kept in the result memo by the tree's exact signature, so an
unchanged tree checked again skips the headers and the graph altogether.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, cast

from migmerge.core.graph import Graph, Missing
from migmerge.core.model import Key, Migration, Warning
from migmerge.errors import NotAMigration
from migmerge.reading import discover, settings_files, snapshot
from migmerge.reading.cache import HeaderCache
from migmerge.reading.config import Config

if TYPE_CHECKING:
    from migmerge.reading.headers import HeaderFields
    from migmerge.reading.kmigrator_apps import Folder


class Scan:
    """Every migrations package of a snapshot, and its headers once read."""

    __slots__ = (
        "packages",
        "headers",
        "tree",
        "settings",
        "warnings",
        "sources",
        "kmigrator",
        "modules",
    )

    def __init__(
        self,
        packages: list[discover.Package],
        tree: snapshot.Snapshot,
        settings: settings_files.Settings,
        warnings: list[Warning],
        kmigrator: dict[str, Folder] | None = None,
    ) -> None:
        self.packages = packages
        # The kmigrator folders (condo) by directory: their migrations live in .js files.
        self.kmigrator = kmigrator or {}
        self.headers: dict[str, Migration] = {}  # path -> header (operations None), once read
        self.tree = tree
        self.settings = settings
        self.warnings = warnings
        # Bytes read so far: headers served by the cache were never read.
        self.sources: dict[str, bytes] = {}
        # The repository's other modules, once a parse follows an import.
        self.modules: object | None = None

    def read(self, paths: Iterable[str]) -> dict[str, bytes]:
        """Return the bytes of `paths`, reading what was not read yet in one go."""
        wanted = list(paths)
        self.sources.update(self.tree.read(p for p in wanted if p not in self.sources))
        return {p: self.sources[p] for p in wanted if p in self.sources}

    def package(self, directory: str) -> discover.Package:
        return next(p for p in self.packages if p.directory == directory)


def scan_tree(tree: snapshot.Snapshot, config: Config) -> Scan:
    """Find every migrations package of `tree`, labelled as far as names and files tell."""
    warnings: list[Warning] = [_link_out(link) for link in tree.links_out if _may_matter(link)]
    settings = settings_files.read_settings(tree, tree.files, config)
    packages = discover.find_packages(tree, config, settings, warnings)
    folders = {}
    if any(p.label_source == discover.KMIGRATOR for p in packages):
        from migmerge.reading import kmigrator_apps  # condo's .js migrations, only when there

        folders = kmigrator_apps.expand(packages, tree, warnings)
    discover.label_packages(packages, tree, config)
    return Scan(packages, tree, settings, warnings, folders)


def _may_matter(link: str) -> bool:
    """Tell whether a link out of the repository may hide migrations (a module, a folder)."""
    return link.endswith(".py") or "migrations" in link


def _link_out(link: str) -> Warning:
    return Warning(
        "link-outside-repository",
        None,
        f"{link} is a symbolic link that leads out of the repository: not read (Django would "
        "follow it; migmerge reads only what the repository holds)",
        link,
    )


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


def derive(scan: Scan) -> tuple[Outcome, dict[Key, Migration]]:
    """Read every header, settle labels, build each project's graph.

    Relabels and prunes `scan.packages` as it goes. Returns the outcome and
    every migration's header by key.
    """
    before = {p.directory: set(p.modules) for p in scan.packages}
    found = len(scan.warnings)
    settle(scan)
    warnings = scan.warnings[found:]
    migrations: dict[Key, Migration] = {}
    shapes: list[Shape] = []
    for packages in by_project(scan.packages).values():
        project = _project_migrations(packages, scan, warnings)
        migrations.update(project)
        graph = Graph(project)
        warnings += _graph_warnings(graph, packages)
        for app, leaves in sorted(graph.conflicts().items()):
            directory = next(p.directory for p in packages if p.label == app)
            ancestor = graph.common_ancestor(app, leaves)
            branches = tuple(tuple(b) for b in graph.branches(app, ancestor, leaves))
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


def settle(scan: Scan) -> None:
    """Read every header and settle every label (what the graph is built from)."""
    _read_headers(scan)
    changed = discover.infer_labels(scan.packages, scan.headers)
    for package in scan.packages:
        if package.directory in changed:
            for path in package.modules.values():
                if path in scan.headers:
                    scan.headers[path] = discover.relabel(scan.headers[path], package.label)
    _drop_unmigrated(scan.packages, scan.settings)


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


def fits(scan: Scan, outcome: object) -> bool:
    """Tell whether a remembered outcome is one this scan can take; else derive it again."""
    try:
        kept, removed, warnings, shapes = cast(Outcome, outcome)
        modules = {p.directory: p.modules for p in scan.packages}
        return (
            all(d in modules and isinstance(label, str) for d, label, _ in kept)
            and all(d in modules and name in modules[d] for d, name in removed)
            and all(len(w) == 4 and isinstance(w[2], str) for w in warnings)
            and all(_shape_fits(shape, modules) for shape in shapes)
        )
    except (TypeError, ValueError):
        return False


def _shape_fits(shape: Shape, modules: Mapping[str, Mapping[str, str]]) -> bool:
    directory, app, leaves, _, branches, _ = shape
    names = modules.get(directory, {})
    return isinstance(app, str) and all(n in names for n in (*leaves, *sum(branches, ())))


def replay(scan: Scan, outcome: Outcome) -> None:
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


def signature(scan: Scan) -> str | None:
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


# The folders whose code decides an outcome: every module in them is stamped,
# so a module moved or added there can never be forgotten.
_DERIVING = ("reading", "core")


def _code_stamp() -> str | None:
    """Which migmerge computed an outcome: edited or upgraded code starts afresh."""
    from migmerge import __version__

    package = os.path.dirname(os.path.dirname(__file__))
    parts = [__version__]
    try:
        for folder in _DERIVING:
            with os.scandir(os.path.join(package, folder)) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    if entry.name.endswith(".py"):
                        stat = entry.stat()
                        parts.append(f"{entry.name}:{stat.st_mtime_ns}:{stat.st_size}")
    except OSError:
        return None
    return " ".join(parts)


def all_migrations(scan: Scan) -> dict[Key, Migration]:
    """Every header of a scan whose labels are settled, by key."""
    if not scan.headers:
        _read_headers(scan)
    migrations: dict[Key, Migration] = {}
    for packages in by_project(scan.packages).values():
        migrations.update(_project_migrations(packages, scan, []))
    return migrations


def _read_headers(scan: Scan) -> None:
    """Fill `scan.headers`: from the header cache by blob id, else from the bytes."""
    # Here, not above: a remembered result needs no header.
    from migmerge.reading.headers import fast_header_fields, header_migration

    files = scan.tree.files
    swappable = scan.settings.swappable
    headers = scan.headers
    cache = HeaderCache.open(scan.tree.root, sum(len(p.modules) for p in scan.packages))
    unread: list[tuple[discover.Package, str, str]] = []
    cached = cache.get
    make = header_migration
    try:
        for package in scan.packages:
            if package.directory in scan.kmigrator:
                continue  # read from the decoded .js files: kmigrator_apps.headers
            label = package.label
            for name, path in package.modules.items():
                # The loop every check runs ten thousand times: kept to two calls.
                fields = cached(files.get(path) or "")
                if fields is None:
                    unread.append((package, name, path))
                else:
                    headers[path] = make(fields, label, name, path, swappable)
    except (TypeError, ValueError):
        # An entry the cache never writes: believe none of it, read every file.
        headers.clear()
        cache.entries.clear()
        unread = [
            (p, name, path)
            for p in scan.packages
            if p.directory not in scan.kmigrator
            for name, path in p.modules.items()
        ]
    sources = scan.read(path for _, _, path in unread)
    for package, name, path in unread:
        if path not in sources:
            scan.warnings.append(_not_read(scan, path, package.label))
            continue
        fields = fast_header_fields(sources[path])
        if fields is not None and files[path] != snapshot.DISK:
            cache.put(files[path], fields)
        header = header_from(sources[path], package.label, name, path, swappable, fields)
        if header is None:
            # A helper module, or a `migrations` package that is not Django's.
            del package.modules[name]
            if not _south(sources[path]):  # old history's South migrations: nothing to say
                scan.warnings.append(_not_a_migration(path, package.label))
        else:
            headers[path] = header
    cache.save()


def header_from(
    source: bytes,
    app: str,
    name: str,
    path: str,
    swappable: Mapping[str, str],
    fields: HeaderFields | None = None,
) -> Migration | None:
    """Read a migration's header from its bytes (byte scan, else `ast`); None: not a migration.

    `fields`: the byte scan's result, when it ran already.
    """
    from migmerge.reading.headers import fast_header_fields, header_migration

    fields = fields or fast_header_fields(source)
    if fields is not None:
        return header_migration(fields, app, name, path, swappable)
    from migmerge.reading import parse  # only for what the fast path leaves

    try:
        return parse.read_header(source, app=app, name=name, path=path, settings=swappable)
    except NotAMigration:
        return None


def _not_read(scan: Scan, path: str, app: str) -> Warning:
    """Say why a module of a migrations package was not read at all."""
    if scan.tree.files.get(path) == snapshot.DISK:
        why = "it is not a regular file (a FIFO, a device), or a link out of the repository"
    else:
        why = "its blob is not in the object store (a partial clone?)"
    return Warning("unreadable-migration", app, f"{path} cannot be read: {why}; skipped", path)


def _south(source: bytes) -> bool:
    """Tell whether a module is a South migration (Django before 1.7), by its bytes."""
    return b"south" in source and (b"SchemaMigration" in source or b"DataMigration" in source)


def _not_a_migration(path: str, app: str) -> Warning:
    return Warning(
        "not-a-migration",
        app,
        f"{path} has no Migration class: skipped (Django would refuse it if the app is installed; "
        "exclude the folder in [tool.migmerge] if it is not a Django migrations package)",
        path,
    )


def _drop_unmigrated(packages: list[discover.Package], settings: settings_files.Settings) -> None:
    """MIGRATION_MODULES = {label: None} means the app has no migrations."""
    off = {label for label, module in settings.migration_modules.items() if module is None}
    packages[:] = [p for p in packages if not (p.label in off and p.label_source != "settings")]


def by_project(packages: list[discover.Package]) -> dict[str, list[discover.Package]]:
    out: dict[str, list[discover.Package]] = {}
    for package in packages:
        out.setdefault(package.project, []).append(package)
    return out


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
        folder = scan.kmigrator.get(package.directory)
        if folder is not None:
            from migmerge.reading import kmigrator_apps

            migrations.update(
                kmigrator_apps.headers(folder, package, scan.read, scan.settings.swappable)
            )
            continue
        for path in package.modules.values():
            header = scan.headers.get(path)
            if header is not None:
                migrations[header.app, header.name] = header
                if header.unreadable:
                    warnings.append(unreadable_warning(header))
                elif header.dynamic:
                    warnings.append(
                        Warning("dynamic-dependencies", header.app, header.dynamic, path)
                    )
    return migrations


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


def _graph_warnings(graph: Graph, packages: list[discover.Package]) -> list[Warning]:
    folders = {p.label: p.directory for p in packages}
    out = [_missing(graph, missing, folders) for missing in graph.missing]
    cycle = graph.cycle()
    if cycle is not None:
        out.append(_cycle(graph, cycle))
    for package in packages:
        out += _duplicate_numbers(graph, package.label)
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

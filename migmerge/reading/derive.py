"""What the migration graph makes of a tree: labels, leaves, branches, warnings; remembered.

A scan holds every migrations package of a snapshot; `derive` reads the
headers, settles labels and builds each project's graph; its outcome is plain
tuples, kept in the result memo by the tree's exact signature, so an
unchanged tree checked again skips the headers and the graph altogether.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from migmerge.core.graph import Graph
from migmerge.core.graph_warnings import graph_warnings, unreadable_warning
from migmerge.core.model import Key, Migration, Warning
from migmerge.errors import NotAMigration
from migmerge.reading import discover, settings_files, snapshot
from migmerge.reading.cache import HeaderCache
from migmerge.reading.config import Config

if TYPE_CHECKING:
    from migmerge.reading.headers import HeaderFields
    from migmerge.reading.kmigrator_apps import Folder
    from migmerge.reading.parsed import Parses


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
        "parsed",
        "parses",
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
        # Migrations read whole so far, by path: a conflict's branches are read once a run
        # (the conflict reading parses them, the clash finders take its reading).
        self.parsed: dict[str, Migration] = {}
        # The cache of whole parses (reading/parsed.py), once conflicts are read.
        self.parses: Parses | None = None

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
        warnings += graph_warnings(graph, [(p.label, p.directory) for p in packages])
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
            if files[path] == snapshot.DISK and not header.unreadable:
                _compiles(scan, header, sources[path])
    cache.save()


def _compiles(scan: Scan, header: Migration, source: bytes) -> None:
    """Warn when Python refuses a migration being edited (the header read, the rest may not).

    Only the working tree's own files, which no cache holds and every run reads:
    compiling every committed migration would cost a fresh clone's check several
    times over, and a committed one Django refuses fails every manage.py command.
    """
    from migmerge.reading.parse_source import refused

    why = refused(source, header.path)
    if why is not None:
        scan.warnings.append(unreadable_warning(header._replace(unreadable=why)))


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

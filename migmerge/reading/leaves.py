"""The conflicts the graph found, built: each leaf's branch read in full and classified.

The graph gives a conflicting app's leaves and branches from headers alone;
here the branches' migrations are parsed whole (following imports into the
repository's other modules, a kmigrator file's Python decoded first), the
app's history only when SQL needs its table names, and the overlap judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from migmerge.core.graph_warnings import unreadable_warning
from migmerge.core.model import Conflict, Leaf, Migration
from migmerge.reading import discover
from migmerge.reading.derive import Scan, Shape

if TYPE_CHECKING:
    from migmerge.reading.parse_names import ModuleSource


def build_conflict(shape: Shape, package: discover.Package, scan: Scan) -> Conflict:
    """The conflict of one app the graph found (`shape`), its branches read and judged."""
    _, app, leaves, ancestor, branch_list, nodes = shape
    branches = dict(zip(leaves, branch_list))
    in_branches = {n for b in branch_list for n in b}
    parsed = _full_parse(app, package, scan, in_branches)
    history: list[Migration] = []
    if any(_names_tables(m) for m in parsed.values()):
        # Only SQL needs the table names the app's history gives its models.
        names = {n for n in nodes if n not in in_branches}
        history = list(_full_parse(app, package, scan, names).values())
    from migmerge.core.classify import classify  # only when there is a conflict to judge

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


def _modules(scan: Scan) -> ModuleSource:
    """The repository's other modules, for parses to follow imports into (one per scan)."""
    from migmerge.reading.modules import RepositoryModules  # only when a conflict is read

    if not isinstance(scan.modules, RepositoryModules):
        scan.modules = RepositoryModules(scan.tree)
    return scan.modules


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
    out = {name: parse_whole(scan, app, package, name, sources) for name in sorted(names)}
    scan.parsed.update((migration.path, migration) for migration in out.values())
    warned = {w.path for w in scan.warnings if w.kind == "unreadable-migration"}
    for migration in out.values():
        if migration.unreadable and migration.path not in warned:
            scan.warnings.append(unreadable_warning(migration))
            warned.add(migration.path)
    return out


def parse_whole(
    scan: Scan, app: str, package: discover.Package, name: str, sources: Mapping[str, bytes]
) -> Migration:
    """Read one migration of `app` whole, from its file's bytes (path -> bytes)."""
    path = package.modules[name]
    settings = scan.settings.swappable
    if package.directory in scan.kmigrator:
        from migmerge.reading import kmigrator_apps

        source = kmigrator_apps.sources(sources, package.modules, [name])[name]
        return kmigrator_apps.parse_full(source, app, name, path, settings)
    from migmerge.reading import parse

    return parse.parse_migration(
        sources[path], app=app, name=name, path=path, settings=settings, modules=_modules(scan)
    )

"""The conflicts the graph found, built: each leaf's branch read in full and classified.

The graph gives a conflicting app's leaves and branches from headers alone;
here the branches' migrations are parsed whole (following imports into the
repository's other modules, a kmigrator file's Python decoded first), the
app's history only when SQL needs its table names, and the overlap judged.
A parse made on an earlier run is taken from the cache when it still holds
(reading/parsed.py): the same blob, and the same answers from every module
it followed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from migmerge import trace
from migmerge.core.graph_warnings import unreadable_warning
from migmerge.core.model import Conflict, Leaf, Migration
from migmerge.reading import discover
from migmerge.reading.derive import Scan, Shape

if TYPE_CHECKING:
    from migmerge.reading.parse_names import ModuleSource


def build_conflicts(
    shapes: Sequence[Shape], by_dir: Mapping[str, discover.Package], scan: Scan
) -> list[Conflict]:
    """The conflicts the graph found, each built; the cache of parses read and written once."""
    from migmerge.reading.parsed import Parses  # only when there is a conflict to read

    parses = scan.parses = Parses(scan.tree.root, scan.tree.files, scan.settings.swappable)
    wanted = [(by_dir[s[0]], s[1], set(sum(s[4], ()))) for s in shapes]
    parses.open(sum(len(names) for _, _, names in wanted))
    if len(shapes) > 1:  # every conflicting branch's unread files in one reading, not one per app
        unread = [(p, names - _recall(scan, app, p, names).keys()) for p, app, names in wanted]
        scan.read(p.modules[name] for p, names in unread for name in names)
    conflicts = [build_conflict(shape, by_dir[shape[0]], scan) for shape in shapes]
    trace.note(f"whole parses: {parses.recalled} from the cache, {parses.added} made now")
    parses.save()
    return conflicts


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
    known = _recall(scan, app, package, names)
    sources = scan.read(package.modules[name] for name in names if name not in known)
    out = {
        name: known[name] if name in known else _parse_kept(scan, app, package, name, sources)
        for name in sorted(names)
    }
    scan.parsed.update((migration.path, migration) for migration in out.values())
    warned = {w.path for w in scan.warnings if w.kind == "unreadable-migration"}
    for migration in out.values():
        if migration.unreadable and migration.path not in warned:
            scan.warnings.append(unreadable_warning(migration))
            warned.add(migration.path)
    return out


def _recall(
    scan: Scan, app: str, package: discover.Package, names: Iterable[str]
) -> dict[str, Migration]:
    """The migrations of `names` read whole already: this run, or an earlier one (the cache)."""
    out = {}
    parses = scan.parses if package.directory not in scan.kmigrator else None
    for name in names:
        path = package.modules[name]
        known = scan.parsed.get(path)
        if known is not None and known.key == (app, name):
            out[name] = known
        elif parses is not None:
            key = parses.key(app, name, path)
            known = parses.recall(key, lambda: _modules(scan), app, name, path) if key else None
            if known is not None:
                out[name] = scan.parsed[path] = known
    return out


def _parse_kept(
    scan: Scan, app: str, package: discover.Package, name: str, sources: Mapping[str, bytes]
) -> Migration:
    """Parse one migration whole, and keep the parse in the cache when it can be."""
    parses = scan.parses if package.directory not in scan.kmigrator else None
    key = parses.key(app, name, package.modules[name]) if parses is not None else None
    if parses is None or key is None:
        return parse_whole(scan, app, package, name, sources)
    from migmerge.reading.parsed import Recorder

    recorder = Recorder(_modules(scan), parses.digests)
    migration = parse_whole(scan, app, package, name, sources, recorder)
    parses.remember(key, recorder, migration)
    return migration


def parse_whole(
    scan: Scan,
    app: str,
    package: discover.Package,
    name: str,
    sources: Mapping[str, bytes],
    modules: ModuleSource | None = None,
) -> Migration:
    """Read one migration of `app` whole, from its file's bytes (path -> bytes).

    `modules`: where its imports are followed (default: the scan's tree).
    """
    path = package.modules[name]
    settings = scan.settings.swappable
    if package.directory in scan.kmigrator:
        from migmerge.reading import kmigrator_apps

        source = kmigrator_apps.sources(sources, package.modules, [name])[name]
        return kmigrator_apps.parse_full(source, app, name, path, settings)
    from migmerge.reading import parse

    return parse.parse_migration(
        sources[path],
        app=app,
        name=name,
        path=path,
        settings=settings,
        modules=modules or _modules(scan),
    )

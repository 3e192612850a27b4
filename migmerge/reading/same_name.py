"""Same-named migrations on both sides (git's add/add): what each version does.

Two branches that make the same model change get the same file name from
makemigrations (`0124_alter_check_name`). The merged tree then has one path
and two contents: one node in the graph, so no second leaf, yet one side's
migration is lost. Both versions are read and compared like two branches.
"""

from __future__ import annotations

from collections.abc import Mapping

from migmerge.core.model import Conflict, Leaf, Migration, Side
from migmerge.errors import NotAMigration
from migmerge.reading import discover, snapshot
from migmerge.reading.derive import Scan


def same_name_conflicts(scan: Scan, twins: Mapping[str, tuple[str, str]]) -> list[Conflict]:
    """One `same-name` conflict per migration module both sides added differently."""
    by_dir = {p.directory: p for p in scan.packages}
    out = []
    for path, blobs in sorted(twins.items()):
        directory, _, file = path.rpartition("/")
        package = by_dir.get(directory)
        name = file.removesuffix(".py")
        if package is not None and package.modules.get(name) == path:
            versions = [_version(scan, package, name, path, blob) for blob in blobs]
            if versions[0] is not None and versions[1] is not None:
                out.append(_conflict(package, versions[0], versions[1], blobs))
    return out


def _version(
    scan: Scan, package: discover.Package, name: str, path: str, blob: str
) -> Migration | None:
    """Read one side's version of the module (its blob, or the working tree's file)."""
    from migmerge.reading import parse

    source = snapshot.Snapshot(scan.tree.root, {path: blob}).read([path]).get(path)
    if source is None:
        return None
    try:
        return parse.parse_migration(
            source, app=package.label, name=name, path=path, settings=scan.settings.swappable
        )
    except NotAMigration:
        return None


def _conflict(
    package: discover.Package, local: Migration, upstream: Migration, blobs: tuple[str, str]
) -> Conflict:
    from migmerge.core.classify import classify  # only when there is a conflict to judge

    # Two names for the classifier, which compares what each side has that the other lacks.
    mine = local._replace(name=f"{local.name} (local)")
    theirs = upstream._replace(name=f"{upstream.name} (upstream)")
    overlap = classify(package.label, [[mine], [theirs]])
    leaves = (_leaf(local, "local", blobs[0]), _leaf(upstream, "upstream", blobs[1]))
    ancestor = _shared_parent(package.label, local, upstream)
    return Conflict(
        package.label, package.directory, ancestor, leaves, overlap, None, kind="same-name"
    )


def _leaf(migration: Migration, side: Side, blob: str) -> Leaf:
    return Leaf(
        migration.name,
        migration.path,
        side,
        False,
        None,
        (migration.name,),
        migration.operations or (),
        blob,
    )


def _shared_parent(app: str, local: Migration, upstream: Migration) -> str | None:
    """The newest migration of the app both versions depend on (makemigrations: the leaf)."""
    both = {n for a, n in local.dependencies if a == app} & {
        n for a, n in upstream.dependencies if a == app
    }
    return max(both) if both else None

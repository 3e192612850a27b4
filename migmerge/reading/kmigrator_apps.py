"""kmigrator apps of a tree (condo): their `.js` files as migrations, their headers, their strays.

Discovery hands over a kmigrator folder (`apps/condo/migrations`) with every
file in it. `expand` turns that into what the rest of migmerge reads: each
KMIGRATOR entry's name -> the `.js` file holding it (several names may share
one file; the file's name is not the migration's), learnt from the
KmigratorCache by blob id where it can, so an unchanged tree reads no file.
Headers and operations come from the decoded Python source through the same
readers as any migration, under the folder's own label: the `_django_schema`
that every kmigrator migration's dependencies name is mapped to it, so two
kmigrator apps never share a graph. Nothing is run.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from migmerge.core import kmigrator
from migmerge.core.model import Key, Migration, Operation, Warning
from migmerge.errors import NotAMigration, UnreadableMigration
from migmerge.reading import snapshot
from migmerge.reading.cache import KmigratorCache

if TYPE_CHECKING:
    from pathlib import Path

    from migmerge.core.plans.kmigrator import Folder as PlanFolder
    from migmerge.reading.cache import KmigratorFacts
    from migmerge.reading.config import Config
    from migmerge.reading.discover import Package
    from migmerge.reading.headers import HeaderFields

STRAY = (
    "is not a kmigrator migration file (<timestamp>-NNNN_name.js): kmigrator reads every file "
    "in {folder} (a .DS_Store stops its makemigrations with UnicodeDecodeError) and knex runs "
    "every .js file there; move it out of the folder"
)


class Folder:
    """What `expand` learnt of one kmigrator folder, and its headers once read."""

    __slots__ = ("facts", "headers")

    def __init__(self, facts: dict[str, KmigratorFacts]) -> None:
        self.facts = facts  # .js path -> what it holds
        self.headers: dict[Key, Migration] | None = None


def expand(
    packages: list[Package], tree: snapshot.Snapshot, warnings: list[Warning]
) -> dict[str, Folder]:
    """Turn kmigrator packages' files into migration name -> `.js` path; return directory -> Folder.

    A folder none of whose files has a KMIGRATOR line is a plain knex folder,
    not kmigrator's: it is dropped, and nothing is said about it.
    """
    from migmerge.reading.discover import KMIGRATOR

    found = [p for p in packages if p.label_source == KMIGRATOR]
    if not found:
        return {}
    facts = _facts(tree, [path for p in found for path in _migration_files(p)])
    folders: dict[str, Folder] = {}
    for package in found:
        mine = {path: facts[path] for path in _migration_files(package) if path in facts}
        if not any(f[2] for f in mine.values()):
            continue  # no KMIGRATOR line anywhere: another knex project's folder
        warnings += _strays(package, tree) + _damage(mine)
        package.modules = _entries(package, mine, warnings)
        folders[package.directory] = Folder(mine)
    packages[:] = [p for p in packages if p.label_source != KMIGRATOR or p.directory in folders]
    return folders


def _migration_files(package: Package) -> list[str]:
    return sorted(p for p in package.modules.values() if kmigrator.is_migration_file(p))


def _facts(tree: snapshot.Snapshot, paths: list[str]) -> dict[str, KmigratorFacts]:
    """What each file holds: from the cache by blob id, else decoded now (and remembered)."""
    cache = KmigratorCache.open(tree.root, len(paths))
    out: dict[str, KmigratorFacts] = {}
    unread = []
    for path in paths:
        sha = tree.files.get(path, snapshot.DISK)
        cached = cache.get(sha) if sha != snapshot.DISK else None
        if cached is None:
            unread.append(path)
        else:
            out[path] = cached
    for path, data in tree.read(unread).items():
        out[path] = file_facts(data)
        if tree.files[path] != snapshot.DISK:
            cache.put(tree.files[path], out[path])
    cache.save()
    return out


def file_facts(data: bytes) -> KmigratorFacts:
    """Decode one file into what the cache keeps: entries with their headers, damage, marks."""
    from migmerge.reading.headers import fast_header_fields

    decoded = kmigrator.decode(data)
    entries = tuple(
        (e.name, fast_header_fields(e.source), zlib.crc32(e.source)) for e in decoded.entries
    )
    damage = tuple((d.line, d.name, d.reason) for d in decoded.damaged)
    marks = len(decoded.entries) + len(decoded.views) + len(decoded.bare)
    return entries, damage, marks + sum(1 for d in decoded.damaged if d.line)


def _entries(
    package: Package, facts: Mapping[str, KmigratorFacts], warnings: list[Warning]
) -> dict[str, str]:
    """Migration name -> the file holding it; a name in two files is said (kmigrator keeps one).

    Unless both hold the very same source: kmigrator restores the same module
    either way (condo's hand-made files carry a copy of the migration state).
    """
    modules: dict[str, str] = {}
    crcs: dict[str, int] = {}
    for path, (entries, _, _) in sorted(facts.items()):
        for name, _, crc in entries:
            if name in modules and modules[name] != path and crcs[name] != crc:
                warnings.append(_twice(package, name, modules[name], path))
            modules[name], crcs[name] = path, crc
    return modules


def _twice(package: Package, name: str, first: str, second: str) -> Warning:
    return Warning(
        "duplicate-name",
        package.label,
        f"{first} and {second} both hold migration {name}: kmigrator restores only one of them "
        "(whichever the file system lists last), knex runs both files' SQL; keep one of them",
        second,
    )


def _damage(facts: Mapping[str, KmigratorFacts]) -> list[Warning]:
    out = []
    for path, (_, damage, _) in sorted(facts.items()):
        for line, name, reason in damage:
            where = (
                f"line {line} (KMIGRATOR {name})"
                if line and name
                else f"line {line}"
                if line
                else "the file"
            )
            out.append(Warning("unreadable-migration", None, f"{path}: {where}: {reason}", path))
    return out


def _strays(package: Package, tree: snapshot.Snapshot) -> list[Warning]:
    """Name each file in the folder that is no migration file (on disk too, in a working tree)."""
    paths = set(package.modules.values())
    if tree.label == snapshot.WORKING_TREE:
        paths |= _on_disk(tree.root, package.directory)
    message = STRAY.format(folder=package.directory)
    return [
        Warning("stray-file", package.label, f"{path} {message}", path)
        for path in sorted(paths)
        if not kmigrator.is_migration_file(path)
    ]


def _on_disk(root: Path, directory: str) -> set[str]:
    """Files directly in `directory` of the working tree, ignored ones included (a .DS_Store)."""
    try:
        with os.scandir(root / directory) as entries:
            return {f"{directory}/{e.name}" for e in entries if e.is_file(follow_symlinks=False)}
    except OSError:
        return set()


# Headers and whole migrations ---------------------------------------------------------


Read = Callable[[Iterable[str]], dict[str, bytes]]


def headers(
    folder: Folder, package: Package, read: Read, settings: Mapping[str, str]
) -> dict[Key, Migration]:
    """Every migration of a kmigrator package, header only, under the package's label."""
    if folder.headers is None:
        from migmerge.reading.headers import header_migration

        label = package.label
        out: dict[Key, Migration] = {}
        slow = []
        for name, path in package.modules.items():
            fields = _fields(folder, path, name)
            if fields is None:
                slow.append(name)
            else:
                out[label, name] = header_migration(
                    _mapped(fields, label), label, name, path, settings
                )
        data = read(package.modules[name] for name in slow)
        for name, source in sources(data, package.modules, slow).items():
            out[label, name] = _read_header(source, label, name, package.modules[name], settings)
        folder.headers = out
    return folder.headers


def _fields(folder: Folder, path: str, name: str) -> HeaderFields | None:
    entries = folder.facts[path][0]
    # The last line of a name wins, as in kmigrator.
    return next((fields for entry, fields, _ in reversed(entries) if entry == name), None)


def _mapped(fields: HeaderFields, label: str) -> HeaderFields:
    deps, initial = fields
    app = kmigrator.APP_LABEL
    return tuple((label if a == app else a, n) for a, n in deps), initial


def _read_header(
    source: bytes, label: str, name: str, path: str, settings: Mapping[str, str]
) -> Migration:
    from migmerge.reading import parse

    try:
        header = parse.read_header(source, app=label, name=name, path=path, settings=settings)
    except UnreadableMigration as exc:
        raise _unreadable(exc, name) from None
    return relabel(header, label)


def parse_full(
    source: bytes, label: str, name: str, path: str, settings: Mapping[str, str]
) -> Migration:
    """Read a decoded kmigrator migration whole (operations included), under `label`."""
    from migmerge.reading import parse

    try:
        migration = parse.parse_migration(
            source, app=label, name=name, path=path, settings=settings
        )
    except UnreadableMigration as exc:
        raise _unreadable(exc, name) from None
    return relabel(migration, label)


def _unreadable(exc: UnreadableMigration, name: str) -> UnreadableMigration:
    kind = NotAMigration if isinstance(exc, NotAMigration) else UnreadableMigration
    return kind(exc.path, f"the migration {name} its KMIGRATOR line holds: {exc.reason}")


def sources(
    data: Mapping[str, bytes], modules: Mapping[str, str], names: Iterable[str]
) -> dict[str, bytes]:
    """The decoded Python source of each named migration, from its file's bytes (path -> bytes)."""
    decoded: dict[str, dict[str, bytes]] = {}
    out = {}
    for name in names:
        path = modules[name]
        if path not in data:
            continue  # vanished while we looked
        if path not in decoded:
            decoded[path] = {e.name: e.source for e in kmigrator.decode(data[path]).entries}
        if name in decoded[path]:
            out[name] = decoded[path][name]
    return out


def relabel(migration: Migration, label: str) -> Migration:
    """Name the migration's app `label` wherever its source says `_django_schema`."""

    def key(k: Key) -> Key:
        return (label, k[1]) if k[0] == kmigrator.APP_LABEL else k

    operations = migration.operations
    return migration._replace(
        app=label,
        dependencies=tuple(map(key, migration.dependencies)),
        replaces=tuple(map(key, migration.replaces)),
        run_before=tuple(map(key, migration.run_before)),
        operations=None
        if operations is None
        else tuple(_operation(op, label) for op in operations),
    )


def _operation(op: Operation, label: str) -> Operation:
    prefix = kmigrator.APP_LABEL + "."
    if not op.references and not op.reaches and not op.children:
        return op

    def model(ref: str) -> str:
        return label + ref[len(kmigrator.APP_LABEL) :] if ref.startswith(prefix) else ref

    return op._replace(
        references=tuple(map(model, op.references)),
        reaches=tuple(map(model, op.reaches)),
        children=tuple(_operation(child, label) for child in op.children),
    )


# What a plan needs -------------------------------------------------------------------


def plan_folder(
    root: Path, app: str, directory: str, modules: Mapping[str, str], config: Config
) -> PlanFolder:
    """The folder as the kmigrator plans see it: its files now, what knex applied, the commands."""
    from migmerge.core.plans.kmigrator import Folder as PlanFolder
    from migmerge.reading import knex

    app_dir = directory.rpartition("/")[0]
    applied = knex.applied_files(
        knex.find_database(root, app_dir, os.environ), app_dir, config.python
    )
    return PlanFolder(
        app,
        directory,
        tuple(sorted(_on_disk(root, directory))),
        dict(modules),
        lambda path: (root / path).read_bytes(),
        applied.files,
        applied.why,
        merge_command(root, app_dir, config.commands),
    )


def merge_command(root: Path, app_dir: str, commands: Mapping[str, str]) -> str:
    """kmigrator's own merge, as a person types it: the configured makemigrations plus --merge."""
    if commands.get("makemigrations"):
        return f"{commands['makemigrations']} --merge"
    package = _package_json(root / app_dir / "package.json")
    name, scripts = package.get("name"), package.get("scripts")
    if isinstance(name, str) and isinstance(scripts, dict) and "makemigrations" in scripts:
        return f"yarn workspace {name} makemigrations --merge"
    return f"python3 bin/kmigrator.py makemigrations --merge (in {app_dir})"


def _package_json(path: Path) -> dict[str, object]:
    import json

    try:
        found = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def file_migrations(
    data: bytes, label: str, path: str, settings: Mapping[str, str]
) -> list[Migration]:
    """Every migration one `.js` file holds, header only, under `label` (for one blob's bytes).

    For readers that take files one blob at a time (check --branches): a
    kmigrator file may hold several migrations, or none (hand-written SQL).
    """
    from migmerge.reading.headers import header_migration

    out = []
    for name, fields, _ in file_facts(data)[0]:
        if fields is not None:
            out.append(header_migration(_mapped(fields, label), label, name, path, settings))
        else:
            source = sources({path: data}, {name: path}, [name])[name]
            out.append(_read_header(source, label, name, path, settings))
    return out

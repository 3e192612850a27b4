"""Resolutions of a kmigrator app's fork (condo), as plans: renumber, merge, regenerate.

A kmigrator migration lives in a `.js` file's `// KMIGRATOR:<name>:<base64>`
line; knex runs the files in file-name order and records each applied file
by name in `knex_migrations`. So:

- `renumber` renames each local file with the new number and a timestamp
  after every other file of the folder (knex's order then follows the
  graph), and re-encodes its KMIGRATOR and KMIGRATOR_VIEWS lines with the new
  name and dependencies, spliced into the decoded source by `core.edit`;
  the SQL and every other byte stay. Only for local files nobody has (not
  shared) and knex has not applied: renaming an applied file makes knex stop
  ("the migration directory is corrupt").
- `merge` writes the merge migration as kmigrator's own `makemigrations
  --merge` would, only where that can be done faithfully: when every branch
  ends with the same analytics views state. Otherwise it refuses and names
  kmigrator's command.
- `regenerate` (kmigrator_regenerate) runs the commands the project
  configures (`[tool.migmerge.commands]`): `rollback` once per applied local
  file, the local files deleted, `makemigrations`, `migrate`.

A plan is data: nothing here writes, reads the disk or runs anything; the
folder's bytes come in through `Folder.read`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from migmerge.core import edit, kmigrator, kmigrator_write
from migmerge.core.model import Conflict, Leaf
from migmerge.core.plan import Action, Plan
from migmerge.core.renumber_safety import shared_rule
from migmerge.core.writer import merge_number, parse_number, render_merge_migration
from migmerge.errors import Refused

if TYPE_CHECKING:
    from datetime import datetime

KNEX_CORRUPT = "The migration directory is corrupt, the following files are missing"


@dataclass(frozen=True)
class Folder:
    """A kmigrator app's folder as a plan sees it.

    `files`: every file directly in the folder (repository-relative), the
    hand-written knex files too (they count for knex's order).
    `modules`: migration name -> the `.js` file holding it.
    `applied`: the file names knex has recorded; None when unknown, and then
    `applied_why` says why.
    `merge_command`: kmigrator's own merge, as the person would type it.
    """

    app: str
    directory: str
    files: tuple[str, ...]
    modules: Mapping[str, str]
    read: Callable[[str], bytes]
    applied: frozenset[str] | None = None
    applied_why: str = ""
    merge_command: str = "python3 ../../bin/kmigrator.py makemigrations --merge"


# Renumber ------------------------------------------------------------------------


def plan_renumber(
    folder: Folder,
    conflict: Conflict,
    *,
    keep_names: bool = False,
    force: bool = False,
    now: datetime | None = None,
) -> Plan:
    """Move the local files after upstream's: new numbers, new timestamps, re-encoded lines.

    `keep_names`: the migrations keep their names; their files still get new
    timestamps, so that knex runs them after upstream's.
    """
    upstream, local = _sides(conflict)
    warnings = _refuse_unsafe(folder, conflict, local, force)
    moving = [name for leaf in local for name in leaf.branch]
    renames = {} if keep_names else _new_names(folder, upstream.name, moving)
    repoint = _repoints(folder, upstream.name, local)
    paths = list(dict.fromkeys(folder.modules[name] for name in moving))
    refuse_mixed_files(folder, paths, moving)
    after = _last_file([f for f in folder.files if f not in paths])
    targets = kmigrator_write.renamed_paths(
        [(path, _file_migration(path, renames)) for path in paths], after, now
    )
    actions = []
    for path, target in zip(paths, targets):
        actions += _reencode(folder, path, renames, repoint)
        why = f"number it after the upstream migrations and sort it after {base_name(after)}"
        actions.append(Action("rename", why, path=path, target=target))
    warnings += _knex_rows(folder, paths, targets)
    return Plan("renumber", conflict.app, tuple(actions), tuple(warnings))


def _sides(conflict: Conflict) -> tuple[Leaf, list[Leaf]]:
    """The one upstream leaf and the local ones; refuse when that cannot be told."""
    upstream = [leaf for leaf in conflict.leaves if leaf.side == "upstream"]
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    if len(upstream) != 1 or len(local) + 1 != len(conflict.leaves):
        sides = ", ".join(f"{leaf.name}: {leaf.side or 'unknown side'}" for leaf in conflict.leaves)
        raise Refused(
            f"{conflict.app}: cannot renumber: there is no single upstream leaf ({sides}), "
            "so which files to move cannot be told",
            hint=f"name the branch you merge with: migmerge check --against REV, or "
            f"migmerge resolve --app {conflict.app} --strategy merge",
        )
    return upstream[0], local


def _refuse_unsafe(
    folder: Folder, conflict: Conflict, local: Sequence[Leaf], force: bool
) -> list[str]:
    """Refuse to rename shared, applied or possibly applied files; with --force, warn instead."""
    app = conflict.app
    warnings = shared_rule(app, local, force=force, verb="renumber")
    applied = [leaf.name for leaf in local if leaf.applied is True]
    unknown = [leaf.name for leaf in local if leaf.applied is None]
    merge = f"migmerge resolve --app {app} --strategy merge"
    if applied and not force:
        raise Refused(
            f"{app}: refusing to renumber {', '.join(applied)}: knex has applied its file, and "
            f"renaming an applied file makes knex stop ('{KNEX_CORRUPT}')",
            hint=f"roll it back first (once per migration), then renumber; or {merge}",
        )
    if unknown and not force:
        raise Refused(
            f"{app}: refusing to renumber {', '.join(unknown)}: whether knex has applied it "
            f"cannot be read ({folder.applied_why}), so migmerge takes it as possibly applied",
            hint=f"let migmerge read knex_migrations (DATABASE_URL), or {merge}, or --force "
            "if it is not applied",
        )
    return list(warnings)


def _new_names(folder: Folder, onto: str, moving: Sequence[str]) -> dict[str, str]:
    """Number the moving migrations after `onto`, keeping what follows each number."""
    number = parse_number(onto)
    if number is None:
        raise Refused(
            f"{folder.app}: cannot renumber: {onto} has no number to count on from",
            hint=f"migmerge resolve --app {folder.app} --strategy merge",
        )
    renames = {}
    for name in moving:
        number += 1
        renames[name] = f"{number:04d}_{name.partition('_')[2] or name}"
    taken = sorted(set(renames.values()) & (set(folder.modules) - set(moving)))
    if taken:
        raise Refused(
            f"{folder.app}: cannot renumber: {', '.join(taken)} already exist",
            hint=f"migmerge resolve --app {folder.app} --strategy merge",
        )
    return {old: new for old, new in renames.items() if old != new}


def _repoints(folder: Folder, onto: str, local: Sequence[Leaf]) -> dict[str, tuple[str, str]]:
    """Each local branch's first migration: (its dependency before, the one it gets)."""
    repoint = {}
    for leaf in local:
        head = leaf.branch[0]
        deps = [
            name
            for app, name in edit.references(_source(folder, head), ("dependencies",))
            if app == kmigrator.APP_LABEL and name not in leaf.branch
        ]
        if len(deps) != 1:
            raise Refused(
                f"{folder.modules[head]}: cannot renumber: which dependency of {head} to move "
                f"onto {onto} cannot be told (found {', '.join(deps) or 'none'})",
                hint=f"migmerge resolve --app {folder.app} --strategy merge",
            )
        repoint[head] = (deps[0], onto)
        onto = leaf.branch[-1]
    return repoint


def refuse_mixed_files(folder: Folder, paths: Sequence[str], moving: Sequence[str]) -> None:
    """Refuse to rename a file that also holds a migration that stays."""
    for path in paths:
        staying = [n for n, p in folder.modules.items() if p == path and n not in moving]
        if staying:
            raise Refused(
                f"{path} holds {', '.join(staying)} too, which stays: renaming the file would "
                "move it as well",
                hint=f"migmerge resolve --app {folder.app} --strategy merge",
            )


def _reencode(
    folder: Folder, path: str, renames: Mapping[str, str], repoint: Mapping[str, tuple[str, str]]
) -> list[Action]:
    """The file's new bytes: each of its entries renamed, re-pointed and re-encoded (if any)."""
    keys = {(kmigrator.APP_LABEL, old): (kmigrator.APP_LABEL, new) for old, new in renames.items()}
    data = folder.read(path)
    changes = {}
    for entry in kmigrator.decode(data).entries:
        source = entry.source
        if entry.name in repoint:
            old, onto = repoint[entry.name]
            source = edit.replace_dependency(
                source, (kmigrator.APP_LABEL, old), (kmigrator.APP_LABEL, onto)
            )
        source = edit.rewrite_references(source, keys)
        new_name = renames.get(entry.name)
        if new_name or source != entry.source:
            changes[entry.name] = kmigrator.Change(new_name, source)
    if not changes:
        return []  # --keep-names, past the first file: only the file's timestamp changes
    why = "re-encode its KMIGRATOR lines: " + "; ".join(
        _change_words(name, change, repoint) for name, change in changes.items()
    )
    return [Action("edit", why, path=path, content=kmigrator_write.reencode(data, changes))]


def _change_words(
    name: str, change: kmigrator.Change, repoint: Mapping[str, tuple[str, str]]
) -> str:
    words = f"{name} -> {change.name}" if change.name else name
    if name in repoint:
        words += f", depends on {repoint[name][1]} instead of {repoint[name][0]}"
    return words


def _knex_rows(folder: Folder, paths: Sequence[str], targets: Sequence[str]) -> list[str]:
    """Forced over applied files: the knex_migrations rows to rename by hand."""
    applied = folder.applied or frozenset()
    return [
        f"knex_migrations still records {base_name(old)}: run UPDATE knex_migrations SET name = "
        f"'{base_name(new)}' WHERE name = '{base_name(old)}'; or knex stops ('{KNEX_CORRUPT}')"
        for old, new in zip(paths, targets)
        if base_name(old) in applied
    ]


def _file_migration(path: str, renames: Mapping[str, str]) -> str:
    """The migration a renamed file is named for: its renamed entry, else its name kept."""
    name = kmigrator.parse_file_name(base_name(path))
    migration = name.migration if name else base_name(path).removesuffix(".js")
    return renames.get(migration, migration)


def _last_file(files: Sequence[str]) -> str:
    """The file knex runs last among `files` (JS string order: by name)."""
    names = [f for f in files if kmigrator.is_migration_file(f)]
    if not names:
        return "00000000000000-0000_none.js"
    return max(names, key=base_name)


def _source(folder: Folder, name: str) -> bytes:
    """The decoded source of migration `name` (the last line of that name, as kmigrator reads)."""
    entries = kmigrator.decode(folder.read(folder.modules[name])).entries
    return [entry.source for entry in entries if entry.name == name][-1]


def base_name(path: str) -> str:
    return path.rpartition("/")[2]


# Merge ---------------------------------------------------------------------------


def plan_merge(folder: Folder, conflict: Conflict, *, now: datetime | None = None) -> Plan:
    """Write the merge migration kmigrator's `makemigrations --merge` writes, when faithful."""
    leaves = [leaf.name for leaf in conflict.leaves]
    views = _views_state(folder, leaves)
    name, source = render_merge_migration(kmigrator.APP_LABEL, leaves, merge_number(leaves))
    stamp = kmigrator_write.timestamp_after(_last_file(folder.files), now)
    path = f"{folder.directory}/{kmigrator_write.file_name(stamp, name)}"
    why = (
        f"a merge migration depending on every leaf ({', '.join(sorted(leaves))}), in the file "
        "kmigrator's makemigrations --merge writes"
    )
    write = Action(
        "write", why, path=path, content=kmigrator_write.render_merge_file(name, source, views)
    )
    return Plan("merge", conflict.app, (write,), afterwards=(f"git add {path}",))


def _views_state(folder: Folder, leaves: Sequence[str]) -> bytes | None:
    """The views state the merge carries; refuse when the branches end with different ones."""
    states: dict[str, bytes] = {}
    any_views = False
    for path in sorted(set(folder.modules.values())):
        decoded = kmigrator.decode(folder.read(path))
        any_views = any_views or bool(decoded.views)
        states.update((v.name, v.state) for v in decoded.views if v.name in leaves)
    if not any_views:
        return None  # kmigrator before 1.7 wrote no views lines
    ends = {states.get(leaf) for leaf in leaves}
    if len(ends) == 1 and None not in ends:
        return ends.pop()
    raise Refused(
        f"{folder.app}: cannot write the merge as kmigrator would: the branches end with "
        "different analytics views states (KMIGRATOR_VIEWS), and kmigrator adds view SQL to "
        "the merge that only the merged Keystone schema gives",
        hint=f"run kmigrator's own merge, which writes the merge as a .js file: "
        f"{folder.merge_command} (python .kmigrator/manage.py makemigrations --merge, the "
        "documented fallback, writes it only into .kmigrator/, which kmigrator's next run "
        "deletes)",
    )

"""A renumber's file changes: the edited bytes, the renames, what is left to a person.

Every migration that names a renamed one is edited (byte-faithful splices,
core/edit), each moving stretch's first migration re-pointed onto upstream's
leaf, the moved files renamed last first, and the tracked files outside the
migrations that still mention an old name are named in a warning. Reading
the files to compute their new bytes is the only I/O; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from migmerge.core import edit
from migmerge.core.model import Key, Migration
from migmerge.core.plan import Action
from migmerge.errors import Refused


def edit_actions(
    root: Path,
    migrations: Iterable[Migration],
    app: str,
    renames: Mapping[str, str],
    repoint: Mapping[str, tuple[str, str]],
) -> list[Action]:
    """Edit every migration that names a renamed one, and re-point each segment's head.

    `repoint`: a segment's first migration -> (the dependency it drops, the one it takes).
    """
    keys = {(app, old): (app, new) for old, new in renames.items()}
    actions = []
    for migration in sorted(migrations, key=lambda m: m.path):
        pointed = repoint.get(migration.name) if migration.app == app else None
        if pointed is None and not _names_any(migration, keys):
            continue
        action = _edit(root, migration, keys, pointed, app)
        if action is not None:
            actions.append(action)
    return actions


def _names_any(migration: Migration, keys: Mapping[Key, Key]) -> bool:
    """True when the migration's header references one of `keys`."""
    refs = (*migration.dependencies, *migration.replaces, *migration.run_before)
    return any(ref in keys for ref in refs)


def _edit(
    root: Path,
    migration: Migration,
    keys: Mapping[Key, Key],
    pointed: tuple[str, str] | None,
    app: str,
) -> Action | None:
    """Compute one file's new bytes: head re-pointed first, then every reference renamed."""
    before = (root / migration.path).read_bytes()
    after = before
    whys = []
    if pointed is not None:
        try:
            after = edit.replace_dependency(after, (app, pointed[0]), (app, pointed[1]))
        except edit.EditError as exc:
            # A refusal (exit 1), not bad input: Django reads the file; migmerge cannot edit it.
            why = "its dependencies are computed, " if migration.dynamic else ""
            raise Refused(
                f"{migration.path}: cannot renumber: {why}{exc.message}", hint=exc.hint
            ) from exc
        whys.append(f"depend on {pointed[1]} instead of {pointed[0]}")
    renamed = edit.rewrite_references(after, keys)
    if renamed != after:
        whys.append("follow the renamed migrations it references")
    if renamed == before:
        return None
    return Action("edit", "; ".join(whys), path=migration.path, content=renamed)


def rename_actions(
    migrations: Mapping[Key, Migration], app: str, moving: Sequence[str], renames: Mapping[str, str]
) -> list[Action]:
    """Rename the moved files, last first, so no target is taken by a file still to move."""
    actions = []
    for name in reversed(moving):
        if name not in renames:
            continue
        path = migrations[(app, name)].path
        target = f"{path.rsplit('/', 1)[0]}/{renames[name]}.py"
        why = f"number it after the upstream migrations: {name} -> {renames[name]}"
        actions.append(Action("rename", why, path=path, target=target))
    return actions


def outside_references(
    root: Path,
    mentions: Mapping[str, Iterable[str]],
    renames: Mapping[str, str],
    actions: Sequence[Action],
) -> list[str]:
    """Warn about tracked text files outside the edited migrations that mention old names.

    `mentions`: each old name -> the tracked files that name it as a word.
    """
    if not renames:
        return []
    handled = {a.path for a in actions} | {a.target for a in actions}
    found = sorted({path for paths in mentions.values() for path in paths})
    return [
        f"{path} mentions {_which(root / path, renames)}: update it by hand"
        for path in found
        if path and path not in handled
    ]


def _which(path: Path, renames: Mapping[str, str]) -> str:
    """Name the old names a file mentions, with their new names."""
    text = path.read_bytes().decode("utf-8", "replace") if path.is_file() else ""
    pairs = [f"{old} (now {new})" for old, new in renames.items() if old in text]
    return ", ".join(pairs) or ", ".join(renames)

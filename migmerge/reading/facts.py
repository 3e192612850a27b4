"""Facts about each conflicting leaf that git and the database tell: side, shared, applied."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from migmerge.core.model import Conflict, Key, Leaf, Side
from migmerge.core.strategy import recommend
from migmerge.errors import MigmergeError
from migmerge.reading import git, snapshot
from migmerge.reading.config import Config
from migmerge.reading.scope import GitState


def with_git_facts(
    root: Path,
    modules: Mapping[str, Mapping[str, str]],
    conflicts: list[Conflict],
    state: GitState,
    config: Config,
    refs: git.Refs | None,
) -> list[Conflict]:
    paths = {
        modules[c.directory][n]: (c.app, n)
        for c in conflicts
        for leaf in c.leaves
        for n in leaf.branch
    }
    folders = {c.directory: ("", "") for c in conflicts}
    refs = refs or git.list_refs(root)
    shared_revs = refs.remote_tracking()
    name = refs.default_branch(config.default_branch)
    default = refs.shas.get(name) if name else None
    if default:
        shared_revs.append(default)
    # One object lookup for both questions: which files upstream has, which are shared.
    upstream = [state.upstream] if state.upstream else []
    found = git.existing_objects(
        root, _names(upstream, {**paths, **folders}) + _names(shared_revs, paths)
    )
    upstream_has = {name.partition(":")[2] for name in found if name.split(":")[0] in upstream}
    shared = {name.partition(":")[2] for name in found if name.split(":")[0] in shared_revs}
    moved = {p for p in paths if p.rpartition("/")[0] not in upstream_has}
    if state.upstream and moved:
        # The app's folder is not where it is upstream: look for the files by name.
        upstream_has |= _moved(root, state.upstream, moved - upstream_has)
    applied = _applied(root, config)
    return [
        _decide(_facts(c, state, upstream_has, shared, applied, modules[c.directory]))
        for c in conflicts
    ]


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
    found = {p.rpartition("/")[2] for p in git.tree_entries(root, rev, specs)}
    return {p for p in missing if p.rpartition("/")[2] in found}


def with_manage_py(config: Config, tree: snapshot.Snapshot) -> Config:
    """Name the project's manage.py from the tree, so nothing walks the disk for it."""
    if config.manage_py or config.database:
        return config
    found = [p for p in tree.files if p == "manage.py" or p.endswith("/manage.py")]
    return config._replace(manage_py=found[0]) if len(found) == 1 else config


def _applied(root: Path, config: Config) -> frozenset[Key] | None:
    if not (config.manage_py or config.database or config.settings):
        return None  # no project to ask: no manage.py, or several
    # sqlite3 and friends: only when there is a project
    from migmerge.reading.applied import applied_migrations
    from migmerge.reading.settings_db import find_database

    try:
        db = find_database(root, config)
        return applied_migrations(db) if db is not None else None
    except MigmergeError:
        return None


def _facts(
    conflict: Conflict,
    state: GitState,
    upstream_has: set[str],
    shared: set[str],
    applied: frozenset[Key] | None,
    modules: Mapping[str, str],
) -> Conflict:
    leaves = []
    for leaf in conflict.leaves:
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
    return conflict._replace(leaves=tuple(leaves), strategy=None)


def _decide(conflict: Conflict) -> Conflict:
    strategy, why = recommend(conflict)
    return conflict._replace(strategy=strategy, strategy_why=why)

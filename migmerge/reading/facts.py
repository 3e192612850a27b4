"""Facts about each conflicting leaf that git and the database tell: side, shared, applied."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from migmerge.core.model import Conflict, Key, Leaf, Project, Side, Warning
from migmerge.core.strategy import recommend
from migmerge.reading import git_objects, git_refs, snapshot
from migmerge.reading.config import Config
from migmerge.reading.scope import GitState


def with_git_facts(
    root: Path,
    modules: Mapping[str, Mapping[str, str]],
    conflicts: list[Conflict],
    state: GitState,
    config: Config,
    refs: git_refs.Refs | None,
    projects: Mapping[str, Project],
) -> list[Conflict]:
    paths = {
        path: (leaf.app or c.app, n)
        for c in conflicts
        for leaf in c.leaves
        for n, path in _branch_paths(c, leaf, modules)
    }
    folders = {c.directory: ("", "") for c in conflicts}
    refs = refs or git_refs.list_refs(root)
    shared_revs = refs.remote_tracking()
    name = refs.default_branch(config.default_branch)
    default = refs.shas.get(name) if name else None
    if default:
        shared_revs.append(default)
    # One read of each folder at each revision for both questions: which files
    # upstream has, which are shared.
    upstream = [state.upstream] if state.upstream else []
    found = _lookup(root, _names(upstream, {**paths, **folders}) + _names(shared_revs, paths))
    upstream_has = {name.partition(":")[2] for name in found if name.split(":")[0] in upstream}
    # (path, blob) shared revisions hold: a same-name leaf is shared only with its own bytes.
    shared = {
        (name.partition(":")[2], sha)
        for name, sha in found.items()
        if name.split(":")[0] in shared_revs
    }
    moved = {p for p in paths if p.rpartition("/")[0] not in upstream_has}
    if state.upstream and moved:
        # The app's folder is not where it is upstream: look for the files by name.
        upstream_has |= _moved(root, state.upstream, moved - upstream_has)
    applied = {d: project.applied for d, project in projects.items()}
    return [
        _decide(_facts(c, state, upstream_has, shared, applied[c.directory], modules))
        for c in conflicts
    ]


def _branch_paths(
    conflict: Conflict, leaf: Leaf, modules: Mapping[str, Mapping[str, str]]
) -> list[tuple[str, str]]:
    """(name, path) of each migration of a leaf's branch; a cross-app leaf is its one file."""
    if leaf.app is not None and leaf.app != conflict.app:
        return [(leaf.name, leaf.path)]
    return [(n, modules[conflict.directory].get(n, leaf.path)) for n in leaf.branch]


# Up to this many names in one folder of one revision are looked up by name (git scans the
# folder once per name, in C); more are read a folder at a time (parsed once per tree).
# condo: a few names in each of 1,170 remote refs' 558-file folder; the facts took 3.4 s
# with every tree parsed, 0.7-1.4 s by name.
BY_NAME = 64


def _lookup(root: Path, names: list[str]) -> dict[str, str]:
    """The object id of each `rev:path` name that exists: by name, or a folder at a time."""
    per_folder: dict[str, int] = {}
    for name in names:
        per_folder[_folder(name)] = per_folder.get(_folder(name), 0) + 1
    few = [name for name in names if per_folder[_folder(name)] <= BY_NAME]
    found = git_objects.object_ids(root, few) if few else {}
    folders = {_folder(name) for name in names if per_folder[_folder(name)] > BY_NAME}
    listed = git_objects.folder_entries(root, folders)
    for name in names:
        if per_folder[_folder(name)] <= BY_NAME:
            continue
        entries = listed.get(_folder(name))
        base = name.rpartition("/")[2] if "/" in name.partition(":")[2] else name.partition(":")[2]
        if entries is not None and base in entries:
            found[name] = entries[base]
    return found


def _folder(name: str) -> str:
    """`rev:a/b/c` -> `rev:a/b` (`rev:` for a file at the root)."""
    rev, _, path = name.partition(":")
    return f"{rev}:{path.rpartition('/')[0]}"


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
    found = {p.rpartition("/")[2] for p in git_objects.tree_entries(root, rev, specs)}
    return {p for p in missing if p.rpartition("/")[2] in found}


def projects_of(
    root: Path,
    conflicts: list[Conflict],
    config: Config,
    tree: snapshot.Snapshot,
    *,
    settings: str | None = None,
    ask: bool = False,
) -> dict[str, Project]:
    """The project of each conflicting app's folder, with what its database has applied."""
    from migmerge.reading.project import load_project, with_applied

    read: dict[Project, Project] = {}
    out = {}
    for conflict in conflicts:
        project = load_project(
            root, config, settings=settings, near=conflict.directory, files=tree.files, ask=ask
        )
        if project not in read:
            read[project] = with_applied(project)  # once per project, only when a conflict needs it
        out[conflict.directory] = read[project]
    return out


def applied_warnings(conflicts: list[Conflict], projects: Mapping[str, Project]) -> list[Warning]:
    """Say, for each app whose applied state is unknown, why and how to let migmerge see it."""
    out = []
    for conflict in conflicts:
        project = projects.get(conflict.directory)
        unknown = [leaf.name for leaf in conflict.leaves if leaf.applied is None]
        if project is None or not unknown:
            continue
        hint = f"; hint: {project.applied_hint}" if project.applied_hint else ""
        message = (
            f"{conflict.app}: whether {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} "
            f"applied cannot be read ({project.applied_why}), so migmerge takes "
            f"{'it' if len(unknown) == 1 else 'them'} as possibly applied{hint}"
        )
        out.append(Warning("applied-unknown", conflict.app, message))
    return out


def _facts(
    conflict: Conflict,
    state: GitState,
    upstream_has: set[str],
    shared: set[tuple[str, str]],
    applied: frozenset[Key] | None,
    modules: Mapping[str, Mapping[str, str]],
) -> Conflict:
    shared_paths = {path for path, _ in shared}
    leaves = []
    for leaf in conflict.leaves:
        branch_paths = [p for _, p in _branch_paths(conflict, leaf, modules)]
        # Cross-app and same-name leaves know their side already (which side took
        # what away; which version is whose).
        side: Side | None = leaf.side
        if side is None and state.upstream is not None:
            side = "upstream" if leaf.path in upstream_has else "local"
        app = leaf.app or conflict.app
        # One path, two versions (same-name): shared only with its own bytes.
        is_shared = (
            (leaf.path, leaf.blob) in shared
            if leaf.blob
            else any(p in shared_paths for p in branch_paths)
        )
        leaves.append(
            leaf._replace(
                side=side,
                shared=is_shared,
                applied=None if applied is None else any((app, n) in applied for n in leaf.branch),
            )
        )
    return conflict._replace(leaves=tuple(leaves), strategy=None)


def _decide(conflict: Conflict) -> Conflict:
    strategy, why = recommend(conflict)
    return conflict._replace(strategy=strategy, strategy_why=why)

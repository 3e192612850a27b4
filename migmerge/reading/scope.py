"""Which git situation the tree is in, whose each side is, and which part of which tree to read."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from migmerge.errors import GitFailed, MigmergeError
from migmerge.reading import git, git_diff, git_refs

if TYPE_CHECKING:
    from migmerge.core.model import Mode
    from migmerge.reading import snapshot
    from migmerge.reading.config import Config

# What reads the tree (discovery, settings, snapshots) is imported where a part of
# the tree is read: a hook whose merge changed no migration only asks git, and stops.


class GitState(NamedTuple):
    """The sides of the work: local and upstream commits and their merge base."""

    mode: Mode
    local: str | None
    upstream: str | None
    base: str | None
    # The other merge bases, after criss-cross merges (`git merge-base --all`); only
    # `--against` asks for them, to predict what git's merge drops.
    other_bases: tuple[str, ...] = ()


def _read(path: Path) -> str | None:
    """The first word of a file git keeps (MERGE_HEAD, ORIG_HEAD, ...), or None."""
    try:
        return path.read_bytes().decode("utf-8", "replace").split()[0]
    except (OSError, IndexError):
        return None


class StateFacts(NamedTuple):
    """What the git directory says about the state of the work, read as files."""

    head: str | None
    parents: tuple[str, ...]  # HEAD's parents
    merge_head: str | None  # MERGE_HEAD: a merge in progress
    rebase_onto: str | None  # rebase-merge/onto or rebase-apply/onto: a rebase in progress
    rebase_orig_head: str | None
    orig_head: str | None  # ORIG_HEAD
    reflog: tuple[str, ...]  # the last lines of HEAD's reflog, oldest first


def detect_state(info: git.RepoInfo, config: Config, refs: git_refs.Refs) -> GitState:
    """Tell merge or rebase (in progress or just made) from a plain working tree."""
    mode, local, upstream = decide_state(read_state(info))
    if mode == "worktree":
        upstream = _upstream_ref(config, refs)
    return _state(info.root, mode, local, upstream)


def read_state(info: git.RepoInfo) -> StateFacts:
    """Read what decide_state needs from the git directory (and HEAD's commit)."""
    git_dir = info.git_dir
    head, parents = _head(info.root)
    onto = orig = None
    for folder in ("rebase-merge", "rebase-apply"):
        onto = _read(git_dir / folder / "onto")
        if onto:
            orig = _read(git_dir / folder / "orig-head")
            break
    return StateFacts(
        head,
        tuple(parents),
        _read(git_dir / "MERGE_HEAD"),
        onto,
        orig,
        _read(git_dir / "ORIG_HEAD"),
        tuple(_reflog_tail(git_dir)),
    )


def decide_state(facts: StateFacts) -> tuple[Mode, str | None, str | None]:
    """Return (mode, local, upstream) for the contract's sides; pure.

    A merge (in progress, or HEAD the merge just made: two parents, the
    first ORIG_HEAD) has local = HEAD before it and upstream = MERGE_HEAD; a
    rebase (in progress or just finished, per HEAD's reflog) has local = the
    commits replayed and upstream = the commit rebased onto, whatever git's
    "ours" says. Otherwise the working tree, whose upstream the caller finds.
    """
    if facts.merge_head and facts.parents == (facts.parents[0], facts.merge_head):
        # The merge just made, seen from its post-merge hook: git (2.39) removes
        # MERGE_HEAD only after the hook ran. Local is HEAD before the merge, not
        # the merge commit (whose merge base with upstream is upstream itself).
        return "merge", facts.parents[0], facts.merge_head
    if facts.merge_head:
        return "merge", facts.head, facts.merge_head
    if facts.rebase_onto:
        return "rebase", facts.rebase_orig_head, facts.rebase_onto
    if len(facts.parents) == 2 and facts.orig_head == facts.parents[0]:
        return "merge", facts.parents[0], facts.parents[1]
    onto = _just_rebased_onto(list(facts.reflog))
    if onto and facts.orig_head:
        return "rebase", facts.orig_head, onto
    return "worktree", facts.head, None


class Followed(NamedTuple):
    """What a hook's reading follows, found with git alone (`followed_sides`).

    `state`: the merge or rebase just made (None otherwise), the state
    `analyze(changed_only=True, state=...)` then takes as it is instead of
    asking git again. `sides`: the (base, side) commit pairs whose changes the
    reading follows; None when there are none and the whole working tree is read.
    """

    state: GitState | None
    sides: list[tuple[str, str]] | None


def followed_sides(info: git.RepoInfo) -> Followed:
    """What `analyze(changed_only=True)` would follow: each side's changes, and their state.

    A merge or rebase just made: each side since the merge base; a
    fast-forward: what it brought in. Git only: nothing of the tree is read.
    """
    mode, local, upstream = decide_state(read_state(info))
    if mode in ("merge", "rebase"):
        state = _state(info.root, mode, local, upstream)
        if state.base and state.local and state.upstream:
            return Followed(state, [(state.base, state.upstream), (state.base, state.local)])
        return Followed(None, None)
    pulled = fast_forwarded_from(info)
    return Followed(None, [(pulled, local)] if pulled and local else None)


def _head(root: Path) -> tuple[str | None, list[str]]:
    try:
        line = git.git_run(root, "log", "-1", "--format=%H %P", "HEAD").split()
    except GitFailed:
        return None, []  # an unborn branch
    return line[0], line[1:]


def _state(root: Path, mode: Mode, local: str | None, upstream: str | None) -> GitState:
    if upstream is not None and not git.is_sha(upstream):
        upstream = git.try_rev(root, upstream)
    base = git_refs.merge_base(root, local, upstream) if local and upstream else None
    return GitState(mode, local, upstream, base)


def _upstream_ref(config: Config, refs: git_refs.Refs) -> str | None:
    """The commit of the branch's upstream, else of the default branch unless HEAD is on it."""
    upstream = refs.upstream()
    if upstream:
        return upstream
    default = refs.default_branch(config.default_branch)
    if default is None or refs.current == default:
        return None
    return refs.shas[default]


def fast_forwarded_from(info: git.RepoInfo) -> str | None:
    """Return the commit HEAD was on before the fast-forward merge just made, or None.

    git writes "<old> <new> ... merge <rev>: Fast-forward" (or "pull: ...")
    to HEAD's reflog; nothing else marks a fast-forward once it is done.
    """
    lines = _reflog_tail(info.git_dir)
    if not lines:
        return None
    fields, _, message = lines[-1].partition("\t")
    old = fields.split(" ", 1)[0]
    if not message.endswith(": Fast-forward") or not git.is_sha(old) or old == git.ZERO_SHA:
        return None
    return old


def merge_just_committed(info: git.RepoInfo) -> bool:
    """Tell whether the commit just made concluded a merge (`git commit` after a conflict).

    HEAD's reflog says "commit (merge): ..." for exactly that; an amend says
    "commit (amend)", a rebase's pick "rebase (pick)". Without a reflog, a
    merge commit whose first parent is ORIG_HEAD stands in.
    """
    lines = _reflog_tail(info.git_dir)
    if lines:
        return lines[-1].partition("\t")[2].startswith("commit (merge):")
    _head_sha, parents = _head(info.root)
    return len(parents) == 2 and _read(info.git_dir / "ORIG_HEAD") == parents[0]


def _reflog_tail(git_dir: Path) -> list[str]:
    """The last lines of HEAD's reflog (none when there is no reflog)."""
    try:
        with open(git_dir / "logs" / "HEAD", "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            return handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def _just_rebased_onto(lines: list[str]) -> str | None:
    """Return the commit the last finished rebase started from, per HEAD's reflog lines."""
    if not lines or not _is_rebase(lines[-1], "finish"):
        return None
    for line in reversed(lines[:-1]):
        if _is_rebase(line, "start"):
            return line.split()[1]
        if not _is_rebase(line, ""):
            return None
    return None


def _is_rebase(line: str, phase: str) -> bool:
    message = line.partition("\t")[2]
    return "rebase" in message.split(":")[0] and f"({phase}" in message.split(":")[0]


# Which part of which tree --------------------------------------------------


def against_state(root: Path, local: str | None, upstream: str, mode: Mode) -> GitState:
    bases = git_refs.all_merge_bases(root, local, upstream) if local else []
    base = bases[0] if bases else None
    if local and base is None and git.is_shallow(root):
        raise MigmergeError(
            f"{local[:12]} and {upstream[:12]} share no history in this shallow clone",
            hint="fetch the rest of the history: git fetch --unshallow",
        )
    if local and base is None:
        raise MigmergeError(
            f"{local[:12]} and {upstream[:12]} share no history",
            hint="compare against a branch of the same project",
        )
    return GitState(mode, local, upstream, base, tuple(bases[1:]))


Diffs = tuple[dict[str, str | None], dict[str, str | None]]
"""What each side changed since the merge base: (upstream's, local's), path -> blob or None."""


def side_diffs(root: Path, state: GitState, local_rev: str | None) -> Diffs | None:
    """Run both sides' diffs from the merge base at once; None when there is no base."""
    if state.base is None or state.local is None or state.upstream is None:
        return None
    theirs, ours = git_diff.changed_paths_to(
        root, state.base, [state.upstream, local_rev or state.local]
    )
    return theirs, ours


def changed_part(
    root: Path,
    state: GitState,
    config: Config,
    local_rev: str | None,
    *,
    predict: bool,
    diffs: Diffs | None = None,
) -> snapshot.Snapshot:
    """Return the part of the tree in the folders either side's commits changed.

    Merging can only give an app a new leaf where the branches added
    migrations, so only those folders (and what discovery needs around them:
    apps.py, manage.py, settings) are read, from `local_rev` or the working
    tree (uncommitted work counts inside them). `predict`: lay upstream's
    changes over it, as merging would. Every git call here follows the
    change, not the repository's size. `diffs`: `side_diffs`, when run already.
    """
    from migmerge.reading import discover, settings_files, snapshot

    assert state.upstream is not None
    rebase = state.mode == "rebase"
    diffs = diffs or side_diffs(root, state, local_rev)
    if diffs is None:
        if predict:
            return snapshot.commit(root, state.upstream)
        return snapshot.worktree(root, rebase=rebase)
    theirs, ours = diffs
    changed = {*theirs, *ours}
    dirs = sorted({p.rpartition("/")[0] for p in changed if p.endswith(".py")} - {""})
    # kmigrator (condo): migrations are .js files.
    dirs = sorted({*dirs, *discover.kmigrator_folders(changed)})
    if not dirs:
        return snapshot.Snapshot(root, {}, "predicted merge" if predict else "working tree")

    def side(specs: list[str]) -> snapshot.Snapshot:
        """Our side of the merge (commit or working tree), under `specs`."""
        if local_rev is None:
            return snapshot.worktree(root, specs, rebase=rebase)
        return snapshot.commit(root, local_rev, specs)

    around = discover.context_paths(dirs)
    tree = side([f":(literal){d}/" for d in dirs] + [f":(literal){p}" for p in around])
    upstream_paths: frozenset[str] = frozenset()
    if predict:
        wanted = set(dirs)
        twins = _added_on_both_sides(root, state.base, tree, theirs, ours) if state.base else {}
        laid = {p: sha for p, sha in theirs.items() if _wanted(p, wanted, around)}
        if state.other_bases:
            laid = _other_bases(root, state, dirs, tree, laid)
        upstream_paths = frozenset(p for p, sha in laid.items() if sha)
        tree = tree.overlay(laid, "predicted merge").with_twins(twins)
    # Settings where manage.py (or the config) says; else every settings-like
    # file, which costs a look at the whole tree: name them to keep hooks fast.
    named = settings_files.settings_paths(tree, config)
    if named and local_rev is None:
        found = snapshot.on_disk(root, named)
    else:
        found = side(
            [f":(literal){p}" for p in named] if named else list(settings_files.SETTINGS_GLOBS)
        )
    if named and not found.files:
        # Named but not in the tree (made at deploy time from a template such as
        # DefectDojo's settings.dist.py): read every settings-like file instead.
        found = side(list(settings_files.SETTINGS_GLOBS))
    extra: dict[str, str | None] = dict(found.files)
    if predict:
        extra.update({p: sha for p, sha in theirs.items() if settings_files.is_settings_file(p)})
    origin = snapshot.Origin(local_rev, state.upstream, upstream_paths)
    return tree.overlay(extra, tree.label)._replace(origin=origin)


def _added_on_both_sides(
    root: Path,
    base: str,
    tree: snapshot.Snapshot,
    theirs: dict[str, str | None],
    ours: dict[str, str | None],
) -> dict[str, tuple[str, str]]:
    """Modules both sides added with different contents: path -> (ours, theirs) blob.

    Merging them is git's add/add conflict; ours is the local tree's version
    (its blob, or DISK for the working tree's file).
    """
    both = {
        p: (tree.files[p], sha)
        for p, sha in theirs.items()
        if sha and ours.get(p) and p.endswith(".py") and p in tree.files and tree.files[p] != sha
    }
    if not both:
        return {}
    from migmerge.reading import git_objects

    in_base = git_objects.existing_objects(root, [f"{base}:{p}" for p in both])
    return {p: pair for p, pair in both.items() if f"{base}:{p}" not in in_base}


def _other_bases(
    root: Path,
    state: GitState,
    dirs: list[str],
    tree: snapshot.Snapshot,
    laid: dict[str, str | None],
) -> dict[str, str | None]:
    """Upstream's changes as git's merge makes them when the sides have several merge bases.

    git merges from a base made of all of them, so a migration another base
    holds (and `state.base` lacks) is in that base: where one side still has
    it as that base has it and the other side has not (renamed it after a
    migration of its own, squashed it), git's merge drops it. Compared with
    `state.base` alone, that looked like an add on one side (rapidpro's
    renumbered migrations, a false conflict). Only paths `state.base` lacks;
    a working tree's file (not a blob) is left as it is.
    """
    from migmerge.reading import snapshot

    specs = [f":(literal){d}/" for d in dirs]
    first = snapshot.commit(root, state.base or "", specs).files
    out = dict(laid)
    for other in state.other_bases:
        for path, sha in snapshot.commit(root, other, specs).files.items():
            if path in first or not path.endswith(".py"):
                continue
            if tree.files.get(path) == sha and not laid.get(path):
                out[path] = None  # ours as that base has it, theirs gone: deleted
            elif laid.get(path) == sha and path not in tree.files:
                out.pop(path, None)  # theirs as that base has it, ours gone: stays gone
    return out


def _wanted(path: str, dirs: set[str], around: set[str]) -> bool:
    """Tell whether an upstream change falls inside the predicted part of the tree."""
    from migmerge.reading import settings_files

    return (
        path.rpartition("/")[0] in dirs or path in around or settings_files.is_settings_file(path)
    )

"""`check --branches`: HEAD and every remote branch against the default branch and each other.

Nothing is checked out or written. The cost follows what the branches
changed: one `for-each-ref`; one `rev-list` for every merge base (see
`git_refs.merge_bases`); one `diff-tree --stdin` for every branch's changes and
the default branch's since each base; the default branch's tree only in the
migrations folders those touched; the branches' migration blobs in one
`cat-file` stream, headers from the header cache; then every comparison in
memory (core/pairs, core/classify, core/clashes), never a check per pair.

This module picks the branches and what each changed; branch_versions
reads what each side holds, branch_conflicts judges the pairs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from migmerge.core import kmigrator
from migmerge.core.branch_records import BranchesResult
from migmerge.errors import MigmergeError
from migmerge.reading import git, git_diff, git_refs
from migmerge.reading.branch_conflicts import Prediction
from migmerge.reading.branch_versions import Branch, Changes, short_ref
from migmerge.reading.config import Config, load_config

# Names a migration file's path may have (the hooks' pathspecs say the same).
_NUMBERED = re.compile(r"\d{4}_\w*\.py")


def check_branches(repo: str | Path | None, remote: str | None) -> BranchesResult:
    """Predict, without touching anything, which branches conflict once merged."""
    info = git.find_repo(repo)
    config = load_config(info.root)
    refs = git_refs.list_refs(info.root)
    remote = remote or "origin"
    default = _default(refs, config, remote)
    branches = _branches(info.root, refs, remote, default[1], config)
    if not branches:
        return BranchesResult(remote, short_ref(default[0]), default[1], (), ())
    return Prediction(info.root, config, default, branches).result(remote)


def _default(refs: git_refs.Refs, config: Config, remote: str) -> tuple[str, str]:
    name = refs.default_branch(config.default_branch, remote)
    if name is None:
        raise MigmergeError(
            f"no default branch of {remote!r} is known here",
            hint=f"git fetch {remote}; or set [tool.migmerge] default-branch",
        )
    if not any(n.startswith(f"refs/remotes/{remote}/") for n in refs.shas):
        raise MigmergeError(
            f"no remote-tracking branch of {remote!r} is known here",
            hint=f"git fetch {remote}; or name another remote with --remote",
        )
    return name, refs.shas[name]


def _tips(
    refs: git_refs.Refs, remote: str, default: str, detached: str | None
) -> list[tuple[str, str, bool]]:
    """(ref, commit, current) of HEAD and every remote branch HEAD does not stand for."""
    prefix = f"refs/remotes/{remote}/"
    mine = {refs.upstreams.get(refs.current or "", ""), prefix + short_ref(refs.current or "")}
    tips = []
    head = refs.shas.get(refs.current or "") or detached
    if head is not None and head != default:
        tips.append(("HEAD", head, True))
    for name in sorted(refs.shas):
        sha = refs.shas[name]
        # HEAD is the newer work on its own upstream, and is what points at its commit.
        stands_for = head is not None and (name in mine or sha == head)
        remote_branch = name.startswith(prefix) and not name.endswith("/HEAD")
        if remote_branch and sha != default and not stands_for:
            tips.append((short_ref(name), sha, False))
    return tips


def _branches(
    root: Path, refs: git_refs.Refs, remote: str, default: str, config: Config
) -> list[Branch]:
    """The branches that changed migrations since they left the default branch."""
    head = None if refs.current else git.try_rev(root, "HEAD")  # detached: still current work
    tips = _tips(refs, remote, default, head)
    bases = git_refs.merge_bases(root, [sha for _, sha, _ in tips], default)
    own_pairs = [(bases[sha] or sha, sha) for _, sha, _ in tips]
    distinct = sorted({b for b in bases.values() if b})
    diffs = git_diff.diff_pairs(root, own_pairs + [(b, default) for b in distinct])
    since = dict(zip(distinct, diffs[len(tips) :]))
    out = []
    for (ref, sha, current), own in zip(tips, diffs):
        base = bases[sha]
        mine = _migrations_only(own, config)
        if base is not None and mine:
            out.append(Branch(ref, sha, base, current, mine, _migrations_only(since[base], config)))
    return out


def _migrations_only(changes: Changes, config: Config) -> git_diff.ChangedPaths:
    """Keep the paths that may be migrations (a `migrations` folder, a numbered module)."""
    out = git_diff.ChangedPaths()
    modules = tuple(config.migration_modules)
    for path, sha in changes.items():
        folder, _, name = path.rpartition("/")
        python = name.endswith(".py") and (
            folder.rpartition("/")[2] == "migrations"
            or _NUMBERED.fullmatch(name)
            or folder in modules
        )
        if python or kmigrator.is_migration_file(path):
            out[path] = sha
    out.added = {p for p in getattr(changes, "added", ()) if p in out}
    return out


def only_apps(result: BranchesResult, apps: Sequence[str]) -> BranchesResult:
    """Keep the conflicts of the named apps (all, when none is named)."""
    if not apps:
        return result
    pairs = []
    for pair in result.pairs:
        kept = tuple(c for c in pair.conflicts if c.app in apps)
        if kept:
            pairs.append(pair._replace(conflicts=kept))
    return result._replace(pairs=tuple(pairs))

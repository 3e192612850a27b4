"""`migmerge hook NAME`: what the installed hook scripts run.

`run_hook` is what the scripts `install-hooks` writes call: `post-merge`,
`post-commit` (a merge committed by hand after a conflict) and `post-rewrite`
report (or, when configured, resolve) the conflicts a merge or rebase just
made and never fail the git command;
`pre-push` predicts the merge of each pushed branch with its remote branch
and blocks the push when it would leave parallel migrations.

Nothing here imports Django, GitPython or questionary at module level: the
hooks run on every merge and push, and the common case must stay instant.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TextIO

from migmerge import trace
from migmerge.commands.install import HOOK_NAMES
from migmerge.errors import ErrorPolicy, MigmergeError
from migmerge.reading import git, git_diff, git_refs
from migmerge.reading.config import Config, load_config

if TYPE_CHECKING:
    from migmerge.core.model import Conflict
    from migmerge.core.questions import Questioner
    from migmerge.reading.analysis import Analysis
    from migmerge.reading.pushed import PushedRef

# Most merges, rebases and pushes change no migration: the hook finds that out with
# git alone, and imports the analysis, the strategy rules and the report only when
# one did (tests/test_hooks.py holds the no-op hook to that).

# Paths whose change can create parallel migrations. Migration names only
# follow the number convention, so a folder named `migrations` is the main
# test; numbered modules cover MIGRATION_MODULES folders with other names.
_MIGRATION_PATHSPECS = (":(glob)**/migrations/**", ":(glob)**/[0-9][0-9][0-9][0-9]_*.py")

Out = Callable[[str], None]


# ------------------------------------------------------------------- running


def run_hook(
    *,
    repo: str | None,
    name: str,
    args: Sequence[str],
    stdin: TextIO,
    out: Out,
    err: Out,
    brief: bool = False,
) -> int:
    """Run hook `name` as git calls it; return the exit code git should see.

    `brief` (--quiet): reports without each conflict's details.

    Errors are left to the one handler (cli), which applies `error_policy(name)`.
    """
    if os.environ.get("MIGMERGE_SKIP") == "1":
        return 0
    info = git.find_repo(repo)  # once: every hook below works in it
    _report_unfinished(info, err)
    if name == "pre-push":
        from migmerge.reading.pushed import pushed_refs

        remote = args[0] if args else os.environ.get("PRE_COMMIT_REMOTE_NAME", "origin")
        refs = pushed_refs(info.root, remote, stdin)
        return check_push(info, remote, refs, out=out, err=err, brief=brief)
    if name == "post-merge":
        _after(info, rebase=False, out=out, brief=brief)
        return 0
    if name == "post-commit":
        from migmerge.reading.scope import merge_just_committed

        if merge_just_committed(info):  # git runs no post-merge for a merge committed by hand
            _after(info, rebase=False, out=out, brief=brief)
        return 0
    if name == "post-rewrite":
        command = args[0] if args else os.environ.get("PRE_COMMIT_REWRITE_COMMAND", "rebase")
        if command == "rebase":  # an amend rewrites one commit: it cannot create parallel branches
            _after(info, rebase=True, out=out, brief=brief)
        return 0
    raise MigmergeError(
        f"unknown hook {name!r}", hint=f"hooks migmerge provides: {', '.join(HOOK_NAMES)}"
    )


def _report_unfinished(info: git.RepoInfo, err: Out) -> None:
    """An interrupted resolve is said first: what the hook reports next is half-resolved."""
    from migmerge.reading.unfinished import find_unfinished

    unfinished = find_unfinished(info.git_dir)
    if unfinished is not None:
        err(f"migmerge: {unfinished.sentence()}")


def error_policy(name: str) -> ErrorPolicy:
    """Say how hook `name` fails: post-* never fail git; pre-push names the way on."""
    if name == "pre-push":
        return ErrorPolicy(hint="to push without this check: git push --no-verify")
    what = {"post-rewrite": "rebase"}.get(name, "merge")
    return ErrorPolicy(
        never_fail=True, done=f"git's {what} itself is done; only this report failed"
    )


# ------------------------------------------------------- post-merge, rebase


def _after(info: git.RepoInfo, *, rebase: bool, out: Out, brief: bool = False) -> None:
    """Report the conflicts a merge or rebase left, then do what the config asks."""
    from migmerge.reading.scope import followed_sides

    followed = followed_sides(info)
    # What each side changed, asked of git once: it says whether a migration
    # changed and, for a merge or rebase, is what the analysis reads.
    changes = git_diff.diff_pairs(info.root, followed.sides) if followed.sides else []
    if followed.sides is not None and not _migrations_changed(info, followed.sides, changes):
        trace.note("no migration changed on either side: nothing to read")
        return
    from migmerge.reading.analysis import analyze
    from migmerge.report import clash_warnings, hook_summary

    # Only the folders the merge or rebase changed: a hook's cost follows the change.
    # The state and the diffs git gave above are the analysis's: not asked again.
    diffs = (changes[0], changes[1]) if followed.state is not None else None
    analysis = analyze(info, changed_only=True, state=followed.state, diffs=diffs)
    conflicts = analysis.result.conflicts
    notes = clash_warnings(analysis.result.warnings)
    if notes:
        out(notes)
    if not conflicts:
        return
    out(hook_summary("the rebase" if rebase else "the merge", conflicts, brief=brief))
    config = analysis.config
    _follow_up(analysis, config.on_rebase if rebase else config.on_merge, rebase=rebase, out=out)


def _migrations_changed(
    info: git.RepoInfo, sides: list[tuple[str, str]], changes: list[dict[str, str | None]]
) -> bool:
    """Tell whether a migration path changed on a side the hook's reading follows.

    Reading only what either side changed since the merge base (or what a
    fast-forward brought in), the analysis can find a conflict only in a
    folder where a migration changed: none changed, nothing to read.
    `changes`: each side's diff (`sides`, in order). The configured
    migration modules are left to git's own pathspec matching.
    """
    if any(is_migration_path(path) for change in changes for path in change):
        return True
    modules = load_config(info.root).migration_modules
    return bool(modules) and git_diff.any_differs(info.root, sides, _module_pathspecs(modules))


def _follow_up(analysis: Analysis, action: str, *, rebase: bool, out: Out) -> None:
    """Do what `on-merge` / `on-rebase` asks: report, ask, or renumber when safe."""
    from migmerge.core.strategy import resolve_command, safe_to_renumber, unsafe_reason

    conflicts = analysis.result.conflicts
    if action == "renumber" and safe_to_renumber(analysis.result):
        _renumber_now(analysis.root, out)
        return
    if action == "ask" and _ask_to_resolve(analysis.root, out):
        return
    if action == "renumber":
        out("migmerge: not renumbering automatically: " + unsafe_reason(analysis.result))
    out(f"hint: {resolve_command(conflicts, rebase=rebase)}")


def _renumber_now(root: Path, out: Out) -> None:
    from migmerge.doing.prompts import make_questioner

    out("migmerge: configured to renumber: moving your migrations after upstream's")
    questioner = make_questioner(yes=True, interactive=False)
    if _resolve(root, "renumber", questioner, out) == 0:
        out("migmerge: renumbered; the changes are staged: review them and commit")


def _ask_to_resolve(root: Path, out: Out) -> bool:
    """Offer to resolve on the spot when a person is at a terminal; True when offered."""
    with _terminal() as tty:
        if tty is None:
            return False
        from migmerge.doing.prompts import make_questioner

        questioner = make_questioner(yes=False, interactive=True)
        if not questioner.confirm("Resolve the parallel migrations now?", default=True):
            return False
        if _resolve(root, None, questioner, out) == 0:
            out("migmerge: review the changes (git status) and commit them")
        return True


def _resolve(root: Path, strategy: str | None, questioner: Questioner, out: Out) -> int:
    from migmerge.commands.resolve import resolve

    yes = strategy is not None  # only the automatic renumber runs without asking
    return resolve(
        repo=str(root), strategy=strategy, apps=(), keep_names=False, yes=yes,
        dry_run=False, force=False, fmt="text", questioner=questioner, out=out,
    )  # fmt: skip


@contextlib.contextmanager
def _terminal() -> Iterator[int | None]:
    """Point stdin and stdout at the controlling terminal, when there is one.

    git gives hooks no terminal on stdin (and sends their stdout to stderr),
    so a prompt has to open /dev/tty itself, as pre-commit does.
    """
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        yield None
        return
    sys.stdout.flush()
    saved = (os.dup(0), os.dup(1))
    try:
        os.dup2(tty, 0)
        os.dup2(tty, 1)
        yield tty
    finally:
        sys.stdout.flush()
        os.dup2(saved[0], 0)
        os.dup2(saved[1], 1)
        for fd in (*saved, tty):
            os.close(fd)


# ------------------------------------------------------------------ pre-push


class Target(NamedTuple):
    """A branch a pushed ref will meet: its remote branch, or the default branch it lands on."""

    label: str  # as a person names it: origin/main
    sha: str
    role: str  # why it counts, in words


def check_push(
    repo: Path | git.RepoInfo,
    remote: str,
    refs: Sequence[PushedRef],
    *,
    out: Out,
    err: Out,
    brief: bool = False,
) -> int:
    """Check every pushed ref against its remote branch and the remote's default branch.

    Return 1, blocking the push, when any of them would conflict.
    """
    info = repo if isinstance(repo, git.RepoInfo) else git.find_repo(repo)
    root = info.root
    config = load_config(root)
    listed = git_refs.list_refs(root)
    default = remote_default_branch(root, remote, config.default_branch, err, listed)
    known = frozenset(listed.shas.values())  # commits a ref names: in this clone for sure
    blocked = [
        ref for ref in refs if _blocks(info, remote, ref, default, config, err, brief, known)
    ]
    return 1 if blocked else 0


def _blocks(
    info: git.RepoInfo,
    remote: str,
    ref: PushedRef,
    default: Target | None,
    config: Config,
    err: Out,
    brief: bool,
    known: frozenset[str] = frozenset(),
) -> bool:
    from migmerge.reading.pushed import ZERO_SHA

    if ref.local_sha == ZERO_SHA or ref.remote_ref.startswith("refs/tags/"):
        return False  # a deletion or a tag cannot add parallel migrations to a branch
    targets = _targets(info.root, remote, ref, default, err, known)
    trace.note(f"{ref.local_ref} -> {ref.remote_ref}: against {[t.label for t in targets]}")
    notes: dict[str, None] = {}  # warnings, said once however many targets show them
    found = [_conflicts(info, ref, target, config, notes) for target in targets]
    for target, conflicts in zip(targets, found):
        if conflicts:
            from migmerge.report import push_report  # only to say a conflict

            branch = _short(ref.local_ref)
            err(push_report(remote, branch, target.label, target.role, conflicts, brief=brief))
    if notes:
        err("\n".join(notes))  # said, not blocking: a person decides
    return any(found)


def _targets(
    root: Path,
    remote: str,
    ref: PushedRef,
    default: Target | None,
    err: Out,
    known: frozenset[str] = frozenset(),
) -> list[Target]:
    """What the pushed ref will meet: its remote branch (when fetched) and the default branch."""
    from migmerge.reading.pushed import ZERO_SHA

    targets = []
    label = f"{remote}/{_short(ref.remote_ref)}"
    if ref.remote_sha == ZERO_SHA:
        pass  # a new remote branch: only where it will land counts
    elif ref.remote_sha in known or git.has_object(root, ref.remote_sha):
        targets.append(Target(label, ref.remote_sha, "its remote branch"))
    else:
        err(f"migmerge: {label} has commits you have not fetched; cannot check the merge with it")
        err(f"hint: git fetch {remote} && git merge {label}, then push again")
    if default and default.label != label and default.sha not in (t.sha for t in targets):
        targets.append(default)
    return targets


def _conflicts(
    info: git.RepoInfo, ref: PushedRef, target: Target, config: Config, notes: dict[str, None]
) -> list[Conflict]:
    """Return the conflicts merging the pushed commit into `target` would leave, this push's own.

    Adds the clash warnings of the prediction (a shared migration rewritten) to `notes`.
    """
    bases = git_refs.all_merge_bases(info.root, ref.local_sha, target.sha)
    base = bases[0] if bases else None
    if not touches_migrations(info.root, base or target.sha, ref.local_sha, config):
        trace.note(f"no migration changed since the merge base with {target.label}: skipped")
        return []
    from migmerge.reading.analysis import analyze_revisions
    from migmerge.report import clash_warnings

    # The merge bases just found are the prediction's (None: it says why there is none).
    result = analyze_revisions(info, ref.local_sha, target.sha, base=base, other_bases=bases[1:])
    notes.update(dict.fromkeys(filter(None, clash_warnings(result.warnings).splitlines())))
    # A conflict made of upstream leaves only is there already: not this push's doing.
    return [c for c in result.conflicts if any(x.side != "upstream" for x in c.leaves)]


def remote_default_branch(
    root: Path,
    remote: str,
    configured: str | None = None,
    err: Out | None = None,
    refs: git_refs.Refs | None = None,
) -> Target | None:
    """Return the remote's default branch as this clone last fetched it, or None."""
    refs = refs or git_refs.list_refs(root)
    name = refs.default_branch(configured, remote)
    if name is None:
        if configured and err:
            err(f"migmerge: [tool.migmerge] default-branch = {configured!r} is no branch here")
        return None
    label = name.removeprefix("refs/remotes/").removeprefix("refs/heads/")
    return Target(label, refs.shas[name], "the default branch, where it will land")


def touches_migrations(root: Path, base: str, local: str, config: Config) -> bool:
    """Tell whether any migration path changed from `base` to `local` (git only, fast)."""
    return git_diff.differs(root, base, local, migration_pathspecs(config))


def migration_pathspecs(config: Config) -> list[str]:
    """Where a migration may be: `migrations` folders, numbered modules, configured folders."""
    return [*_MIGRATION_PATHSPECS, *_module_pathspecs(config.migration_modules)]


def _module_pathspecs(modules: Sequence[str]) -> list[str]:
    return [f":(top,literal){p}" for p in modules]


def is_migration_path(path: str) -> bool:
    """Tell whether git's `_MIGRATION_PATHSPECS` match `path`, without asking git.

    `**/migrations/**`: a folder named `migrations` at any depth;
    `**/[0-9][0-9][0-9][0-9]_*.py`: a module named like `0001_x.py` in any
    folder (`*` never crosses a `/`). tests/test_hooks.py holds it to git's answer.
    """
    folders, _, name = path.rpartition("/")
    if "migrations" in folders.split("/"):
        return True
    return (
        name.endswith(".py")
        and len(name) >= 8
        and name[4] == "_"
        and all(c in "0123456789" for c in name[:4])
    )


def _short(ref: str) -> str:
    return ref.removeprefix("refs/heads/")

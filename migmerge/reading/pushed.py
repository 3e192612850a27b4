"""What a push is about to send: the refs a pre-push hook must check.

git writes one line per ref to its pre-push hook's standard input. The
pre-commit framework reads those lines itself and passes its hooks only the
first ref with something to push (PRE_COMMIT_LOCAL_BRANCH, ..._REMOTE_BRANCH,
..._TO_REF); its hooks' input is empty. For a push of several refs under
pre-commit, the rest is read from the command line of the `git push` that runs
the hook (Linux's /proc): its explicit refspecs, or `--all`. Where that cannot
be read or parsed for certain, pre-commit's one ref is what is checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, TextIO

from migmerge import trace
from migmerge.reading import git, git_refs

ZERO_SHA = git.ZERO_SHA


class PushedRef(NamedTuple):
    """One line git writes to a pre-push hook."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str


def pushed_refs(root: Path, remote: str, stdin: TextIO) -> list[PushedRef]:
    """Return every ref this push sends: git's lines, else what pre-commit hides of them."""
    refs = parse_push_lines("" if stdin.isatty() else stdin.read())
    if refs or "PRE_COMMIT_REMOTE_BRANCH" not in os.environ:
        trace.note(f"pre-push: {len(refs)} refs from git's input")
        return refs
    argv = git_push_argv()
    refs = pre_commit_refs(root, remote, os.environ, argv)
    trace.note(f"pre-push under pre-commit: {len(refs)} refs (git push command line: {argv})")
    return refs


def parse_push_lines(text: str) -> list[PushedRef]:
    """Parse git's pre-push input: `<local ref> <local sha> <remote ref> <remote sha>`."""
    refs = []
    for line in text.splitlines():
        parts = line.rsplit(maxsplit=3)
        if len(parts) == 4:
            refs.append(PushedRef(*parts))
    return refs


def pre_commit_refs(
    root: Path, remote: str, environ: Mapping[str, str], argv: Sequence[str] | None
) -> list[PushedRef]:
    """Rebuild the pushed refs under pre-commit: from `argv` when it names them all, else one.

    pre-commit's FROM_REF is not the remote branch for a new branch, so the
    remote side comes from the remote-tracking ref: none means a new branch.
    """
    refs = git_refs.list_refs(root)
    named = _named_ref(root, remote, environ, refs)
    every = _from_command_line(root, remote, argv, refs) if argv else None
    if every is None or not any(_same(ref, named) for ref in every):
        return [named]  # not readable, or not the push pre-commit saw: trust pre-commit
    return every


def _named_ref(
    root: Path, remote: str, environ: Mapping[str, str], refs: git_refs.Refs
) -> PushedRef:
    local_ref = environ.get("PRE_COMMIT_LOCAL_BRANCH", "HEAD")
    remote_ref = environ["PRE_COMMIT_REMOTE_BRANCH"]
    local_sha = environ.get("PRE_COMMIT_TO_REF") or git.try_rev(root, local_ref) or ZERO_SHA
    return PushedRef(local_ref, local_sha, remote_ref, _tracking(refs, remote, remote_ref))


def _same(a: PushedRef, b: PushedRef) -> bool:
    return (a.local_sha, a.remote_ref) == (b.local_sha, b.remote_ref)


def _tracking(refs: git_refs.Refs, remote: str, remote_ref: str) -> str:
    """The remote-tracking commit of `remote_ref` as last fetched; zeros for a new branch."""
    short = remote_ref.removeprefix("refs/heads/")
    return refs.shas.get(f"refs/remotes/{remote}/{short}", ZERO_SHA)


# The `git push` command line --------------------------------------------------

# git's own options before the command that take a value as the next word.
_GIT_OPTIONS_WITH_VALUE = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env", "--super-prefix"}
)
# `git push` options that take a value as the next word (the rest take none, or `=value`).
_PUSH_OPTIONS_WITH_VALUE = frozenset({"-o", "--push-option", "--repo", "--receive-pack", "--exec"})


def git_push_argv() -> list[str] | None:
    """Return the command line of the `git push` running this hook, or None (not Linux, not found).

    Under pre-commit the chain is: this process, pre-commit, git push.
    """
    pid = os.getppid()
    for _ in range(4):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        argv = [word.decode("utf-8", "surrogateescape") for word in raw.split(b"\0")[:-1]]
        if _push_arguments(argv) is not None:
            return argv
        pid = int(stat.rpartition(")")[2].split()[1])  # the field after the command's name
        if pid <= 1:
            return None
    return None


def _push_arguments(argv: Sequence[str]) -> list[str] | None:
    """Return the words after `push` when `argv` runs `git push`, else None."""
    if not argv or os.path.basename(argv[0]) not in ("git", "git.exe"):
        return None
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in _GIT_OPTIONS_WITH_VALUE else 1
    return list(argv[i + 1 :]) if i < len(argv) and argv[i] == "push" else None


class _PushWords(NamedTuple):
    positional: list[str]  # the repository, then the refspecs
    every_branch: bool  # --all, --branches, --mirror
    unsure: bool  # -d/--delete, --repo: the positional words mean something else


def _split_push_words(words: Sequence[str]) -> _PushWords:
    positional: list[str] = []
    every = unsure = False
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            positional += words[i:]
            break
        if not word.startswith("-") or word == "-":
            positional.append(word)
        elif word in _PUSH_OPTIONS_WITH_VALUE:
            unsure |= word == "--repo"
            i += 1
        elif word.startswith("--"):
            every |= word in ("--all", "--branches", "--mirror")
            unsure |= word == "--delete" or word.startswith("--repo=")
        else:
            flags, has_o, value = word[1:].partition("o")  # -o's value: the rest, or the next
            if has_o and not value:
                i += 1
            unsure |= "d" in flags
    return _PushWords(positional, every, unsure)


def _from_command_line(
    root: Path, remote: str, argv: Sequence[str], refs: git_refs.Refs
) -> list[PushedRef] | None:
    """Return the refs a `git push` command line names, or None when it cannot be told."""
    words = _push_arguments(argv)
    if words is None:
        return None
    split = _split_push_words(words)
    if split.unsure or split.positional[:1] != [remote]:
        return None
    specs = _without_tags(split.positional[1:])
    if split.every_branch:
        specs = [name for name in refs.shas if name.startswith("refs/heads/")] + specs
    if not specs:
        return None  # git's default push (push.default, remote.<name>.push): pre-commit's ref
    pushed = []
    for spec in specs:
        if spec.removeprefix("+").startswith(":"):
            continue  # a deletion
        ref = _resolve_spec(root, remote, spec, refs)
        if ref is None:
            return None
        if ref.local_sha != ref.remote_sha and not ref.local_ref.startswith("refs/tags/"):
            pushed.append(ref)  # an up-to-date ref is not in git's lines either
    return pushed


def _without_tags(specs: Sequence[str]) -> list[str]:
    """Drop `tag <name>` pairs: a tag cannot add parallel migrations to a branch."""
    kept, skip = [], False
    for spec in specs:
        if skip:
            skip = False
        elif spec == "tag":
            skip = True
        else:
            kept.append(spec)
    return kept


def _resolve_spec(root: Path, remote: str, spec: str, refs: git_refs.Refs) -> PushedRef | None:
    """Turn `[+]src[:dst]` into the ref git would push, or None when unsure (globs, odd names)."""
    src, colon, dst = spec.removeprefix("+").partition(":")
    if "*" in spec:
        return None
    local_ref = _full_name(root, src, refs)
    local_sha = refs.shas.get(local_ref) or git.try_rev(root, src)
    if local_sha is None:
        return None
    if not colon:
        if not local_ref.startswith("refs/"):
            return None  # a bare commit needs a destination: git refuses it anyway
        dst = local_ref
    elif not dst.startswith("refs/"):
        dst = f"refs/heads/{dst}"
    return PushedRef(local_ref, local_sha, dst, _tracking(refs, remote, dst))


def _full_name(root: Path, src: str, refs: git_refs.Refs) -> str:
    """The full ref name `src` stands for, as git's push reads it (branches before tags)."""
    if src == "HEAD":
        return refs.current or src
    if src.startswith("refs/") or f"refs/heads/{src}" in refs.shas:
        return src if src.startswith("refs/") else f"refs/heads/{src}"
    return f"refs/tags/{src}" if git.try_rev(root, f"refs/tags/{src}") else src

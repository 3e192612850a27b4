"""Git access: running git, the repository, revisions.

Every git command migmerge runs starts with this module's environment
(`git_env`, from the one `clean_env`). What commits hold is in git_objects, what
changed between trees in git_diff, branches and merge bases in git_refs, the
index and the working tree in git_worktree.

The read path (check, hooks) drives the git binary directly: a `git cat-file
--batch` reads ten thousand blobs in about 25 ms, and importing GitPython
alone costs about 75 ms, more than half of the whole check budget, so every
command here drives the git binary in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from migmerge.errors import GitFailed, NotARepository, UnknownRevision

ZERO_SHA = "0" * 40

# The one clean environment for every subprocess migmerge starts (git,
# manage.py, database clients). Nothing changes os.environ: each call site
# passes `env=clean_env(...)`.
#
# git exports variables to its hooks (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE,
# GIT_PREFIX, GIT_QUARANTINE_PATH during a push, ...) and a `git -c` adds
# GIT_CONFIG_PARAMETERS. Inherited by a git command migmerge runs (or by a
# manage.py that runs git), they point it at another repository, index or
# object store, or change how pathspecs read (GIT_LITERAL_PATHSPECS turns
# migmerge's `:(glob)` specs into plain names). So every GIT_ variable is
# dropped, as pre-commit's `no_git_env` does, except those that only say who
# the user is, how to reach a remote, or which configuration files to read.
KEPT_GIT_VARIABLES = frozenset(
    {
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_ASKPASS",
        "GIT_ALLOW_PROTOCOL",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_COUNT",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
        "GIT_CEILING_DIRECTORIES",
        "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    }
)
# GIT_CONFIG_COUNT's numbered pairs; GIT_TRACE*: the user asked to see git's work.
KEPT_GIT_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "GIT_TRACE")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return os.environ for a subprocess: without the GIT_ variables that redirect git."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_")
        or key in KEPT_GIT_VARIABLES
        or key.startswith(KEPT_GIT_PREFIXES)
    }
    if extra:
        env.update(extra)
    return env


def git_env() -> dict[str, str]:
    """clean_env for git itself: never prompt for credentials, plain messages to parse."""
    # GIT_OPTIONAL_LOCKS=0: a look never refreshes and rewrites an index (nor a
    # submodule's, which `diff-files` would otherwise stat and refresh).
    env = clean_env({"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"})
    env.setdefault("LC_ALL", "C")
    return env


def git_bytes(root: Path | str, *args: str, input: bytes | None = None) -> bytes:
    """Run git in `root` and return stdout; GitFailed on a non-zero exit."""
    proc = subprocess.run(
        ["git", *args],
        cwd=root,
        input=input,
        capture_output=True,
        env=git_env(),
    )
    return checked(args, proc.returncode, proc.stdout, proc.stderr)


class Started:
    """Read-only git commands running in the background; `output` waits for one.

    The listings of a check (index, changed files, untracked files) each wait
    on the disk; started together they overlap instead of adding up, and
    started early they overlap with Python's own start-up too.
    """

    def __init__(self, root: Path | str, commands: Sequence[Sequence[str]]) -> None:
        env = git_env()
        self.root = str(root)
        self.commands = [list(args) for args in commands]
        self.procs = [
            subprocess.Popen(
                ["git", *args], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
            )
            for args in commands
        ]

    def output(self, index: int) -> bytes:
        """Wait for command `index` and return its stdout; GitFailed if it failed."""
        proc = self.procs[index]
        out, err = proc.communicate()
        return checked(self.commands[index], proc.returncode, out, err)


def big_output(root: Path | str, *args: str, input: bytes) -> bytes:
    """Like git_bytes for megabytes of output: through a file, not a 64 KiB pipe.

    Ten thousand blobs pass through a pipe in many small reads; written to a
    memory file and read once they cost about half as much.
    """
    sink = _memory_file()
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=root,
            input=input,
            stdout=sink,
            stderr=subprocess.PIPE,
            env=git_env(),
        )
        size = os.fstat(sink).st_size
        os.lseek(sink, 0, os.SEEK_SET)
        chunks = []
        while size > 0 and (chunk := os.read(sink, size)):
            chunks.append(chunk)
            size -= len(chunk)
        return checked(args, proc.returncode, b"".join(chunks), proc.stderr)
    finally:
        os.close(sink)


def _memory_file() -> int:
    if hasattr(os, "memfd_create"):
        return os.memfd_create("migmerge-git-output")
    import tempfile  # macOS and others: an unlinked file does the same

    fd, name = tempfile.mkstemp(prefix="migmerge-")
    os.unlink(name)
    return fd


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def checked(args: Sequence[str], code: int, out: bytes, err: bytes) -> bytes:
    if code != 0:
        message = err.decode("utf-8", "replace").strip()
        if code < 0:  # killed: a file-size limit (SIGXFSZ), the OOM killer, a person
            message = f"killed by {_signal_name(-code)}{': ' + message if message else ''}"
        raise GitFailed(f"git {' '.join(args)} failed: {message}")
    return out


def grep_words(root: Path | str, words: Sequence[str]) -> list[tuple[str, str]]:
    """Each (path, word) where a tracked text file names one of `words` as a whole word.

    One `git grep` for all of them (git searches many fixed strings at once).
    """
    if not words:
        return []
    patterns = [arg for word in words for arg in ("-e", word)]
    try:
        out = git_run(root, "grep", "-I", "-F", "-w", "-o", "--null", *patterns)
    except GitFailed:
        return []  # git grep exits 1 when nothing matches
    found = []
    for line in out.splitlines():
        path, sep, word = line.partition("\0")
        if sep:
            found.append((path, word))
    return found


def git_run(root: Path | str, *args: str, input: str | None = None) -> str:
    """Run git in `root` and return stdout as text."""
    data = input.encode("utf-8", "surrogateescape") if input is not None else None
    return git_bytes(root, *args, input=data).decode("utf-8", "surrogateescape")


class RepoInfo(NamedTuple):
    """Where a repository lives."""

    root: Path
    git_dir: Path
    common_dir: Path


def find_repo(start: str | Path | None = None) -> RepoInfo:
    """Locate the repository holding `start` (default: the current folder)."""
    where = Path(start) if start is not None else Path.cwd()
    if not where.is_dir():
        raise NotARepository(f"{where} is not a folder", hint="pass --repo DIR of a git checkout")
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"],
        cwd=where,
        capture_output=True,
        env=git_env(),
    )
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if proc.returncode == 0 and len(lines) > 3:
        lines = _one_by_one(where)  # a path holding a newline: ask for each value alone
    if proc.returncode != 0 or len(lines) < 3:
        raise NotARepository(
            f"{where} is not inside a git work tree",
            hint="run migmerge inside a git checkout, or pass --repo DIR",
        )
    root = Path(lines[0])
    common = Path(lines[2])
    if not common.is_absolute():
        common = (where / common).resolve()
    return RepoInfo(root=root, git_dir=Path(lines[1]), common_dir=common)


def _one_by_one(where: Path) -> list[str]:
    """rev-parse's three answers asked one at a time: only the last newline is git's."""
    out = []
    for option in ("--show-toplevel", "--absolute-git-dir", "--git-common-dir"):
        proc = subprocess.run(
            ["git", "rev-parse", option], cwd=where, capture_output=True, env=git_env()
        )
        out.append(proc.stdout.decode("utf-8", "surrogateescape").removesuffix("\n"))
    return out


def find_root(start: str | Path | None = None) -> Path:
    """Return the work tree root of the repository holding `start`."""
    return find_repo(start).root


def resolve_rev(root: Path, rev: str) -> str:
    """Return the commit sha `rev` names; UnknownRevision when it names none."""
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        cwd=root,
        capture_output=True,
        env=git_env(),
    )
    if proc.returncode != 0:
        raise UnknownRevision(
            f"unknown revision {rev!r}",
            hint="name a branch, tag or commit that exists here (git fetch first?)",
        )
    return proc.stdout.decode().strip()


def try_rev(root: Path, rev: str) -> str | None:
    """Return the commit sha `rev` names, or None."""
    try:
        return resolve_rev(root, rev)
    except UnknownRevision:
        return None


def is_shallow(root: Path) -> bool:
    """Tell whether the repository is a shallow clone (its history cut short)."""
    return git_optional(root, "rev-parse", "--is-shallow-repository") == "true"


def has_object(root: Path, sha: str) -> bool:
    """Tell whether the object store holds `sha`."""
    proc = subprocess.run(
        ["git", "cat-file", "-e", f"{sha}^{{commit}}"],
        cwd=root,
        capture_output=True,
        env=git_env(),
    )
    return proc.returncode == 0


def is_sha(text: str) -> bool:
    """Tell whether `text` is a full object id (what `--stdin` commands take)."""
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


def git_optional(root: Path, *args: str) -> str | None:
    """Run git; return its stripped output, or None when it fails (unset config)."""
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, env=git_env())
    value = proc.stdout.decode("utf-8", "surrogateescape").strip()
    return value if proc.returncode == 0 and value else None

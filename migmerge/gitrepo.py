"""Git access: the only module that talks to git.

The read path (check, hooks) drives the git binary directly: a `git cat-file
--batch` reads ten thousand blobs in about 25 ms, and importing GitPython
alone costs about 75 ms, more than half of the whole check budget, so every
command here drives the git binary in a subprocess.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from migmerge.errors import GitFailed, NotARepository, UnknownRevision

ZERO_SHA = "0" * 40

# Variables git sets for hooks that point nested git commands at the wrong
# repository or index (pre-commit strips the same set).
LEAKY_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_PREFIX",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_QUARANTINE_PATH",
    "GIT_REFLOG_ACTION",
    "GIT_EDITOR",
)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return os.environ without the GIT_* variables that redirect git."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("LC_ALL", "C")
    if extra:
        env.update(extra)
    return env


def git_bytes(root: Path | str, *args: str, input: bytes | None = None) -> bytes:
    """Run git in `root` and return stdout; GitFailed on a non-zero exit."""
    proc = subprocess.run(
        ["git", *args],
        cwd=root,
        input=input,
        capture_output=True,
        env=clean_env(),
    )
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise GitFailed(f"git {' '.join(args)} failed: {message}")
    return proc.stdout


def git_run(root: Path | str, *args: str, input: str | None = None) -> str:
    """Run git in `root` and return stdout as text."""
    data = input.encode() if input is not None else None
    return git_bytes(root, *args, input=data).decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class RepoInfo:
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
        env=clean_env(),
    )
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
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


def find_root(start: str | Path | None = None) -> Path:
    """Return the work tree root of the repository holding `start`."""
    return find_repo(start).root


def resolve_rev(root: Path, rev: str) -> str:
    """Return the commit sha `rev` names; UnknownRevision when it names none."""
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        cwd=root,
        capture_output=True,
        env=clean_env(),
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


def merge_base(root: Path, a: str, b: str) -> str | None:
    """Return the best common ancestor of two commits, or None (unrelated)."""
    proc = subprocess.run(
        ["git", "merge-base", a, b], cwd=root, capture_output=True, env=clean_env()
    )
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def has_object(root: Path, sha: str) -> bool:
    """Tell whether the object store holds `sha`."""
    proc = subprocess.run(
        ["git", "cat-file", "-e", f"{sha}^{{commit}}"],
        cwd=root,
        capture_output=True,
        env=clean_env(),
    )
    return proc.returncode == 0


def _split_z(data: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in data.split(b"\0") if p]


_INDEX_LINE = re.compile(rb"(\d+) ([0-9a-f]+) (\d)\t([^\0]*)\0")


def index_entries(root: Path, pathspecs: Iterable[str] = ()) -> tuple[dict[str, str], set[str]]:
    """Return (path -> blob sha of stage 0, paths with unmerged stages)."""
    out = git_bytes(root, "ls-files", "-s", "-z", "--", *pathspecs)
    entries: dict[str, str] = {}
    unmerged: set[str] = set()
    for mode, sha, stage, path in _INDEX_LINE.findall(out):
        if mode == b"160000":
            continue  # a submodule: not a file of this tree
        name = path.decode("utf-8", "surrogateescape")
        if stage == b"0":
            entries[name] = sha.decode()
        else:
            unmerged.add(name)
    return entries, unmerged


def modified_files(root: Path, pathspecs: Iterable[str] = ()) -> list[str]:
    """Return tracked paths whose working-tree file differs from the index."""
    return _split_z(git_bytes(root, "diff-files", "--name-only", "-z", "--", *pathspecs))


def untracked_files(root: Path, pathspecs: Iterable[str] = ()) -> list[str]:
    """Return untracked, not ignored paths."""
    return _split_z(git_bytes(root, "ls-files", "-o", "--exclude-standard", "-z", "--", *pathspecs))


def tree_entries(root: Path, rev: str, pathspecs: Iterable[str] = ()) -> dict[str, str]:
    """Return path -> blob sha for the files of commit `rev`.

    `ls-tree` takes only folder prefixes, so `:(literal)` specs are passed on
    and `:(glob)**/...` specs are matched here on one full listing.
    """
    specs = list(pathspecs)
    literal = [s.removeprefix(":(literal)") for s in specs if not s.startswith(":(glob)")]
    globs = [s.removeprefix(":(glob)") for s in specs if s.startswith(":(glob)")]
    entries = _ls_tree(root, rev, literal) if literal or not specs else {}
    if globs:
        everything = _ls_tree(root, rev, [])
        entries.update({p: sha for p, sha in everything.items() if _glob_match(p, globs)})
    return entries


def _ls_tree(root: Path, rev: str, prefixes: list[str]) -> dict[str, str]:
    out = git_bytes(root, "ls-tree", "-r", "-z", "--full-tree", rev, "--", *prefixes)
    entries: dict[str, str] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path_b = record.partition(b"\t")
        _mode, kind, sha = meta.decode().split()
        if kind == "blob":
            entries[path_b.decode("utf-8", "surrogateescape")] = sha
    return entries


def _glob_match(path: str, patterns: list[str]) -> bool:
    """Match git's `**/x` globs: x at any depth (fnmatch's * also crosses /)."""
    for pattern in patterns:
        rest = pattern.removeprefix("**/")
        if fnmatch.fnmatchcase(path, rest) or fnmatch.fnmatchcase(path, "*/" + rest):
            return True
    return False


def changed_paths(root: Path, old: str, new: str | None) -> dict[str, str | None]:
    """Return path -> new blob sha (None: deleted) from `old` to `new`.

    `new` None compares against the working tree (tracked files; add
    `untracked_files` for the rest).
    """
    if new is None:
        args = ["diff-index", "-r", "-z", "--no-renames", old, "--"]
    else:
        args = ["diff-tree", "-r", "-z", "--no-renames", old, new, "--"]
    fields = git_bytes(root, *args).split(b"\0")
    result: dict[str, str | None] = {}
    for meta, path in zip(fields[0::2], fields[1::2]):
        if not meta.startswith(b":"):
            continue
        parts = meta.decode().split()
        status, new_sha = parts[4], parts[3]
        name = path.decode("utf-8", "surrogateescape")
        if status == "D":
            result[name] = None
        elif new_sha == ZERO_SHA:
            result[name] = ""  # changed in the working tree: read it from disk
        else:
            result[name] = new_sha
    return result


def read_blobs(root: Path, shas: Iterable[str]) -> dict[str, bytes]:
    """Read many blobs through one `git cat-file --batch`."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    out = git_bytes(root, "cat-file", "--batch", input="\n".join(wanted).encode() + b"\n")
    blobs: dict[str, bytes] = {}
    pos = 0
    for sha in wanted:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if len(header) < 3 or header[1] == b"missing":
            pos = end + 1
            continue
        size = int(header[2])
        blobs[sha] = out[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1
    return blobs


def existing_objects(root: Path, names: Iterable[str]) -> set[str]:
    """Return which `rev:path` names exist, through one `cat-file --batch-check`."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return set()
    out = git_run(root, "cat-file", "--batch-check=%(objecttype)", input="\n".join(wanted) + "\n")
    return {name for name, line in zip(wanted, out.splitlines()) if not line.endswith("missing")}


def remote_tracking_shas(root: Path) -> list[str]:
    """Return the distinct commits remote-tracking refs point at."""
    out = git_run(root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/remotes")
    shas = [line.split()[0] for line in out.splitlines() if not line.endswith("/HEAD")]
    return list(dict.fromkeys(shas))


def default_branch(root: Path, configured: str | None = None) -> str | None:
    """Return the default branch's ref name: configured, origin/HEAD, main, master."""
    if configured:
        return configured if try_rev(root, configured) else None
    out = git_run(
        root, "for-each-ref", "--format=%(refname) %(symref)", "refs/heads", "refs/remotes/origin"
    )
    refs = dict(line.partition(" ")[::2] for line in out.splitlines())
    candidates = [refs.get("refs/remotes/origin/HEAD", "")]
    candidates += [
        f"refs/{kind}/{name}" for kind in ("remotes/origin", "heads") for name in ("main", "master")
    ]
    return next((name for name in candidates if name in refs), None)


def upstream_of_head(root: Path) -> str | None:
    """Return the current branch's upstream ref, or None."""
    proc = subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"],
        cwd=root,
        capture_output=True,
        env=clean_env(),
    )
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def current_branch(root: Path) -> str | None:
    """Return refs/heads/NAME of HEAD, or None when detached."""
    proc = subprocess.run(
        ["git", "symbolic-ref", "-q", "HEAD"], cwd=root, capture_output=True, env=clean_env()
    )
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

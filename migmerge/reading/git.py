"""Git access: every git command migmerge runs on the repository, and the parsers of their output.

The read path (check, hooks) drives the git binary directly: a `git cat-file
--batch` reads ten thousand blobs in about 25 ms, and importing GitPython
alone costs about 75 ms, more than half of the whole check budget, so every
command here drives the git binary in a subprocess.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
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


def _git_env() -> dict[str, str]:
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
        env=_git_env(),
    )
    return _checked(args, proc.returncode, proc.stdout, proc.stderr)


class Started:
    """Read-only git commands running in the background; `output` waits for one.

    The listings of a check (index, changed files, untracked files) each wait
    on the disk; started together they overlap instead of adding up, and
    started early they overlap with Python's own start-up too.
    """

    def __init__(self, root: Path | str, commands: Sequence[Sequence[str]]) -> None:
        env = _git_env()
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
        return _checked(self.commands[index], proc.returncode, out, err)


def _big_output(root: Path | str, *args: str, input: bytes) -> bytes:
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
            env=_git_env(),
        )
        size = os.fstat(sink).st_size
        os.lseek(sink, 0, os.SEEK_SET)
        chunks = []
        while size > 0 and (chunk := os.read(sink, size)):
            chunks.append(chunk)
            size -= len(chunk)
        return _checked(args, proc.returncode, b"".join(chunks), proc.stderr)
    finally:
        os.close(sink)


def _memory_file() -> int:
    if hasattr(os, "memfd_create"):
        return os.memfd_create("migmerge-git-output")
    import tempfile  # macOS and others: an unlinked file does the same

    fd, name = tempfile.mkstemp(prefix="migmerge-")
    os.unlink(name)
    return fd


def _checked(args: Sequence[str], code: int, out: bytes, err: bytes) -> bytes:
    if code != 0:
        message = err.decode("utf-8", "replace").strip()
        raise GitFailed(f"git {' '.join(args)} failed: {message}")
    return out


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
        env=_git_env(),
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
            ["git", "rev-parse", option], cwd=where, capture_output=True, env=_git_env()
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
        env=_git_env(),
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
        ["git", "merge-base", a, b], cwd=root, capture_output=True, env=_git_env()
    )
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def merge_bases(root: Path, tips: Sequence[str], onto: str) -> dict[str, str | None]:
    """Return each tip's merge base with `onto`, from one `rev-list` for all of them.

    `rev-list --boundary tips... --not onto` lists what the tips have that
    `onto` has not, and marks where that history meets `onto`'s. A tip whose
    walk meets it at one commit has that commit as its merge base (the usual
    branch, made from the default branch and never merged with it since); a
    tip listed nowhere is part of `onto` already. Only a tip that meets it at
    several commits (it merged the default branch in) asks `git merge-base`.
    """
    wanted = list(dict.fromkeys(tips))
    if not wanted:
        return {}
    out = git_run(root, "rev-list", "--parents", "--boundary", *wanted, "--not", onto)
    parents: dict[str, list[str]] = {}
    boundary: set[str] = set()
    for line in out.splitlines():
        sha, *above = line.split()
        if sha.startswith("-"):
            boundary.add(sha[1:])
        else:
            parents[sha] = above
    return {tip: _met(root, tip, onto, parents, boundary) for tip in wanted}


def _met(
    root: Path, tip: str, onto: str, parents: Mapping[str, list[str]], boundary: set[str]
) -> str | None:
    """Where `tip`'s own history meets `onto`'s."""
    if tip not in parents:
        return tip  # reachable from onto: merged, or behind it
    met: set[str] = set()
    seen = {tip}
    stack = [tip]
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent in boundary:
                met.add(parent)
            elif parent not in seen and parent in parents:
                seen.add(parent)
                stack.append(parent)
    if len(met) == 1:
        return met.pop()
    return merge_base(root, tip, onto) if met else None  # several: git picks; none: unrelated


def is_shallow(root: Path) -> bool:
    """Tell whether the repository is a shallow clone (its history cut short)."""
    return git_optional(root, "rev-parse", "--is-shallow-repository") == "true"


def has_object(root: Path, sha: str) -> bool:
    """Tell whether the object store holds `sha`."""
    proc = subprocess.run(
        ["git", "cat-file", "-e", f"{sha}^{{commit}}"],
        cwd=root,
        capture_output=True,
        env=_git_env(),
    )
    return proc.returncode == 0


def _split_z(data: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in data.split(b"\0") if p]


# Untracked files worth a look: what .gitignore keeps, and never __pycache__
# (Python writes one per folder it imports; walking ten thousand .pyc files
# costs more than the rest of a check, and Python 3 never loads them alone).
UNTRACKED_OPTIONS = ("--exclude-standard", "--exclude=__pycache__/", "-z")


class Stages(NamedTuple):
    """The blobs of an unmerged path: the merge base's, ours, theirs (None: absent)."""

    base: str | None
    ours: str | None
    theirs: str | None


class WorktreeListing(NamedTuple):
    """What git knows of the working tree, from three listings run at once."""

    entries: dict[str, str]  # path -> blob sha of stage 0 in the index
    unmerged: dict[str, Stages]  # paths with conflict stages -> the blob of each
    modified: list[str]  # tracked paths that differ from the index
    untracked: list[str]  # untracked, not ignored paths
    links: frozenset[str] = frozenset()  # tracked symbolic links among `entries`


def start_worktree_listing(root: Path, pathspecs: Iterable[str] = ()) -> Started:
    """Start listing the working tree now; `list_worktree(started=...)` collects it."""
    specs = list(pathspecs)
    return Started(
        root,
        [
            ["ls-files", "-s", "-z", "--", *specs],
            ["diff-files", "--name-only", "-z", "--ignore-submodules=all", "--", *specs],
            ["ls-files", "-o", *UNTRACKED_OPTIONS, "--", *specs],
        ],
    )


def list_worktree(
    root: Path, pathspecs: Iterable[str] = (), started: Started | None = None
) -> WorktreeListing:
    """List index entries, changed and untracked files in one round of git calls.

    `started`: the listing `start_worktree_listing` began for the same root.
    """
    listing = started or start_worktree_listing(root, pathspecs)
    # The index first: reading it overlaps with git still looking at the disk.
    links: set[str] = set()
    entries, unmerged = _index_entries(listing.output(0), links)
    modified, untracked = listing.output(1), listing.output(2)
    return WorktreeListing(
        entries, unmerged, _split_z(modified), _split_z(untracked), frozenset(links)
    )


def index_entries(
    root: Path, pathspecs: Iterable[str] = ()
) -> tuple[dict[str, str], dict[str, Stages]]:
    """Return (path -> blob sha of stage 0, paths with unmerged stages -> their blobs)."""
    return _index_entries(git_bytes(root, "ls-files", "-s", "-z", "--", *pathspecs))


def _index_entries(
    out: bytes, links: set[str] | None = None
) -> tuple[dict[str, str], dict[str, Stages]]:
    # Records are "MODE SHA STAGE\tPATH", MODE always six octal digits. Plain
    # string slicing: a regex's match tuples cost twice as much on 10,000 lines.
    # `links`: filled with the paths that are symbolic links (mode 120000).
    entries: dict[str, str] = {}
    stages: dict[str, dict[str, str]] = {}
    for record in out.decode("utf-8", "surrogateescape").split("\0"):
        meta, _, path = record.partition("\t")
        if not path or meta.startswith("160000"):
            continue  # the end, or a submodule: not a file of this tree
        if meta.endswith(" 0"):
            entries[path] = meta[7:-2]
            if links is not None and meta.startswith("120000"):
                links.add(path)
        else:
            stages.setdefault(path, {})[meta[-1]] = meta[7:-2]
    unmerged = {p: Stages(s.get("1"), s.get("2"), s.get("3")) for p, s in stages.items()}
    return entries, unmerged


def modified_files(root: Path, pathspecs: Iterable[str] = ()) -> list[str]:
    """Return tracked paths whose working-tree file differs from the index."""
    args = ("diff-files", "--name-only", "-z", "--ignore-submodules=all", "--", *pathspecs)
    return _split_z(git_bytes(root, *args))


def untracked_files(root: Path, pathspecs: Iterable[str] = ()) -> list[str]:
    """Return untracked, not ignored paths."""
    return _split_z(git_bytes(root, "ls-files", "-o", *UNTRACKED_OPTIONS, "--", *pathspecs))


def tree_entries(
    root: Path, rev: str, pathspecs: Iterable[str] = (), links: set[str] | None = None
) -> dict[str, str]:
    """Return path -> blob sha for the files of commit `rev`.

    `ls-tree` takes only folder prefixes, so `:(literal)` specs are passed on
    and `:(glob)**/...` specs are matched here on one full listing. `links`:
    filled with the paths that are symbolic links (their blob: the target).
    """
    specs = list(pathspecs)
    literal = [s.removeprefix(":(literal)") for s in specs if not s.startswith(":(glob)")]
    globs = [s.removeprefix(":(glob)") for s in specs if s.startswith(":(glob)")]
    entries = _ls_tree(root, rev, literal, links) if literal or not specs else {}
    if globs:
        everything = _ls_tree(root, rev, [], links)
        entries.update({p: sha for p, sha in everything.items() if _glob_match(p, globs)})
    return entries


def _ls_tree(
    root: Path, rev: str, prefixes: list[str], links: set[str] | None = None
) -> dict[str, str]:
    out = git_bytes(root, "ls-tree", "-r", "-z", "--full-tree", rev, "--", *prefixes)
    entries: dict[str, str] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path_b = record.partition(b"\t")
        mode, kind, sha = meta.decode().split()
        if kind == "blob":
            path = path_b.decode("utf-8", "surrogateescape")
            entries[path] = sha
            if links is not None and mode == "120000":
                links.add(path)
    return entries


def _glob_match(path: str, patterns: list[str]) -> bool:
    """Match git's `**/x` globs: x at any depth (fnmatch's * also crosses /)."""
    for pattern in patterns:
        rest = pattern.removeprefix("**/")
        if fnmatch.fnmatchcase(path, rest) or fnmatch.fnmatchcase(path, "*/" + rest):
            return True
    return False


class ChangedPaths(dict[str, "str | None"]):
    """path -> new blob sha ("" read from disk, None deleted); `added`: the paths that are new."""

    def __init__(self) -> None:
        super().__init__()
        self.added: set[str] = set()


def changed_paths(root: Path, old: str, new: str | None) -> dict[str, str | None]:
    """Return path -> new blob sha (None: deleted) from `old` to `new`.

    `new` None compares against the working tree (tracked files; add
    `untracked_files` for the rest).
    """
    return changed_paths_to(root, old, [new])[0]


def changed_paths_to(
    root: Path, old: str, news: Sequence[str | None]
) -> list[dict[str, str | None]]:
    """`changed_paths` from `old` to each of `news`, the diffs run at once."""
    commits = [new for new in news if new is not None and is_sha(new)]
    if len(commits) == len(news) and is_sha(old):
        # Commits only: one process for every diff (starting a process is the cost).
        return diff_pairs(root, [(old, new) for new in commits])
    started = Started(root, [_diff_args(old, new) for new in news])
    return [_changed(started.output(i)) for i in range(len(news))]


def diff_pairs(root: Path, pairs: Sequence[tuple[str, str]]) -> list[dict[str, str | None]]:
    """`changed_paths` from `old` to `new` for each (old, new) pair, in one `diff-tree --stdin`.

    Each input line "new old" makes git diff `new` against `old` as its
    parent; `--always` prints the header even for an empty diff, so the
    results come back one per line, in order.
    """
    if not pairs:
        return []
    lines = "".join(f"{new} {old}\n" for old, new in pairs).encode()
    out = _big_output(
        root, "diff-tree", "--stdin", "--always", "-r", "-z", "--no-renames", input=lines
    )
    results: list[dict[str, str | None]] = []
    fields = out.split(b"\0")
    result = ChangedPaths()
    at = 0
    while at < len(fields):
        field = fields[at]
        if field.startswith(b":") and results:
            _record(result, field, fields[at + 1])
            at += 2
            continue
        if field:
            result = ChangedPaths()  # a header: the commit the next records belong to
            results.append(result)
        at += 1
    if len(results) != len(pairs):
        raise GitFailed(f"git diff-tree --stdin gave {len(results)} diffs for {len(pairs)} pairs")
    return results


def is_sha(text: str) -> bool:
    """Tell whether `text` is a full object id (what `--stdin` commands take)."""
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


def _record(result: ChangedPaths, meta: bytes, path: bytes) -> None:
    """Add one raw diff record (":mode mode sha sha status", path) to `result`."""
    parts = meta.decode().split()
    status, new_sha = parts[4], parts[3]
    name = path.decode("utf-8", "surrogateescape")
    if status == "A":
        result.added.add(name)
    if status == "D":
        result[name] = None
    elif new_sha == ZERO_SHA:
        result[name] = ""  # changed in the working tree: read it from disk
    else:
        result[name] = new_sha


def _diff_args(old: str, new: str | None) -> list[str]:
    if new is None:
        return ["diff-index", "-r", "-z", "--no-renames", "--ignore-submodules=all", old, "--"]
    return ["diff-tree", "-r", "-z", "--no-renames", old, new, "--"]


def _changed(out: bytes) -> dict[str, str | None]:
    fields = out.split(b"\0")
    result = ChangedPaths()
    for meta, path in zip(fields[0::2], fields[1::2]):
        if meta.startswith(b":"):
            _record(result, meta, path)
    return result


def read_blobs(root: Path, shas: Iterable[str]) -> dict[str, bytes]:
    """Read many blobs through one `git cat-file --batch`."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    data = "\n".join(wanted).encode("utf-8", "surrogateescape") + b"\n"
    out = _big_output(root, "cat-file", "--batch", input=data)
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


def folder_entries(root: Path, names: Iterable[str]) -> dict[str, dict[str, str]]:
    """The entries (name -> object id) of each `rev:folder` tree that exists, in one `cat-file`.

    Reading a folder once is linear in its size; looking up each of its
    files by `rev:path` costs a scan of the folder per file (2,000 files of
    a 20,000-file folder: minutes).
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    encoded = [name.encode("utf-8", "surrogateescape") for name in wanted]
    out = _big_output(root, "cat-file", "-z", "--batch", input=b"\0".join(encoded) + b"\0")
    found: dict[str, dict[str, str]] = {}
    # Many revisions share one tree (condo: 1,170 remote refs, 396 distinct
    # migrations folders): each tree is parsed once (was 8.5 s of a check there).
    parsed: dict[bytes, dict[str, str]] = {}
    pos = 0
    for name, raw in zip(wanted, encoded):
        for word in (b" missing\n", b" ambiguous\n"):
            if out.startswith(raw + word, pos):
                pos += len(raw) + len(word)
                break
        else:
            end = out.index(b"\n", pos)
            sha, kind, size = out[pos:end].split()
            body = out[end + 1 : end + 1 + int(size)]
            pos = end + 1 + int(size) + 1
            if kind == b"tree":
                if sha not in parsed:
                    parsed[sha] = _tree_entries(body, len(sha) // 2)
                found[name] = parsed[sha]
    return found


def _tree_entries(body: bytes, id_length: int) -> dict[str, str]:
    """Parse a raw tree object: `<mode> <name>\\0<id>` repeated."""
    entries: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        nul = body.index(b"\0", pos)
        name = body[body.index(b" ", pos) + 1 : nul]
        entries[name.decode("utf-8", "surrogateescape")] = body[nul + 1 : nul + 1 + id_length].hex()
        pos = nul + 1 + id_length
    return entries


def existing_objects(root: Path, names: Iterable[str]) -> set[str]:
    """Return which `rev:path` names exist, through one `cat-file --batch-check`."""
    return set(object_ids(root, names))


def object_ids(root: Path, names: Iterable[str]) -> dict[str, str]:
    """Return the object id of each `rev:path` name that exists, through one `cat-file`.

    NUL-separated in (`-z`), and read back by the names sent: git echoes a
    missing name as it is, so a path holding a newline cannot shift the lines.
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    encoded = [name.encode("utf-8", "surrogateescape") for name in wanted]
    out = git_bytes(
        root, "cat-file", "-z", "--batch-check=%(objectname)", input=b"\0".join(encoded) + b"\0"
    )
    found: dict[str, str] = {}
    pos = 0
    for name, raw in zip(wanted, encoded):
        for word in (b" missing\n", b" ambiguous\n"):
            if out.startswith(raw + word, pos):
                pos += len(raw) + len(word)
                break
        else:
            end = out.index(b"\n", pos)
            found[name] = out[pos:end].decode()
            pos = end + 1
    return found


class Refs(NamedTuple):
    """Branches and remote-tracking refs, from one `for-each-ref`."""

    shas: Mapping[str, str]  # full ref name -> commit
    symrefs: Mapping[str, str]  # full ref name -> the ref it points at
    upstreams: Mapping[str, str]  # branch -> its upstream ref
    current: str | None  # the branch HEAD is on (refs/heads/NAME); None: detached

    def remote_tracking(self) -> list[str]:
        """Return the distinct commits remote-tracking refs point at."""
        found = [
            sha
            for name, sha in self.shas.items()
            if name.startswith("refs/remotes/") and not name.endswith("/HEAD")
        ]
        return list(dict.fromkeys(found))

    def default_branch(self, configured: str | None = None, remote: str = "origin") -> str | None:
        """Return the full ref name of the default branch as this clone last fetched it.

        The one home of "the default branch". `configured` (`[tool.migmerge]
        default-branch`) names a branch: `<remote>/<name>` when fetched, else
        the local branch, else a remote-tracking ref of that name; None when
        none exists (a configured name is never second-guessed). Otherwise
        `<remote>/HEAD`, `<remote>/main`, `<remote>/master`, then the local
        `main`, `master`. None: nothing of the kind here.
        """
        prefix = f"refs/remotes/{remote}/"
        if configured:
            short = configured.removeprefix("refs/heads/")
            candidates = [
                prefix + short,
                f"refs/heads/{short}",
                f"refs/remotes/{short}",
                configured,
            ]
        else:
            candidates = [self.symrefs.get(prefix + "HEAD", ""), prefix + "main", prefix + "master"]
            candidates += ["refs/heads/main", "refs/heads/master"]
        return next((name for name in candidates if name in self.shas), None)

    def upstream(self) -> str | None:
        """Return the commit the current branch's upstream points at, or None."""
        name = self.upstreams.get(self.current or "")
        return self.shas.get(name) if name else None


def list_refs(root: Path) -> Refs:
    """Read every branch and remote-tracking ref, with upstreams and HEAD's branch, at once."""
    out = git_run(
        root,
        "for-each-ref",
        "--format=%(HEAD)%00%(objectname)%00%(refname)%00%(symref)%00%(upstream)",
        "refs/heads",
        "refs/remotes",
    )
    shas: dict[str, str] = {}
    symrefs: dict[str, str] = {}
    upstreams: dict[str, str] = {}
    current = None
    for line in out.splitlines():
        head, sha, name, target, upstream = line.split("\0")
        shas[name] = sha
        if target:
            symrefs[name] = target
        if upstream:
            upstreams[name] = upstream
        if head == "*":
            current = name
    return Refs(shas, symrefs, upstreams, current)


def git_optional(root: Path, *args: str) -> str | None:
    """Run git; return its stripped output, or None when it fails (unset config)."""
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, env=_git_env())
    value = proc.stdout.decode("utf-8", "surrogateescape").strip()
    return value if proc.returncode == 0 and value else None


def differs(root: Path, old: str, new: str, pathspecs: Sequence[str]) -> bool:
    """Tell whether anything under `pathspecs` changed from `old` to `new` (no output read)."""
    proc = subprocess.run(
        ["git", "diff-tree", "-r", "--quiet", old, new, "--", *pathspecs],
        cwd=root,
        capture_output=True,
        env=_git_env(),
    )
    # 1 means "differences"; anything else but 0 is an error: look rather than guess.
    return proc.returncode != 0

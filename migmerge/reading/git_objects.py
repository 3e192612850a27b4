"""What commits hold, read in batches: trees, blobs and object ids.

A `git cat-file --batch` reads ten thousand blobs in about 25 ms: every read
here sends all its names to one process rather than one process a name.
Inside `one_reader`, the few blobs each step of an analysis asks for go to
one process kept open for all of them.
"""

from __future__ import annotations

import contextlib
import fnmatch
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from migmerge.errors import GitFailed
from migmerge.reading.git import big_output, git_bytes, git_env, is_sha


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


def read_blobs(root: Path, shas: Iterable[str]) -> dict[str, bytes]:
    """Read many blobs through one `git cat-file --batch` (inside `one_reader`: its own)."""
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    reader = _readers.get(str(root))
    if reader is not None and len(wanted) <= _Reader.MOST and all(map(is_sha, wanted)):
        return reader.read(wanted)
    data = "\n".join(wanted).encode("utf-8", "surrogateescape") + b"\n"
    out = big_output(root, "cat-file", "--batch", input=data)
    sent = [sha.encode("utf-8", "surrogateescape") for sha in wanted]
    return {wanted[i]: body for i, _, body in _replies(out, sent, bodies=True)}


class _Reader:
    """A `git cat-file --batch` asked again and again, started at its first question.

    An analysis reads manage.py, then the settings module it names, then the
    migrations: three small reads, one process instead of three (a hook's
    ~2 ms each). Only object ids, and at most MOST at a time: git answers each
    line as it comes (no --buffer), and that many ids fit in a pipe's buffer,
    so writing them all before reading the answers never waits on git.
    """

    MOST = 256

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None

    def read(self, shas: list[str]) -> dict[str, bytes]:
        if self.proc is None:
            self.proc = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=git_env(),
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write("".join(f"{sha}\n" for sha in shas).encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise GitFailed("git cat-file --batch ended early") from None
        return {sha: body for sha in shas if (body := _answer(self.proc.stdout, sha)) is not None}

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
            self.proc.stdout.close()
            self.proc.wait()


def _answer(stream: IO[bytes], sha: str) -> bytes | None:
    """Read git's answer to `sha` (None: missing); GitFailed when git stopped answering."""
    header = stream.readline()
    if not header.endswith(b"\n"):
        raise GitFailed("git cat-file --batch ended early")
    if header in (f"{sha} missing\n".encode(), f"{sha} ambiguous\n".encode()):
        return None
    size = int(header.rsplit(b" ", 1)[1])
    body = stream.read(size + 1)
    if len(body) != size + 1:
        raise GitFailed("git cat-file --batch ended early")
    return body[:size]


_readers: dict[str, _Reader] = {}  # the repositories inside `one_reader`


@contextlib.contextmanager
def one_reader(root: Path) -> Iterator[None]:
    """Within this, `read_blobs` of a few blobs of `root` asks one `cat-file` kept open."""
    key = str(root)
    if key in _readers:  # nested: the outer one closes it
        yield
        return
    reader = _readers[key] = _Reader(root)
    try:
        yield
    finally:
        del _readers[key]
        reader.close()


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
    out = big_output(root, "cat-file", "-z", "--batch", input=b"\0".join(encoded) + b"\0")
    found: dict[str, dict[str, str]] = {}
    # Many revisions share one tree (condo: 1,170 remote refs, 396 distinct
    # migrations folders): each tree is parsed once (was 8.5 s of a check there).
    parsed: dict[bytes, dict[str, str]] = {}
    for index, header, body in _replies(out, encoded, bodies=True):
        sha, kind, _ = header.split()
        if kind == b"tree":
            if sha not in parsed:
                parsed[sha] = _tree_entries(body, len(sha) // 2)
            found[wanted[index]] = parsed[sha]
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
    return {wanted[i]: header.decode() for i, header, _ in _replies(out, encoded, bodies=False)}


def _replies(out: bytes, sent: list[bytes], *, bodies: bool) -> Iterator[tuple[int, bytes, bytes]]:
    """Walk `cat-file`'s replies to the names `sent`, in order: (index, header, body).

    Read back by the names sent: git echoes a name it does not find (missing,
    or ambiguous) as it is, so a name holding a newline cannot shift the
    replies; such a name yields nothing. `bodies`: each reply carries its
    object after the header (`--batch`; `--batch-check` replies are one line).
    """
    pos = 0
    for index, raw in enumerate(sent):
        for word in (b" missing\n", b" ambiguous\n"):
            if out.startswith(raw + word, pos):
                pos += len(raw) + len(word)
                break
        else:
            end = out.index(b"\n", pos)
            header = out[pos:end]
            if not bodies:
                yield index, header, b""
                pos = end + 1
                continue
            size = int(header.rsplit(b" ", 1)[1])
            yield index, header, out[end + 1 : end + 1 + size]
            pos = end + 1 + size + 1

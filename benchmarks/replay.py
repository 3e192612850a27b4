"""Replay the real migration forks of a git repository through `migmerge check`.

Given a local clone or a bare git directory of any repository (the search
tool's mirrors under /work/.mirror/*/repo are bare), this script:

1. finds the merge commits whose two parents both added migration files to
   the same folder since their merge base;
2. computes, with a small parser of its own (not migmerge's), which of those
   folders the merge leaves with two or more leaves, and which leaves;
3. replays each merge the two ways a developer meets it, in a scratch
   repository that borrows the source's objects (git alternates), so nothing
   in the source directory is written, not even worktree metadata:
     merge    check out the first parent, `git merge --no-commit --no-ff
              <second parent>`, then `migmerge check --format json`;
     against  check out the first parent, then
              `migmerge check --against <second parent> --format json`;
4. prints per repository what was expected and what each replay found, and
   writes every case to a JSON file (`--out`).

Mirrors lack blobs of 4 MiB and more: paths whose blob is missing, in
either parent, are left out of the checkout with a non-cone sparse-checkout
pattern (git marks them skip-worktree), so checkout and merge still work;
where git needs a missing blob's content (both sides changed the file), a
refs/replace entry in the scratch repository stands a placeholder in for it.
A case where a missing blob sits in a migrations folder says so
(`missing_in_folder`).

Each migmerge run gets a fresh MIGMERGE_CACHE_DIR per repository and worker
(`--no-cache` sets MIGMERGE_NO_CACHE=1 instead), its own TMPDIR (so the
crash log of an exit 3, `migmerge-error.log`, is read back into the case),
and a timeout (`--timeout`, default 120 s); timeouts are counted.

Verdicts, per folder and replay: `right` (a conflict in that folder with
exactly the expected leaves), `wrong` (a conflict there, other leaves),
`missed` (no conflict there), `false-positive` (a conflict where one leaf
was expected), `clean` (none expected, none found), `exit2`, `exit3`,
`timeout`, `error` (the replay itself failed: git merge could not run).
A folder where both sides added the same file name with different contents
also expects a `same-name` conflict there; it is counted apart.

The expected leaves, and their simplifications (kept small on purpose):
- Folders: a folder named `migrations` holding `__init__.py`, or any folder
  holding numbered modules (`0001_x.py`, three digits or more) that define
  `class Migration(...)`. A folder counts when at least one file added on
  each side is such a migration. South migrations (`SchemaMigration`,
  `DataMigration` bases) are not migrations.
- The merged tree of a folder: the first parent's files, plus what the
  second parent added or changed since the merge base (its version wins
  where both changed a file), minus what it deleted. No rename detection.
  With several merge bases, the one `git merge-base` prints.
- Modules: files `*.py` directly in the folder whose name does not start
  with `_` or `~` and that define a `Migration` class.
- `dependencies`, `replaces`, `run_before`: read with `ast` when the file
  parses (pairs of string literals in the assigned list; for a name or a
  call, the pairs in the module-level assignment or function it names),
  else with a regex over the bracketed text after `dependencies =` (Python
  2 files). A migration whose dependencies are not a literal and name no
  migration of its folder is given the previous migration by number.
- The app label: the label most often paired, in the folder's own
  dependency tuples, with a name of one of its migrations or of one they
  replace (`0001_initial` counts only when no other name is paired); else
  the name of the folder holding the folder.
- Edges stay inside the folder (label and name both match); squashed
  migrations replace the nodes they name as Django's loader does with no
  database (children and parents of replaced nodes move onto the squash).
  A leaf is a migration no other migration of the folder depends on. A
  dependency on a name no file provides (the other side deleted or renamed
  it; Django would stop with NodeNotFoundError) is dropped and noted
  (`dangling dependency` in the folder's notes).
- The leaves judged are those of the tree `git merge-tree --write-tree` makes
  (git's own merge: renames, several merge bases), read with the same parser;
  where they differ from the simple tree above, the folder says so
  (`disputed`). A folder where git's merge leaves a file conflicted (both
  sides added or changed it: conflict markers) is judged on the simple tree.

Examples:
  python benchmarks/replay.py /work/.mirror/netbox-community+netbox/repo --out netbox.json
  python benchmarks/replay.py REPO --merge 9d419de9dc --keep
  python benchmarks/replay.py REPO --list            # find merges only, replay nothing
  python benchmarks/replay.py /work/.mirror/*/repo --limit 300 --jobs 2 --out all.json
"""

from __future__ import annotations

import argparse
import ast
import collections
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

MODES = ("merge", "against")
OVERLAPS = ("none", "model", "field", "unknown")
FAILURES = ("wrong", "missed", "false-positive", "exit2", "exit3", "timeout", "error")
PATHSPECS = ("*migrations/*.py", "*[0-9][0-9][0-9]*_*.py", "*[0-9][0-9][0-9][0-9].py")
NUMBERED = re.compile(r"^\d{3,}[_\w]*\.py$")
MIGRATION_CLASS = re.compile(rb"^[ \t]*class\s+Migration\s*\(([^)]*)\)", re.M)
SOUTH_BASES = (b"SchemaMigration", b"DataMigration")
KEYS = ("dependencies", "replaces", "run_before")
PAIR = re.compile(r"""\(\s*[uUbB]?(['"])([^'"\\]+)\1\s*,\s*[uUbB]?(['"])([^'"\\]+)\3\s*,?\s*\)""")
HEADER = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # paths end in .py: never a sha
SCRATCH_CONFIG = (
    ("gc.auto", "0"),
    ("user.name", "replay"),
    ("user.email", "replay@example.invalid"),
    ("core.autocrlf", "false"),
    ("core.sparseCheckout", "true"),
    ("advice.detachedHead", "false"),
    ("commit.gpgsign", "false"),
)
GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")


# --------------------------------------------------------------------- git


def git_env() -> dict[str, str]:
    """Return the environment without a caller's GIT_DIR and friends."""
    env = {k: v for k, v in os.environ.items() if k not in GIT_ENV_DROP}
    env["GIT_MERGE_AUTOEDIT"] = "no"
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def git(args: list[str], cwd: str | Path, stdin: str | None = None) -> str:
    """Run git and return its stdout; raise CalledProcessError on failure."""
    out = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=git_env(),
        check=True,
        errors="surrogateescape",
    )
    return out.stdout


def git_try(args: list[str], cwd: str | Path) -> subprocess.CompletedProcess[str]:
    """Run git and return the completed process, whatever its exit."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=git_env(),
        errors="surrogateescape",
    )


def unquote(path: str) -> str:
    """Undo git's C-style quoting of a path."""
    if not path.startswith('"'):
        return path
    raw = path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    return raw.encode("latin-1", "surrogateescape").decode("utf-8", "surrogateescape")


class Objects:
    """A long-lived `git cat-file` pair: blobs, trees and existence, thread-safe."""

    def __init__(self, gitdir: str) -> None:
        cmd = ["git", "--git-dir", gitdir, "cat-file"]
        self.batch = subprocess.Popen(
            [*cmd, "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=git_env()
        )
        self.check = subprocess.Popen(
            [*cmd, "--batch-check"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=git_env()
        )
        self.lock = threading.Lock()
        self.present: dict[str, bool] = {}

    def read(self, spec: str) -> bytes | None:
        """Return an object's content, or None when it is missing."""
        assert self.batch.stdin and self.batch.stdout
        with self.lock:
            self.batch.stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
            self.batch.stdin.flush()
            header = self.batch.stdout.readline().split()
            if len(header) != 3:
                return None
            data = self.batch.stdout.read(int(header[2]) + 1)
        return data[:-1]

    def exists(self, sha: str) -> bool:
        """Tell whether an object is in the repository (cached)."""
        assert self.check.stdin and self.check.stdout
        with self.lock:
            if sha not in self.present:
                self.check.stdin.write(sha.encode() + b"\n")
                self.check.stdin.flush()
                self.present[sha] = not self.check.stdout.readline().endswith(b"missing\n")
            return self.present[sha]

    def tree(self, spec: str) -> dict[str, tuple[str, str]]:
        """Return a tree's entries: name -> (mode, sha); empty when absent."""
        data = self.read(spec)
        entries: dict[str, tuple[str, str]] = {}
        if data is None:
            return entries
        at = 0
        while at < len(data):
            space = data.index(b" ", at)
            nul = data.index(b"\0", space)
            name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
            entries[name] = (data[at:space].decode(), data[nul + 1 : nul + 21].hex())
            at = nul + 21
        return entries

    def close(self) -> None:
        """End both processes."""
        for proc in (self.batch, self.check):
            assert proc.stdin
            proc.stdin.close()
            proc.wait()


# ------------------------------------------------------------------ parser


class Info(NamedTuple):
    """What the expected-leaves parser read from one module."""

    migration: bool
    pairs: dict[str, tuple[tuple[str, str], ...]]
    literal: bool  # dependencies were a plain list (or absent)
    how: str  # "ast", "regex" or "none"


def text_of(node: ast.AST) -> str | None:
    """Return a string literal's value, else None."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def string_pairs(node: ast.AST) -> list[tuple[str, str]]:
    """Return every (str, str) tuple literal under a node."""
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Tuple) and len(sub.elts) == 2:
            a, b = text_of(sub.elts[0]), text_of(sub.elts[1])
            if a is not None and b is not None:
                out.append((a, b))
    return out


def module_defs(tree: ast.Module) -> dict[str, ast.AST]:
    """Map module-level names to the assignment value or function that defines them."""
    defs: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    defs[target.id] = node.value
    return defs


def resolve_value(value: ast.AST, defs: dict[str, ast.AST]) -> list[tuple[str, str]]:
    """Read the pairs of a non-literal value through the names it uses."""
    pairs = string_pairs(value)
    for sub in ast.walk(value):
        if isinstance(sub, ast.Name) and sub.id in defs:
            pairs += string_pairs(defs[sub.id])
    return pairs


def parse_ast(source: bytes) -> Info | None:
    """Read a migration's pairs with ast; None when the file does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    defs = module_defs(tree)
    pairs: dict[str, tuple[tuple[str, str], ...]] = {}
    literal = True
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ClassDef) and node.name == "Migration"):
            continue
        for stmt in node.body:
            value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            if isinstance(stmt, ast.AnnAssign):
                targets = [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in KEYS and value is not None:
                    plain = isinstance(value, (ast.List, ast.Tuple))
                    found = string_pairs(value) if plain else resolve_value(value, defs)
                    pairs[target.id] = tuple(found)
                    literal = literal and (plain or target.id != "dependencies")
    return Info(True, pairs, literal, "ast")


def bracketed(text: str, start: int) -> str:
    """Return the text of the bracket that opens at or after start, to its close."""
    opening = re.compile(r"\s*[\[(]").match(text, start)
    if not opening:
        return ""
    depth, quote, at = 0, "", opening.end() - 1
    for at in range(opening.end() - 1, len(text)):
        char = text[at]
        if quote:
            quote = "" if char == quote and text[at - 1] != "\\" else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0:
                break
    return text[opening.end() - 1 : at + 1]


def parse_regex(source: bytes) -> Info:
    """Read a migration's pairs with a regex (files ast cannot parse)."""
    text = source.decode("utf-8", "replace")
    pairs: dict[str, tuple[tuple[str, str], ...]] = {}
    literal = True
    for key in KEYS:
        match = re.search(rf"^\s*{key}\s*=", text, re.M)
        if match:
            body = bracketed(text, match.end())
            pairs[key] = tuple((m.group(2), m.group(4)) for m in PAIR.finditer(body))
            literal = literal and (bool(body) or key != "dependencies")
    return Info(True, pairs, literal, "regex")


def parse_module(source: bytes) -> Info:
    """Read one module: is it a Django migration, and what does it name."""
    match = MIGRATION_CLASS.search(source)
    if not match or any(base in match.group(1) for base in SOUTH_BASES):
        return Info(False, {}, True, "none")
    return parse_ast(source) or parse_regex(source)


# ------------------------------------------------------------------- graph


def number(name: str) -> int:
    """Return a migration name's leading number, or -1."""
    match = re.match(r"\d+", name)
    return int(match.group()) if match else -1


def infer_label(folder: str, infos: dict[str, Info]) -> tuple[str, str]:
    """Return (label, how) for a folder from its own dependency tuples."""
    votes: collections.Counter[str] = collections.Counter()
    initial: collections.Counter[str] = collections.Counter()
    known = set(infos) | {n for i in infos.values() for _, n in i.pairs.get("replaces", ())}
    for info in infos.values():
        for key, pairs in info.pairs.items():
            for lab, name in pairs:
                if name in known and key != "replaces":
                    (initial if name == "0001_initial" else votes)[lab] += 1
    for tally in (votes, initial):  # 0001_initial is a common name: trusted only when alone
        if tally:
            return tally.most_common(1)[0][0], "dependencies"
    parent = folder.rsplit("/", 1)[0] if "/" in folder else folder
    return parent.rsplit("/", 1)[-1], "folder"


def build_parents(label: str, infos: dict[str, Info]) -> dict[str, set[str]]:
    """Return each node's parents inside the folder; names with no file are dummy nodes."""
    parents: dict[str, set[str]] = {name: set() for name in infos}
    by_number = sorted(infos, key=lambda n: (number(n), n))
    for name, info in infos.items():
        for lab, dep in info.pairs.get("dependencies", ()):
            if lab == label and dep != name and not dep.startswith("__"):
                parents[name].add(dep)
                parents.setdefault(dep, set())
        for lab, later in info.pairs.get("run_before", ()):
            if lab == label and later != name:
                parents.setdefault(later, set()).add(name)
        if not info.literal and not parents[name] & set(infos):
            earlier = [n for n in by_number if number(n) < number(name)]
            parents[name].update(earlier[-1:])
    return parents


def squash(label: str, infos: dict[str, Info], parents: dict[str, set[str]]) -> None:
    """Replace squashed-away nodes by their squash, as Django's loader does with no database."""
    for name, info in sorted(infos.items()):
        replaced = {d for lab, d in info.pairs.get("replaces", ()) if lab == label}
        replaced &= set(parents) - {name}
        if not replaced:
            continue
        for old in replaced:
            parents[name].update(parents[old] - replaced - {name})
        for child, ups in parents.items():
            if child not in replaced and ups & replaced:
                ups -= replaced
                if child != name:
                    ups.add(name)
        for old in replaced:
            del parents[old]


def dangling(label: str, infos: dict[str, Info]) -> list[str]:
    """Return "child -> missing" for dependencies on names no file (nor squash) provides:
    Django's loader would stop on them (NodeNotFoundError)."""
    parents = build_parents(label, infos)
    squash(label, infos, parents)
    return sorted(f"{c} -> {p}" for c, ups in parents.items() if c in infos
                  for p in ups if p not in infos)  # fmt: skip


def leaves(label: str, infos: dict[str, Info]) -> list[str]:
    """Return the folder's leaves, sorted (dummy nodes left are not migrations)."""
    parents = build_parents(label, infos)
    squash(label, infos, parents)
    has_child = {p for ups in parents.values() for p in ups}
    return sorted(n for n in parents if n not in has_child and n in infos)


# -------------------------------------------------------------- discovery


class Change(NamedTuple):
    """One side's change to a file since the merge base."""

    status: str  # A, M, D, T
    path: str


class Folder(NamedTuple):
    """One folder both sides added migrations to, and what is expected of it."""

    directory: str
    label: str
    label_from: str
    added_first: list[str]
    added_second: list[str]
    expected: list[str]
    same_name: list[str]
    notes: list[str]


class Case(NamedTuple):
    """A merge to replay."""

    merge: str
    first: str
    second: str
    base: str
    date: int
    folders: list[Folder]


def candidate_dir(path: str) -> str | None:
    """Return the folder of a path that may be a migration module, else None."""
    folder, _, name = path.rpartition("/")
    if not name.endswith(".py") or name[0] in "_~":
        return None
    if folder.rsplit("/", 1)[-1].endswith("migrations") or NUMBERED.match(name):
        return folder
    return None


def diff_pairs(gitdir: str, pairs: list[tuple[str, str]], status: bool) -> list[list[Change]]:
    """Diff many (old, new) tree pairs in one git process, limited to migration-like paths."""
    if not pairs:
        return []
    args = ["-c", "core.quotePath=true", "diff-tree", "--stdin", "--always", "-r", "--no-renames"]
    args += ["--name-status" if status else "--name-only", "--", *PATHSPECS]
    # like "<commit> <parent>", a line "<new> <old>" diffs old -> new
    out = git(["--git-dir", gitdir, *args], ".", "".join(f"{new} {old}\n" for old, new in pairs))
    result: list[list[Change]] = []
    for line in out.splitlines():
        if HEADER.fullmatch(line):  # --always prints each pair's first sha, even for no change
            result.append([])
        elif status:
            kind, _, path = line.partition("\t")
            result[-1].append(Change(kind[:1], unquote(path)))
        else:
            result[-1].append(Change("?", unquote(line)))
    return result


def list_merges(gitdir: str, revs: list[str], walk: bool) -> list[tuple[str, list[str], int]]:
    """Return (merge, parents, commit time) for every merge reachable from revs (or revs only)."""
    args = ["log", "--merges", "--format=%H %ct %P", *([] if walk else ["--no-walk"]), *revs]
    out = git(["--git-dir", gitdir, *args], ".")
    merges = []
    for line in out.splitlines():
        sha, stamp, *parents = line.split()
        merges.append((sha, parents, int(stamp)))
    return merges


def prefilter(gitdir: str, merges: list[tuple[str, list[str], int]]) -> set[str]:
    """Keep merges whose result differs from both parents in some migration-like path."""
    pairs = [(p, m) for m, parents, _ in merges for p in parents[:2]]
    diffs = diff_pairs(gitdir, pairs, status=False)
    keep = set()
    for index, (merge, _, _) in enumerate(merges):
        touched = [d for d in diffs[2 * index] + diffs[2 * index + 1] if candidate_dir(d.path)]
        if touched:
            keep.add(merge)
    return keep


def merge_base(gitdir: str, first: str, second: str) -> str | None:
    """Return the merge base git would pick, or None."""
    proc = git_try(["--git-dir", gitdir, "merge-base", first, second], ".")
    return proc.stdout.strip() or None


def added_by_folder(changes: list[Change]) -> dict[str, list[str]]:
    """Group the files a side added by their folder."""
    out: dict[str, list[str]] = collections.defaultdict(list)
    for change in changes:
        folder = candidate_dir(change.path)
        if change.status == "A" and folder is not None:
            out[folder].append(change.path)
    return out


class Expect:
    """Computes the expected leaves of a folder on a merge's tree (parse cache by blob)."""

    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.cache: dict[str, Info] = {}

    def info(self, sha: str) -> Info | None:
        """Parse the blob, cached; None when the blob is missing."""
        if sha not in self.cache:
            data = self.objects.read(sha)
            if data is None:
                return None
            self.cache[sha] = parse_module(data)
        return self.cache[sha]

    def read(self, files: dict[str, str]) -> tuple[dict[str, Info], list[str]]:
        """Parse a folder's modules: migration name -> info, and notes on what was hard."""
        infos: dict[str, Info] = {}
        notes = []
        for name, sha in sorted(files.items()):
            if not name.endswith(".py") or name[0] in "_~":
                continue
            info = self.info(sha)
            if info is None:
                notes.append(f"missing blob: {name}")
            elif info.migration:
                infos[name[:-3]] = info
                if info.how == "regex" or not info.literal:
                    notes.append(f"{info.how}{'' if info.literal else ', dynamic'}: {name}")
        return infos, notes

    def tree_leaves(self, tree: str, folder: str) -> list[str]:
        """Return a folder's leaves on a tree that git made."""
        entries = self.objects.tree(f"{tree}:{folder}")
        infos, _ = self.read({n: s for n, (mode, s) in entries.items() if not mode.startswith("4")})
        return leaves(infer_label(folder, infos)[0], infos)

    def merged(self, first: str, second: str, folder: str, side2: list[Change]) -> dict[str, str]:
        """Return the folder's files on the tree the merge makes: name -> blob sha."""
        files = {
            n: s
            for n, (mode, s) in self.objects.tree(f"{first}:{folder}").items()
            if not mode.startswith("4")
        }
        theirs = self.objects.tree(f"{second}:{folder}")
        for change in side2:
            head, _, name = change.path.rpartition("/")
            if head != folder:
                continue
            if change.status == "D":
                files.pop(name, None)
            elif name in theirs:
                files[name] = theirs[name][1]
        return files

    def folder(
        self, case: tuple[str, str, str], folder: str, sides: tuple[list[Change], list[Change]]
    ) -> Folder | None:
        """Return what is expected of one folder, or None when it holds no migrations."""
        first, second, _ = case
        files = self.merged(first, second, folder, sides[1])
        infos, notes = self.read(files)
        added = [
            sorted(p for p in side if p.rpartition("/")[0] == folder)
            for side in (
                added_by_folder(sides[0]).get(folder, []),
                added_by_folder(sides[1]).get(folder, []),
            )
        ]
        named = folder.rsplit("/", 1)[-1] == "migrations" and "__init__.py" in files
        numbered = any(NUMBERED.match(n + ".py") for n in infos)
        if not (named or numbered) or not all(
            any(p.rpartition("/")[2][:-3] in infos for p in side) for side in added
        ):
            return None
        label, label_from = infer_label(folder, infos)
        notes += [f"dangling dependency: {d}" for d in dangling(label, infos)]
        return Folder(
            folder,
            label,
            label_from,
            added[0],
            added[1],
            leaves(label, infos),
            self.same_name(first, second, folder, added),
            notes,
        )

    def same_name(self, first: str, second: str, folder: str, added: list[list[str]]) -> list[str]:
        """Return the migration paths both sides added with different contents."""
        both = sorted(set(added[0]) & set(added[1]))
        ours = self.objects.tree(f"{first}:{folder}")
        theirs = self.objects.tree(f"{second}:{folder}")
        return [
            p for p in both if ours.get(p.rpartition("/")[2]) != theirs.get(p.rpartition("/")[2])
        ]


def graph_repo(gitdir: str, where: Path) -> str:
    """Make a bare scratch repository borrowing gitdir's objects, with a commit-graph
    (merge-base on a long history is several times faster with one; the source has
    none and is not written to)."""
    git(["init", "-q", "--bare", str(where)], ".")
    (where / "objects/info/alternates").write_text(os.path.join(gitdir, "objects") + "\n")
    commits = git(["--git-dir", gitdir, "rev-list", "--all"], ".")
    git(["--git-dir", str(where), "commit-graph", "write", "--stdin-commits", "--no-progress"],
        ".", commits)  # fmt: skip
    return str(where)


def find_cases(
    gitdir: str, revs: list[str], named: list[str], log: Any, scratch: Path
) -> tuple[list[Case], dict[str, Any]]:
    """Find the merges to replay, with what is expected of each folder."""
    merges = list_merges(gitdir, named or revs, walk=not named)
    stats: dict[str, Any] = {"merges": len(merges)}
    octopus = [m for m in merges if len(m[1]) != 2]
    merges = [m for m in merges if len(m[1]) == 2]
    stats["octopus_skipped"] = len(octopus)
    keep = prefilter(gitdir, merges)
    log(f"  {len(merges)} merges, {len(keep)} touch migration-like paths")
    bases = {}
    graph = graph_repo(gitdir, scratch / "graph.git")
    for sha, (first, second), _ in merges:
        if sha in keep:
            bases[sha] = merge_base(graph, first, second)
    todo = [(sha, parents, stamp) for sha, parents, stamp in merges if bases.get(sha)]
    pairs = [(bases[sha], p) for sha, parents, _ in todo for p in parents]
    diffs = diff_pairs(gitdir, pairs, status=True)
    objects = Objects(gitdir)
    expect = Expect(objects)
    cases = []
    for index, (sha, (first, second), stamp) in enumerate(todo):
        sides = (diffs[2 * index], diffs[2 * index + 1])
        both = set(added_by_folder(sides[0])) & set(added_by_folder(sides[1]))
        folders = [expect.folder((first, second, bases[sha] or ""), d, sides) for d in sorted(both)]
        found = [f for f in folders if f is not None]
        if found:
            cases.append(Case(sha, first, second, bases[sha] or "", stamp, found))
    objects.close()
    stats["qualifying"] = len(cases)
    return sorted(cases, key=lambda c: (c.date, c.merge)), stats


def sample(cases: list[Case], limit: int | None) -> list[Case]:
    """Take `limit` cases evenly spread over time (deterministic), or all."""
    if not limit or len(cases) <= limit:
        return cases
    step = len(cases) / limit
    return [cases[int(i * step)] for i in range(limit)]


# ------------------------------------------------------------------ replay


class Run(NamedTuple):
    """One migmerge run."""

    exit: int | None  # None: timeout
    seconds: float
    stdout: str
    stderr: str
    crash: str


def run_command(cmd: list[str], cwd: str, env: dict[str, str], timeout: float) -> Run:
    """Run a command in its own process group, killing the group on timeout."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        stderr=subprocess.PIPE,
        start_new_session=True,
        errors="replace",
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    seconds = time.perf_counter() - start
    log = Path(env["TMPDIR"]) / "migmerge-error.log"
    crash = log.read_text(errors="replace") if log.exists() else ""
    if log.exists():
        log.unlink()
    return Run(code, seconds, out, err, crash)


def sparse_pattern(path: str) -> str:
    """Return a sparse-checkout pattern that excludes exactly one path."""
    escaped = re.sub(r"([\\*?\[\]!# ])", r"\\\1", path)
    return "!/" + escaped


class Replayer:
    """A scratch repository borrowing the source's objects, where merges are replayed."""

    def __init__(self, gitdir: str, root: Path, objects: Objects) -> None:
        self.gitdir = gitdir
        self.objects = objects
        self.root = root
        self.work = root / "repo"
        self.tmp = root / "tmp"
        self.cache = root / "cache"
        self.tmp.mkdir(parents=True)
        self.cache.mkdir()
        self.create()

    def create(self) -> None:
        """Make the scratch repository."""
        shutil.rmtree(self.work, ignore_errors=True)
        self.placeholder = ""
        self.replaced: set[str] = set()
        git(["init", "-q", str(self.work)], self.root)
        objects = os.path.join(self.gitdir, "objects")
        (self.work / ".git/objects/info/alternates").write_text(objects + "\n")
        for key, value in SCRATCH_CONFIG:
            git(["config", key, value], self.work)
        if getattr(self, "expect", None):
            self.expect.objects.close()
        self.expect = Expect(Objects(str(self.work / ".git")))

    def missing(self, revs: list[str]) -> list[str]:
        """Return the paths whose blobs are missing in any of the revisions, and stand them in."""
        out, shas = set(), set()
        for rev in revs:
            listing = git(["ls-tree", "-r", "-z", "--full-tree", rev], self.work)
            for entry in listing.split("\0"):
                meta, _, path = entry.partition("\t")
                parts = meta.split()
                if len(parts) == 3 and parts[1] == "blob" and not self.objects.exists(parts[2]):
                    out.add(path)
                    shas.add(parts[2])
        self.stand_in(shas - self.replaced)
        return sorted(out)

    def stand_in(self, shas: set[str]) -> None:
        """Point each missing blob at a placeholder (refs/replace), so that a merge
        needing its content (both sides changed the file) still runs; the path
        itself stays out of the worktree (sparse)."""
        if not shas:
            return
        if not self.placeholder:
            text = "blob missing from the mirror\n"
            self.placeholder = git(["hash-object", "-w", "--stdin"], self.work, text).strip()
        lines = "".join(f"update refs/replace/{sha} {self.placeholder}\n" for sha in shas)
        git(["update-ref", "--stdin"], self.work, lines)
        self.replaced |= shas

    def checkout(self, rev: str, missing: list[str]) -> None:
        """Check out rev on branch `replay`, leaving out the missing paths."""
        gitdir = self.work / ".git"
        for name in ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "AUTO_MERGE"):
            (gitdir / name).unlink(missing_ok=True)
        patterns = ["/*", *map(sparse_pattern, missing)]
        (gitdir / "info").mkdir(exist_ok=True)
        (gitdir / "info/sparse-checkout").write_text("\n".join(patterns) + "\n")
        proc = git_try(["checkout", "-q", "-f", "-B", "replay", rev], self.work)
        if proc.returncode != 0:  # a broken state: start again from scratch once
            self.create()
            (gitdir / "info/sparse-checkout").write_text("\n".join(patterns) + "\n")
            git(["checkout", "-q", "-f", "-B", "replay", rev], self.work)
        git(["clean", "-q", "-fdx"], self.work)

    def merge_tree(self, case: Case) -> dict[str, Any]:
        """Return the leaves of each case folder on the tree git's own merge makes,
        and the folders where that merge leaves a file conflicted."""
        args = ["merge-tree", "--write-tree", "--name-only", "--no-messages"]
        proc = git_try([*args, case.first, case.second], self.work)
        bases = git_try(["merge-base", "--all", case.first, case.second], self.work)
        out: dict[str, Any] = {"bases": len(bases.stdout.split())}
        if proc.returncode not in (0, 1):
            out["error"] = head(proc.stderr, 3)
            return out
        tree, *conflicted = proc.stdout.splitlines()
        dirs = [f.directory for f in case.folders]
        out["leaves"] = {d: self.expect.tree_leaves(tree, d) for d in dirs}
        out["conflicted"] = sorted(
            {p for p in map(unquote, conflicted) if p.rpartition("/")[0] in dirs}
        )
        return out

    def env(self) -> dict[str, str]:
        """Return migmerge's environment: own cache, own TMPDIR for the crash log."""
        env = git_env()
        env["TMPDIR"] = str(self.tmp)
        env["MIGMERGE_CACHE_DIR"] = str(self.cache)
        return env

    def replay(self, case: Case, cmd: list[str], timeout: float, no_cache: bool) -> dict[str, Any]:
        """Run both replays of one merge and return what each produced."""
        env = self.env()
        if no_cache:
            env["MIGMERGE_NO_CACHE"] = "1"
        missing = self.missing([case.first, case.second, case.base])
        runs: dict[str, Any] = {}
        self.checkout(case.first, missing)
        against = [*cmd, "check", "--against", case.second, "--format", "json"]
        runs["against"] = describe(run_command(against, str(self.work), env, timeout))
        runs["merge_tree"] = self.merge_tree(case)
        self.checkout(case.first, missing)
        merged = git_try(["merge", "--no-commit", "--no-ff", "-q", case.second], self.work)
        if merged.returncode not in (0, 1) or not (self.work / ".git/MERGE_HEAD").exists():
            runs["merge"] = {"error": "git merge: " + head(merged.stderr or merged.stdout, 5)}
        else:
            check = [*cmd, "check", "--format", "json"]
            runs["merge"] = describe(run_command(check, str(self.work), env, timeout))
            runs["merge"]["git_merge_exit"] = merged.returncode
        runs["missing_paths"] = len(missing)
        runs["missing_in_folder"] = [
            p for p in missing if any(p.rpartition("/")[0] == f.directory for f in case.folders)
        ]
        return runs


def head(text: str, lines: int) -> str:
    """Return the first lines of a text."""
    return "\n".join(text.strip().splitlines()[:lines])


def tail(text: str, lines: int) -> str:
    """Return the last lines of a text."""
    return "\n".join(text.strip().splitlines()[-lines:])


def describe(run: Run) -> dict[str, Any]:
    """Turn one migmerge run into the case's record (parsed JSON when there is one)."""
    out: dict[str, Any] = {"exit": run.exit, "seconds": round(run.seconds, 3)}
    if run.exit is None:
        out["timeout"] = True
    if run.exit in (0, 1):
        try:
            out["result"] = json.loads(run.stdout)
        except json.JSONDecodeError:
            out["error"] = "no JSON on stdout: " + head(run.stdout, 3)
    else:
        out["stderr"] = head(run.stderr, 8)
    if run.crash:
        out["crash"] = tail(run.crash, 12)
    return out


# ---------------------------------------------------------------- verdicts


def found_in(result: dict[str, Any], directory: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the leaves-conflicts reported in a folder and the kinds seen there."""
    conflicts = [
        c
        for c in result.get("conflicts", [])
        if str(c.get("directory", "")).strip("/") == directory
    ]
    kinds = sorted({str(c.get("kind", "leaves")) for c in conflicts})
    return [c for c in conflicts if c.get("kind", "leaves") == "leaves"], kinds


def verdict(folder: Folder, expected: list[str], run: dict[str, Any]) -> dict[str, Any]:
    """Judge one replay of one folder against the expected leaves."""
    if "error" in run and "result" not in run:
        return {"verdict": "error"}
    if run.get("timeout"):
        return {"verdict": "timeout"}
    if run["exit"] not in (0, 1):
        return {"verdict": "exit3" if run["exit"] == 3 else "exit2"}
    conflicts, kinds = found_in(run["result"], folder.directory)
    got = sorted({leaf["name"] for c in conflicts for leaf in c.get("leaves", [])})
    out: dict[str, Any] = {"found_leaves": got, "kinds": kinds}
    if conflicts:
        out["overlap"] = conflicts[0].get("overlap")
        out["reasons"] = conflicts[0].get("reasons", [])
    if folder.same_name:
        out["same_name_found"] = "same-name" in kinds
    if len(expected) < 2:
        out["verdict"] = "false-positive" if conflicts else "clean"
    elif not conflicts:
        out["verdict"] = "missed"
    else:
        out["verdict"] = "right" if got == expected else "wrong"
    return out


def expectation(folder: Folder, tree: dict[str, Any]) -> tuple[list[str], str | None]:
    """Return the leaves to judge by and any dispute: git's merge tree, except where git
    leaves a file of the folder conflicted (markers): there, the simple tree."""
    got = tree.get("leaves", {}).get(folder.directory)
    conflicted = [p for p in tree.get("conflicted", []) if p.rpartition("/")[0] == folder.directory]
    if got is None or got == folder.expected:
        return folder.expected, None
    if conflicted:
        return folder.expected, "git's merge leaves a migration conflicted"
    why = "several merge bases" if tree.get("bases", 1) > 1 else "git's merge differs (renames)"
    return got, why


def judge(case: Case, runs: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the per-folder records of one replayed merge."""
    out = []
    for folder in case.folders:
        expected, dispute = expectation(folder, runs["merge_tree"])
        if "conflicted" in runs["merge_tree"]:  # same-name: an add/add git cannot merge
            same = [p for p in folder.same_name if p in runs["merge_tree"]["conflicted"]]
            folder = folder._replace(same_name=same)
        record = folder._asdict()
        record["expected_model"] = record.pop("expected")
        record["expected"] = expected
        record["disputed"] = dispute
        record["expected_conflict"] = len(expected) >= 2
        record["modes"] = {mode: verdict(folder, expected, runs[mode]) for mode in MODES}
        out.append(record)
    return out


def strip_result(run: dict[str, Any], folders: list[str]) -> dict[str, Any]:
    """Keep a run's record small: conflicts outside the case's folders become names."""
    run = dict(run)
    result = run.pop("result", None)
    if result is not None:
        conflicts = result.get("conflicts", [])
        run["other_conflicts"] = sorted(
            {
                str(c.get("directory"))
                for c in conflicts
                if str(c.get("directory", "")).strip("/") not in folders
            }
        )
        run["warnings"] = [
            {k: w.get(k) for k in ("kind", "app", "path", "message")}
            for w in result.get("warnings", [])
        ][:20]
        run["mode"] = result.get("mode")
    return run


# ----------------------------------------------------------------- summary


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Count what each replay found over all cases of a repository."""
    folders = [f for r in records for f in r["folders"]]
    expected = [f for f in folders if f["expected_conflict"]]
    out: dict[str, Any] = {
        "merges_replayed": len(records),
        "folders": len(folders),
        "conflicts_expected": len(expected),
        "same_name_expected": sum(1 for f in folders if f["same_name"]),
        "disputed": sum(1 for f in folders if f.get("disputed")),
    }
    for mode in MODES:
        verdicts = collections.Counter(f["modes"][mode]["verdict"] for f in folders)
        overlaps = collections.Counter(
            f["modes"][mode].get("overlap") for f in expected if "overlap" in f["modes"][mode]
        )
        times = [r["runs"][mode]["seconds"] for r in records if "seconds" in r["runs"][mode]]
        out[mode] = {
            "verdicts": dict(verdicts),
            "right": verdicts["right"],
            "overlap": {k: overlaps[k] for k in OVERLAPS},
            "exit2_merges": sum(1 for r in records if r["runs"][mode].get("exit") == 2),
            "exit3_merges": sum(1 for r in records if r["runs"][mode].get("exit") == 3),
            "timeouts": sum(1 for r in records if r["runs"][mode].get("timeout")),
            "same_name_found": sum(1 for f in folders if f["modes"][mode].get("same_name_found")),
            "median_s": round(statistics.median(times), 2) if times else None,
            "max_s": round(max(times), 2) if times else None,
        }
    return out


def table(name: str, stats: dict[str, Any], summary: dict[str, Any]) -> str:
    """Render one repository's summary as printed lines."""
    lines = [
        f"{name}: {stats['merges']} merges, {stats['qualifying']} where both sides added "
        f"migrations to one folder, {summary['merges_replayed']} replayed"
        f"{' (sampled)' if summary['merges_replayed'] < stats['qualifying'] else ''}; "
        f"{summary['conflicts_expected']} conflicts expected in {summary['folders']} folders"
        f" (+{summary['same_name_expected']} same-name; {summary['disputed']} where git's merge"
        f" differs from the simple model); {stats.get('seconds', 0):.0f} s",
        "  mode     right/expected  wrong missed false+ exit2 exit3 timeout error"
        "  none/model/field/unknown  same-name  median  max (s)",
    ]
    for mode in MODES:
        m = summary[mode]
        v = collections.Counter(m["verdicts"])
        ov = "/".join(str(m["overlap"][k]) for k in OVERLAPS)
        lines.append(
            f"  {mode:<8} {m['right']:>5}/{summary['conflicts_expected']:<9} {v['wrong']:>5} "
            f"{v['missed']:>6} {v['false-positive']:>6} {m['exit2_merges']:>5} "
            f"{m['exit3_merges']:>5} {m['timeouts']:>7} {v['error']:>5}  {ov:>24}  "
            f"{m['same_name_found']:>4}/{summary['same_name_expected']:<4}  "
            f"{m['median_s'] or 0:>6.2f} {m['max_s'] or 0:>5.2f}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ report


def cause(verdict: str, folder: dict[str, Any], run: dict[str, Any]) -> str:
    """Name a failure's cause in one line, the same for cases of one kind."""
    if verdict == "exit3":
        frames = re.findall(
            r'File "[^"]*/(migmerge/[^"]+)", line (\d+), in (\w+)', run.get("crash", "")
        )
        last = run.get("crash", "").strip().splitlines()[-1:] or ["no crash log"]
        where = f" at {frames[-1][0]}:{frames[-1][2]}" if frames else ""
        return f"exit 3: {last[0].split(':')[0]}{where}"
    if verdict in ("exit2", "error"):
        text = (run.get("stderr") or run.get("error") or "").strip().splitlines()[:1] or [""]
        return f"{verdict}: " + re.sub(r"\S+\.py\b|'[^']*'|\d+", "…", text[0])[:120]
    return verdict


def unknown_reasons(judged: dict[str, Any]) -> set[str]:
    """Return the reasons of an unknown overlap, with names taken out so that like groups like."""
    reasons = [r for r in judged.get("reasons") or [] if "cannot" in r or "unknown" in r]
    out = set()
    for reason in reasons or ["(no reason says what could not be read)"]:
        reason = re.sub(r"^\S+ runs ", "runs ", reason)
        reason = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "…", reason)
        reason = re.sub(r"\([\w.]+\)", "(…)", re.sub(r"\b[\w.]+\(\)", "…()", reason))
        out.add(reason[:150])
    return out


def report(paths: list[str], shown: int = 6) -> int:
    """Print the failing folders of earlier runs, grouped by cause, and the unknown overlaps
    (a conflict with several reasons is listed under each)."""
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for path in paths:
        for repo in json.loads(Path(path).read_text())["repositories"]:
            print(table(repo["repo"], repo["stats"], summarize(repo["cases"])))
            for case in repo["cases"]:
                for folder in case["folders"]:
                    for mode in MODES:
                        judged = folder["modes"][mode]
                        line = (
                            f"{repo['repo']} {case['merge'][:10]} {mode} {folder['directory']}"
                            f" expected {' '.join(folder['expected'])}"
                            f" found {' '.join(judged.get('found_leaves') or ['-'])}"
                        )
                        if judged["verdict"] in FAILURES:
                            groups[cause(judged["verdict"], folder, case["runs"][mode])].append(
                                line
                            )
                        if judged.get("overlap") == "unknown":
                            for reason in unknown_reasons(judged):
                                groups[f"unknown overlap: {reason}"].append(line)
    print()
    for key, lines in sorted(
        groups.items(), key=lambda kv: (kv[0].startswith("unknown"), -len(kv[1]))
    ):
        print(f"{len(lines):>4}  {key}")
        for line in lines[:shown]:
            print(f"        {line}")
        if len(lines) > shown:
            print(f"        … and {len(lines) - shown} more")
    return 0


# -------------------------------------------------------------------- main


def repo_name(path: str) -> str:
    """Name a repository: owner/name for a /work/.mirror/owner+name/repo path."""
    parts = Path(path).resolve().parts
    if len(parts) >= 2 and parts[-1] == "repo" and "+" in parts[-2]:
        return parts[-2].replace("+", "/", 1)
    return parts[-1].removesuffix(".git")


def git_dir(path: str) -> str:
    """Return the absolute common git directory of a clone or bare directory."""
    out = git(["rev-parse", "--path-format=absolute", "--git-common-dir"], path)
    return out.strip()


def resolve_named(gitdir: str, merges: list[str]) -> list[str]:
    """Resolve abbreviated merge shas."""
    return [
        git(["--git-dir", gitdir, "rev-parse", "--verify", f"{m}^{{commit}}"], ".").strip()
        for m in merges
    ]


def replay_all(
    gitdir: str, cases: list[Case], opts: argparse.Namespace, scratch: Path, log: Any
) -> list[dict[str, Any]]:
    """Replay the cases with opts.jobs workers; return records in case order."""
    objects = Objects(gitdir)
    local = threading.local()
    made: list[Replayer] = []
    lock = threading.Lock()
    done = [0]

    def one(index: int, case: Case) -> dict[str, Any]:
        if not hasattr(local, "replayer"):
            local.replayer = Replayer(gitdir, scratch / f"w{threading.get_ident()}", objects)
            with lock:
                made.append(local.replayer)
        runs = local.replayer.replay(case, opts.command, opts.timeout, opts.no_cache)
        record = {
            "merge": case.merge,
            "parents": [case.first, case.second],
            "base": case.base,
            "date": time.strftime("%Y-%m-%d", time.gmtime(case.date)),
            "folders": judge(case, runs),
        }
        dirs = [f.directory for f in case.folders]
        record["runs"] = {
            k: strip_result(v, dirs) if isinstance(v, dict) else v for k, v in runs.items()
        }
        with lock:
            done[0] += 1
            verdicts = " ".join(
                f"{f['directory']}:{f['modes']['merge']['verdict']}/"
                f"{f['modes']['against']['verdict']}"
                for f in record["folders"]
            )
            log(f"  [{done[0]}/{len(cases)}] {case.merge[:10]} {verdicts}")
        return record

    with concurrent.futures.ThreadPoolExecutor(max_workers=opts.jobs) as pool:
        records = list(pool.map(one, range(len(cases)), cases))
    objects.close()
    return records


def measure(path: str, opts: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Find, replay and summarize one repository."""
    start = time.monotonic()
    name = opts.name or repo_name(path)
    log = print if not opts.quiet else (lambda *_: None)
    log(f"{name}: finding merges in {path}")
    gitdir = git_dir(path)
    named = resolve_named(gitdir, opts.merge) if opts.merge else []
    where = scratch / name.replace("/", "+")
    where.mkdir(parents=True)
    cases, stats = find_cases(gitdir, opts.rev, named, log, where)
    for sha in named:
        if sha not in {c.merge for c in cases}:
            log(
                f"  {sha[:10]}: not replayed: not a two-parent merge whose sides both added "
                "migrations to one folder"
            )
    chosen = sample(cases, opts.limit)
    stats["command"] = opts.command
    stats["discovery_seconds"] = round(time.monotonic() - start, 1)
    log(f"  {len(cases)} qualify, replaying {len(chosen)} ({stats['discovery_seconds']} s so far)")
    if opts.list:
        for case in chosen:
            exp = ", ".join(f"{f.directory}: {' '.join(f.expected)}" for f in case.folders)
            print(f"  {case.merge[:10]} {exp}")
        records: list[dict[str, Any]] = []
    else:
        records = replay_all(gitdir, chosen, opts, where, log)
    stats["seconds"] = round(time.monotonic() - start, 1)
    summary = summarize(records)
    return {"repo": name, "path": path, "stats": stats, "summary": summary, "cases": records}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=(__doc__ or "").split("\n\n", 1)[-1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "repos",
        nargs="+",
        metavar="REPO",
        help="a local clone or bare git directory (several: measured in turn)",
    )
    parser.add_argument(
        "--migmerge",
        default=None,
        metavar="CMD",
        help="the migmerge command (default: this Python with -P -m migmerge)",
    )
    parser.add_argument(
        "--rev",
        action="append",
        default=None,
        metavar="REV",
        help="look for merges reachable from REV (repeatable; default: --all)",
    )
    parser.add_argument(
        "--merge",
        action="append",
        default=[],
        metavar="SHA",
        help="replay only this merge (repeatable; abbreviations resolved)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="replay at most N merges a repository, spread evenly over time",
    )
    parser.add_argument("--jobs", type=int, default=1, help="replays at once (default: 1)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds one migmerge check may take (default: 120)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="MIGMERGE_NO_CACHE=1 (default: a fresh cache dir a repository)",
    )
    parser.add_argument("--out", metavar="FILE", help="write every case as JSON here")
    parser.add_argument("--name", help="the repository's name in the output (one REPO only)")
    parser.add_argument(
        "--list",
        action="store_true",
        help="find the merges and print the expected leaves, replay nothing",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--report",
        action="store_true",
        help="the REPO arguments are --out files: print their failures grouped by cause",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the tables")
    opts = parser.parse_args(argv)
    default = [sys.executable, "-P", "-m", "migmerge"]
    opts.command = shlex.split(opts.migmerge) if opts.migmerge else default
    opts.rev = opts.rev or ["--all"]
    return opts


def main(argv: list[str] | None = None) -> int:
    """Measure every repository given and print their tables."""
    opts = parse_args(argv)
    if opts.report:
        return report(opts.repos)
    scratch = Path(tempfile.mkdtemp(prefix="migmerge-replay-"))
    results = []
    try:
        for path in opts.repos:
            results.append(measure(path, opts, scratch))
            if opts.out:
                Path(opts.out).write_text(json.dumps({"repositories": results}, indent=1) + "\n")
    finally:
        if opts.keep:
            print(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    if opts.list:
        return 0
    print()
    for result in results:
        print(table(result["repo"], result["stats"], result["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

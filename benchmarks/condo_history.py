"""Find the commits of a kmigrator project's history that fix a migration fork by renaming.

Run: python benchmarks/condo_history.py REPO [--dir apps/condo/migrations] [--rev HEAD]
                                        [--full-history] [--json OUT] [--check]

For every commit that `git log -M --diff-filter=R` shows renaming files in the
migrations folder, it decodes the folder at the commit and at its first parent
the way kmigrator reads it (every file directly in the folder, each
`// KMIGRATOR:<name>:<base64>` line one Django migration), builds the graph
from each decoded source's `dependencies`, and counts the leaves. A commit
whose graph has fewer leaves than its parent's fixed a fork; those are printed
(and written as JSON with --json).

This is a deliberately separate, small decoder and graph, so that it can be
held against migmerge's own: it uses only the standard library and git.

--check then runs `migmerge check --format json` (this interpreter's
migmerge) on each such commit's parent, checked out in a temporary worktree
(sparse: the apps' migrations folders; the index holds the whole tree), and
counts the parents where migmerge reports a conflict of the folder's app with
exactly the leaves this script found, each leaf's `path` the file holding
it, and, where the parent's graph has a dependency on a migration no file
holds, a missing-dependency warning naming it.
"""

from __future__ import annotations

import argparse
import ast
import base64
import binascii
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any, NamedTuple

# kmigrator's own reading: the name runs to the last colon, the payload is base64 to the end.
_LINE = re.compile(rb"^// KMIGRATOR:(.*?):([A-Za-z0-9+/=]*?)\r?$", re.MULTILINE)


class Fork(NamedTuple):
    """One commit whose renames reduced the number of leaves."""

    sha: str
    parent: str
    subject: str
    parent_leaves: list[str]
    leaves: list[str]
    renamed: list[list[str]]
    parent_leaf_paths: dict[str, str]  # the file holding each of the parent's leaves


class Blobs:
    """Read blobs through one `git cat-file --batch`, decoding each blob once."""

    def __init__(self, repo: str) -> None:
        self.process = subprocess.Popen(
            ["git", "-C", repo, "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.memo: dict[str, dict[str, list[str]]] = {}

    def read(self, sha: str) -> bytes:
        """Return the bytes of blob `sha`."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(sha.encode() + b"\n")
        self.process.stdin.flush()
        size = int(self.process.stdout.readline().split()[2])
        data = self.process.stdout.read(size)
        self.process.stdout.read(1)
        return data

    def migrations(self, sha: str) -> dict[str, list[str]]:
        """Return {migration name: names it depends on} for the file in blob `sha`."""
        if sha not in self.memo:
            self.memo[sha] = decode_file(self.read(sha))
        return self.memo[sha]


def decode_file(data: bytes) -> dict[str, list[str]]:
    """Decode every KMIGRATOR line of one file into its name and dependencies."""
    found: dict[str, list[str]] = {}
    for match in _LINE.finditer(data):
        try:
            source = base64.b64decode(match.group(2))
        except (binascii.Error, ValueError):
            print(f"warning: bad payload for {match.group(1)!r}", file=sys.stderr)
            continue
        found[match.group(1).decode()] = dependencies(source)
    return found


def dependencies(source: bytes) -> list[str]:
    """Return the migration names a Django migration's source depends on (any app)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "dependencies" for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            return [name for _app, name in value]
    return []


def git(repo: str, *args: str) -> str:
    """Run git and return its output."""
    return subprocess.run(
        ["git", "-C", repo, *args], check=True, capture_output=True, text=True
    ).stdout


def graph(repo: str, blobs: Blobs, rev: str, folder: str) -> dict[str, tuple[str, list[str]]]:
    """Return the decoded graph of `folder` at `rev`: {name: (file path, dependencies)}."""
    nodes: dict[str, tuple[str, list[str]]] = {}
    for line in git(repo, "ls-tree", rev, folder + "/").splitlines():
        meta, path = line.split("\t", 1)
        _mode, kind, sha = meta.split()
        if kind == "blob":
            nodes.update((name, (path, deps)) for name, deps in blobs.migrations(sha).items())
    return nodes


def leaves(nodes: dict[str, tuple[str, list[str]]]) -> list[str]:
    """Return the names no other migration of the graph depends on, sorted."""
    needed = {name for _path, deps in nodes.values() for name in deps}
    return sorted(name for name in nodes if name not in needed)


def rename_commits(repo: str, rev: str, folder: str, full: bool) -> dict[str, list[list[str]]]:
    """Return {sha: [[old, new], ...]} for the commits renaming .js files in `folder`."""
    args = ["log", "-M", "--diff-filter=R", "--name-status", "--format=C %H", rev]
    out = git(repo, *args, *(["--full-history"] if full else []), "--", folder + "/")
    commits: dict[str, list[list[str]]] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("C "):
            current = line[2:]
            commits[current] = []
        elif line.startswith("R"):
            _status, old, new = line.split("\t")
            if old.endswith(".js") and new.startswith(folder + "/"):
                commits[current].append([old, new])
    return {sha: pairs for sha, pairs in commits.items() if pairs}


def measure(repo: str, rev: str, folder: str, full: bool) -> tuple[int, list[Fork]]:
    """Return how many commits rename files, and those among them that reduce the leaves."""
    blobs = Blobs(repo)
    commits = rename_commits(repo, rev, folder, full)
    forks = []
    for sha, pairs in commits.items():
        parent = git(repo, "rev-parse", sha + "^1").strip()
        nodes = graph(repo, blobs, parent, folder)
        before = leaves(nodes)
        after = leaves(graph(repo, blobs, sha, folder))
        if len(after) < len(before):
            subject = git(repo, "log", "-1", "--format=%s", sha).strip()
            paths = {name: nodes[name][0] for name in before}
            forks.append(Fork(sha, parent, subject, before, after, pairs, paths))
    return len(commits), forks


def dangling(nodes: dict[str, tuple[str, list[str]]]) -> list[tuple[str, str]]:
    """Return (migration, the dependency no file holds) pairs of a decoded graph."""
    return sorted(
        (name, dep) for name, (_, deps) in nodes.items() for dep in deps if dep not in nodes
    )


def check_parents(repo: str, folder: str, forks: list[Fork]) -> int:
    """Run migmerge check on each fork's parent; print each verdict; return how many agree."""
    app = folder.rstrip("/").split("/")[-2]
    good = 0
    with tempfile.TemporaryDirectory(prefix="condo-check-") as tmp:
        worktree = os.path.join(tmp, "tree")
        git(repo, "worktree", "add", "--no-checkout", "--detach", worktree, forks[0].parent)
        try:
            git(worktree, "sparse-checkout", "set", "--no-cone", "/apps/*/migrations/")
            env = {**os.environ, "MIGMERGE_CACHE_DIR": os.path.join(tmp, "cache")}
            blobs = Blobs(repo)
            for fork in forks:
                git(worktree, "checkout", "-q", "--detach", fork.parent)
                missing = dangling(graph(repo, blobs, fork.parent, folder))
                started = time.perf_counter()
                report = run_check(worktree, env)
                took = time.perf_counter() - started
                verdict = judge(report, app, fork, missing)
                good += verdict.startswith("ok")
                print(f"{fork.parent[:10]} {took:5.2f}s {verdict}")
        finally:
            git(repo, "worktree", "remove", "--force", worktree)
    return good


def run_check(worktree: str, env: dict[str, str]) -> dict[str, Any]:
    """Run `migmerge check --format json` in `worktree` and return its document."""
    proc = subprocess.run(
        [sys.executable, "-m", "migmerge", "check", "--format", "json"],
        cwd=worktree,
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode not in (0, 1):
        return {"error": proc.stderr.strip()}
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def judge(report: dict[str, Any], app: str, fork: Fork, missing: list[tuple[str, str]]) -> str:
    """Say "ok" when migmerge reports the fork as this script found it, else what differs."""
    if "error" in report:
        return f"migmerge failed: {report['error']}"
    conflicts = [c for c in report["conflicts"] if c["app"] == app]
    if len(conflicts) != 1:
        return f"no conflict for {app} (conflicts: {[c['app'] for c in report['conflicts']]})"
    leaves = {leaf["name"]: leaf["path"] for leaf in conflicts[0]["leaves"]}
    if leaves != fork.parent_leaf_paths:
        return f"leaves differ: {sorted(leaves)} (expected {fork.parent_leaves})"
    said = " ".join(w["message"] for w in report["warnings"] if w["kind"] == "missing-dependency")
    unsaid = [dep for _, dep in missing if dep not in said]
    if unsaid:
        return f"conflict ok, but no missing-dependency warning for {', '.join(unsaid)}"
    return "ok" + (f" (and missing: {', '.join(dep for _, dep in missing)})" if missing else "")


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo")
    parser.add_argument("--dir", default="apps/condo/migrations")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--full-history", action="store_true")
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--check", action="store_true", help="run migmerge check on each parent")
    args = parser.parse_args()
    total, forks = measure(args.repo, args.rev, args.dir.rstrip("/"), args.full_history)
    for fork in forks:
        print(f"{fork.sha[:10]} {len(fork.parent_leaves)} -> {len(fork.leaves)}  {fork.subject}")
    print(f"{total} commits rename files in {args.dir}; {len(forks)} reduce the number of leaves")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([fork._asdict() for fork in forks], out, indent=2)
            out.write("\n")
    if args.check and forks:
        good = check_parents(args.repo, args.dir.rstrip("/"), forks)
        print(f"migmerge check on the parents: {good} of {len(forks)} report the fork's leaves")


if __name__ == "__main__":
    main()

"""Real git repositories in tmp_path, and the real command line run in them.

Nothing here is mocked: `git` is the real binary, `migmerge` runs in a
subprocess with the project's interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent.parent


def git(cwd: Path, *args: str, check: bool = True, input: str | None = None) -> str:
    """Run git in `cwd` and return its stdout."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def commit_all(cwd: Path, message: str) -> str:
    """Stage everything and commit; return the new HEAD sha."""
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD").strip()


def init_repo(path: Path) -> Path:
    """Create an empty repository on branch main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


def reading_state(root: Path) -> tuple[str, ...]:
    """Everything a reading command must not change: HEAD, refs, index, working tree."""
    index = (root / ".git" / "index").read_bytes()
    files = sorted(
        (str(p.relative_to(root)), p.read_bytes())
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "for-each-ref"),
        git(root, "--no-optional-locks", "status", "--porcelain"),
        str(hash(index)),
        str(hash(tuple(files))),
    )


def run_migmerge(
    cwd: Path,
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `migmerge` command line in a subprocess (a hang past `timeout` fails)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [PYTHON, "-m", "migmerge", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        env=full_env,
        timeout=timeout,
    )


def isolated_git_env(home: Path) -> dict[str, str]:
    """The environment conftest's `isolated_git` sets, for module-scoped fixtures.

    Module-scoped fixtures run before the function-scoped autouse fixture, so
    they set these themselves (with `pytest.MonkeyPatch.context()`).
    """
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
    }


# Two branches of a generated project, met both ways a developer meets them

Files = dict[str, "str | bytes | None"]


def write_files(root: Path, files: Files) -> None:
    """Write (or, for None, delete) repository files."""
    for path, content in files.items():
        target = root / path
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def diverged(root: Path, base: Files, local: Files, upstream: Files) -> Path:
    """A repository where `main` (upstream) and `feature` (local) each changed `base`.

    Leaves `feature` checked out, unmerged.
    """
    init_repo(root)
    write_files(root, base)
    commit_all(root, "base")
    git(root, "checkout", "-q", "-b", "feature")
    write_files(root, local)
    commit_all(root, "local work")
    git(root, "checkout", "-q", "main")
    write_files(root, upstream)
    commit_all(root, "upstream work")
    git(root, "checkout", "-q", "feature")
    return root


def criss_cross(root: Path) -> Path:
    """Two merge bases: `upstream` renamed a migration the other base holds, `feature` kept it.

    0002_expressions was made on a branch both sides merged, at different points
    (rapidpro's 0032_broadcast_expressions, renumbered 0033 after 0032_auto); git's
    merge starts from both bases, so the old name is gone after it.
    """
    from tests.testing.projects import app_files, migration_text

    init_repo(root)
    write_files(root, app_files("msgs", "0001_initial"))
    commit_all(root, "base")
    dates = iter(f"2020-01-0{day}T12:00:00" for day in range(1, 9))

    def dated(*args: str) -> None:  # merge-base --all lists the newest base first
        date = next(dates)
        env = {**os.environ, "GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
        subprocess.run(["git", *args], cwd=root, env=env, check=True)

    def commit(message: str) -> None:
        git(root, "add", "-A")
        dated("commit", "-q", "-m", message)

    def merge(other: str) -> None:
        dated("merge", "-q", "--no-ff", "-m", f"merge {other}", other)

    git(root, "checkout", "-q", "-b", "expressions")
    expressions = migration_text("[('msgs', '0001_initial')]", body="    # expressions\n")
    write_files(root, {"msgs/migrations/0002_expressions.py": expressions})
    commit("expressions")  # one merge base: holds 0002_expressions
    git(root, "checkout", "-q", "main")
    write_files(root, {"README.md": "later\n"})
    commit("readme")  # the other, newer: `git merge-base` picks it, and it lacks the file
    git(root, "checkout", "-q", "-b", "feature")
    merge("expressions")
    git(root, "checkout", "-q", "main")
    merge("expressions")
    write_files(
        root,
        {
            "msgs/migrations/0002_auto.py": migration_text("[('msgs', '0001_initial')]"),
            "msgs/migrations/0002_expressions.py": None,
            "msgs/migrations/0003_expressions.py": expressions.replace("0001_initial", "0002_auto"),
        },
    )
    commit("renumber after 0002_auto")
    git(root, "checkout", "-q", "feature")
    return root


def replays(root: Path) -> list[tuple[int, dict[str, object], str]]:
    """`check --against main`, then `git merge --no-commit --no-ff main` and `check`.

    Returns (exit code, JSON document, stderr) of each; stops the merge where it is.
    """
    import json

    out = []
    for merging in (False, True):
        if merging:
            git(root, "merge", "--no-commit", "--no-ff", "-q", "main", check=False)
        args = ("check", "--format", "json") + (() if merging else ("--against", "main"))
        proc = run_migmerge(root, *args)
        doc = json.loads(proc.stdout) if proc.returncode in (0, 1) else {}
        out.append((proc.returncode, doc, proc.stderr))
    return out


def conflict_leaves(doc: dict[str, object]) -> dict[str, list[str]]:
    """app -> sorted leaf names of every conflict in a check document."""
    conflicts: list[dict] = doc["conflicts"]  # type: ignore[assignment, type-arg]
    return {c["app"]: sorted(leaf["name"] for leaf in c["leaves"]) for c in conflicts}


def assert_one_conflict(root: Path, app: str, leaves: list[str], overlap: str) -> None:
    """Both replays (`--against`, then a merge) find one conflict: these leaves, this overlap."""
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        assert conflict_leaves(doc) == {app: leaves}
        (conflict,) = doc["conflicts"]  # type: ignore[misc]
        assert conflict["overlap"] == overlap, conflict.get("reasons")


# GitHub Actions workflow commands, read as the runner reads them


def parse_workflow_command(line: str) -> tuple[str, dict[str, str], str]:
    """Read `::name key=value,...::message` as GitHub's runner does: (name, properties, message).

    The command's properties end at the first `::`; they are split on `,`,
    each at its first `=`. Values unescape %0D, %0A, %3A, %2C and then %25;
    the message %0D, %0A and %25 (GitHub's documented escapes).
    """
    assert line.startswith("::"), line
    end = line.index("::", 2)
    name, _, listed = line[2:end].partition(" ")
    properties = {}
    for pair in filter(None, listed.split(",")):
        key, equals, value = pair.partition("=")
        assert equals, f"a property without a value in {line!r}"
        properties[key] = _unescape(value, ("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","))
    return name, properties, _unescape(line[end + 2 :], ("%0D", "\r"), ("%0A", "\n"))


def _unescape(text: str, *pairs: tuple[str, str]) -> str:
    for escaped, plain in (*pairs, ("%25", "%")):
        text = text.replace(escaped, plain)
    return text

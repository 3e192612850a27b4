"""Kill `migmerge resolve` at each step of each strategy; prove every kill recoverable.

Each trial copies a template project (a real git repository holding a real
Django project with a real SQLite database), records its state (every work-tree
file's bytes and mode, `git ls-files -s`, HEAD, the database's SQL dump), runs
`migmerge resolve --strategy S --yes` with the testing hook
`MIGMERGE_FAULT=WHEN:N:SIGNAL` (the process kills itself just before or just
after step N of its transaction), then judges:

  held    the old state and no journal; or the new state (no journal, one leaf,
          the migrations an unfaulted run leaves); or a journal that `check`
          reports (exit 1, naming it) and `migmerge resolve --abort` undoes to
          exactly the old bytes, index and database
  failed  anything else (the reason is printed)

Families are strategy x signal x point (before, after); N runs from 1 until the
run ends before reaching it. Prints tried / held / failed per family.

    python benchmarks/faults.py [--strategy NAME]... [--signal KILL|TERM]... [--max-step N]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

Completed = subprocess.CompletedProcess[str]

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.testing.projects import (  # noqa: E402
    applied_age_fork,
    nothing_applied,
    renumber_project,
)
from tests.testing.repos import run_migmerge  # noqa: E402

STRATEGIES = ("merge", "renumber", "keep-names", "regenerate")
SIGNALS = ("KILL", "TERM")
WHENS = ("before", "after")


class State(NamedTuple):
    """Everything a resolution may change."""

    files: dict[str, tuple[bytes, int]]
    index: str
    head: str
    database: tuple[str, ...]


class Outcome(NamedTuple):
    """One trial: did it hold, how, and why not."""

    held: bool
    how: str  # "old", "new", "aborted", "ran to the end", or the failure


def template(strategy: str, base: Path) -> Path:
    """The project a strategy resolves: renumber_project (nothing applied), or regenerate's."""
    if strategy == "regenerate":
        return applied_age_fork(base / "regenerate")
    root = renumber_project(base / "files")
    nothing_applied(root)  # known: nothing applied (unknown would refuse the renumber)
    return root


def argv(strategy: str) -> list[str]:
    """The resolve command line of a strategy."""
    if strategy == "keep-names":
        return ["resolve", "--strategy", "renumber", "--keep-names", "--yes"]
    return ["resolve", "--strategy", strategy, "--yes"]


def migmerge(root: Path, *args: str, env: dict[str, str] | None = None) -> Completed:
    """Run the real command line (the tests' run_migmerge), with the fault point if any."""
    return run_migmerge(root, *args, env=env)


def state(root: Path) -> State:
    """Read the state a resolution may change (the database as SQL, compared line by line)."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if ".git" in rel.parts or "__pycache__" in rel.parts or path.name == "db.sqlite3":
            continue
        if path.is_file():
            files[str(rel)] = (path.read_bytes(), path.stat().st_mode)
    index = _git(root, "ls-files", "-s")
    head = _git(root, "rev-parse", "HEAD")
    return State(files, index, head, _dump(root / "db.sqlite3"))


def _dump(path: Path) -> tuple[str, ...]:
    if not path.is_file():
        return ()
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return tuple(conn.iterdump())
    finally:
        conn.close()


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def migration_names(root: Path) -> list[str]:
    """The migration files of every app: what an unfaulted run leaves, by name."""
    return sorted(str(p.relative_to(root)) for p in root.glob("*/migrations/*.py"))


def journal(root: Path) -> Path:
    return root / ".git" / "migmerge" / "journal" / "undo.json"


def trial(template_root: Path, work: Path, strategy: str, point: str, new: list[str]) -> Outcome:
    """Copy the template, run the faulted resolve, judge what it left."""
    root = Path(shutil.copytree(template_root, work, symlinks=True))
    old = state(root)
    proc = migmerge(root, *argv(strategy), env={"MIGMERGE_FAULT": point})
    if proc.returncode == 0:
        return Outcome(True, "ran to the end")
    if proc.returncode > 0 and not journal(root).exists():
        if state(root) == old:
            return Outcome(True, "old")  # SIGTERM: undone at once
        return Outcome(False, f"exit {proc.returncode} and a changed state: {proc.stderr[-300:]}")
    return judge(root, old, new)


def judge(root: Path, old: State, new: list[str]) -> Outcome:
    """After a kill: old, new, or a journal that --abort undoes exactly."""
    if not journal(root).exists():
        if state(root) == old:
            return Outcome(True, "old")
        check = migmerge(root, "check")
        if check.returncode == 0 and migration_names(root) == new:
            return Outcome(True, "new")
        return Outcome(False, f"no journal, neither old nor new: {check.stdout[-300:]}")
    check = migmerge(root, "check")
    if check.returncode != 1 or "unfinished migmerge resolve" not in check.stdout:
        return Outcome(False, f"check did not report the journal (exit {check.returncode})")
    abort = migmerge(root, "resolve", "--abort")
    if abort.returncode != 0:
        return Outcome(False, f"--abort exited {abort.returncode}: {abort.stderr[-300:]}")
    if journal(root).parent.exists():
        return Outcome(False, "--abort left the journal")
    after = state(root)
    if after != old:
        return Outcome(False, f"--abort left a different state: {_difference(old, after)}")
    return Outcome(True, "aborted")


def _difference(old: State, now: State) -> str:
    if old.files != now.files:
        changed = sorted(set(old.files) ^ set(now.files)) or [
            p for p in old.files if old.files[p] != now.files.get(p)
        ]
        return f"files {', '.join(changed[:5])}"
    if old.index != now.index:
        return "the index"
    if old.head != now.head:
        return "HEAD"
    return "the database"


def points(max_step: int, whens: Iterable[str] = WHENS) -> list[tuple[str, int]]:
    return [(when, n) for n in range(1, max_step + 1) for when in whens]


def run_family(
    template_root: Path,
    scratch: Path,
    strategy: str,
    signal: str,
    chosen: Iterable[tuple[str, int]],
    new: list[str],
    report: Callable[[str], None] = print,
) -> tuple[int, int, list[str]]:
    """Run the trials of one family; return tried, held and the failures."""
    tried = held = 0
    failures = []
    for when, number in chosen:
        point = f"{when}:{number}:{signal}"
        outcome = trial(template_root, scratch / f"{strategy}-{signal}-{when}-{number}", strategy,
                        point, new)  # fmt: skip
        if outcome.how == "ran to the end":
            break  # past the last step: nothing left to interrupt
        tried += 1
        held += outcome.held
        if not outcome.held:
            failures.append(f"{point}: {outcome.how}")
            report(f"  FAILED {strategy} {point}: {outcome.how}")
    return tried, held, failures


def reference(template_root: Path, scratch: Path, strategy: str) -> list[str]:
    """The migrations an unfaulted run leaves."""
    root = Path(shutil.copytree(template_root, scratch / f"{strategy}-reference", symlinks=True))
    proc = migmerge(root, *argv(strategy))
    if proc.returncode != 0:
        raise SystemExit(f"{strategy}: the unfaulted run failed: {proc.stderr}")
    return migration_names(root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", action="append", choices=STRATEGIES)
    parser.add_argument("--signal", action="append", choices=SIGNALS)
    parser.add_argument("--max-step", type=int, default=30)
    args = parser.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="migmerge-faults-") as tmp:
        scratch = Path(tmp)
        print(f"{'family':<32} {'tried':>5} {'held':>5} {'failed':>6}")
        for strategy in args.strategy or STRATEGIES:
            base = template(strategy, scratch / f"{strategy}-template")
            new = reference(base, scratch, strategy)
            for signal in args.signal or SIGNALS:
                for when in WHENS:
                    chosen = points(args.max_step, [when])
                    tried, held, failures = run_family(base, scratch, strategy, signal, chosen, new)
                    failed += len(failures)
                    family = f"{strategy} x {signal} x {when}"
                    print(f"{family:<32} {tried:>5} {held:>5} {len(failures):>6}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

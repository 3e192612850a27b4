"""apply_plan: every step runs, or none stays -- files, index and database put back."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from migmerge.core.model import Database
from migmerge.core.plan import Action, Plan
from migmerge.doing.apply import apply_plan, touched_paths
from migmerge.doing.prompts import ScriptedQuestioner
from migmerge.errors import Refused, StepFailed
from tests.testing.repos import commit_all, git, init_repo

FAIL = (sys.executable, "-c", "import sys; print('boom'); sys.exit(3)")


def repo_state(root: Path) -> tuple[dict[str, bytes], str, str, str]:
    """Everything a plan could change: every file's bytes, status, index and HEAD."""
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    return (
        files,
        git(root, "status", "--porcelain"),
        git(root, "ls-files", "-s"),
        git(root, "rev-parse", "HEAD"),
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with tracked, modified, staged and untracked files."""
    root = init_repo(tmp_path / "repo")
    mig = root / "polls" / "migrations"
    mig.mkdir(parents=True)
    (mig / "0002_x.py").write_bytes(b"# x\r\n")
    (mig / "0003_y.py").write_bytes(b"# y\n")
    (mig / "gone.py").write_bytes(b"# gone\n")
    (root / "dirty.txt").write_text("one\n")
    commit_all(root, "base")
    (root / "dirty.txt").write_text("two\n")  # modified, not staged
    (mig / "0003_y.py").write_bytes(b"# y staged\n")
    git(root, "add", "polls/migrations/0003_y.py")
    (root / "notes.txt").write_text("untracked\n")
    return root


def plan_of(*actions: Action) -> Plan:
    return Plan("renumber", "polls", actions)


FILE_STEPS = (
    Action("edit", "rewire", path="polls/migrations/0002_x.py", content=b"# x edited\r\n"),
    Action("rename", "renumber", path="polls/migrations/0002_x.py",
           target="polls/migrations/0005_x.py"),
    Action("rename", "renumber", path="polls/migrations/0003_y.py",
           target="polls/migrations/0006_y.py"),
    Action("rename", "move", path="notes.txt", target="docs/notes.txt"),
    Action("write", "merge", path="polls/migrations/0007_merge.py", content=b"# merge\n"),
    Action("delete", "drop", path="polls/migrations/gone.py"),
)  # fmt: skip


def test_apply_runs_every_step_and_git_mv_records_the_renames(repo: Path) -> None:
    lines: list[str] = []
    apply_plan(repo, plan_of(*FILE_STEPS), out=lines.append)
    mig = repo / "polls" / "migrations"
    assert (mig / "0005_x.py").read_bytes() == b"# x edited\r\n"
    assert (mig / "0006_y.py").read_bytes() == b"# y staged\n"
    assert not (mig / "0002_x.py").exists() and not (mig / "gone.py").exists()
    assert (repo / "docs" / "notes.txt").read_text() == "untracked\n"
    status = git(repo, "status", "--porcelain").splitlines()
    # Every write, edit, rename and delete is staged (issue 10 item 1): a plain commit is whole.
    # The edited bytes moved with the file (too small for git to call it a rename).
    assert {"D  polls/migrations/0002_x.py", "A  polls/migrations/0005_x.py"} <= set(status)
    assert git(repo, "show", ":polls/migrations/0005_x.py") == "# x edited\n"  # text mode
    assert {"D  polls/migrations/0003_y.py", "A  polls/migrations/0006_y.py"} <= set(status)
    assert "D  polls/migrations/gone.py" in status
    assert "A  polls/migrations/0007_merge.py" in status
    assert "?? docs/" in status  # an untracked file moved to an untracked folder stays so
    # Each step is shown as it starts and when it is done.
    assert lines[:2] == [
        "  running: edit polls/migrations/0002_x.py",
        "  done: edit polls/migrations/0002_x.py",
    ]
    assert len(lines) == 2 * len(FILE_STEPS)


def test_a_failing_run_step_restores_files_and_index_exactly(repo: Path) -> None:
    before = repo_state(repo)
    run = Action("run", "migrate", command=FAIL, touches_database=False)
    with pytest.raises(StepFailed) as info:
        apply_plan(repo, plan_of(*FILE_STEPS, run), out=lambda _: None)
    assert repo_state(repo) == before
    message = info.value.message
    assert message.startswith(f"step {len(FILE_STEPS) + 1} (run ")
    assert "exited with 3: boom" in message
    assert "restored: files polls/migrations/0002_x.py" in message


def test_a_failing_file_step_undoes_the_steps_before_it(repo: Path) -> None:
    before = repo_state(repo)
    clash = Action("write", "merge", path="dirty.txt", content=b"x")  # already exists
    with pytest.raises(StepFailed, match=r"step 7 \(write dirty.txt\) failed: dirty.txt already"):
        apply_plan(repo, plan_of(*FILE_STEPS, clash), out=lambda _: None)
    assert repo_state(repo) == before


def test_unmerged_index_entries_come_back(repo: Path) -> None:
    """A conflicted path keeps its three stages through a failed plan."""
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "shared.txt").write_text("other\n")
    commit_all(repo, "other")
    git(repo, "checkout", "-q", "main")
    (repo / "shared.txt").write_text("main\n")
    git(repo, "add", "shared.txt")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "merge", "other", check=False)
    before = repo_state(repo)
    assert "AA shared.txt" in before[1]
    steps = (
        Action("delete", "drop", path="shared.txt"),
        Action("rename", "renumber", path="polls/migrations/0002_x.py",
               target="polls/migrations/0005_x.py"),
        Action("run", "fail", command=FAIL),
    )  # fmt: skip
    with pytest.raises(StepFailed):
        apply_plan(repo, plan_of(*steps), out=lambda _: None)
    assert repo_state(repo) == before


def _database(root: Path) -> Database:
    path = root / "db.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE django_migrations (id integer primary key, app, name, applied)")
        conn.execute("INSERT INTO django_migrations (app, name) VALUES ('polls', '0002_x')")
    return Database("sqlite", str(path))


def _rows(db: Database) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db.name)
    try:
        return list(conn.execute("SELECT app, name FROM django_migrations ORDER BY id"))
    finally:
        conn.close()


def test_record_renames_rows_after_a_backup(repo: Path, tmp_path: Path) -> None:
    db = _database(tmp_path)
    steps = (
        Action("backup", "safety", target=str(tmp_path / "backups")),
        Action("record", "rows", app="polls", renames=(("0002_x", "0005_x"),)),
    )
    apply_plan(repo, plan_of(*steps), out=lambda _: None, database=db)
    assert _rows(db) == [("polls", "0005_x")]
    assert len(list((tmp_path / "backups").iterdir())) == 1


def test_a_failure_after_record_restores_the_database(repo: Path, tmp_path: Path) -> None:
    db = _database(tmp_path)
    before = repo_state(repo)
    steps = (
        Action("backup", "safety", target=str(tmp_path / "backups")),
        *FILE_STEPS[:2],
        Action("record", "rows", app="polls", renames=(("0002_x", "0005_x"),)),
        Action("run", "migrate", command=FAIL, touches_database=True),
    )
    with pytest.raises(StepFailed, match=r"database .*db.sqlite3 from .*backups"):
        apply_plan(repo, plan_of(*steps), out=lambda _: None, database=db)
    assert _rows(db) == [("polls", "0002_x")]
    assert repo_state(repo) == before


def test_declining_a_database_step_undoes_everything(repo: Path) -> None:
    before = repo_state(repo)
    questioner = ScriptedQuestioner([False])
    run = Action("run", "migrate", command=FAIL, touches_database=True)
    with pytest.raises(Refused, match="was not confirmed"):
        apply_plan(repo, plan_of(*FILE_STEPS, run), out=lambda _: None, questioner=questioner)
    assert repo_state(repo) == before
    assert questioner.transcript[0].startswith("? Run ")


def test_touched_paths_lists_sources_and_targets_once() -> None:
    assert touched_paths(FILE_STEPS[:3]) == [
        "polls/migrations/0002_x.py",
        "polls/migrations/0005_x.py",
        "polls/migrations/0003_y.py",
        "polls/migrations/0006_y.py",
    ]

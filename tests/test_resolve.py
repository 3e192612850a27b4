"""`migmerge resolve` end to end: the real command line on real merged Django projects."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from migmerge.commands.resolve import resolve
from migmerge.doing.prompts import ScriptedQuestioner
from tests.testing.projects import (
    POLLS_V1,
    app_files,
    django_conflicts,
    manage,
    migration_text,
    nothing_applied,
    parallel_branches,
    renumber_project,
)
from tests.testing.repos import diverged, git, isolated_git_env, run_migmerge

MIG = "polls/migrations"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two merged projects: a renumberable chain, and a field overlap."""
    base = tmp_path_factory.mktemp("resolve")
    # Different migration names (a field added locally), same field altered on both sides.
    field_local = POLLS_V1.replace(
        "max_length=100)", "max_length=150)\n    age = models.IntegerField(default=0)"
    )
    field_upstream = POLLS_V1.replace("max_length=100", "max_length=120")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_git_env(base / "home").items():
            mp.setenv(key, value)
        chain = renumber_project(base / "chain")
        nothing_applied(chain)  # known: nothing applied, so auto may renumber
        yield {
            "chain": chain,
            "field": parallel_branches(base / "field", field_local, field_upstream),
        }


def copy(built: dict[str, Path], name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built[name], tmp_path / name, symlinks=True))


def state(root: Path) -> tuple[dict[str, bytes], str, str, str]:
    """Every file's bytes, `git status`, the index and HEAD."""
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts and "__pycache__" not in str(p)
    }
    return (
        files,
        git(root, "status", "--porcelain"),
        git(root, "ls-files", "-s"),
        git(root, "rev-parse", "HEAD"),
    )


def django_agrees(root: Path) -> None:
    assert django_conflicts(root) == {}
    (root / "db.sqlite3").unlink(missing_ok=True)
    manage(root, "migrate")
    manage(root, "makemigrations", "--check", "--dry-run")


def test_dry_run_shows_the_numbered_plan_and_changes_nothing(built: dict[str, Path],
                                                             tmp_path: Path) -> None:  # fmt: skip
    root = copy(built, "chain", tmp_path)
    before = state(root)
    proc = run_migmerge(root, "resolve", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("polls: renumber (the branches do not collide")
    assert f"  5. rename {MIG}/0003_choice_votes.py -> {MIG}/0004_choice_votes.py" in proc.stdout
    assert "warning: docs/upgrade.md mentions 0002_choice" in proc.stdout
    assert proc.stdout.rstrip().endswith("dry run: nothing changed")
    assert state(root) == before


def test_auto_renumbers_and_django_agrees(built: dict[str, Path], tmp_path: Path) -> None:
    root = copy(built, "chain", tmp_path)
    proc = run_migmerge(root, "resolve", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "polls: resolved (renumber); no parallel migrations left" in proc.stdout
    assert (root / MIG / "0004_choice_votes.py").is_file()
    django_agrees(root)
    assert run_migmerge(root, "check").returncode == 0


def test_the_summary_names_what_is_staged(built: dict[str, Path], tmp_path: Path) -> None:
    # Issue 10 item 1: every path the resolution changed is staged, and the summary says so.
    root = copy(built, "chain", tmp_path)
    proc = run_migmerge(root, "resolve", "--yes")
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("staged: ")]
    named = line.removeprefix("staged: ").split(" (review")[0].split(", ")
    assert f"{MIG}/0004_choice_votes.py" in named and f"{MIG}/0003_choice_votes.py" in named
    assert "not staged" not in proc.stdout
    assert git(root, "diff", "--name-only", "--", *named) == ""  # each as the index holds it
    cached = git(root, "diff", "--cached", "--name-only", "--no-renames", "--", *named)
    assert set(cached.split()) == set(named)


def test_merge_json_reports_the_applied_plan(built: dict[str, Path], tmp_path: Path) -> None:
    root = copy(built, "chain", tmp_path)
    proc = run_migmerge(root, "resolve", "--strategy", "merge", "--yes", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    name = "0004_merge_0002_tag_0003_choice_votes"
    assert doc["version"] == 1 and doc["applied"] is True
    assert doc["actions"][0]["action"] == "write"
    assert doc["actions"][0]["path"] == f"{MIG}/{name}.py"
    assert all(action["why"] for action in doc["actions"])
    django_agrees(root)


def test_dry_run_json_is_not_applied(built: dict[str, Path], tmp_path: Path) -> None:
    root = copy(built, "chain", tmp_path)
    proc = run_migmerge(root, "resolve", "--dry-run", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["applied"] is False
    assert [a["action"] for a in doc["actions"]].count("rename") == 2


def test_keep_names_from_the_configuration(built: dict[str, Path], tmp_path: Path) -> None:
    root = copy(built, "chain", tmp_path)
    (root / "pyproject.toml").write_text('[tool.migmerge]\nrenumber = "keep-names"\n')
    proc = run_migmerge(root, "resolve", "--strategy", "renumber", "--yes", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    actions = json.loads(proc.stdout)["actions"]
    assert [(a["action"], a["path"]) for a in actions] == [("edit", f"{MIG}/0002_choice.py")]
    django_agrees(root)


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("chain", ("--yes",), "it is shared"),
        ("field", ("--strategy", "merge", "--yes"), "refusing to merge"),
        ("field", ("--strategy", "renumber", "--yes"), "refusing to renumber"),
        ("chain", (), "the plan was not applied"),
    ],
)
def test_refusals_leave_the_repository_byte_identical(
    built: dict[str, Path], tmp_path: Path, name: str, args: tuple[str, ...], message: str
) -> None:
    root = copy(built, name, tmp_path)
    if message == "it is shared":
        git(root, "update-ref", "refs/remotes/origin/feature", "HEAD^1")
        args = ("--strategy", "renumber", *args)
    before = state(root)
    proc = run_migmerge(root, "resolve", *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "hint: " in proc.stderr
    assert state(root) == before


def test_nothing_to_resolve(built: dict[str, Path], tmp_path: Path) -> None:
    root = copy(built, "chain", tmp_path)
    assert run_migmerge(root, "resolve", "--yes").returncode == 0
    proc = run_migmerge(root, "resolve")
    assert proc.returncode == 0
    assert proc.stdout.strip() == "no migration conflicts to resolve"


def test_unknown_app_is_bad_input(built: dict[str, Path], tmp_path: Path) -> None:
    root = copy(built, "chain", tmp_path)
    proc = run_migmerge(root, "resolve", "--app", "nope")
    assert proc.returncode == 2
    assert "nope" in proc.stderr


def test_resolve_asks_before_applying(built: dict[str, Path], tmp_path: Path) -> None:
    root = copy(built, "chain", tmp_path)
    lines: list[str] = []
    questioner = ScriptedQuestioner([True])
    code = resolve(
        repo=str(root), strategy="merge", apps=["polls"], keep_names=False, yes=False,
        dry_run=False, force=False, fmt="text", questioner=questioner, out=lines.append,
    )  # fmt: skip
    assert code == 0
    assert questioner.transcript == ["? Apply this plan? [Y/n] yes"]
    assert lines[0] == "polls: merge (merge was asked for)"
    assert "polls: resolved (merge); no parallel migrations left" in lines
    django_agrees(root)


def test_a_renumber_refused_for_computed_dependencies_exits_1(tmp_path: Path) -> None:
    # Issue 11, "clear words": the file is fine (bad input is exit 2); migmerge refuses.
    base = app_files("polls", "0001_initial")
    prelude = "\n\ndef deps():\n    return [('polls', '0001_initial')]\n"
    mine = {"polls/migrations/0002_mine.py": migration_text("deps()", prelude=prelude)}
    theirs = {"polls/migrations/0002_theirs.py": migration_text("[('polls', '0001_initial')]")}
    root = diverged(tmp_path / "repo", base, mine, theirs)
    git(root, "merge", "-q", "--no-edit", "main")
    before = git(root, "status", "--porcelain", "--untracked-files=all")
    proc = run_migmerge(root, "resolve", "--strategy", "renumber", "--yes", "--force")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "migmerge: polls/migrations/0002_mine.py: cannot renumber: no literal dependency on "
        "polls.0001_initial to re-point\n"
        "hint: edit the migration's dependencies by hand, or use --strategy merge\n"
    ) in proc.stderr
    assert git(root, "status", "--porcelain", "--untracked-files=all") == before

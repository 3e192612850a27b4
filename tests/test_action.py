"""The GitHub Action (action.yml) and its script, run as GitHub would run them on real clones."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.testing.repos import PYTHON, ROOT, commit_all, git, init_repo, parse_workflow_command

MIGRATION = (
    "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
    "    dependencies = {deps}\n    operations = []\n"
)
AFTER_INITIAL = "[('polls', '0001_initial')]"


def test_action_yml_is_a_composite_action_that_installs_its_own_commit() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"against", "args", "python-version"}
    steps = action["runs"]["steps"]
    for step in steps:
        assert "run" not in step or step["shell"] == "bash"  # composite run steps need a shell
    install, check = steps[1], steps[2]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert 'pip install --quiet --disable-pip-version-check "$ACTION_PATH"' in install["run"]
    assert check["env"]["MIGMERGE_AGAINST"] == "${{ inputs.against }}"
    assert check["run"].endswith('bash "$ACTION_PATH/scripts/github-check"')
    assert (ROOT / "scripts" / "github-check").is_file()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare remote: main with 0002_theirs, a pull request branch `feature` with 0002_mine."""
    seed = init_repo(tmp_path / "seed")
    folder = seed / "polls" / "migrations"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "0001_initial.py").write_text(MIGRATION.format(deps="[]"))
    commit_all(seed, "initial")
    git(seed, "checkout", "-q", "-b", "feature")
    (folder / "0002_mine.py").write_text(MIGRATION.format(deps=AFTER_INITIAL))
    commit_all(seed, "mine")
    git(seed, "checkout", "-q", "-b", "clean", "main")
    (seed / "README.md").write_text("no migration\n")
    commit_all(seed, "docs")
    git(seed, "checkout", "-q", "main")
    (folder / "0002_theirs.py").write_text(MIGRATION.format(deps=AFTER_INITIAL))
    commit_all(seed, "theirs")
    git(tmp_path, "clone", "-q", "--bare", "seed", "remote.git")
    return tmp_path / "remote.git"


def checkout(remote: Path, where: Path, branch: str) -> Path:
    """Clone as actions/checkout does by default: one commit deep, one branch."""
    git(
        remote.parent,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        branch,
        remote.as_uri(),
        where.name,
    )
    return where


def run_action_script(root: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/github-check in `root` with the variables the action and GitHub set."""
    env = {**os.environ, **variables}
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env['PATH']}"  # migmerge, installed
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "github-check")],
        cwd=root, capture_output=True, text=True, env=env,
    )  # fmt: skip


def errors(output: str) -> list[tuple[str, dict[str, str], str]]:
    return [parse_workflow_command(line) for line in output.splitlines() if line.startswith("::e")]


def test_pull_request_predicts_the_merge_into_its_base_from_a_shallow_checkout(
    remote: Path, tmp_path: Path
) -> None:
    root = checkout(remote, tmp_path / "pr", "feature")
    proc = run_action_script(root, GITHUB_BASE_REF="main", GITHUB_EVENT_NAME="pull_request")
    assert proc.returncode == 1, proc.stderr
    ((name, properties, message),) = errors(proc.stdout)
    assert properties["file"] == "polls/migrations/0002_mine.py"
    assert (root / properties["file"]).is_file()
    assert "on origin/main 0002_theirs (polls/migrations/0002_theirs.py)" in message
    assert git(root, "rev-parse", "--is-shallow-repository").strip() == "false"


def test_a_clean_pull_request_passes(remote: Path, tmp_path: Path) -> None:
    root = checkout(remote, tmp_path / "pr", "clean")
    proc = run_action_script(root, GITHUB_BASE_REF="main", GITHUB_EVENT_NAME="pull_request")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No migration conflicts." in proc.stdout


def test_github_s_test_merge_checkout_is_checked_as_it_is(remote: Path, tmp_path: Path) -> None:
    root = checkout(remote, tmp_path / "pr", "feature")
    git(root, "fetch", "-q", "--unshallow", "origin", "+main:refs/remotes/origin/main")
    git(root, "merge", "-q", "--no-edit", "origin/main")  # what refs/pull/N/merge holds
    proc = run_action_script(root, GITHUB_BASE_REF="main", GITHUB_EVENT_NAME="pull_request")
    assert proc.returncode == 1
    assert "the checkout is GitHub's test merge" in proc.stdout
    files = sorted(properties["file"] for _, properties, _ in errors(proc.stdout))
    assert files == ["polls/migrations/0002_mine.py", "polls/migrations/0002_theirs.py"]


def test_push_to_the_default_branch_and_merge_queue_recheck_the_tree(
    remote: Path, tmp_path: Path
) -> None:
    # Two pull requests, each green against the old base, landed: main now forks.
    seed = tmp_path / "seed"
    git(seed, "merge", "-q", "--no-edit", "feature")
    git(seed, "push", "-q", str(remote), "main")
    for event in ("push", "merge_group"):
        root = checkout(remote, tmp_path / event, "main")
        proc = run_action_script(root, GITHUB_EVENT_NAME=event)
        assert proc.returncode == 1, proc.stderr
        assert len(errors(proc.stdout)) == 2

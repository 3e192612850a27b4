"""`migmerge demo` end to end: the real command in a subprocess, judged by git and Django."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.testing.projects import manage
from tests.testing.repos import PYTHON, git, isolated_git_env, run_migmerge


def loader_leaves(root: Path) -> dict[str, list[str]]:
    """Ask Django's own MigrationLoader for the leaf migrations of each app."""
    code = (
        "import json, django; django.setup();"
        "from django.db.migrations.loader import MigrationLoader;"
        "g = MigrationLoader(None, ignore_no_migrations=True).graph;"
        "leaves = {};"
        "[leaves.setdefault(a, []).append(n) for a, n in g.leaf_nodes()];"
        "print(json.dumps(leaves))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    proc = subprocess.run([PYTHON, "-c", code], cwd=root, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    leaves: dict[str, list[str]] = json.loads(proc.stdout)
    return leaves


def no_identity_env(home: Path) -> dict[str, str]:
    """An environment where git refuses to commit unless told who commits."""
    env = isolated_git_env(home)
    for name in list(env):
        if name.startswith(("GIT_AUTHOR", "GIT_COMMITTER")):
            del env[name]
    (home / ".gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    env["TMPDIR"] = str(home / "tmp")
    (home / "tmp").mkdir()
    return env


@pytest.fixture(scope="module")
def auto_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Run `migmerge demo` once, with no DIR and no git identity; yield (folder, output)."""
    home = tmp_path_factory.mktemp("demo-home")
    env = no_identity_env(home)
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("GIT_", "DJANGO_"))]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        proc = run_migmerge(home, "demo")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        folders = list((home / "tmp").glob("migmerge-demo-*"))
        assert len(folders) == 1, proc.stdout
        yield folders[0], proc.stdout


def test_auto_demo_leaves_one_leaf_per_app(auto_demo: tuple[Path, str]) -> None:
    root, _ = auto_demo
    assert loader_leaves(root) == {
        "auth": ["0012_alter_user_first_name_max_length"],
        "contenttypes": ["0002_remove_content_type_name"],
        "polls": ["0003_question_pub_date"],
    }


def test_auto_demo_renumbers_and_migrates(auto_demo: tuple[Path, str]) -> None:
    root, _ = auto_demo
    names = sorted(p.name for p in (root / "polls" / "migrations").glob("0*.py"))
    assert names == ["0001_initial.py", "0002_choice_is_correct.py", "0003_question_pub_date.py"]
    assert manage(root, "migrate", "--check", check=False).returncode == 0
    assert manage(root, "makemigrations", "--check", "--dry-run", check=False).returncode == 0


def test_auto_demo_history_is_a_real_merge_then_a_committed_fix(
    auto_demo: tuple[Path, str],
) -> None:
    root, _ = auto_demo
    assert git(root, "status", "--porcelain") == ""
    parents = git(root, "log", "-1", "--format=%P", "HEAD~1").split()
    assert len(parents) == 2
    assert git(root, "log", "-1", "--format=%an", "HEAD").strip() == "migmerge demo"


def test_auto_demo_narrates_django_refusal_check_and_proof(auto_demo: tuple[Path, str]) -> None:
    root, output = auto_demo
    assert "Conflicting migrations detected; multiple leaf nodes" in output
    assert "overlap: none" in output
    assert "suggested: renumber" in output
    assert "polls: resolved (renumber)" in output
    assert "makemigrations --check --dry-run -> ok" in output
    assert str(root) in output.split("Done in")[1]


def test_all_strategies_each_resolve_a_fresh_copy(tmp_path: Path) -> None:
    target = tmp_path / "new" / "try"
    proc = run_migmerge(tmp_path, "demo", str(target), "--strategy", "all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in target.iterdir()) == ["merge", "regenerate", "renumber"]
    for strategy in ("merge", "renumber", "regenerate"):
        root = target / strategy
        assert len(loader_leaves(root)["polls"]) == 1, strategy
        assert manage(root, "migrate", "--check", check=False).returncode == 0, strategy
        assert f"polls: resolved ({strategy})" in proc.stdout
    merge = target / "merge" / "polls" / "migrations"
    assert (merge / "0003_merge_0002_choice_is_correct_0002_question_pub_date.py").is_file()
    assert (merge / "0002_question_pub_date.py").is_file()
    regenerated = target / "regenerate" / "polls" / "migrations"
    assert not (regenerated / "0002_question_pub_date.py").exists()


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    proc = run_migmerge(tmp_path, "demo", str(tmp_path))
    assert proc.returncode == 2
    assert "is not an empty folder" in proc.stderr
    assert "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_an_empty_folder_is_accepted_and_kept(tmp_path: Path) -> None:
    from migmerge.commands.demo import _target

    empty = tmp_path / "empty"
    empty.mkdir()
    assert _target(str(empty)) == empty.resolve()
    assert empty.is_dir()

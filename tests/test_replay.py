"""benchmarks/replay.py: it finds a real fork in a real history and replays it both ways."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from tests.testing.projects import POLLS_V1, make_django_project, makemigrations, write_app
from tests.testing.repos import commit_all, git

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "replay.py"


def load_replay() -> ModuleType:
    """Import the standalone script as a module."""
    spec = importlib.util.spec_from_file_location("replay", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["replay"] = module  # NamedTuple needs its module registered
    spec.loader.exec_module(module)
    return module


def forked_project(root: Path) -> str:
    """A project whose two branches each add a 0002 to polls, merged; return the merge sha.

    A large data file changes on both sides and its blobs are then deleted
    from the object store, as a mirror lacks its largest blobs.
    """
    make_django_project(root, {"polls": POLLS_V1})
    makemigrations(root, "polls")
    (root / "data.txt").write_text("".join(f"line {i}\n" for i in range(40)))
    commit_all(root, "initial")
    git(root, "checkout", "-q", "-b", "feature")
    write_app(root, "polls", POLLS_V1 + "    age = models.IntegerField(default=0)\n")
    makemigrations(root, "polls")
    (root / "data.txt").write_text("feature\n" + (root / "data.txt").read_text())
    commit_all(root, "feature: age")
    git(root, "checkout", "-q", "main")
    question = "    text = models.CharField(max_length=200)\n"
    write_app(
        root,
        "polls",
        POLLS_V1.replace(question, question + "    votes = models.IntegerField(default=0)\n"),
    )
    makemigrations(root, "polls")
    (root / "data.txt").write_text((root / "data.txt").read_text() + "main\n")
    commit_all(root, "main: votes")
    git(root, "merge", "-q", "-X", "ours", "feature", "-m", "merge feature")
    blobs = git(root, "rev-list", "--all", "--objects").splitlines()
    for line in blobs:
        sha, _, path = line.partition(" ")
        if path == "data.txt":
            (root / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    return git(root, "rev-parse", "HEAD").strip()


def test_replay_finds_and_replays_a_real_fork_with_missing_blobs(tmp_path: Path) -> None:
    merge = forked_project(tmp_path / "proj")
    out = tmp_path / "out.json"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "proj"), "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert proc.returncode == 0, proc.stderr
    repo = json.loads(out.read_text())["repositories"][0]
    [case] = repo["cases"]
    assert case["merge"] == merge
    [folder] = case["folders"]
    assert folder["directory"] == "polls/migrations"
    assert folder["label"] == "polls"
    assert len(folder["expected"]) == 2
    assert all(name.startswith("0002_") for name in folder["expected"])
    assert case["runs"]["missing_paths"] == 1  # data.txt: left out, the replay still ran
    for mode in ("merge", "against"):
        assert folder["modes"][mode]["verdict"] == "right", case["runs"][mode]
        assert case["runs"][mode]["exit"] == 1
    assert repo["summary"]["merge"]["right"] == repo["summary"]["against"]["right"] == 1
    assert "merge        1/1" in proc.stdout
    assert not list(scratch.iterdir())  # the scratch repository is gone


def test_expected_leaves_read_squashes_and_python2_files() -> None:
    replay = load_replay()
    sources = {
        "0001_initial": b"class Migration(migrations.Migration):\n    dependencies = []\n",
        "0002_old": b"class Migration(migrations.Migration):\n"
        b"    dependencies = [('polls', '0001_initial')]\n",
        "0001_squashed_0002": b"class Migration(migrations.Migration):\n"
        b"    replaces = [('polls', '0001_initial'), ('polls', '0002_old')]\n",
        # Python 2: ast cannot read it, the regex does
        "0003_py2": b"print 'x'\nclass Migration(migrations.Migration):\n"
        b"    dependencies = [\n        ('polls', '0002_old'),\n    ]\n",
        "0003_other": b"class Migration(migrations.Migration):\n"
        b"    dependencies = [(u'polls', u'0001_squashed_0002'), ('auth', '0003_py2')]\n",
    }
    infos = {name: replay.parse_module(text) for name, text in sources.items()}
    assert infos["0003_py2"].how == "regex"
    assert replay.infer_label("polls/migrations", infos) == ("polls", "dependencies")
    assert replay.leaves("polls", infos) == ["0003_other", "0003_py2"]

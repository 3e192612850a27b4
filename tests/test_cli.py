"""The command line's face: help, usage errors and exit codes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import PYTHON, commit_all, init_repo, run_migmerge


@pytest.mark.parametrize("command", ["check", "resolve", "install-hooks", "demo"])
def test_each_command_has_help_with_examples(tmp_path: Path, command: str) -> None:
    proc = run_migmerge(tmp_path, command, "--help")
    assert proc.returncode == 0
    assert "examples:" in proc.stdout and "exit codes:" in proc.stdout


def test_bare_command_prints_usage_and_exits_2(tmp_path: Path) -> None:
    proc = run_migmerge(tmp_path)
    assert proc.returncode == 2
    assert "usage: migmerge" in proc.stderr


def test_unknown_command_is_exit_2_with_hint(tmp_path: Path) -> None:
    proc = run_migmerge(tmp_path, "frobnicate")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def test_check_path_imports_neither_django_nor_questionary_nor_doing(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "r")
    folder = root / "polls" / "migrations"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    head = "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
    (folder / "0001_initial.py").write_text(head + "    dependencies = []\n")
    for name in ("0002_a", "0002_b"):
        (folder / f"{name}.py").write_text(
            head + "    dependencies = [('polls', '0001_initial')]\n    operations = []\n"
        )
    commit_all(root, "two leaves")
    code = (
        "import sys, migmerge.cli, migmerge.reading.analysis, migmerge.commands.hook;"
        f"n = len(migmerge.reading.analysis.analyze({str(root)!r}).result.conflicts);"
        "loaded = [m for m in sys.modules if m in ('django', 'questionary', 'git')"
        " or m.startswith('migmerge.doing')];"
        "print(n, sorted(loaded))"
    )
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "1 []", proc.stderr

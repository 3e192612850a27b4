"""The command line's face: help, usage errors and exit codes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from migmerge import cli
from migmerge.errors import MigmergeError, Refused
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


# The one error handler ---------------------------------------------------------


def _raise(exc: BaseException) -> Callable[[], int]:
    def action() -> int:
        raise exc

    return action


@pytest.mark.parametrize(
    ("exc", "code", "said"),
    [
        (MigmergeError("bad flag", hint="try --help"), 2, "migmerge: bad flag\nhint: try --help\n"),
        (Refused("a person must choose"), 1, "migmerge: a person must choose\n"),
        (KeyboardInterrupt(), 130, "migmerge: interrupted\n"),
        (BrokenPipeError(), 0, ""),
    ],
)
def test_the_exception_type_gives_the_exit_code(
    capsys: pytest.CaptureFixture[str], exc: BaseException, code: int, said: str
) -> None:
    assert cli.handle_errors(_raise(exc)) == code
    assert capsys.readouterr().err == said


def test_a_crash_writes_a_log_and_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.handle_errors(_raise(ZeroDivisionError("boom"))) == 3
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("migmerge: internal error: ZeroDivisionError: boom (details in ")
    assert lines[1] == "hint: this is a bug in migmerge; please report it with the log"
    log = Path(lines[0].split("details in ", 1)[1].rstrip(")"))
    assert "ZeroDivisionError: boom" in log.read_text()


def test_hook_policies_add_their_words_and_post_hooks_never_fail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from migmerge.commands.hook import error_policy

    bad = MigmergeError("cannot read x")
    assert cli.handle_errors(_raise(bad), error_policy("pre-push")) == 2
    assert capsys.readouterr().err == (
        "migmerge: cannot read x\nhint: to push without this check: git push --no-verify\n"
    )
    for name, what in (
        ("post-merge", "merge"),
        ("post-commit", "merge"),
        ("post-rewrite", "rebase"),
    ):
        assert cli.handle_errors(_raise(ZeroDivisionError()), error_policy(name)) == 0
        err = capsys.readouterr().err
        assert "internal error" in err
        assert err.endswith(f"migmerge: git's {what} itself is done; only this report failed\n")

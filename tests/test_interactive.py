"""The interactive flow through a real pseudo-terminal: questionary prompts answered by keys."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.testing.projects import applied_age_fork, django_conflicts, sqlite_rows
from tests.testing.repos import ROOT, git

PROMPT = re.compile(rb"\((?:Y/\s*n|y/\s*N)\)")
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\r")


def run_in_pty(
    argv: list[str], cwd: Path, keys: list[bytes], timeout: float = 60
) -> tuple[str, int]:
    """Run argv on a pseudo-terminal, typing the next key at each yes/no prompt."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal on stdin and stdout, like a person's shell
        os.chdir(cwd)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(TERM="xterm", COLUMNS="200", LINES="50", PYTHONPATH=str(ROOT))
        os.execve(argv[0], argv, env)
    # A wide terminal, so prompts are not wrapped.
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    transcript, answered, deadline = b"", 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            transcript += chunk
        prompts = len(PROMPT.findall(transcript))
        if prompts > answered and answered < len(keys):
            time.sleep(0.2)  # let prompt_toolkit finish drawing before the key arrives
            os.write(fd, keys[answered])
            answered += 1
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    return ANSI.sub("", transcript.decode("utf-8", "replace")), os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_resolve_regenerate_asks_through_the_terminal(tmp_path: Path) -> None:
    root = applied_age_fork(tmp_path)
    argv = [sys.executable, "-m", "migmerge", "resolve", "--strategy", "regenerate"]
    text, code = run_in_pty(argv, root, keys=[b"y"] * 5)
    assert code == 0, text
    assert """Run MIGMERGE_UNAPPLY='[["polls", "0001_initial"]]' python manage.py""" in text
    assert "Run python manage.py migrate? It changes your database. (Y/n)" in text
    assert "regenerated" in text
    assert django_conflicts(root) == {}
    assert ("polls", "0004_fill_names") in sqlite_rows(root)
    assert "polls/migrations/0004_fill_names.py" in git(root, "ls-files")


def regenerate_unchanged(tmp_path: Path, keys: list[bytes]) -> tuple[Path, str]:
    """Run regenerate at a terminal with `keys`; assert it exited 1 and changed nothing."""
    root = applied_age_fork(tmp_path)
    rows = sqlite_rows(root)
    files = sorted(p.name for p in (root / "polls" / "migrations").glob("*.py"))
    argv = [sys.executable, "-m", "migmerge", "resolve", "--strategy", "regenerate"]
    text, code = run_in_pty(argv, root, keys=keys)
    assert code == 1, text
    assert sqlite_rows(root) == rows
    assert sorted(p.name for p in (root / "polls" / "migrations").glob("*.py")) == files
    assert git(root, "status", "--porcelain") == ""
    return root, text


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_answering_no_at_the_terminal_changes_nothing(tmp_path: Path) -> None:
    root, _ = regenerate_unchanged(tmp_path, [b"y", b"n", b"n", b"n"])
    shutil.rmtree(root)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_the_rollback_step_defaults_to_no_at_the_terminal(tmp_path: Path) -> None:
    """Enter at "Run <unapply>?" keeps the data: the step that drops it defaults to No."""
    # Yes to dropping the data and to the plan, then Enter (the default) at each step.
    root, text = regenerate_unchanged(tmp_path, [b"y", b"y", b"\r", b"\r", b"\r"])
    asked = text.replace("\n", "")  # the long command wraps on the terminal
    assert '? Run MIGMERGE_UNAPPLY=\'[["polls", "0001_initial"]]\' python manage.py' in asked
    assert "It changes your database: rolling back drops data. (y/N)" in asked, text
    assert "was not confirmed; nothing needed restoring" in text
    assert "Run python manage.py migrate?" not in text  # stopped before anything ran
    shutil.rmtree(root)

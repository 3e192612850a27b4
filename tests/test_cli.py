"""The command line's face: help, usage errors and exit codes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from migmerge import cli
from migmerge.errors import MigmergeError, Refused
from tests.testing.repos import PYTHON, commit_all, init_repo, run_migmerge


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
        # dataclasses: the check path's records are NamedTuples (core/model.py says why);
        # core.plans: planning is resolve's, a check never plans.
        "loaded = [m for m in sys.modules if m in ('django', 'questionary', 'git', 'dataclasses')"
        " or m.startswith(('migmerge.doing', 'migmerge.core.plans'))];"
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


# Conventions: --quiet, --verbose, colour, usage hints ------------------------------

COMMANDS = ["check", "resolve", "doctor", "install-hooks", "uninstall-hooks", "hook", "demo"]


def two_leaves(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "r")
    folder = root / "polls" / "migrations"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    head = "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
    (folder / "0001_initial.py").write_text(head + "    dependencies = []\n")
    commit_all(root, "one leaf")
    for name in ("0002_a", "0002_b"):
        (folder / f"{name}.py").write_text(
            head + "    dependencies = [('polls', '0001_initial')]\n    operations = []\n"
        )
    return root


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_quiet_and_verbose(tmp_path: Path, command: str) -> None:
    proc = run_migmerge(tmp_path, command, "--help")
    assert "-q, --quiet" in proc.stdout and "-v, --verbose" in proc.stdout


@pytest.mark.parametrize(
    ("argv", "hint"), [(["check", "--bogus"], "migmerge check"), (["bogus"], "migmerge")]
)
def test_usage_errors_name_the_right_help(tmp_path: Path, argv: list[str], hint: str) -> None:
    proc = run_migmerge(tmp_path, *argv)
    assert proc.returncode == 2
    assert proc.stderr.endswith(f"hint: {hint} --help\n"), proc.stderr
    assert "migmerge migmerge" not in proc.stderr


def test_quiet_check_prints_only_conflicts(tmp_path: Path) -> None:
    root = two_leaves(tmp_path)
    forked = run_migmerge(root, "check", "--quiet")
    assert forked.returncode == 1 and "polls (polls/migrations): 2 leaves" in forked.stdout
    (root / "polls" / "migrations" / "0002_b.py").unlink()
    clean = run_migmerge(root, "check", "-q")
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")
    assert run_migmerge(root, "install-hooks", "-q").stdout == ""
    assert run_migmerge(root, "uninstall-hooks", "-q").stdout == ""


def test_quiet_resolve_says_nothing_when_done_and_everything_when_refused(tmp_path: Path) -> None:
    root = two_leaves(tmp_path)
    refused = run_migmerge(root, "resolve", "--quiet", "--yes", "--strategy", "regenerate")
    assert refused.returncode != 0
    assert refused.stdout == "" and "migmerge: " in refused.stderr  # why not, still said
    done = run_migmerge(root, "resolve", "--quiet", "--yes")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert run_migmerge(root, "check").returncode == 0


def test_verbose_traces_what_was_read_and_what_it_cost(tmp_path: Path) -> None:
    root = two_leaves(tmp_path)
    plain = run_migmerge(root, "check")
    traced = run_migmerge(root, "check", "--verbose")
    assert traced.stdout == plain.stdout and plain.stderr == ""
    lines = traced.stderr.splitlines()
    assert all(line.startswith("migmerge: [") and " ms] " in line for line in lines), lines
    said = "\n".join(lines)
    assert f"repository {root}" in said and "git state: worktree" in said
    assert "discovery: settings, migrations packages, labels: " in said
    assert "1 migrations packages" in said and lines[-1].endswith("] done")
    assert (
        run_migmerge(root, "check", env={"MIGMERGE_VERBOSE": "1"}).stderr.count("migmerge: [") > 3
    )


def test_the_trace_is_free_when_off() -> None:
    from migmerge import trace

    assert not trace.enabled()
    assert trace.step("a") is trace.step("b")  # one shared object that does nothing
    said: list[str] = []
    trace.enable(said.append)
    try:
        with trace.step("a step"):
            trace.note("a note")
    finally:
        trace.enable(None)
    assert [line.split("] ", 1)[1] for line in said][0] == "a note"
    assert said[1].split("] ", 1)[1].startswith("a step: ")


def run_on_a_terminal(root: Path, *args: str, env: dict[str, str]) -> str:
    """Run migmerge with a pseudo-terminal as its stdout; return what it wrote there."""
    import os

    master, slave = os.openpty()
    proc = subprocess.run(
        [PYTHON, "-m", "migmerge", *args],
        cwd=root, stdout=slave, stderr=subprocess.PIPE, env={**os.environ, **env}, timeout=60,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal has no writer left
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.returncode == 1, proc.stderr
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path: Path) -> None:
    root = two_leaves(tmp_path)
    coloured = run_on_a_terminal(root, "check", env={"TERM": "xterm"})
    assert "\x1b[1;31m1 app with parallel migrations (working tree):\x1b[0m" in coloured
    assert "\x1b[1mpolls (polls/migrations): 2 leaves after 0001_initial\x1b[0m" in coloured
    assert "\x1b[" not in run_on_a_terminal(root, "check", env={"TERM": "xterm", "NO_COLOR": "1"})
    assert "\x1b[" not in run_on_a_terminal(
        root, "check", "--format", "json", env={"TERM": "xterm"}
    )
    assert "\x1b[" not in run_migmerge(root, "check").stdout  # a pipe


def test_quiet_output_held_back_is_shown_when_the_command_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def dispatch(args: object, out: Callable[[str], None] = print) -> int:
        out("step 1 done")
        if getattr(args, "apps", None):
            raise Refused("step 2 refused")
        return 0

    monkeypatch.setattr(cli, "dispatch", dispatch)
    assert cli.main(["check", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert cli.main(["check", "--quiet", "--app", "polls"]) == 1
    said = capsys.readouterr()
    assert (said.out, said.err) == ("step 1 done\n", "migmerge: step 2 refused\n")


def test_the_crash_log_is_private_and_follows_no_planted_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import stat

    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    (cache / "migmerge").mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (cache / "migmerge" / "error.log").symlink_to(victim)  # planted by someone else
    assert cli.handle_errors(_raise(ZeroDivisionError("boom"))) == 3
    log = cache / "migmerge" / "error.log"
    assert f"(details in {log})" in capsys.readouterr().err
    assert victim.read_text() == "precious\n"
    assert not log.is_symlink() and "ZeroDivisionError: boom" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE((cache / "migmerge").stat().st_mode) == 0o700


def test_a_crash_log_folder_that_is_a_link_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "migmerge").symlink_to(elsewhere)
    assert cli.handle_errors(_raise(ZeroDivisionError("boom"))) == 3
    assert "(no log could be written)" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


# An atexit handler stands for the interpreter's teardown: said only when it runs.
EXIT_PROBE = (
    "import atexit, sys; from migmerge.cli import exit_program;"
    "atexit.register(print, 'teardown'); {imports}"
    "print('output', flush=False); exit_program({code}, {argv!r})"
)


@pytest.mark.parametrize(
    ("argv", "imports", "teardown"),
    [
        (["hook", "post-merge", "0"], "", False),
        (["check"], "", False),
        (["resolve"], "", True),  # writes: Python's own exit
        (["hook", "post-merge", "0"], "import migmerge.doing;", True),  # a hook that resolved
    ],
)
def test_a_run_that_only_read_ends_without_teardown(
    argv: list[str], imports: str, teardown: bool
) -> None:
    code = EXIT_PROBE.format(imports=imports, code=1, argv=argv)
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True)
    # Output flushed and the exit code kept either way; teardown only when not read-only.
    assert proc.returncode == 1 and proc.stdout.startswith("output\n"), proc.stderr
    assert ("teardown" in proc.stdout) is teardown

"""`migmerge demo`: a real Django project, a real migration conflict, resolved and proven.

Nothing is simulated: the project is written to disk, `git` is the real binary,
`makemigrations` and `migrate` run with this interpreter's Django, and the
conflict is resolved by the same `resolve` a user runs. Each step says what a
person would do by hand and what migmerge did instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from migmerge.errors import MigmergeError
from migmerge.reading.git import clean_env

Out = Callable[[str], None]

STRATEGIES = ("merge", "renumber", "regenerate")

# The demo's own settings, whatever DJANGO_SETTINGS_MODULE the shell holds.
DEMO_ENV = {"DJANGO_SETTINGS_MODULE": "mysite.settings"}

# The demo must work for someone with no git identity, signing or hooks set up.
GIT_CONFIG = (
    "-c",
    "user.name=migmerge demo",
    "-c",
    "user.email=demo@migmerge.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "core.hooksPath=.git/hooks",
)

MANAGE_PY = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

SETTINGS_PY = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "migmerge-demo-not-secret"
DEBUG = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "polls",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
"""

APPS_PY = """\
from django.apps import AppConfig


class PollsConfig(AppConfig):
    name = "polls"
"""

MODELS_PY = """\
from django.db import models


class Question(models.Model):
    text = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.text


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE)
    text = models.CharField(max_length=200)
    votes = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.text
"""

# Each branch adds one field, far enough apart in models.py for git to merge cleanly.
LOCAL_EDIT = (
    "    text = models.CharField(max_length=200)\n\n",
    "    text = models.CharField(max_length=200)\n"
    '    pub_date = models.DateTimeField("date published", null=True)\n\n',
)
UPSTREAM_EDIT = (
    "    votes = models.IntegerField(default=0)\n",
    "    votes = models.IntegerField(default=0)\n"
    "    is_correct = models.BooleanField(default=False)\n",
)


def run_demo(directory: str | None, strategy: str, out: Out) -> int:
    """Build the demo project in `directory` (or a kept temporary folder) and resolve it."""
    start = time.monotonic()
    _require_git()
    root = _target(directory)
    strategies = STRATEGIES if strategy == "all" else (strategy,)
    out(f"migmerge demo: a real Django project with a real migration conflict, in {root}")
    folders = _folders(root, strategies)
    _build_conflict(folders[0], out)
    for folder in folders[1:]:
        # A fresh copy of the conflicted repository (and its database) per strategy.
        shutil.copytree(folders[0], folder)
    codes = [_resolve_and_prove(f, s, out) for f, s in zip(folders, strategies)]
    _closing(folders, time.monotonic() - start, out)
    return max(codes)


def _folders(root: Path, strategies: Sequence[str]) -> list[Path]:
    """One project folder per strategy: the root itself when there is one strategy."""
    return [root / name for name in strategies] if len(strategies) > 1 else [root]


def _require_git() -> None:
    """Refuse early when the git binary is missing: every step needs it."""
    if shutil.which("git") is None:
        raise MigmergeError("git is not installed or not on PATH", hint="install git, then retry")


def _target(directory: str | None) -> Path:
    """Return an empty folder to build in; refuse a non-empty one."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="migmerge-demo-")).resolve()
    path = Path(directory).expanduser().resolve()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise MigmergeError(
            f"{directory} is not an empty folder; the demo builds a new project there",
            hint="give a new or empty folder (migmerge demo ./try-migmerge), or none for a "
            "temporary one",
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


# Building the conflict ---------------------------------------------------------


def _build_conflict(root: Path, out: Out) -> None:
    """Write the project, make one migration on each of two branches, merge them."""
    _write_project(root)
    _git(root, "init", "-q", "-b", "main")
    _manage(root, "makemigrations", "polls")
    _manage(root, "migrate")
    _commit(root, "Start the polls app")
    out("\n1. A Django project (app polls: Question, Choice; SQLite) on branch main:")
    out("     $ python manage.py makemigrations polls   -> polls/migrations/0001_initial.py")
    out("     $ python manage.py migrate")
    _branch_change(root, "feature", LOCAL_EDIT, "Add Question.pub_date")
    _branch_change(root, "main", UPSTREAM_EDIT, "Add Choice.is_correct")
    _merge(root, out)


def _write_project(root: Path) -> None:
    """Write manage.py, the settings and the polls app."""
    files = {
        "manage.py": MANAGE_PY,
        "mysite/__init__.py": "",
        "mysite/settings.py": SETTINGS_PY,
        "polls/__init__.py": "",
        "polls/apps.py": APPS_PY,
        "polls/models.py": MODELS_PY,
        "polls/migrations/__init__.py": "",
        ".gitignore": "db.sqlite3\n__pycache__/\n",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _branch_change(root: Path, branch: str, edit: tuple[str, str], message: str) -> None:
    """On `branch`, change models.py and let makemigrations write the migration."""
    if branch == "main":
        _git(root, "checkout", "-q", "main")
    else:
        _git(root, "checkout", "-q", "-b", branch)
    models = root / "polls" / "models.py"
    models.write_text(models.read_text().replace(*edit, 1))
    _manage(root, "makemigrations", "polls")
    _commit(root, message)


def _merge(root: Path, out: Out) -> None:
    """Merge main into feature, as a person finishing their branch does."""
    out("\n2. Two branches each add a field, and makemigrations numbers both 0002:")
    out("     feature: Question.pub_date -> polls/migrations/0002_question_pub_date.py")
    out("     main:    Choice.is_correct -> polls/migrations/0002_choice_is_correct.py")
    _git(root, "checkout", "-q", "feature")
    _git(root, "merge", "-q", "--no-edit", "main")
    out("\n3. On feature, `git merge main` succeeds: the files have different names,")
    out("   so git sees nothing wrong. Django does:")
    proc = _manage(root, "migrate", check=False)
    if proc.returncode == 0:
        raise MigmergeError("the demo expected Django to refuse the merged migrations; it did not")
    out("     $ python manage.py migrate")
    for line in _django_error(proc.stderr):
        out(f"     {line}")


def _django_error(stderr: str) -> list[str]:
    """Return the lines of Django's CommandError (not the traceback around it)."""
    lines = stderr.strip().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("CommandError"):
            return lines[index:]
    return lines[-2:]


# Resolving ---------------------------------------------------------------------


def _resolve_and_prove(root: Path, strategy: str, out: Out) -> int:
    """Check, resolve with `strategy`, commit, and let Django confirm the result."""
    if strategy != "auto":
        out(f"\n--- strategy {strategy}, in {root} ---")
    recommended = _check(root, out)
    code = _resolve(root, strategy, recommended, out)
    if code != 0:
        return code
    _commit(root, f"Resolve the polls migration conflict ({strategy})")
    return _prove(root, out)


def _check(root: Path, out: Out) -> str | None:
    """Run check in-process, print its report, and return the strategy it recommends."""
    from migmerge import report
    from migmerge.reading.analysis import analyze

    result = analyze(root).result
    out("\n4. migmerge check (reads only; exit 1 when apps have parallel migrations):")
    out("     $ migmerge check")
    _indented(report.check_text(result), out)
    out("   It found the merge git just made, which side is yours (feature) and which")
    out("   is upstream (main), and that the two migrations touch different models.")
    return result.conflicts[0].strategy if result.conflicts else None


def _resolve(root: Path, strategy: str, recommended: str | None, out: Out) -> int:
    """Resolve unattended: flags answer every question, nobody is prompted."""
    from migmerge.commands import resolve
    from migmerge.doing import prompts

    shown = "" if strategy == "auto" else f" --strategy {strategy}"
    out(f"\n5. migmerge resolve{shown} --yes  ({_strategy_words(strategy, recommended)}):")
    out(f"     $ migmerge resolve{shown} --yes")
    return resolve.resolve(
        repo=str(root),
        strategy=strategy,
        apps=(),
        keep_names=False,
        yes=True,
        dry_run=False,
        force=False,
        fmt="text",
        questioner=prompts.FlagQuestioner(yes=True),
        out=lambda line: _indented(line, out),
    )


def _strategy_words(strategy: str, recommended: str | None) -> str:
    """Say in a few words what the strategy does."""
    words = {
        "merge": "a merge migration depending on both leaves, as makemigrations --merge writes",
        "renumber": "your migration moves after upstream's, renamed and rewired",
        "regenerate": "back up, roll back, delete yours, makemigrations again, migrate",
    }
    if strategy == "auto":
        return f"auto: check recommends {recommended}: {words.get(recommended or '', '')}"
    return words[strategy]


def _prove(root: Path, out: Out) -> int:
    """Let Django judge: migrate must succeed and makemigrations must find nothing."""
    out("\n6. Django agrees:")
    migrate = _manage(root, "migrate", check=False)
    changes = _manage(root, "makemigrations", "--check", "--dry-run", check=False)
    out(f"     $ python manage.py migrate                          -> {_verdict(migrate)}")
    for line in _applied_lines(migrate.stdout):
        out(f"         {line}")
    out(f"     $ python manage.py makemigrations --check --dry-run -> {_verdict(changes)}")
    if migrate.returncode or changes.returncode:
        _indented((migrate.stdout + migrate.stderr + changes.stdout + changes.stderr).strip(), out)
        return 1
    return 0


def _verdict(proc: subprocess.CompletedProcess[str]) -> str:
    """Say whether a manage.py command succeeded, in Django's words when it did."""
    if proc.returncode:
        return f"FAILED (exit {proc.returncode})"
    last = proc.stdout.strip().splitlines()[-1:]
    return "ok" if not last or "Applying" in last[0] else f"ok ({last[0].strip()})"


def _applied_lines(stdout: str) -> list[str]:
    """The `Applying ...` lines of a migrate run."""
    return [line.strip() for line in stdout.splitlines() if line.strip().startswith("Applying")]


def _closing(folders: Sequence[Path], seconds: float, out: Out) -> None:
    """Say where the projects are and what to look at."""
    out(f"\nDone in {seconds:.1f} s. The demo is kept for you to look around:")
    for folder in folders:
        out(f"  cd {folder} && git log --oneline --graph && ls polls/migrations")
    out("In your own project: `migmerge check` after a merge or rebase, `migmerge resolve`")
    out("to fix it, `migmerge install-hooks` to be told right after each merge.")


# Running git and Django ---------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    """Run git in the demo repository with the demo's identity."""
    return _run(["git", *GIT_CONFIG, *args], root).stdout


def _commit(root: Path, message: str) -> None:
    """Stage everything and commit it."""
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)


def _manage(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the demo's manage.py with this interpreter (Django is migmerge's dependency)."""
    return _run([sys.executable, "manage.py", *args], root, check=check)


def _run(argv: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command in a clean environment; fail with its output when `check` and it fails."""
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=clean_env(DEMO_ENV))
    if check and proc.returncode != 0:
        raise MigmergeError(
            f"demo step `{' '.join(argv[-3:])}` failed (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr).strip()}",
            hint=f"the half-built project is in {cwd}",
        )
    return proc


def _indented(text: str, out: Out) -> None:
    """Print `text` indented under the current step."""
    for line in text.splitlines() or [""]:
        out(f"     {line}" if line else "")

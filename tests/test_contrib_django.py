"""The optional Django app and the Python API, in generated projects run by their own manage.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from migmerge import api
from tests.testing.projects import (
    POLLS_V1,
    make_django_project,
    makemigrations,
    manage,
    parallel_branches,
)
from tests.testing.repos import PYTHON, commit_all, run_migmerge

AGE = POLLS_V1.replace(
    "    name = models.CharField(max_length=100)\n",
    "    name = models.CharField(max_length=100)\n    age = models.IntegerField(default=0)\n",
)
ADDRESS = POLLS_V1.replace(
    "    name = models.CharField(max_length=100)\n",
    "    name = models.CharField(max_length=100)\n    address = models.TextField(default='')\n",
)
APP = "migmerge.contrib.django"


def install_app(root: Path) -> None:
    """Add migmerge's app to the generated project's INSTALLED_APPS."""
    settings = root / "proj" / "settings.py"
    text = settings.read_text()
    settings.write_text(
        text.replace(
            '    "django.contrib.auth",\n', f'    "django.contrib.auth",\n    "{APP}",\n', 1
        )
    )


@pytest.fixture
def forked(tmp_path: Path) -> Path:
    """A project whose polls app got a migration on each of two branches, merged: two leaves."""
    root = parallel_branches(tmp_path, AGE, ADDRESS)
    install_app(root)
    return root


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    root = make_django_project(tmp_path / "proj", {"polls": POLLS_V1})
    install_app(root)
    makemigrations(root, "polls")
    commit_all(root, "initial")
    return root


# the system check ------------------------------------------------------------


def test_manage_py_check_reports_a_fork_as_migmerge_e001(forked: Path) -> None:
    proc = manage(forked, "check", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "polls/migrations: (migmerge.E001) app 'polls' has 2 leaf migrations after 0001_initial:"
        in proc.stderr
    )
    assert (
        "HINT: see the plan with `manage.py migmerge resolve --dry-run --app polls`" in proc.stderr
    )


def test_manage_py_check_passes_without_a_fork(clean: Path) -> None:
    proc = manage(clean, "check")
    assert "System check identified no issues (0 silenced)." in proc.stdout


def test_migrate_stops_at_the_check_with_migmerge_s_words(forked: Path) -> None:
    proc = manage(forked, "migrate", check=False)
    assert proc.returncode == 1
    assert "migmerge.E001" in proc.stderr
    assert "Conflicting migrations detected" not in proc.stderr  # the check speaks first


def test_an_unreadable_migration_is_a_warning(clean: Path) -> None:
    (clean / "polls" / "migrations" / "0002_broken.py").write_text("class Migration(:\n")
    proc = manage(clean, "check", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "(migmerge.W001)" in proc.stderr and "0002_broken" in proc.stderr


def test_outside_a_git_checkout_the_check_says_nothing(tmp_path: Path) -> None:
    root = make_django_project(tmp_path / "proj", {"polls": POLLS_V1}, git_init=False)
    install_app(root)
    proc = manage(root, "check")
    assert "System check identified no issues" in proc.stdout


def test_the_check_path_never_imports_the_app(forked: Path) -> None:
    code = (
        "import sys, migmerge.cli; migmerge.cli.main(['check', '--repo', sys.argv[1]]);"
        "print([m for m in sys.modules if m.startswith(('migmerge.contrib', 'django'))])"
    )
    proc = subprocess.run([PYTHON, "-c", code, str(forked)], capture_output=True, text=True)
    assert proc.stdout.strip().endswith("[]"), proc.stdout + proc.stderr


# manage.py migmerge ---------------------------------------------------------------


def test_manage_py_migmerge_is_the_command_line(forked: Path) -> None:
    via_manage = manage(forked, "migmerge", "check", "--format", "json", check=False)
    via_cli = run_migmerge(forked, "check", "--format", "json")
    assert via_manage.returncode == via_cli.returncode == 1, via_manage.stderr
    assert json.loads(via_manage.stdout) == json.loads(via_cli.stdout)
    helped = manage(forked, "migmerge", "resolve", "--help")
    assert helped.stdout.startswith("usage: migmerge resolve")
    planned = manage(forked, "migmerge", "resolve", "--dry-run")
    assert "polls: renumber" in planned.stdout, planned.stdout + planned.stderr


def test_call_command_raises_with_migmerge_s_exit_code(forked: Path) -> None:
    code = (
        "import io, django; django.setup()\n"
        "from django.core.management import call_command, CommandError\n"
        "out = io.StringIO()\n"
        "try:\n"
        "    call_command('migmerge', 'check', stdout=out)\n"
        "except CommandError as exc:\n"
        "    print(exc.returncode, 'polls (polls/migrations): 2 leaves' in out.getvalue())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "proj.settings"
    proc = subprocess.run([PYTHON, "-c", code], cwd=forked, capture_output=True, text=True, env=env)
    assert proc.stdout.split() == ["1", "True"], proc.stderr


# the Python API -------------------------------------------------------------------

PROJECT_TEST = """\
from migmerge.api import assert_no_conflicts


def test_the_migration_graph_does_not_fork():
    assert_no_conflicts()
"""


def run_project_tests(root: Path) -> subprocess.CompletedProcess[str]:
    (root / "test_migrations.py").write_text(PROJECT_TEST)
    return subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_migrations.py"],
        cwd=root, capture_output=True, text=True,
    )  # fmt: skip


def test_the_api_fails_a_project_s_test_suite_until_the_fork_is_resolved(forked: Path) -> None:
    failed = run_project_tests(forked)
    assert failed.returncode == 1
    assert "MigrationConflicts: 1 app with parallel migrations" in failed.stdout
    assert "polls (polls/migrations): 2 leaves after 0001_initial" in failed.stdout
    resolved = run_migmerge(forked, "resolve", "--yes")
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    passed = run_project_tests(forked)
    assert passed.returncode == 0, passed.stdout


def test_api_check_returns_the_records_check_prints(forked: Path) -> None:
    result = api.check(forked)
    assert [(c.app, c.ancestor) for c in result.conflicts] == [("polls", "0001_initial")]
    assert result.to_json() == json.loads(run_migmerge(forked, "check", "--format", "json").stdout)
    with pytest.raises(api.MigrationConflicts) as raised:
        api.assert_no_conflicts(forked / "polls")  # any folder of the repository
    assert raised.value.result == result
    assert api.assert_no_conflicts(forked, apps=["other"]).conflicts == ()


def test_api_predicts_a_merge(tmp_path: Path) -> None:
    root = parallel_branches(tmp_path, AGE, ADDRESS, merge=False)
    assert api.check(root).conflicts == ()
    with pytest.raises(api.MigrationConflicts, match="predicted merge with main"):
        api.assert_no_conflicts(root, against="main")

"""Finding and running the project's own manage.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from migmerge.core.argv import display_command
from migmerge.core.plan import Action
from migmerge.doing.actions import run_command
from migmerge.errors import ConfigError, MigmergeError, StepFailed
from migmerge.reading.config import Config
from migmerge.reading.project import find_manage_py, manage_command
from tests.testing.projects import make_django_project


@pytest.fixture(scope="module")
def mono(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding two Django projects (a monorepo)."""
    root = tmp_path_factory.mktemp("mono")
    make_django_project(root / "shop", {"orders": ""}, git_init=False)
    make_django_project(root / "blog", {"posts": ""}, git_init=False)
    return root


def test_manage_py_nearest_above_the_app(mono: Path) -> None:
    found = find_manage_py(mono, Config(), "shop/orders/migrations")
    assert found == (mono / "shop" / "manage.py").resolve()


def test_no_single_manage_py_without_an_app(mono: Path) -> None:
    assert find_manage_py(mono, Config()) is None
    with pytest.raises(MigmergeError) as failed:
        manage_command(mono, Config(), "migrate")
    assert "manage-py" in (failed.value.hint or "")


def test_configured_manage_py_wins_and_must_exist(mono: Path) -> None:
    assert find_manage_py(mono, Config(manage_py="blog/manage.py")) == mono / "blog" / "manage.py"
    with pytest.raises(ConfigError):
        find_manage_py(mono, Config(manage_py="nope/manage.py"))


def test_only_manage_py_of_the_repository(tmp_path: Path) -> None:
    root = make_django_project(tmp_path / "p", {"polls": ""}, git_init=False)
    venv = root / ".venv" / "lib" / "site"
    venv.mkdir(parents=True)
    (venv / "manage.py").write_text("")  # a dependency's, never the project's
    assert find_manage_py(root, Config()) == (root / "manage.py").resolve()


def test_project_virtualenv_and_settings_are_used(tmp_path: Path) -> None:
    root = make_django_project(tmp_path / "p", {"polls": ""}, git_init=False)
    argv = manage_command(root, Config(), "migrate")
    assert argv[0] == sys.executable and argv[2:] == ("migrate",)
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    argv = manage_command(root, Config(), "migrate", settings="proj.settings")
    assert argv[0] == str(python)
    assert argv[2:] == ("migrate", "--settings", "proj.settings")
    assert display_command(argv) == "python manage.py migrate --settings proj.settings"


def test_a_run_step_runs_django_without_git_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_django_project(tmp_path / "p", {"polls": ""}, git_init=False)
    monkeypatch.setenv("GIT_DIR", "/nowhere")
    code = "import os; open('seen.txt', 'w').write(os.environ.get('GIT_DIR', 'clean'))"
    argv = manage_command(root, Config(), "shell", "-c", code)
    run_command(root, Action("run", why="test", command=argv))
    assert (root / "seen.txt").read_text() == "clean"
    assert os.environ["GIT_DIR"] == "/nowhere"


def test_a_failed_run_step_carries_the_output(tmp_path: Path) -> None:
    root = make_django_project(tmp_path / "p", {"polls": ""}, git_init=False)
    argv = manage_command(root, Config(), "migrate", "polls", "0042_nope")
    with pytest.raises(StepFailed) as failed:
        run_command(root, Action("run", why="test", command=argv))
    assert "python manage.py migrate polls 0042_nope exited with 1" in failed.value.message
    assert "0042_nope" in failed.value.message.splitlines()[-1]

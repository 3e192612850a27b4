"""The project as it runs itself: settings order, engines by vendor, imported BASE_DIR, interpreter.

Every project here is a real Django project that `manage.py migrate` ran
against; `check` must then see what Django applied, or say why it cannot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from migmerge.core.model import Database
from migmerge.errors import ConfigError
from migmerge.reading.config import Config, load_config
from migmerge.reading.dbsettings import vendor_of
from migmerge.reading.project import load_project, settings_module_of
from tests.testing.projects import POLLS_V1, parallel_branches
from tests.testing.repos import PYTHON, ROOT, git, isolated_git_env, run_migmerge

LOCAL = POLLS_V1.replace(
    "    name = models.CharField(max_length=100)\n",
    "    name = models.CharField(max_length=100)\n    age = models.IntegerField(default=0)\n",
)
UPSTREAM = POLLS_V1 + "\n\nclass Tag(models.Model):\n    name = models.CharField(max_length=10)\n"


@pytest.fixture(scope="module")
def unmerged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """polls 0001; feature adds 0002_userprofile_age, main 0002_tag; on feature, not merged."""
    base = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_git_env(base / "home").items():
            mp.setenv(key, value)
        root = parallel_branches(base, LOCAL, UPSTREAM, merge=False)
        yield root


@pytest.fixture
def project(unmerged: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(unmerged, tmp_path / "proj", symlinks=True))


def django(root: Path, *args: str, settings: str | None = None) -> str:
    """Run the project's real manage.py (DJANGO_SETTINGS_MODULE as given, else none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    if settings:
        env["DJANGO_SETTINGS_MODULE"] = settings
    proc = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=root, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def merge(root: Path) -> None:
    git(root, "merge", "-q", "-X", "ours", "main", "-m", "merge main")


def check(root: Path, *args: str, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    proc = run_migmerge(root, "check", "--format", "json", *args, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc: dict = json.loads(proc.stdout)  # type: ignore[type-arg]
    return doc


def local_leaf(doc: dict) -> dict:  # type: ignore[type-arg]
    (conflict,) = doc["conflicts"]
    leaf: dict = next(x for x in conflict["leaves"] if x["side"] == "local")  # type: ignore[type-arg]
    return leaf


def warnings(doc: dict, kind: str) -> list[str]:  # type: ignore[type-arg]
    return [w["message"] for w in doc["warnings"] if w["kind"] == kind]


# Settings as the project reads them


CI_SETTINGS = """\
from .settings import *  # noqa

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "ci.sqlite3"}}
"""


def test_django_settings_module_picks_the_database_migrate_changed(project: Path) -> None:
    (project / "proj" / "settings_ci.py").write_text(CI_SETTINGS)
    django(project, "migrate", settings="proj.settings_ci")  # the local 0002 is applied in ci
    django(project, "migrate", "polls", "0001")  # db.sqlite3 (manage.py's default) has 0001 only
    merge(project)
    env = {"DJANGO_SETTINGS_MODULE": "proj.settings_ci"}
    assert local_leaf(check(project, env=env))["applied"] is True
    assert local_leaf(check(project))["applied"] is False
    assert local_leaf(check(project, "--settings", "proj.settings_ci"))["applied"] is True
    # --settings wins over the environment, which wins over manage.py.
    doc = check(project, "--settings", "proj.settings", env=env)
    assert local_leaf(doc)["applied"] is False
    assert doc["conflicts"][0]["strategy"] == "renumber"


def test_settings_order_and_where_it_came_from(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(settings="proj.configured")
    assert load_project(project, config).settings_why == "manage.py"
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "proj.settings_ci")
    found = load_project(project, config)
    assert (found.settings, found.settings_why) == ("proj.settings_ci", "DJANGO_SETTINGS_MODULE")
    found = load_project(project, config, settings="proj.flag")
    assert (found.settings, found.settings_why) == ("proj.flag", "--settings")
    assert found.command("migrate")[-3:] == ("migrate", "--settings", "proj.flag")
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE")
    (project / "manage.py").write_text("import sys\n")
    found = load_project(project, config)
    assert (found.settings, found.settings_why) == ("proj.configured", "[tool.migmerge] settings")


def test_settings_module_of_reads_manage_py_statically() -> None:
    assert settings_module_of(b'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a.b")\n') == "a.b"
    assert settings_module_of(b"os.environ.setdefault(\n  'DJANGO_SETTINGS_MODULE',\n  'c')") == "c"
    assert settings_module_of(b"import os\n") is None


# Engines by vendor


WRAPPER = """\
from django.db.backends.sqlite3.base import *  # noqa
from django.db.backends.sqlite3.base import DatabaseWrapper as _Base


class DatabaseWrapper(_Base):
    pass
"""


def test_a_wrapped_engine_is_read_by_its_vendor(project: Path) -> None:
    backend = project / "metrics" / "db" / "backends" / "sqlite3"
    backend.mkdir(parents=True)
    for folder in (backend, *list(backend.parents)[:3]):
        (folder / "__init__.py").write_text("")
    (backend / "base.py").write_text(WRAPPER)
    settings = project / "proj" / "settings.py"
    text = settings.read_text().replace("django.db.backends.sqlite3", "metrics.db.backends.sqlite3")
    settings.write_text(text)
    django(project, "migrate")
    merge(project)
    assert local_leaf(check(project))["applied"] is True


@pytest.mark.parametrize(
    ("engine", "vendor"),
    [
        ("django_prometheus.db.backends.sqlite3", "sqlite"),
        ("django_prometheus.db.backends.postgresql", "postgresql"),
        ("django.contrib.gis.db.backends.postgis", "postgresql"),
        ("django.contrib.gis.db.backends.spatialite", "sqlite"),
        ("django_prometheus.db.backends.mysql", "mysql"),
        ("django.db.backends.oracle", None),
        ("django_tenants.postgresql_backend", None),
    ],
)
def test_engines_are_mapped_by_vendor(engine: str, vendor: str | None) -> None:
    assert vendor_of(engine) == vendor


UNKNOWN_ENGINE = "custom.backends.oracle_like"


def test_unknown_engine_is_unknown_and_auto_merges(project: Path) -> None:
    merge(project)
    settings = project / "proj" / "settings.py"
    settings.write_text(settings.read_text().replace("django.db.backends.sqlite3", UNKNOWN_ENGINE))
    doc = check(project)
    assert local_leaf(doc)["applied"] is None
    (message,) = warnings(doc, "applied-unknown")
    assert UNKNOWN_ENGINE in message and "possibly applied" in message
    conflict = doc["conflicts"][0]
    assert conflict["strategy"] == "merge"  # never renumber what may be applied
    text = run_migmerge(project, "check").stdout
    assert "suggested: merge" in text and "applied cannot be read" in text
    assert (
        "warning: polls: whether 0002_tag, 0002_userprofile_age are applied cannot be read" in text
    )
    plan = run_migmerge(project, "resolve", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("polls: merge (")
    assert "whether the local migrations are applied cannot be read" in plan.stdout


# Settings that compute their values


BASE = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SECRET_KEY = "test"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "polls"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
"""
DEV_STAR = """\
import os

from .base import *  # noqa

DATABASES = {
    "default": {
        "ENGINE": os.environ.get("DB_ENGINE", "django.db.backends.sqlite3"),
        "NAME": os.environ.get("DB_NAME", BASE_DIR / "data" / "dev.sqlite3"),
    }
}
"""
DEV_NAMED = """\
from proj.settings.base import *  # noqa
from proj.settings.base import BASE_DIR as ROOT_DIR

try:
    from .local import *  # noqa
except ImportError:
    pass

DATA = f"{ROOT_DIR}/data"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{DATA}/dev.sqlite3"}}
"""


@pytest.mark.parametrize("dev", [DEV_STAR, DEV_NAMED], ids=["star-import", "named-import"])
def test_name_from_an_imported_base_dir(project: Path, dev: str) -> None:
    package = project / "proj" / "settings"
    package.mkdir()
    (project / "proj" / "settings.py").unlink()
    (package / "__init__.py").write_text("")
    (package / "base.py").write_text(BASE)
    (package / "dev.py").write_text(dev)
    (project / "data").mkdir()
    manage_py = project / "manage.py"
    manage_py.write_text(manage_py.read_text().replace("proj.settings", "proj.settings.dev"))
    django(project, "migrate")
    assert (project / "data" / "dev.sqlite3").is_file()
    merge(project)
    found = load_project(project, load_config(project))
    assert found.database == Database("sqlite", str(project / "data" / "dev.sqlite3"))
    assert "read statically from proj/settings/dev.py" in found.database_why
    assert local_leaf(check(project))["applied"] is True


def test_unreadable_settings_are_asked_of_the_project_by_resolve_only(project: Path) -> None:
    merge(project)
    settings = project / "proj" / "settings.py"
    text = settings.read_text().replace('BASE_DIR / "db.sqlite3"', '"".join(["a", ".sqlite3"])')
    settings.write_text(text)
    static = load_project(project, Config())
    assert static.database is None
    assert "NAME cannot be read: ''.join is not something migmerge evaluates" in static.database_why
    asked = load_project(project, Config(), ask=True)
    assert asked.database == Database("sqlite", str(project / "a.sqlite3"))
    assert "as the project's interpreter" in asked.database_why
    assert load_project(project, Config(), ask=True) is asked  # once per run


# The interpreter and the manage command


def test_interpreter_rules_are_said(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    assert load_project(project, Config()).python_why == "migmerge's own interpreter"
    venv = project / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(PYTHON)
    found = load_project(project, Config(python="nope/python"))
    assert (found.python, found.python_why) == (
        str(venv / "bin/python"),
        "venv beside manage.py",
    )
    assert found.manage == (str(venv / "bin/python"), str(project / "manage.py"))
    assert found.shown(found.command("migrate")) == "python manage.py migrate"
    monkeypatch.setenv("VIRTUAL_ENV", str(ROOT / ".venv"))
    assert load_project(project, Config()).python_why == f"VIRTUAL_ENV ({ROOT / '.venv'})"
    monkeypatch.delenv("VIRTUAL_ENV")
    shutil.rmtree(venv)
    (project / "envs").mkdir()
    (project / "envs" / "python").symlink_to(PYTHON)
    found = load_project(project, Config(python="envs/python"))
    assert (found.python, found.python_why) == (
        str(project / "envs/python"),
        "[tool.migmerge] python",
    )


def test_a_missing_configured_interpreter_is_an_error(project: Path) -> None:
    with pytest.raises(ConfigError, match="no such interpreter"):
        load_project(project, Config(python="nowhere/bin/python"))


def test_config_from_migmerge_toml_and_validation(tmp_path: Path) -> None:
    (tmp_path / ".migmerge.toml").write_text(
        'manage = "karrio --verbose"\npython = "python3"\n'
        '[commands]\nmigrate = "yarn workspace @app/condo migrate"\n'
    )
    config = load_config(tmp_path)
    assert config.manage == "karrio --verbose" and config.python == "python3"
    assert config.commands == {"migrate": "yarn workspace @app/condo migrate"}
    (tmp_path / "pyproject.toml").write_text('[tool.migmerge]\nmanage = "other"\n')
    assert load_config(tmp_path).manage == "other"  # pyproject's table wins
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    assert load_config(tmp_path).manage == "karrio --verbose"
    for bad, words in [
        ('manage = ""', "is empty"),
        ("manage = 3", "must be a string"),
        ('manage = "a \'b"', "No closing quotation"),
        ('[commands]\nundo = "x"', "unknown key(s) in [tool.migmerge.commands]: undo"),
        ("[commands]\nmigrate = 1", "commands.migrate must be a string"),
    ]:
        (tmp_path / ".migmerge.toml").write_text(bad + "\n")
        with pytest.raises(ConfigError, match=re.escape(words)):
            load_config(tmp_path)


KARRIO = """\
#!{python}
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
from django.core.management import execute_from_command_line

execute_from_command_line(["karrio", *sys.argv[1:]])
"""


def test_a_configured_manage_command_stands_for_manage_py(project: Path) -> None:
    """Karrio: no manage.py, `karrio` is its manage.py, installed in the project's environment."""
    django(project, "migrate")
    merge(project)
    (project / "manage.py").unlink()
    venv = project / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(PYTHON)
    (venv / "karrio").write_text(KARRIO.format(python=PYTHON))
    (venv / "karrio").chmod(0o755)
    proc = run_migmerge(project, "resolve", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    (project / "pyproject.toml").write_text('[tool.migmerge]\nmanage = "karrio"\n')
    found = load_project(project, load_config(project), ask=True)
    assert found.manage == (str(venv / "karrio"),) and found.manage_shown == ("karrio",)
    assert found.shown(found.command("migrate", "polls")) == "karrio migrate polls"
    # No settings module to read statically: resolve asks `karrio shell` for the database.
    assert found.database == Database("sqlite", str(project / "db.sqlite3"))
    assert local_leaf(check(project))["applied"] is None
    plan = run_migmerge(project, "resolve", "--dry-run", "--format", "json")
    assert plan.returncode == 0, plan.stderr


def test_without_manage_py_the_message_says_what_to_configure(project: Path) -> None:
    merge(project)
    (project / "manage.py").unlink()
    doc = check(project)
    (message,) = warnings(doc, "applied-unknown")
    assert "no manage.py in the repository" in message
    assert 'manage = "your-command"' in message
    proc = run_migmerge(project, "resolve", "--strategy", "regenerate", "--yes")
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr, proc.stderr


# During a merge: models still conflicted, labels that do not exist


def test_models_with_conflict_markers_during_a_merge_are_a_warning(project: Path) -> None:
    proc = subprocess.run(["git", "merge", "main"], cwd=project, capture_output=True, text=True)
    assert proc.returncode != 0  # models.py conflicts: the merge stops
    models = (project / "polls" / "models.py").read_text()
    assert "<<<<<<< " in models and ">>>>>>> " in models
    doc = check(project)
    (warning,) = [w for w in doc["warnings"] if w["kind"] == "conflict-markers"]
    assert warning == {
        "kind": "conflict-markers",
        "app": "polls",
        "message": "polls/models.py still holds merge conflict markers: resolve it before the "
        "migrations (makemigrations reads it); hint: edit it, then `git add polls/models.py`",
        "path": "polls/models.py",
    }
    (project / "polls" / "models.py").write_text(LOCAL)
    assert not [w for w in check(project)["warnings"] if w["kind"] == "conflict-markers"]


def test_check_app_with_an_unknown_label_is_bad_input(project: Path) -> None:
    merge(project)
    for args in (("--app", "nope"), ("--against", "main", "--app", "nope")):
        proc = run_migmerge(project, "check", *args)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr == (
            "migmerge: no app labelled nope has migrations here\nhint: known apps: polls\n"
        )
    assert run_migmerge(project, "check", "--against", "main", "--app", "polls").returncode == 1


def test_resolve_asks_the_project_for_its_settings_once(project: Path) -> None:
    """Settings that do not read statically: resolve imports them once per run, not per lookup."""
    settings = project / "proj" / "settings.py"
    log = project / "imported.log"
    text = settings.read_text().replace('BASE_DIR / "db.sqlite3"', '"".join(["a", ".sqlite3"])')
    settings.write_text(text + f"\nwith open({str(log)!r}, 'a') as _log:\n    _log.write('x')\n")
    django(project, "migrate")  # a.sqlite3, the local 0002 applied
    merge(project)
    log.unlink()
    proc = run_migmerge(project, "resolve", "--strategy", "regenerate", "--dry-run")
    assert proc.returncode in (0, 1), proc.stderr
    assert log.read_text() == "x"

"""Real Django projects: settings, apps, manage.py, makemigrations, forks of them.

`manage.py` runs the real Django installed with the project, in a
subprocess, against SQLite unless a test gives it another database.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import textwrap
from pathlib import Path

from migmerge.core.model import Operation
from migmerge.reading.parse import parse_migration
from migmerge.reading.parse_names import module_paths
from tests.testing.databases import use_database
from tests.testing.repos import PYTHON, Files, commit_all, git, init_repo

SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "test"
DEBUG = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
{apps}
]
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }}
}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
"""

MANAGE = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{project}.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""


def make_django_project(
    root: Path, apps: dict[str, str], project: str = "proj", git_init: bool = True
) -> Path:
    """Write a Django project with `apps` (label -> models.py source) under `root`.

    Each app gets `__init__.py`, `apps.py`, `models.py` and an empty
    `migrations/` package. Returns `root`.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "manage.py").write_text(MANAGE.format(project=project))
    pkg = root / project
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    app_lines = "\n".join(f'    "{label}",' for label in apps)
    (pkg / "settings.py").write_text(SETTINGS.format(apps=app_lines))
    for label, models in apps.items():
        write_app(root, label, models)
    (root / ".gitignore").write_text("db.sqlite3\n__pycache__/\n")
    if git_init and not (root / ".git").exists():
        init_repo(root)
    return root


def write_app(root: Path, label: str, models: str) -> None:
    """Create or update app `label` with the given models.py source."""
    app = root / label
    (app / "migrations").mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    apps_py = f"""\
from django.apps import AppConfig


class {label.title().replace("_", "")}Config(AppConfig):
    name = "{label}"
"""
    if not (app / "apps.py").exists():
        (app / "apps.py").write_text(apps_py)
    (app / "models.py").write_text(textwrap.dedent(models))


def manage(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the project's real manage.py with this interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    proc = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=root, capture_output=True, text=True, env=env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def makemigrations(root: Path, app: str, name: str | None = None) -> str:
    """Run real `makemigrations` for `app`; return its output."""
    args = ["makemigrations", app]
    if name:
        args += ["--name", name]
    return manage(root, *args).stdout


def django_conflicts(root: Path) -> dict[str, list[str]]:
    """Ask Django's own MigrationLoader which apps have several leaves."""
    code = (
        "import json, django; django.setup();"
        "from django.db.migrations.loader import MigrationLoader;"
        "l = MigrationLoader(None, ignore_no_migrations=True);"
        "print(json.dumps({k: sorted(v) for k, v in l.detect_conflicts().items()}))"
    )
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "proj.settings"
    proc = subprocess.run([PYTHON, "-c", code], cwd=root, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr)
    result: dict[str, list[str]] = json.loads(proc.stdout)
    return result


POLLS_V1 = """\
from django.db import models


class Question(models.Model):
    text = models.CharField(max_length=200)


class UserProfile(models.Model):
    name = models.CharField(max_length=100)
"""


def parallel_branches(
    tmp_path: Path, local_models: str, upstream_models: str, *, merge: bool = True
) -> Path:
    """A project whose `polls` app got one migration on each of two branches.

    main gets `upstream_models` as 0002 (named by Django), branch `feature` gets
    `local_models`. With `merge`, `feature` is checked out and main is merged
    into it (a real merge commit): the classic two-leaf conflict.
    """
    root = make_django_project(tmp_path / "proj", {"polls": POLLS_V1})
    makemigrations(root, "polls")
    commit_all(root, "initial")
    git(root, "checkout", "-q", "-b", "feature")
    write_app(root, "polls", local_models)
    makemigrations(root, "polls")
    commit_all(root, "local change")
    git(root, "checkout", "-q", "main")
    write_app(root, "polls", upstream_models)
    makemigrations(root, "polls")
    commit_all(root, "upstream change")
    git(root, "checkout", "-q", "feature")
    if merge:
        # models.py differs on both sides; keep ours, the migrations are what matter.
        git(root, "merge", "-q", "-X", "ours", "main", "-m", "merge main")
    return root


POLLS_CHOICE = (
    POLLS_V1
    + """

class Choice(models.Model):
    label = models.CharField(max_length=10)
"""
)
POLLS_CHOICE_VOTES = POLLS_CHOICE.replace(
    "label = models.CharField(max_length=10)",
    "label = models.CharField(max_length=10)\n    votes = models.IntegerField(default=0)",
)
POLLS_TAG = (
    POLLS_V1
    + """

class Tag(models.Model):
    name = models.CharField(max_length=10)
"""
)
POLLS_UNION = (
    POLLS_CHOICE_VOTES
    + """

class Tag(models.Model):
    name = models.CharField(max_length=10)
"""
)
SHOP_ITEM = """\
from django.db import models


class Item(models.Model):
    choice = models.ForeignKey("polls.Choice", on_delete=models.CASCADE)
"""
AUDIT_LOG = """\
from django.db import models


class Log(models.Model):
    text = models.TextField()
"""


def renumber_project(base: Path) -> Path:
    """A merged project whose `polls` app has a two-migration local chain referenced elsewhere.

    On `feature`: polls 0002_choice, 0003_choice_votes (latin-1 coding line,
    CRLF); shop 0001_initial depends on polls 0003_choice_votes (CRLF, non-ASCII
    comment); audit 0002_before_choice has `run_before` polls 0002_choice;
    polls/migrations/max_migration.txt names the leaf; docs/upgrade.md mentions
    0002_choice. On `main`: polls 0002_tag. `feature` has main merged in (models
    are the union), so polls has two leaves: 0003_choice_votes (local) and
    0002_tag (upstream).
    """
    root = make_django_project(
        base / "proj",
        {"polls": POLLS_V1, "shop": "from django.db import models\n", "audit": AUDIT_LOG},
    )
    makemigrations(root, "polls")
    makemigrations(root, "audit")
    commit_all(root, "initial")
    git(root, "checkout", "-q", "-b", "feature")
    write_app(root, "polls", POLLS_CHOICE)
    makemigrations(root, "polls")
    write_app(root, "polls", POLLS_CHOICE_VOTES)
    makemigrations(root, "polls")
    write_app(root, "shop", SHOP_ITEM)
    makemigrations(root, "shop")
    manage(root, "makemigrations", "audit", "--empty", "--name", "before_choice")
    mig = root / "polls" / "migrations"
    votes = mig / "0003_choice_votes.py"
    text = "# -*- coding: latin-1 -*-\n# Votos por opción\n" + votes.read_text()
    votes.write_bytes(text.replace("\n", "\r\n").encode("latin-1"))
    shop = root / "shop" / "migrations" / "0001_initial.py"
    shop.write_bytes(
        shop.read_text().replace("\n", "  # ünïcode ✓\n", 1).replace("\n", "\r\n").encode("utf-8")
    )
    audit = root / "audit" / "migrations" / "0002_before_choice.py"
    audit.write_text(
        audit.read_text().replace(
            "    dependencies = [",
            "    run_before = [('polls', '0002_choice')]\n\n    dependencies = [",
        )
    )
    (mig / "max_migration.txt").write_text("0003_choice_votes\n")
    (root / "docs").mkdir()
    (root / "docs" / "upgrade.md").write_text("Run 0002_choice before deploying.\n")
    commit_all(root, "local work")
    git(root, "checkout", "-q", "main")
    write_app(root, "polls", POLLS_TAG)
    makemigrations(root, "polls")
    (mig / "max_migration.txt").write_text("0002_tag\n")
    commit_all(root, "upstream work")
    git(root, "checkout", "-q", "feature")
    git(root, "merge", "-q", "main", "-m", "merge main", check=False)
    write_app(root, "polls", POLLS_UNION)
    (mig / "max_migration.txt").write_text("0003_choice_votes\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-edit")
    (root / "db.sqlite3").unlink(missing_ok=True)
    return root


def nothing_applied(root: Path, settings: str = "proj.settings") -> None:
    """Give the project a real database whose django_migrations table (Django's own) is empty.

    The applied state is then known (nothing applied) rather than unknown, which
    `auto` takes as possibly applied. Django's recorder makes the table; no
    migration runs, so it works while the app has two leaves.
    """
    code = (
        "import django; django.setup();"
        "from django.db import connection;"
        "from django.db.migrations.recorder import MigrationRecorder;"
        "MigrationRecorder(connection).ensure_schema()"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = settings
    proc = subprocess.run([PYTHON, "-c", code], cwd=root, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr)


def migration_text(deps: str = "[]", ops: str = "", body: str = "", prelude: str = "") -> str:
    """A migration module as makemigrations writes one: `dependencies`, then `operations`."""
    return (
        "from django.db import migrations, models\n"
        f"{prelude}\n\nclass Migration(migrations.Migration):\n"
        f"{body}    dependencies = {deps}\n\n    operations = [{ops}]\n"
    )


def add_field(model: str, field: str) -> str:
    """An AddField operation, as source."""
    return f"migrations.AddField({model!r}, {field!r}, models.IntegerField(default=0)),"


def app_files(app: str, *names: str, folder: str | None = None) -> Files:
    """An app package whose migrations `names` each depend on the one before."""
    where = folder or f"{app}/migrations"
    files: Files = {f"{app}/__init__.py": "", f"{where}/__init__.py": ""}
    previous = None
    for name in names:
        deps = f"[({app!r}, {previous!r})]" if previous else "[]"
        files[f"{where}/{name}.py"] = migration_text(deps, add_field("thing", name[5:]))
        previous = name
    return files


# A fork whose local side is applied (what regenerate rolls back)

AGE_TEXT = POLLS_V1.replace(
    "name = models.CharField(max_length=100)",
    "name = models.CharField(max_length=100)\n"
    "    age = models.CharField(max_length=10, default='')",
)
AGE_INT = POLLS_V1.replace(
    "name = models.CharField(max_length=100)",
    "name = models.CharField(max_length=100)\n    age = models.IntegerField(default=0)",
)
FILL_NAMES = """\
from django.db import migrations


def fill(apps, schema_editor):
    UserProfile = apps.get_model("polls", "UserProfile")
    UserProfile.objects.filter(name="").update(name="anonymous")


class Migration(migrations.Migration):
    dependencies = [("polls", "0002_local_age")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
"""


def chosen_at_run_time(source: str) -> str:
    """A migration's source with its operations list chosen at run time: `[] if SKIP else [...]`."""
    assert source.count("    operations = [") == 1
    source = source.replace("    operations = [", "    operations = [] if SKIP else [")
    return source.replace(
        "\nclass Migration(", "\nSKIP = False  # as a setting might say\n\n\nclass Migration("
    )


def applied_age_fork(tmp_path: Path, databases: str | None = None, *, chosen: bool = False) -> Path:
    """A fork of polls: both branches add `age`, typed apart; the local one, a data migration too.

    The local side is migrated before main is merged in: its migrations are applied
    (on SQLite unless `databases` replaces the settings' DATABASES). `chosen`: the
    local 0002's operations list is chosen at run time (`chosen_at_run_time`).
    """
    root = make_django_project(tmp_path / "proj", {"polls": POLLS_V1})
    if databases is not None:
        use_database(root, databases)
    makemigrations(root, "polls")
    commit_all(root, "initial")
    git(root, "checkout", "-q", "-b", "feature")
    write_app(root, "polls", AGE_TEXT)
    makemigrations(root, "polls", "local_age")
    if chosen:
        local = root / "polls" / "migrations" / "0002_local_age.py"
        local.write_text(chosen_at_run_time(local.read_text()))
    (root / "polls" / "migrations" / "0003_fill_names.py").write_text(FILL_NAMES)
    commit_all(root, "local change")
    git(root, "checkout", "-q", "main")
    write_app(root, "polls", AGE_INT)
    makemigrations(root, "polls", "upstream_age")
    commit_all(root, "upstream change")
    git(root, "checkout", "-q", "feature")
    manage(root, "migrate")
    git(root, "merge", "-q", "-X", "ours", "main", "-m", "merge main")
    return root


def sqlite_rows(root: Path) -> list[tuple[str, str]]:
    """(app, name) of every row of django_migrations in the project's SQLite database, sorted."""
    with sqlite3.connect(root / "db.sqlite3") as conn:
        return sorted(conn.execute("SELECT app, name FROM django_migrations").fetchall())


# Other files of a repository, as the parser asks for them


class FileModules:
    """Repository files by path: modules by import name, data files by path."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.trees: dict[tuple[str, int], object] = {}

    def find(self, importer: str, module: str, level: int) -> tuple[str, bytes] | None:
        for path in module_paths(importer, module, level):
            if path in self.files:
                return path, self.files[path].encode()
        return None

    def data(self, importer: str, path: str) -> bytes | None:
        return self.files[path].encode() if path in self.files else None

    def settings_files(self) -> list[str]:
        files = self.files
        return sorted(p for p in files if "settings" in p and "INSTALLED_APPS" in files[p])

    def as_seen_by(self, reader: str) -> FileModules:
        return self


def only_operation(migration: str, app: str, name: str, files: dict[str, str]) -> Operation:
    """The one operation of `app`'s migration `name` (source given), other modules from `files`."""
    parsed = parse_migration(
        migration.encode(),
        app=app,
        name=name,
        path=f"{app}/migrations/{name}.py",
        modules=FileModules(files),  # type: ignore[arg-type]
    )
    assert parsed.operations is not None
    (op,) = parsed.operations
    return op

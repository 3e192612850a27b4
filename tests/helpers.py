"""Builders for real git repositories and real Django projects in tmp_path.

Nothing here is mocked: `git` is the real binary and `manage.py` runs the real
Django installed with the project, in a subprocess, against SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def git(cwd: Path, *args: str, check: bool = True, input: str | None = None) -> str:
    """Run git in `cwd` and return its stdout."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def commit_all(cwd: Path, message: str) -> str:
    """Stage everything and commit; return the new HEAD sha."""
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD").strip()


def init_repo(path: Path) -> Path:
    """Create an empty repository on branch main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


def reading_state(root: Path) -> tuple[str, ...]:
    """Everything a reading command must not change: HEAD, refs, index, working tree."""
    index = (root / ".git" / "index").read_bytes()
    files = sorted(
        (str(p.relative_to(root)), p.read_bytes())
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "for-each-ref"),
        git(root, "--no-optional-locks", "status", "--porcelain"),
        str(hash(index)),
        str(hash(tuple(files))),
    )


def run_migmerge(
    cwd: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `migmerge` command line in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [PYTHON, "-m", "migmerge", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        env=full_env,
    )


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


def isolated_git_env(home: Path) -> dict[str, str]:
    """The environment conftest's `isolated_git` sets, for module-scoped fixtures.

    Module-scoped fixtures run before the function-scoped autouse fixture, so
    they set these themselves (with `pytest.MonkeyPatch.context()`).
    """
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
    }


# PostgreSQL (appended by resolve-database)

PG_SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def require_postgres() -> None:
    """Skip when PostgreSQL is unreachable, but fail under CI=true (it must run there)."""
    import psycopg
    import pytest

    try:
        psycopg.connect(dbname="postgres", connect_timeout=3, **PG_SERVER).close()
    except psycopg.Error as exc:
        reason = f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc}); start it: .ci/postgres.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


class pg_database:  # noqa: N801 - used like a function: `with pg_database() as db`
    """Create a throwaway database migmerge_test_<random>; drop it on exit."""

    def __enter__(self):  # type: ignore[no-untyped-def]
        import secrets

        import psycopg

        from migmerge.core.model import Database

        require_postgres()
        self.name = f"migmerge_test_{secrets.token_hex(6)}"
        with psycopg.connect(dbname="postgres", autocommit=True, **PG_SERVER) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        return Database("postgresql", self.name, host="127.0.0.1", port=5432, user="postgres")

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(dbname="postgres", autocommit=True, **PG_SERVER) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def pg_settings(db: object) -> str:
    """The DATABASES setting pointing Django at `db` (a migmerge.database.Database)."""
    name, host, port, user = (getattr(db, k) for k in ("name", "host", "port", "user"))
    entry = {"ENGINE": "django.db.backends.postgresql", "NAME": name, "HOST": host}
    entry.update({"PORT": str(port), "USER": user})
    return f"DATABASES = {{'default': {entry!r}}}\n"


def use_database(root: Path, databases: str, project: str = "proj") -> None:
    """Replace the DATABASES block of the project's settings with `databases`."""
    settings = root / project / "settings.py"
    text = settings.read_text()
    start = text.index("DATABASES = {")
    end = text.index("\n}\n", start) + 3
    settings.write_text(text[:start] + databases + text[end:])


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


# kmigrator (condo) projects: files written by the tests in kmigrator's format

KM_SQL = 'BEGIN;\n--\n-- Add field kind\n--\nALTER TABLE "Ticket" ADD COLUMN x text;\nCOMMIT;\n'
KM_VIEWS = '{"dv": 1, "lists": {"Ticket": {"fields": ["id"], "sensitiveFields": []}}}'
KM_APP = "apps/condo"
KM_DIR = "apps/condo/migrations"


def km_add_field(model: str, field: str, kind: str = "TextField(blank=True, null=True)") -> str:
    """The source of an AddField operation, as Django's writer lays it out."""
    return (
        "        migrations.AddField(\n"
        f"            model_name='{model}', name='{field}',\n"
        f"            field=models.{kind},\n"
        "        ),\n"
    )


def km_create_model(model: str) -> str:
    """The source of a CreateModel operation with a Keystone-style table name."""
    return (
        "        migrations.CreateModel(\n"
        f"            name='{model}',\n"
        "            fields=[\n"
        "                ('id', models.UUIDField(primary_key=True, serialize=False)),\n"
        "            ],\n"
        f"            options={{'db_table': '{model.title()}'}},\n"
        "        ),\n"
    )


def km_source(name: str, *parents: str, field: str = "kind", operations: str = "") -> bytes:
    """Return the Python source of a Django migration of `_django_schema`."""
    deps = "".join(f"        ('_django_schema', '{parent}'),\n" for parent in parents)
    return (
        f"# Generated by Django 5.2 on 2024-05-01 10:00 ({name})\n\n"
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n\n"
        f"    dependencies = [\n{deps}    ]\n\n"
        f"    operations = [\n{operations or km_add_field('ticket', field)}    ]\n"
    ).encode()


def km_b64(data: bytes) -> str:
    """Encode as kmigrator does: standard base64, one line."""
    import base64

    return base64.b64encode(data).decode("ascii")


def km_file(
    entries: list[tuple[str, bytes]],
    views: str | None = KM_VIEWS,
    newline: str = "\n",
    up: str = KM_SQL,
    down: str | None = None,
) -> bytes:
    """Write a kmigrator file: header, one line per entry, views lines, knex up/down SQL.

    `down` None: the file kmigrator writes when Django cannot reverse it (down throws).
    """
    lines = ["// auto generated by kmigrator"]
    lines += [f"// KMIGRATOR:{name}:{km_b64(code)}" for name, code in entries]
    if views is not None:
        lines += [f"// KMIGRATOR_VIEWS:{name}:{km_b64(views.encode())}" for name, _ in entries]
    lines += ["", "exports.up = async (knex) => {", "    await knex.raw(`", "    " + up]
    lines += ["    `)", "}", "", "exports.down = async (knex) => {"]
    if down is None:
        lines += ["    throw new Error('no auto backward migration')", "}", ""]
    else:
        lines += ["    await knex.raw(`", "    " + down, "    `)", "}", ""]
    return newline.join(lines).encode()


def write_km(
    root: Path,
    stamp: str,
    name: str,
    *parents: str,
    operations: str = "",
    folder: str = KM_DIR,
    views: str | None = KM_VIEWS,
    down: str | None = None,
) -> str:
    """Write `<folder>/<stamp>-<name>.js` holding migration `name`; return its relative path."""
    path = f"{folder}/{stamp}-{name}.js"
    (root / folder).mkdir(parents=True, exist_ok=True)
    code = km_source(name, *parents, operations=operations)
    (root / path).write_bytes(km_file([(name, code)], views=views, down=down))
    return path


def condo_repo(path: Path) -> Path:
    """A condo-shaped repository: apps/condo/migrations with 0001 and 0002, committed on main."""
    root = init_repo(path)
    (root / ".gitignore").write_text(".kmigrator\n.DS_Store\nnode_modules\n")
    (root / KM_APP).mkdir(parents=True)
    scripts = '"makemigrations": "python3 ./../../bin/kmigrator.py makemigrations"'
    (root / KM_APP / "package.json").write_text(
        f'{{"name": "@app/condo", "scripts": {{{scripts}}}}}\n'
    )
    write_km(root, "20240101000000", "0001_initial", operations=km_create_model("ticket"))
    write_km(root, "20240102000000", "0002_ticket_kind", "0001_initial")
    commit_all(root, "initial")
    return root


# GitHub Actions workflow commands (appended by hooks)


def parse_workflow_command(line: str) -> tuple[str, dict[str, str], str]:
    """Read `::name key=value,...::message` as GitHub's runner does: (name, properties, message).

    The command's properties end at the first `::`; they are split on `,`,
    each at its first `=`. Values unescape %0D, %0A, %3A, %2C and then %25;
    the message %0D, %0A and %25 (GitHub's documented escapes).
    """
    assert line.startswith("::"), line
    end = line.index("::", 2)
    name, _, listed = line[2:end].partition(" ")
    properties = {}
    for pair in filter(None, listed.split(",")):
        key, equals, value = pair.partition("=")
        assert equals, f"a property without a value in {line!r}"
        properties[key] = _unescape(value, ("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","))
    return name, properties, _unescape(line[end + 2 :], ("%0D", "\r"), ("%0A", "\n"))


def _unescape(text: str, *pairs: tuple[str, str]) -> str:
    for escaped, plain in (*pairs, ("%25", "%")):
        text = text.replace(escaped, plain)
    return text


# MariaDB (Django talks to it through PyMySQL; migmerge through the mysql client)

MARIA_SERVER = {"host": "127.0.0.1", "port": 3306, "user": "root"}


def require_mariadb() -> None:
    """Skip when MariaDB is unreachable, but fail under CI=true (it must run there)."""
    import pymysql
    import pytest

    try:
        pymysql.connect(connect_timeout=3, **MARIA_SERVER).close()  # type: ignore[arg-type]
    except pymysql.Error as exc:
        reason = f"MariaDB is not reachable at 127.0.0.1:3306 ({exc}); start it: .ci/mariadb.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


class maria_database:  # noqa: N801 - used like a function: `with maria_database() as db`
    """Create a throwaway MariaDB database migmerge_test_<random>; drop it on exit."""

    def __enter__(self):  # type: ignore[no-untyped-def]
        import secrets

        import pymysql

        from migmerge.core.model import Database

        require_mariadb()
        self.name = f"migmerge_test_{secrets.token_hex(6)}"
        with pymysql.connect(**MARIA_SERVER) as conn:  # type: ignore[arg-type]
            conn.cursor().execute(f"CREATE DATABASE {self.name}")
        return Database("mysql", self.name, host="127.0.0.1", port=3306, user="root")

    def __exit__(self, *exc: object) -> None:
        import pymysql

        with pymysql.connect(**MARIA_SERVER) as conn:  # type: ignore[arg-type]
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {self.name}")


def maria_settings(db: object) -> str:
    """DATABASES pointing Django at `db` through PyMySQL (installed as MySQLdb)."""
    name, host, port, user = (getattr(db, k) for k in ("name", "host", "port", "user"))
    entry = {"ENGINE": "django.db.backends.mysql", "NAME": name, "HOST": host}
    entry.update({"PORT": str(port), "USER": user})
    return f"import pymysql\n\npymysql.install_as_MySQLdb()\nDATABASES = {{'default': {entry!r}}}\n"


# Karrio-shaped projects: no manage.py, apps deep under modules/*/karrio/server/*

KARRIO_SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent.parent.parent.parent
SECRET_KEY = "test"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "karrio.server.core",
    "karrio.server.manager",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
"""

KARRIO_SCRIPT = """\
#!{python}
# The `karrio` console script of a Karrio install: Django's manage.py by another name.
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "karrio.server.settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""

KARRIO_CORE = """\
from django.db import models


class Carrier(models.Model):
    name = models.CharField(max_length=50)
"""

KARRIO_MANAGER = """\
from django.db import models


class Shipment(models.Model):
    reference = models.CharField(max_length=50)
"""


def karrio_app(root: Path, module: str, models: str) -> Path:
    """Write app karrio.server.<module> under modules/<module>/ (namespace packages above it)."""
    app = root / "modules" / module / "karrio" / "server" / module
    (app / "migrations").mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    config = f"{module.title()}Config"
    (app / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\n"
        f'class {config}(AppConfig):\n    name = "karrio.server.{module}"\n'
    )
    (app / "models.py").write_text(models)
    return app


def karrio_project(root: Path) -> Path:
    """A Karrio-shaped repository with its own `.venv`, as `pip install -e modules/*` leaves it.

    The virtualenv sees the modules and this interpreter's packages (Django)
    through a `.pth` file; `.venv/bin/karrio` is its console script. Returns
    the folder to put on PATH.
    """
    import sysconfig

    init_repo(root)
    karrio_app(root, "core", KARRIO_CORE)
    karrio_app(root, "manager", KARRIO_MANAGER)
    settings = root / "modules/core/karrio/server/settings"
    settings.mkdir()
    (settings / "__init__.py").write_text(KARRIO_SETTINGS)
    (root / ".gitignore").write_text(".venv/\ndb.sqlite3\n__pycache__/\n")
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
    paths = [str(root / "modules" / m) for m in ("core", "manager")]
    paths.append(sysconfig.get_paths()["purelib"])  # Django, as the project's install has it
    for site in (root / ".venv/lib").glob("python*/site-packages"):
        (site / "karrio_modules.pth").write_text("\n".join(paths) + "\n")
    bin_dir = root / ".venv/bin"
    script = bin_dir / "karrio"
    script.write_text(KARRIO_SCRIPT.format(python=bin_dir / "python"))
    script.chmod(0o755)
    return bin_dir


def karrio(root: Path, bin_dir: Path, *args: str) -> str:
    """Run the test's `karrio` command in `root`; return its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    proc = subprocess.run(
        [str(bin_dir / "karrio"), *args], cwd=root, capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise AssertionError(f"karrio {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


# A stand-in for condo's bin/kmigrator.py and knex, run by the configured commands:
# real Django makes the migrations and their SQL, the SQL runs on real PostgreSQL,
# knex_migrations records the files by name. Written by the tests, in kmigrator's
# format; its cwd is the app folder (as `yarn workspace` gives it).
KMIGRATOR_STUB = r'''
import base64, datetime, os, re, shutil, subprocess, sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

CACHE, KNEX = Path(".kmigrator"), Path("migrations")
DJANGO = CACHE / "_django_schema"
LINE = re.compile(r"^// KMIGRATOR:(.*?):([A-Za-z0-9+/=]*?)$", re.M)
TEMPLATE = """// auto generated by kmigrator
// KMIGRATOR:{name}:{code}
// KMIGRATOR_VIEWS:{name}:{views}

exports.up = async (knex) => {{
    await knex.raw(`
    {up}
    `)
}}

exports.down = async (knex) => {{
    await knex.raw(`
    {down}
    `)
}}
"""
SETTINGS = """
import os
from urllib.parse import urlsplit
url = urlsplit(os.environ["DATABASE_URL"])
SECRET_KEY = "stub"
INSTALLED_APPS = ["_django_schema"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": url.path[1:],
    "HOST": url.hostname, "PORT": url.port, "USER": url.username}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TIME_ZONE = "UTC"
USE_TZ = True
"""


def manage(*args):
    code = ("import sys; from django.core.management import execute_from_command_line; "
            "execute_from_command_line(['manage.py', *sys.argv[1:]])")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="settings", PYTHONPATH=str(CACHE))
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def prepare():
    shutil.rmtree(DJANGO / "migrations", ignore_errors=True)
    (DJANGO / "migrations").mkdir(parents=True)
    (DJANGO / "__init__.py").write_text("")
    (DJANGO / "migrations" / "__init__.py").write_text("")
    shutil.copy("schema.py", DJANGO / "models.py")  # the Keystone schema's stand-in
    (CACHE / "settings.py").write_text(SETTINGS)
    restored = set()
    for item in KNEX.iterdir():
        for name, code in LINE.findall(item.read_text(encoding="utf-8")):
            (DJANGO / "migrations" / f"{name}.py").write_bytes(base64.b64decode(code))
            restored.add(name)
    return restored


def makemigrations(flags):
    restored = prepare()
    manage("makemigrations", "_django_schema", *flags)
    stamp = datetime.datetime.now().strftime("%Y%m%d%H%M%S")
    for item in sorted((DJANGO / "migrations").glob("[0-9]*.py")):
        name = item.stem
        if name in restored:
            continue
        up = manage("sqlmigrate", "_django_schema", name)
        down = manage("sqlmigrate", "_django_schema", name, "--backwards")
        code = base64.b64encode(item.read_bytes()).decode()
        views = base64.b64encode(b'{"dv": 1, "lists": {}}').decode()
        text = TEMPLATE.format(name=name, code=code, views=views, up=up, down=down)
        (KNEX / f"{stamp}-{name}.js").write_text(text, encoding="utf-8")


def connect():
    url = urlsplit(os.environ["DATABASE_URL"])
    conn = psycopg.connect(dbname=url.path[1:], host=url.hostname, port=url.port,
                           user=url.username, autocommit=True)
    conn.execute("CREATE TABLE IF NOT EXISTS knex_migrations (id serial primary key, "
                 "name varchar(255), batch integer, migration_time timestamptz)")
    return conn


def sql(path, direction):
    text = path.read_text(encoding="utf-8")
    pattern = r"exports\." + direction + r" = async \(knex\) => \{\s*await knex\.raw\(`(.*?)`\)"
    found = re.search(pattern, text, re.S)
    if found is None:
        sys.exit(f"{path.name}: no {direction} SQL (no auto backward migration)")
    return found[1]


def migrate():
    conn = connect()
    done = {row[0] for row in conn.execute("SELECT name FROM knex_migrations")}
    for path in sorted(KNEX.glob("*.js"), key=lambda p: p.name):
        if path.name not in done:
            conn.execute(sql(path, "up"))
            conn.execute("INSERT INTO knex_migrations (name, batch, migration_time) "
                         "VALUES (%s, 1, now())", (path.name,))


def down():
    conn = connect()
    done = {row[0] for row in conn.execute("SELECT name FROM knex_migrations")}
    applied = [p for p in sorted(KNEX.glob("*.js"), key=lambda p: p.name) if p.name in done]
    missing = done - {p.name for p in KNEX.glob("*.js")}
    if missing:
        sys.exit("The migration directory is corrupt, the following files are missing: "
                 + ", ".join(sorted(missing)))
    if applied:
        conn.execute(sql(applied[-1], "down"))
        conn.execute("DELETE FROM knex_migrations WHERE name = %s", (applied[-1].name,))


command, flags = sys.argv[1], sys.argv[2:]
{"makemigrations": lambda: makemigrations(flags), "migrate": migrate, "down": down}[command]()
'''

KMIGRATOR_COMMAND = """\
#!/bin/sh
# What `yarn workspace @app/condo <script>` does: run kmigrator in the app's folder.
cd "$(dirname "$0")/../apps/condo" && exec {python} ../../bin/kmigrator.py "$@"
"""


def condo_with_kmigrator(root: Path, schema: str) -> Path:
    """A condo-shaped repository whose migrations the kmigrator stand-in makes and runs."""
    init_repo(root)
    (root / ".gitignore").write_text(".kmigrator\n.DS_Store\n__pycache__/\n")
    (root / "bin").mkdir()
    (root / "bin/kmigrator.py").write_text(KMIGRATOR_STUB)
    command = root / "bin/kmigrator"
    command.write_text(KMIGRATOR_COMMAND.format(python=PYTHON))
    command.chmod(0o755)
    (root / KM_DIR).mkdir(parents=True)
    (root / KM_APP / "schema.py").write_text(schema)
    (root / ".migmerge.toml").write_text(
        "[commands]\n"
        'rollback = "bin/kmigrator down"\n'
        'makemigrations = "bin/kmigrator makemigrations"\n'
        'migrate = "bin/kmigrator migrate"\n'
    )
    return root


def run_kmigrator(root: Path, command: str, url: str, *flags: str) -> str:
    """Run the stand-in as the configured commands do (`flags` go to Django); return its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DATABASE_URL"] = url
    proc = subprocess.run(
        [str(root / "bin/kmigrator"), command, *flags],
        cwd=root, capture_output=True, text=True, env=env,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"kmigrator {command} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


# Two branches of a generated project, met both ways a developer meets them

Files = dict[str, "str | bytes | None"]


def write_files(root: Path, files: Files) -> None:
    """Write (or, for None, delete) repository files."""
    for path, content in files.items():
        target = root / path
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def diverged(root: Path, base: Files, local: Files, upstream: Files) -> Path:
    """A repository where `main` (upstream) and `feature` (local) each changed `base`.

    Leaves `feature` checked out, unmerged.
    """
    init_repo(root)
    write_files(root, base)
    commit_all(root, "base")
    git(root, "checkout", "-q", "-b", "feature")
    write_files(root, local)
    commit_all(root, "local work")
    git(root, "checkout", "-q", "main")
    write_files(root, upstream)
    commit_all(root, "upstream work")
    git(root, "checkout", "-q", "feature")
    return root


def replays(root: Path) -> list[tuple[int, dict[str, object], str]]:
    """`check --against main`, then `git merge --no-commit --no-ff main` and `check`.

    Returns (exit code, JSON document, stderr) of each; stops the merge where it is.
    """
    import json

    out = []
    for merging in (False, True):
        if merging:
            git(root, "merge", "--no-commit", "--no-ff", "-q", "main", check=False)
        args = ("check", "--format", "json") + (() if merging else ("--against", "main"))
        proc = run_migmerge(root, *args)
        doc = json.loads(proc.stdout) if proc.returncode in (0, 1) else {}
        out.append((proc.returncode, doc, proc.stderr))
    return out


def conflict_leaves(doc: dict[str, object]) -> dict[str, list[str]]:
    """app -> sorted leaf names of every conflict in a check document."""
    conflicts: list[dict] = doc["conflicts"]  # type: ignore[assignment, type-arg]
    return {c["app"]: sorted(leaf["name"] for leaf in c["leaves"]) for c in conflicts}


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

"""Fuzz `migmerge check` with hostile repositories: whatever a repository holds,
check exits 0, 1 or 2 with a message, never 3, never hangs, never prints a
traceback and writes nothing.

Each trial builds a real git repository holding a small Django project
(manage.py naming proj.settings, apps with makemigrations-style chains, often
two branches merged into a conflict), damages it the way its family says, and
runs `migmerge check --format json`, `check` (text) and `check --format json`
again (warm cache), each in a fresh process with HOME, TMPDIR and
MIGMERGE_CACHE_DIR of its own, GIT_CONFIG_NOSYSTEM=1 and a git identity.

A trial fails by one or more ways:

  exit3      exit code 3 (migmerge's internal error)
  hang       still running after --timeout seconds (then killed)
  traceback  "Traceback" on stdout or stderr
  wrote      anything in the trial folder changed: work tree, index, HEAD,
             refs, every file under .git (submodules' too), -wal/-shm files
             (only the cache folder and TMPDIR are left out)
  misread    the answer contradicts what Django itself would do, judged
             statically: a migration Python's compiler refuses, a missing
             Migration class, a dependency on a migration that does not exist,
             a cycle, not reported (exit 2 or a warning naming it; outside a
             merge, a committed migration Python refuses need not be: check
             reads committed migrations by their header only); a file
             Python compiles reported unreadable; leaves, sides or exit code
             other than those the literal dependencies give
  differs    the same tree gave different answers: text and json exit codes,
             a cold and a warm cache, a damaged cache and no cache
  other      any other exit code (a signal, 130), exit 2 without a message,
             json output that does not parse

Families (--family NAME, repeatable; default: all):

  mutate       truncation, byte flips and insertions, deleted and duplicated
               lines, swapped dependency lists in real makemigrations files
  missing-dep  dependencies on migrations that do not exist (a typo such as
               0001_inidial, a squash whose originals were deleted and whose
               replaces was removed, an interrupted renumber, a same-app
               __latest__; a same-app __first__, which Django ignores)
  deep         expressions Python compiles that recurse (nested brackets up to
               and past the parser's limit, long + and attribute chains), long
               lines, a 40 KB RunSQL, thousands of operations or dependencies
  paths        FIFOs and folders named like migration modules, symlinked
               migrations and migrations folders (inside and outside the
               repository), names with newlines, quotes, spaces, tabs,
               backslashes, non-UTF-8 bytes
  python       files Python refuses (`from __future__ import braces`, Python 2
               print, tab/space mixes, top-level return, ...) and files it
               accepts that a naive reader refuses (coding cookies, BOM,
               latin-1 bytes, form feeds, CR line endings)
  cache        a damaged or hand-edited MIGMERGE_CACHE_DIR (truncated, random
               bytes, marshal of wrong shapes, an entry that lies, a FIFO):
               the answer must equal the one with MIGMERGE_NO_CACHE=1
  writes       a SQLite database in WAL mode next to the project (no -wal/-shm
               may appear), a submodule whose index is stale (it must not be
               rewritten)
  git-states   merge in progress with conflict markers in models.py or a
               migration, add/add of one migration name, rebase in progress,
               shallow clone with --against, detached, unborn, linked
               worktrees, damaged MERGE_HEAD, odd repository paths
  config       hostile [tool.migmerge] tables (not TOML, wrong types, paths out
               of the repository), MIGRATION_MODULES, AUTH_USER_MODEL and
               DATABASES values and settings modules named by manage.py

Trials are deterministic: trial I of a family is built from the seed, the
family and I alone, whatever --jobs; `--trial I --keep DIR` rebuilds one to
look at. Every failing trial goes to the --out JSON file with its recipe, the
files it damaged, each run's command, exit code, the end of stderr and of
migmerge's crash log (TMPDIR is the trial's own, so each crash has its log).
The table of ways is followed by the failing trials grouped by cause: the
innermost migmerge frame of a crash or a hang, or the kind of contradiction.

Each run is limited to 3 GB of address space (a link to /dev/zero ends in a
MemoryError, not in swapping). A run still going after the timeout gets
SIGABRT first, so that Python's faulthandler tells where it was stuck, then
SIGKILL for its whole process group. --jobs N lets N trials use the CPU at
once; a run blocked for more than 3 s (a FIFO) lends its slot while it waits.

Usage:
  .venv/bin/python benchmarks/fuzz.py --seed 1 --trials-per-family 200 --jobs 2
  .venv/bin/python benchmarks/fuzz.py --family paths --trial 17 --keep /tmp/fuzz
  .venv/bin/python benchmarks/fuzz.py --command "migmerge"   # an installed migmerge
"""

from __future__ import annotations

import argparse
import ast
import base64
import contextlib
import copy
import itertools
import json
import marshal
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WAYS = ("exit3", "hang", "traceback", "wrote", "misread", "differs", "other")
# Address space per migmerge run: a file that never ends (a link to /dev/zero)
# must end in a MemoryError, not in the machine swapping.
MEMORY_KB = 3 * 1024 * 1024
# A run still going after this long is probably blocked (a FIFO): it gives its
# CPU slot to another trial while it waits out the timeout.
GRACE = 3.0
CONTRIB = ("admin", "auth", "contenttypes", "sessions", "messages", "staticfiles")
DJANGO_VERSION = "5.2.19"

# ---------------------------------------------------------------------------
# Processes


class Slots:
    """At most `n` trials use the CPU at once; a blocked run lends its slot."""

    def __init__(self, n: int) -> None:
        self.semaphore = threading.Semaphore(n)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.semaphore.acquire()
        try:
            yield
        finally:
            self.semaphore.release()


@dataclass
class Ran:
    """One finished (or killed) process."""

    code: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    hung: bool


class Stopped(Exception):
    """The harness is being interrupted: start nothing more."""


# Process groups of the migmerge runs going on, killed when the harness is interrupted.
LIVE: set[int] = set()
STOPPING = threading.Event()


def kill_live() -> None:
    STOPPING.set()
    for pgid in list(LIVE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def run_process(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    slots: Slots | None = None,
) -> Ran:
    """Run `cmd` in its own process group, killed as a whole after `timeout` seconds."""
    limited = ["/bin/sh", "-c", f'ulimit -v {MEMORY_KB} 2>/dev/null; exec "$@"', "fuzz", *cmd]
    if STOPPING.is_set():
        raise Stopped
    start = time.monotonic()
    proc = subprocess.Popen(
        limited,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    LIVE.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=min(GRACE, timeout))
    except subprocess.TimeoutExpired:
        out, err, hung = _wait_longer(proc, timeout - GRACE, slots)
    else:
        hung = False
    finally:
        LIVE.discard(proc.pid)
    return Ran(None if hung else proc.returncode, out, err, time.monotonic() - start, hung)


def _wait_longer(
    proc: subprocess.Popen[bytes], timeout: float, slots: Slots | None
) -> tuple[bytes, bytes, bool]:
    if slots is not None:
        slots.semaphore.release()
    try:
        out, err = proc.communicate(timeout=max(timeout, 0.1))
        return out, err, False
    except subprocess.TimeoutExpired:
        # SIGABRT first: with PYTHONFAULTHANDLER set, Python prints where it is stuck.
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGABRT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            out, err = proc.communicate(timeout=2)
            return out, err, True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return out, err, True
    finally:
        if slots is not None:
            slots.semaphore.acquire()


def clean_env(trial: Path) -> dict[str, str]:
    """The environment of every git and migmerge process of a trial."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "MIGMERGE_", "DJANGO_", "XDG_", "LC_"))
        and k not in ("HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "PYTHONSTARTUP")
    }
    env.update(
        HOME=str(trial / "home"),
        TMPDIR=str(trial / "tmp"),
        MIGMERGE_CACHE_DIR=str(trial / "cache"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Fuzz Tester",
        GIT_AUTHOR_EMAIL="fuzz@example.com",
        GIT_COMMITTER_NAME="Fuzz Tester",
        GIT_COMMITTER_EMAIL="fuzz@example.com",
        LANG="C.UTF-8",
        PYTHONFAULTHANDLER="1",  # where a hung run was stuck, when it is killed
    )
    return env


class GitError(Exception):
    """A git command of the harness itself failed (a harness bug, not migmerge's)."""


class Repo:
    """A git repository the harness builds; commits get fixed, increasing dates."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.clock = 1_700_000_000

    def git(
        self,
        *args: str,
        check: bool = True,
        cwd: Path | None = None,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        self.clock += 60
        env = {**self.env, **(env or {})}
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{self.clock} +0000"
        proc = subprocess.run(
            ["git", "-c", "gc.auto=0", "-c", "protocol.file.allow=always", *args],
            cwd=cwd or self.root,
            env=env,
            input=input,
            capture_output=True,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode("utf-8", "surrogateescape")

    def write(self, rel: str, data: bytes | str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "--no-verify", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def init(self) -> Repo:
        self.root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        return self


# ---------------------------------------------------------------------------
# Django projects, as startproject and makemigrations write them


MANAGE_PY = """\
#!/usr/bin/env python
\"\"\"Django's command-line utility for administrative tasks.\"\"\"
import os
import sys


def main():
    \"\"\"Run administrative tasks.\"\"\"
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == '__main__':
    main()
"""

SETTINGS_PY = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = 'django-insecure-fuzz'
DEBUG = True
ALLOWED_HOSTS = []

INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
{apps}]

ROOT_URLCONF = 'proj.urls'

DATABASES = {{
    'default': {{
        'ENGINE': 'django.db.backends.sqlite3',
        'NAME': {db_name},
    }}
}}

DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'
"""

APPS_PY = """\
from django.apps import AppConfig


class {cls}Config(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = '{app}'
"""

# App label -> (model, initial fields) for the 0001_initial migration.
INITIAL_MODELS: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
    "polls": [
        (
            "Question",
            [("question_text", "CharField(max_length=200)"), ("pub_date", "DateTimeField()")],
        ),
        ("Choice", [("choice_text", "CharField(max_length=200)"), ("votes", "IntegerField()")]),
    ],
    "shop": [
        ("Product", [("title", "CharField(max_length=120)"), ("price", "IntegerField()")]),
        ("Order", [("quantity", "IntegerField()")]),
    ],
}
FK_TARGETS = {"polls": "polls.question", "shop": "shop.product"}

FIELD_KINDS = (
    "CharField(max_length={n})",
    "IntegerField(default=0)",
    "BooleanField(default=False)",
    "TextField(blank=True)",
    "DateTimeField(auto_now_add=True, null=True)",
    "SlugField(default={empty}, max_length={n})",
    "DecimalField(decimal_places=2, default=0, max_digits=8)",
    "JSONField(default=dict)",
    "PositiveSmallIntegerField(blank=True, null=True)",
)


class Style:
    """How a migration file is laid out: Django's own writer, or black-formatted."""

    def __init__(self, name: str) -> None:
        self.name = name

    def q(self, text: str) -> str:
        """A string literal as this style quotes it."""
        literal = repr(text)
        if self.name == "black" and literal.startswith("'") and '"' not in text:
            literal = '"' + literal[1:-1].replace("\\'", "'") + '"'
        return literal


@dataclass
class Op:
    """One migration operation, rendered at write time in the file's style."""

    kind: str
    model: str = ""
    name: str = ""
    new_name: str = ""
    code: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    fk: str = ""


@dataclass
class AppState:
    """The models an app's migrations built so far, and its chain of names."""

    label: str
    models: dict[str, list[str]]
    chain: list[str]
    number: int


def render_field(code: str, style: Style, n: int) -> str:
    """A models.X(...) expression; {n} and {empty} are filled in."""
    return "models." + code.format(n=n, empty=style.q(""))


def render_op(op: Op, style: Style) -> str:
    """The text of one operation, indented as in makemigrations' output."""
    q = style.q
    if op.kind == "CreateModel":
        lines = [
            "        migrations.CreateModel(",
            f"            name={q(op.model)},",
            "            fields=[",
            f"                ({q('id')}, models.BigAutoField(auto_created=True, primary_key=True,"
            f" serialize=False, verbose_name={q('ID')})),",
        ]
        lines += [f"                ({q(n)}, models.{c})," for n, c in op.fields]
        if op.fk:
            lines.append(
                f"                ({q('link')}, models.ForeignKey("
                f"on_delete=django.db.models.deletion.CASCADE, to={q(op.fk)})),"
            )
        lines += ["            ],", "        ),"]
        return "\n".join(lines)
    if op.kind in ("AddField", "AlterField"):
        return (
            f"        migrations.{op.kind}(\n"
            f"            model_name={q(op.model.lower())},\n"
            f"            name={q(op.name)},\n"
            f"            field={op.code},\n"
            "        ),"
        )
    if op.kind == "RemoveField":
        return (
            "        migrations.RemoveField(\n"
            f"            model_name={q(op.model.lower())},\n"
            f"            name={q(op.name)},\n"
            "        ),"
        )
    if op.kind == "RenameField":
        return (
            "        migrations.RenameField(\n"
            f"            model_name={q(op.model.lower())},\n"
            f"            old_name={q(op.name)},\n"
            f"            new_name={q(op.new_name)},\n"
            "        ),"
        )
    if op.kind == "AddIndex":
        return (
            "        migrations.AddIndex(\n"
            f"            model_name={q(op.model.lower())},\n"
            f"            index=models.Index(fields=[{q(op.name)}], name={q(op.new_name)}),\n"
            "        ),"
        )
    if op.kind == "RunSQL":
        return (
            "        migrations.RunSQL(\n"
            f"            sql={op.code},\n"
            "            reverse_sql=migrations.RunSQL.noop,\n"
            "        ),"
        )
    if op.kind == "RunPython":
        return "        migrations.RunPython(forwards, migrations.RunPython.noop),"
    raise AssertionError(op.kind)


def render_migration(
    app: str,
    deps: list[tuple[str, str]] | None,
    ops: list[Op],
    style: Style,
    *,
    initial: bool = False,
    swappable: bool = False,
    deps_text: str | None = None,
    extra_body: str = "",
    prelude: str = "",
) -> bytes:
    """A migration file as makemigrations writes it (deps_text replaces the dependencies)."""
    q = style.q
    uses_fk = any(op.fk for op in ops)
    uses_models = any(
        op.kind not in ("RemoveField", "RenameField", "RunSQL", "RunPython") for op in ops
    )
    head = f"# Generated by Django {DJANGO_VERSION} on 2024-05-0{len(ops) % 9 + 1} 12:00\n\n"
    imports = []
    if uses_fk:
        imports.append("import django.db.models.deletion")
    if swappable:
        imports.append("from django.conf import settings")
    imports.append(
        "from django.db import migrations, models"
        if uses_models
        else "from django.db import migrations"
    )
    body = head + prelude + "\n".join(imports) + "\n\n\n"
    for op in ops:
        if op.kind == "RunPython":
            body += (
                "def forwards(apps, schema_editor):\n"
                f"    Model = apps.get_model({q(app)}, {q(op.model)})\n"
                f"    Model.objects.filter(pk__lt=0).update({op.name}=None)\n\n\n"
            )
            break
    body += "class Migration(migrations.Migration):\n\n"
    if initial:
        body += "    initial = True\n\n"
    if deps_text is None:
        items = [f"        ({q(a)}, {q(n)})," for a, n in deps or []]
        if swappable:
            items.append("        migrations.swappable_dependency(settings.AUTH_USER_MODEL),")
        if items:
            deps_text = "    dependencies = [\n" + "\n".join(items) + "\n    ]\n"
        elif style.name == "black":
            deps_text = "    dependencies = []\n"
        else:
            deps_text = "    dependencies = [\n    ]\n"
    body += deps_text + extra_body + "\n    operations = [\n"
    body += "".join(render_op(op, style) + "\n" for op in ops) + "    ]\n"
    return body.encode("utf-8", "surrogatepass")


class Project:
    """A Django project in a repository: its apps' states and how to grow them."""

    def __init__(self, repo: Repo, rng: random.Random, apps: list[str]) -> None:
        self.repo = repo
        self.rng = rng
        self.style = Style(rng.choice(("django", "black")))
        self.apps = {a: AppState(a, {}, [], 0) for a in apps}
        self.counter = itertools.count(1)  # shared by all branches: names never clash
        self.names: set[str] = set()  # every name given, on any branch

    def package(self, app: str) -> str:
        return f"{app}/migrations"

    def path(self, app: str, name: str) -> str:
        return f"{self.package(app)}/{name}.py"

    def packages(self) -> dict[str, str]:
        return {a: self.package(a) for a in self.apps}

    def fork(self) -> dict[str, AppState]:
        return copy.deepcopy(self.apps)

    def restore(self, saved: dict[str, AppState]) -> None:
        self.apps = copy.deepcopy(saved)

    def write_skeleton(self, db_name: str = "BASE_DIR / 'db.sqlite3'") -> None:
        repo = self.repo
        repo.write("manage.py", MANAGE_PY)
        repo.write("proj/__init__.py", "")
        apps = "".join(f"    '{a}',\n" for a in self.apps)
        repo.write("proj/settings.py", SETTINGS_PY.format(apps=apps, db_name=db_name))
        repo.write("proj/urls.py", "urlpatterns = []\n")
        repo.write(".gitignore", "__pycache__/\n*.pyc\n")
        for app in self.apps:
            repo.write(f"{app}/__init__.py", "")
            repo.write(f"{app}/apps.py", APPS_PY.format(cls=app.capitalize(), app=app))
            repo.write(f"{app}/models.py", "from django.db import models\n")
            repo.write(f"{self.package(app)}/__init__.py", "")

    def initial(self, app: str) -> tuple[str, bytes]:
        state = self.apps[app]
        ops = []
        for i, (model, fields) in enumerate(INITIAL_MODELS[app]):
            fk = FK_TARGETS[app] if i == 1 else ""
            ops.append(Op("CreateModel", model=model, fields=fields, fk=fk))
            state.models[model] = [n for n, _ in fields] + (["link"] if fk else [])
        deps = []
        if app != "polls" and "polls" in self.apps and self.apps["polls"].chain:
            deps.append(("polls", self.apps["polls"].chain[0]))
        data = render_migration(app, deps, ops, self.style, initial=True)
        return self._add(app, "0001_initial", data)

    def _add(self, app: str, name: str, data: bytes) -> tuple[str, bytes]:
        state = self.apps[app]
        self.repo.write(self.path(app, name), data)
        state.chain.append(name)
        state.number = max(state.number, int(name[:4]) if name[:4].isdigit() else state.number)
        return name, data

    def next_ops(self, app: str) -> tuple[str, list[Op]]:
        """Operations and the name makemigrations would give them."""
        state = self.apps[app]
        rng = self.rng
        n = next(self.counter)
        model = rng.choice(sorted(state.models))
        fields = state.models[model]
        added = [f for f in fields if f.startswith("f_")]
        choice = rng.random()
        if choice < 0.45 or not added:
            name = f"f_{n}"
            code = render_field(rng.choice(FIELD_KINDS), self.style, 10 + n)
            fields.append(name)
            return f"{model.lower()}_{name}", [Op("AddField", model, name, code=code)]
        target = rng.choice(added)
        if choice < 0.6:
            code = render_field(rng.choice(FIELD_KINDS), self.style, 20 + n)
            return f"alter_{model.lower()}_{target}", [Op("AlterField", model, target, code=code)]
        if choice < 0.7:
            fields.remove(target)
            return f"remove_{model.lower()}_{target}", [Op("RemoveField", model, target)]
        if choice < 0.78:
            new = f"{target}_r{n}"
            fields[fields.index(target)] = new
            return f"rename_{target}_{model.lower()}_{new}", [
                Op("RenameField", model, target, new_name=new)
            ]
        if choice < 0.85:
            index = f"{app[:5]}_{model.lower()[:5]}_{target}_idx"[:30]
            return f"{model.lower()}_{index}", [Op("AddIndex", model, target, new_name=index)]
        if choice < 0.93:
            table = f"{app}_{model.lower()}"
            sql = self.style.q(f"UPDATE {table} SET {target} = {target} WHERE id < 0;")
            return f"fix_{model.lower()}_{n}", [Op("RunSQL", model, code=sql)]
        return f"fill_{model.lower()}_{n}", [Op("RunPython", model, target)]

    def add(
        self, app: str, *, name: str | None = None, deps: list[tuple[str, str]] | None = None
    ) -> tuple[str, bytes]:
        """Write the next migration of `app` (after its chain's last), like makemigrations."""
        state = self.apps[app]
        suffix, ops = self.next_ops(app)
        if name is None:
            name = f"{state.number + 1:04d}_{suffix}"
            if name in self.names:  # the same change on two branches: git's add/add
                name += f"_{next(self.counter)}"
        self.names.add(name)
        if deps is None:
            deps = [(app, state.chain[-1])]
            if app == "shop" and self.rng.random() < 0.3 and "polls" in self.apps:
                deps.append(("polls", self.apps["polls"].chain[-1]))
        swappable = self.rng.random() < 0.1
        return self._add(
            app, name, render_migration(app, deps, ops, self.style, swappable=swappable)
        )

    def build(self, lengths: dict[str, int] | None = None) -> None:
        """Write the skeleton and every app's chain, and commit it on main."""
        self.write_skeleton()
        for app in self.apps:
            self.initial(app)
        for app in self.apps:
            for _ in range((lengths or {}).get(app, self.rng.randint(2, 4)) - 1):
                self.add(app)
        self.repo.commit("base project")


def new_project(trial: Path, rng: random.Random, apps: list[str] | None = None) -> Project:
    repo = Repo(trial / "repo", clean_env(trial)).init()
    if apps is None:
        apps = ["polls", "shop"] if rng.random() < 0.4 else ["polls"]
    return Project(repo, rng, apps)


def built_project(rng: random.Random, trial: Path) -> tuple[Project, Case]:
    """A committed project of one or two apps, and an empty case for it."""
    project = new_project(trial, rng)
    project.build()
    return project, Case(project.repo.root)


@dataclass
class Diverged:
    """Two branches that each added migrations to one app: main's and feature's."""

    app: str
    main: list[str]
    feature: list[str]
    feature_state: dict[str, AppState]  # the apps as feature left them


def diverge(project: Project, app: str, n_main: int = 1, n_feature: int = 1) -> Diverged:
    """Give main and a new branch `feature` their own migrations after the same leaf."""
    repo = project.repo
    saved = project.fork()
    repo.git("checkout", "-q", "-b", "feature")
    feature = [project.add(app)[0] for _ in range(n_feature)]
    repo.commit(f"feature: {', '.join(feature)}")
    after_feature = project.fork()
    repo.git("checkout", "-q", "main")
    project.restore(saved)
    main = [project.add(app)[0] for _ in range(n_main)]
    repo.commit(f"main: {', '.join(main)}")
    return Diverged(app, main, feature, after_feature)


# ---------------------------------------------------------------------------
# What Django would make of a tree, judged statically (the oracle)


@dataclass
class Oracle:
    """What a right answer must satisfy; empty fields ask nothing."""

    what: list[str] = field(default_factory=list)
    exit: set[int] | None = None
    leaves: dict[str, set[str]] | None = None  # app -> leaves, every app with two or more
    sides: dict[str, str] = field(default_factory=dict)  # leaf name -> local/upstream
    fatal: list[str] = field(default_factory=list)  # one must be said unless exit 2
    readable: list[str] = field(default_factory=list)  # paths Python compiles
    mention: list[str] = field(default_factory=list)  # must all appear in stderr or output
    undetermined: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = list(self.what)
        if self.exit is not None:
            parts.append(f"exit {sorted(self.exit)}")
        if self.leaves:
            parts.append("leaves " + ", ".join(f"{a}: {sorted(v)}" for a, v in self.leaves.items()))
        if self.sides:
            parts.append(f"sides {self.sides}")
        if self.fatal:
            parts.append(f"must report one of {self.fatal}")
        if self.readable:
            parts.append(f"must read {self.readable}")
        if self.mention:
            parts.append(f"must mention {self.mention}")
        if self.undetermined:
            parts.append("no exact answer: " + "; ".join(self.undetermined[:3]))
        return "; ".join(parts)


class Module:
    """One module of a migrations package as Django's loader would see it."""

    def __init__(self, app: str, name: str, path: str) -> None:
        self.app, self.name, self.path = app, name, path
        self.refused: str | None = None  # why Python's compiler refuses it
        self.header_only = False  # refused, but committed where check reads headers only
        self.fatal: str | None = None  # why Django cannot use it although it compiles
        self.unsure: str | None = None  # why its graph edges cannot be told statically
        self.deps: list[tuple[str, str]] = []


def compile_check(data: bytes, path: str) -> tuple[ast.Module | None, str | None]:
    """(tree, None) when Python compiles `data` as Django's import would, else (None, why)."""
    try:
        compile(data, path, "exec", dont_inherit=True)
        return ast.parse(data, path), None
    except Exception as exc:  # SyntaxError, ValueError, RecursionError, MemoryError
        return None, f"{type(exc).__name__}: {str(exc)[:80]}"


def read_module(module: Module, data: bytes) -> None:
    """Fill `module` from its bytes: refused, fatal, unsure or its literal dependencies."""
    tree, why = compile_check(data, module.path)
    if tree is None:
        module.refused = why
        return
    bound = [s for s in tree.body if _binds_migration(s)]
    if not bound:
        module.fatal = "no Migration class"
        return
    last = bound[-1]
    if not (isinstance(last, ast.ClassDef) and _plain_bases(last)):
        module.unsure = "Migration is not a plain class"
        return
    try:
        _read_class(module, last)
    except RecursionError:
        module.unsure = "too deep to read"


def _binds_migration(stmt: ast.stmt) -> bool:
    for node in ast.walk(stmt) if isinstance(stmt, ast.If | ast.Try | ast.With) else [stmt]:
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == "Migration":
            return True
        if isinstance(node, ast.Import | ast.ImportFrom) and any(
            (a.asname or a.name) == "Migration" or a.name == "*" for a in node.names
        ):
            return True
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "Migration" for t in targets):
                return True
    return False


def _plain_bases(cls: ast.ClassDef) -> bool:
    return (
        len(cls.bases) == 1
        and not cls.keywords
        and not cls.decorator_list
        and ast.unparse(cls.bases[0]) == "migrations.Migration"
    )


def _read_class(module: Module, cls: ast.ClassDef) -> None:
    values: dict[str, ast.expr] = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if not isinstance(target, ast.Name):
                    module.unsure = "an unusual assignment in Migration"
                    return
                values[target.id] = stmt.value
        elif not isinstance(stmt, ast.Expr | ast.Pass | ast.FunctionDef):
            module.unsure = f"a {type(stmt).__name__} in Migration"
            return
    if "replaces" in values or "run_before" in values:
        module.unsure = "replaces or run_before"
        return
    deps = values.get("dependencies")
    if deps is None:
        return
    if not isinstance(deps, ast.List | ast.Tuple):
        module.unsure = "dependencies is not a literal list"
        return
    for item in deps.elts:
        key = _literal_key(item)
        if key is None:
            module.unsure = f"dependency {ast.unparse(item)[:60]} is not literal"
            return
        if key[0] is not None:
            module.deps.append((key[0], key[1]))


def _literal_key(node: ast.expr) -> tuple[str | None, str] | None:
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "migrations.swappable_dependency":
        return (None, "swappable")
    if isinstance(node, ast.Tuple | ast.List) and len(node.elts) == 2:
        a, b = node.elts
        values = [x.value if isinstance(x, ast.Constant) else None for x in (a, b)]
        if all(isinstance(v, str) for v in values):
            return (str(values[0]), str(values[1]))
    return None


def module_names(entries: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """(module name, kind) of a package's entries as pkgutil lists them to Django."""
    for name, kind in entries:
        if not name.endswith(".py") or name.startswith(("_", "~")) or "." in name[:-3]:
            continue
        yield name[:-3], kind


def disk_entries(root: Path, package: str) -> list[tuple[str, str]] | None:
    folder = root / package
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    out = []
    for name in names:
        try:
            mode = os.stat(folder / name).st_mode
        except OSError:
            out.append((name, "dangling"))
            continue
        out.append((name, "file" if stat.S_ISREG(mode) else "special"))
    return out


def django_oracle(
    root: Path,
    packages: dict[str, str],
    *,
    tree: dict[str, bytes | None] | None = None,
    only_apps: set[str] | None = None,
) -> Oracle:
    """What Django's loader would say of the apps' packages, on disk or in `tree`.

    `tree`: path -> bytes of a commit's files (None for a symlink).
    """
    oracle = Oracle(what=["static view of the tree"])
    modules: dict[str, dict[str, Module]] = {}
    for app, package in packages.items():
        if tree is None:
            entries = disk_entries(root, package)
        else:
            prefix = package + "/"
            entries = [
                (p[len(prefix) :], "file" if data is not None else "symlink")
                for p, data in tree.items()
                if p.startswith(prefix) and "/" not in p[len(prefix) :]
            ]
        if entries is None:
            oracle.undetermined.append(f"{package} cannot be listed")
            modules[app] = {}
            continue
        modules[app] = {}
        for name, kind in module_names(entries):
            path = f"{package}/{name}.py"
            module = modules[app][name] = Module(app, name, path)
            if kind != "file":
                module.unsure = f"{path} is {kind}"
                continue
            try:
                data = tree[path] if tree is not None else (root / path).read_bytes()
            except OSError as exc:
                module.unsure = f"{path}: {exc}"
                continue
            read_module(module, data or b"")
            if module.refused and tree is None and _header_only(root, path, data or b""):
                module.header_only = True
    _judge(oracle, modules, only_apps)
    return oracle


def _header_only(root: Path, path: str, data: bytes) -> bool:
    """True for a migration check reads by its header only: committed unchanged, no merge.

    migmerge compiles the migrations being edited and reads a conflict's
    branches whole, but reads every other committed migration by its header
    (compiling them all would cost a fresh clone's check several times over:
    0.15 ms a file, 3 s over 20,000), so Python refusing one below its header
    goes unsaid there; Django refuses it at the first manage.py command.
    """
    env = {"PATH": os.environ.get("PATH", ""), "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root)}

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, timeout=60)

    if git("rev-parse", "-q", "--verify", "MERGE_HEAD").returncode == 0:
        return False
    if git("rev-parse", "-q", "--verify", "HEAD^2").returncode == 0:
        return False  # a merge just made: its conflict's branches are read whole
    committed = git("cat-file", "blob", f"HEAD:{path}")
    return committed.returncode == 0 and committed.stdout == data


def _judge(
    oracle: Oracle, modules: dict[str, dict[str, Module]], only_apps: set[str] | None
) -> None:
    exact = True
    graph: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for app, mods in modules.items():
        if only_apps is not None and app not in only_apps:
            continue
        for module in mods.values():
            if module.refused and module.header_only:
                oracle.undetermined.append(
                    f"{module.path} refused by Python ({module.refused}), committed: "
                    "check reads it by its header only"
                )
                exact = False
            elif module.refused:
                oracle.fatal.append(module.path)
                oracle.what.append(f"{module.path} refused by Python ({module.refused})")
                exact = False
            elif module.fatal:
                oracle.fatal.append(module.path)
                oracle.what.append(f"{module.path}: {module.fatal}")
                exact = False
            elif module.unsure:
                oracle.undetermined.append(module.unsure)
                exact = False
            else:
                oracle.readable.append(module.path)
                graph[(app, module.name)] = _resolve(module, modules, oracle)
    if oracle.fatal or oracle.undetermined:
        exact = False
    cycle = _find_cycle(graph)
    if cycle:
        oracle.fatal += [name for _, name in cycle]
        oracle.what.append(f"cycle {[n for _, n in cycle]}")
        exact = False
    if exact:
        leaves = _leaves(graph)
        oracle.leaves = {a: set(v) for a, v in leaves.items() if len(v) > 1}
        oracle.exit = {1 if oracle.leaves else 0}


def _resolve(
    module: Module, modules: dict[str, dict[str, Module]], oracle: Oracle
) -> list[tuple[str, str]]:
    """Django's check_key: same-app keys as written; __first__/__latest__ of other apps."""
    out = []
    for app, name in module.deps:
        if app not in modules:
            if app not in CONTRIB:
                oracle.undetermined.append(f"dependency on app {app!r} outside the repository")
            continue
        if app != module.app and name in ("__first__", "__latest__"):
            continue  # Django resolves these to a node that exists, or fails elsewhere
        if app == module.app and name == "__first__":
            continue  # Django ignores it (#22325): no edge
        if name not in modules[app]:
            oracle.fatal.append(name)
            oracle.what.append(f"{module.path} depends on missing ({app!r}, {name!r})")
            continue
        out.append((app, name))
    return out


def _find_cycle(graph: dict[tuple[str, str], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """One dependency cycle, iteratively (a graph of thousands must not recurse)."""
    colour: dict[tuple[str, str], int] = {}
    for start in graph:
        if colour.get(start):
            continue
        stack = [(start, iter(graph.get(start, ())))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            if colour.get(child) == 1:
                return path[path.index(child) :]
            if child in graph and not colour.get(child):
                colour[child] = 1
                path.append(child)
                stack.append((child, iter(graph[child])))
    return []


def _leaves(graph: dict[tuple[str, str], list[tuple[str, str]]]) -> dict[str, list[str]]:
    """Django's leaf_nodes per app: no child in the same app."""
    has_child = {parent for node, deps in graph.items() for parent in deps if parent[0] == node[0]}
    out: dict[str, list[str]] = {}
    for node in graph:
        if node not in has_child:
            out.setdefault(node[0], []).append(node[1])
    return out


def tree_files(repo: Repo, treeish: str, packages: dict[str, str]) -> dict[str, bytes | None]:
    """The bytes of every blob under the packages of a tree (None for a symlink)."""
    listing = repo.git("ls-tree", "-r", "-z", treeish, "--", *packages.values())
    out: dict[str, bytes | None] = {}
    for record in listing.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, kind, sha = meta.split()
        if kind == "blob":
            data = subprocess.run(
                ["git", "cat-file", "blob", sha],
                cwd=repo.root,
                env=repo.env,
                capture_output=True,
                check=True,
            ).stdout
            out[path] = data if mode != "120000" else None
    return out


def worktree_commit(repo: Repo) -> str:
    """A commit of HEAD plus the working tree (untracked files too); no ref moves."""
    fd, index = tempfile.mkstemp(prefix="fuzz-index-")
    os.close(fd)
    os.unlink(index)
    try:
        env = {"GIT_INDEX_FILE": index}
        repo.git("read-tree", "--empty", env=env)
        repo.git("read-tree", "HEAD", env=env, check=False)
        repo.git("add", "-A", check=False, env=env)
        tree = repo.git("write-tree", env=env).strip()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(index)
    return repo.git("commit-tree", tree, "-p", "HEAD", "-m", "working tree").strip()


def against_oracle(repo: Repo, packages: dict[str, str], rev: str) -> Oracle:
    """The oracle for `check --against rev`: Django's view of git's own merge of rev.

    The local side is HEAD plus the working tree: it is committed, without
    moving any ref, through an index of the harness's own.
    """
    if not repo.git("rev-parse", "--verify", "-q", "HEAD", check=False).strip():
        return Oracle(what=["no HEAD: --against must be refused"], exit={2})
    local = worktree_commit(repo)
    out = repo.git("merge-tree", "--write-tree", "--no-messages", local, rev, check=False)
    merged = out.split("\n", 1)[0].strip()
    base = repo.git("merge-base", "HEAD", rev, check=False).strip()
    if not merged or not base:
        return Oracle(undetermined=["no merge of the two sides"])
    changed = repo.git("diff", "--name-only", "-z", base, rev).split("\0")
    changed += repo.git("diff", "--name-only", "-z", base, local).split("\0")
    touched = {a for a, p in packages.items() if any(c.startswith(p + "/") for c in changed)}
    files = tree_files(repo, merged, packages)
    return django_oracle(repo.root, packages, tree=files, only_apps=touched)


# ---------------------------------------------------------------------------
# Trials


@dataclass
class RunSpec:
    """One migmerge run of a trial."""

    label: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    before: Callable[[], str] | None = None  # a step between runs; returns what it did
    same_as: str | None = None  # the label of a run this one must answer like
    oracle: bool = False  # judge this run's answer with the case's oracle


@dataclass
class Case:
    """A built trial: where to run, how, and what a right answer looks like."""

    repo: Path
    recipe: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    args: list[str] = field(default_factory=lambda: ["check"])
    oracle: Oracle | None = None
    runs: list[RunSpec] | None = None

    def note(self, text: str) -> None:
        self.recipe.append(text)

    def keep(self, rel: str, data: bytes | None = None) -> None:
        """Record a file's bytes for the report (never opening a FIFO to read it)."""
        path = self.repo / rel
        if data is None and path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                data = path.read_bytes()
        if data is not None:
            self.files[rel] = data


def standard_runs(args: list[str]) -> list[RunSpec]:
    return [
        RunSpec("json", [*args, "--format", "json"], oracle=True),
        RunSpec("text", [*args], same_as="json"),
        RunSpec("json-warm", [*args, "--format", "json"], same_as="json"),
    ]


# ---------------------------------------------------------------------------
# Family: mutate


TOKENS = (
    "(",
    ")",
    "[",
    "]",
    "'",
    '"',
    '"""',
    "\\",
    "#",
    "\n",
    "\t",
    "    ",
    ",",
    ":",
    "=",
    "\r",
    "\x0c",
    "\x00",
    "é",
    "\udcff",
    "import os\n",
    "class Migration(migrations.Migration):\n",
    "    dependencies = []\n",
    "    replaces = [('polls', '0001_initial')]\n",
    "    run_before = [('polls', '0001_initial')]\n",
    " + [('polls', '0001_initial')]",
    "if True:\n",
    "lambda: ",
    "*",
    "**",
    "@",
    "0001_initial",
)


def mutate_bytes(rng: random.Random, data: bytes, others: list[bytes]) -> tuple[bytes, str]:
    """One random damage to a file: the new bytes and what was done."""
    kind = rng.choice(
        ("truncate", "flip", "insert", "delete-lines", "duplicate-lines", "swap-deps", "quote")
    )
    if kind == "truncate" and data:
        at = rng.randrange(len(data))
        return data[:at], f"truncate at byte {at}"
    if kind == "flip" and data:
        out = bytearray(data)
        spots = sorted(rng.randrange(len(out)) for _ in range(rng.randint(1, 4)))
        for at in spots:
            out[at] = rng.choice((rng.randrange(256), rng.choice(b"()[]'\",:=#\\ \t\n0_x")))
        return bytes(out), f"flip bytes at {spots}"
    lines = data.splitlines(keepends=True)
    if kind == "delete-lines" and lines:
        at = rng.randrange(len(lines))
        count = rng.randint(1, 3)
        return b"".join(lines[:at] + lines[at + count :]), f"delete lines {at + 1}..{at + count}"
    if kind == "duplicate-lines" and lines:
        at = rng.randrange(len(lines))
        count = rng.randint(1, 3)
        dup = lines[at : at + count]
        return b"".join(lines[: at + count] + dup + lines[at + count :]), (
            f"duplicate lines {at + 1}..{at + count}"
        )
    if kind == "swap-deps" and others:
        pattern = re.compile(rb"    dependencies = (\[.*?\n    \]|\[\])", re.S)
        donor = pattern.search(rng.choice(others))
        if donor and pattern.search(data):
            return pattern.sub(lambda _: donor.group(0), data, count=1), (
                "dependencies replaced by another migration's: "
                + donor.group(0).decode("utf-8", "replace").replace("\n", " ")
            )
    if kind == "quote" and lines:
        at = rng.randrange(len(lines))
        line = lines[at].replace(b"'", b'"') if b"'" in lines[at] else lines[at].replace(b'"', b"'")
        return b"".join(lines[:at] + [line] + lines[at + 1 :]), f"swap quotes on line {at + 1}"
    token = rng.choice(TOKENS).encode("utf-8", "surrogateescape")
    at = rng.randrange(len(data) + 1)
    return data[:at] + token + data[at:], f"insert {token!r} at byte {at}"


def family_mutate(rng: random.Random, trial: Path) -> Case:
    project, case = built_project(rng, trial)
    repo = project.repo
    case.note(f"project apps {list(project.apps)}, style {project.style.name}")
    shape = rng.choice(("worktree", "committed", "merged", "in-progress", "against"))
    app = rng.choice(sorted(project.apps))
    targets = [project.path(app, n) for n in project.apps[app].chain]
    if shape in ("merged", "in-progress", "against"):
        div = diverge(project, app)
        case.note(f"{app}: main adds {div.main}, feature adds {div.feature}")
        branch = rng.choice(("main", "feature"))
        leaves = div.main if branch == "main" else div.feature
        targets = rng.sample(targets, 1) + [project.path(app, n) for n in leaves]
        if shape == "against" or rng.random() < 0.5:
            repo.git("checkout", "-q", branch)
            _mutate_files(rng, repo, case, targets, branch)
            repo.commit(f"damage on {branch}")
            repo.git("checkout", "-q", "main")
        if shape == "against":
            case.args = ["check", "--against", "feature"]
        else:
            extra = ["--no-commit", "--no-ff"] if shape == "in-progress" else []
            repo.git("merge", "-q", "--no-edit", *extra, "feature", check=False)
            case.note(" ".join(["git merge", *extra, "feature"]))
            if rng.random() < 0.5:
                _mutate_files(rng, repo, case, targets, "working tree")
    else:
        _mutate_files(rng, repo, case, rng.sample(targets, min(len(targets), 2)), shape)
        if shape == "committed":
            repo.commit("damage")
    finish(case, project)
    return case


def _mutate_files(
    rng: random.Random, repo: Repo, case: Case, targets: list[str], where: str
) -> None:
    for rel in dict.fromkeys(targets):
        path = repo.root / rel
        if not path.is_file():
            continue
        data = path.read_bytes()
        others = [p.read_bytes() for p in path.parent.glob("0*.py") if p != path and p.is_file()]
        steps = []
        for _ in range(rng.randint(1, 3)):
            data, what = mutate_bytes(rng, data, others)
            steps.append(what)
        path.write_bytes(data)
        case.note(f"{rel} ({where}): " + "; ".join(steps))
        case.keep(rel, data)


def finish(case: Case, project: Project) -> None:
    """Attach the static oracle for the case's command to the case."""
    if "--against" in case.args:
        rev = case.args[case.args.index("--against") + 1]
        case.oracle = against_oracle(project.repo, project.packages(), rev)
    else:
        case.oracle = django_oracle(project.repo.root, project.packages())


# ---------------------------------------------------------------------------
# Family: missing-dep


def typo(rng: random.Random, name: str) -> str:
    if name == "0001_initial" and rng.random() < 0.5:
        return rng.choice(("0001_inidial", "0001_initail", "0001_Initial", "0001_initial.py"))
    choice = rng.randrange(5)
    if choice == 0:
        return f"{int(name[:4]) + 5:04d}{name[4:]}"
    if choice == 1:
        at = rng.randrange(5, len(name))
        return name[:at] + rng.choice("abcxyz_") + name[at + 1 :]
    if choice == 2:
        return name + " "
    if choice == 3:
        return name[: rng.randrange(5, len(name))]
    return name.upper()


def family_missing_dep(rng: random.Random, trial: Path) -> Case:
    project = new_project(trial, rng)
    variant = rng.choice(("typo", "squash-deleted", "renumber-interrupted", "cross-app", "first"))
    lengths = {a: rng.randint(3, 5) for a in project.apps}
    if variant == "cross-app" and "shop" not in project.apps:
        project.apps["shop"] = AppState("shop", {}, [], 0)
        lengths["shop"] = 2
    project.build(lengths)
    repo = project.repo
    case = Case(repo.root)
    case.note(f"project apps {list(project.apps)}, style {project.style.name}; variant {variant}")
    placement = rng.choice(("committed", "worktree", "merged", "against"))
    div = None
    if placement in ("merged", "against"):
        div = diverge(project, "polls")
        case.note(f"polls: main adds {div.main}, feature adds {div.feature}")
        branch = rng.choice(("main", "feature"))
        repo.git("checkout", "-q", branch)
        if branch == "feature":
            project.restore(div.feature_state)
        case.note(f"damage made on {branch}")
    broken = _break_dependencies(rng, project, case, variant)
    if placement != "worktree":
        repo.commit(f"missing dependency: {broken}")
    if div is not None:
        repo.git("checkout", "-q", "main")
        if placement == "against":
            case.args = ["check", "--against", "feature"]
        else:
            repo.git("merge", "-q", "--no-edit", "feature", check=False)
            case.note("git merge feature")
    finish(case, project)
    return case


def _break_dependencies(rng: random.Random, project: Project, case: Case, variant: str) -> str:
    repo = project.repo
    polls = project.apps["polls"]
    if variant == "squash-deleted" and len(polls.chain) >= 3:
        cut = rng.randint(2, len(polls.chain) - 1)
        gone = polls.chain[:cut]
        squashed = f"0001_squashed_{gone[-1]}"
        ops = [Op("CreateModel", model=m, fields=[]) for m in sorted(polls.models)]
        data = render_migration("polls", [], ops, project.style, initial=True)
        for name in gone:
            (repo.root / project.path("polls", name)).unlink()
        repo.write(project.path("polls", squashed), data)
        polls.chain[:cut] = [squashed]
        case.note(f"squash {gone} into {squashed} without replaces; originals deleted")
        case.keep(project.path("polls", squashed), data)
        later = [project.path("polls", n) for n in polls.chain[1:]]
        for rel in later[:1]:
            case.keep(rel)
        return f"{later[:1]} still depends on {gone[-1]}"
    if variant == "renumber-interrupted" and len(polls.chain) >= 3:
        at = rng.randint(1, len(polls.chain) - 2)
        old = polls.chain[at]
        new = f"{polls.number + 1:04d}{old[4:]}"
        follower = project.path("polls", polls.chain[at + 1])
        if rng.random() < 0.5:
            (repo.root / project.path("polls", old)).rename(repo.root / project.path("polls", new))
            case.note(f"renamed {old} -> {new}; {follower} still depends on {old}")
        else:
            data = repo.read(follower).replace(old.encode(), new.encode())
            repo.write(follower, data)
            case.note(f"{follower} now depends on {new}; {old} was never renamed")
        case.keep(follower)
        return f"renumber of {old}"
    if variant == "cross-app" and "shop" in project.apps:
        target = typo(rng, rng.choice(polls.chain))
        name, data = project.add(
            "shop", deps=[("shop", project.apps["shop"].chain[-1]), ("polls", target)]
        )
        case.note(f"shop/{name} depends on ('polls', {target!r}), which does not exist")
        case.keep(project.path("shop", name), data)
        return target
    if variant == "first":
        # Django ignores a same-app __first__ (a second root and leaf), not __latest__
        special = rng.choice(("__first__", "__latest__"))
        name, data = project.add("polls", deps=[("polls", special)])
        case.note(f"polls/{name} depends only on ('polls', {special!r})")
        case.keep(project.path("polls", name), data)
        return special
    target = typo(rng, rng.choice(polls.chain))
    if rng.random() < 0.5 and len(polls.chain) > 1:
        victim = project.path("polls", polls.chain[-1])
        dep = polls.chain[-2]
        data = repo.read(victim)
        q = project.style.q
        data = data.replace(
            f"({q('polls')}, {q(dep)})".encode(), f"({q('polls')}, {q(target)})".encode()
        )
        repo.write(victim, data)
        case.note(f"{victim}: dependency {dep!r} -> {target!r}")
        case.keep(victim, data)
        return target
    name, data = project.add("polls", deps=[("polls", target)])
    case.note(f"polls/{name} depends on ('polls', {target!r}), which does not exist")
    case.keep(project.path("polls", name), data)
    return target


# ---------------------------------------------------------------------------
# Family: deep


def nest(rng: random.Random, inner: str, depth: int) -> tuple[str, str]:
    kind = rng.choice(("paren", "list", "tuple", "dict", "subscript"))
    if kind == "paren":
        return "(" * depth + inner + ")" * depth, f"{depth} nested parentheses"
    if kind == "list":
        return "[" * depth + inner + "]" * depth + "[0]" * depth, f"{depth} nested lists"
    if kind == "tuple":
        return "(" * depth + inner + ",)" * depth + "[0]" * depth, f"{depth} nested tuples"
    if kind == "dict":
        return "{'k': " * depth + inner + "}" * depth + "['k']" * depth, f"{depth} nested dicts"
    return "[" + inner + "]" + "[0:1]" * depth + "[0]", f"{depth} subscripts"


# Sizes around the limits: the parser's 200 nested brackets, the compiler's
# ~3000-deep expressions (sizes near 3000 are left out: there the answer hangs
# on how deep the caller's stack is).
DEPTHS = (20, 100, 150, 199, 200, 201, 250, 1000)
CHAINS = (100, 1000, 2000, 2400, 4000, 10000, 50000)


def deep_expression(rng: random.Random, key: tuple[str, str], dep: str) -> tuple[str, str]:
    """A `dependencies` value meaning [dep] (the text of `key`), written the hard way."""
    kind = rng.choice(("nest", "nest", "plus", "attr", "strcat", "calls", "not", "lambda"))
    if kind == "nest":
        inner, what = nest(rng, dep, rng.choice(DEPTHS))
        return f"[{inner}]", what
    n = rng.choice(CHAINS)
    if kind == "plus":
        return f"[{dep}]" + " + []" * n, f"{n} '+ []'"
    if kind == "attr":
        return f"[{dep}] if True else x" + ".y" * n, f"an attribute chain of {n}"
    if kind == "strcat":
        app, name = key
        parts = " ".join(repr(c) for c in name) + " ''" * n
        return f"[({app!r}, {parts})]", f"a name of {len(name) + n} concatenated literals"
    if kind == "calls":
        return f"[{dep}]" + " or f()" * min(n, 4000), f"{min(n, 4000)} 'or f()'"
    if kind == "not":
        return f"[{dep}] if " + "not " * n + "False else []", f"{n} 'not'"
    return f"[{dep}] if True else " + "lambda: " * n + "0", f"{n} lambdas"


def deep_body(
    rng: random.Random, project: Project, app: str
) -> tuple[str, str, str, str, list[Op] | None]:
    """(deps_text, extra_body, prelude, what, operations): a migration with a huge or deep part."""
    q = project.style.q
    prev = project.apps[app].chain[-1]
    dep = f"({q(app)}, {q(prev)})"
    plain = f"    dependencies = [\n        {dep},\n    ]\n"
    model = sorted(project.apps[app].models)[0]
    slot = rng.choice(
        ("deps", "deps", "field", "sql", "sql-list", "module", "ops", "many-deps", "line", "indent")
    )
    if slot == "deps":
        value, what = deep_expression(rng, (app, prev), dep)
        return f"    dependencies = {value}\n", "", "", f"dependencies = {what}", None
    if slot == "field":
        value, what = nest(rng, "1", rng.choice(DEPTHS))
        op = Op("AddField", model, "deep", code=f"models.JSONField(default={value})")
        return plain, "", "", f"an AddField whose default is {what}", [op]
    if slot in ("sql", "sql-list"):
        rows = ",\n".join(f"({i}, 'row {i}')" for i in range(rng.choice((100, 1000, 2000, 4000))))
        sql = f"INSERT INTO {app}_{model.lower()} (id, text) VALUES\n" + rows + ";"
        literal = repr(sql) if rng.random() < 0.5 else f'"""{sql}"""'
        if slot == "sql-list":
            literal = "[" + ", ".join([literal] * rng.choice((2, 50))) + "]"
        op = Op("RunSQL", model, code=literal)
        return plain, "", "", f"a RunSQL of a {len(literal) // 1024} KB INSERT ({slot})", [op]
    if slot == "module":
        value, what = nest(rng, "1", rng.choice(DEPTHS))
        return plain, "", f"HELPER = {value}\n\n", f"a module constant of {what}", None
    if slot == "ops":
        n = rng.choice((500, 2000, 5000))
        ops = [
            Op("AddField", model, f"many_{i}", code="models.IntegerField(default=0)")
            for i in range(n)
        ]
        return plain, "", "", f"{n} AddField operations", ops
    if slot == "many-deps":
        n = rng.choice((1000, 5000))
        deps = "".join(f"        {dep},\n" for _ in range(n))
        return f"    dependencies = [\n{deps}    ]\n", "", "", f"{n} copies of one dependency", None
    if slot == "line":
        n = rng.choice((10_000, 200_000, 1_000_000))
        op = Op("AddField", model, "long", code=f"models.TextField(default={q('x' * n)})")
        return plain, "", "", f"a {n}-character line", [op]
    depth = rng.choice((50, 99, 100, 101, 150))
    body = (
        "".join("    " * (i + 1) + "if x:\n" for i in range(depth))
        + "    " * (depth + 1)
        + "pass\n"
    )
    prelude = "def helper(x):\n" + body + "\n\n"
    return plain, "", prelude, f"a function {depth} blocks deep", None


def family_deep(rng: random.Random, trial: Path) -> Case:
    project, case = built_project(rng, trial)
    repo = project.repo
    app = rng.choice(sorted(project.apps))
    conflict = rng.random() < 0.5
    if conflict:
        div = diverge(project, app)
        case.note(f"{app}: main adds {div.main}, feature adds {div.feature}")
        repo.git("merge", "-q", "--no-edit", "feature")
        case.note("git merge feature")
    deps_text, extra, prelude, what, ops = deep_body(rng, project, app)
    name = f"{project.apps[app].number + 1:04d}_deep"
    if ops is None:
        _, ops = project.next_ops(app)
    data = render_migration(
        app, None, ops, project.style, deps_text=deps_text, extra_body=extra, prelude=prelude
    )
    rel = project.path(app, name)
    repo.write(rel, data)
    case.note(f"{rel}: {what} (after {project.apps[app].chain[-1]})")
    case.keep(rel, data if len(data) < 300_000 else None)
    if rng.random() < 0.5:
        repo.commit("deep migration")
        case.note("committed")
    finish(case, project)
    return case


# ---------------------------------------------------------------------------
# Family: paths


ODD = (
    "\n",
    "'",
    '"',
    " ",
    "\t",
    "\\",
    "\udcff",
    "\udce9",
    "é",
    "#",
    "$(x)",
    "%s",
    "*",
    "[a]",
    "\r",
)


def family_paths(rng: random.Random, trial: Path) -> Case:
    variant = rng.choice(
        ("odd-name", "odd-name", "odd-name", "fifo", "folder", "symlink", "symlink-folder")
    )
    return {
        "odd-name": _odd_name,
        "fifo": _fifo,
        "folder": _folder,
        "symlink": _symlink,
        "symlink-folder": _symlink_folder,
    }[variant](rng, trial)


def _small_conflict(rng: random.Random, trial: Path) -> tuple[Project, Case, Diverged]:
    """polls with two migrations, then one more on main and one on a branch feature."""
    project = new_project(trial, rng, ["polls"])
    project.build({"polls": 2})
    return project, Case(project.repo.root), diverge(project, "polls")


def _odd_name(rng: random.Random, trial: Path) -> Case:
    project, case, div = _small_conflict(rng, trial)
    repo = project.repo
    odd = "".join(rng.sample(ODD, rng.randint(1, 2)))
    shape = rng.choice(("leaf", "chain", "untracked", "against", "in-progress"))
    polls = project.apps["polls"]
    if shape in ("leaf", "against", "in-progress"):
        # feature's leaf gets the odd name: a conflict with main's leaf
        repo.git("checkout", "-q", "feature")
        old = div.feature[0]
        new = f"{old[:5]}odd{odd}name"
        (repo.root / project.path("polls", old)).rename(repo.root / project.path("polls", new))
        repo.commit("odd name")
        repo.git("checkout", "-q", "main")
        div.feature = [new]
        case.note(f"polls: main adds {div.main}, feature adds {div.feature!r}")
        if shape == "against":
            case.args = ["check", "--against", "feature"]
        else:
            extra = ["--no-commit", "--no-ff"] if shape == "in-progress" else []
            repo.git("merge", "-q", "--no-edit", *extra, "feature")
            case.note(" ".join(["git merge", *extra, "feature"]))
        case.keep(project.path("polls", new))
        finish(case, project)
        if shape != "leaf" and case.oracle is not None and case.oracle.exit is not None:
            case.oracle.sides = {div.main[0]: "local", new: "upstream"}
        return case
    # a straight line: main's leaf renamed, the next migration names it with the odd name
    old = div.main[0]
    new = f"{old[:5]}odd{odd}name"
    (repo.root / project.path("polls", old)).rename(repo.root / project.path("polls", new))
    polls.chain[-1] = new
    name, data = project.add("polls")
    case.note(f"polls: {new!r} then {name} depending on it; feature branch unmerged")
    case.keep(project.path("polls", new))
    case.keep(project.path("polls", name), data)
    if shape == "chain":
        repo.commit("odd name in a chain")
    finish(case, project)
    return case


def _special_path(rng: random.Random, project: Project, new: str) -> str:
    """Where to put a FIFO or a folder: a migration (tracked or new) or a file check reads."""
    polls = project.apps["polls"]
    return rng.choice(
        (
            project.path("polls", polls.chain[-1]),
            project.path("polls", new),
            project.path("polls", "__init__"),
            "manage.py",
            "proj/settings.py",
            "polls/apps.py",
            "pyproject.toml",
            ".migmerge.toml",
        )
    )


def _fifo(rng: random.Random, trial: Path) -> Case:
    project, case = built_project(rng, trial)
    repo = project.repo
    if rng.random() < 0.5:
        div = diverge(project, "polls")
        repo.git("merge", "-q", "--no-edit", "feature")
        case.note(f"polls: main adds {div.main}, feature adds {div.feature}; merged")
    where = _special_path(rng, project, "0009_fifo")
    path = repo.root / where
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.mkfifo(path)
    case.note(f"{where} is a FIFO (nobody writes to it)")
    if rng.random() < 0.3 and "feature" in repo.git("branch"):
        case.args = ["check", "--against", "feature"]
    case.oracle = Oracle(what=["a FIFO: no exact answer (Django would block too)"])
    return case


def _folder(rng: random.Random, trial: Path) -> Case:
    project, case = built_project(rng, trial)
    repo = project.repo
    where = _special_path(rng, project, "0009_folder")
    path = repo.root / where
    tracked = rng.random() < 0.5 and not path.exists()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("not a module\n")
    if rng.random() < 0.5:
        (path / "__init__.py").write_text("")
    if tracked:
        repo.commit("a folder named like a module")
    case.note(f"{where} is a folder ({'tracked contents' if tracked else 'on disk only'})")
    finish(case, project)
    if case.oracle is not None and case.oracle.exit is not None:
        case.oracle.exit.add(2)  # a project file that is a folder may be called bad input
    return case


def _symlink(rng: random.Random, trial: Path) -> Case:
    project, case, div = _small_conflict(rng, trial)
    repo = project.repo
    repo.git("checkout", "-q", "feature")
    leaf = div.feature[0]
    rel = project.path("polls", leaf)
    data = repo.read(rel)
    target_kind = rng.choice(("inside", "outside", "dangling", "loop", "dev-zero", "absolute"))
    (repo.root / rel).unlink()
    if target_kind == "inside":
        repo.write(f"shared/{leaf}.py", data)
        os.symlink(f"../../shared/{leaf}.py", repo.root / rel)
    elif target_kind in ("outside", "absolute"):
        outside = trial / "outside" / f"{leaf}.py"
        outside.parent.mkdir(parents=True, exist_ok=True)
        outside.write_bytes(data)
        link = str(outside) if target_kind == "absolute" else f"../../../outside/{leaf}.py"
        os.symlink(link, repo.root / rel)
    elif target_kind == "dangling":
        os.symlink("../../nowhere/missing.py", repo.root / rel)
    elif target_kind == "loop":
        os.symlink(f"{leaf}_b.py", repo.root / rel)
        os.symlink(f"{leaf}.py", repo.root / project.path("polls", f"{leaf}_b"))
    else:
        os.symlink("/dev/zero", repo.root / rel)
    tracked = rng.random() < 0.6
    if tracked:
        repo.commit(f"{leaf} is a symlink ({target_kind})")
        repo.git("checkout", "-q", "main")
        repo.git("merge", "-q", "--no-edit", "feature")
        case.note(
            f"polls: main adds {div.main}; feature's {leaf} is a symlink ({target_kind}); merged"
        )
    else:
        case.note(f"on feature, untracked: {rel} is a symlink ({target_kind})")
    case.keep(rel, os.readlink(repo.root / rel).encode("utf-8", "surrogateescape"))
    finish(case, project)
    if target_kind in ("outside", "absolute"):
        case.oracle = Oracle(what=["a link out of the repository: no exact answer"])
    return case


def _symlink_folder(rng: random.Random, trial: Path) -> Case:
    project, case, div = _small_conflict(rng, trial)
    repo = project.repo
    repo.git("merge", "-q", "--no-edit", "feature")
    kind = rng.choice(("inside", "outside"))
    package = repo.root / "polls" / "migrations"
    if kind == "inside":
        store = repo.root / "store" / "polls_migrations"
        link = "../store/polls_migrations"
    else:
        store = trial / "outside" / "polls_migrations"
        link = "../../outside/polls_migrations"
    store.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(package), str(store))
    os.symlink(link, package)
    tracked = rng.random() < 0.6
    if tracked:
        repo.commit("polls/migrations is a symlink")
    case.note(
        f"polls: main adds {div.main}, feature adds {div.feature}, merged; polls/migrations is "
        f"a symlink to {link} ({'committed' if tracked else 'on disk only'})"
    )
    finish(case, project)
    if kind == "outside" and case.oracle is not None:
        case.oracle = Oracle(what=["links out of the repository: no exact answer"])
    return case


# ---------------------------------------------------------------------------
# Family: python


REFUSED = {
    "braces": "from __future__ import braces\n",
    "python2-print": 'print "migrating"\n',
    "tab-space-mix": "if True:\n    x = 1\n\ty = 2\n",
    "top-level-return": "return None\n",
    "break-outside-loop": "break\n",
    "nonlocal": "nonlocal x\n",
    "duplicate-argument": "def f(a, a):\n    pass\n",
    "late-future": "import os\nfrom __future__ import annotations\n",
    "unknown-future": "from __future__ import nope\n",
    "unknown-unicode-name": "x = '\\N{NO SUCH NAME}'\n",
    "unterminated": "x = '''never closed\n",
    "invalid-utf8": "x = 'caf\xe9'\n",
    "bogus-coding": "# -*- coding: no-such-codec -*-\n",
    "coding-on-line-3": "#!/usr/bin/env python\n#\n# -*- coding: latin-1 -*-\nx = 'caf\xe9'\n",
    "bom-and-latin-1": "\ufeff# -*- coding: latin-1 -*-\n",
    "nul-byte": "x = 1\0\n",
    "await-outside": "await x\n",
    "yield-outside": "yield 1\n",
    "star-assign": "*a = [1]\n",
    "assign-to-literal": "1 = x\n",
}

ACCEPTED = {
    "latin-1-cookie": ("# -*- coding: latin-1 -*-\n", "caf\xe9", "latin-1"),
    "vim-cookie": ("# vim: set fileencoding=latin-1 :\n", "caf\xe9", "latin-1"),
    "cookie-after-latin-1-comment": (
        "# Caf\xe9\n# -*- coding: latin-1 -*-\n",
        "\xe9t\xe9",
        "latin-1",
    ),
    "cookie-after-shebang": ("#!/usr/bin/env python\n# coding=latin-1\n", "na\xefve", "latin-1"),
    "cp1252-cookie": ("# coding: cp1252\n", "\u20ac price", "cp1252"),
    "emacs-mode-cookie": ("# -*- mode: python; coding: iso-8859-15 -*-\n", "\u20ac", "iso-8859-15"),
    "form-feed-cookie": ("\x0c# coding: latin-1\n", "\xe9", "latin-1"),
    "utf-8-bom": ("\ufeff", "caf\xe9", "utf-8"),
    "utf-8-bom-cookie": ("\ufeff# -*- coding: utf-8 -*-\n", "caf\xe9", "utf-8"),
    "utf8-spelling": ("# coding: utf8\n", "caf\xe9", "utf-8"),
    "blank-first-line-cookie": ("\n# coding: latin-1\n", "\xe9", "latin-1"),
    "euc-jp-cookie": ("# coding: euc_jp\n", "\u3042", "euc_jp"),
    "continued-comment-cookie": ("#\\\n# coding: latin-1\n", "\xe9", "latin-1"),
}


def quirky_source(
    rng: random.Random, project: Project, app: str, deps: list[tuple[str, str]]
) -> tuple[bytes, str, bool]:
    """(bytes, what, accepted) of a migration Python refuses or a naive reader would."""
    _, ops = project.next_ops(app)
    base = render_migration(app, deps, ops, project.style).decode("utf-8", "surrogateescape")
    kind = rng.choice(("refused", "accepted", "accepted", "layout"))
    if kind != "layout" and rng.random() < 0.5:
        # A comment in the list is no plain header: the full parser reads this one.
        base = base.replace("    dependencies = [\n", "    dependencies = [  # parent\n", 1)
        kind += " (unusual header)"
    if kind.startswith("refused"):
        name = rng.choice(sorted(REFUSED))
        snippet = REFUSED[name]
        if name in ("bogus-coding", "coding-on-line-3", "bom-and-latin-1") or rng.random() < 0.5:
            text = snippet + base
        else:
            text = base + "\n" + snippet
        data = text.encode(
            "latin-1" if name in ("invalid-utf8", "coding-on-line-3") else "utf-8",
            "surrogateescape",
        )
        return data, f"{kind}: {name}", False
    if kind.startswith("accepted"):
        name = rng.choice(sorted(ACCEPTED))
        head, word, encoding = ACCEPTED[name]
        body = base.replace("class Migration", f"VERBOSE = {word!r}\n\n\nclass Migration", 1)
        if rng.random() < 0.5:
            body = body.replace("# Generated by Django", f"# Generated by Django ({word})", 1)
        bom = head.startswith("\ufeff")
        data = (b"\xef\xbb\xbf" if bom else b"") + (head.lstrip("\ufeff") + body).encode(encoding)
        return data, f"{kind}: {name}", True
    layout = rng.choice(
        (
            "crlf",
            "cr",
            "form-feeds",
            "tabs",
            "trailing-spaces",
            "comment-in-deps",
            "continuation",
            "one-line-class",
            "semicolons",
        )
    )
    text = base
    if layout == "crlf":
        text = text.replace("\n", "\r\n")
    elif layout == "cr":
        text = text.replace("\n", "\r")
    elif layout == "form-feeds":
        text = text.replace("\nclass Migration", "\n\x0c\nclass Migration").replace(
            "\n    dependencies", "\n\x0c    dependencies"
        )
    elif layout == "tabs":
        text = re.sub(r"(?m)^((?:    )+)", lambda m: "\t" * (len(m.group(1)) // 4), text)
    elif layout == "trailing-spaces":
        text = text.replace("\n", "   \n")
    elif layout == "comment-in-deps":
        text = text.replace(
            "    dependencies = [", "    dependencies = [  # the previous one\n        # see #42", 1
        )
    elif layout == "continuation":
        text = text.replace("    dependencies = [", "    dependencies = \\\n        [", 1)
    elif layout == "one-line-class":
        q = project.style.q
        items = ", ".join(f"({q(a)}, {q(n)})" for a, n in deps)
        text = (
            "from django.db import migrations\n\n\n"
            f"class Migration(migrations.Migration): dependencies = [{items}]; operations = []\n"
        )
    else:
        text = text.replace("    initial = True\n", "    initial = True; atomic = True\n")
        text = text.replace("    operations = [", "    x = 1; operations = [", 1)
    return text.encode("utf-8", "surrogateescape"), f"accepted layout: {layout}", True


def family_python(rng: random.Random, trial: Path) -> Case:
    project, case = built_project(rng, trial)
    repo = project.repo
    app = rng.choice(sorted(project.apps))
    state = project.apps[app]
    shape = rng.choice(("leaf", "middle", "conflict"))
    if shape == "conflict":
        div = diverge(project, app)
        repo.git("merge", "-q", "--no-edit", "feature")
        case.note(f"{app}: main adds {div.main}, feature adds {div.feature}; merged")
        prev = state.chain[-2]
        name = f"{state.number:04d}_quirk"
    elif shape == "middle" and len(state.chain) > 1:
        prev = state.chain[-2]
        name = state.chain[-1]
    else:
        prev = state.chain[-1]
        name = f"{state.number + 1:04d}_quirk"
    data, what, _accepted = quirky_source(rng, project, app, [(app, prev)])
    rel = project.path(app, name)
    repo.write(rel, data)
    case.note(f"{rel} (after {prev}): {what}")
    case.keep(rel, data)
    if rng.random() < 0.5:
        repo.commit("quirky migration")
        case.note("committed")
    finish(case, project)
    return case


# ---------------------------------------------------------------------------
# Family: cache


def _junk(rng: random.Random, depth: int = 0) -> Any:
    """A random value marshal can store: the shapes a damaged cache may hold."""
    kind = rng.randrange(10 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.randint(-(2**40), 2**40)
    if kind == 2:
        return rng.choice(("", "polls", "0001_initial", "x" * 50, "\udcff", "a\0b"))
    if kind == 3:
        return rng.random() < 0.5
    if kind == 4:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 8)))
    if kind == 5:
        return rng.random()
    items = [_junk(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == 6:
        return tuple(items)
    if kind == 7:
        return items
    if kind == 8:
        return {str(i): v for i, v in enumerate(items)}
    return frozenset(x for x in items if isinstance(x, str | int | bool | bytes))


def _lie_headers(rng: random.Random, entries: dict[Any, Any]) -> str:
    """Change one header entry to another well-formed, wrong one."""
    sha = rng.choice(sorted(entries))
    deps, initial = entries[sha]
    kind = rng.choice(("no-deps", "other-dep", "flip-initial", "junk-value"))
    if kind == "no-deps":
        entries[sha] = ((), initial)
    elif kind == "other-dep":
        entries[sha] = (tuple(deps) + (("polls", "0001_initial"),), initial)
    elif kind == "flip-initial":
        entries[sha] = (deps, not initial)
    else:
        entries[sha] = (_junk(rng), _junk(rng))
    return f"header entry {sha[:12]} lies ({kind})"


def _lie_memo(rng: random.Random, stored: Any) -> tuple[Any, str]:
    signature, outcome = stored
    kept, removed, warnings, shapes = outcome
    kind = rng.choice(
        ("no-conflicts", "no-packages", "relabel", "extra-warning", "shape-junk", "extra-shape")
    )
    if kind == "no-conflicts":
        outcome = (kept, removed, warnings, ())
    elif kind == "no-packages":
        outcome = ((), removed, warnings, shapes)
    elif kind == "relabel":
        outcome = (tuple((d, "zzz", s) for d, _, s in kept), removed, warnings, shapes)
    elif kind == "extra-warning":
        outcome = (
            kept,
            removed,
            (*warnings, ("unreadable-migration", "polls", "a lie", None)),
            shapes,
        )
    elif kind == "shape-junk":
        outcome = (kept, removed, warnings, tuple(_junk(rng) for _ in range(2)))
    else:
        fake = ("polls/migrations", "polls", ("0001_initial", "9999_ghost"), None, (), ())
        outcome = (kept, removed, warnings, (*shapes, fake))
    return (signature, outcome), f"graph entry lies ({kind})"


def damage_cache(rng: random.Random, folder: Path) -> str:
    """Damage what the cache folder holds; return what was done."""
    files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        return "nothing to damage (no cache written)"
    kind = rng.choice(
        (
            "truncate",
            "random",
            "flip",
            "wrong-shape",
            "wrong-shape",
            "lie",
            "lie",
            "fifo",
            "folder",
            "empty",
        )
    )
    victims = rng.sample(files, rng.randint(1, len(files)))
    if kind == "lie":
        victims = files
    done = []
    for victim in victims:
        data = victim.read_bytes()
        is_headers = victim.name.startswith("headers-")
        if kind == "truncate":
            at = rng.randrange(len(data)) if data else 0
            victim.write_bytes(data[:at])
            done.append(f"{victim.name} truncated at {at}")
        elif kind == "random":
            victim.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(1, 400))))
            done.append(f"{victim.name} replaced by random bytes")
        elif kind == "flip" and data:
            out = bytearray(data)
            for _ in range(rng.randint(1, 6)):
                out[rng.randrange(len(out))] = rng.randrange(256)
            victim.write_bytes(bytes(out))
            done.append(f"{victim.name} bytes flipped")
        elif kind == "wrong-shape":
            value = _wrong_shape(rng, data, is_headers)
            victim.write_bytes(marshal.dumps(value))
            done.append(f"{victim.name} holds marshal of {_short(repr(value))}")
        elif kind == "lie":
            with contextlib.suppress(Exception):
                value = marshal.loads(data)
                if is_headers and isinstance(value, dict) and value:
                    done.append(_lie_headers(rng, value))
                elif not is_headers:
                    value, what = _lie_memo(rng, value)
                    done.append(what)
                victim.write_bytes(marshal.dumps(value))
        elif kind == "fifo":
            victim.unlink()
            os.mkfifo(victim)
            done.append(f"{victim.name} replaced by a FIFO")
        elif kind == "folder":
            victim.unlink()
            victim.mkdir()
            done.append(f"{victim.name} replaced by a folder")
        else:
            victim.write_bytes(b"")
            done.append(f"{victim.name} emptied")
    if kind == "lie" and rng.random() < 0.5:
        for graph in folder.glob("graph-*"):
            graph.unlink()
        done.append("graph entries removed (the headers are read)")
    return "; ".join(done) or kind


def _wrong_shape(rng: random.Random, data: bytes, is_headers: bool) -> Any:
    try:
        real = marshal.loads(data)
    except Exception:
        real = None
    if is_headers and isinstance(real, dict) and real and rng.random() < 0.7:
        sha = rng.choice(sorted(real))
        real[sha] = rng.choice(
            (
                (_junk(rng), None),
                ((("polls",),), True),
                (((1, 2),), False),
                ((None, None), None),
                (("polls", "0001_initial"), None),
                ((("polls", None),), None),
            )
        )
        return real
    if not is_headers and isinstance(real, tuple) and len(real) == 2 and rng.random() < 0.7:
        return (real[0], rng.choice((None, 1, (1, 2, 3, 4), ((), (), (), ()), [], _junk(rng))))
    return _junk(rng)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def family_cache(rng: random.Random, trial: Path) -> Case:
    project, case = built_project(rng, trial)
    repo = project.repo
    if rng.random() < 0.6:
        app = rng.choice(sorted(project.apps))
        div = diverge(project, app)
        repo.git("merge", "-q", "--no-edit", "feature")
        case.note(f"{app}: main adds {div.main}, feature adds {div.feature}; merged")
    if rng.random() < 0.3:
        name, data = project.add("polls")
        case.note(f"untracked {name}")
    args = ["check", "--format", "json"]
    if rng.random() < 0.25 and "feature" in repo.git("branch"):
        if rng.random() < 0.5:
            repo.git("reset", "-q", "--hard", "HEAD~1")
            case.note("merge undone: git reset --hard HEAD~1")
        args = ["check", "--against", "feature", "--format", "json"]
        case.note("check --against feature")
    folder = trial / "cache"
    damage_rng = random.Random(rng.random())

    def damage() -> str:
        what = damage_cache(damage_rng, folder)
        case.note(f"cache damage: {what}")
        return what

    case.runs = [
        RunSpec("no-cache", args, env={"MIGMERGE_NO_CACHE": "1"}, oracle=True),
        RunSpec("populate", args, same_as="no-cache"),
        RunSpec("damaged", args, before=damage, same_as="no-cache"),
        RunSpec("after", args, same_as="no-cache"),
        RunSpec("text", [a for a in args if a not in ("--format", "json")], same_as="no-cache"),
    ]
    case.args = args
    finish(case, project)
    return case


# ---------------------------------------------------------------------------
# Family: writes


def wal_database(
    path: Path, rows: list[tuple[str, str]], keep_wal: bool
) -> sqlite3.Connection | None:
    """A SQLite database in WAL mode with django_migrations; -wal/-shm left when keep_wal."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE django_migrations (id integer primary key, app varchar(255),"
        " name varchar(255), applied datetime)"
    )
    conn.executemany(
        "INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, '2024-01-01')", rows
    )
    conn.commit()
    if keep_wal:
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', 'z')")
        conn.commit()
        return conn  # kept open: the -wal holds the last commit
    conn.close()
    return None


def family_writes(rng: random.Random, trial: Path) -> Case:
    project = new_project(trial, rng)
    repo = project.repo
    variant = rng.choice(("wal", "wal", "wal-open", "db-odd", "submodule", "submodule", "both"))
    db_rel = rng.choice(("db.sqlite3", "data/app.db"))
    db_name = (
        "BASE_DIR / 'db.sqlite3'" if db_rel == "db.sqlite3" else "BASE_DIR / 'data' / 'app.db'"
    )
    project.write_skeleton(db_name)
    for app in project.apps:
        project.initial(app)
        for _ in range(rng.randint(1, 3)):
            project.add(app)
    repo.write(".gitignore", "__pycache__/\n*.sqlite3\n*.db\n*-wal\n*-shm\n")
    if rng.random() < 0.3:
        repo.write("pyproject.toml", f'[tool.migmerge]\ndatabase = "{db_rel}"\n')
    repo.commit("base project")
    case = Case(repo.root)
    if variant in ("submodule", "both"):
        _add_submodule(trial, repo)
        case.note("a submodule at vendor/lib, added on main before the branches")
    app = rng.choice(sorted(project.apps))
    div = diverge(project, app)
    case.note(f"{app}: main adds {div.main}, feature adds {div.feature}")
    merge = rng.choice(("merged", "in-progress", "against"))
    if merge == "against":
        case.args = ["check", "--against", "feature"]
    else:
        extra = ["--no-commit", "--no-ff"] if merge == "in-progress" else []
        repo.git("merge", "-q", "--no-edit", *extra, "feature")
    case.note(f"merge: {merge}")
    if variant in ("wal", "wal-open", "both"):
        applied = [
            (a, n) for a, s in project.apps.items() for n in s.chain[: rng.randint(1, len(s.chain))]
        ]
        db = repo.root / db_rel
        db.parent.mkdir(parents=True, exist_ok=True)
        conn = wal_database(db, applied, keep_wal=variant == "wal-open")
        if conn is not None:
            # A copy of the three files as a crash would leave them, then close.
            for suffix in ("", "-wal", "-shm"):
                shutil.copyfile(f"{db}{suffix}", f"{db}.copy{suffix}")
            conn.close()
            for suffix in ("", "-wal", "-shm"):
                os.replace(f"{db}.copy{suffix}", f"{db}{suffix}")
        left = sorted(p.name for p in db.parent.iterdir() if p.name.startswith(db.name))
        case.note(f"{db_rel} in WAL mode, {len(applied)} applied rows; files {left}")
        if rng.random() < 0.2:
            db.chmod(0o444)
            case.note(f"{db_rel} read-only")
    if variant == "db-odd":
        db = repo.root / db_rel
        db.parent.mkdir(parents=True, exist_ok=True)
        odd = rng.choice(("empty", "garbage", "folder", "fifo", "symlink-out", "missing"))
        if odd == "empty":
            db.write_bytes(b"")
        elif odd == "garbage":
            db.write_bytes(b"SQLite format 3\0" + bytes(rng.randrange(256) for _ in range(300)))
        elif odd == "folder":
            db.mkdir()
        elif odd == "fifo":
            os.mkfifo(db)
        elif odd == "symlink-out":
            outside = trial / "outside" / "db.sqlite3"
            outside.parent.mkdir(parents=True, exist_ok=True)
            wal_database(outside, [], keep_wal=False)
            os.symlink(outside, db)
        case.note(f"{db_rel}: {odd}")
    if variant in ("submodule", "both"):
        _stale_submodule(rng, repo, case)
    finish(case, project)
    return case


def _add_submodule(trial: Path, repo: Repo) -> None:
    lib = Repo(trial / "libsrc", repo.env).init()
    lib.write("lib/__init__.py", "VALUE = 1\n")
    lib.write("lib/util.py", "def f():\n    return 1\n")
    lib.commit("lib")
    repo.git("submodule", "add", "-q", str(lib.root), "vendor/lib")
    repo.git("commit", "-q", "-m", "add submodule vendor/lib")


def _stale_submodule(rng: random.Random, repo: Repo, case: Case) -> None:
    """Leave the submodule as editors and pulls do: touched, edited, or not checked out."""
    state = rng.choice(("touched", "touched", "dirty", "deinit", "fresh"))
    sub = repo.root / "vendor" / "lib"
    if state == "touched":
        old = 1_600_000_000 * 10**9
        os.utime(sub / "lib" / "util.py", ns=(old, old))
    elif state == "dirty":
        (sub / "lib" / "util.py").write_text("def f():\n    return 2\n")
    elif state == "deinit":
        repo.git("submodule", "deinit", "-q", "-f", "vendor/lib")
    case.note(f"submodule vendor/lib {state} (its index is stale when touched or dirty)")


# ---------------------------------------------------------------------------
# Family: config


# Hostile [tool.migmerge] tables (pyproject.toml or .migmerge.toml): each file
# names migmerge, so that it is read.
CONFIGS = (
    "tool = 1  # migmerge\n",
    'tool = "migmerge"\n',
    "[tool]\nmigmerge = 5\n",
    "[tool.migmerge\n",
    "[tool.migmerge]\napps = { polls = 1 }\n",
    '[tool.migmerge]\napps = { "polls" = "" }\n',
    '[tool.migmerge]\napps = { "" = "polls" }\n',
    '[tool.migmerge]\nmigration-modules = ["", "/", "..", "../outside"]\n',
    '[tool.migmerge]\nmigration-modules = ["polls/migrations", "polls/migrations"]\n',
    '[tool.migmerge]\nexclude = ["[", "**", ""]\n',
    '[tool.migmerge]\ndatabase = "/dev/zero"\n',
    '[tool.migmerge]\ndatabase = "../../outside.db"\n',
    '[tool.migmerge]\ndatabase = ""\n',
    '[tool.migmerge]\nmanage-py = "/etc/passwd"\n',
    '[tool.migmerge]\nsettings = "..."\n',
    '[tool.migmerge]\nsettings = "os"\n',
    '[tool.migmerge]\ndefault-branch = "no/such/branch"\n',
    '[tool.migmerge]\nstrategy = "merge"\nunknown = 1\n',
    "# migmerge \xff\xfe not UTF-8\n",
)

# Hostile settings lines, appended to proj/settings.py.
SETTINGS_LINES = (
    "MIGRATION_MODULES = {'polls': 5}\n",
    "MIGRATION_MODULES = {'polls': ''}\n",
    "MIGRATION_MODULES = {'polls': '.'}\n",
    "MIGRATION_MODULES = {'polls': 'polls.migrations.'}\n",
    "MIGRATION_MODULES = {'polls': '..polls'}\n",
    "MIGRATION_MODULES = {'polls': 'shop.migrations', 'shop': 'polls.migrations'}\n",
    "MIGRATION_MODULES = {'shop': 'polls.migrations'}\n",
    "MIGRATION_MODULES = {1: 2, None: None}\n",
    "MIGRATION_MODULES = 'polls'\n",
    "MIGRATION_MODULES = {'polls': None, **{}}\n",
    "AUTH_USER_MODEL = 'a.b.c'\n",
    "AUTH_USER_MODEL = '.'\n",
    "AUTH_USER_MODEL = 'polls.Question'\n",
    "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': '/dev/zero'}}\n",
    "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ''}}\n",
    "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}\n",
    "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',"
    " 'NAME': 'file:x.db?mode=rwc'}}\n",
    "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'HOST': '/dev/null',"
    " 'PORT': 'x'}}\n",
    "DATABASES = {'default': 5}\n",
    "DATABASES = BASE_DIR\n",
)

# What manage.py names as the settings module.
SETTINGS_MODULES = ("", "..", "proj..settings", "os", "proj.settings.", "/etc/passwd", "é")


def family_config(rng: random.Random, trial: Path) -> Case:
    project = new_project(trial, rng, ["polls", "shop"])
    project.build()
    repo = project.repo
    case = Case(repo.root)
    if rng.random() < 0.6:
        div = diverge(project, rng.choice(("polls", "shop")))
        repo.git("merge", "-q", "--no-edit", "feature")
        case.note(f"{div.app}: main adds {div.main}, feature adds {div.feature}; merged")
    for _ in range(rng.randint(1, 2)):
        where = rng.choice(("pyproject.toml", ".migmerge.toml", "settings", "manage.py"))
        if where == "settings":
            line = rng.choice(SETTINGS_LINES)
            repo.write("proj/settings.py", repo.read("proj/settings.py") + line.encode())
            case.note(f"proj/settings.py ends with {line.strip()!r}")
        elif where == "manage.py":
            module = rng.choice(SETTINGS_MODULES)
            data = repo.read("manage.py").replace(b"'proj.settings'", repr(module).encode())
            repo.write("manage.py", data)
            case.note(f"manage.py names settings module {module!r}")
        else:
            text = rng.choice(CONFIGS)
            repo.write(where, text.encode("latin-1"))
            case.note(f"{where}: {text!r}")
            case.keep(where)
    if rng.random() < 0.3:
        repo.commit("hostile configuration")
        case.note("committed")
    if rng.random() < 0.2 and "feature" in repo.git("branch"):
        case.args = ["check", "--against", "feature"]
        case.note("check --against feature")
    case.keep("proj/settings.py")
    case.oracle = Oracle(what=["hostile configuration: exit 0, 1 or 2 with a message"])
    return case


# ---------------------------------------------------------------------------
# Family: git-states


def family_git_states(rng: random.Random, trial: Path) -> Case:
    variant = rng.choice(
        (
            "conflict-models",
            "conflict-migration",
            "add-add",
            "add-add-same",
            "delete-modify",
            "rebase",
            "rebase-migration",
            "cherry-pick",
            "shallow",
            "detached",
            "unborn",
            "worktree",
            "bad-merge-head",
            "odd-repo-path",
            "index-lock",
            "against-odd",
        )
    )
    odd_root = variant == "odd-repo-path"
    project = new_project(trial if not odd_root else trial / "re po\nx'y", rng, ["polls"])
    if odd_root:
        project.repo.env = clean_env(trial)
    repo = project.repo
    case = Case(repo.root)
    case.note(f"variant {variant}")
    if variant == "unborn":
        project.write_skeleton()
        project.initial("polls")
        project.add("polls")
        if rng.random() < 0.5:
            project.apps["polls"].chain.pop()
            project.add("polls")
        case.note("nothing committed: every file untracked")
        case.args = ["check"] if rng.random() < 0.7 else ["check", "--against", "main"]
        finish(case, project)
        return case
    project.build({"polls": 3})
    handler = GIT_STATES[variant]
    handler(rng, trial, project, case)
    if case.oracle is None:
        finish(case, project)
    return case


def _models_edit(repo: Repo, side: str) -> None:
    repo.write(
        "polls/models.py",
        "from django.db import models\n\n\nclass Question(models.Model):\n"
        f"    {side} = models.IntegerField(default=0)\n",
    )


def _both_sides(project: Project, edit: Callable[[Repo, str], None]) -> tuple[str, str]:
    """main and a new branch feature each add a polls migration and edit(repo, side).

    Returns (main's migration, feature's); HEAD is main.
    """
    repo = project.repo
    saved = project.fork()
    repo.git("checkout", "-q", "-b", "feature")
    feature = project.add("polls")[0]
    edit(repo, "feature")
    repo.commit("feature")
    repo.git("checkout", "-q", "main")
    project.restore(saved)
    main = project.add("polls")[0]
    edit(repo, "main")
    repo.commit("main")
    return main, feature


def _gs_conflict_models(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    main, feature = _both_sides(project, _models_edit)
    project.repo.git("merge", "--no-edit", "feature", check=False)
    case.note(f"main adds {main}, feature adds {feature}, both edit models.py: merge stopped")
    case.keep("polls/models.py")
    finish(case, project)
    if case.oracle is not None and case.oracle.exit is not None:
        case.oracle.sides = {main: "local", feature: "upstream"}


def _gs_conflict_migration(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    repo = project.repo
    rel = project.path("polls", project.apps["polls"].chain[-1])
    original = repo.read(rel)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(
        rel, original.replace(b"    operations = [", b"    atomic = False\n    operations = [", 1)
    )
    repo.commit("feature edits a migration")
    repo.git("checkout", "-q", "main")
    repo.write(
        rel, original.replace(b"    operations = [", b"    initial = False\n    operations = [", 1)
    )
    repo.commit("main edits the same migration")
    repo.git("merge", "--no-edit", "feature", check=False)
    case.note(f"both branches edit {rel}: conflict markers in it")
    case.keep(rel)


def _gs_add_add(
    rng: random.Random, trial: Path, project: Project, case: Case, same: bool = False
) -> None:
    repo = project.repo
    state = project.apps["polls"]
    name = f"{state.number + 1:04d}_same_name"
    saved = project.fork()
    repo.git("checkout", "-q", "-b", "feature")
    _, feature_data = project.add("polls", name=name)
    repo.commit("feature adds it")
    repo.git("checkout", "-q", "main")
    project.restore(saved)
    if same:
        repo.write(project.path("polls", name), feature_data)
        state.chain.append(name)
    else:
        project.add("polls", name=name)
    repo.commit("main adds it")
    repo.git("merge", "--no-edit", "feature", check=False)
    rel = project.path("polls", name)
    case.keep(rel)
    if same:
        case.note(f"both branches add {rel} with the same bytes: merged cleanly")
        return
    case.note(f"both branches add {rel} with different contents: add/add conflict")
    case.oracle = Oracle(
        what=["add/add of one migration name in a merge in progress"],
        exit={1, 2},
        mention=[name],
    )


def _gs_delete_modify(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    repo = project.repo
    rel = project.path("polls", project.apps["polls"].chain[-1])
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(rel, repo.read(rel) + b"\n# edited\n")
    repo.commit("feature edits")
    repo.git("checkout", "-q", "main")
    repo.git("rm", "-q", rel)
    repo.commit("main deletes")
    repo.git("merge", "--no-edit", "feature", check=False)
    case.note(f"main deletes {rel}, feature edits it: modify/delete conflict")


def _gs_rebase(
    rng: random.Random, trial: Path, project: Project, case: Case, in_migration: bool = False
) -> None:
    repo = project.repo
    rel = project.path("polls", project.apps["polls"].chain[-1])
    original = repo.read(rel)

    def edit(repo: Repo, side: str) -> None:
        if in_migration:
            repo.write(rel, original + f"\n# {side}\n".encode())
        else:
            _models_edit(repo, side)

    main, feature = _both_sides(project, edit)
    repo.git("checkout", "-q", "feature")
    repo.git("rebase", "main", check=False)
    case.note(
        f"feature ({feature}) rebased onto main ({main}): stopped on a conflict in "
        + (rel if in_migration else "polls/models.py")
    )
    finish(case, project)
    if case.oracle is not None and case.oracle.exit is not None:
        case.oracle.sides = {feature: "local", main: "upstream"}


def _gs_cherry_pick(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    main, feature = _both_sides(project, _models_edit)
    project.repo.git("cherry-pick", "feature", check=False)
    case.note(f"cherry-pick of feature ({feature}) onto main ({main}) stopped on models.py")


def _gs_shallow(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    repo = project.repo
    div = diverge(project, "polls")
    for _ in range(rng.randint(0, 3)):
        repo.git("checkout", "-q", "feature")
        repo.write("notes.txt", repo.git("rev-parse", "HEAD"))
        repo.commit("feature notes")
        repo.git("checkout", "-q", "main")
    depth = rng.choice((1, 1, 2, 50))
    clone = trial / "clone"
    repo.git(
        "clone", "-q", f"--depth={depth}", "--no-single-branch", f"file://{repo.root}", str(clone)
    )
    case.repo = clone
    case.args = ["check", "--against", "origin/feature"]
    case.note(
        f"polls: main adds {div.main}, feature adds {div.feature}; clone --depth={depth}; "
        "check --against origin/feature"
    )
    clone_repo = Repo(clone, repo.env)
    shallow = not clone_repo.git("merge-base", "HEAD", "origin/feature", check=False).strip()
    if shallow:
        case.oracle = Oracle(
            what=["the merge base is not in the shallow clone"], exit={2}, mention=["shallow"]
        )
    else:
        case.oracle = against_oracle(clone_repo, project.packages(), "origin/feature")


def _gs_detached(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    repo = project.repo
    div = diverge(project, "polls")
    repo.git("merge", "-q", "--no-edit", "feature")
    repo.git("checkout", "-q", "--detach", "HEAD")
    case.note(f"polls: main adds {div.main}, feature adds {div.feature}; merged; detached HEAD")


def _gs_worktree(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    repo = project.repo
    div = diverge(project, "polls")
    linked = trial / "linked"
    repo.git("worktree", "add", "-q", "-b", "work", str(linked), "main")
    Repo(linked, repo.env).git("merge", "-q", "--no-edit", "--no-commit", "--no-ff", "feature")
    case.repo = linked
    case.note(
        f"polls: main adds {div.main}, feature adds {div.feature}; merging in a linked worktree"
    )
    case.oracle = django_oracle(linked, project.packages())
    if case.oracle.exit is not None:
        case.oracle.sides = {div.main[0]: "local", div.feature[0]: "upstream"}


def _gs_bad_merge_head(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    repo = project.repo
    div = diverge(project, "polls")
    repo.git("merge", "-q", "--no-edit", "--no-commit", "--no-ff", "feature")
    what = rng.choice(
        ("missing-object", "garbage", "empty", "orig-head-garbage", "rebase-dir-torn")
    )
    git_dir = repo.root / ".git"
    if what == "missing-object":
        (git_dir / "MERGE_HEAD").write_text("1234567890abcdef1234567890abcdef12345678\n")
    elif what == "garbage":
        (git_dir / "MERGE_HEAD").write_bytes(b"not a sha \xff\n")
    elif what == "empty":
        (git_dir / "MERGE_HEAD").write_bytes(b"")
    elif what == "orig-head-garbage":
        (git_dir / "ORIG_HEAD").write_text("zzzz\n")
    else:
        (git_dir / "MERGE_HEAD").unlink()
        (git_dir / "rebase-merge").mkdir()
        (git_dir / "rebase-merge" / "onto").write_text("deadbeef\n")
    case.note(f"polls: main adds {div.main}, feature adds {div.feature}; merge in progress; {what}")
    finish(case, project)
    if case.oracle is not None and case.oracle.exit is not None:
        case.oracle.exit.add(2)  # a damaged git state may be called bad input


def _gs_index_lock(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    repo = project.repo
    div = diverge(project, "polls")
    repo.git("merge", "-q", "--no-edit", "feature")
    (repo.root / ".git" / "index.lock").write_bytes(b"")
    case.note(f"polls: main adds {div.main}, feature adds {div.feature}; merged; stale index.lock")


def _gs_odd_path(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    repo = project.repo
    div = diverge(project, "polls")
    repo.git("merge", "-q", "--no-edit", "feature")
    case.note(f"repository at {str(repo.root)!r}; polls: {div.main} and {div.feature} merged")


def _gs_against_odd(rng: random.Random, trial: Path, project: Project, case: Case) -> None:
    repo = project.repo
    div = diverge(project, "polls")
    kind = rng.choice(("blob", "tree", "HEAD", "orphan", "tag", "range", "dash"))
    if kind == "blob":
        rev = repo.git("rev-parse", "HEAD:manage.py").strip()
    elif kind == "tree":
        rev = repo.git("rev-parse", "HEAD^{tree}").strip()
    elif kind == "HEAD":
        rev = "HEAD"
    elif kind == "orphan":
        repo.git("checkout", "-q", "--orphan", "orphan")
        repo.git("rm", "-rq", "--cached", ".")
        repo.git("commit", "-q", "--allow-empty", "-m", "unrelated")
        repo.git("checkout", "-q", "-f", "main")
        rev = "orphan"
    elif kind == "tag":
        repo.git("tag", "-a", "-m", "a tag", "v1", "feature")
        rev = "v1"
    elif kind == "range":
        rev = "main..feature"
    else:
        rev = "--help"
    case.args = ["check", "--against", rev]
    case.note(
        f"polls: main adds {div.main}, feature adds {div.feature}; check --against {rev} ({kind})"
    )
    if kind in ("blob", "tree", "range", "dash"):
        case.oracle = Oracle(what=[f"--against names no commit ({kind})"], exit={2})
    elif kind == "tag":
        case.oracle = against_oracle(repo, project.packages(), "v1")


GIT_STATES: dict[str, Callable[[random.Random, Path, Project, Case], None]] = {
    "conflict-models": _gs_conflict_models,
    "conflict-migration": _gs_conflict_migration,
    "add-add": _gs_add_add,
    "add-add-same": lambda r, t, p, c: _gs_add_add(r, t, p, c, same=True),
    "delete-modify": _gs_delete_modify,
    "rebase": _gs_rebase,
    "rebase-migration": lambda r, t, p, c: _gs_rebase(r, t, p, c, in_migration=True),
    "cherry-pick": _gs_cherry_pick,
    "shallow": _gs_shallow,
    "detached": _gs_detached,
    "worktree": _gs_worktree,
    "bad-merge-head": _gs_bad_merge_head,
    "index-lock": _gs_index_lock,
    "odd-repo-path": _gs_odd_path,
    "against-odd": _gs_against_odd,
}

FAMILIES: dict[str, Callable[[random.Random, Path], Case]] = {
    "mutate": family_mutate,
    "missing-dep": family_missing_dep,
    "deep": family_deep,
    "paths": family_paths,
    "python": family_python,
    "cache": family_cache,
    "writes": family_writes,
    "git-states": family_git_states,
    "config": family_config,
}


# ---------------------------------------------------------------------------
# Running a trial and judging it


def listing(roots: Iterable[Path], skip: set[Path]) -> dict[str, tuple[Any, ...]]:
    """Every file and folder under `roots` (not `skip`): kind, size, mtime, inode, checksum."""
    out: dict[str, tuple[Any, ...]] = {}
    for root in roots:
        if not os.path.lexists(root):
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
            for name in [".", *dirs, *files]:
                path = os.path.join(folder, name) if name != "." else folder
                out[path] = _entry(path)
    return out


def _entry(path: str) -> tuple[Any, ...]:
    try:
        st = os.lstat(path)
    except OSError:
        return ("gone",)
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return ("dir", st.st_mtime_ns, st.st_mode)
    if not stat.S_ISREG(st.st_mode):
        return ("special", st.st_mode, st.st_mtime_ns)
    checksum = 0
    if st.st_size <= 4 << 20:
        try:
            with open(path, "rb") as handle:
                checksum = zlib.crc32(handle.read())
        except OSError:
            checksum = -1
    return ("file", st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode, checksum)


def changes(
    before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]], base: Path
) -> list[str]:
    out = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        rel = os.path.relpath(path, base)
        if old is None:
            out.append(f"created {rel!r}")
        elif new is None:
            out.append(f"deleted {rel!r}")
        else:
            out.append(f"changed {rel!r}: {_what_changed(old, new)}")
    return out


def _what_changed(old: tuple[Any, ...], new: tuple[Any, ...]) -> str:
    if old[0] != new[0]:
        return f"{old[0]} -> {new[0]}"
    if old[0] == "file":
        names = ("size", "mtime", "inode", "mode", "content")
        return ", ".join(n for n, a, b in zip(names, old[1:], new[1:]) if a != b)
    return "folder mtime" if old[0] == "dir" else "target"


@dataclass
class RunResult:
    label: str
    args: list[str]
    code: int | None
    seconds: float
    ways: list[str]
    stdout: str
    stderr: str
    crash_log: str = ""
    wrote: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    site: str = ""  # where migmerge crashed or hung: file:line in function

    def causes(self) -> list[str]:
        """Short names of what went wrong, to group trials by root cause."""
        out = []
        if "exit3" in self.ways:
            error = re.search(r"internal error: (\w+)", self.stderr)
            out.append(f"exit 3: {error.group(1) if error else '?'} at {self.site or '?'}")
        if "hang" in self.ways:
            out.append(f"hang at {self.site or '?'}")
        if "traceback" in self.ways and "exit3" not in self.ways:
            out.append("traceback printed")
        # A folder's mtime moves with what was created in it: count that alone.
        wrote = [w for w in self.wrote if not w.endswith("folder mtime")] or self.wrote
        out += [f"wrote {_written_kind(w)}" for w in wrote]
        out += [f"{_problem_kind(p)}" for p in self.problems if "killed" not in p]
        return list(dict.fromkeys(out))


def _written_kind(change: str) -> str:
    if re.search(r"-(wal|shm)'", change):
        return "SQLite -wal/-shm"
    if "/modules/" in change:
        return "a submodule's git dir"
    if "/.git/" in change or change.endswith(".git'") or "/.git'" in change:
        return "the git dir"
    return "the work tree"


def _problem_kind(problem: str) -> str:
    """A problem without its names and numbers."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]|\{[^}]*\}", "X", problem)
    text = re.sub(r"\d+", "N", text)
    return _short(text, 100)


def decode(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def judge_run(ran: Ran, spec: RunSpec) -> RunResult:
    """The ways one run broke the promise, by itself."""
    out, err = decode(ran.stdout), decode(ran.stderr)
    result = RunResult(spec.label, spec.args, ran.code, round(ran.seconds, 2), [], out, err)
    if ran.hung:
        result.ways.append("hang")
        result.problems.append("killed after the timeout")
    if ran.code == 3 or "internal error" in err:
        result.ways.append("exit3")
    if "Traceback (most recent call last)" in out + err:
        result.ways.append("traceback")
    if not ran.hung and ran.code not in (0, 1, 2, 3):
        result.ways.append("other")
        result.problems.append(f"exit code {ran.code}")
    if ran.code == 2 and not err.strip():
        result.ways.append("other")
        result.problems.append("exit 2 without a message on stderr")
    if ran.code in (0, 1) and "json" in spec.args and parse_json(out) is None:
        result.ways.append("other")
        result.problems.append("--format json printed no JSON document")
    found = re.search(r"details in (\S+?)\)", err)
    if found:
        with contextlib.suppress(OSError):
            log = Path(found.group(1)).read_text(errors="replace")
            result.crash_log = "\n".join(log.splitlines()[-12:])
            result.site = _site(log, last=True)
    if ran.hung:
        result.site = _site(err, last=False)
    return result


def _site(trace: str, *, last: bool) -> str:
    """The innermost migmerge frame of a traceback (or of a faulthandler dump)."""
    frames = re.findall(r'File "([^"]*migmerge/[^"]+)", line (\d+)(?:, in|\s+in) (\w+)', trace)
    if not frames:
        return ""
    path, line, function = frames[-1] if last else frames[0]
    return f"{path.rsplit('migmerge/', 1)[-1]}:{line} {function}"


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def judge_oracle(oracle: Oracle, result: RunResult) -> list[str]:
    """How a finished run's answer contradicts the oracle."""
    if result.code not in (0, 1, 2):
        return []
    doc = parse_json(result.stdout) if result.code in (0, 1) else None
    said = result.stderr + (
        json.dumps(doc.get("warnings", []), ensure_ascii=False) if isinstance(doc, dict) else ""
    )
    wrong = []
    if oracle.exit is not None and result.code not in oracle.exit:
        wrong.append(f"exit {result.code}, expected {sorted(oracle.exit)}")
    for text in oracle.mention:
        if text not in said + result.stdout:
            wrong.append(f"says nothing of {text!r}")
    if oracle.fatal and result.code != 2 and not any(_said(t, said) for t in oracle.fatal):
        wrong.append(f"exit {result.code} without reporting any of {oracle.fatal[:4]}")
    for path in oracle.readable:
        if _reported_unreadable(path, doc, result.stderr):
            wrong.append(f"reports {path!r} unreadable, which Python compiles")
    if isinstance(doc, dict) and oracle.leaves is not None and result.code in (0, 1):
        wrong += _judge_leaves(oracle, doc)
    return wrong


def _said(text: str, said: str) -> bool:
    return (
        text in said
        or json.dumps(text, ensure_ascii=False)[1:-1] in said
        or repr(text)[1:-1] in said
    )


def _reported_unreadable(path: str, doc: Any, stderr: str) -> bool:
    if "cannot read migration" in stderr and _said(path, stderr):
        return True
    if isinstance(doc, dict):
        for warning in doc.get("warnings", []):
            if (
                isinstance(warning, dict)
                and warning.get("kind") == "unreadable-migration"
                and warning.get("path") == path
            ):
                return True
    return False


def _judge_leaves(oracle: Oracle, doc: dict[str, Any]) -> list[str]:
    got: dict[str, set[str]] = {}
    sides: dict[str, Any] = {}
    for conflict in doc.get("conflicts", []):
        if conflict.get("kind", "leaves") != "leaves":
            continue
        names = {leaf.get("name") for leaf in conflict.get("leaves", [])}
        got[conflict.get("app")] = names
        sides.update({leaf.get("name"): leaf.get("side") for leaf in conflict.get("leaves", [])})
    wrong = []
    expected = oracle.leaves or {}
    if got != expected:
        wrong.append(f"leaves {_sets(got)}, expected {_sets(expected)}")
    for name, side in oracle.sides.items():
        if name in sides and sides[name] != side:
            wrong.append(f"{name!r} is on side {sides[name]!r}, expected {side!r}")
    return wrong


def _sets(value: dict[str, set[str]]) -> str:
    return repr({k: sorted(v) for k, v in sorted(value.items())})


def same_answer(a: RunResult, b: RunResult) -> str | None:
    """Why two runs of one tree disagree, or None."""
    if a.code != b.code:
        return f"exit {b.code} where {a.label} gave {a.code}"
    if "json" in a.args and "json" in b.args:
        da, db = parse_json(a.stdout), parse_json(b.stdout)
        if da != db:
            return f"a different document than {a.label}: {_diff_docs(da, db)}"
    return None


def _diff_docs(a: Any, b: Any) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = [k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
        return "; ".join(
            f"{k}: {_short(json.dumps(a.get(k)), 120)} vs {_short(json.dumps(b.get(k)), 120)}"
            for k in keys
        )
    return f"{_short(repr(a))} vs {_short(repr(b))}"


@dataclass
class Outcome:
    family: str
    index: int
    seed: int
    ways: set[str]
    recipe: list[str]
    oracle: str
    runs: list[RunResult]
    files: dict[str, bytes]
    error: str = ""
    kept: str = ""


class Trial:
    """One trial: build it, run migmerge on it, judge every run."""

    def __init__(self, family: str, index: int, options: argparse.Namespace, slots: Slots) -> None:
        self.family, self.index, self.options, self.slots = family, index, options, slots
        self.rng = random.Random(f"{options.seed}/{family}/{index}")

    def run(self) -> Outcome:
        base = Path(
            tempfile.mkdtemp(prefix=f"fuzz-{self.family}-{self.index}-", dir=self.options.workdir)
        )
        trial = base / "t"
        for sub in ("home", "tmp", "cache"):
            (trial / sub).mkdir(parents=True)
        outcome = Outcome(self.family, self.index, self.options.seed, set(), [], "", [], {})
        try:
            with self.slots.held():
                case = FAMILIES[self.family](self.rng, trial)
                outcome.recipe, outcome.files = case.recipe, case.files
                outcome.oracle = case.oracle.describe() if case.oracle else ""
                self._execute(case, trial, outcome)
        except Exception:
            outcome.error = traceback.format_exc(limit=6)
        if outcome.ways and self.options.keep:
            outcome.kept = self._keep(base)
        else:
            _remove(base)
        return outcome

    def _execute(self, case: Case, trial: Path, outcome: Outcome) -> None:
        env = clean_env(trial)
        skip = {trial / "cache", trial / "tmp"}
        before = listing([trial], skip)
        by_label: dict[str, RunResult] = {}
        for spec in case.runs or standard_runs(case.args):
            if spec.before is not None:
                spec.before()
                before = listing([trial], skip)
            ran = run_process(
                [*self.options.command, *spec.args],
                case.repo,
                {**env, **spec.env},
                self.options.timeout,
                self.slots,
            )
            result = judge_run(ran, spec)
            after = listing([trial], skip)
            result.wrote = changes(before, after, trial)
            if result.wrote:
                result.ways.append("wrote")
                before = after
            if spec.oracle and case.oracle is not None and not ran.hung:
                wrong = judge_oracle(case.oracle, result)
                if wrong:
                    result.ways.append("misread")
                    result.problems += wrong
            if spec.same_as and spec.same_as in by_label and not ran.hung:
                why = same_answer(by_label[spec.same_as], result)
                if why:
                    result.ways.append("differs")
                    result.problems.append(why)
            by_label[spec.label] = result
            outcome.runs.append(result)
            outcome.ways.update(result.ways)
            if ran.hung:
                break  # the rest would hang as well, a timeout each

    def _keep(self, base: Path) -> str:
        target = Path(self.options.keep) / f"{self.family}-{self.index}"
        _remove(target)
        try:
            os.rename(base / "t", target)
        except OSError as exc:
            return f"not kept: {exc}"
        _remove(base)
        return str(target)


def _remove(path: Path) -> None:
    def writable(func: Any, name: str, _: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700)
            func(name)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=writable)


# ---------------------------------------------------------------------------
# Report


def table(outcomes: list[Outcome], families: list[str]) -> str:
    header = ["family", "tried", "held", "failed", *WAYS, "harness"]
    rows = [header]
    totals = [0] * (len(header) - 1)
    for family in families:
        mine = [o for o in outcomes if o.family == family]
        built = [o for o in mine if not o.error]
        failed = [o for o in built if o.ways]
        row = [len(built), len(built) - len(failed), len(failed)]
        row += [sum(1 for o in failed if way in o.ways) for way in WAYS]
        row.append(len(mine) - len(built))
        totals = [t + v for t, v in zip(totals, row)]
        rows.append([family, *map(str, row)])
    rows.append(["total", *map(str, totals)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def file_record(path: str, data: bytes) -> dict[str, Any]:
    record: dict[str, Any] = {"path": path, "bytes": len(data)}
    shown = data[:200_000]
    try:
        record["text"] = shown.decode("utf-8")
    except UnicodeDecodeError:
        record["base64"] = base64.b64encode(shown).decode()
    if len(data) > len(shown):
        record["truncated"] = True
    return record


def outcome_record(outcome: Outcome, options: argparse.Namespace) -> dict[str, Any]:
    rerun = [*options.rerun, "--family", outcome.family, "--trial", str(outcome.index)]
    rerun += ["--keep", "/tmp/fuzz-keep"]
    return {
        "family": outcome.family,
        "trial": outcome.index,
        "seed": outcome.seed,
        "ways": sorted(outcome.ways),
        "rerun": shlex.join(rerun),
        "recipe": outcome.recipe,
        "oracle": outcome.oracle,
        "files": [file_record(p, d) for p, d in outcome.files.items()],
        "runs": [
            {
                "label": r.label,
                "command": shlex.join([*options.command_text, *r.args]),
                "exit": r.code,
                "seconds": r.seconds,
                "ways": r.ways,
                "problems": r.problems,
                "wrote": r.wrote[:20],
                "stderr_tail": r.stderr.splitlines()[-8:],
                "stdout_head": r.stdout[:600],
                "crash_log_tail": r.crash_log.splitlines(),
            }
            for r in outcome.runs
        ],
        "causes": outcome_causes(outcome),
        "kept": outcome.kept,
        "harness_error": outcome.error,
    }


def outcome_causes(outcome: Outcome) -> list[str]:
    return list(dict.fromkeys(c for r in outcome.runs for c in r.causes()))


def cause_table(outcomes: list[Outcome]) -> tuple[str, dict[str, Any]]:
    """Failing trials grouped by cause (a trial may count under several)."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        for cause in outcome_causes(outcome):
            groups.setdefault(cause, []).append(outcome)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    lines = ["trials | families | cause (first trials)"]
    summary = {}
    for cause, mine in ranked:
        families = sorted({o.family for o in mine})
        first = ", ".join(f"{o.family}#{o.index}" for o in mine[:3])
        lines.append(f"{len(mine):6} | {','.join(families)} | {cause} ({first})")
        summary[cause] = {"trials": len(mine), "families": families, "first": first}
    return "\n".join(lines), summary


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fuzz.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]) if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=0, help="the seed of every trial (default 0)")
    parser.add_argument(
        "--trials-per-family",
        type=int,
        default=20,
        metavar="N",
        help="trials of each family (default 20)",
    )
    parser.add_argument(
        "--family",
        action="append",
        choices=sorted(FAMILIES),
        help="run only this family (repeatable)",
    )
    parser.add_argument(
        "--trial", type=int, action="append", metavar="I", help="run only trial I (repeatable)"
    )
    parser.add_argument(
        "--command",
        default=None,
        help="the migmerge to run, split like a shell would (default: this Python -m migmerge)",
    )
    parser.add_argument(
        "--timeout", type=float, default=20.0, help="seconds before a run counts as a hang"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="trials using the CPU at once (default 1)"
    )
    parser.add_argument("--keep", metavar="DIR", help="keep failing trials' folders under DIR")
    parser.add_argument(
        "--out",
        default=os.path.join(tempfile.gettempdir(), "migmerge-fuzz.json"),
        help="where failing cases go (JSON; default: migmerge-fuzz.json in the temp folder)",
    )
    parser.add_argument(
        "--workdir", default=None, help="where trials are built (default: the temp folder)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    parser.add_argument(
        "--save-held", action="store_true", help="also list the trials that held in --out"
    )
    options = parser.parse_args(argv)
    options.command_text = (
        shlex.split(options.command) if options.command else ["python", "-m", "migmerge"]
    )
    options.command = (
        shlex.split(options.command) if options.command else [sys.executable, "-m", "migmerge"]
    )
    options.rerun = ["python", "benchmarks/fuzz.py", "--seed", str(options.seed)]
    if options.command_text[0] != "python":
        options.rerun += ["--command", shlex.join(options.command_text)]
    if options.timeout != 20.0:
        options.rerun += ["--timeout", str(options.timeout)]
    if options.keep:
        Path(options.keep).mkdir(parents=True, exist_ok=True)
        options.workdir = options.workdir or options.keep
    return options


def command_works(command: list[str]) -> str | None:
    """Why `command --version` fails (the wrong Python, say), or None."""
    try:
        # From elsewhere than this checkout, as trials run: `-m` must not find it here.
        proc = subprocess.run(
            [*command, "--version"], capture_output=True, timeout=60, cwd=tempfile.gettempdir()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit {proc.returncode}"
    return None


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    broken = command_works(options.command)
    if broken:
        sys.stderr.write(
            f"fuzz.py: cannot run {shlex.join(options.command)}: {broken}\n"
            "hint: run it with the Python migmerge is installed in (.venv/bin/python), "
            "or pass --command\n"
        )
        return 2
    families = options.family or list(FAMILIES)
    indexes = options.trial or list(range(options.trials_per_family))
    slots = Slots(max(1, options.jobs))
    trials = [Trial(f, i, options, slots) for f in families for i in indexes]
    started = time.monotonic()
    outcomes: list[Outcome] = []
    # Threads wait on processes; Slots keeps the CPU work to --jobs at once,
    # and a run blocked on a FIFO lends its slot while it waits for the timeout.
    pool = ThreadPoolExecutor(max_workers=max(1, options.jobs) * 4)
    try:
        for outcome in pool.map(lambda t: t.run(), trials):
            outcomes.append(outcome)
            if not options.quiet:
                _progress(outcome)
    except KeyboardInterrupt:
        # No migmerge may outlive the harness: a run blocked on a FIFO never ends.
        pool.shutdown(wait=False, cancel_futures=True)
        kill_live()
        pool.shutdown(wait=True)
        sys.stderr.write("fuzz.py: interrupted; nothing saved\n")
        return 130
    pool.shutdown()
    outcomes.sort(key=lambda o: (families.index(o.family), o.index))
    failing = [o for o in outcomes if o.ways or o.error]
    causes_text, causes = cause_table(failing)
    Path(options.out).write_text(
        json.dumps(
            {
                "seed": options.seed,
                "trials_per_family": options.trials_per_family,
                "command": options.command_text,
                "families": families,
                "causes": causes,
                "failures": [outcome_record(o, options) for o in failing],
                "held": [
                    {"family": o.family, "trial": o.index, "recipe": o.recipe, "oracle": o.oracle}
                    for o in outcomes
                    if options.save_held and not (o.ways or o.error)
                ],
            },
            indent=1,
        )
        + "\n"
    )
    print(table(outcomes, families))
    if not options.quiet:
        print("\n" + causes_text)
    print(f"\n{len(failing)} failing cases in {options.out}; {time.monotonic() - started:.0f} s")
    return 1 if any(o.ways for o in outcomes) else 0


def _progress(outcome: Outcome) -> None:
    if outcome.error:
        line = "harness error: " + outcome.error.strip().splitlines()[-1]
    elif outcome.ways:
        line = "FAIL " + ",".join(sorted(outcome.ways))
    else:
        return
    sys.stderr.write(f"{outcome.family} #{outcome.index}: {line}\n")
    sys.stderr.flush()


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())

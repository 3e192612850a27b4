"""A kmigrator app's database and which of its files knex has applied there (condo), read-only.

kmigrator runs knex with the app's own settings, read the way condo's
`@open-condo/config` reads them: `DATABASE_URL` from the environment, else
the app's `.env` (condo's `bin/prepare.js` writes `apps/<app>/.env`), else the
repository's `.env`. knex records each applied file by its name (with `.js`)
in `knex_migrations`, so a migration is applied when the file holding its
KMIGRATOR line is there. Nothing is run; the database is only read.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from migmerge.core.model import Conflict, Database, Key, Project

VARIABLE = "DATABASE_URL"
SCHEMES = {"postgresql": "postgresql", "postgres": "postgresql"}
HINT = (
    "set DATABASE_URL (in the environment, or in {app}/.env as condo's bin/prepare.js writes "
    "it) to the app's PostgreSQL database, e.g. postgresql://postgres:postgres@127.0.0.1/main"
)


class Found(NamedTuple):
    """The database a kmigrator app uses, or None, and where that was read or why not."""

    database: Database | None
    why: str


def projects(
    root: Path,
    conflicts: Iterable[Conflict],
    modules: Mapping[str, Mapping[str, str]],
    python: str | None = None,
) -> dict[str, Project]:
    """The project of each kmigrator conflict's folder, with what knex has applied there."""
    return {
        c.directory: project(root, c.directory, c.app, modules[c.directory], python)
        for c in conflicts
    }


def project(
    root: Path, directory: str, app: str, modules: Mapping[str, str], python: str | None
) -> Project:
    """Describe a kmigrator app as a Project: no manage.py, its database, what knex applied."""
    app_dir = directory.rpartition("/")[0]
    found = find_database(root, app_dir, os.environ)
    applied = applied_files(found, app_dir, python)
    keys = None if applied.files is None else applied_keys(app, modules, applied.files)
    return Project(
        root=str(root),
        manage=(),
        manage_shown=(),
        manage_why="a kmigrator app: knex runs its migrations ([tool.migmerge.commands])",
        cwd=str(root / app_dir),
        python=python or sys.executable,
        python_why="[tool.migmerge] python" if python else "migmerge's own interpreter",
        settings=None,
        settings_why="a kmigrator app has no Django settings",
        database=found.database,
        database_why=found.why,
        applied=keys,
        applied_why=applied.why,
        applied_hint=applied.hint,
    )


class Applied(NamedTuple):
    """The file names knex has recorded (None: unknown), how they were read or why not, a hint."""

    files: frozenset[str] | None
    why: str
    hint: str = ""


def applied_files(found: Found, app_dir: str, python: str | None) -> Applied:
    """Read knex_migrations (read-only) in the database found for the app."""
    if found.database is None:
        return Applied(None, found.why, HINT.format(app=app_dir))
    from migmerge.reading.applied import KNEX, read_applied

    reading = read_applied(found.database, python, KNEX)
    files = None if reading.keys is None else frozenset(name for _, name in reading.keys)
    return Applied(files, reading.why, reading.hint)


def applied_keys(app: str, modules: Mapping[str, str], files: Iterable[str]) -> frozenset[Key]:
    """The migrations of `app` whose file knex has recorded (by file name, `.js` included)."""
    recorded = set(files)
    return frozenset((app, name) for name, path in modules.items() if _base(path) in recorded)


def find_database(root: Path, app_dir: str, environ: Mapping[str, str]) -> Found:
    """Where the app's DATABASE_URL points, read as condo's config reads it."""
    namespaced = f"{_base(app_dir)}_{VARIABLE}"
    for name in (namespaced, VARIABLE):
        if environ.get(name):
            return _from_url(environ[name], f"{name} in the environment")
    for folder in (app_dir, ""):
        env_file = "/".join(filter(None, (folder, ".env")))
        values = read_env_file(root / env_file)
        for name in (namespaced, VARIABLE):
            if values.get(name):
                return _from_url(values[name], f"{name} in {env_file}")
    return Found(None, f"no DATABASE_URL in the environment, {app_dir}/.env or .env")


def _from_url(url: str, where: str) -> Found:
    database = database_from_url(url)
    if database is None:
        return Found(None, f"{where} is not a PostgreSQL URL migmerge can read")
    return Found(database, where)


def database_from_url(url: str) -> Database | None:
    """Read `postgresql://user:password@host:port/name` (or condo's `custom:{"main": URL}`)."""
    from urllib.parse import unquote, urlsplit

    url = _main_url(url.strip())
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    vendor = SCHEMES.get(parts.scheme)
    name = unquote(parts.path.lstrip("/"))
    if vendor is None or not name:
        return None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return Database(vendor, name, parts.hostname, port, user, password)


def _main_url(url: str) -> str:
    """condo's replicated setting `custom:{"main": URL, "replica": URL}`: the main database."""
    if not url.startswith("custom:"):
        return url
    import json

    try:
        urls = json.loads(url[len("custom:") :])
    except ValueError:
        return ""
    main = urls.get("main") if isinstance(urls, dict) else None
    return main if isinstance(main, str) else ""


def read_env_file(path: Path) -> dict[str, str]:
    """Read a dotenv file's `KEY=value` lines (quotes stripped); {} when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key and not key.startswith("#"):
            values[key.strip()] = _unquote(value.strip())
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
        return value[1:-1]
    return value.partition(" #")[0].strip()


def _base(path: str) -> str:
    return path.rpartition("/")[2]

"""Builders for doctor's scenarios: databases out of step with the files, on every server."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.testing.databases import maria_database, maria_settings, pg_database, pg_settings
from tests.testing.projects import POLLS_V1
from tests.testing.repos import run_migmerge

if TYPE_CHECKING:
    from migmerge.core.model import Database

POLLS_AGE = POLLS_V1.replace(
    "name = models.CharField(max_length=100)",
    "name = models.CharField(max_length=100)\n    age = models.IntegerField(default=0)",
)

# parametrize("vendor", SERVERS): each test on PostgreSQL and on MariaDB.
SERVERS = [
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mariadb),
]


def doctor_document(root: Path, *args: str) -> tuple[int, dict[str, object]]:
    """Run `migmerge doctor --format json`; its exit code (0 or 1) and document."""
    proc = run_migmerge(root, "doctor", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def finding_kinds(document: dict[str, object]) -> list[tuple[str, str, str | None]]:
    """(kind, app, migration) of each finding of a doctor document."""
    findings = document["findings"]
    assert isinstance(findings, list)
    return [(f["kind"], f["app"], f["migration"]) for f in findings]


def checkout_at(root: Path, *args: str, seconds: int) -> None:
    """git checkout, written to HEAD's reflog `seconds` from now (the reflog counts seconds)."""
    env = {**os.environ, "GIT_COMMITTER_DATE": f"@{int(time.time()) + seconds} +0000"}
    subprocess.run(["git", "checkout", "-q", *args], cwd=root, env=env, check=True)


def database_server(vendor: str) -> tuple[type, object]:
    """The throwaway-database maker and the DATABASES writer of a server vendor."""
    if vendor == "postgresql":
        return pg_database, pg_settings
    return maria_database, maria_settings


def run_sql(db: Database, sql: str) -> None:
    """Run one statement on a throwaway PostgreSQL or MariaDB database with its own client."""
    if db.vendor == "postgresql":
        argv = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db.name, "-c", sql]
    else:
        argv = ["mysql", "-h", "127.0.0.1", "-u", "root", db.name, "-e", sql]
    subprocess.run(argv, check=True, capture_output=True)

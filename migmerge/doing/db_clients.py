"""Run the database clients (psql, pg_restore, pg_dump, mysql, mysqldump) safely.

Every client gets the connection timeout, and the lock and statement timeouts
(`MIGMERGE_LOCK_TIMEOUT`, `MIGMERGE_STATEMENT_TIMEOUT`): a server that never
answers, or another session's lock, ends in a refusal that says so, never in
a hang. A failure is StepFailed with the client's own error lines.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import NamedTuple

from migmerge.core.model import Database
from migmerge.errors import MigmergeError, StepFailed
from migmerge.reading.applied import TIMEOUT, client_env

# psql running a script in one transaction that stops at the first error.
PSQL = ("psql", "--quiet", "--no-psqlrc", "--single-transaction", "-v", "ON_ERROR_STOP=1")


class Timeouts(NamedTuple):
    """Seconds a client waits for another session's lock, and for one statement (0: no limit)."""

    lock: int
    statement: int


LOCK_TIMEOUT = 30  # seconds: long enough for a lock held by a moment's work, not a forgotten shell


def timeouts() -> Timeouts:
    """The timeouts from MIGMERGE_LOCK_TIMEOUT and MIGMERGE_STATEMENT_TIMEOUT, or the defaults."""
    import os

    found = []
    for variable, default in (
        ("MIGMERGE_LOCK_TIMEOUT", LOCK_TIMEOUT),
        ("MIGMERGE_STATEMENT_TIMEOUT", 0),
    ):
        value = os.environ.get(variable, "").strip()
        if not value:
            found.append(default)
        elif value.isdigit() and (int(value) > 0 or variable == "MIGMERGE_STATEMENT_TIMEOUT"):
            found.append(int(value))
        else:
            raise MigmergeError(f"{variable}={value!r} is not a whole number of seconds (above 0)")
    return Timeouts(*found)


def run_client(
    db: Database, argv: Sequence[str], *, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a database client program; StepFailed with its output when it fails."""
    import shutil  # here, not above: check reads applied migrations without it

    if shutil.which(argv[0]) is None:
        raise StepFailed(f"{argv[0]} is not installed: cannot back up or restore {db.describe()}")
    env = client_env(db)
    limits = timeouts()
    # A server that accepts connections and never answers: each client gives up
    # after TIMEOUT seconds of connecting, then says so (pg_dump honours libpq's).
    env["PGCONNECT_TIMEOUT"] = str(TIMEOUT)
    # Another session's lock (a shell, a server, an open transaction) is waited
    # for so long, then the statement fails: a refusal, never a hang.
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {pg_timeouts(limits)}".strip()
    if argv[0] == "mysql":
        argv = [
            argv[0],
            f"--connect-timeout={TIMEOUT}",
            f"--init-command={my_timeouts(limits)}",
            *argv[1:],
        ]
    proc = subprocess.run(list(argv), capture_output=True, text=True, input=input, env=env)
    if proc.returncode != 0:
        said = f"{argv[0]} failed on {db.describe()}:\n{_errors(proc.stderr)}"
        raise StepFailed(said + _timed_out(proc.stderr, limits))
    return proc


def pg_timeouts(limits: Timeouts) -> str:
    """PostgreSQL options: the lock and statement timeouts, in milliseconds."""
    return f"-c lock_timeout={limits.lock * 1000} -c statement_timeout={limits.statement * 1000}"


def my_timeouts(limits: Timeouts) -> str:
    """The statement a mysql client runs first: the session's lock (and statement) timeouts."""
    # lock_wait_timeout is for tables (its default is a year), the InnoDB one for rows;
    # max_statement_time is MariaDB's own, so MySQL reads it as a comment.
    statement = (
        f" /*M!100108 , max_statement_time={limits.statement} */" if limits.statement else ""
    )
    return (
        f"SET SESSION lock_wait_timeout={limits.lock}, "
        f"innodb_lock_wait_timeout={limits.lock}{statement}"
    )


_LOCKED = ("lock timeout", "Lock wait timeout exceeded", "could not obtain lock")
_SLOW = ("statement timeout", "max_statement_time exceeded")


def _timed_out(stderr: str, limits: Timeouts) -> str:
    """What to do when a client gave up on a lock or a statement (empty otherwise)."""
    # pg_dump's --lock-wait-timeout is a statement timeout on its LOCK TABLE.
    if any(words in stderr for words in _LOCKED) or ("Query was: LOCK TABLE" in stderr):
        return (
            f"\nanother session holds a lock this needs: migmerge waited {limits.lock} s "
            "(MIGMERGE_LOCK_TIMEOUT); end that session (a running server, a shell, an open "
            "transaction), then try again"
        )
    if any(words in stderr for words in _SLOW):
        return (
            f"\na statement ran past {limits.statement} s (MIGMERGE_STATEMENT_TIMEOUT): "
            "raise it (0: no limit), then try again"
        )
    return ""


def _errors(stderr: str) -> str:
    """The client's error lines (mysql echoes the whole failing statement before its ERROR)."""
    lines = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    return "\n".join(lines) if lines else stderr.strip()

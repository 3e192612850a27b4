"""Print django_migrations' (or knex_migrations') rows as JSON; run by the project's interpreter.

For when migmerge's own environment has no driver (pipx, pre-commit, CI) but
the project's does. Fixed code, run with `python -I`: the connection comes as
JSON on stdin, nothing is built from it, the session is read-only and every
wait has a timeout. Prints {"rows": [[app, name], ...]}, {"missing": true}
when there is no django_migrations table, or {"error": "..."}.
"""

import importlib
import json
import sys
from typing import Any

# The one fixed statement per table (knex_migrations: kmigrator apps, condo);
# the request names the table, never the SQL.
QUERIES = {
    "django_migrations": "SELECT app, name FROM django_migrations",
    "knex_migrations": "SELECT 'knex', name FROM knex_migrations",
}


def _driver(*names: str) -> Any:
    """The first of the drivers `names` that imports; ImportError when none does."""
    for name in names[:-1]:
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    return importlib.import_module(names[-1])


def _postgresql(params: dict[str, Any], timeout: int, query: str) -> list[Any]:
    driver = _driver("psycopg", "psycopg2")
    options = f"-c statement_timeout={timeout * 1000} -c default_transaction_read_only=on"
    return _select(driver.connect(**params, connect_timeout=timeout, options=options), query)


def _mysql(params: dict[str, Any], timeout: int, query: str) -> list[Any]:
    driver = _driver("MySQLdb", "pymysql")
    kwargs = dict(params)
    kwargs.update(connect_timeout=timeout, read_timeout=timeout)
    if "database" in kwargs and driver.__name__ == "MySQLdb":
        kwargs["db"] = kwargs.pop("database")
    return _select(driver.connect(**kwargs), query)


def _select(conn: Any, query: str) -> list[Any]:
    """Run the one SELECT on a DB-API connection, then close it."""
    try:
        cursor = conn.cursor()
        cursor.execute(query)
        return list(cursor.fetchall())
    finally:
        conn.close()


def main() -> None:
    request = json.load(sys.stdin)
    reader = {"postgresql": _postgresql, "mysql": _mysql}[request["vendor"]]
    table = request.get("table", "django_migrations")
    try:
        rows = reader(request["params"], int(request["timeout"]), QUERIES[table])
    except ImportError as exc:
        print(json.dumps({"error": f"no driver: {exc}", "driver": False}))
        return
    except Exception as exc:  # any driver's error: report it, migmerge says the state is unknown
        text = str(exc)
        missing = table in text and ("exist" in text or "1146" in text)
        print(json.dumps({"missing": True} if missing else {"error": text.strip()}))
        return
    print(json.dumps({"rows": [[str(app), str(name)] for app, name in rows]}))


main()

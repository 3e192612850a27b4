"""Render a merge migration as `makemigrations --merge` does, with the Django that runs this.

migmerge runs it with the project's interpreter (`python -I`, the request as
JSON on stdin: app label, leaf names, number, the file's future path), or
loads it to render with its own Django. Fixed code: names are data, never
code. Like Django's makemigrations, it names the file NNNN_merge_<leaves>
(a timestamp past 47 characters), writes the header with this Django's
version, and runs black on the result when this Django runs formatters and
black is installed. Prints {"name", "source", "django", "formatter"}.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
from typing import Any

MAX_LEAF_NAMES = 47


def render(request: dict[str, Any]) -> dict[str, Any]:
    """Render the merge migration `request` asks for."""
    django = _module("django")
    settings = _module("django.conf").settings
    if not settings.configured:
        settings.configure(USE_TZ=True)
    migrations = _module("django.db.migrations")
    utils = _module("django.db.migrations.utils")
    MigrationWriter = _module("django.db.migrations.writer").MigrationWriter  # noqa: N806

    app, leaves = request["app"], sorted(request["leaves"])
    names = "_".join(leaves)
    if len(names) > MAX_LEAF_NAMES:
        names = utils.get_migration_name_timestamp()
    name = f"{request['number']:04d}_merge_{names}"
    dependencies = [(app, leaf) for leaf in leaves]
    subclass = type("Migration", (migrations.Migration,), {"dependencies": dependencies})
    source = str(MigrationWriter(subclass(name, app), include_header=True).as_string())
    formatted, formatter = _format(source, request.get("path") or f"{name}.py")
    version = str(django.get_version())
    return {"name": name, "source": formatted, "django": version, "formatter": formatter}


def _module(name: str) -> Any:
    """Import a Django module (Django ships no type information)."""
    return importlib.import_module(name)


def _format(source: str, path: str) -> tuple[str, str | None]:
    """Run black as Django's run_formatters would, on the text instead of the file."""
    if not hasattr(_module("django.core.management.utils"), "run_formatters"):
        return source, None  # this Django (before 4.1) runs no formatter
    # As the activated environment would: its own bin/ first on PATH.
    path_env = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    black = shutil.which("black", path=path_env)
    if black is None:
        return source, None
    try:
        proc = subprocess.run(
            [black, "--fast", "--quiet", "--stdin-filename", path, "-"],
            input=source,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return source, None
    if proc.returncode != 0:
        return source, None
    return proc.stdout, "black"


if __name__ == "__main__":
    print(json.dumps(render(json.load(sys.stdin))))

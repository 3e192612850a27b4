"""Render a merge migration exactly as Django's `makemigrations --merge` does.

Django is imported only inside the functions that need it, so the check path
never pays for it. It is reached through `importlib` because Django ships no
type information: the module objects are typed as `Any` instead of failing
mypy's strict mode.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any

# Django puts a timestamp in the name instead of the leaf names past this length.
MAX_LEAF_NAMES = 47


def parse_number(name: str) -> int | None:
    """Return a migration name's number as Django's autodetector reads it (squashed: the last)."""
    squashed = re.search(r".*_squashed_(\d+)", name)
    if squashed:
        return int(squashed[1])
    match = re.match(r"^\d+", name)
    return int(match[0]) if match else None


def merge_number(leaves: Sequence[str]) -> int:
    """Return the number makemigrations --merge gives: the biggest leaf number plus one."""
    numbers = [n for n in (parse_number(leaf) for leaf in leaves) if n is not None]
    return (max(numbers) if numbers else 1) + 1


def merge_name(leaves: Sequence[str], number: int) -> str:
    """Name the merge migration: NNNN_merge_<sorted leaves>, or a timestamp when too long."""
    leaf_names = "_".join(sorted(leaves))
    if len(leaf_names) > MAX_LEAF_NAMES:
        leaf_names = _django("django.db.migrations.utils").get_migration_name_timestamp()
    return f"{number:04d}_merge_{leaf_names}"


def render_merge_migration(app: str, leaves: Sequence[str], number: int) -> tuple[str, bytes]:
    """Return (module name, source) of the merge migration Django would write."""
    _configure_django()
    base = _django("django.db.migrations").Migration
    writer_class = _django("django.db.migrations.writer").MigrationWriter
    name = merge_name(leaves, number)
    # Django orders the dependencies as detect_conflicts() lists the leaves: sorted.
    dependencies = [(app, leaf) for leaf in sorted(leaves)]
    subclass = type("Migration", (base,), {"dependencies": dependencies})
    writer = writer_class(subclass(name, app), include_header=True)
    return name, str(writer.as_string()).encode("utf-8")


def _django(module: str) -> Any:
    """Import a Django module on demand."""
    return importlib.import_module(module)


def _configure_django() -> None:
    """Give Django minimal settings when the process has none (the header reads USE_TZ)."""
    settings = _django("django.conf").settings
    if not settings.configured:
        settings.configure(USE_TZ=True)

"""Print the cost per file of the fast header path and of the full parser.

Run: .venv/bin/python benchmarks/bench_parse.py [REPEAT]

The sources are made by Django's own MigrationWriter (what makemigrations
writes), in memory, so no project or database is needed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from migmerge.reading.parse import parse_migration, read_header


def django_sources() -> list[bytes]:
    """Render a few typical migrations with Django's writer."""
    import django
    from django.conf import settings

    settings.configure(INSTALLED_APPS=[], USE_TZ=True)
    django.setup()
    from django.db import migrations, models
    from django.db.migrations.writer import MigrationWriter

    out = []
    for number in range(1, 21):
        migration = migrations.Migration(f"{number:04d}_change", "polls")
        migration.dependencies = [("polls", f"{number - 1:04d}_change"), ("auth", "0012_x")]
        migration.initial = number == 1
        migration.operations = [
            migrations.AddField("question", f"field{i}", models.CharField(max_length=20 + i))
            for i in range(number % 5 + 1)
        ] + [migrations.AlterModelOptions("question", {"ordering": ["id"]})]
        out.append(MigrationWriter(migration).as_string().encode())
    return out


def per_file(sources: list[bytes], read: Callable[[bytes], object], repeat: int) -> float:
    """Return microseconds per file for `read`."""
    start = time.perf_counter()
    for _ in range(repeat):
        for source in sources:
            read(source)
    return (time.perf_counter() - start) / (repeat * len(sources)) * 1e6


def main() -> None:
    """Measure both paths and print the result."""
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    sources = django_sources()
    kwargs = {"app": "polls", "name": "x", "path": "x.py"}
    fast = per_file(sources, lambda s: read_header(s, **kwargs), repeat)
    header = per_file(sources, lambda s: parse_migration(s, operations=False, **kwargs), repeat)
    full = per_file(sources, lambda s: parse_migration(s, **kwargs), repeat)
    print(f"read_header (fast path):          {fast:8.2f} µs/file")
    print(f"parse_migration(operations=False): {header:8.2f} µs/file")
    print(f"parse_migration (operations):      {full:8.2f} µs/file")
    print(f"10,000 files via read_header:      {fast * 10_000 / 1000:8.2f} ms")


if __name__ == "__main__":
    main()

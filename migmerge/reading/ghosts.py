"""The ghosts' files as git has them, and what rolling each back would drop (doctor --fix).

Reads only: the file's bytes from the commit doctor found it in, its
dependencies, run_before and operations read statically (never imported), and, for the
tables and columns its operations made that are in the database and in no
applied migration of this checkout, how many rows or values they hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from migmerge.core.doctor import Finding, Schema
from migmerge.core.model import Database, Key, Migration, Operation, may_run
from migmerge.core.plans.doctor_ghosts import GhostFile
from migmerge.errors import MigmergeError
from migmerge.reading import git, parse
from migmerge.reading.schema import Counted, count_values

# app -> table -> columns: what the applied migrations of this checkout describe.
Expected = Mapping[str, Mapping[str, Sequence[str]]]


def ghost_files(
    root: Path,
    findings: Iterable[Finding],
    *,
    schema: Schema | None,
    expected: Expected | None,
    database: Database | None,
    cache_tag: str | None,
) -> dict[Key, GhostFile]:
    """Each rollback finding's file from its commit, with what its rollback drops."""
    read: dict[Key, tuple[Finding, Migration | str, bytes]] = {}
    for finding in findings:
        if finding.action != "rollback" or not finding.commit or not finding.path:
            continue
        key = (finding.app, finding.migration or "")
        read[key] = (finding, *_read(root, finding))
    effects = _effects(read, schema, expected, database)
    return {
        key: _ghost(key, finding, migration, content, effects.get(key, ((), ())), cache_tag)
        for key, (finding, migration, content) in read.items()
    }


def _read(root: Path, finding: Finding) -> tuple[Migration | str, bytes]:
    spec = f"{finding.commit}:{finding.path}"
    try:
        content = git.git_bytes(root, "cat-file", "blob", spec)
    except MigmergeError as exc:
        return f"its file cannot be read from git: {exc.message}", b""
    try:
        migration = parse.parse_migration(
            content, app=finding.app, name=finding.migration or "", path=finding.path or ""
        )
    except MigmergeError as exc:
        return f"its file does not read as a migration: {exc.message}", content
    if migration.dynamic:
        return f"its dependencies cannot be read statically ({migration.dynamic})", content
    return migration, content


def _ghost(
    key: Key,
    finding: Finding,
    migration: Migration | str,
    content: bytes,
    effects: tuple[tuple[str, ...], tuple[str, ...]],
    cache_tag: str | None,
) -> GhostFile:
    path = finding.path or ""
    folder, _, file = path.rpartition("/")
    stem = file[:-3] if file.endswith(".py") else file
    caches = (f"{folder}/__pycache__/{stem}.{cache_tag}.pyc",) if cache_tag else ()
    commit = finding.commit or ""
    if isinstance(migration, str):
        return GhostFile(key, path, content, commit, (), problem=migration)
    drops, undoes = effects
    return GhostFile(
        key, path, content, commit, migration.dependencies, drops, undoes, caches,
        run_before=migration.run_before,
    )  # fmt: skip


def _effects(
    read: Mapping[Key, tuple[Finding, Migration | str, bytes]],
    schema: Schema | None,
    expected: Expected | None,
    database: Database | None,
) -> dict[Key, tuple[tuple[str, ...], tuple[str, ...]]]:
    """key -> (what its rollback drops, what else it undoes), in words."""
    known = {t: set(c) for tables in (expected or {}).values() for t, c in tables.items()}
    found: dict[Key, tuple[list[Counted], list[str]]] = {}
    for key, (_, migration, _) in read.items():
        if isinstance(migration, Migration):
            found[key] = _dropped(key[0], tuple(may_run(migration.operations)), schema, known)
    counts: dict[Counted, int] = {}
    wanted = [item for items, _ in found.values() for item in items]
    if database is not None and schema is not None and wanted:
        counts = count_values(database, wanted, schema)
    return {
        key: (tuple(_say(item, counts) for item in items), tuple(undoes))
        for key, (items, undoes) in found.items()
    }


def _dropped(
    app: str,
    operations: Sequence[Operation],
    schema: Schema | None,
    known: Mapping[str, set[str]],
) -> tuple[list[Counted], list[str]]:
    """The tables and columns these operations made that only they account for; the rest."""
    tables = schema.tables if schema is not None else {}
    drops: list[Counted] = []
    undoes: list[str] = []
    made: set[str] = set()
    for op in operations:
        items = _made_by(app, op)
        if op.op == "CreateModel":
            made |= {table for table, _ in items}
        items = [(t, c) for t, c in items if c is None or t not in made]
        present = [(t, c) for t, c in items if _only_theirs(t, c, tables, known)]
        if present:
            drops += present
        elif op.op not in ("CreateModel", "AddField") or schema is None:
            undoes.append(_describe(app, op))
    return drops, undoes


def _made_by(app: str, op: Operation) -> list[Counted]:
    """The tables or columns an operation may have created, by Django's default names."""
    if op.op == "CreateModel" and op.model:
        return [(op.tables[0] if op.tables else f"{app}_{op.model}", None)]
    if op.op == "AddField" and op.model and op.field:
        table = f"{app}_{op.model}"
        return [(table, op.field), (table, f"{op.field}_id"), (f"{table}_{op.field}", None)]
    return []


def _only_theirs(
    table: str,
    column: str | None,
    tables: Mapping[str, frozenset[str]],
    known: Mapping[str, set[str]],
) -> bool:
    """In the database, and in no applied migration of this checkout."""
    if table not in tables:
        return False
    if column is None:
        return table not in known
    return column in tables[table] and column not in known.get(table, set())


def _say(item: Counted, counts: Mapping[Counted, int]) -> str:
    table, column = item
    count = counts.get(item)
    if column is None:
        held = "" if count is None else f" ({count} row{'s' if count != 1 else ''})"
        return f"table {table}{held}"
    if count is None:
        return f"column {table}.{column}"
    return f"column {table}.{column} ({count} value{'s' if count != 1 else ''})"


def _describe(app: str, op: Operation) -> str:
    what = ".".join(part for part in (app, op.model, op.field) if part)
    return f"{op.op} {what}" if op.model else op.op

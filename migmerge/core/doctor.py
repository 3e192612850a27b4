"""Where the files, `django_migrations` and the schema disagree: the findings of `doctor`.

Pure: what the checkout's migration files are, which rows the database
records, what git knows of files that are gone, what the project's Django says
the schema should be and what the database's schema is, in; findings out.
Every finding carries its evidence in words and the fix, if there is a safe one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from migmerge.core.model import Database, Key

FindingKind = str
"""ghost | renamed | already-exists | drift | unmigrated-changes | leaves"""


class Finding(NamedTuple):
    """One way the three places a data model lives disagree, with its evidence and fix."""

    kind: FindingKind
    app: str
    migration: str | None
    evidence: tuple[str, ...]
    # What to do, in words a person reads (a command where there is one); None: no safe fix.
    fix: str | None
    # What --fix does about it: "rollback", "rename-row", "delete-row", "fake", or None.
    action: str | None = None
    # rename-row: the name the row should have; delete-row: the name it is recorded under
    # too (a renamed migration recorded twice), None when no file of it exists anywhere.
    target: str | None = None
    # rollback: the commit that has the ghost's file, and its path there.
    commit: str | None = None
    path: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Render as the contract's finding object."""
        return {
            "kind": self.kind,
            "app": self.app,
            "migration": self.migration,
            "evidence": list(self.evidence),
            "fix": self.fix,
        }


class Row(NamedTuple):
    """A row of django_migrations."""

    app: str
    name: str
    applied: str  # the `applied` column as the database gives it


class Whereabouts(NamedTuple):
    """What git knows of a migration file that is not in this checkout."""

    commit: str | None  # the newest commit whose tree has the file
    path: str | None  # its path there
    refs: tuple[str, ...]  # branches (local and remote) whose tip has that commit
    renamed_to: str | None  # the migration's new name in the same app, when git saw a rename
    applied_on: str | None  # the branch checked out when it was applied (HEAD's reflog)
    same_operations: str | None = None  # a migration of this checkout doing exactly the same


class Created(NamedTuple):
    """One thing an unapplied migration would create."""

    op: str
    table: str
    column: str | None = None
    columns: tuple[str, ...] = ()
    index_name: str | None = None
    constraint_name: str | None = None


class Pending(NamedTuple):
    """An unapplied migration and what it would create (from the project's Django)."""

    app: str
    name: str
    creates: tuple[Created, ...]
    unknown: tuple[str, ...]  # operations whose effect cannot be evidenced


class Schema(NamedTuple):
    """The database's schema as introspected: table -> columns, and object names."""

    tables: Mapping[str, frozenset[str]]
    indexes: frozenset[str]
    constraints: frozenset[str]


class Expected(NamedTuple):
    """What the project's Django says: the applied state's tables, pending effects, changes."""

    tables: Mapping[str, Mapping[str, tuple[str, ...]]]  # app -> table -> columns
    pending: tuple[Pending, ...]
    changes: Mapping[str, tuple[str, ...]] | None  # app -> descriptions; None: not worked out


class Diagnosis(NamedTuple):
    """Everything doctor found, and what it could not read."""

    database: Database | None
    findings: tuple[Finding, ...]
    unread: tuple[str, ...]
    leaves: Mapping[str, Sequence[str]]  # every app's leaves, as check sees them
    django: str | None = None


# Ghosts and renames ------------------------------------------------------------


def ghost_rows(rows: Iterable[Row], files: Iterable[Key], apps: Iterable[str]) -> list[Row]:
    """Rows of the repository's apps whose migration has no file in this checkout."""
    present = set(files)
    ours = set(apps)
    return sorted(
        (row for row in rows if row.app in ours and (row.app, row.name) not in present),
        key=lambda row: (row.app, row.name),
    )


def ghost_findings(
    ghosts: Sequence[Row], where: Mapping[Key, Whereabouts], applied: Iterable[Key]
) -> list[Finding]:
    """Say where each ghost's file is, and whether it is a rename recorded under an old name."""
    done = set(applied)
    out = []
    for row in ghosts:
        found = where.get((row.app, row.name))
        new = _new_name(found)
        if new is not None and (row.app, new) not in done:
            out.append(_renamed(row, found, new))
        elif new is not None:
            out.append(_twice(row, new))
        else:
            out.append(_ghost(row, found))
    return out


def _twice(row: Row, new: str) -> Finding:
    """A ghost whose renamed self is recorded too: rolling it back would undo the new one."""
    evidence = (
        f"django_migrations records {row.app}.{row.name} as applied ({row.applied})",
        f"no file of that name in this checkout; it was renamed to {new}, "
        "which is recorded as applied too",
    )
    fix = (
        f"delete the stale row {row.app}.{row.name} from django_migrations (migmerge doctor "
        f"--fix offers it, asked with no as the default; rolling it back would undo what {new} "
        "did)"
    )
    return Finding("ghost", row.app, row.name, evidence, fix, "delete-row", new)


def _new_name(found: Whereabouts | None) -> str | None:
    if found is None:
        return None
    return found.renamed_to or found.same_operations


def _renamed(row: Row, found: Whereabouts | None, new: str) -> Finding:
    assert found is not None
    how = (
        f"git renamed it to {new}"
        if found.renamed_to == new
        else f"{new} in this checkout has exactly its operations (a renumber)"
    )
    evidence = (
        f"django_migrations records {row.app}.{row.name} as applied ({row.applied})",
        f"no file of that name in this checkout; {how}",
        f"{row.app}.{new} is not recorded as applied, so migrate would run it again "
        'and fail ("already exists")',
    )
    fix = f"rename the row {row.app}.{row.name} -> {new} (migmerge doctor --fix)"
    return Finding("renamed", row.app, row.name, evidence, fix, "rename-row", new)


def _ghost(row: Row, found: Whereabouts | None) -> Finding:
    evidence = [
        f"django_migrations records {row.app}.{row.name} as applied ({row.applied})",
        "no file of that name in this checkout",
    ]
    if found is None or found.commit is None:
        evidence.append("git has no commit with that file on any branch")
        fix = (
            "if the change it made is gone from the database, delete the row (migmerge doctor "
            f"--fix offers it, asked with no as the default); else find the branch that has "
            f"{row.name} and roll it back there"
        )
        return Finding("ghost", row.app, row.name, tuple(evidence), fix, "delete-row")
    refs = ", ".join(found.refs) or "no branch (only an older commit)"
    evidence.append(f"the file is {found.path} in commit {found.commit[:12]} (on {refs})")
    if found.applied_on:
        evidence.append(f"{found.applied_on} was checked out when it was applied (HEAD's reflog)")
    branch = found.refs[0] if found.refs else found.commit[:12]
    fix = (
        f"roll it back with its file from {branch} (migmerge doctor --fix), "
        f"or check out {branch} and migrate {row.app} back before switching"
    )
    return Finding(
        "ghost", row.app, row.name, tuple(evidence), fix, "rollback", None, found.commit, found.path
    )


# Schema ------------------------------------------------------------------------


def pending_findings(pending: Iterable[Pending], schema: Schema) -> list[Finding]:
    """Unapplied migrations whose tables, columns, indexes or constraints already exist."""
    out = []
    for migration in pending:
        present = [item for item in migration.creates if _exists(item, schema)]
        if not present:
            continue
        missing = [item for item in migration.creates if not _exists(item, schema)]
        out.append(_already(migration, present, missing))
    return out


def _exists(item: Created, schema: Schema) -> bool:
    columns = schema.tables.get(item.table)
    if item.index_name is not None:
        return item.index_name in schema.indexes
    if item.constraint_name is not None:
        return item.constraint_name in schema.constraints or item.constraint_name in schema.indexes
    if columns is None:
        return False
    if item.column is not None:
        return item.column in columns
    return set(item.columns) <= columns


def _already(migration: Pending, present: list[Created], missing: list[Created]) -> Finding:
    evidence = [f"{migration.app}.{migration.name} is not recorded as applied"]
    evidence += [f"already in the database: {_describe(item)}" for item in present]
    evidence += [f"not in the database: {_describe(item)}" for item in missing]
    evidence += [f"cannot be checked: {op}" for op in migration.unknown]
    proven = not missing and not migration.unknown
    if proven:
        fix = f"python manage.py migrate --fake {migration.app} {migration.name}"
        return Finding(
            "already-exists", migration.app, migration.name, tuple(evidence), fix, "fake"
        )
    fix = (
        "no safe fix: only part of it is in the database; finish or undo that part by hand, "
        "then migrate (or --fake) it"
    )
    return Finding("already-exists", migration.app, migration.name, tuple(evidence), fix)


def _describe(item: Created) -> str:
    if item.index_name is not None:
        return f"index {item.index_name} on {item.table}"
    if item.constraint_name is not None:
        return f"constraint {item.constraint_name} on {item.table}"
    if item.column is not None:
        return f"column {item.table}.{item.column}"
    return f"table {item.table}"


def drift_findings(
    expected: Mapping[str, Mapping[str, tuple[str, ...]]],
    schema: Schema,
    apps: Iterable[str],
    pending: Iterable[Pending] = (),
) -> list[Finding]:
    """Applied migrations whose tables or columns are missing or differ in the database.

    A column an unapplied migration adds is not drift: it is reported (when it
    exists already) as that migration's `already-exists`.
    """
    coming = {(item.table, item.column) for p in pending for item in p.creates if item.column}
    coming |= {(item.table, c) for p in pending for item in p.creates for c in item.columns}
    out = []
    for app in sorted(set(apps) & set(expected)):
        differences = []
        for table, columns in sorted(expected[app].items()):
            actual = schema.tables.get(table)
            if actual is None:
                differences.append(f"table {table} is missing")
                continue
            gone = [c for c in columns if c not in actual]
            extra = sorted(c for c in actual - set(columns) if (table, c) not in coming)
            differences += [f"column {table}.{c} is missing" for c in gone]
            differences += [f"column {table}.{c} is not in any applied migration" for c in extra]
        if differences:
            out.append(_drift(app, differences))
    return out


def _drift(app: str, differences: list[str]) -> Finding:
    evidence = (
        f"the applied migrations of {app} describe a schema the database does not have:",
        *differences,
    )
    fix = (
        "no automatic fix: change the database back by hand (or restore a backup); or, if the "
        "database is right, write a migration that makes the same change and apply it with "
        "--fake; or roll the app back and migrate again if its data can be lost"
    )
    return Finding("drift", app, None, evidence, fix)


def change_findings(changes: Mapping[str, Sequence[str]], apps: Iterable[str]) -> list[Finding]:
    """Models with changes no migration holds (makemigrations --check)."""
    ours = set(apps)
    return [
        Finding(
            "unmigrated-changes",
            app,
            None,
            tuple(f"models change: {what}" for what in described),
            f"python manage.py makemigrations {app}",
        )
        for app, described in sorted(changes.items())
        if app in ours and described
    ]


def leaves_findings(conflicts: Iterable[tuple[str, Sequence[str]]]) -> list[Finding]:
    """Apps whose migration graph forks, as check reports them."""
    return [
        Finding(
            "leaves",
            app,
            None,
            (f"{app} has {len(leaves)} leaf migrations: {', '.join(leaves)}",),
            f"migmerge resolve --app {app}",
        )
        for app, leaves in conflicts
    ]

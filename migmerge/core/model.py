"""Plain data shared by every layer: migrations, operations, conflicts, the project.

Everything here is an immutable record with no behaviour beyond small derived
views, so the graph, the classifier and the planner can be tested without git,
files or Django.

The record-type rule, for the whole package (said here, once):

- A record the check path makes or imports is a NamedTuple: every record
  here, and the readers' own. Every hook run imports them, and creating a
  dataclass (and importing `dataclasses`) costs about a millisecond a
  class, several times the whole graph's work on an unchanged tree
  (tests/test_cli.py holds the check path to no `dataclasses`).
- A record only resolution makes (a plan's working records, the edits of
  core/edit, the executor's undo entries, resolve's options) is a frozen
  dataclass: named fields, keyword construction, no tuple behaviour to trip
  on. It lives in a module the check path never imports.
- State that changes while it is worked out (a package whose label is
  being settled, a scan, the settings evaluator's scope, an analysis) is a
  plain class with `__slots__`, never a record mutated in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

Key = tuple[str, str]
"""A migration's identity as Django names it: (app label, migration name)."""

Side = Literal["local", "upstream"]
OverlapKind = Literal["none", "model", "field", "unknown"]
Strategy = Literal["merge", "renumber", "regenerate"]
Mode = Literal["worktree", "merge", "rebase", "against"]
ConflictKind = Literal["leaves", "same-name", "cross-app"]

SETTING_APP = "__setting__"
"""App label used for a `swappable_dependency(settings.X)` that could not be resolved."""


class Operation(NamedTuple):
    """One entry of a migration's `operations`, as far as it can be read statically.

    `op` is the class name (`AddField`, or a custom class's name). `model` and
    `field` are lower-case as Django names them; `new_name` is set for renames.
    The remaining fields feed the overlap classifier and are not part of the
    contract's JSON (they are extra keys where present).
    """

    op: str
    model: str | None = None
    field: str | None = None
    new_name: str | None = None
    # Names of indexes or constraints this operation adds, removes or renames.
    names: tuple[str, ...] = ()
    # Model options set (AlterModelOptions keys, "db_table", "unique_together", ...).
    options: tuple[str, ...] = ()
    # Fields a CreateModel defines.
    fields: tuple[str, ...] = ()
    # Models this operation points at through relations, as "app.model" lower-case.
    references: tuple[str, ...] = ()
    # Fields a relation's `to_field` points at, as "app.model.field" lower-case.
    field_refs: tuple[str, ...] = ()
    # Models a RunPython / RunSQL reaches (lower-case model names of this app,
    # or "app.model" for other apps).
    reaches: tuple[str, ...] = ()
    # Tables a RunSQL names, lower-case, before mapping to models.
    tables: tuple[str, ...] = ()
    # Names a RunPython's code uses (attributes, keywords, lookups' first part,
    # identifier-like strings), lower-case: the fields it may touch.
    mentions: tuple[str, ...] = ()
    # False when the operation cannot be read: custom operation, dynamic
    # get_model, SQL that does not parse.
    readable: bool = True
    # Why it is unreadable, in words.
    note: str | None = None
    # SeparateDatabaseAndState: its state and database operations.
    children: tuple[Operation, ...] = ()
    # The call's arguments, normalised (parse_nodes.shape): equal only for the very same
    # operation, so two sides doing exactly the same thing are no clash.
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Render as the contract's operation object."""
        out: dict[str, Any] = {"op": self.op, "model": self.model, "field": self.field}
        if self.new_name is not None:
            out["new_name"] = self.new_name
        if self.reaches:
            out["reaches"] = list(self.reaches)
        if not self.readable:
            out["readable"] = False
        return out


def may_run(operations: Iterable[Operation] | None) -> Iterator[Operation]:
    """Each operation that may run: a list chosen at run time read as every one it may hold.

    The parser reads `operations = A if FLAG else B` (and a list a function
    picks from the lists it is given) as one `operations` entry whose
    children are both arms: a superset of what runs, as the overlap
    classifier reads it. SeparateDatabaseAndState is left whole, as is.
    """
    for op in operations or ():
        if op.op == "operations" and op.children:
            yield from may_run(op.children)
        else:
            yield op


class Migration(NamedTuple):
    """A migration file read statically.

    `operations` is None when only the header (dependencies and friends) was
    read, which is all the conflict search needs.
    """

    app: str
    name: str
    path: str
    dependencies: tuple[Key, ...] = ()
    replaces: tuple[Key, ...] = ()
    run_before: tuple[Key, ...] = ()
    initial: bool | None = None
    operations: tuple[Operation, ...] | None = None
    # Set when dependencies/replaces/run_before were not literals: what was
    # assumed instead, in words.
    dynamic: str | None = None
    # Set when the file could not be read in full (Python cannot parse it, an
    # operation's reading failed): what was not read, in words.
    unreadable: str | None = None

    @property
    def key(self) -> Key:
        return (self.app, self.name)

    @property
    def is_data_migration(self) -> bool:
        """True when it runs code or SQL, or may (unread, or chosen at run time): never deleted."""
        return any(
            op.op in ("RunPython", "RunSQL", "operations") or not op.readable
            for op in self.operations or ()
        )


class AppMigrations(NamedTuple):
    """A migrations package found in a tree, and the app it belongs to."""

    label: str
    directory: str  # repository-relative, "/"-separated
    # How the label was found: "config", "appconfig", "dependencies", "folder".
    label_source: str = "folder"
    # module file name (without .py) -> repository-relative path
    files: tuple[tuple[str, str], ...] = ()


class Overlap(NamedTuple):
    """How far the conflicting branches' operations collide."""

    kind: OverlapKind
    reasons: tuple[str, ...] = ()


class Leaf(NamedTuple):
    """One leaf of a conflicting app, with the branch that leads to it."""

    name: str
    path: str
    side: Side | None
    shared: bool
    applied: bool | None
    branch: tuple[str, ...]
    operations: tuple[Operation, ...]
    # Set when the migration is not of the conflict's app (cross-app conflicts).
    app: str | None = None
    # check --branches: the branch whose migration it is.
    ref: str | None = None
    # The version's blob, for a same-name conflict's leaves (one path, two contents).
    blob: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "side": self.side,
            "shared": self.shared,
            "applied": self.applied,
            "branch": list(self.branch),
            "operations": [op.to_json() for op in self.operations],
        }
        if self.app is not None:
            out["app"] = self.app
        if self.ref is not None:
            out["ref"] = self.ref
        return out


class Conflict(NamedTuple):
    """What keeps a merged tree from migrating; `kind` says which sort.

    `leaves`: an app with two or more leaves; `same-name`: both sides added a
    migration under one name with different contents; `cross-app`: one side
    deletes or renames what the other side's migrations in another app use.
    """

    app: str
    directory: str
    ancestor: str | None
    leaves: tuple[Leaf, ...]
    overlap: Overlap
    strategy: Strategy | None
    strategy_why: str = ""
    kind: ConflictKind = "leaves"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "app": self.app,
            "directory": self.directory,
            "ancestor": self.ancestor,
            "leaves": [leaf.to_json() for leaf in self.leaves],
            "overlap": self.overlap.kind,
            "reasons": list(self.overlap.reasons),
            "strategy": self.strategy,
        }


class Warning(NamedTuple):
    """Something worth saying that is not a conflict."""

    kind: str
    app: str | None
    message: str
    path: str | None = None
    # The commit it is about (rewrites-shared-migration: the default branch's).
    commit: str | None = None
    # check --branches: the branch it is about.
    ref: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "app": self.app, "message": self.message}
        if self.path is not None:
            out["path"] = self.path
        if self.commit is not None:
            out["commit"] = self.commit
        if self.ref is not None:
            out["ref"] = self.ref
        return out


class CheckResult(NamedTuple):
    """What `check` found."""

    mode: Mode
    local: str | None
    upstream: str | None
    base: str | None
    conflicts: tuple[Conflict, ...] = ()
    warnings: tuple[Warning, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "mode": self.mode,
            "local": self.local,
            "upstream": self.upstream,
            "base": self.base,
            "conflicts": [c.to_json() for c in self.conflicts],
            "warnings": [w.to_json() for w in self.warnings],
        }


class Database(NamedTuple):
    """Where the project's default database lives."""

    vendor: str  # "sqlite" | "postgresql" | "mysql"
    name: str  # SQLite: absolute file path; otherwise the database name
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None

    def describe(self) -> str:
        """Name the database for a person: the file, or vendor://host/name."""
        if self.vendor == "sqlite":
            return self.name
        return f"{self.vendor}://{self.host or 'localhost'}/{self.name}"

    def __repr__(self) -> str:
        # The password never reaches a log, a traceback or a test failure.
        hidden = None if self.password is None else "***"
        shown = ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, (*self[:5], hidden)))
        return f"Database({shown})"


class Project(NamedTuple):
    """The project as it runs itself: its manage command, interpreter, settings and database.

    Built once per run by `reading.project.load_project`; every `*_why` says
    which rule chose the value (or why there is none), in words a person reads.
    `applied` is None until read, and None when it cannot be read: unknown,
    never "nothing applied"; `applied_why` says how it was read or why not,
    `applied_hint` how to let migmerge see it.
    """

    root: str
    # The argv prefix that stands for `python manage.py`; () when there is none.
    manage: tuple[str, ...]
    # How a person types that prefix: ("python", "manage.py"), ("karrio",).
    manage_shown: tuple[str, ...]
    manage_why: str
    cwd: str
    python: str
    python_why: str
    settings: str | None
    settings_why: str
    database: Database | None
    database_why: str
    # Appended to every manage command: ("--settings", X) when the flag or the config chose X.
    settings_args: tuple[str, ...] = ()
    applied: frozenset[Key] | None = None
    applied_why: str = ""
    applied_hint: str = ""

    def command(self, *args: str) -> tuple[str, ...]:
        """The argv running the project's manage command with `args`; () without one."""
        return (*self.manage, *args, *self.settings_args) if self.manage else ()

    def shown(self, argv: tuple[str, ...] | list[str]) -> str:
        """Render an argv of `command` the way a person types it (no interpreter path)."""
        import shlex

        if self.manage and tuple(argv[: len(self.manage)]) == self.manage:
            return shlex.join([*self.manage_shown, *argv[len(self.manage) :]])
        return shlex.join(argv)


class Unfinished(NamedTuple):
    """An interrupted resolution: where its journal is and what it was doing."""

    journal: str
    what: str  # "renumber polls", "regenerate polls", or "a resolution" when unreadable
    started: str

    def sentence(self) -> str:
        """One line naming it and the two ways on."""
        return (
            f"an unfinished migmerge resolve ({self.what}, started {self.started}) left its "
            f"journal in {self.journal}: run migmerge resolve --abort to put everything back "
            "as it was, or migmerge resolve --continue to finish it"
        )

    def to_json(self) -> dict[str, str]:
        return {"journal": self.journal, "what": self.what, "started": self.started}

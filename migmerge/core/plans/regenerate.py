"""The guided rollback-and-regenerate: the way out when both branches changed the same things.

Back up the database, `manage.py migrate APP ANCESTOR`, remove the local
side's generated migrations, `manage.py makemigrations APP`, `manage.py
migrate`. Data migrations (RunPython, RunSQL) are never deleted: they are set
aside while makemigrations runs, then renumbered onto the new leaf. Every step
runs the project's own manage.py; anything that fails puts the files, the
index and the database back as they were.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from migmerge.core import edit
from migmerge.core.model import Action, Conflict, Leaf, Plan
from migmerge.doing import database as db_module
from migmerge.doing.apply import run_manage, shown_command
from migmerge.errors import MigmergeError, Refused, StepFailed
from migmerge.reading import git
from migmerge.reading.project import manage_command, manage_cwd

if TYPE_CHECKING:
    from migmerge.core.model import Database
    from migmerge.doing.prompts import Questioner
    from migmerge.reading.analysis import Analysis

Out = Callable[[str], None]
HIDDEN = "~"  # Django's loader skips modules whose name starts with "~" (or "_")


# Planning ----------------------------------------------------------------------


def plan_regenerate(
    analysis: Analysis, conflict: Conflict, *, database: Database | None, force: bool = False
) -> Plan:
    """Plan the rollback-and-regenerate of the conflict's local side (nothing is done yet)."""
    local = _local_leaf(conflict)
    ancestor = _ancestor(conflict)
    _refuse_other_conflicts(analysis, conflict.app)
    _refuse_shared(conflict.app, local, force)
    kept = [n for n in local.branch if analysis.migration(conflict.app, n).is_data_migration]
    removed = [n for n in local.branch if n not in kept]
    _refuse_outside_references(analysis, conflict.app, local.branch, removed)
    manage = partial(manage_command, analysis.root, analysis.config, app_dir=conflict.directory)
    actions = [
        *_backup(analysis.root, database),
        *_rollback(analysis, conflict, ancestor, local),
        *_removals(analysis, conflict.app, removed),
        *_set_aside(analysis, conflict.app, kept, removed, ancestor),
        _run(manage("makemigrations", conflict.app, "--noinput"), MAKE_WHY, database=False),
        *_bring_back(analysis, conflict.app, kept),
        _run(manage("migrate"), "apply the regenerated migrations", database=True),
        _run(manage("makemigrations", conflict.app, "--check", "--dry-run"), CHECK_WHY),
    ]
    return Plan(
        "regenerate",
        conflict.app,
        tuple(actions),
        _warnings(conflict, database, kept),
        _afterwards(conflict.app, kept),
    )


MAKE_WHY = "write the local model changes again, on top of the upstream migrations"
CHECK_WHY = "verify: the models and the migrations agree"


def _local_leaf(conflict: Conflict) -> Leaf:
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    if len(local) != 1:
        raise Refused(
            f"{conflict.app}: cannot regenerate: {len(local)} leaves are local "
            f"({_sides(conflict)}),"
            " so which migrations to regenerate cannot be told",
            hint=f"migmerge resolve --app {conflict.app} --strategy merge --force, or name the "
            "branch you merge with: migmerge check --against REV",
        )
    return local[0]


def _sides(conflict: Conflict) -> str:
    return ", ".join(f"{leaf.name}: {leaf.side or 'unknown side'}" for leaf in conflict.leaves)


def _ancestor(conflict: Conflict) -> str:
    if conflict.ancestor is None:
        raise Refused(
            f"{conflict.app}: cannot regenerate: the leaves share no ancestor to roll back to",
            hint=f"migmerge resolve --app {conflict.app} --strategy merge --force",
        )
    return conflict.ancestor


def _refuse_other_conflicts(analysis: Analysis, app: str) -> None:
    others = sorted(c.app for c in analysis.result.conflicts if c.app != app)
    if others:
        raise Refused(
            f"{app}: cannot regenerate yet: Django's migrate refuses to run while "
            f"{', '.join(others)} also has parallel migrations",
            hint=f"migmerge resolve --app {others[0]}, then migmerge resolve --app {app}",
        )


def _refuse_shared(app: str, local: Leaf, force: bool) -> None:
    if local.shared and not force:
        raise Refused(
            f"{app}: refusing to regenerate {', '.join(local.branch)}: they are shared (pushed "
            "or on the default branch), so someone may have applied them",
            hint=f"migmerge resolve --app {app} --strategy merge --force "
            "(or --force with regenerate if nobody has applied them)",
        )


def _refuse_outside_references(
    analysis: Analysis, app: str, branch: Sequence[str], removed: Sequence[str]
) -> None:
    gone = {(app, name) for name in removed}
    users = sorted(
        m.path
        for m in analysis.migrations.values()
        if not (m.app == app and m.name in branch)
        and gone & {*m.dependencies, *m.run_before, *m.replaces}
    )
    if users:
        raise Refused(
            f"{app}: cannot regenerate: {', '.join(users)} depend on local migrations that "
            "regenerate would delete",
            hint=f"migmerge resolve --app {app} --strategy merge --force",
        )


def _backup(root: Path, database: Database | None) -> list[Action]:
    if database is None:
        return []
    from migmerge.core.plans.steps import backup_dir

    why = f"keep a copy of {database.describe()} to restore if a step fails"
    return [Action("backup", why, target=str(backup_dir(root)))]


def _rollback(analysis: Analysis, conflict: Conflict, ancestor: str, local: Leaf) -> list[Action]:
    if local.applied is False:
        return []  # nothing local is applied: there is nothing to unapply
    from migmerge.core.plans.steps import unapply_actions

    why = f"unapply {conflict.app}'s local migrations (back to {ancestor})"
    return list(unapply_actions(analysis, conflict.app, ancestor, why=why))


def _removals(analysis: Analysis, app: str, removed: Sequence[str]) -> list[Action]:
    why = "generated from the local models: makemigrations writes it again below"
    return [Action("delete", why, _path(analysis, app, name)) for name in removed]


def _set_aside(
    analysis: Analysis, app: str, kept: Sequence[str], removed: Sequence[str], ancestor: str
) -> list[Action]:
    """Re-point kept migrations past the removed ones, then hide them from makemigrations."""
    actions: list[Action] = []
    previous = ancestor
    for name in kept:
        path = _path(analysis, app, name)
        migration = analysis.migrations[(app, name)]
        olds = [n for a, n in migration.dependencies if a == app and n in removed]
        if olds:
            source = (analysis.root / path).read_bytes()
            for old in olds:
                source = edit.replace_dependency(source, (app, old), (app, previous))
            why = f"depend on {previous} instead of the removed {', '.join(olds)}"
            actions.append(Action("edit", why, path, content=source))
        why = "a data migration is kept: set aside while makemigrations runs"
        actions.append(Action("rename", why, path, target=_hidden(path)))
        previous = name
    return actions


def _bring_back(analysis: Analysis, app: str, kept: Sequence[str]) -> list[Action]:
    why = "bring the data migration back; it is renumbered onto the new leaf next"
    return [
        Action("rename", why, _hidden(path), target=path)
        for path in (_path(analysis, app, name) for name in kept)
    ]


def _run(command: tuple[str, ...], why: str, *, database: bool = False) -> Action:
    return Action(
        "run", why, command=command, cwd=str(manage_cwd(command)), touches_database=database
    )


def _path(analysis: Analysis, app: str, name: str) -> str:
    return analysis.migrations[(app, name)].path


def _hidden(path: str) -> str:
    folder, _, module = path.rpartition("/")
    return f"{folder}/{HIDDEN}{module}" if folder else f"{HIDDEN}{module}"


def _warnings(
    conflict: Conflict, database: Database | None, kept: Sequence[str]
) -> tuple[str, ...]:
    found = []
    if database is None:
        found.append("no database found: nothing is backed up before migrate runs")
    if kept:
        found.append(
            f"{', '.join(kept)} of {conflict.app} run code or SQL: kept and renumbered onto the "
            "new leaf; they are unapplied and applied again, so check they can run twice"
        )
    return tuple(found)


def _afterwards(app: str, kept: Sequence[str]) -> tuple[str, ...]:
    notes = [f"review the regenerated migration of {app}, then commit it"]
    if kept:
        notes.append(f"the kept data migrations ({', '.join(kept)}) now follow the new leaf")
    return tuple(notes)


# Running -----------------------------------------------------------------------


def run_regenerate(
    analysis: Analysis,
    conflict: Conflict,
    plan: Plan,
    *,
    questioner: Questioner,
    out: Out,
    database: Database | None,
) -> None:
    """Run the planned sequence; on failure restore files, index and database, raise StepFailed."""
    journal = _Journal.take(analysis.root, [conflict.directory])
    runner = _Runner(analysis.root, conflict.app, journal, questioner, out, database)
    try:
        runner.run_all(plan.actions)
        _verify(analysis.root, conflict.app)
    except BaseException as exc:
        restored = journal.restore(database, runner.backup, runner.database_changed)
        _raise(runner.current, exc, restored)
    runner.stage_new_files(conflict.directory)
    _say_done(out, conflict.app, database, runner.backup)


@dataclass
class _Runner:
    """Carries out a regenerate plan's actions, remembering what to undo."""

    root: Path
    app: str
    journal: _Journal
    questioner: Questioner
    out: Out
    database: Database | None
    backup: Path | None = None
    database_changed: bool = False
    current: str = "start"
    pending_renumber: list[str] = field(default_factory=list)

    def run_all(self, actions: Sequence[Action]) -> None:
        made = False
        for action in actions:
            if made and action.action == "run" and self.pending_renumber:
                self.current = "renumber the kept data migrations"
                self.renumber(self.pending_renumber)
                self.pending_renumber = []
            self.current = _describe(action)
            self.step(action)
            made = made or _is_makemigrations(action)
            self.out(f"  done: {self.current}")

    def step(self, action: Action) -> None:
        kind = action.action
        if kind == "backup":
            self.take_backup(Path(action.target or "."))
        elif kind in ("write", "edit"):
            (self.root / _need(action.path)).write_bytes(action.content or b"")
        elif kind == "delete":
            self.delete(_need(action.path))
        elif kind == "rename":
            self.rename(_need(action.path), _need(action.target))
        elif kind == "run":
            self.run(action)

    def take_backup(self, target: Path) -> None:
        if self.database is None:
            return
        self.backup = db_module.backup(self.database, target)
        self.out(f"  database backed up to {self.backup}")

    def delete(self, path: str) -> None:
        tracked, _ = git.index_entries(self.root, [path])
        if path in tracked:
            git.git_run(self.root, "rm", "-q", "-f", "--", path)
        else:
            (self.root / path).unlink()

    def rename(self, path: str, target: str) -> None:
        # A plain move: the hidden copy lives for one step and comes back to the same path.
        os.replace(self.root / path, self.root / target)
        if not _is_hidden(target):
            self.pending_renumber.append(Path(target).stem)

    def run(self, action: Action) -> None:
        command = action.command or ()
        shown = shown_command(action)
        if action.touches_database:
            if not self.questioner.confirm(f"Run {shown}? It changes your database.", default=True):
                raise Refused(f"{shown} was not confirmed")
            self.database_changed = True
        run_manage(command, Path(action.cwd or self.root), env=action.env)

    def renumber(self, kept: Sequence[str]) -> None:
        from migmerge.core.plans.renumber import plan_renumber
        from migmerge.doing import apply
        from migmerge.reading.analysis import analyze

        analysis = analyze(self.root, apps=[self.app])
        onto = _new_leaf(analysis, self.app, kept)
        keep_names = analysis.config.renumber == "keep-names"
        # Shared-ness was vetted when the regenerate was planned, and the rollback unapplied them.
        moved = plan_renumber(analysis, self.app, kept, onto, keep_names=keep_names, force=True)
        self.journal.add(apply.touched_paths(moved.actions))
        apply.apply_plan(self.root, moved, out=self.out, questioner=self.questioner)

    def stage_new_files(self, directory: str) -> None:
        """Stage the migrations this run wrote, beside its staged deletions (tracked apps)."""
        tracked, _ = git.index_entries(self.root, [directory])
        if not tracked:
            return
        changed = [
            *git.untracked_files(self.root, [directory]),
            *git.modified_files(self.root, [directory]),
        ]
        # Only files that did not exist before the run: a person's own edits stay unstaged.
        ours = [p for p in changed if p.endswith(".py") and self.journal.files.get(p) is None]
        ours = [p for p in ours if (self.root / p).is_file()]
        if ours:
            git.git_run(self.root, "add", "--", *ours)


def _new_leaf(analysis: Analysis, app: str, kept: Sequence[str]) -> str:
    for conflict in analysis.result.conflicts:
        if conflict.app == app:
            others = [leaf.name for leaf in conflict.leaves if leaf.name != kept[-1]]
            if len(others) == 1:
                return others[0]
    raise StepFailed(f"{app}: cannot tell the new leaf to renumber {', '.join(kept)} onto")


def _is_makemigrations(action: Action) -> bool:
    command = action.command or ()
    return "makemigrations" in command and "--check" not in command


def _is_hidden(path: str) -> bool:
    return path.rpartition("/")[2].startswith(HIDDEN)


def _need(value: str | None) -> str:
    if value is None:
        raise MigmergeError("malformed plan: an action lacks its path")
    return value


def _describe(action: Action) -> str:
    from migmerge.doing.apply import describe

    return describe(action)


def _verify(root: Path, app: str) -> None:
    from migmerge.reading.analysis import analyze

    analysis = analyze(root, apps=[app])
    for conflict in analysis.result.conflicts:
        if conflict.app == app:
            leaves = ", ".join(leaf.name for leaf in conflict.leaves)
            raise StepFailed(f"{app} still has several leaves after regenerating: {leaves}")


def _raise(step: str, exc: BaseException, restored: list[str]) -> None:
    done = "; restored: " + ", ".join(restored) if restored else "; nothing needed restoring"
    if isinstance(exc, Refused):
        raise Refused(f"regenerate stopped at {step}: {exc.message}{done}") from exc
    if isinstance(exc, MigmergeError):
        raise StepFailed(f"regenerate failed at {step}: {exc.message}{done}", exc.hint) from exc
    if isinstance(exc, OSError):
        raise StepFailed(f"regenerate failed at {step}: {exc}{done}") from exc
    raise exc


def _say_done(out: Out, app: str, database: Database | None, backup: Path | None) -> None:
    out(f"{app}: regenerated; one leaf, and the models match the migrations")
    if database is not None and backup is not None:
        out(
            f"  to go back to the database as it was: {db_module.restore_command(database, backup)}"
        )


# The journal -------------------------------------------------------------------


@dataclass
class _Journal:
    """Files and index records as they were before the first step, to put back on failure."""

    root: Path
    folders: list[str]
    files: dict[str, bytes | None] = field(default_factory=dict)
    index: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def take(cls, root: Path, folders: Sequence[str]) -> _Journal:
        journal = cls(root, list(folders))
        journal.add(_files_in(root, folders))
        for folder in folders:
            journal.index.update(_index_records(root, [folder]))
        return journal

    def add(self, paths: Iterable[str]) -> None:
        """Remember more paths (first sight wins: that is their state before the run)."""
        fresh = [p for p in paths if p not in self.files]
        for path in fresh:
            file = self.root / path
            self.files[path] = file.read_bytes() if file.is_file() else None
        for path, records in _index_records(self.root, fresh).items():
            self.index.setdefault(path, records)

    def restore(
        self, database: Database | None, backup: Path | None, database_changed: bool
    ) -> list[str]:
        """Put files, index and database back; return what was restored, in words."""
        restored = []
        changed = self._restore_files()
        if changed:
            restored.append("files " + ", ".join(changed))
        self._restore_index()
        if database is not None and database_changed:
            restored.append(_restore_database(database, backup))
        return restored

    def _restore_files(self) -> list[str]:
        changed = []
        for path in _files_in(self.root, self.folders):
            if path not in self.files:
                (self.root / path).unlink()
                changed.append(path)
        for path, content in self.files.items():
            file = self.root / path
            now = file.read_bytes() if file.is_file() else None
            if now != content:
                _put(file, content)
                changed.append(path)
        return sorted(set(changed))

    def _restore_index(self) -> None:
        paths = sorted({*self.index, *self.files})
        if not paths:
            return
        git.git_run(self.root, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *paths)
        records = "".join(f"{r}\n" for path in paths for r in self.index.get(path, ()))
        if records:
            git.git_bytes(self.root, "update-index", "--index-info", input=records.encode())


def _put(file: Path, content: bytes | None) -> None:
    if content is None:
        file.unlink(missing_ok=True)
    else:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(content)


def _files_in(root: Path, folders: Sequence[str]) -> list[str]:
    """Files directly in the migrations folders (not __pycache__), repository-relative."""
    found = []
    for folder in folders:
        base = root / folder
        if base.is_dir():
            found += [f"{folder}/{p.name}" for p in sorted(base.iterdir()) if p.is_file()]
    return found


def _index_records(root: Path, paths: Sequence[str]) -> dict[str, list[str]]:
    if not paths:
        return {}
    raw = git.git_bytes(root, "ls-files", "-s", "-z", "--", *paths)
    records: dict[str, list[str]] = {}
    for record in raw.decode("utf-8", "surrogateescape").split("\0"):
        if record:
            records.setdefault(record.partition("\t")[2], []).append(record)
    return records


def _restore_database(database: Database, backup: Path | None) -> str:
    if backup is None:
        return f"database {database.describe()} NOT restored (no backup was taken)"
    try:
        db_module.restore(database, backup)
    except MigmergeError as exc:
        how = db_module.restore_command(database, backup)
        return f"database NOT restored ({exc.message}): restore it with {how}"
    return f"database {database.describe()} from {backup}"

"""`doctor`: the files, django_migrations and the schema, compared; what disagrees, and the fix.

Reads only. The files come from `analyze` (the same reading as `check`), the
rows and the schema from the database read-only, what gone files were from
git's history, and what the schema should be from the project's own Django
(asked once, remembered). Whatever cannot be read is said, and the rest is
still reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from migmerge.core import doctor as rules
from migmerge.core.doctor import Diagnosis, Finding, Row, Whereabouts
from migmerge.core.model import Key, Migration, Project
from migmerge.core.plan import Action
from migmerge.errors import MigmergeError
from migmerge.reading import git, git_refs, history, probe
from migmerge.reading.analysis import Analysis, analyze
from migmerge.reading.schema import Facts, read_facts

if TYPE_CHECKING:
    from migmerge.core.plans.doctor import Fake, Fixes
    from migmerge.core.plans.doctor_ghosts import Unapply

Out = Callable[[str], None]


def run_doctor(
    *,
    repo: str | None,
    apps: Sequence[str],
    database: str,
    settings: str | None,
    fmt: str,
    out: Out,
) -> int:
    """Run `doctor` (reading only); exit 1 when a problem is found."""
    from migmerge import report as words

    if fmt == "json":
        found = diagnose(repo, apps=apps, alias=database, settings=settings)
        out(words.doctor_json(found))
        return 1 if found.findings else 0
    seen = examine(repo, apps=apps, alias=database, settings=settings)
    found = seen.diagnosis
    fixes = plan_fixes(seen) if found.findings else None
    counted = (fixes.fixed, [(i.finding, i.why) for i in fixes.left]) if fixes else None
    out(words.doctor_text(found, counted))
    return 1 if found.findings else 0


def diagnose(
    repo: str | Path | None, *, apps: Sequence[str] = (), alias: str = "default",
    settings: str | None = None,
) -> Diagnosis:  # fmt: skip
    """Compare the three places a data model lives; return the findings."""
    return examine(repo, apps=apps, alias=alias, settings=settings).diagnosis


class Examination(NamedTuple):
    """The diagnosis and what it was made from (doctor --fix plans from these)."""

    analysis: Analysis
    project: Project
    facts: Facts
    answer: probe.Answer | None
    diagnosis: Diagnosis


def examine(
    repo: str | Path | None, *, apps: Sequence[str] = (), alias: str = "default",
    settings: str | None = None,
) -> Examination:  # fmt: skip
    """Read the files, the database and the project's Django, and diagnose."""
    analysis = analyze(repo)
    _check_apps(analysis, apps)
    project = _project(analysis, settings)
    unread: list[str] = []
    database = project.database
    facts = read_facts(database) if database else Facts(None, None, project.database_why)
    if facts.problem:
        unread.append(f"the database: {facts.problem}")
    answer = _ask(analysis, project, alias, facts, unread)
    findings = _findings(analysis, facts, answer, unread)
    selected = tuple(f for f in findings if not apps or f.app in apps)
    leaves = _all_leaves(analysis, apps)
    django = answer.django if answer else None
    found = Diagnosis(database, selected, tuple(unread), leaves, django)
    return Examination(analysis, project, facts, answer, found)


def _check_apps(analysis: Analysis, apps: Sequence[str]) -> None:
    unknown = [app for app in apps if app not in analysis.apps]
    if unknown:
        raise MigmergeError(
            f"no app labelled {', '.join(unknown)} has migrations here",
            hint=f"known apps: {', '.join(sorted(analysis.apps)) or 'none'}",
        )


def _project(analysis: Analysis, settings: str | None) -> Project:
    """The project as it runs itself (the one project reader, asking its Django if need be)."""
    from migmerge.reading.project import load_project

    files = analysis.scan.tree.files
    return load_project(analysis.root, analysis.config, settings=settings, files=files, ask=True)


def _ask(
    analysis: Analysis, project: Project, alias: str, facts: Facts, unread: list[str]
) -> probe.Answer | None:
    if not project.manage:
        unread.append(f"the project's Django: {project.manage_why}")
        return None
    answer = probe.ask(
        analysis.root,
        analysis.scan.tree,
        python=project.python,
        cwd=project.cwd,
        settings=project.settings,
        alias=alias,
        rows=facts.rows,
    )
    unread += [f"the project's Django: {problem}" for problem in answer.problems]
    return answer


def _findings(
    analysis: Analysis, facts: Facts, answer: probe.Answer | None, unread: list[str]
) -> list[Finding]:
    found: list[Finding] = []
    labels = set(analysis.apps)
    if facts.rows is not None:
        found += _ghosts(analysis, facts.rows, answer)
    expected = answer.expected if answer else None
    if expected is not None and facts.schema is not None:
        found += rules.pending_findings(expected.pending, facts.schema)
        found += rules.drift_findings(expected.tables, facts.schema, labels, expected.pending)
    elif facts.schema is not None and answer is not None:
        unread.append("what the schema should be (the project's Django did not say)")
    if expected is not None and expected.changes is not None:
        found += rules.change_findings(expected.changes, labels)
    forks = [(c.app, [leaf.name for leaf in c.leaves]) for c in analysis.result.conflicts]
    return found + rules.leaves_findings(forks)


def _ghosts(analysis: Analysis, rows: Sequence[Row], answer: probe.Answer | None) -> list[Finding]:
    files = list(analysis.migrations)
    ghosts = rules.ghost_rows(rows, files, analysis.apps)
    if not ghosts:
        return []
    refs = git_refs.list_refs(analysis.root)
    branches = {n: s for n, s in refs.shas.items() if not n.endswith("/HEAD")}
    wanted = [((r.app, r.name), _path(analysis, r.app, r.name), r.applied) for r in ghosts]
    info = git.find_repo(analysis.root)
    where = history.whereabouts(
        analysis.root, info.git_dir, wanted, branches, answer.zone if answer else None
    )
    applied = {(r.app, r.name) for r in rows}
    where = {key: _same_operations(analysis, key, found, applied) for key, found in where.items()}
    return rules.ghost_findings(ghosts, where, applied)


def _path(analysis: Analysis, app: str, name: str) -> str:
    return f"{analysis.apps[app].directory}/{name}.py"


def _same_operations(
    analysis: Analysis, key: Key, found: Whereabouts, applied: set[Key]
) -> Whereabouts:
    """Name the unapplied migration of this checkout that does exactly what the ghost did."""
    if found.renamed_to or found.commit is None or found.path is None:
        return found
    from migmerge.reading import parse

    app = key[0]
    blob = git.git_bytes(analysis.root, "cat-file", "blob", f"{found.commit}:{found.path}")
    try:
        ghost = parse.parse_migration(blob, app=app, name=key[1], path=found.path)
    except MigmergeError:
        return found
    mine = _operations(ghost)
    if not mine:
        return found
    for name in sorted(n for a, n in analysis.migrations if a == app and (a, n) not in applied):
        if _operations(analysis.migration(app, name)) == mine:
            return found._replace(same_operations=name)
    return found


def _operations(migration: Migration) -> tuple[str | None, ...]:
    ops = migration.operations or ()
    details = tuple(op.detail for op in ops)
    return details if details and all(details) else ()


def _all_leaves(analysis: Analysis, apps: Sequence[str]) -> dict[str, list[str]]:
    """Every app's leaves, as Django's graph (and check) count them."""
    from migmerge.core.graph import Graph

    graph = Graph(analysis.migrations)
    return {app: graph.leaves(app) for app in sorted(analysis.apps) if not apps or app in apps}


# The plan doctor --fix would follow (planned by doctor too, to say what it fixes) ---


def plan_fixes(seen: Examination, declined: frozenset[Key] = frozenset()) -> Fixes:
    """Plan doctor --fix's steps for a diagnosis (reads only: nothing is done yet)."""
    from migmerge.core.graph import Graph
    from migmerge.core.plans import doctor as planner
    from migmerge.core.plans import steps
    from migmerge.reading.ghosts import ghost_files

    analysis, answer = seen.analysis, seen.answer
    graph = Graph(analysis.migrations)
    facts = planner.Facts(
        applied=frozenset((r.app, r.name) for r in seen.facts.rows or ()),
        parents=graph.parents,
        ghosts=ghost_files(
            analysis.root,
            seen.diagnosis.findings,
            schema=seen.facts.schema,
            expected=answer.expected.tables if answer and answer.expected else None,
            database=seen.project.database,
            cache_tag=answer.cache_tag if answer else None,
        ),
        forked=tuple(c.app for c in analysis.result.conflicts),
    )
    return planner.plan_fix(
        seen.diagnosis.findings,
        facts,
        backup=steps.backup_action(analysis.backups),
        fake=_fake(seen),
        unapply=_unapply(seen),
        declined=declined,
    )


def _fake(seen: Examination) -> Fake:
    project = seen.project

    def fake(app: str, name: str, why: str) -> Action | str:
        command = project.command("migrate", "--fake", app, name)
        if not command:
            return f"cannot run migrate --fake: {project.manage_why}"
        return Action("run", why, command=command, cwd=project.cwd, touches_database=True)

    return fake


def _unapply(seen: Examination) -> Unapply:
    from migmerge.core.plans import steps

    analysis = seen.analysis

    def unapply(keys: Sequence[Key], why: str) -> Sequence[Action] | str:
        try:
            return steps.unapply_only_actions(analysis, keys, why)
        except MigmergeError as exc:  # no manage.py to run it with
            return exc.message

    return unapply

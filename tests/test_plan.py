"""Planning: the auto table, merge and renumber plans, proven by Django after applying them."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from migmerge.core.model import Conflict, Leaf, Overlap
from migmerge.core.plans.merge import merge_request, plan_merge
from migmerge.core.plans.renumber import (
    plan_renumber,
    plan_renumber_conflict,
)
from migmerge.core.strategy import choose_strategy
from migmerge.doing.apply import apply_plan
from migmerge.doing.prompts import FlagQuestioner, ScriptedQuestioner
from migmerge.errors import Refused
from migmerge.reading.analysis import analyze
from migmerge.reading.config import Config
from migmerge.reading.project import find_database
from migmerge.reading.render import render_merges
from tests.testing.projects import django_conflicts, manage, nothing_applied, renumber_project
from tests.testing.repos import git, isolated_git_env, run_migmerge

MIG = "polls/migrations"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("plan")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_git_env(base / "home").items():
            mp.setenv(key, value)
        root = renumber_project(base)
        nothing_applied(root)  # known: nothing applied (unknown is taken as possibly applied)
        yield root


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "proj", symlinks=True))


def django_agrees(root: Path) -> None:
    """Django's own proof: one leaf, a fresh database migrates, models match migrations."""
    assert django_conflicts(root) == {}
    (root / "db.sqlite3").unlink(missing_ok=True)
    manage(root, "migrate")
    manage(root, "makemigrations", "--check", "--dry-run")


def read(root: Path, path: str) -> bytes:
    return (root / path).read_bytes()


# choose_strategy ---------------------------------------------------------------


def conflict(kind: str, *, local_shared: bool = False, sides: bool = True) -> Conflict:
    leaves = (
        Leaf("0002_a", f"{MIG}/0002_a.py", "local" if sides else None, local_shared, False,
             ("0002_a",), ()),
        Leaf("0002_b", f"{MIG}/0002_b.py", "upstream" if sides else None, True, None,
             ("0002_b",), ()),
    )  # fmt: skip
    overlap = Overlap(kind, (f"{kind} reason",))  # type: ignore[arg-type]
    return Conflict("polls", MIG, "0001_initial", leaves, overlap, None)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (conflict("none"), "renumber"),
        (conflict("model"), "renumber"),
        (conflict("none", local_shared=True), "merge"),
        (conflict("model", sides=False), "merge"),
        (conflict("field"), "regenerate"),
    ],
)
def test_auto_follows_the_contract_table(case: Conflict, expected: str) -> None:
    strategy, why = choose_strategy(case, "auto", "auto", force=False)
    assert strategy == expected
    assert why and "\n" not in why


def test_config_strategy_is_the_default() -> None:
    assert choose_strategy(conflict("none"), None, "merge", force=False)[0] == "merge"


def test_unknown_overlap_asks_or_refuses() -> None:
    questioner = ScriptedQuestioner(["regenerate"])
    strategy, _ = choose_strategy(conflict("unknown"), "auto", "auto", force=False,
                                  questioner=questioner)  # fmt: skip
    assert strategy == "regenerate"
    assert "(merge, renumber, regenerate) regenerate" in questioner.transcript[0]
    with pytest.raises(Refused, match="needs a person"):
        choose_strategy(conflict("unknown"), "auto", "auto", force=False,
                        questioner=FlagQuestioner(yes=True))  # fmt: skip
    with pytest.raises(Refused, match="a person must choose"):
        choose_strategy(conflict("unknown"), "auto", "auto", force=False)


@pytest.mark.parametrize("kind", ["field", "unknown"])
@pytest.mark.parametrize("wanted", ["merge", "renumber"])
def test_merge_or_renumber_over_an_overlap_needs_force(kind: str, wanted: str) -> None:
    with pytest.raises(Refused, match=f"refusing to {wanted}") as info:
        choose_strategy(conflict(kind), wanted, "auto", force=False)
    assert info.value.hint and "--force" in info.value.hint
    assert choose_strategy(conflict(kind), wanted, "auto", force=True)[0] == wanted


def test_unknown_strategy_is_bad_input() -> None:
    with pytest.raises(Exception, match="unknown strategy 'fast'") as info:
        choose_strategy(conflict("none"), "fast", "auto", force=False)
    assert getattr(info.value, "exit_code", None) == 2


# renumber ----------------------------------------------------------------------


def test_renumber_plan_moves_the_chain_and_rewires_every_reference(project: Path) -> None:
    analysis = analyze(project)
    plan = plan_renumber_conflict(analysis, analysis.result.conflicts[0])
    steps = [(a.action, a.path, a.target) for a in plan.actions]
    assert steps == [
        ("edit", "audit/migrations/0002_before_choice.py", None),
        ("edit", f"{MIG}/0002_choice.py", None),
        ("edit", f"{MIG}/0003_choice_votes.py", None),
        ("edit", "shop/migrations/0001_initial.py", None),
        ("rename", f"{MIG}/0003_choice_votes.py", f"{MIG}/0004_choice_votes.py"),
        ("rename", f"{MIG}/0002_choice.py", f"{MIG}/0003_choice.py"),
        ("edit", f"{MIG}/max_migration.txt", None),
    ]
    assert plan.warnings == (
        "docs/upgrade.md mentions 0002_choice (now 0003_choice): update it by hand",
    )
    assert "depend on 0002_tag instead of 0001_initial" in plan.actions[1].why


def test_applied_renumber_changes_only_the_literals(project: Path) -> None:
    before = {p: read(project, p) for p in (
        f"{MIG}/0002_choice.py", f"{MIG}/0003_choice_votes.py",
        "shop/migrations/0001_initial.py", "audit/migrations/0002_before_choice.py",
    )}  # fmt: skip
    analysis = analyze(project)
    apply_plan(project, plan_renumber_conflict(analysis, analysis.result.conflicts[0]),
               out=lambda _: None)  # fmt: skip
    assert read(project, f"{MIG}/0003_choice.py") == before[f"{MIG}/0002_choice.py"].replace(
        b"('polls', '0001_initial')", b"('polls', '0002_tag')"
    )
    votes = before[f"{MIG}/0003_choice_votes.py"]
    assert votes.startswith(b"# -*- coding: latin-1 -*-\r\n# Votos por opci\xf3n\r\n")
    assert read(project, f"{MIG}/0004_choice_votes.py") == votes.replace(
        b'"0002_choice"', b'"0003_choice"'
    ).replace(b"'0002_choice'", b"'0003_choice'")
    shop = before["shop/migrations/0001_initial.py"]
    assert "✓".encode() in shop and b"\r\n" in shop
    assert read(project, "shop/migrations/0001_initial.py") == shop.replace(
        b"0003_choice_votes", b"0004_choice_votes"
    )
    assert read(project, "audit/migrations/0002_before_choice.py") == before[
        "audit/migrations/0002_before_choice.py"
    ].replace(
        b"run_before = [('polls', '0002_choice')]", b"run_before = [('polls', '0003_choice')]"
    )
    assert read(project, f"{MIG}/max_migration.txt") == b"0004_choice_votes\n"
    status = git(project, "status", "--porcelain")
    # Edits and renames are staged: what a plain `git commit` records has one leaf.
    assert f"R  {MIG}/0002_choice.py -> {MIG}/0003_choice.py" in status
    assert git(project, "diff", "--name-only") == ""
    django_agrees(project)


def test_keep_names_moves_only_the_first_dependency(project: Path) -> None:
    analysis = analyze(project)
    plan = plan_renumber_conflict(analysis, analysis.result.conflicts[0], keep_names=True)
    assert [(a.action, a.path) for a in plan.actions] == [("edit", f"{MIG}/0002_choice.py")]
    assert plan.warnings == ()
    apply_plan(project, plan, out=lambda _: None)
    django_agrees(project)
    assert read(project, f"{MIG}/max_migration.txt") == b"0003_choice_votes\n"


def test_plan_renumber_takes_explicit_names(project: Path) -> None:
    analysis = analyze(project)
    plan = plan_renumber(analysis, "polls", ["0002_choice", "0003_choice_votes"], "0002_tag")
    assert plan == plan_renumber_conflict(analysis, analysis.result.conflicts[0])


def test_renumber_refuses_a_shared_local_branch(project: Path) -> None:
    git(project, "update-ref", "refs/remotes/origin/feature", "HEAD^1")
    analysis = analyze(project)
    with pytest.raises(Refused, match="0003_choice_votes: it is shared") as info:
        plan_renumber_conflict(analysis, analysis.result.conflicts[0])
    assert info.value.hint and "--strategy merge" in info.value.hint
    assert plan_renumber_conflict(analysis, analysis.result.conflicts[0], force=True).actions


def test_renumber_refuses_when_sides_are_unknown() -> None:
    from types import SimpleNamespace

    fake = SimpleNamespace()
    with pytest.raises(Refused, match="no single upstream leaf"):
        plan_renumber_conflict(fake, conflict("none", sides=False))  # type: ignore[arg-type]


def migrate_local_side(root: Path) -> None:
    """Apply the local branch's migrations, as the developer did before merging."""
    git(root, "checkout", "-q", "HEAD^1")
    manage(root, "migrate")
    git(root, "checkout", "-q", "feature")


def applied_rows(root: Path) -> set[str]:
    conn = sqlite3.connect(root / "db.sqlite3")
    try:
        rows = conn.execute("SELECT name FROM django_migrations WHERE app = 'polls'")
        return {name for (name,) in rows}
    finally:
        conn.close()


def migrate_upstream_side(root: Path) -> None:
    """Apply upstream's migrations too (the developer migrated main before coming back)."""
    git(root, "checkout", "-q", "HEAD^2")
    manage(root, "migrate")
    git(root, "checkout", "-q", "feature")


ROLLBACK = "migmerge resolve --app polls --strategy renumber --applied rollback"
MERGE = "migmerge resolve --app polls --strategy merge (changes no migration)"


def test_applied_local_migrations_without_a_terminal_refuse_with_the_commands(
    project: Path,
) -> None:
    migrate_local_side(project)
    analysis = analyze(project)
    with pytest.raises(Refused) as info:
        plan_renumber_conflict(analysis, analysis.result.conflicts[0],
                               questioner=FlagQuestioner(yes=True))  # fmt: skip
    assert info.value.message == (
        "polls: refusing to renumber 0003_choice_votes: it is applied in your database; "
        "renamed, Django would take it for a new migration and apply it again"
    )
    # --applied record is not offered: 0002_tag, the new dependency, is not applied.
    assert info.value.hint == f"{ROLLBACK} (after a backup, unapplies them first); or {MERGE}"


def test_applied_unknown_is_refused_for_an_explicit_renumber(project: Path) -> None:
    (project / "db.sqlite3").unlink()
    analysis = analyze(project)
    for keep_names, verb in ((False, "renumber"), (True, "edit the dependencies of")):
        with pytest.raises(Refused) as info:
            plan_renumber_conflict(analysis, analysis.result.conflicts[0], keep_names=keep_names)
        assert info.value.message == (
            f"polls: refusing to {verb} 0003_choice_votes: whether it is applied cannot be read "
            f"(the SQLite database {project / 'db.sqlite3'} does not exist), so migmerge takes "
            "it as possibly applied"
        )
        assert info.value.hint == (
            "run `manage.py migrate` first, or pass --settings / set DJANGO_SETTINGS_MODULE to "
            "the settings your project runs with; or migmerge resolve --app polls --strategy "
            "merge (changes no migration); or add --force if it is not applied"
        )
    forced = plan_renumber_conflict(analysis, analysis.result.conflicts[0], force=True)
    assert any("changed anyway (--force)" in w for w in forced.warnings)


def test_applied_rollback_unapplies_renumbers_and_migrates(project: Path) -> None:
    migrate_local_side(project)
    analysis = analyze(project)
    plan = plan_renumber_conflict(analysis, analysis.result.conflicts[0], applied="rollback")
    kinds = [a.action for a in plan.actions]
    assert kinds[:2] == ["backup", "run"] and kinds[-1] == "run"
    assert plan.actions[-1].command is not None and plan.actions[-1].command[-1] == "migrate"
    assert plan.actions[1].env == (("MIGMERGE_UNAPPLY", '[["polls", "0001_initial"]]'),)
    apply_plan(project, plan, out=lambda _: None, database=find_database(project, Config()))
    assert applied_rows(project) == {"0001_initial", "0002_tag", "0003_choice", "0004_choice_votes"}
    manage(project, "migrate", "--check")


def test_applied_choices_start_with_the_one_that_loses_nothing(project: Path) -> None:
    migrate_local_side(project)
    migrate_upstream_side(project)
    analysis = analyze(project)
    choices: list[tuple[str, str]] = []

    class Recording(ScriptedQuestioner):
        def choose(self, message: str, options: object, *, default: str | None = None) -> str:
            choices.extend(options)  # type: ignore[call-overload]
            assert default == "record"
            return super().choose(message, options, default=default)  # type: ignore[arg-type]

    plan_renumber_conflict(analysis, analysis.result.conflicts[0], questioner=Recording(["record"]))
    assert choices == [
        ("record", "rename its rows in django_migrations (after a backup; loses nothing)"),
        (
            "rollback",
            "roll it back first (after a backup), then migrate again: drops the "
            "choice table and its rows",
        ),
        (
            "cancel",
            "cancel: change nothing (migmerge resolve --strategy merge joins the branches "
            "without renaming)",
        ),
    ]


def test_applied_record_renames_the_rows_when_the_history_stays_consistent(
    project: Path,
) -> None:
    migrate_local_side(project)
    migrate_upstream_side(project)
    analysis = analyze(project)
    plan = plan_renumber_conflict(analysis, analysis.result.conflicts[0], applied="record")
    assert [a.action for a in plan.actions][0] == "backup"
    assert "run" not in [a.action for a in plan.actions]  # nothing migrated
    assert plan.actions[-1].action == "record"
    apply_plan(project, plan, out=lambda _: None, database=find_database(project, Config()))
    assert applied_rows(project) == {"0001_initial", "0002_tag", "0003_choice", "0004_choice_votes"}
    manage(project, "migrate", "--check")  # nothing left to apply, history consistent
    manage(project, "makemigrations", "--check", "--dry-run")


def test_applied_record_refuses_when_the_new_dependency_is_not_applied(project: Path) -> None:
    migrate_local_side(project)
    analysis = analyze(project)
    with pytest.raises(Refused) as info:
        plan_renumber_conflict(analysis, analysis.result.conflicts[0], applied="record")
    assert info.value.message == (
        "polls: refusing to record the changes in django_migrations: 0002_choice would depend "
        "on 0002_tag, which is not applied, and Django refuses an applied migration whose "
        "dependency is not (InconsistentMigrationHistory); 0002_tag cannot be applied first "
        "while the app has two leaves"
    )
    assert info.value.hint == f"{ROLLBACK} (after a backup, unapplies them first); or {MERGE}"


def test_merge_plan_writes_djangos_merge_migration(project: Path) -> None:
    analysis = analyze(project)
    conflict = analysis.result.conflicts[0]
    (rendered,) = render_merges(analysis.project_for(conflict.directory), [merge_request(conflict)])
    plan = plan_merge(analysis, conflict, rendered)
    name = "0004_merge_0002_tag_0003_choice_votes"
    assert [(a.action, a.path) for a in plan.actions] == [
        ("write", f"{MIG}/{name}.py"),
        ("edit", f"{MIG}/max_migration.txt"),
    ]
    apply_plan(project, plan, out=lambda _: None)
    assert read(project, f"{MIG}/max_migration.txt") == f"{name}\n".encode()
    django_agrees(project)


# The command line: --applied, --dry-run and the JSON plan ------------------------


def test_dry_run_shows_a_refused_renumber_and_the_plan_it_refuses(project: Path) -> None:
    migrate_local_side(project)
    before = (git(project, "status", "--porcelain"), applied_rows(project))
    proc = run_migmerge(project, "resolve", "--strategy", "renumber", "--dry-run")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:4] == [
        "polls: renumber would be refused",
        "  why: polls: refusing to renumber 0003_choice_votes: it is applied in your database; "
        "renamed, Django would take it for a new migration and apply it again",
        f"  hint: {ROLLBACK} (after a backup, unapplies them first); or {MERGE}",
        "  what renumber would do once allowed:",
    ]
    assert f"rename {MIG}/0002_choice.py -> {MIG}/0003_choice.py" in proc.stdout
    assert lines[-1] == "dry run: nothing changed; refused: polls"
    assert (git(project, "status", "--porcelain"), applied_rows(project)) == before
    doc = json.loads(
        run_migmerge(
            project, "resolve", "--strategy", "renumber", "--dry-run", "--format", "json"
        ).stdout  # fmt: skip
    )
    assert doc["applied"] is False and doc["actions"] == []
    assert doc["plans"][0]["refused"]["message"].startswith("polls: refusing to renumber")
    assert doc["plans"][0]["actions"]


def test_applied_rollback_from_the_command_line_and_every_json_action_names_its_object(
    project: Path,
) -> None:
    migrate_local_side(project)
    args = ("resolve", "--strategy", "renumber", "--applied", "rollback")
    dry = run_migmerge(project, *args, "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    actions = json.loads(dry.stdout)["actions"]
    assert [a["action"] for a in actions][:2] == ["backup", "run"]
    assert all("path" in a or "command" in a for a in actions), actions
    assert actions[0]["path"].endswith(".git/migmerge/backups")
    proc = run_migmerge(project, *args, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert applied_rows(project) == {"0001_initial", "0002_tag", "0003_choice", "0004_choice_votes"}
    manage(project, "migrate", "--check")


def test_applied_record_from_the_command_line(project: Path) -> None:
    migrate_local_side(project)
    args = ("resolve", "--strategy", "renumber", "--applied", "record", "--yes")
    refused = run_migmerge(project, *args)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "migmerge: polls: refusing to record the changes in django_migrations: 0002_choice "
        "would depend on 0002_tag, which is not applied"
    )
    migrate_upstream_side(project)
    doc = json.loads(run_migmerge(project, *args, "--dry-run", "--format", "json").stdout)
    (record,) = [a for a in doc["actions"] if a["action"] == "record"]
    assert record["command"].startswith(
        "UPDATE django_migrations SET name = '0003_choice' WHERE app = 'polls' AND name = "
        "'0002_choice'"
    )
    proc = run_migmerge(project, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert applied_rows(project) == {"0001_initial", "0002_tag", "0003_choice", "0004_choice_votes"}
    manage(project, "migrate", "--check")

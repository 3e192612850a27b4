"""Planning: the auto table, merge and renumber plans, proven by Django after applying them."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from migmerge.core.model import Conflict, Leaf, Overlap
from migmerge.core.plans.merge import plan_merge
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
from tests.helpers import django_conflicts, git, isolated_git_env, manage, renumber_project

MIG = "polls/migrations"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("plan")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_git_env(base / "home").items():
            mp.setenv(key, value)
        yield renumber_project(base)


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
    strategy, why = choose_strategy(case, "auto", Config(), force=False)
    assert strategy == expected
    assert why and "\n" not in why


def test_config_strategy_is_the_default() -> None:
    assert choose_strategy(conflict("none"), None, Config(strategy="merge"), force=False)[0] == (
        "merge"
    )


def test_unknown_overlap_asks_or_refuses() -> None:
    questioner = ScriptedQuestioner(["regenerate"])
    strategy, _ = choose_strategy(conflict("unknown"), "auto", Config(), force=False,
                                  questioner=questioner)  # fmt: skip
    assert strategy == "regenerate"
    assert "(merge, renumber, regenerate) regenerate" in questioner.transcript[0]
    with pytest.raises(Refused, match="needs a person"):
        choose_strategy(conflict("unknown"), "auto", Config(), force=False,
                        questioner=FlagQuestioner(yes=True))  # fmt: skip
    with pytest.raises(Refused, match="a person must choose"):
        choose_strategy(conflict("unknown"), "auto", Config(), force=False)


@pytest.mark.parametrize("kind", ["field", "unknown"])
@pytest.mark.parametrize("wanted", ["merge", "renumber"])
def test_merge_or_renumber_over_an_overlap_needs_force(kind: str, wanted: str) -> None:
    with pytest.raises(Refused, match=f"refusing to {wanted}") as info:
        choose_strategy(conflict(kind), wanted, Config(), force=False)
    assert info.value.hint and "--force" in info.value.hint
    assert choose_strategy(conflict(kind), wanted, Config(), force=True)[0] == wanted


def test_unknown_strategy_is_bad_input() -> None:
    with pytest.raises(Exception, match="unknown strategy 'fast'") as info:
        choose_strategy(conflict("none"), "fast", Config(), force=False)
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
    assert f"RM {MIG}/0002_choice.py -> {MIG}/0003_choice.py" in status
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


def test_applied_local_migrations_without_a_terminal_refuse_with_the_command(
    project: Path,
) -> None:
    migrate_local_side(project)
    analysis = analyze(project)
    with pytest.raises(Refused, match="is applied in your database") as info:
        plan_renumber_conflict(analysis, analysis.result.conflicts[0],
                               questioner=FlagQuestioner(yes=True))  # fmt: skip
    hint = info.value.hint or ""
    assert hint.startswith(
        """MIGMERGE_UNAPPLY='[["polls", "0001_initial"]]' python manage.py shell -c """
    )
    # The names are data in the variable, never spliced into the code (issue 11 item 11).
    assert "polls" not in hint.partition(" shell -c ")[2].partition(" && ")[0]
    assert hint.endswith(" && migmerge resolve --strategy renumber")


def test_applied_rollback_choice_unapplies_then_renumbers(project: Path) -> None:
    migrate_local_side(project)
    analysis = analyze(project)
    questioner = ScriptedQuestioner(["rollback"])
    plan = plan_renumber_conflict(analysis, analysis.result.conflicts[0], questioner=questioner)
    assert [a.action for a in plan.actions][:2] == ["backup", "run"]
    db = find_database(project, Config())
    apply_plan(project, plan, out=lambda _: None, database=db)
    assert applied_rows(project) == {"0001_initial"}
    assert plan.afterwards == ("python manage.py migrate  # apply the renumbered migrations",)
    manage(project, "migrate")
    manage(project, "migrate", "--check")
    assert "0004_choice_votes" in applied_rows(project)


def test_applied_record_choice_moves_the_database_along(project: Path) -> None:
    migrate_local_side(project)
    analysis = analyze(project)
    questioner = ScriptedQuestioner(["record"])
    plan = plan_renumber_conflict(analysis, analysis.result.conflicts[0], questioner=questioner)
    assert [a.action for a in plan.actions][:2] == ["backup", "run"]
    assert plan.actions[-1].action == "record"
    apply_plan(project, plan, out=lambda _: None, database=find_database(project, Config()))
    assert applied_rows(project) == {"0001_initial", "0002_tag", "0003_choice", "0004_choice_votes"}
    manage(project, "migrate", "--check")  # nothing left to apply, history consistent
    manage(project, "makemigrations", "--check", "--dry-run")


def test_merge_plan_writes_djangos_merge_migration(project: Path) -> None:
    analysis = analyze(project)
    plan = plan_merge(analysis, analysis.result.conflicts[0])
    name = "0004_merge_0002_tag_0003_choice_votes"
    assert [(a.action, a.path) for a in plan.actions] == [
        ("write", f"{MIG}/{name}.py"),
        ("edit", f"{MIG}/max_migration.txt"),
    ]
    apply_plan(project, plan, out=lambda _: None)
    assert read(project, f"{MIG}/max_migration.txt") == f"{name}\n".encode()
    django_agrees(project)

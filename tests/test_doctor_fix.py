"""`migmerge doctor --fix` on real projects and real databases: fixed, or left with the reason.

Each scenario is made the way developers make it, then `doctor --fix` runs
through the real CLI and Django itself judges the result: `manage.py migrate`
works afterwards and `doctor` finds the three places agree. A dry run and a
failed step leave the database and the files byte for byte as they were.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from migmerge.core.doctor import Finding
from migmerge.core.model import Database, Key
from migmerge.core.plan import Action
from migmerge.core.plans import doctor as planner
from migmerge.core.plans.doctor_ghosts import GhostFile
from migmerge.reading.schema import read_facts
from tests.testing.databases import use_database
from tests.testing.doctor import (
    POLLS_AGE,
    SERVERS,
    checkout_at,
    doctor_document,
    finding_kinds,
    run_sql,
)
from tests.testing.projects import (
    POLLS_CHOICE,
    POLLS_V1,
    make_django_project,
    makemigrations,
    manage,
    write_app,
)
from tests.testing.repos import commit_all, git, run_migmerge

IRREVERSIBLE = """\
from django.db import migrations


def forwards(apps, schema_editor):
    pass


class Migration(migrations.Migration):
    dependencies = [("polls", "0001_initial")]
    operations = [migrations.RunPython(forwards)]
"""
SHOP = """\
from django.db import models


class Item(models.Model):
    sku = models.CharField(max_length=10)
"""


def fix(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_migmerge(root, "doctor", "--fix", *args)


def rows(root: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(root / "db.sqlite3") as conn:
        found = conn.execute("SELECT app, name FROM django_migrations WHERE app = 'polls'")
        return sorted(found.fetchall())


def dump(root: Path) -> list[str]:
    """The whole SQLite database as SQL: equal when schema and rows are."""
    with sqlite3.connect(root / "db.sqlite3") as conn:
        return list(conn.iterdump())


def columns(root: Path, table: str) -> list[str]:
    with sqlite3.connect(root / "db.sqlite3") as conn:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def tree_state(root: Path) -> tuple[object, ...]:
    """HEAD, the index and every file but the database and Python's bytecode caches."""
    files = sorted(
        (str(path.relative_to(root)), path.read_bytes())
        for path in root.rglob("*")
        if path.is_file()
        and ".git" not in path.parts
        and "__pycache__" not in path.parts
        and path.name != "db.sqlite3"
    )
    # The index's entries, not its bytes: git refreshes its stat cache whenever it writes it.
    return (git(root, "rev-parse", "HEAD"), git(root, "ls-files", "-s", "-z"), files)


def project_at(root: Path, databases: str | None = None) -> Path:
    make_django_project(root, {"polls": POLLS_V1})
    if databases:
        use_database(root, databases)
    makemigrations(root, "polls")
    commit_all(root, "initial")
    manage(root, "migrate", "-v0")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return project_at(tmp_path / "proj")


def applied_on_a_branch(root: Path) -> None:
    """Apply a feature branch's migration, then check main out again: a ghost."""
    checkout_at(root, "-b", "feature", seconds=-100)
    write_app(root, "polls", POLLS_AGE)
    makemigrations(root, "polls", "age")
    commit_all(root, "age")
    manage(root, "migrate", "-v0")
    checkout_at(root, "main", seconds=100)


def renumbered_after_it_ran(root: Path) -> None:
    write_app(root, "polls", POLLS_CHOICE)
    makemigrations(root, "polls", "choice")
    commit_all(root, "choice")
    manage(root, "migrate", "-v0")
    git(root, "mv", "polls/migrations/0002_choice.py", "polls/migrations/0003_choice.py")
    commit_all(root, "renumber")


def table_made_by_hand(root: Path) -> None:
    write_app(root, "polls", POLLS_CHOICE)
    makemigrations(root, "polls", "choice")
    commit_all(root, "choice")
    with sqlite3.connect(root / "db.sqlite3") as conn:
        conn.execute(
            'CREATE TABLE "polls_choice" ("id" integer NOT NULL PRIMARY KEY, "label" varchar(10))'
        )


POLLS_EMAIL = POLLS_V1.replace(
    "name = models.CharField(max_length=100)",
    "name = models.CharField(max_length=100)\n"
    "    email = models.CharField(max_length=50, null=True)",
)


def ghost_beside_an_applied_migration(root: Path) -> None:
    """A ghost from a branch, and main's own migration on the same parent, both applied.

    Both change polls_userprofile, and main's name sorts after the ghost's: the
    order in which Django's own backwards plan builds the state. The ghost's
    column is indexed, so SQLite drops it by remaking the table from that state.
    """
    checkout_at(root, "-b", "feature", seconds=-100)
    write_app(root, "polls", POLLS_AGE.replace("default=0", "default=0, db_index=True"))
    makemigrations(root, "polls", "age")
    commit_all(root, "age")
    manage(root, "migrate", "-v0")
    checkout_at(root, "main", seconds=100)
    write_app(root, "polls", POLLS_EMAIL)
    makemigrations(root, "polls", "userprofile_email")
    commit_all(root, "email")
    manage(root, "migrate", "-v0")


# SQLite, end to end ------------------------------------------------------------


def test_ghost_is_rolled_back_with_its_file_and_nothing_of_it_stays(project: Path) -> None:
    applied_on_a_branch(project)
    with sqlite3.connect(project / "db.sqlite3") as conn:
        conn.execute("INSERT INTO polls_userprofile (name, age) VALUES ('ann', 41)")
    before = tree_state(project)
    proc = fix(project, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "why: roll back exactly the ghost polls.0002_age (no migration of this checkout is "
        "unapplied): drops column polls_userprofile.age (1 value)"
    ) in proc.stdout
    assert proc.stdout.endswith("The files, django_migrations and the schema agree.\n")
    assert rows(project) == [("polls", "0001_initial")]
    assert columns(project, "polls_userprofile") == ["id", "name"]
    # Nothing of the feature branch is left: no file, no bytecode, index and tree as before.
    assert tree_state(project) == before
    assert not list(project.glob("polls/migrations/__pycache__/0002_age.*"))
    assert manage(project, "migrate").returncode == 0
    assert doctor_document(project)[0] == 0
    backups = list((project / ".git" / "migmerge" / "backups").iterdir())
    assert len(backups) == 1  # the database as it was, ghost row and all


def test_a_ghost_beside_an_applied_migration_is_rolled_back_alone(project: Path) -> None:
    ghost_beside_an_applied_migration(project)
    with sqlite3.connect(project / "db.sqlite3") as conn:
        conn.execute(
            "INSERT INTO polls_userprofile (name, age, email) VALUES ('ann', 41, 'a@example.org')"
        )
    dry = fix(project, "--dry-run")
    assert (
        '  3. run MIGMERGE_UNAPPLY=\'{"only": [["polls", "0002_age"]]}\' python manage.py shell -c '
    ) in dry.stdout
    assert "left: ghost" not in dry.stdout  # (the age column is drift until then)
    before = tree_state(project)
    proc = fix(project, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rows(project) == [("polls", "0001_initial"), ("polls", "0002_userprofile_email")]
    # SQLite remade the table without age, and kept what main's migration added, data and all.
    assert columns(project, "polls_userprofile") == ["id", "name", "email"]
    with sqlite3.connect(project / "db.sqlite3") as conn:
        assert conn.execute("SELECT name, email FROM polls_userprofile").fetchall() == [
            ("ann", "a@example.org")
        ]
    assert tree_state(project) == before
    assert "No migrations to apply." in manage(project, "migrate").stdout
    assert doctor_document(project)[0] == 0


def ghost_that_must_run_before(root: Path) -> None:
    """A ghost whose run_before names shop's 0002_label, applied after it on the branch.

    shop.0002_label is main's too, so it stays in the checkout and applied: by the
    ghost's run_before it depends on the ghost, though neither of main's files says so.
    """
    make_django_project(root, {"polls": POLLS_V1, "shop": SHOP})
    makemigrations(root, "polls")
    makemigrations(root, "shop")
    commit_all(root, "initial")
    manage(root, "migrate", "-v0")
    write_app(root, "shop", SHOP + "    label = models.CharField(max_length=20, null=True)\n")
    makemigrations(root, "shop", "label")
    commit_all(root, "label")
    checkout_at(root, "-b", "feature", seconds=-100)
    write_app(root, "polls", POLLS_AGE)
    makemigrations(root, "polls", "age")
    path = root / "polls" / "migrations" / "0002_age.py"
    run_before = '    run_before = [("shop", "0002_label")]\n\n'
    path.write_text(
        path.read_text().replace("    dependencies = [", run_before + "    dependencies = [", 1)
    )
    commit_all(root, "age")
    manage(root, "migrate", "-v0")
    checkout_at(root, "main", seconds=100)


def test_a_ghost_a_checkout_migration_must_run_after_is_left(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    ghost_that_must_run_before(root)
    before = dump(root)
    proc = fix(root, "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "  left: ghost polls.0002_age: shop.0002_label of this checkout must run after it "
        "(the ghost's run_before) and is applied\n"
    ) in proc.stdout
    assert "MIGMERGE_UNAPPLY" not in proc.stdout
    assert dump(root) == before  # neither unapplied: shop.0002_label keeps what it built on


def stale_row(root: Path, db: Database | None = None) -> None:
    """A row of django_migrations whose file is nowhere: not here, not in any commit."""
    sql = (
        "INSERT INTO django_migrations (app, name, applied) "
        "VALUES ('polls', '0009_gone', '2026-01-01 00:00:00')"
    )
    if db is None:
        with sqlite3.connect(root / "db.sqlite3") as conn:
            conn.execute(sql)
    else:
        run_sql(db, sql)


def test_a_stale_row_is_deleted_exactly_after_the_backup(project: Path) -> None:
    stale_row(project)
    before = dump(project)
    dry = fix(project, "--dry-run")
    assert dry.returncode == 1
    assert (
        "  2. delete polls rows from django_migrations: 0009_gone\n"
        "     why: no file of it exists anywhere (not in this checkout, not in any commit): the "
        "row is stale; whatever it changed in the schema stays, and the backup keeps the row\n"
    ) in dry.stdout
    assert dump(project) == before
    document = json.loads(fix(project, "--dry-run", "--format", "json").stdout)
    assert document["actions"][1] == {
        "action": "record",
        "why": document["actions"][1]["why"],
        "command": "DELETE FROM django_migrations WHERE app = 'polls' AND name = '0009_gone'",
        "renames": {},
        "deletes": ["0009_gone"],
        "app": "polls",
    }
    proc = fix(project, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rows(project) == [("polls", "0001_initial")]
    # Only that row went: every other row and the schema are as they were.
    assert dump(project) == [line for line in before if "0009_gone" not in line]
    assert len(list((project / ".git" / "migmerge" / "backups").iterdir())) == 1


def test_a_stale_rows_deletion_is_asked_and_no_is_the_default(project: Path) -> None:
    stale_row(project)
    code, transcript, lines = _fix_asking(project, [False])
    assert transcript == [
        "? Delete the stale row polls.0009_gone from django_migrations? No file of it exists "
        "anywhere; whatever it changed in the schema stays. [y/N] no",
    ]
    assert (
        code == 1 and "  left: ghost polls.0009_gone: the deletion of its row was declined" in lines
    )
    assert ("polls", "0009_gone") in rows(project)


def test_renamed_migration_gets_its_row_renamed(project: Path) -> None:
    renumbered_after_it_ran(project)
    code, found = doctor_document(project)
    assert code == 1 and finding_kinds(found) == [
        ("renamed", "polls", "0002_choice"),
        ("already-exists", "polls", "0003_choice"),
    ]
    proc = fix(project, "--yes", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert [(a["action"], a["why"]) for a in document["actions"]] == [
        ("backup", "keep a copy of the database to restore if a step fails"),
        (
            "record",
            "it ran under its old name and was renamed since: record it under the name its "
            "file has",
        ),
    ]
    assert document["actions"][1]["renames"] == {"0002_choice": "0003_choice"}
    assert (document["applied"], document["after"], document["left"]) == (True, [], [])
    assert rows(project) == [("polls", "0001_initial"), ("polls", "0003_choice")]
    assert "No migrations to apply." in manage(project, "migrate").stdout


def recorded_twice(root: Path) -> None:
    """A renumbered migration recorded under its new name too: two rows for one migration."""
    renumbered_after_it_ran(root)
    manage(root, "migrate", "-v0", "--fake", "polls", "0003_choice")


TWICE_STEP = (
    "  2. delete polls rows from django_migrations: 0002_choice\n"
    "     why: it was renamed to 0003_choice, which is recorded as applied too: the row under "
    "the old name is stale (rolling it back would undo what 0003_choice did); the schema "
    "stays as it is, and the backup keeps the row\n"
)


def test_a_renamed_migration_recorded_twice_loses_its_old_row(project: Path) -> None:
    recorded_twice(project)
    code, found = doctor_document(project)
    assert code == 1 and finding_kinds(found) == [("ghost", "polls", "0002_choice")]
    before = dump(project)
    dry = fix(project, "--dry-run")
    assert dry.returncode == 1 and TWICE_STEP in dry.stdout
    assert "left:" not in dry.stdout and dump(project) == before
    document = json.loads(fix(project, "--dry-run", "--format", "json").stdout)
    assert document["actions"][1]["command"] == (
        "DELETE FROM django_migrations WHERE app = 'polls' AND name = '0002_choice'"
    )
    proc = fix(project, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rows(project) == [("polls", "0001_initial"), ("polls", "0003_choice")]
    assert dump(project) == [line for line in before if "'0002_choice'" not in line]
    assert len(list((project / ".git" / "migmerge" / "backups").iterdir())) == 1
    assert "No migrations to apply." in manage(project, "migrate").stdout


def test_a_row_recorded_twice_is_asked_about_and_no_is_the_default(project: Path) -> None:
    recorded_twice(project)
    before = dump(project)
    code, transcript, lines = _fix_asking(project, [False])
    assert transcript == [
        "? Delete the stale row polls.0002_choice from django_migrations? It was renamed to "
        "0003_choice, which is recorded as applied too; the schema stays as it is. [y/N] no",
    ]
    assert code == 1
    assert "  left: ghost polls.0002_choice: the deletion of its row was declined" in lines
    assert dump(project) == before
    code, transcript, _ = _fix_asking(project, [True, True])
    assert code == 0 and transcript[-1] == "? Apply this plan? [Y/n] yes"
    assert rows(project) == [("polls", "0001_initial"), ("polls", "0003_choice")]


def test_table_made_by_hand_is_faked_for_exactly_that_migration(project: Path) -> None:
    table_made_by_hand(project)
    proc = fix(project, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  2. run python manage.py migrate --fake polls 0002_choice\n" in proc.stdout
    assert (
        "     why: record it as applied without running it: everything it creates is there: "
        "already in the database: table polls_choice\n"
    ) in proc.stdout
    assert rows(project) == [("polls", "0001_initial"), ("polls", "0002_choice")]
    assert "No migrations to apply." in manage(project, "migrate").stdout


def test_an_unproven_ancestor_is_not_faked_along(project: Path) -> None:
    # 0002 adds a column nobody made; 0003's table exists: faking 0003 would record 0002 too.
    write_app(project, "polls", POLLS_AGE)
    makemigrations(project, "polls", "age")
    write_app(project, "polls", POLLS_AGE + POLLS_CHOICE[len(POLLS_V1) :])
    makemigrations(project, "polls", "choice")
    with sqlite3.connect(project / "db.sqlite3") as conn:
        conn.execute(
            'CREATE TABLE "polls_choice" ("id" integer NOT NULL PRIMARY KEY, "label" varchar(10))'
        )
    # doctor itself counts from the plan: it fixes none of them, and says why.
    said = run_migmerge(project, "doctor").stdout
    assert said.endswith(
        "1 problem found; `migmerge doctor --fix` fixes none of them: it leaves 1 "
        "(already-exists):\n"
        "  already-exists polls.0003_choice: it depends on polls.0002_age, which is not "
        "applied and not proven to be in the database: `migrate --fake` would record that too\n"
    )
    proc = fix(project, "--yes")
    assert proc.returncode == 1
    assert (
        "  left: already-exists polls.0003_choice: it depends on polls.0002_age, which is not "
        "applied and not proven to be in the database: `migrate --fake` would record that too\n"
        "nothing doctor --fix can do\n"
    ) in proc.stdout
    assert rows(project) == [("polls", "0001_initial")]


def test_dry_run_changes_nothing(project: Path) -> None:
    applied_on_a_branch(project)
    before = (tree_state(project), (project / "db.sqlite3").read_bytes())
    proc = fix(project, "--dry-run")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.endswith("dry run: nothing changed\n")
    assert "  2. write polls/migrations/0002_age.py\n" in proc.stdout
    assert "  4. delete polls/migrations/0002_age.py\n" in proc.stdout
    assert (tree_state(project), (project / "db.sqlite3").read_bytes()) == before
    assert not (project / ".git" / "migmerge" / "backups").exists()
    assert json.loads(fix(project, "--dry-run", "--format", "json").stdout)["applied"] is False


def two_apps(root: Path, ghost: str | None = None) -> Path:
    """polls with a ghost from a feature branch; shop with a table made by hand (a fake)."""
    make_django_project(root, {"polls": POLLS_V1, "shop": SHOP})
    makemigrations(root, "polls")
    commit_all(root, "initial")
    manage(root, "migrate", "-v0", "polls")
    checkout_at(root, "-b", "feature", seconds=-100)
    if ghost:
        (root / "polls" / "migrations" / "0002_data.py").write_text(ghost)
    else:
        write_app(root, "polls", POLLS_AGE)
        makemigrations(root, "polls", "age")
    commit_all(root, "feature")
    manage(root, "migrate", "-v0", "polls")
    checkout_at(root, "main", seconds=100)
    makemigrations(root, "shop")
    commit_all(root, "shop")
    with sqlite3.connect(root / "db.sqlite3") as conn:
        conn.execute('CREATE TABLE "shop_item" ("id" integer NOT NULL PRIMARY KEY, "sku" text)')
    return root


def test_a_failing_step_restores_the_backup_and_the_files(tmp_path: Path) -> None:
    # A ghost whose rollback Django refuses (RunPython without reverse_code), after a step
    # that changed the database (faking shop's first migration).
    root = two_apps(tmp_path / "proj", ghost=IRREVERSIBLE)
    stale_row(root)
    before = (tree_state(root), dump(root))
    proc = fix(root, "--yes")
    assert proc.returncode == 1
    assert "  done: delete polls rows from django_migrations: 0009_gone\n" in proc.stdout
    assert "  done: run python manage.py migrate --fake shop 0001_initial\n" in proc.stdout
    assert "step 5 (run " in proc.stderr and " manage.py shell -c " in proc.stderr
    assert "IrreversibleError" in proc.stderr
    # The database is restored first and on its own, then the files.
    assert "; restored: database " in proc.stderr
    assert ", files polls/migrations/0002_data.py" in proc.stderr
    assert (tree_state(root), dump(root)) == before


def test_without_a_terminal_or_yes_it_refuses_with_the_command(project: Path) -> None:
    renumbered_after_it_ran(project)
    before = (project / "db.sqlite3").read_bytes()
    proc = fix(project, "--app", "polls")
    assert proc.returncode == 1
    assert proc.stderr == (
        "migmerge: doctor --fix changes the database and needs a person to confirm (no terminal "
        "to ask); nothing changed\n"
        "hint: migmerge doctor --fix --yes --app polls (see it first: --dry-run)\n"
    )
    assert (project / "db.sqlite3").read_bytes() == before


def test_drift_is_left_with_the_choices(project: Path) -> None:
    with sqlite3.connect(project / "db.sqlite3") as conn:
        conn.execute('ALTER TABLE "polls_question" RENAME COLUMN "text" TO "title"')
    proc = fix(project, "--yes", "--format", "json")
    assert proc.returncode == 1
    document = json.loads(proc.stdout)
    assert (document["actions"], document["applied"]) == ([], False)
    (left,) = document["left"]
    assert (left["kind"], left["app"]) == ("drift", "polls")
    assert left["why"].startswith("no automatic fix: change the database back by hand")


def test_yes_and_dry_run_need_fix(project: Path) -> None:
    proc = run_migmerge(project, "doctor", "--yes")
    assert proc.returncode == 2
    assert "--yes goes with --fix: migmerge doctor --fix --yes" in proc.stderr


# Asked at a terminal (the questioner seam) ------------------------------------


def _fix_asking(root: Path, answers: list[object]) -> tuple[int, list[str], list[str]]:
    from migmerge.commands.doctor_fix import run_fix
    from migmerge.doing.prompts import ScriptedQuestioner

    questioner = ScriptedQuestioner(answers)
    lines: list[str] = []
    code = run_fix(
        repo=str(root), apps=(), database="default", settings=None, fmt="text", yes=False,
        dry_run=False, questioner=questioner, out=lines.append,
    )  # fmt: skip
    return code, questioner.transcript, lines


def test_a_rollback_that_drops_data_is_asked_and_no_is_the_default(tmp_path: Path) -> None:
    root = two_apps(tmp_path / "proj")
    with sqlite3.connect(root / "db.sqlite3") as conn:
        conn.execute("INSERT INTO polls_userprofile (name, age) VALUES ('ann', 41), ('bo', 7)")
    code, transcript, lines = _fix_asking(root, [False, True])
    assert transcript == [
        "? Roll back polls.0002_age? It drops column polls_userprofile.age (2 values). [y/N] no",
        "? Apply this plan? [Y/n] yes",
    ]
    assert code == 1  # the ghost stays, as asked; shop's table is recorded
    assert "  left: ghost polls.0002_age: its rollback was declined" in lines
    assert ("polls", "0002_age") in rows(root)
    assert doctor_document(root)[1]["findings"][0]["kind"] == "ghost"
    code, transcript, _ = _fix_asking(root, [True, True])
    assert code == 0 and transcript[0].endswith("[y/N] yes")
    assert rows(root) == [("polls", "0001_initial")]


def test_no_to_the_plan_changes_nothing(tmp_path: Path) -> None:
    from migmerge.errors import Refused

    root = two_apps(tmp_path / "proj")
    before = dump(root)
    with pytest.raises(Refused, match="the plan was not applied; nothing changed"):
        _fix_asking(root, [True, False])
    assert dump(root) == before


# The pure planner --------------------------------------------------------------


def _ghost(name: str, deps: tuple[tuple[str, str], ...], drops: tuple[str, ...] = ()) -> object:
    return GhostFile(("polls", name), f"polls/migrations/{name}.py", b"", "c" * 40, deps, drops)


def _plan(
    findings: list[Finding], applied: set[Key], ghosts: dict[Key, GhostFile]
) -> planner.Fixes:
    parents = {("polls", "0001_initial"): (), ("polls", "0002_x"): (("polls", "0001_initial"),)}
    facts = planner.Facts(frozenset(applied), parents, ghosts)

    def fake(app: str, name: str, why: str) -> Action:
        return Action("run", why, command=("migrate", "--fake", app, name))

    def unapply(keys: object, why: str) -> tuple[Action, ...]:
        assert isinstance(keys, list)
        return (Action("run", why, command=("unapply", *(f"{a}.{n}" for a, n in keys))),)

    return planner.plan_fix(
        findings, facts, backup=Action("backup", "b", target="t"), fake=fake, unapply=unapply
    )


def test_planner_rolls_a_chain_of_ghosts_back_newest_first() -> None:
    ghosts = {
        ("polls", "0002_a"): _ghost("0002_a", (("polls", "0001_initial"),)),
        ("polls", "0003_b"): _ghost("0003_b", (("polls", "0002_a"),)),
    }
    findings = [
        Finding("ghost", "polls", name, (), "f", "rollback", commit="c" * 40, path="p")
        for name in ("0002_a", "0003_b")
    ]
    fixes = _plan(
        findings, {("polls", "0001_initial"), ("polls", "0002_a"), ("polls", "0003_b")}, ghosts
    )
    assert [(a.action, a.path or a.command) for a in fixes.plan.actions] == [
        ("backup", None),
        ("write", "polls/migrations/0003_b.py"),
        ("write", "polls/migrations/0002_a.py"),
        ("run", ("unapply", "polls.0003_b", "polls.0002_a")),
        ("delete", "polls/migrations/0003_b.py"),
        ("delete", "polls/migrations/0002_a.py"),
    ]


def test_planner_unapplies_a_ghost_before_the_one_whose_run_before_names_it() -> None:
    # 0002_b must run before 0002_a (its run_before): 0002_a goes first, then 0002_b.
    ghosts = {
        ("polls", "0002_a"): _ghost("0002_a", (("polls", "0001_initial"),)),
        ("polls", "0002_b"): _ghost("0002_b", (("polls", "0001_initial"),))._replace(
            run_before=(("polls", "0002_a"),)
        ),
    }
    findings = [
        Finding("ghost", "polls", name, (), "f", "rollback", commit="c" * 40, path="p")
        for name in ("0002_a", "0002_b")
    ]
    applied = {("polls", "0001_initial"), ("polls", "0002_a"), ("polls", "0002_b")}
    fixes = _plan(findings, applied, ghosts)
    assert fixes.plan.actions[3].command == ("unapply", "polls.0002_a", "polls.0002_b")
    # 0002_a declined: it stays applied, so 0002_b, which it depends on, stays too.
    fixes = planner.plan_fix(
        findings, planner.Facts(frozenset(applied), {("polls", "0001_initial"): ()}, ghosts),
        backup=Action("backup", "b"), fake=lambda *a: "x",
        unapply=lambda keys, why: (Action("run", why, command=tuple(n for _, n in keys)),),
        declined=frozenset({("polls", "0002_a")}),
    )  # fmt: skip
    assert [(item.finding.migration, item.why) for item in fixes.left] == [
        ("0002_a", "its rollback was declined"),
        ("0002_b", "the ghost polls.0002_a depends on it and stays applied"),
    ]


def test_planner_rolls_back_only_the_ghost_beside_this_checkouts_migration() -> None:
    ghosts = {("polls", "0002_a"): _ghost("0002_a", (("polls", "0001_initial"),))}
    finding = Finding("ghost", "polls", "0002_a", (), "f", "rollback", commit="c" * 40, path="p")
    applied = {("polls", "0001_initial"), ("polls", "0002_x"), ("polls", "0002_a")}
    fixes = _plan([finding], applied, ghosts)
    assert [(a.action, a.path or a.command) for a in fixes.plan.actions] == [
        ("backup", None),
        ("write", "polls/migrations/0002_a.py"),
        ("run", ("unapply", "polls.0002_a")),  # 0002_x, beside it, stays applied
        ("delete", "polls/migrations/0002_a.py"),
    ]
    assert fixes.plan.actions[2].why == (
        "roll back exactly the ghost polls.0002_a (no migration of this checkout is unapplied)"
    )
    assert (fixes.fixed, fixes.left) == ((finding,), ())


def test_planner_leaves_a_ghost_an_applied_migration_of_this_checkout_depends_on() -> None:
    ghosts = {("polls", "0002_a"): _ghost("0002_a", (("polls", "0001_initial"),))}
    finding = Finding("ghost", "polls", "0002_a", (), "f", "rollback", commit="c" * 40, path="p")
    parents = {
        ("polls", "0001_initial"): (),
        ("polls", "0003_y"): (("polls", "0001_initial"), ("polls", "0002_a")),
    }
    applied = frozenset({("polls", "0001_initial"), ("polls", "0002_a"), ("polls", "0003_y")})
    fixes = planner.plan_fix(
        [finding], planner.Facts(applied, parents, ghosts),
        backup=Action("backup", "b"), fake=lambda *a: "x", unapply=lambda *a: "x",
    )  # fmt: skip
    assert fixes.plan.actions == ()
    assert [item.why for item in fixes.left] == [
        "polls.0003_y of this checkout depends on it and is applied"
    ]


def test_planner_never_renames_into_an_inconsistent_history() -> None:
    finding = Finding("renamed", "polls", "0002_old", (), "f", "rename-row", "0002_x")
    fixes = _plan([finding], {("polls", "0002_old")}, {})
    assert fixes.plan.actions == ()
    assert fixes.left[0].why.startswith(
        "recording 0002_x as applied while polls.0001_initial is not would make the history "
        "inconsistent"
    )


# PostgreSQL and MariaDB ----------------------------------------------------------


def _ghost_and_rename(root: Path, db: Database) -> None:
    """A ghost and a renamed migration on one database: the row renamed, the ghost unapplied."""
    applied_on_a_branch(root)
    renumbered_after_it_ran(root)
    code, found = doctor_document(root)
    assert code == 1
    assert finding_kinds(found)[:2] == [
        ("ghost", "polls", "0002_age"),
        ("renamed", "polls", "0002_choice"),
    ]
    facts = read_facts(db)
    dry = fix(root, "--dry-run")
    assert dry.returncode == 1 and read_facts(db) == facts
    proc = fix(root, "--yes")
    # 0003_choice follows 0001 too: the ghost is rolled back beside it, and it stays.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = read_facts(db)
    applied = {(r.app, r.name) for r in after.rows or () if r.app == "polls"}
    assert applied == {("polls", "0001_initial"), ("polls", "0003_choice")}
    assert after.schema is not None and "polls_choice" in after.schema.tables
    assert "age" not in after.schema.tables["polls_userprofile"]
    assert "No migrations to apply." in manage(root, "migrate").stdout


def _ghost_fixed(root: Path, db: Database) -> None:
    applied_on_a_branch(root)
    before = read_facts(db)
    assert fix(root, "--dry-run").returncode == 1 and read_facts(db) == before
    proc = fix(root, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = read_facts(db)
    assert {(r.app, r.name) for r in facts.rows or () if r.app == "polls"} == {
        ("polls", "0001_initial")
    }
    assert facts.schema is not None and "age" not in facts.schema.tables["polls_userprofile"]
    assert manage(root, "migrate").returncode == 0
    assert doctor_document(root)[0] == 0


@pytest.mark.parametrize("vendor", SERVERS)
def test_ghost_rolled_back_and_rename_recorded_on_a_server(tmp_path: Path, vendor: str) -> None:
    from tests.testing.doctor import database_server

    throwaway, settings = database_server(vendor)
    with throwaway() as db:
        _ghost_fixed(project_at(tmp_path / "a", settings(db)), db)
    with throwaway() as db:
        _ghost_and_rename(project_at(tmp_path / "b", settings(db)), db)


@pytest.mark.parametrize("vendor", SERVERS)
def test_a_stale_row_is_deleted_on_a_server(tmp_path: Path, vendor: str) -> None:
    from tests.testing.doctor import database_server

    throwaway, settings = database_server(vendor)
    with throwaway() as db:
        root = project_at(tmp_path / "p", settings(db))
        stale_row(root, db)
        before = read_facts(db)
        assert fix(root, "--dry-run").returncode == 1 and read_facts(db) == before
        proc = fix(root, "--yes")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        after = read_facts(db)
        assert set(after.rows or ()) == {r for r in before.rows or () if r.name != "0009_gone"}
        assert after.schema == before.schema


@pytest.mark.parametrize("vendor", SERVERS)
def test_a_row_recorded_twice_is_deleted_on_a_server(tmp_path: Path, vendor: str) -> None:
    from tests.testing.doctor import database_server

    throwaway, settings = database_server(vendor)
    with throwaway() as db:
        root = project_at(tmp_path / "p", settings(db))
        recorded_twice(root)
        before = read_facts(db)
        dry = fix(root, "--dry-run")
        assert dry.returncode == 1 and TWICE_STEP in dry.stdout and read_facts(db) == before
        proc = fix(root, "--yes")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        after = read_facts(db)
        assert set(after.rows or ()) == {r for r in before.rows or () if r.name != "0002_choice"}
        assert after.schema == before.schema
        assert "No migrations to apply." in manage(root, "migrate").stdout

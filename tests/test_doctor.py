"""`migmerge doctor` on real projects whose database and files fell out of step.

Each scenario is made the way developers make it (apply a branch's migrations,
`git checkout main`; renumber an applied migration; create a table by hand;
rename a column in the database shell), then doctor's findings are compared
with what Django itself does next: the `migrate` that fails, or succeeds
after the suggested fix.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from migmerge.core import doctor as rules
from migmerge.core.doctor import Created, Pending, Row, Schema, Whereabouts
from migmerge.reading.probe import PROBE
from tests.testing.doctor import (
    POLLS_AGE,
    SERVERS,
    checkout_at,
    doctor_document,
    finding_kinds,
)
from tests.testing.projects import (
    POLLS_CHOICE,
    POLLS_V1,
    make_django_project,
    makemigrations,
    manage,
    write_app,
)
from tests.testing.repos import PYTHON, commit_all, git


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_django_project(tmp_path / "proj", {"polls": POLLS_V1})
    makemigrations(root, "polls")
    commit_all(root, "initial")
    manage(root, "migrate", "-v0")
    return root


def test_consistent_project_is_clean(project: Path) -> None:
    code, found = doctor_document(project)
    assert (code, found["findings"], found["unread"]) == (0, [], [])
    assert found["leaves"]["polls"] == ["0001_initial"]


def test_branch_applied_then_main_checked_out_is_a_ghost(project: Path) -> None:
    checkout_at(project, "-b", "feature", seconds=-100)
    write_app(project, "polls", POLLS_AGE)
    makemigrations(project, "polls", "age")
    commit_all(project, "age")
    manage(project, "migrate", "-v0")
    checkout_at(project, "main", seconds=100)
    write_app(project, "polls", POLLS_V1)  # main's models (git restored them)
    code, found = doctor_document(project)
    assert code == 1
    assert finding_kinds(found) == [("ghost", "polls", "0002_age"), ("drift", "polls", None)]
    ghost = found["findings"][0]
    text = "\n".join(ghost["evidence"])
    assert "polls/migrations/0002_age.py in commit" in text and "(on feature)" in text
    assert "feature was checked out when it was applied" in text
    # The drift is real: the column the ghost added is still there.
    drift = found["findings"][1]["evidence"]
    assert "column polls_userprofile.age is not in any applied migration" in drift


def test_renumbered_after_it_ran_is_recorded_under_the_old_name(project: Path) -> None:
    write_app(project, "polls", POLLS_CHOICE)
    makemigrations(project, "polls", "choice")
    commit_all(project, "choice")
    manage(project, "migrate", "-v0")
    git(project, "mv", "polls/migrations/0002_choice.py", "polls/migrations/0003_choice.py")
    commit_all(project, "renumber")
    failed = manage(project, "migrate", check=False)
    assert failed.returncode != 0 and "already exists" in failed.stderr
    code, found = doctor_document(project)
    assert code == 1 and finding_kinds(found)[0] == ("renamed", "polls", "0002_choice")
    assert found["findings"][0]["fix"].startswith("rename the row polls.0002_choice -> 0003_choice")


def test_table_created_by_hand_then_migrate_says_already_exists(project: Path) -> None:
    write_app(project, "polls", POLLS_CHOICE)
    makemigrations(project, "polls", "choice")
    with sqlite3.connect(project / "db.sqlite3") as conn:
        conn.execute(
            'CREATE TABLE "polls_choice" ("id" integer NOT NULL PRIMARY KEY, "label" varchar(10))'
        )
    failed = manage(project, "migrate", check=False)
    assert "already exists" in failed.stderr
    code, found = doctor_document(project)
    assert code == 1 and finding_kinds(found) == [("already-exists", "polls", "0002_choice")]
    finding = found["findings"][0]
    assert finding["fix"] == "python manage.py migrate --fake polls 0002_choice"
    assert "already in the database: table polls_choice" in finding["evidence"]
    manage(project, "migrate", "--fake", "polls", "0002_choice")
    assert doctor_document(project)[0] == 0


def test_column_renamed_in_the_database_shell_is_drift(project: Path) -> None:
    with sqlite3.connect(project / "db.sqlite3") as conn:
        conn.execute('ALTER TABLE "polls_question" RENAME COLUMN "text" TO "title"')
    code, found = doctor_document(project)
    assert code == 1 and finding_kinds(found) == [("drift", "polls", None)]
    evidence = found["findings"][0]["evidence"]
    assert "column polls_question.text is missing" in evidence
    assert "column polls_question.title is not in any applied migration" in evidence


def test_model_changes_no_migration_holds(project: Path) -> None:
    write_app(project, "polls", POLLS_AGE)
    code, found = doctor_document(project)
    assert code == 1 and finding_kinds(found) == [("unmigrated-changes", "polls", None)]
    assert found["findings"][0]["fix"] == "python manage.py makemigrations polls"


SAME_STATE = """\
import os, runpy, sys
sys.path.insert(0, os.getcwd())
os.environ["DJANGO_SETTINGS_MODULE"] = "proj.settings"
import django
django.setup()
from django.db.migrations.loader import MigrationLoader
probe = runpy.run_path(sys.argv[1])
loader = MigrationLoader(None, ignore_no_migrations=True)
state = probe["_state_at_leaves"](loader)
print(state == loader.project_state(), sorted(k for k in state.models if k[0] in ("polls", "shop")))
"""


def test_the_probes_state_at_the_leaves_is_djangos(project: Path) -> None:
    # A squash that replaces two migrations, and a second app whose leaf depends on it.
    write_app(project, "polls", POLLS_AGE)
    makemigrations(project, "polls", "age")
    manage(project, "squashmigrations", "polls", "0002", "--noinput", "-v0")
    write_app(project, "shop", "from django.db import models\n\n\nclass Item(models.Model):\n"
              "    owner = models.ForeignKey('polls.UserProfile', models.CASCADE)\n")  # fmt: skip
    settings = project / "proj" / "settings.py"
    settings.write_text(settings.read_text().replace('    "polls",', '    "polls",\n    "shop",'))
    makemigrations(project, "shop")
    proc = subprocess.run(
        [PYTHON, "-c", SAME_STATE, str(PROBE)], cwd=project, capture_output=True, text=True
    )
    assert proc.stdout == (
        "True [('polls', 'question'), ('polls', 'userprofile'), ('shop', 'item')]\n"
    ), proc.stderr


def test_without_a_database_says_what_it_could_not_read(tmp_path: Path) -> None:
    root = make_django_project(tmp_path / "proj", {"polls": POLLS_V1})
    makemigrations(root, "polls")
    commit_all(root, "initial")
    (root / "db.sqlite3").unlink()  # makemigrations leaves an empty one behind
    code, found = doctor_document(root)
    assert code == 0 and found["findings"] == []
    assert any("db.sqlite3 does not exist" in item for item in found["unread"])
    assert not (root / "db.sqlite3").exists()  # doctor created nothing


def test_the_answer_of_the_projects_django_is_remembered_until_a_file_changes(
    project: Path,
) -> None:
    settings = project / "proj" / "settings.py"
    marker = project / "imports.log"
    settings.write_text(
        settings.read_text() + f"\nwith open({str(marker)!r}, 'a') as _log:\n    _log.write('x')\n"
    )
    commit_all(project, "settings that count their imports")
    assert doctor_document(project)[0] == 0
    asked = marker.read_text()
    assert doctor_document(project)[0] == 0
    assert marker.read_text() == asked  # the project's Django was not started again
    write_app(project, "polls", POLLS_AGE)
    code, found = doctor_document(project)
    assert code == 1 and finding_kinds(found) == [("unmigrated-changes", "polls", None)]
    assert len(marker.read_text()) > len(asked)


COUNTED_FIELD = """\


class CountedField(models.IntegerField):
    \"\"\"Logs each deconstruct(): Django's autodetector calls it, nothing else in doctor.\"\"\"

    def deconstruct(self):
        with open(LOG, "a") as log:
            log.write("x")
        return super().deconstruct()


class Tally(models.Model):
    count = CountedField(default=0)
"""


def test_model_changes_are_not_asked_again_when_only_the_rows_changed(project: Path) -> None:
    log = project / "deconstruct.log"
    models = f"LOG = {str(log)!r}\n" + POLLS_V1 + COUNTED_FIELD
    write_app(project, "polls", models)
    commit_all(project, "a model no migration holds, whose field logs its deconstruct()")
    code, found = doctor_document(project)
    assert code == 1 and finding_kinds(found) == [("unmigrated-changes", "polls", None)]
    asked = log.read_text()
    assert asked
    with sqlite3.connect(project / "db.sqlite3") as conn:
        conn.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('polls', '0009_gone', '2026-01-01 00:00:00')"
        )
    code, found = doctor_document(project)
    # Django is asked again (a new row) but not for the model changes: still reported.
    assert finding_kinds(found) == [
        ("ghost", "polls", "0009_gone"),
        ("unmigrated-changes", "polls", None),
    ]
    assert log.read_text() == asked
    write_app(project, "polls", models.replace("default=0", "default=1"))
    doctor_document(project)
    assert len(log.read_text()) > len(asked)  # a file changed: asked again


# The pure rules ----------------------------------------------------------------


def test_rules_ghost_with_a_rename_whose_new_name_is_applied_stays_a_ghost() -> None:
    rows = [Row("polls", "0002_a", "t"), Row("polls", "0003_a", "t")]
    ghosts = rules.ghost_rows(rows, [("polls", "0003_a")], ["polls"])
    where = {("polls", "0002_a"): Whereabouts("c" * 40, "p", ("main",), "0003_a", None)}
    found = rules.ghost_findings(ghosts, where, {(r.app, r.name) for r in rows})
    # Not rolled back: that would undo what 0003_a (the same migration, renamed) did.
    assert [(f.kind, f.action, f.target) for f in found] == [("ghost", "delete-row", "0003_a")]
    assert found[0].fix == (
        "delete the stale row polls.0002_a from django_migrations (migmerge doctor --fix "
        "offers it, asked with no as the default; rolling it back would undo what 0003_a did)"
    )


def test_rules_partly_present_migration_has_no_safe_fix() -> None:
    pending = [
        Pending(
            "polls",
            "0002_x",
            (Created("AddField", "polls_q", "a"), Created("AddField", "polls_q", "b")),
            (),
        )
    ]
    schema = Schema({"polls_q": frozenset({"id", "a"})}, frozenset(), frozenset())
    (finding,) = rules.pending_findings(pending, schema)
    assert finding.action is None and "not in the database: column polls_q.b" in finding.evidence


# PostgreSQL and MariaDB -----------------------------------------------------------


@pytest.mark.parametrize("vendor", SERVERS)
def test_ghost_and_drift_read_through_the_servers_client(tmp_path: Path, vendor: str) -> None:
    from tests.testing.databases import use_database
    from tests.testing.doctor import database_server, run_sql

    throwaway, settings = database_server(vendor)
    with throwaway() as db:
        root = make_django_project(tmp_path / "proj", {"polls": POLLS_V1})
        use_database(root, settings(db))
        makemigrations(root, "polls")
        commit_all(root, "initial")
        checkout_at(root, "-b", "feature", seconds=-100)
        write_app(root, "polls", POLLS_CHOICE)
        makemigrations(root, "polls", "choice")
        commit_all(root, "choice")
        manage(root, "migrate", "-v0")
        checkout_at(root, "main", seconds=100)
        run_sql(db, "ALTER TABLE polls_question RENAME COLUMN text TO title")
        code, found = doctor_document(root)
        assert code == 1
        assert finding_kinds(found) == [("ghost", "polls", "0002_choice"), ("drift", "polls", None)]
        evidence = found["findings"][1]["evidence"]
        assert "column polls_question.text is missing" in evidence
        assert "column polls_question.title is not in any applied migration" in evidence
        assert "(on feature)" in "\n".join(found["findings"][0]["evidence"])
        assert found["unread"] == []

"""Every word migmerge prints is part of its interface: the texts asserted whole, in memory."""

from __future__ import annotations

import json

from migmerge import report
from migmerge.core.doctor import Diagnosis, Finding
from migmerge.core.model import (
    CheckResult,
    Conflict,
    Database,
    Leaf,
    Operation,
    Overlap,
    Warning,
)
from tests.testing.repos import parse_workflow_command

LOCAL = Leaf(
    "0003_userprofile_age",
    "polls/migrations/0003_userprofile_age.py",
    "local",
    False,
    False,
    ("0003_userprofile_age",),
    (Operation("AddField", "userprofile", "age"),),
)
UPSTREAM = Leaf(
    "0003_question_text",
    "polls/migrations/0003_question_text.py",
    "upstream",
    True,
    None,
    ("0003_question_text",),
    (Operation("AlterField", "question", "text"),),
)
CONFLICT = Conflict(
    "polls",
    "polls/migrations",
    "0002_choice",
    (LOCAL, UPSTREAM),
    Overlap("none", ("the branches touch different models",)),
    "renumber",
    "they do not collide",
)


def test_check_text_of_a_conflict_in_a_merge() -> None:
    result = CheckResult("merge", "a" * 40, "b" * 40, "c" * 40, (CONFLICT,))
    assert report.check_text(result) == "\n".join(
        [
            "1 app with parallel migrations (merge):",
            "",
            "polls (polls/migrations): 2 leaves after 0002_choice",
            "  0003_userprofile_age                     [local]",
            "      - AddField userprofile.age",
            "  0003_question_text                       [upstream, shared]",
            "      - AlterField question.text",
            "  overlap: none",
            "    the branches touch different models",
            "  suggested: renumber: they do not collide",
            "",
            "hint: run `migmerge resolve --dry-run --app polls` to see the plan, "
            "then `migmerge resolve --app polls`",
        ]
    )


def test_check_text_when_clean_with_a_warning() -> None:
    warning = Warning("duplicate-number", "polls", "polls has two 0003_", "polls/migrations")
    result = CheckResult("against", "a" * 40, "b" * 40, None, (), (warning,))
    assert report.check_text(result, "origin/main").splitlines()[-1] == (
        "No migration conflicts (merging origin/main): every app has a single leaf."
    )


def test_check_json_is_the_contracts_document() -> None:
    result = CheckResult("worktree", None, None, None, (CONFLICT,))
    document = json.loads(report.check_json(result))
    assert document["version"] == 1 and document["mode"] == "worktree"
    (conflict,) = document["conflicts"]
    assert conflict["leaves"][1]["applied"] is None
    assert conflict["leaves"][0]["operations"] == [
        {"op": "AddField", "model": "userprofile", "field": "age"}
    ]


def test_hook_summary_names_each_leaf_and_its_side() -> None:
    text = report.hook_summary("the merge", [CONFLICT])
    assert text.splitlines()[0] == "migmerge: the merge left parallel migrations in 1 app:"
    assert "    0003_question_text (upstream)" in text.splitlines()


def test_doctor_text_gives_evidence_fix_and_what_was_not_read() -> None:
    finding = Finding(
        "renamed",
        "polls",
        "0002_choice",
        ("django_migrations records polls.0002_choice as applied (t)",),
        "rename the row polls.0002_choice -> 0003_choice (migmerge doctor --fix)",
        "rename-row",
        "0003_choice",
    )
    found = Diagnosis(
        Database("sqlite", "/p/db.sqlite3"),
        (finding,),
        ("the project's Django: no manage.py in the repository",),
        {"polls": ["0003_choice"]},
        "5.2",
    )
    assert report.doctor_text(found, ([finding], [])) == "\n".join(
        [
            "migmerge doctor: /p/db.sqlite3, Django 5.2",
            "renamed: polls.0002_choice",
            "    django_migrations records polls.0002_choice as applied (t)",
            "  fix: rename the row polls.0002_choice -> 0003_choice (migmerge doctor --fix)",
            "could not read the project's Django: no manage.py in the repository",
            "1 problem found; `migmerge doctor --fix` fixes 1 of them (renamed) after a backup "
            "(`--dry-run` shows how).",
        ]
    )
    # Counted from the plan: a finding --fix would act on but whose step the plan leaves.
    left = [(finding, "recording 0003_choice as applied while polls.0002_x is not would ...")]
    assert report.doctor_text(found, ([], left)).splitlines()[-2:] == [
        "1 problem found; `migmerge doctor --fix` fixes none of them: it leaves 1 (renamed):",
        "  renamed polls.0002_choice: recording 0003_choice as applied while polls.0002_x is "
        "not would ...",
    ]
    two = found._replace(findings=(finding, finding._replace(kind="drift", migration=None)))
    assert report.doctor_text(two, ([finding], [(two.findings[1], "no automatic fix")]),
                              why_left=False).splitlines()[-1] == (
        "2 problems found; `migmerge doctor --fix` fixes 1 of them (renamed) after a backup "
        "(`--dry-run` shows how), and it leaves 1 (drift), each with why below."
    )  # fmt: skip
    document = json.loads(report.doctor_json(found))
    assert document["findings"] == [finding.to_json()]
    assert document["mode"] == "doctor" and document["leaves"] == {"polls": ["0003_choice"]}


AWKWARD = "src/a,b: 100%\r\n/polls/migrations/0003_userprofile_age.py"


def test_github_annotations_escape_values_as_github_documents() -> None:
    leaf = LOCAL._replace(path=AWKWARD)
    conflict = CONFLICT._replace(app="po:l,l%s", leaves=(leaf, UPSTREAM))
    warning = Warning("unreadable-migration", "polls", "cannot read\nit: 100%", AWKWARD)
    lines = report.check_github(CheckResult("worktree", None, None, None, (conflict,), (warning,)))
    assert all("\n" not in line and "\r" not in line for line in lines.split("\n"))
    (first, second, third) = [parse_workflow_command(line) for line in lines.split("\n")]
    assert first == (
        "error",
        {"file": AWKWARD, "line": "1", "title": "Migration conflict in po:l,l%s"},
        "po:l,l%s has 2 leaf migrations (0003_userprofile_age, 0003_question_text); "
        "overlap none. the branches touch different models Fix: migmerge resolve --app po:l,l%s",
    )
    assert second[1]["file"] == UPSTREAM.path
    assert third == ("warning", {"file": AWKWARD}, "cannot read\nit: 100%")


def test_github_annotations_against_a_base_point_at_the_local_file_only() -> None:
    result = CheckResult("against", "a" * 40, "b" * 40, "c" * 40, (CONFLICT,))
    (line,) = report.check_github(result, "origin/main").split("\n")
    assert parse_workflow_command(line) == (
        "error",
        {"file": LOCAL.path, "line": "1", "title": "Migration conflict in polls"},
        "merging origin/main would leave polls with 2 leaf migrations: 0003_userprofile_age"
        " here, and on origin/main 0003_question_text (polls/migrations/0003_question_text.py);"
        " overlap none. the branches touch different models"
        " Fix: git merge origin/main, then migmerge resolve --app polls",
    )
    upstream_only = CONFLICT._replace(leaves=(UPSTREAM, UPSTREAM._replace(name="0003_other")))
    result = result._replace(conflicts=(upstream_only,))
    name, properties, message = parse_workflow_command(report.check_github(result, "origin/main"))
    assert "file" not in properties and "none of this branch" in message


def test_hook_summary_is_said_whole() -> None:
    assert report.hook_summary("the merge", [CONFLICT]) == (
        "migmerge: the merge left parallel migrations in 1 app:\n"
        "  polls (polls/migrations): 2 leaves after 0002_choice\n"
        "    0003_userprofile_age (local)\n"
        "    0003_question_text (upstream)\n"
        "    overlap none: the branches touch different models"
    )
    brief = report.hook_summary("the rebase", [CONFLICT, CONFLICT._replace(app="shop")], brief=True)
    assert brief == "migmerge: the rebase left parallel migrations in polls, shop"


def test_the_pre_push_refusal_is_said_whole() -> None:
    said = report.push_report("origin", "feature", "origin/main", "the default branch", [CONFLICT])
    assert said == (
        "migmerge: pushing feature would conflict with origin/main (the default branch) in polls:\n"
        "  polls (polls/migrations): 2 leaves after 0002_choice\n"
        "    0003_userprofile_age (local)\n"
        "    0003_question_text (origin/main)\n"
        "    overlap none: the branches touch different models\n"
        "hint: git fetch origin && git merge origin/main, then migmerge resolve\n"
        "      see it first: migmerge check --against origin/main\n"
        "      push anyway: git push --no-verify"
    )
    brief = report.push_report("up", "x", "up/dev", "its upstream", [CONFLICT], brief=True)
    assert brief.splitlines()[:2] == [
        "migmerge: pushing x would conflict with up/dev (its upstream) in polls:",
        "hint: git fetch up && git merge up/dev, then migmerge resolve",
    ]


def test_only_the_clashes_no_graph_shows_are_said_by_the_hooks() -> None:
    warnings = [
        Warning("duplicate-operation", "polls", "both sides add polls.Question.slug"),
        Warning("missing-dependency", "polls", "not a clash"),
        Warning("rewrites-shared-migration", "shop", "0002_x was edited after it was pushed"),
    ]
    assert report.clash_warnings(warnings) == (
        "migmerge: warning: both sides add polls.Question.slug\n"
        "migmerge: warning: 0002_x was edited after it was pushed"
    )

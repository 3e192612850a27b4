"""Overlap classification of parallel branches, on real and hand-written migrations."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from migmerge.core.classify import classify, touched_models
from migmerge.core.model import Migration
from migmerge.reading.parse import parse_migration
from tests.testing.projects import make_django_project, manage, write_app

BASE = """\
from django.db import models


class Question(models.Model):
    text = models.CharField(max_length=200)


class UserProfile(models.Model):
    name = models.CharField(max_length=100)
    voters = models.ManyToManyField(Question, related_name="profiles")

    class Meta:
        db_table = "profiles"


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE)
    votes = models.IntegerField(default=0)
"""

# Real model changes, each turned into a 0002 migration by makemigrations.
VARIANTS = {
    "profile_age": ("UserProfile", "    age = models.IntegerField(default=0)\n"),
    "profile_age_text": ("UserProfile", "    age = models.CharField(max_length=3, default='')\n"),
    "profile_address": ("UserProfile", "    address = models.TextField(default='')\n"),
    "question_score": ("Question", "    score = models.IntegerField(default=0)\n"),
    "choice_profile": (
        "Choice",
        "    profile = models.ForeignKey(UserProfile, null=True, on_delete=models.CASCADE)\n",
    ),
}


def with_field(model: str, line: str) -> str:
    """BASE with one more field line in `model`."""
    text = BASE + "\n"  # every class body then ends with a blank line
    head = f"class {model}(models.Model):\n"
    end = text.index("\n\n", text.index(head))
    return text[:end] + "\n" + line.rstrip("\n") + text[end:]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Migration]:
    """0001_initial and one real 0002 migration per variant, parsed as app polls.

    Each variant lives in its own app so that two makemigrations runs make them all;
    the label is then read back as polls, as if the variants were parallel branches.
    """
    variants = {name: with_field(*change) for name, change in VARIANTS.items()}
    variants["delete_profile"] = (
        BASE[: BASE.index("class UserProfile")] + BASE[BASE.index("class Choice") :]
    )
    labels = {name: f"v_{name}" for name in variants}
    root = make_django_project(
        tmp_path_factory.mktemp("classify") / "proj",
        {label: BASE for label in labels.values()},
        git_init=False,
    )
    manage(root, "makemigrations", "--skip-checks")
    for name, models in variants.items():
        write_app(root, labels[name], models)
    manage(root, "makemigrations", "--skip-checks")
    first = root / "v_profile_age/migrations/0001_initial.py"
    out = {"0001_initial": as_polls(first, "v_profile_age", "0001_initial")}
    for name, label in labels.items():
        (path,) = (root / label / "migrations").glob("0002_*.py")
        out[name] = as_polls(path, label, f"0002_{name}")
    return out


def as_polls(path: Path, label: str, name: str) -> Migration:
    """Parse a generated migration of app `label` as migration `name` of app polls."""
    source = path.read_bytes()
    for quote in (b"'", b'"'):
        label_bytes = label.encode()
        source = source.replace(quote + label_bytes + quote, quote + b"polls" + quote)
        source = source.replace(quote + label_bytes + b".", quote + b"polls.")
    return parse_migration(source, app="polls", name=name, path=str(path))


def hand(name: str, operations: str, prelude: str = "") -> Migration:
    """Parse a hand-written polls migration `0002_<name>` with the given operations."""
    source = (
        "from django.db import migrations, models\n"
        + textwrap.dedent(prelude)
        + "\n\nclass Migration(migrations.Migration):\n"
        + "    dependencies = [('polls', '0001_initial')]\n"
        + "    operations = [\n"
        + textwrap.indent(textwrap.dedent(operations), "        ")
        + "    ]\n"
    )
    return parse_migration(source.encode(), app="polls", name=f"0002_{name}", path=f"{name}.py")


def run(real: dict[str, Migration], *branches: list[Migration]) -> tuple[str, list[str]]:
    """Classify the branches against the real 0001_initial; return (kind, reasons)."""
    overlap = classify("polls", [list(b) for b in branches], [real["0001_initial"]])
    return overlap.kind, list(overlap.reasons)


def test_none_when_branches_touch_different_models(real: dict[str, Migration]) -> None:
    kind, reasons = run(real, [real["profile_age"]], [real["question_score"]])
    assert kind == "none"
    assert reasons == [
        "the branches touch different models: userprofile (0002_profile_age), "
        "question (0002_question_score)"
    ]


def test_model_when_both_touch_a_model_but_not_the_same_field(real: dict[str, Migration]) -> None:
    kind, reasons = run(real, [real["profile_age"]], [real["profile_address"]])
    assert kind == "model"
    assert reasons == [
        "both 0002_profile_age and 0002_profile_address touch model userprofile: "
        "age (0002_profile_age), address (0002_profile_address)"
    ]


def test_a_model_both_touch_names_a_few_of_what_each_does_then_counts_the_rest(
    real: dict[str, Migration],
) -> None:
    adds = "".join(
        f"migrations.AddField('question', 'f{n}', models.IntegerField(default=0)),\n"
        for n in range(20)
    )
    many = hand("many", adds)
    one = hand("one", "migrations.AddField('question', 'extra', models.IntegerField()),")
    kind, reasons = run(real, [many], [one])
    assert kind == "model"
    assert reasons == [
        "both 0002_many and 0002_one touch model question: f0, f1, f2, f3, f4, f5, f6, f7"
        " and 12 more (0002_many), extra (0002_one)"
    ]


def test_same_field_added_twice(real: dict[str, Migration]) -> None:
    kind, reasons = run(real, [real["profile_age"]], [real["profile_age_text"]])
    assert kind == "field"
    assert reasons == [
        "both 0002_profile_age and 0002_profile_age_text change field userprofile.age"
    ]


@pytest.mark.parametrize(
    ("mine", "theirs", "field"),
    [
        (
            "migrations.AlterField('userprofile', 'name', models.TextField()),",
            "migrations.RemoveField('userprofile', 'name'),",
            "name",
        ),
        (
            "migrations.RenameField('userprofile', 'name', 'full_name'),",
            "migrations.AlterField('userprofile', 'name', models.TextField()),",
            "name",
        ),
        (
            "migrations.RenameField('userprofile', 'name', 'full_name'),",
            "migrations.AddField('userprofile', 'full_name', models.TextField()),",
            "full_name",
        ),
    ],
)
def test_same_field_altered_removed_or_renamed(
    real: dict[str, Migration], mine: str, theirs: str, field: str
) -> None:
    kind, reasons = run(real, [hand("mine", mine)], [hand("theirs", theirs)])
    assert kind == "field"
    assert reasons == [f"both 0002_mine and 0002_theirs change field userprofile.{field}"]


def test_field_renamed_then_changed_is_traced_to_the_old_name(real: dict[str, Migration]) -> None:
    renamed = hand("rename", "migrations.RenameField('userprofile', 'name', 'full_name'),")
    later = hand("later", "migrations.AlterField('userprofile', 'full_name', models.TextField()),")
    other = hand("other", "migrations.AlterField('userprofile', 'name', models.TextField()),")
    kind, reasons = run(real, [renamed, later], [other])
    assert kind == "field"
    assert "both 0002_later and 0002_other change field userprofile.name" in reasons


def test_model_deleted_on_one_side_and_used_on_the_other(real: dict[str, Migration]) -> None:
    kind, reasons = run(real, [real["delete_profile"]], [real["profile_address"]])
    assert kind == "field"
    assert reasons == [
        "0002_delete_profile deletes model userprofile, which 0002_profile_address adds a field to"
    ]


def test_model_renamed_on_one_side_and_used_on_the_other(real: dict[str, Migration]) -> None:
    renamed = hand("rename", "migrations.RenameModel('UserProfile', 'Profile'),")
    kind, reasons = run(real, [real["profile_age"]], [renamed])
    assert kind == "field"
    assert reasons == [
        "0002_rename renames model userprofile to profile, which 0002_profile_age adds a field to"
    ]


def test_relation_to_a_deleted_model(real: dict[str, Migration]) -> None:
    kind, reasons = run(real, [real["choice_profile"]], [real["delete_profile"]])
    assert kind == "field"
    assert (
        "0002_delete_profile deletes model userprofile, which 0002_choice_profile "
        "points a relation at"
    ) in reasons


def test_same_model_created_twice(real: dict[str, Migration]) -> None:
    tag = "migrations.CreateModel('Tag', [('id', models.AutoField(primary_key=True)){}]),"
    mine = hand("mine", tag.format(""))
    theirs = hand("theirs", tag.format(", ('slug', models.SlugField())"))
    kind, reasons = run(real, [mine], [theirs])
    assert kind == "field"
    assert reasons == ["both 0002_mine and 0002_theirs create model tag"]


@pytest.mark.parametrize(
    ("mine", "theirs", "option"),
    [
        (
            "migrations.AlterModelOptions('question', {'ordering': ['text']}),",
            "migrations.AlterModelOptions('question', {'ordering': ['-id'], 'verbose_name': 'q'}),",
            "ordering",
        ),
        (
            "migrations.AlterUniqueTogether('question', {('text',)}),",
            "migrations.AlterUniqueTogether('question', set()),",
            "unique_together",
        ),
        (
            "migrations.AlterIndexTogether('question', {('text',)}),",
            "migrations.AlterIndexTogether('question', set()),",
            "index_together",
        ),
        (
            "migrations.AlterModelTable('question', 'questions'),",
            "migrations.AlterModelTable('question', 'poll_questions'),",
            "db_table",
        ),
        (
            "migrations.AlterOrderWithRespectTo('choice', 'question'),",
            "migrations.AlterOrderWithRespectTo('choice', None),",
            "order_with_respect_to",
        ),
    ],
)
def test_same_model_option_changed_twice(
    real: dict[str, Migration], mine: str, theirs: str, option: str
) -> None:
    kind, reasons = run(real, [hand("mine", mine)], [hand("theirs", theirs)])
    assert kind == "field"
    model = "choice" if option == "order_with_respect_to" else "question"
    assert reasons == [f"both 0002_mine and 0002_theirs change option {option} of model {model}"]


def test_different_options_of_one_model_are_model_level(real: dict[str, Migration]) -> None:
    mine = hand("mine", "migrations.AlterModelOptions('question', {'ordering': ['text']}),")
    theirs = hand("theirs", "migrations.AlterModelOptions('question', {'verbose_name': 'q'}),")
    assert run(real, [mine], [theirs])[0] == "model"


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        (
            "migrations.AddIndex('question', models.Index(fields=['text'], name='shared_idx')),",
            "migrations.AddIndex('choice', models.Index(fields=['votes'], name='shared_idx')),",
        ),
        (
            "migrations.AddConstraint('choice', models.CheckConstraint("
            "condition=models.Q(votes__gte=0), name='shared_idx')),",
            "migrations.RemoveIndex('question', 'shared_idx'),",
        ),
    ],
)
def test_same_index_or_constraint_name(real: dict[str, Migration], mine: str, theirs: str) -> None:
    kind, reasons = run(real, [hand("mine", mine)], [hand("theirs", theirs)])
    assert kind == "field"
    assert reasons == ["both 0002_mine and 0002_theirs use index or constraint name shared_idx"]


def test_migration_in_both_branches_is_common_not_a_clash(real: dict[str, Migration]) -> None:
    common = real["profile_age"]
    kind, reasons = run(real, [common, real["question_score"]], [common, real["choice_profile"]])
    assert kind == "none"
    assert "userprofile" not in reasons[0]


def test_the_very_same_operation_on_both_sides_is_no_clash(real: dict[str, Migration]) -> None:
    """The contract: the very same operation on both sides is no clash."""
    op = "migrations.AlterField('userprofile', 'name', models.CharField(max_length=300)),"
    kind, _ = run(real, [hand("mine", op)], [hand("theirs", op)])
    assert kind == "model"


def test_same_field_altered_differently_is_a_clash(real: dict[str, Migration]) -> None:
    mine = "migrations.AlterField('userprofile', 'name', models.CharField(max_length=300)),"
    theirs = "migrations.AlterField('userprofile', 'name', models.CharField(max_length=50)),"
    kind, reasons = run(real, [hand("mine", mine)], [hand("theirs", theirs)])
    assert kind == "field"
    assert reasons == ["both 0002_mine and 0002_theirs change field userprofile.name"]


RUNPYTHON = """\
def forwards(apps, schema_editor):
    apps.get_model('polls', 'UserProfile').objects.update(name='x')
"""


def test_run_python_reaching_a_deleted_model(real: dict[str, Migration]) -> None:
    data = hand("data", "migrations.RunPython(forwards),", RUNPYTHON)
    kind, reasons = run(real, [data], [real["delete_profile"]])
    assert kind == "field"
    assert reasons == [
        "0002_delete_profile deletes model userprofile, which 0002_data reaches in RunPython"
    ]


def test_run_python_reaching_a_model_is_model_level(real: dict[str, Migration]) -> None:
    data = hand("data", "migrations.RunPython(forwards),", RUNPYTHON)
    kind, reasons = run(real, [data], [real["profile_age"]])
    assert kind == "model"
    assert "touch model userprofile: RunPython (0002_data), age (0002_profile_age)" in reasons[0]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE profiles SET name = ''",  # the db_table set in the history
        "DELETE FROM profiles_voters",  # its many-to-many table, by prefix
    ],
)
def test_run_sql_on_a_table_of_a_renamed_model(real: dict[str, Migration], sql: str) -> None:
    data = hand("sql", f"migrations.RunSQL({sql!r}),")
    renamed = hand("rename", "migrations.RenameModel('UserProfile', 'Profile'),")
    kind, reasons = run(real, [data], [renamed])
    assert kind == "field"
    assert reasons == [
        "0002_rename renames model userprofile to profile, which 0002_sql names in RunSQL"
    ]


def test_run_sql_on_a_table_no_model_has_is_ignored(real: dict[str, Migration]) -> None:
    data = hand("sql", "migrations.RunSQL('TRUNCATE audit_log'),")
    kind, reasons = run(real, [data], [real["profile_age"]])
    assert kind == "none"
    assert (
        reasons[1]
        == "0002_sql runs SQL on table audit_log, which maps to no model of polls: ignored"
    )


def test_unreadable_operation_is_unknown(real: dict[str, Migration]) -> None:
    dynamic = """\
    def forwards(apps, schema_editor):
        for name in NAMES():
            apps.get_model('polls', name)
    """
    data = hand("data", "migrations.RunPython(forwards),", dynamic)
    kind, reasons = run(real, [data], [real["profile_address"]])
    assert kind == "unknown"
    assert reasons == [
        "0002_data runs RunPython that cannot be read: "
        "forwards() calls get_model with a non-literal argument"
    ]


def test_custom_operation_is_unknown(real: dict[str, Migration]) -> None:
    custom = hand("custom", "Partition('polls_question'),", "from myproject.ops import Partition")
    kind, reasons = run(real, [custom], [real["question_score"]])
    assert kind == "unknown"
    assert "0002_custom runs Partition that cannot be read" in reasons[0]


def test_field_beats_unknown(real: dict[str, Migration]) -> None:
    custom = hand("custom", "Partition('polls_question'),", "from myproject.ops import Partition")
    kind, reasons = run(real, [custom, real["profile_age"]], [real["profile_age_text"]])
    assert kind == "field"
    assert reasons == [
        "both 0002_profile_age and 0002_profile_age_text change field userprofile.age"
    ]


def test_three_branches_are_compared_in_pairs(real: dict[str, Migration]) -> None:
    kind, reasons = run(
        real, [real["question_score"]], [real["profile_address"]], [real["profile_age"]]
    )
    assert kind == "model"
    assert len(reasons) == 1 and "0002_profile_address and 0002_profile_age" in reasons[0]


def test_touched_models(real: dict[str, Migration]) -> None:
    data = hand("data", "migrations.RunPython(forwards),", RUNPYTHON)
    assert touched_models([real["profile_age"], data, real["question_score"]]) == {
        "userprofile",
        "question",
    }

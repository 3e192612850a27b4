"""Static parsing of real makemigrations output and of hand-written edge cases."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from migmerge.core.classify import model_table
from migmerge.core.model import SETTING_APP, Migration, Operation
from migmerge.errors import NotAMigration
from migmerge.reading import headers
from migmerge.reading.parse import parse_migration, read_header
from migmerge.reading.parse_names import module_paths
from tests.testing.projects import (
    app_files,
    make_django_project,
    makemigrations,
    migration_text,
    only_operation,
    write_app,
)

SETTINGS = {"AUTH_USER_MODEL": "accounts.User"}

MODELS_V1 = """\
from django.conf import settings
from django.db import models


class Tag(models.Model):
    name = models.SlugField(unique=True)


class Question(models.Model):
    text = models.CharField(max_length=200, db_index=True)
    body = models.TextField(blank=True)
    pub = models.DateTimeField(auto_now_add=True)
    score = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    data = models.JSONField(default=dict)
    uid = models.UUIDField(null=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag, related_name="questions")

    class Meta:
        db_table = "poll_questions"
        ordering = ["-pub"]
        unique_together = [("text", "owner")]
        indexes = [models.Index(fields=["pub"], name="q_pub_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(score__gte=0), name="score_pos")]


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE)
    parent = models.OneToOneField("self", null=True, on_delete=models.SET_NULL)
    votes = models.IntegerField(default=0)
"""

MODELS_V2 = """\
from django.conf import settings
from django.db import models


class Question(models.Model):
    text = models.CharField(max_length=300, db_index=True)
    pub = models.DateTimeField(auto_now_add=True)
    score = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    data = models.JSONField(default=dict)
    uid = models.UUIDField(null=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    voters = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="voted")

    class Meta:
        db_table = "questions"
        ordering = ["pub"]
        verbose_name = "poll question"
        indexes = [models.Index(fields=["text"], name="q_text_idx")]
        constraints = [
            models.UniqueConstraint(fields=["uid"], name="uid_unique"),
        ]


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE)
    votes = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=20, default="")

    class Meta:
        order_with_respect_to = "question"
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real makemigrations output: an initial migration and a second one changing much."""
    root = make_django_project(
        tmp_path_factory.mktemp("parse") / "proj", {"polls": MODELS_V1}, git_init=False
    )
    makemigrations(root, "polls")
    write_app(root, "polls", MODELS_V2)
    makemigrations(root, "polls", "many_changes")
    folder = root / "polls" / "migrations"
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("0*.py"))}


def full(source: str | bytes, app: str = "polls", **kwargs: object) -> Migration:
    """Parse a source with operations, as polls.0002_x."""
    raw = source.encode() if isinstance(source, str) else source
    return parse_migration(raw, app=app, name="0002_x", path="polls/0002_x.py", **kwargs)  # type: ignore[arg-type]


def migration_source(body: str, *, prelude: str = "", deps: str = "") -> str:
    """A migration file with the given class body (after dependencies)."""
    dependencies = deps or '    dependencies = [("polls", "0001_initial")]\n'
    return (
        "from django.db import migrations, models\n"
        + textwrap.dedent(prelude)
        + "\n\nclass Migration(migrations.Migration):\n"
        + dependencies
        + textwrap.indent(textwrap.dedent(body), "    ")
    )


def ops(body: str, prelude: str = "") -> tuple[Operation, ...]:
    """Parse `operations = [...]` written in a migration body; return the operations."""
    migration = full(migration_source(body, prelude=prelude))
    assert migration.operations is not None
    return migration.operations


def by_op(operations: tuple[Operation, ...] | None, name: str) -> list[Operation]:
    return [op for op in operations or () if op.op == name]


# ---------------------------------------------------------------------------
# Real makemigrations output


def test_initial_migration_header(generated: dict[str, bytes]) -> None:
    migration = full(generated["0001_initial"], settings=SETTINGS)
    assert migration.initial is True
    assert migration.dependencies == (("accounts", "__first__"),)
    assert migration.dynamic is None


def test_initial_migration_creates_models_with_relations(generated: dict[str, bytes]) -> None:
    migration = full(generated["0001_initial"], settings=SETTINGS)
    creates = {op.model: op for op in by_op(migration.operations, "CreateModel")}
    assert set(creates) == {"tag", "question", "choice"}
    question = creates["question"]
    assert question.fields == ("id", "text", "body", "pub", "score", "data", "uid", "owner", "tags")
    assert question.references == ("accounts.user", "polls.tag")
    assert question.options == ("db_table", "ordering")
    assert question.tables == ("poll_questions",)
    assert creates["choice"].references == ("polls.choice", "polls.question")


def test_initial_migration_indexes_constraints_together(generated: dict[str, bytes]) -> None:
    operations = full(generated["0001_initial"]).operations
    assert [op.names for op in by_op(operations, "AddIndex")] == [("q_pub_idx",)]
    assert [op.names for op in by_op(operations, "AddConstraint")] == [("score_pos",)]
    together = by_op(operations, "AlterUniqueTogether")
    assert [(op.model, op.options) for op in together] == [("question", ("unique_together",))]


def test_unresolved_auth_user_model_reference(generated: dict[str, bytes]) -> None:
    migration = full(generated["0001_initial"])
    assert migration.dependencies == ((SETTING_APP, "AUTH_USER_MODEL"),)
    question = by_op(migration.operations, "CreateModel")[1]
    assert f"{SETTING_APP}.auth_user_model" in question.references


def test_second_migration_field_and_model_operations(generated: dict[str, bytes]) -> None:
    operations = full(generated["0002_many_changes"], settings=SETTINGS).operations
    fields = {
        (op.op, op.model, op.field)
        for op in operations or ()
        if op.op in ("AddField", "AlterField", "RemoveField")
    }
    assert ("RemoveField", "question", "body") in fields
    assert ("AlterField", "question", "text") in fields
    assert ("AddField", "choice", "label") in fields
    assert ("AlterField", "choice", "votes") in fields
    assert ("RemoveField", "choice", "parent") in fields
    voters = [op for op in by_op(operations, "AddField") if op.field == "voters"]
    assert voters[0].references == ("accounts.user",)
    assert [op.model for op in by_op(operations, "DeleteModel")] == ["tag"]


def test_second_migration_options_and_names(generated: dict[str, bytes]) -> None:
    operations = full(generated["0002_many_changes"]).operations
    options = by_op(operations, "AlterModelOptions")
    assert [(op.model, set(op.options)) for op in options] == [
        ("question", {"ordering", "verbose_name"})
    ]
    table = by_op(operations, "AlterModelTable")
    assert [(op.model, op.options, op.tables) for op in table] == [
        ("question", ("db_table",), ("questions",))
    ]
    order = by_op(operations, "AlterOrderWithRespectTo")
    assert [(op.model, op.options) for op in order] == [("choice", ("order_with_respect_to",))]
    assert [op.names for op in by_op(operations, "RemoveIndex")] == [("q_pub_idx",)]
    assert [op.names for op in by_op(operations, "AddIndex")] == [("q_text_idx",)]
    assert [op.names for op in by_op(operations, "RemoveConstraint")] == [("score_pos",)]
    assert [op.names for op in by_op(operations, "AddConstraint")] == [("uid_unique",)]


# ---------------------------------------------------------------------------
# The fast header path agrees with the full parser

FALLBACKS = {
    "replaces": migration_source(
        "replaces = [('polls', '0002_a'), ('polls', '0003_b')]\noperations = []\n"
    ),
    "run_before": migration_source("run_before = [('other', '0001_initial')]\n"),
    "dynamic": migration_source("", deps="    dependencies = get_deps()\n"),
    "two_dependencies": migration_source("", deps="    dependencies = []\n    # dependencies\n"),
    "comment_inside": migration_source(
        "", deps="    dependencies = [\n        ('polls', '0001_initial'),  # first\n    ]\n"
    ),
    "escape": migration_source("", deps="    dependencies = [('polls', '0001_\\x69nitial')]\n"),
    "list_items": migration_source("", deps="    dependencies = [['polls', '0001_initial']]\n"),
    "quote_inside": migration_source("", deps="""    dependencies = [("p", "0002_it's")]\n"""),
    "other_quote_inside": migration_source("", deps="""    dependencies = [('p', '0002_"x"')]\n"""),
    "bare_tuple": migration_source("", deps="    dependencies = (('polls', '0001_initial'))\n"),
    "conditional": migration_source(
        "",
        deps="    if True:\n        dependencies = [('polls', '0001_initial')]\n",
    ),
    "two_classes": migration_source("", prelude="class Migration:\n    pass\n"),
    "initial_computed": migration_source("initial = not False\n"),
    "concatenated": migration_source(
        "", deps="    dependencies = [('polls', '0001_initial')] + [('b', '0001_initial')]\n"
    ),
    "non_ascii_latin1": b"# -*- coding: latin-1 -*-\n"
    + migration_source("", deps="    dependencies = [('polls', '0001_caf\xe9')]\n").encode(
        "latin-1"
    ),
}
FAST = {
    "tuple_form": migration_source(
        "", deps="    dependencies = (\n        ('polls', '0001_initial'),\n    )\n"
    ),
    "empty": migration_source("initial = True\n", deps="    dependencies = []\n"),
    "double_quotes": migration_source(
        "", deps='    dependencies = [("a", "0001_x"), ("b", "0002")]\n'
    ),
    "swappable": migration_source(
        "",
        deps="    dependencies = [\n"
        "        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n"
        "        ('polls', '__first__'),\n    ]\n",
    ),
    "crlf": migration_source("initial = False\n").replace("\n", "\r\n"),
}


def as_bytes(source: str | bytes) -> bytes:
    return source.encode() if isinstance(source, str) else source


@pytest.mark.parametrize("case", sorted(FALLBACKS))
def test_fast_path_falls_back_and_agrees(case: str) -> None:
    source = as_bytes(FALLBACKS[case])
    kwargs = {"app": "polls", "name": "0002_x", "path": "p.py", "settings": SETTINGS}
    assert headers.fast_header_fields(source) is None
    assert read_header(source, **kwargs) == parse_migration(source, operations=False, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", sorted(FAST))
def test_fast_path_reads_plain_headers_like_the_parser(case: str) -> None:
    source = as_bytes(FAST[case])
    for settings in (SETTINGS, {}):
        kwargs = {"app": "polls", "name": "0002_x", "path": "p.py", "settings": settings}
        fast = _fast(source, settings, "0002_x", "p.py")
        assert fast == parse_migration(source, operations=False, **kwargs)  # type: ignore[arg-type]


def test_fast_path_reads_real_migrations_like_the_parser(generated: dict[str, bytes]) -> None:
    for name, source in generated.items():
        kwargs = {"app": "polls", "name": name, "path": f"{name}.py", "settings": SETTINGS}
        fast = _fast(source, SETTINGS, name, f"{name}.py")
        assert fast == parse_migration(source, operations=False, **kwargs)  # type: ignore[arg-type]
        assert fast.dependencies


def _fast(source: bytes, settings: dict[str, str], name: str, path: str) -> Migration:
    """Read `source` through the fast path only (it must take it)."""
    fields = headers.fast_header_fields(source)
    assert fields is not None, name
    return headers.header_migration(fields, "polls", name, path, settings)


def test_read_header_has_no_operations(generated: dict[str, bytes]) -> None:
    header = read_header(generated["0002_many_changes"], app="polls", name="n", path="p")
    assert header.operations is None
    assert ("polls", "0001_initial") in header.dependencies


# ---------------------------------------------------------------------------
# Header edge cases


def test_swappable_dependency_and_special_names() -> None:
    deps = (
        "    dependencies = [\n"
        "        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n"
        "        swappable_dependency('shop.Customer'),\n"
        "        ('auth', '__first__'),\n"
        "        ('contenttypes', '__latest__'),\n"
        "    ]\n"
    )
    migration = full(migration_source("", deps=deps))
    assert migration.dependencies == (
        (SETTING_APP, "AUTH_USER_MODEL"),
        ("shop", "__first__"),
        ("auth", "__first__"),
        ("contenttypes", "__latest__"),
    )
    resolved = full(migration_source("", deps=deps), settings=SETTINGS)
    assert resolved.dependencies[0] == ("accounts", "__first__")


def test_dynamic_dependencies_are_left_empty_and_explained() -> None:
    migration = full(migration_source("", deps="    dependencies = get_deps()\n"))
    assert migration.dependencies == ()
    assert migration.dynamic is not None
    assert "get_deps()" in migration.dynamic
    assert "previous migration" in migration.dynamic


def test_literal_parts_of_dynamic_dependencies_are_kept() -> None:
    deps = "    dependencies = [('polls', '0001_initial'), helper()] + [('b', '0001_initial')]\n"
    migration = full(migration_source("", deps=deps))
    assert migration.dependencies == (("polls", "0001_initial"), ("b", "0001_initial"))
    assert migration.dynamic is not None and "helper()" in migration.dynamic


def test_concatenated_literal_dependencies_are_not_dynamic() -> None:
    deps = "    dependencies: list = [('polls', '0001_initial')] + [('b', '0002_x')]\n"
    migration = full(migration_source("", deps=deps))
    assert migration.dependencies == (("polls", "0001_initial"), ("b", "0002_x"))
    assert migration.dynamic is None


def test_conditional_run_before_is_dynamic() -> None:
    body = """\
    run_before = [('other', '0001_initial')]
    if settings.DEBUG:
        run_before = [('other', '0002_debug')]
    dependencies.append(('x', '0001_initial'))
    """
    migration = full(migration_source(body))
    assert migration.run_before == (("other", "0001_initial"),)
    assert migration.dynamic is not None
    assert "run_before" in migration.dynamic and "if" in migration.dynamic
    assert "dependencies" in migration.dynamic and ".append()" in migration.dynamic


def test_squashed_migration_replaces() -> None:
    body = """\
    replaces = [('polls', '0001_initial'), ('polls', '0002_more')]
    initial = True
    operations = []
    """
    migration = full(migration_source(body, deps="    dependencies = []\n"))
    assert migration.replaces == (("polls", "0001_initial"), ("polls", "0002_more"))
    assert migration.initial is True
    assert migration.operations == ()


def test_coding_line_with_latin1_bytes() -> None:
    source = (
        b"# -*- coding: latin-1 -*-\n# caf\xe9\n"
        + migration_source("operations = [migrations.RunSQL('SELECT 1')]\n").encode()
    )
    migration = full(source)
    assert migration.dependencies == (("polls", "0001_initial"),)
    assert by_op(migration.operations, "RunSQL")


def test_bom_and_crlf() -> None:
    source = b"\xef\xbb\xbf" + migration_source("initial = True\n").replace("\n", "\r\n").encode()
    assert full(source).initial is True
    assert read_header(source, app="polls", name="x", path="p").initial is True


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (bytes(range(256)) * 4, "NUL bytes"),
        (b"# nothing here\nx = 1\n", "no Migration class"),
        (b"# -*- coding: no-such-codec -*-\n", "unknown encoding"),
    ],
)
def test_files_without_a_migration_class_are_not_migrations(source: bytes, reason: str) -> None:
    with pytest.raises(NotAMigration) as info:
        full(source)
    assert reason in info.value.reason
    assert info.value.path == "polls/0002_x.py"
    with pytest.raises(NotAMigration):
        read_header(source, app="polls", name="0002_x", path="polls/0002_x.py")


# Python 2, as rapidpro and arches keep it: a data function with a print statement.
PYTHON_2 = b"""\
# -*- coding: utf-8 -*-
from __future__ import unicode_literals

from django.db import migrations, models


def forwards(apps, schema_editor):
    Flow = apps.get_model("flows", "Flow")
    print "migrating %d flows" % Flow.objects.count()
    try:
        Flow.objects.update(saved_on=None)
    except Exception, e:
        print >>sys.stderr, "failed: %s" % e
        raise ValueError, "stop"


def backwards(apps, schema_editor):
    print `apps.get_model("orgs", "Org")`


class Migration(migrations.Migration):

    dependencies = [
        ('flows', '0001_initial'),
        ('orgs', '0007_org_language'),
    ]

    replaces = [('flows', '0002_old')]

    operations = [
        migrations.AddField(
            model_name='flow',
            name='saved_on',
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(forwards, backwards),
    ]
"""


def test_a_python_2_migration_is_read_as_far_as_it_goes() -> None:
    migration = full(PYTHON_2, app="flows")
    assert migration.dependencies == (("flows", "0001_initial"), ("orgs", "0007_org_language"))
    assert migration.replaces == (("flows", "0002_old"),)
    assert migration.dynamic is None
    assert migration.unreadable is not None
    assert "cannot parse it (line 9: Missing parentheses in call to 'print'" in migration.unreadable
    # Python 2's print, except and raise statements are read as Python 3 spells them;
    # backticks are not: that function is left out.
    assert "left out: line 17)" in migration.unreadable
    assert migration.operations is not None
    add, run = migration.operations
    assert (add.op, add.model, add.field, add.readable) == ("AddField", "flow", "saved_on", True)
    assert (run.op, run.readable, run.reaches) == ("RunPython", True, ("flow",))
    assert "saved_on" in run.mentions
    legacy = full(PYTHON_2.replace(b"RunPython(forwards", b"RunPython(backwards"), app="flows")
    assert legacy.operations is not None and legacy.operations[1].readable is False
    header = read_header(PYTHON_2, app="flows", name="0002_x", path="p")
    assert header.dependencies == migration.dependencies and header.unreadable


def test_an_operations_list_that_does_not_parse_is_read_item_by_item() -> None:
    source = PYTHON_2.replace(
        b"field=models.DateTimeField(null=True)", b"field=models.IntegerField(default=0777)"
    )
    source = source.replace(b"print `apps", b"print(apps").replace(b'Org")`', b'Org"))')
    source = source.replace(
        b"        migrations.RunPython(forwards, backwards),\n",
        b"        migrations.RunPython(forwards, backwards),\n"
        b"        migrations.RemoveField('flow', 'old'),\n",
    )
    migration = full(source, app="flows")
    assert migration.dependencies == (("flows", "0001_initial"), ("orgs", "0007_org_language"))
    assert migration.operations is not None
    broken, run, remove = migration.operations
    line = source[: source.index(b"0777")].count(b"\n") - 2  # the AddField( line
    assert (broken.readable, broken.note) == (False, f"line {line} cannot be parsed")
    assert (run.op, run.readable, run.reaches) == ("RunPython", True, ("flow",))
    assert (remove.op, remove.field) == ("RemoveField", "old")


@pytest.mark.parametrize(
    "source",
    [
        b"from django.db import migrations\n\nclass Migration(:\n",
        b"from django.db import migrations\n\nclass Migration(migrations.Migration):\n"
        b"    dependencies = [('polls', `0001`)]\n    operations = [`x`]\n",
        # Deeper than Python's parser builds objects for (its compiler takes it).
        b"from django.db import migrations\n\nclass Migration(migrations.Migration):\n"
        b"    dependencies = [('polls', '0001_initial')]" + b" + []" * 3000 + b"\n"
        b"    operations = []\n",
    ],
)
def test_a_migration_whose_header_cannot_be_read_is_unknown(source: bytes) -> None:
    migration = full(source)
    assert migration.dependencies == ()
    assert migration.dynamic and "assumed the previous migration" in migration.dynamic
    assert migration.unreadable and "cannot parse it" in migration.unreadable
    assert migration.operations is not None
    assert not any(op.readable for op in migration.operations)


def test_nul_bytes_are_read_around() -> None:
    migration = full(b"class Migration:\n    dependencies = [('polls', '0001_initial')]\x00\n")
    assert migration.dependencies == (("polls", "0001_initial"),)
    assert migration.unreadable and "NUL bytes" in migration.unreadable


def test_what_python_refuses_is_read_but_said() -> None:
    source = b"from __future__ import braces\n" + migration_source("operations = []\n").encode()
    migration = full(source)
    assert migration.dependencies == (("polls", "0001_initial"),)
    assert migration.unreadable == (
        "Python refuses it (line 1: not a chance), so Django cannot import it either"
    )


def test_bytes_the_compiler_takes_in_a_comment_are_no_problem() -> None:
    # No coding line, a latin-1 byte in a comment: Python compiles it; tokenize refuses it.
    source = migration_source("operations = []  # caf\xe9\n").encode("latin-1")
    migration = full(source)
    assert migration.unreadable is None
    assert migration.dependencies == (("polls", "0001_initial"),)


def test_deep_expressions_python_compiles_are_read() -> None:
    sql = " + ".join(['"UPDATE polls_question SET text = 1"'] + ['" "'] * 900)
    deps = " + ".join(["[('polls', '0001_initial')]"] + ["[]"] * 900)
    source = migration_source(
        f"operations = [migrations.RunSQL({sql})]\n", deps=f"    dependencies = {deps}\n"
    )
    migration = full(source)
    assert migration.dependencies == (("polls", "0001_initial"),)
    assert migration.operations is not None
    (run,) = migration.operations
    assert run.tables == ("polls_question",)


# ---------------------------------------------------------------------------
# Operations written by hand


def test_renames_keyword_and_positional() -> None:
    body = """\
    operations = [
        migrations.RenameModel(old_name='Question', new_name='Poll'),
        migrations.RenameModel('Choice', 'Option'),
        migrations.RenameField(model_name='poll', old_name='Text', new_name='title'),
        migrations.RenameField('poll', 'pub', 'published'),
        migrations.RenameIndex(model_name='poll', new_name='new_idx', old_name='old_idx'),
    ]
    """
    found = [(op.op, op.model, op.field, op.new_name, op.names) for op in ops(body)]
    assert found == [
        ("RenameModel", "question", None, "poll", ()),
        ("RenameModel", "choice", None, "option", ()),
        ("RenameField", "poll", "text", "title", ()),
        ("RenameField", "poll", "pub", "published", ()),
        ("RenameIndex", "poll", None, "new_idx", ("old_idx", "new_idx")),
    ]


def test_positional_arguments_and_call_spellings() -> None:
    prelude = "import django.db.migrations\nfrom django.db.migrations import AddField\n"
    body = """\
    operations = [
        AddField('choice', 'question', models.ForeignKey('Question', models.CASCADE)),
        django.db.migrations.RemoveField('choice', 'votes'),
        migrations.AddIndex('choice', models.Index(fields=['a'], name='a_idx')),
        migrations.RemoveConstraint('choice', 'c_check'),
        migrations.AlterModelTable('choice', 'choices'),
        migrations.AlterModelManagers('choice', []),
        migrations.AlterIndexTogether('choice', set()),
        migrations.AlterModelTableComment('choice', 'hi'),
    ]
    """
    found = [
        (op.op, op.model, op.field, op.names, op.options, op.references)
        for op in ops(body, prelude)
    ]
    assert found == [
        ("AddField", "choice", "question", (), (), ("polls.question",)),
        ("RemoveField", "choice", "votes", (), (), ()),
        ("AddIndex", "choice", None, ("a_idx",), (), ()),
        ("RemoveConstraint", "choice", None, ("c_check",), (), ()),
        ("AlterModelTable", "choice", None, (), ("db_table",), ()),
        ("AlterModelManagers", "choice", None, (), ("managers",), ()),
        ("AlterIndexTogether", "choice", None, (), ("index_together",), ()),
        ("AlterModelTableComment", "choice", None, (), ("db_table_comment",), ()),
    ]


def test_custom_operations_are_unreadable_but_extensions_are_harmless() -> None:
    prelude = """\
    from django.contrib.postgres.operations import TrigramExtension, CreateExtension
    from myproject import dbops
    from myproject.ops import AddField as ProjectAddField
    """
    body = """\
    operations = [
        TrigramExtension(),
        CreateExtension('citext'),
        dbops.CreatePartition('polls_question'),
        ProjectAddField('x', 'y'),
        migrations.AddField(model_name=model_name_var, name='x', field=None),
    ]
    """
    found = ops(body, prelude)
    assert [(op.op, op.readable, op.model) for op in found[:2]] == [
        ("TrigramExtension", True, None),
        ("CreateExtension", True, None),
    ]
    assert found[2].readable is False and found[2].op == "CreatePartition"
    assert found[2].note is not None and "myproject.dbops" in found[2].note
    assert found[3].readable is False and found[3].note is not None
    assert "myproject.ops" in found[3].note
    assert found[4].readable is False and "model_name_var" in (found[4].note or "")


def test_postgres_and_pgtrigger_operations_are_read() -> None:
    """netbox: a collation touches no model; pgtrigger's triggers and the concurrent index
    operations touch the model they name."""
    prelude = """\
    import pgtrigger.compiler
    import pgtrigger.migrations
    from django.contrib.postgres.operations import AddIndexConcurrently, CreateCollation
    from pgtrigger.migrations import RemoveTrigger
    """
    body = """\
    operations = [
        CreateCollation('natural_sort', provider='icu', locale='und-u-kn-true'),
        AddIndexConcurrently(model_name='question', index=models.Index(fields=['x'], name='q_x')),
        pgtrigger.migrations.AddTrigger(
            model_name='question',
            trigger=pgtrigger.compiler.Trigger(
                name='question_touch',
                sql=pgtrigger.compiler.UpsertTriggerSql(func='RETURN NEW;', table='polls_question'),
            ),
        ),
        RemoveTrigger(model_name='choice', name='choice_touch'),
        pgtrigger.migrations.AddTrigger(model_name='choice', trigger=make_trigger()),
    ]
    """
    found = ops(body, prelude)
    assert [(op.op, op.readable, op.model, op.names) for op in found] == [
        ("CreateCollation", True, None, ()),
        ("AddIndexConcurrently", True, "question", ("q_x",)),
        ("AddTrigger", True, "question", ("question_touch",)),
        ("RemoveTrigger", True, "choice", ("choice_touch",)),
        ("AddTrigger", False, "choice", ()),
    ]
    assert found[4].note == "AddTrigger's trigger has no literal name"


def test_non_literal_operations_list_is_unreadable() -> None:
    found = ops("operations = build_operations()\n")
    assert len(found) == 1 and found[0].readable is False
    assert "build_operations()" in (found[0].note or "")


RUNPYTHON_PRELUDE = """\
from otherapp.data import load


def helper(apps):
    apps.get_model('shop.Order').objects.all().delete()


def forwards(apps, schema_editor):
    Question = apps.get_model('polls', 'Question')
    helper(apps)


MODELS = ('Question', 'Choice')
PAIRS = [('shop', 'Order'), ('polls', 'Tag')]


def looped(apps, schema_editor):
    for name in MODELS:
        apps.get_model('polls', name)
    for app, model in PAIRS:
        apps.get_model(app, model)


def dynamic(apps, schema_editor):
    for name in schema_editor.connection.introspection.table_names():
        apps.get_model('polls', name)


def recursive(apps, schema_editor):
    recursive(apps, schema_editor)
    apps.get_model('polls.Choice')


def _count(apps, schema_editor, app, model, field, related='items'):
    Model = apps.get_model(app, model)
    Model.objects.update(**{field: related})


def _reassigned(apps, model):
    model = model.upper()
    apps.get_model('polls', model)


def counts(apps, schema_editor):
    _count(apps, schema_editor, 'polls', 'Question', 'n')
    _count(apps, schema_editor, 'shop', model='Order', field='n', related='lines')
    for name in MODELS:
        _count(apps, schema_editor, 'polls', name, 'n')


def by_default(apps, schema_editor, model='Tag'):
    apps.get_model('polls', model)


def defaults(apps, schema_editor):
    by_default(apps, schema_editor)


def reassigned(apps, schema_editor):
    _reassigned(apps, 'Question')
"""


@pytest.mark.parametrize(
    ("code", "reaches", "readable", "note"),
    [
        ("forwards", ("question", "shop.order"), True, None),
        ("recursive", ("choice",), True, None),
        ("lambda apps, se: apps.get_model('polls', 'Tag')", ("tag",), True, None),
        ("migrations.RunPython.noop", (), True, None),
        ("looped", ("question", "choice", "shop.order", "tag"), True, None),
        ("dynamic", (), False, "dynamic() calls get_model with a non-literal argument"),
        # A helper's parameters are bound to the literals each call passes (netbox's counters).
        ("counts", ("question", "choice", "shop.order"), True, None),
        ("defaults", ("tag",), True, None),
        ("reassigned", (), False, "reassigned() calls get_model with a non-literal argument"),
        ("load", (), False, "load() is imported from a module that cannot be read"),
        ("make_code()", (), False, "not a function defined in this file"),
    ],
)
def test_run_python_reaches(
    code: str, reaches: tuple[str, ...], readable: bool, note: str | None
) -> None:
    body = f"operations = [migrations.RunPython({code}, migrations.RunPython.noop)]\n"
    (op,) = ops(body, RUNPYTHON_PRELUDE)
    assert (op.op, op.reaches, op.readable) == ("RunPython", reaches, readable)
    assert (note is None and op.note is None) or (note is not None and note in (op.note or ""))


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("'UPDATE polls_question SET score = 0'", ("polls_question",)),
        (
            '[\'INSERT INTO "public"."polls_choice" (votes) SELECT 1 FROM polls_question q '
            "JOIN polls_tag t ON t.id = q.id', ('DELETE FROM `polls_tag` WHERE id = %s', [1])]",
            ("polls_choice", "polls_question", "polls_tag"),
        ),
        (
            "'CREATE INDEX CONCURRENTLY q_idx ON polls_question (text); TRUNCATE polls_vote'",
            ("polls_question", "polls_vote"),
        ),
        (
            "'ALTER TABLE polls_choice ADD CONSTRAINT f FOREIGN KEY (q) REFERENCES polls_poll(id)'",
            ("polls_choice", "polls_poll"),
        ),
        (
            "'CREATE TABLE IF NOT EXISTS polls_log (id int); DROP TABLE polls_old'",
            ("polls_log", "polls_old"),
        ),
        ("migrations.RunSQL.noop", ()),
        ("'-- a comment only'", ()),
        (
            "'WITH old AS (SELECT id FROM polls_vote) DELETE FROM polls_choice WHERE id IN old'",
            ("polls_vote", "polls_choice"),
        ),
        # What a function's body and a trigger touch (rapidpro's SQL files): read, not nothing.
        (
            "'CREATE OR REPLACE FUNCTION poll_count() RETURNS TRIGGER AS $body$ BEGIN "
            "UPDATE polls_question SET n = n + 1; IF NEW.x THEN INSERT INTO polls_log (a) "
            "SELECT 1 FROM polls_tag; END IF; RETURN NEW; END; $body$ LANGUAGE plpgsql; "
            "CREATE TRIGGER poll_count_trg AFTER INSERT ON polls_choice "
            "FOR EACH ROW EXECUTE PROCEDURE poll_count()'",
            ("polls_question", "polls_log", "polls_tag", "polls_choice"),
        ),
        ("'DROP TRIGGER IF EXISTS poll_count_trg ON polls_choice'", ("polls_choice",)),
        # A DO block runs its body at once: the body's statements are read (arches).
        ('"DO $$ BEGIN PERFORM 1; END $$"', ()),
        (
            '"do $do$ declare r record; begin select * into r from polls_tag limit 1; '
            "update polls_question q set n = 1 from polls_choice c, "
            '(select id from polls_vote) v where q.id = c.q; end; $do$ language plpgsql"',
            ("r", "polls_tag", "polls_question", "polls_choice", "polls_vote"),
        ),
        # Every table of a list, not only the first.
        (
            "'DELETE FROM polls_choice USING polls_question AS q, public.polls_tag t "
            "WHERE q.id = t.id; DROP TABLE polls_a, polls_b'",
            ("polls_choice", "polls_question", "polls_tag", "polls_a", "polls_b"),
        ),
        ("'CREATE INDEX q_gin ON polls_question USING gin (text)'", ("polls_question",)),
        # A 38 KB seed INSERT: past sqlparse's grouping token limit (exit 3 before).
        (
            repr(
                "INSERT INTO polls_country (code, name) VALUES "
                + ", ".join(f"('c{i:04d}', 'Country {i}')" for i in range(1500))
            ),
            ("polls_country",),
        ),
    ],
)
def test_run_sql_tables(sql: str, tables: tuple[str, ...]) -> None:
    (op,) = ops(f"operations = [migrations.RunSQL({sql}, migrations.RunSQL.noop)]\n")
    assert (op.readable, op.tables) == (True, tables)


@pytest.mark.parametrize(
    ("sql", "note"),
    [
        ("'this is not sql at all'", "its SQL cannot be read"),
        ("'CALL refresh_everything()'", "its SQL cannot be read"),
        ('"DO $$ BEGIN EXECUTE format(%L, t); END $$"', "its SQL runs SQL built at run time"),
        ("f'UPDATE {TABLE} SET x = 1'", "a value the file does not tell where a name may be"),
        (
            "'CREATE FUNCTION f() RETURNS void AS $$ BEGIN EXECUTE format(%L, t); END; "
            "$$ LANGUAGE plpgsql'",
            "its SQL runs SQL built at run time",
        ),
        ("SQL_FROM_ELSEWHERE", "not a literal"),
        ("build_sql()", "not a literal"),
    ],
)
def test_run_sql_unreadable(sql: str, note: str) -> None:
    (op,) = ops(f"operations = [migrations.RunSQL({sql})]\n")
    assert op.readable is False
    assert note in (op.note or "")


SETTINGS_PRELUDE = "from django.conf import settings\n"


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        # arches: the language code a setting holds, put where the SQL quotes it.
        (
            "\"UPDATE polls_choice SET label = json_build_object('{0}', label)\""
            ".format(settings.LANGUAGE_CODE)",
            ("polls_choice",),
        ),
        (
            "[('''do $$ declare l record; begin "
            "select * into l from polls_language where code = '{}' limit 1; "
            "update polls_question set text = l.name; end; $$'''.format(settings.LANGUAGE_CODE))]",
            ("l", "polls_language", "polls_question"),
        ),
        ('"UPDATE polls_tag SET name = \'" + settings.TAG + "\'"', ("polls_tag",)),
        ("f\"DELETE FROM polls_tag WHERE name = '{settings.TAG!s}'\"", ("polls_tag",)),
    ],
)
def test_run_sql_with_values_the_file_does_not_tell_in_quotes(
    sql: str, tables: tuple[str, ...]
) -> None:
    (op,) = ops(f"operations = [migrations.RunSQL({sql})]\n", SETTINGS_PRELUDE)
    assert (op.readable, op.tables, op.note) == (True, tables, None)


@pytest.mark.parametrize(
    "sql",
    [
        # Where a value the file does not tell may be a name, or more SQL: unknown.
        "'UPDATE polls_question SET owner_id = {}'.format(settings.DEFAULT_USER)",
        "'UPDATE {} SET x = 1'.format(settings.TABLE)",
        "'SELECT * FROM \"{}\"'.format(settings.TABLE)",
        "\"SELECT '{}'::regclass\".format(settings.TABLE)",
        "\"SELECT '{}'::text::regclass\".format(settings.TABLE)",
        "\"SELECT CAST('{}' AS regclass)\".format(settings.TABLE)",
        "\"SELECT setval('{}_id_seq', 1)\".format(settings.TABLE)",
        "'SET search_path TO ' + settings.SCHEMA",
        "'DO $$ BEGIN UPDATE {} SET x = 1; END $$'.format(settings.TABLE)",
        "'-- {}\\nSELECT 1'.format(settings.COMMENT)",
        "\"CREATE FUNCTION f() RETURNS void AS 'UPDATE {} SET x = 1' LANGUAGE sql\""
        ".format(settings.TABLE)",
        "settings.SQL + ' WHERE 1'",
        "'{}'.format(settings.SQL)",
    ],
)
def test_run_sql_with_a_value_the_file_does_not_tell_where_a_name_may_be(sql: str) -> None:
    (op,) = ops(f"operations = [migrations.RunSQL({sql})]\n", SETTINGS_PRELUDE)
    assert (op.readable, op.tables) == (False, ()), op


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        # `.format`, `%` and f-strings write a whole number's digits: a value, told.
        ("'DELETE FROM polls_vote WHERE id < {}'.format(BATCH)", ("polls_vote",)),
        ("f'DELETE FROM polls_vote WHERE id < {BATCH}'", ("polls_vote",)),
        ("'DELETE FROM polls_vote WHERE id < %s' % BATCH", ("polls_vote",)),
        # a key 0 is not the key "0"
        ("'DELETE FROM {}'.format(TABLES[0])", ("polls_a",)),
        ("'DELETE FROM {}'.format(TABLES['0'])", ("polls_b",)),
    ],
)
def test_run_sql_with_whole_numbers_spliced_in(sql: str, tables: tuple[str, ...]) -> None:
    prelude = "BATCH = 500\nTABLES = {0: 'polls_a', '0': 'polls_b'}\n"
    (op,) = ops(f"operations = [migrations.RunSQL({sql})]\n", prelude)
    assert (op.readable, op.tables) == (True, tables)


@pytest.mark.parametrize(
    "sql",
    [
        "'DELETE FROM polls_vote WHERE id < {}'.format(True)",  # True is no number written
        "'DELETE FROM polls_vote WHERE id < ' + BATCH",  # a TypeError, not a string
        "'DELETE FROM polls_vote WHERE id < {}'.format(1.5)",
    ],
)
def test_run_sql_with_other_values_spliced_in_stays_unknown(sql: str) -> None:
    (op,) = ops(f"operations = [migrations.RunSQL({sql})]\n", "BATCH = 500\n")
    assert op.readable is False


def test_a_whole_number_from_the_settings_is_written_into_the_sql() -> None:
    # arches: "update ... set principaluser_id = {}".format(
    #     settings.DEFAULT_RESOURCE_IMPORT_USER["userid"]), the dict in every settings module.
    files = app_files("polls", "0001_initial")
    files.update({"site/__init__.py": "", "site/settings.py": SETTINGS_WITH_USER})
    migration = migration_text(
        "[('polls', '0001_initial')]",
        "migrations.RunSQL('UPDATE polls_question SET owner_id = {}'.format("
        "settings.DEFAULT_IMPORT_USER['userid'])),",
        prelude="from django.conf import settings\n",
    )
    op = only_operation(migration, "polls", "0002_owner", files)
    assert (op.readable, op.tables) == (True, ("polls_question",))
    # a settings module that says otherwise: not told
    files["site/other_settings.py"] = SETTINGS_WITH_USER.replace("'userid': 1", "'userid': 2")
    assert only_operation(migration, "polls", "0002_owner", files).readable is False


SETTINGS_WITH_USER = (
    "INSTALLED_APPS = ['polls']\nDEFAULT_IMPORT_USER = {'username': 'admin', 'userid': 1}\n"
)


def test_a_class_attribute_sql_formatted_with_a_setting_is_read() -> None:
    # arches' i18n migrations: `sql = """...""".format(settings.LANGUAGE_CODE)` in the class.
    source = migration_source(
        '''\
        sql = """
            SET CONSTRAINTS ALL IMMEDIATE;
            UPDATE public.polls_choice SET label = json_build_object('{0}', label);
            SET CONSTRAINTS ALL DEFERRED;
        """.format(settings.LANGUAGE_CODE)
        reverse_sql = """
            UPDATE public.polls_choice SET label = label::jsonb->>'{0}'::text;
        """.format(settings.LANGUAGE_CODE)

        operations = [
            migrations.RunSQL(sql, reverse_sql),
            migrations.AlterField('choice', 'label', models.JSONField(null=True)),
        ]
        ''',
        prelude=SETTINGS_PRELUDE,
    )
    sql, alter = full(source).operations or ()
    assert (sql.readable, sql.tables) == (True, ("polls_choice",))
    assert (alter.model, alter.field) == ("choice", "label")


def test_run_sql_state_operations_and_separate_database_and_state() -> None:
    body = """\
    operations = [
        migrations.RunSQL(
            'ALTER TABLE polls_question ADD COLUMN x int',
            state_operations=[migrations.AddField('question', 'x', models.IntegerField())],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel('Old')],
            database_operations=[migrations.RunSQL('DROP TABLE polls_old')],
        ),
    ]
    """
    sql, separate = ops(body)
    assert sql.tables == ("polls_question",)
    assert [(c.op, c.model, c.field) for c in sql.children] == [("AddField", "question", "x")]
    assert (separate.model, separate.field) == (None, None)
    assert [(c.op, c.model, c.tables) for c in separate.children] == [
        ("DeleteModel", "old", ()),
        ("RunSQL", None, ("polls_old",)),
    ]


# A trigger's function calling a helper with `EXECUTE helper(...)`: the helper returns
# void, so the command string is empty and EXECUTE runs the helper and nothing else
# (PostgreSQL evaluates the call, then runs ''). rapidpro's category-count triggers.
VOID_HELPER_SQL = """
CREATE OR REPLACE FUNCTION public.poll_add_count(_poll_id integer, _key text, _count integer)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
  BEGIN
    INSERT INTO polls_count("poll_id", "key", "count") VALUES(_poll_id, _key, _count);
  END;
$function$;

CREATE OR REPLACE FUNCTION poll_count_changed() RETURNS TRIGGER AS $$
DECLARE
  DECLARE _key text;
BEGIN
  FOR _key IN SELECT key FROM json_each(NEW.results) LOOP
    IF (OLD.results->_key) IS NULL THEN
      execute poll_add_count(NEW.poll_id, _key, 1);
    ELSE
      EXECUTE public.poll_add_count(NEW.poll_id, _key, -1);
    END IF;
  END LOOP;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER poll_count_changed_trg AFTER INSERT OR UPDATE OF results ON polls_vote
  FOR EACH ROW EXECUTE PROCEDURE poll_count_changed();
"""


def test_run_sql_execute_of_a_void_function_it_creates() -> None:
    prelude = f"SQL = {VOID_HELPER_SQL!r}\n"
    (op,) = ops("operations = [migrations.RunSQL(SQL)]\n", prelude=prelude)
    assert op.readable is True
    assert {"polls_count", "polls_vote"} <= set(op.tables)


@pytest.mark.parametrize(
    "change",
    [
        # The helper is created elsewhere: what it returns, and so runs, is not known here.
        lambda sql: sql[sql.index("CREATE OR REPLACE FUNCTION poll_count_changed") :],
        # It returns text now: that text is run.
        lambda sql: sql.replace("RETURNS void", "RETURNS text"),
        # Created twice here, once returning text.
        lambda sql: (
            sql + "CREATE FUNCTION poll_add_count(a int) RETURNS text AS $$ $$ LANGUAGE sql;"
        ),
        # More to the command string than the call's result.
        lambda sql: sql.replace("_key, 1);", "_key, 1) || ' x';"),
        # Another number of arguments: another function (PostgreSQL overloads by arguments).
        lambda sql: sql.replace("_key, -1);", "-1);"),
        # Another schema's function of that name.
        lambda sql: sql.replace("public.poll_add_count(NEW", "audit.poll_add_count(NEW"),
    ],
)
def test_run_sql_execute_of_a_function_not_known_void(change: Callable[[str], str]) -> None:
    prelude = f"SQL = {change(VOID_HELPER_SQL)!r}\n"
    (op,) = ops("operations = [migrations.RunSQL(SQL)]\n", prelude=prelude)
    assert op.readable is False
    assert "runs SQL built at run time" in (op.note or "")


def test_execute_of_a_void_function_runs_only_the_function() -> None:
    """What the reading rests on, asked of PostgreSQL: `EXECUTE f()` of a void f runs f
    and an empty command; of a text-returning f it runs the text."""
    import psycopg

    from tests.testing.databases import pg_database

    with (
        pg_database() as db,
        psycopg.connect(
            dbname=db.name, host=db.host, port=db.port, user=db.user, autocommit=True
        ) as conn,
    ):
        conn.execute("CREATE TABLE polls_count (poll_id int, key text, count int)")
        conn.execute("CREATE TABLE polls_vote (poll_id int, results json)")
        conn.execute(VOID_HELPER_SQL)
        conn.execute("""INSERT INTO polls_vote VALUES (1, '{"a": 1, "b": 2}')""")
        rows = conn.execute("SELECT poll_id, key, count FROM polls_count ORDER BY key").fetchall()
        assert rows == [(1, "a", 1), (1, "b", 1)]
        conn.execute(
            "CREATE FUNCTION poll_sql() RETURNS text AS $$ SELECT 'DELETE FROM polls_count' $$ "
            "LANGUAGE sql; DO $$ BEGIN EXECUTE poll_sql(); END $$"
        )
        assert conn.execute("SELECT count(*) FROM polls_count").fetchone() == (0,)


def test_model_table() -> None:
    assert model_table("Polls", "UserProfile") == "polls_userprofile"


def test_parse_is_static(tmp_path: Path) -> None:
    """A migration whose module code would fail or write a file is still read."""
    marker = tmp_path / "ran"
    prelude = f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit(1)\n"
    migration = full(migration_source("operations = []\n", prelude=prelude))
    assert migration.operations == ()
    assert not marker.exists()


@pytest.mark.parametrize(
    ("prelude", "deps", "certain", "possible"),
    [
        ("BASE = [('polls', '0001_initial')]\n", "BASE", [("polls", "0001_initial")], []),
        (
            "BASE = [('polls', '0001_initial')]\nif X:\n    BASE += [('auth', '0001_initial')]\n",
            "BASE + [('shop', '0002_a')]",
            [("polls", "0001_initial"), ("shop", "0002_a")],
            [("auth", "0001_initial")],
        ),
        (
            "def deps():\n    out = [('polls', '0001_initial')]\n"
            "    out.extend([('shop', '0002_a')])\n"
            "    for extra in EXTRAS:\n        out.append(extra)\n    return out\n",
            "deps()",
            [("polls", "0001_initial"), ("shop", "0002_a")],
            [],
        ),
        (
            "def deps():\n    if X:\n        return [('orgs', '0003_x')]\n"
            "    return [('polls', '0001_initial')]\n",
            "deps()",
            [("polls", "0001_initial")],
            [("orgs", "0003_x")],
        ),
        ("A = B\nB = A\n", "A", [], []),
    ],
)
def test_dependencies_built_by_code_are_evaluated_statically(
    prelude: str, deps: str, certain: list[tuple[str, str]], possible: list[tuple[str, str]]
) -> None:
    source = migration_source(
        "operations = []\n", prelude=prelude, deps=f"    dependencies = {deps}\n"
    )
    migration = full(source)
    assert set(migration.dependencies) == {*certain, *possible}
    if possible:
        assert migration.dynamic and "only when a condition holds" in migration.dynamic
    if not certain:
        assert migration.dynamic and "assumed the previous migration" in migration.dynamic
    if certain and not possible:
        assert migration.dynamic is None or "`extra`" in migration.dynamic


class DictModules:
    """A ModuleSource over a dict of repository files (what parse asks of any source)."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.trees: dict[tuple[str, int], object] = {}
        self.asked: list[str] = []

    def find(self, importer: str, module: str, level: int) -> tuple[str, bytes] | None:
        self.asked.append(module)
        for path in module_paths(importer, module, level):
            if path in self.files:
                return path, self.files[path].encode()
        return None


def test_module_paths_follow_python_imports() -> None:
    importer = "modules/core/karrio/server/providers/migrations/0095_x.py"
    absolute = module_paths(importer, "karrio.server.core.utils", 0)
    assert absolute[:2] == ["karrio/server/core/utils.py", "karrio/server/core/utils/__init__.py"]
    assert "modules/core/karrio/server/core/utils.py" in absolute
    assert module_paths("a/b/migrations/0001_x.py", "_rbac", 1) == [
        "a/b/migrations/_rbac.py",
        "a/b/migrations/_rbac/__init__.py",
    ]
    assert module_paths("a/b/migrations/0001_x.py", "utils", 2)[0] == "a/b/utils.py"


FOLLOWED = {
    "app/migrations/_helpers.py": "from app.common import *\n",
    "app/common.py": (
        "TABLES = ('Host', 'Group')\n"
        "SQL = 'UPDATE app_job SET x = %s' % 'y'\n"
        "def fix(apps, schema_editor):\n"
        "    for name in TABLES:\n"
        "        apps.get_model('app', name)\n"
        "    inner(apps)\n"
        "def inner(apps):\n"
        "    [apps.get_model('auth', m) for m in ['User']]\n"
    ),
}


def test_imports_are_followed_statically() -> None:
    source = migration_source(
        "operations = [\n"
        "    migrations.RunPython(helpers.fix),\n"
        "    migrations.RunSQL(common.SQL),\n"
        "    migrations.RunPython(gone),\n"
        "]\n",
        prelude="from app.migrations import _helpers as helpers\nfrom app import common\n"
        "from app.missing import gone\n",
    )
    modules = DictModules(FOLLOWED)
    migration = parse_migration(
        source.encode(), app="app", name="0002_x", path="app/migrations/0002_x.py", modules=modules
    )
    assert migration.operations is not None
    fix, sql, gone = migration.operations
    assert (fix.readable, fix.reaches) == (True, ("host", "group", "auth.user"))
    assert (sql.readable, sql.tables) == (True, ("app_job",))
    assert (gone.readable, gone.note) == (
        False,
        "gone() is imported from a module that cannot be read",
    )
    # Without a source nothing is followed, and nothing is guessed.
    alone = parse_migration(source.encode(), app="app", name="0002_x", path="p")
    assert alone.operations is not None and not any(op.readable for op in alone.operations)


@pytest.mark.parametrize(
    ("body", "readable", "reaches"),
    [
        (
            "    def database_forwards(self, app_label, schema_editor, old, new):\n"
            "        new.apps.get_model('waffle', 'Flag').objects.create()\n",
            True,
            ("waffle.flag",),
        ),
        (
            "    def state_forwards(self, app_label, state):\n"
            "        state.models.pop(('app', 'x'))\n",
            False,
            (),
        ),
        (
            "    def database_forwards(self, app_label, schema_editor, old, new):\n"
            "        schema_editor.execute('DROP TABLE app_x')\n",
            False,
            (),
        ),
    ],
)
def test_custom_operations_defined_in_the_repository_are_read(
    body: str, readable: bool, reaches: tuple[str, ...]
) -> None:
    files = {
        "app/ops.py": "from django.db.migrations.operations.base import Operation\n\n"
        "class Custom(Operation):\n    def state_forwards(self, app_label, state):\n"
        "        pass\n" + body
    }
    source = migration_source("operations = [Custom()]\n", prelude="from app.ops import Custom\n")
    migration = parse_migration(
        source.encode(),
        app="app",
        name="0002_x",
        path="app/migrations/0002_x.py",
        modules=DictModules(files),
    )
    assert migration.operations is not None
    (op,) = migration.operations
    assert (op.op, op.readable, op.reaches) == ("Custom", readable, reaches)


def test_a_south_migration_is_not_a_django_migration() -> None:
    from migmerge.errors import SouthMigration

    source = (
        b"from south.v2 import SchemaMigration\n\n\nclass Migration(SchemaMigration):\n"
        b"    def forwards(self, orm):\n        print 'south'\n\n    models = {}\n"
    )
    with pytest.raises(SouthMigration):
        full(source)


@pytest.mark.parametrize(
    "refused",
    ["*a = [1]\n", "f(a=1, a=2)\n", "def f():\n    x = 1\n    global x\n", "return None\n"],
)
def test_what_only_the_compiler_refuses_is_said(refused: str) -> None:
    migration = full(migration_source("operations = []\n", prelude=refused))
    assert migration.unreadable and migration.unreadable.startswith("Python refuses it")


def test_functions_and_sql_defined_in_the_class_body_are_read() -> None:
    # arches: RunPython functions and SQL strings inside `class Migration`.
    source = migration_source(
        """\
        def forwards_func(apps, schema_editor):
            apps.get_model('polls', 'Question').objects.all()

        sql = '''UPDATE polls_choice SET votes = 0'''

        operations = [
            migrations.RunPython(forwards_func),
            migrations.RunSQL(sql),
            migrations.RunSQL('REFRESH MATERIALIZED VIEW mv_geoms;'),
        ]
        """
    )
    run, sql, refresh = full(source).operations or ()
    assert (run.readable, run.reaches) == (True, ("question",))
    assert (sql.readable, sql.tables) == (True, ("polls_choice",))
    assert (refresh.readable, refresh.tables) == (True, ())


def test_a_starred_comprehension_of_operations_is_unrolled() -> None:
    # netbox: operations = [*[migrations.AddField(model_name=m, ...) for m in MODELS], ...]
    source = migration_source(
        "operations = [\n"
        "    *[migrations.AddField(model_name=m, name='path', field=models.IntegerField())\n"
        "      for m in MODELS],\n"
        "    migrations.RemoveField('site', 'old'),\n"
        "]\n",
        prelude="MODELS = ('region', 'sitegroup')\n",
    )
    operations = full(source).operations or ()
    assert [(op.op, op.model, op.field) for op in operations] == [
        ("AddField", "region", "path"),
        ("AddField", "sitegroup", "path"),
        ("RemoveField", "site", "old"),
    ]

"""The pure clash finders: cross-app uses of what the other side took, duplicates in a line."""

from __future__ import annotations

import textwrap

from migmerge.core.clashes import SideChange, cross_app, cross_app_conflict
from migmerge.core.duplicates import Wanted, duplicate_operations, suspect, wanted_names
from migmerge.core.model import Key, Migration
from migmerge.reading.parse import parse_migration


def migration(app: str, name: str, deps: str, operations: str, code: str = "") -> Migration:
    """Parse a migration written the way makemigrations writes them."""
    body = textwrap.indent(textwrap.dedent(operations), "        ")
    source = (
        "from django.db import migrations, models\n"
        f"{textwrap.dedent(code)}\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [{deps}]\n"
        f"    operations = [\n{body}\n    ]\n"
    )
    path = f"{app}/migrations/{name}.py"
    return parse_migration(source.encode(), app=app, name=name, path=path, settings={})


DELETE_CHOICE = migration(
    "polls", "0003_delete_choice", "('polls', '0002_x')", "migrations.DeleteModel(name='Choice'),"
)
RENAME_CHOICE = migration(
    "polls",
    "0003_rename",
    "('polls', '0002_x')",
    "migrations.RenameModel(old_name='Choice', new_name='Option'),",
)
REMOVE_LABEL = migration(
    "polls",
    "0003_remove_label",
    "('polls', '0002_x')",
    "migrations.RemoveField(model_name='choice', name='label'),",
)
ITEM_FK = migration(
    "shop",
    "0002_item_choice",
    "('shop', '0001_initial'), ('polls', '0002_x')",
    """\
    migrations.AddField(
        model_name='item',
        name='choice',
        field=models.ForeignKey(on_delete=models.CASCADE, to='polls.choice'),
    ),""",
)


def local(*migrations: Migration, gone: dict[Key, str | None] | None = None) -> SideChange:
    return SideChange("local", migrations, gone or {})


def upstream(*migrations: Migration, gone: dict[Key, str | None] | None = None) -> SideChange:
    return SideChange("upstream", migrations, gone or {})


def test_a_deleted_model_used_by_a_relation_in_another_app() -> None:
    (clash,) = cross_app(local(ITEM_FK), upstream(DELETE_CHOICE))
    assert (clash.user.key, clash.user_side) == (("shop", "0002_item_choice"), "local")
    assert (clash.taker, clash.taker_side) == (("polls", "0003_delete_choice"), "upstream")
    assert [op.op for op in clash.uses] == ["AddField"]
    assert [op.op for op in clash.takes] == ["DeleteModel"]
    assert clash.reasons == (
        "shop.0002_item_choice (AddField item.choice) points a relation at model choice, "
        "deleted by DeleteModel",
    )


def test_either_side_may_take_or_use() -> None:
    (clash,) = cross_app(local(DELETE_CHOICE), upstream(ITEM_FK))
    assert (clash.user_side, clash.taker_side) == ("upstream", "local")


def test_a_renamed_model_is_gone_under_its_old_name() -> None:
    (clash,) = cross_app(local(ITEM_FK), upstream(RENAME_CHOICE))
    assert "renamed to option by RenameModel" in clash.reasons[0]


def test_the_same_app_is_left_to_the_leaves_conflict() -> None:
    polls_fk = ITEM_FK._replace(app="polls", name="0003_fk")
    assert cross_app(local(polls_fk), upstream(DELETE_CHOICE)) == []


def test_an_unrelated_model_is_no_clash() -> None:
    other = migration("polls", "0003_delete_tag", "", "migrations.DeleteModel(name='Tag'),")
    assert cross_app(local(ITEM_FK), upstream(other)) == []


def test_a_model_deleted_then_made_again_on_one_side_is_not_gone() -> None:
    again = migration(
        "polls",
        "0004_choice",
        "('polls', '0003_delete_choice')",
        "migrations.CreateModel(name='Choice', fields=[('id', models.AutoField(primary_key=1))]),",
    )
    assert cross_app(local(ITEM_FK), upstream(DELETE_CHOICE, again)) == []


def test_ordered_pairs_are_someone_s_choice() -> None:
    assert cross_app(local(ITEM_FK), upstream(DELETE_CHOICE), ordered=lambda a, b: True) == []


def test_runpython_get_model_of_a_deleted_model() -> None:
    data = migration(
        "shop",
        "0002_fill",
        "('polls', '0002_x')",
        "migrations.RunPython(fill, migrations.RunPython.noop),",
        code="""
        def fill(apps, schema_editor):
            Choice = apps.get_model("polls", "Choice")
            Choice.objects.filter(label="x").delete()
        """,
    )
    (clash,) = cross_app(local(data), upstream(DELETE_CHOICE))
    assert "reaches with get_model model choice" in clash.reasons[0]
    # A removed field the code names: it may well use it.
    (clash,) = cross_app(local(data), upstream(REMOVE_LABEL))
    assert "names field choice.label, removed by RemoveField" in clash.reasons[0]


def test_runpython_that_never_names_the_removed_field_is_no_clash() -> None:
    data = migration(
        "shop",
        "0002_count",
        "('polls', '0002_x')",
        "migrations.RunPython(count),",
        code="""
        def count(apps, schema_editor):
            print(apps.get_model("polls", "Choice").objects.count())
        """,
    )
    assert cross_app(local(data), upstream(REMOVE_LABEL)) == []


def test_to_field_names_the_field_it_points_at() -> None:
    by_label = migration(
        "shop",
        "0002_item_choice",
        "('polls', '0002_x')",
        """\
        migrations.AddField(
            model_name='item',
            name='choice',
            field=models.ForeignKey(on_delete=models.CASCADE, to='polls.choice', to_field='label'),
        ),""",
    )
    (clash,) = cross_app(local(by_label), upstream(REMOVE_LABEL))
    assert "field choice.label, removed by RemoveField" in clash.reasons[0]
    # Without to_field the relation points at the primary key: removing label is harmless.
    assert cross_app(local(ITEM_FK), upstream(REMOVE_LABEL)) == []


def test_a_dependency_on_a_migration_the_other_side_renamed() -> None:
    gone = {("polls", "0002_x"): "0003_x"}
    (clash,) = cross_app(local(ITEM_FK), upstream(gone=gone))
    assert clash.taker == ("polls", "0003_x")
    assert clash.reasons == (
        "shop.0002_item_choice depends on polls.0002_x, which the upstream side renamed to 0003_x",
    )


def test_the_conflict_names_both_migrations_and_what_must_change() -> None:
    (clash,) = cross_app(local(ITEM_FK), upstream(DELETE_CHOICE))
    conflict = cross_app_conflict(clash, "shop/migrations", DELETE_CHOICE.path)
    doc = conflict.to_json()
    assert (doc["kind"], doc["app"], doc["ancestor"], doc["strategy"]) == (
        "cross-app",
        "shop",
        None,
        None,
    )
    assert [(leaf["app"], leaf["name"], leaf["side"]) for leaf in doc["leaves"]] == [
        ("shop", "0002_item_choice", "local"),
        ("polls", "0003_delete_choice", "upstream"),
    ]
    assert doc["leaves"][1]["operations"] == [
        {"op": "DeleteModel", "model": "choice", "field": None}
    ]
    assert doc["overlap"] == "field"
    assert doc["reasons"][-1].startswith("migrate would fail: make shop.0002_item_choice stop")


# duplicates in a straight line -------------------------------------------------

AGE = "migrations.AddField(model_name='userprofile', name='age', field=models.IntegerField()),"


def chain(*migrations: Migration) -> tuple[list[Migration], object]:
    order = {m.key: i for i, m in enumerate(migrations)}
    return list(migrations), lambda a, b: order[a] <= order[b]


def test_the_same_field_added_twice_in_a_line() -> None:
    first = migration("polls", "0002_userprofile_age", "('polls', '0001')", AGE)
    second = migration("polls", "0003_age", "('polls', '0002_userprofile_age')", AGE)
    migrations, before = chain(first, second)
    (dup,) = duplicate_operations("polls", migrations, before, {second.key})  # type: ignore[arg-type]
    assert (dup.first.name, dup.second.name, dup.thing) == (
        "0002_userprofile_age",
        "0003_age",
        "field userprofile.age",
    )


def test_removed_between_is_fine() -> None:
    first = migration("polls", "0002_a", "", AGE)
    removed = migration(
        "polls", "0003_r", "", "migrations.RemoveField(model_name='userprofile', name='age'),"
    )
    again = migration("polls", "0004_a", "", AGE)
    migrations, before = chain(first, removed, again)
    assert duplicate_operations("polls", migrations, before, {again.key}) == []  # type: ignore[arg-type]


def test_parallel_adds_are_not_a_line() -> None:
    first = migration("polls", "0002_a", "", AGE)
    second = migration("polls", "0002_b", "", AGE)
    assert duplicate_operations("polls", [first, second], lambda a, b: a == b, {second.key}) == []


def test_old_history_alone_is_not_reported() -> None:
    first = migration("polls", "0002_a", "", AGE)
    second = migration("polls", "0003_b", "", AGE)
    migrations, before = chain(first, second)
    assert duplicate_operations("polls", migrations, before, set()) == []  # type: ignore[arg-type]


def test_a_model_created_twice_and_an_index_name_taken_twice() -> None:
    create = (
        "migrations.CreateModel(name='Tag', fields=[('id', models.AutoField(primary_key=True))]),"
    )
    index = (
        "migrations.AddIndex(model_name='tag', index=models.Index(fields=['id'], name='tag_idx')),"
    )
    first = migration("polls", "0002_tag", "", create + "\n" + index)
    second = migration("polls", "0003_tag", "", create + "\n" + index)
    migrations, before = chain(first, second)
    found = duplicate_operations("polls", migrations, before, {second.key})  # type: ignore[arg-type]
    assert [d.thing for d in found] == [
        "model tag",
        "field tag.id",
        "index or constraint name tag_idx",
    ]


def test_a_rename_onto_a_taken_name_and_a_renamed_model_keeps_its_fields() -> None:
    first = migration("polls", "0002_a", "", AGE)
    rename = migration(
        "polls", "0003_r", "", "migrations.RenameModel(old_name='UserProfile', new_name='Person'),"
    )
    again = migration(
        "polls",
        "0004_a",
        "",
        "migrations.AddField(model_name='person', name='age', field=models.IntegerField()),",
    )
    migrations, before = chain(first, rename, again)
    (dup,) = duplicate_operations("polls", migrations, before, {again.key})  # type: ignore[arg-type]
    assert dup.thing == "field person.age"


def test_separate_database_and_state_is_left_alone() -> None:
    first = migration("polls", "0002_a", "", AGE)
    adopt = migration(
        "polls",
        "0003_adopt",
        "",
        f"migrations.SeparateDatabaseAndState(state_operations=[{AGE}]),",
    )
    migrations, before = chain(first, adopt)
    assert duplicate_operations("polls", migrations, before, {adopt.key}) == []  # type: ignore[arg-type]


def test_the_byte_scan_looks_for_what_is_added() -> None:
    first = migration("polls", "0003_age", "", AGE)
    wanted = wanted_names([first])
    assert wanted == {"polls": Wanted(frozenset({"userprofile"}), frozenset({"age"}))}
    assert suspect(wanted["polls"], b"name='age'")
    assert suspect(wanted["polls"], b'migrations.DeleteModel(name="UserProfile")')
    # Every migration of the model names it: only those that make or unmake models count.
    assert not suspect(wanted["polls"], b"AddField(model_name='userprofile', name='x')")


def test_the_byte_scan_of_many_names_finds_what_a_search_per_name_finds() -> None:
    # Past a few names each file's quoted words are looked up in a set (a long branch
    # over a long history cost names x files); the answers must not change.
    names = frozenset({*(f"field_{n}" for n in range(50)), "odd-name", "Upper"})
    wanted = Wanted(frozenset({"thing"}), names)
    assert suspect(wanted, b"AddField(model_name='thing', name=\"field_7\")")
    assert suspect(wanted, b"AddIndex(model_name='x', index=Index(name='odd-name'))")
    assert not suspect(wanted, b"AddField(model_name='thing', name='field_70')")
    assert not suspect(wanted, b"AddField(model_name='thing', name='field_7x')")
    assert suspect(wanted, b"migrations.DeleteModel(name='Thing')")
    assert not suspect(wanted, b"migrations.AddField(model_name='thing', name='other')")

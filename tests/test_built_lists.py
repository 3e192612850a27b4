"""Lists a migration builds with a loop over literals (issue 12).

`operations = [migrations.RunSQL(...format(t)) for t in ('a', 'b')]` is the
comprehension alone (it was read only as `*[...]` inside a list), and a data
function that loops over a list it builds itself, `relations = [['Team',
...], ...]` then `for name, _ in relations: apps.get_model('shop', name)`,
names its models with that list's strings. Both were unknown.
"""

from __future__ import annotations

from migmerge.core.model import Operation
from tests.testing.projects import migration_text, only_operation


def _ops(source: str) -> tuple[Operation, ...]:
    from migmerge.reading.parse import parse_migration

    parsed = parse_migration(
        source.encode(), app="shop", name="0002_x", path="shop/migrations/0002_x.py"
    )
    assert parsed.operations is not None
    return parsed.operations


DROPS = (
    "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
    "    dependencies = [('shop', '0001_initial')]\n\n"
    "    operations = [\n"
    "        migrations.RunSQL(['DROP TABLE IF EXISTS {} CASCADE;'.format(table)])\n"
    "        for table in ('queue_message', 'queue_state')\n"
    "    ]\n"
)


def test_a_comprehension_over_literals_as_the_operations_is_one_operation_per_value() -> None:
    ops = _ops(DROPS)
    assert [(op.op, op.readable, op.tables) for op in ops] == [
        ("RunSQL", True, ("queue_message",)),
        ("RunSQL", True, ("queue_state",)),
    ]
    # over something else, it stays unknown
    (op,) = _ops(DROPS.replace("('queue_message', 'queue_state')", "settings.QUEUES"))
    assert not op.readable


FILL = """
def fill(apps, schema_editor):
    relations = [
        ['Team', apps.get_model('shop', 'TeamMembership')],
        ['Store', apps.get_model('shop', 'StoreMembership')],
    ]
    for name, membership in relations:
        model = apps.get_model('shop', name)
        for row in model.objects.all():
            membership(owner=row).save()
"""


def _fill(body: str) -> Operation:
    source = migration_text(
        "[('shop', '0001_initial')]", "migrations.RunPython(fill),", prelude=body
    )
    return only_operation(source, "shop", "0002_fill", {})


def test_a_loop_over_a_list_the_function_builds_names_its_models() -> None:
    op = _fill(FILL)
    assert op.readable
    assert sorted(op.reaches) == ["store", "storemembership", "team", "teammembership"]


def test_a_list_the_function_changes_stays_unknown() -> None:
    for change in ("    relations.append(['Secret', None])\n", "    relations = []\n"):
        body = FILL.replace("    for name, membership", change + "    for name, membership")
        assert not _fill(body).readable, change

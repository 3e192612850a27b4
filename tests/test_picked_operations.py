"""Operations a repository function picks from the lists it is given (issue 12).

A squashed migration can choose at run time which of the squashed
operations still have to run: `operations = [...] + pick(BATCHES)`, where
`pick` (a helper module of the repository) asks the migration recorder and
returns some of the lists in the literal dict BATCHES. Every conflict whose
branch held one was unknown ("operations is not a literal list"). When
every value the helper returns is drawn from what it is given, all of
BATCHES' operations are a superset of what runs, safe for overlap.
"""

from __future__ import annotations

from pathlib import Path

from migmerge.core.model import Operation
from migmerge.reading.parse import parse_migration
from tests.testing.projects import FileModules, add_field, app_files, migration_text
from tests.testing.repos import Files, assert_one_conflict, diverged

PICK = '''from itertools import chain

from django.db import connection, migrations


def _recorded():
    recorder = migrations.recorder.MigrationRecorder(connection)
    try:
        return recorder.migration_qs.filter(app="shop").latest("id").name
    except Exception:
        return None


def _split(batches):
    names = sorted(batches.keys())
    last = _recorded()
    return names, (names.index(last) + 1 if last in names else 0)


def pick(batches, done=False):
    """The batches still to run (or, done=True, those already run)."""
    names, start = _split(batches)
    chosen = names[:start] if done else names[start:]
    lists = [batches[name] for name in chosen]
    return [op for op in chain.from_iterable(lists)]
'''

BATCHES = """from django.db import migrations, models

BATCHES = {
    '0003_stock_size': [
        migrations.AddField('stock', 'size', models.IntegerField(default=0)),
    ],
    '0004_stock_weight': [
        migrations.AddField('stock', 'weight', models.IntegerField(default=0)),
        migrations.AlterField('stock', 'size', models.IntegerField(default=1)),
    ],
}
"""


def _squashed(operations: str) -> str:
    """0002_squashed, whose `operations = <operations>`."""
    return (
        "from django.db import migrations, models\n"
        "from . import _pick\n"
        "from ._batches import BATCHES\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('shop', '0001_initial')]\n\n"
        f"    operations = {operations}\n"
    )


CODE = "[" + add_field("stock", "code") + "]"
SQUASHED = _squashed(f"{CODE} + _pick.pick(BATCHES)")


def _files(pick: str = PICK, batches: str = BATCHES) -> Files:
    files = app_files("shop", "0001_initial")
    files["shop/migrations/_pick.py"] = pick
    files["shop/migrations/_batches.py"] = batches
    return files


def _ops(files: Files, source: str) -> tuple[Operation, ...]:
    path = "shop/migrations/0002_squashed.py"
    modules = FileModules(files)
    parsed = parse_migration(
        source.encode(),
        app="shop",
        name="0002_squashed",
        path=path,
        modules=modules,  # type: ignore[arg-type]
    )
    assert parsed.operations is not None
    return parsed.operations


def _fields(op: Operation) -> list[tuple[str, str | None, str | None]]:
    return [(child.op, child.model, child.field) for child in op.children]


def test_a_pick_of_the_lists_given_is_read_as_every_operation_they_hold() -> None:
    literal, picked = _ops(_files(), SQUASHED)
    assert (literal.op, literal.field) == ("AddField", "code")
    assert (picked.op, picked.readable) == ("operations", True)
    assert picked.note is not None and "_pick.pick()" in picked.note
    assert _fields(picked) == [
        ("AddField", "stock", "size"),
        ("AddField", "stock", "weight"),
        ("AlterField", "stock", "size"),
    ]
    # alone, with a keyword
    (alone,) = _ops(_files(), _squashed("_pick.pick(BATCHES, done=True)"))
    assert alone.readable and len(alone.children) == 3


def test_a_helper_that_returns_anything_else_stays_unknown() -> None:
    ret = "    return [op for op in chain.from_iterable(lists)]\n"
    helpers = [
        # it makes an operation of its own, or returns a module-level list
        PICK.replace(ret, ret.replace("return [", "return [migrations.RunSQL('x')] + [")),
        PICK.replace(ret, "    return EXTRA\n") + "\nEXTRA = []\n",
        # it returns what another function computes, or a method's result
        PICK.replace(ret, "    return _split(lists)\n"),
        PICK.replace(ret, "    return lists.copy()\n"),
        # it puts something else into what it returns
        PICK.replace(ret, "    lists.append(_recorded())\n" + ret),
        PICK.replace(ret, "    lists = _recorded()\n" + ret),
        # a nested function, a decorator, no return
        PICK.replace(ret, "    def f():\n        return lists\n" + ret),
        PICK.replace("def pick", "@cache\ndef pick"),
        PICK.replace(ret, "    print(lists)\n"),
        # a `chain` that is not itertools'
        PICK.replace("from itertools import chain", "from shop.util import chain"),
    ]
    for helper in helpers:
        (_, picked) = _ops(_files(pick=helper), SQUASHED)
        assert not picked.readable, helper
    batches = [
        # the dict is changed after it is made, or holds what is not a literal list
        BATCHES + "BATCHES['0005_more'] = [migrations.RunSQL('x')]\n",
        BATCHES + "BATCHES.update(OTHER)\n",
        BATCHES.replace("BATCHES = {", "BATCHES = {**OTHER,"),
        BATCHES.replace("'0004_stock_weight': [", "'0004_stock_weight': more() + ["),
    ]
    for batch in batches:
        (_, picked) = _ops(_files(batches=batch), SQUASHED)
        assert not picked.readable, batch


def test_a_rename_among_the_picked_operations_stays_unknown() -> None:
    rename = "        migrations.RenameField('stock', 'size', 'volume'),\n"
    batches = BATCHES.replace(
        "    '0004_stock_weight': [\n", "    '0004_stock_weight': [\n" + rename
    )
    (_, picked) = _ops(_files(batches=batches), SQUASHED)
    assert not picked.readable and picked.note is not None and "rename" in picked.note


def _conflict(root: Path, upstream_ops: str, overlap: str) -> None:
    """Local adds the picking 0002_squashed, upstream a 0002_other doing `upstream_ops`."""
    local: Files = {"shop/migrations/0002_squashed.py": SQUASHED}
    other = migration_text("[('shop', '0001_initial')]", upstream_ops)
    upstream: Files = {"shop/migrations/0002_other.py": other}
    diverged(root, _files(), local, upstream)
    assert_one_conflict(root, "shop", ["0002_other", "0002_squashed"], overlap)


def test_a_conflict_with_a_picking_squash_has_a_known_overlap(tmp_path: Path) -> None:
    _conflict(tmp_path / "repo", add_field("owner", "name"), "none")


def test_a_conflict_on_a_field_the_squash_may_add_is_a_field_clash(tmp_path: Path) -> None:
    weight = "migrations.AddField('stock', 'weight', models.CharField(max_length=9)),"
    _conflict(tmp_path / "repo", weight, "field")

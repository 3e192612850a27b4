"""A subclass of a Django operation that only silences its database side (issue 12).

Projects that move a table by raw SQL keep the migration state right with
`class FakeAddField(migrations.AddField)` whose `database_forwards` is
`pass`: the state changes as AddField's does, the database not at all. Such
a class was "a custom operation; what it touches is unknown", so every
conflict holding one was unknown. It is read as its base now; a subclass
that does anything more stays unknown.
"""

from __future__ import annotations

from pathlib import Path

from migmerge.core.model import Operation
from migmerge.reading.parse import parse_migration
from tests.testing.projects import app_files, migration_text
from tests.testing.repos import Files, assert_one_conflict, diverged

SILENT = '''

class QuietAddField(migrations.AddField):
    """The column is added by the SQL of the RunPython before it."""

    def database_forwards(self, *args):
        # left blank on purpose: raw SQL does it
        pass

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        return
'''

QUIET_OPS = (
    "QuietAddField(model_name='ledgerentry', name='posted', field=models.DateTimeField(null=True)),"
)
QUIET = migration_text("[('books', '0001_initial')]", QUIET_OPS, prelude=SILENT)


def _ops(prelude: str, ops: str = QUIET_OPS) -> tuple[Operation, ...]:
    source = migration_text("[('books', '0001_initial')]", ops, prelude=prelude)
    path = "books/migrations/0002_posted.py"
    parsed = parse_migration(source.encode(), app="books", name="0002_posted", path=path)
    assert parsed.operations is not None
    return parsed.operations


def test_a_subclass_that_only_silences_the_database_is_read_as_its_base() -> None:
    (op,) = _ops(SILENT)
    assert (op.op, op.model, op.field, op.readable) == ("AddField", "ledgerentry", "posted", True)


def test_a_subclass_that_does_more_stays_unknown() -> None:
    variants = [
        # its database side does something
        SILENT.replace("        pass\n", "        schema_editor.execute('SELECT 1')\n"),
        # it changes the state, or what its arguments mean
        SILENT + "\n    def state_forwards(self, app_label, state):\n        pass\n",
        SILENT + "\n    def __init__(self, *args):\n        super().__init__('x', 'y', None)\n",
        # a class attribute, a decorator, a second base
        SILENT + "\n    reversible = False\n",
        SILENT.replace("class QuietAddField", "@register\nclass QuietAddField"),
        SILENT.replace("(migrations.AddField)", "(migrations.AddField, Mixin)"),
        # the base is not Django's AddField
        SILENT.replace("migrations.AddField", "AddField")
        + "\n\nclass AddField(migrations.RunPython):\n    pass\n",
        SILENT.replace("migrations.AddField", "shop_ops.AddField"),
    ]
    for prelude in variants:
        if "shop_ops" in prelude:
            prelude = "from shop import operations as shop_ops\n" + prelude
        (op,) = _ops(prelude)
        assert not op.readable, prelude


def test_a_conflict_holding_a_silenced_add_field_has_a_known_overlap(tmp_path: Path) -> None:
    base = app_files("books", "0001_initial")
    deps = "[('books', '0001_initial')]"
    local: Files = {"books/migrations/0002_posted.py": QUIET}
    ops = "migrations.AddField('author', 'born', models.IntegerField(default=0)),"
    upstream: Files = {"books/migrations/0002_born.py": migration_text(deps, ops)}
    diverged(tmp_path / "repo", base, local, upstream)
    assert_one_conflict(tmp_path / "repo", "books", ["0002_born", "0002_posted"], "none")


def test_a_conflict_on_the_silenced_field_is_a_field_clash(tmp_path: Path) -> None:
    base = app_files("books", "0001_initial")
    deps = "[('books', '0001_initial')]"
    local: Files = {"books/migrations/0002_posted.py": QUIET}
    ops = "migrations.AddField('ledgerentry', 'posted', models.IntegerField(default=0)),"
    upstream: Files = {"books/migrations/0002_also.py": migration_text(deps, ops)}
    diverged(tmp_path / "repo", base, local, upstream)
    assert_one_conflict(tmp_path / "repo", "books", ["0002_also", "0002_posted"], "field")

"""Operations chosen at run time: `OPS = [...] if not FLAG else []` (issue 12).

Some projects skip a migration's operations where a setting says they were
already applied by hand: a module-level list assigned under a conditional
expression, the conditional written in the class, or an `if` statement in
the class assigning `operations` in each branch. Every conflict holding
one was `unknown` ("operations is not a literal list"). Both arms are
literal lists, so what may run is their union: a superset, safe for overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from migmerge.core.model import Migration, Operation
from migmerge.reading.parse import parse_migration
from tests.testing.projects import add_field, app_files, migration_text
from tests.testing.repos import Files, assert_one_conflict, diverged

HEADER = "from django.db import migrations, models\nfrom shop import settings\n\n"

SKIPPED = "DONE_BY_HAND = 'stock' in settings.BACKFILLED\n"


def _module(prelude: str, operations: str) -> str:
    return (
        HEADER
        + prelude
        + "\n\nclass Migration(migrations.Migration):\n"
        + "    dependencies = [('company', '0001_initial')]\n\n"
        + f"    operations = {operations}\n"
    )


def _parsed(source: str) -> Migration:
    path = "company/migrations/0002_stock.py"
    return parse_migration(source.encode(), app="company", name="0002_stock", path=path)


def _ops(source: str) -> tuple[Operation, ...]:
    parsed = _parsed(source)
    assert parsed.operations is not None
    return parsed.operations


def _stock_list(*fields: str) -> str:
    return "[" + "".join(add_field("stock", field) for field in fields) + "]"


def _named(value: str, after: str = "") -> str:
    """A module-level OPERATIONS holding `value`, then `after` (more module code)."""
    return _module(SKIPPED + f"OPERATIONS = {value}\n" + after, "OPERATIONS")


def test_a_module_level_conditional_list_is_read_as_both_arms() -> None:
    source = _named(_stock_list("size", "weight") + " if not DONE_BY_HAND else []")
    (op,) = _ops(source)
    assert (op.op, op.readable) == ("operations", True)
    assert op.note is not None and "DONE_BY_HAND" in op.note
    assert [(child.op, child.model, child.field) for child in op.children] == [
        ("AddField", "stock", "size"),
        ("AddField", "stock", "weight"),
    ]


def test_a_migration_whose_operations_are_chosen_at_run_time_is_never_deleted() -> None:
    source = _named(_stock_list("size") + " if not DONE_BY_HAND else []")
    assert _parsed(source).is_data_migration


def test_a_conditional_in_the_class_and_two_non_empty_arms() -> None:
    source = _module(SKIPPED, f"{_stock_list('size')} if DONE_BY_HAND else {_stock_list('w')}")
    (op,) = _ops(source)
    assert op.readable
    assert [child.field for child in op.children] == ["size", "w"]


def test_a_plain_module_level_list_is_read() -> None:
    assert [op.field for op in _ops(_named(_stock_list("size")))] == ["size"]


def test_what_cannot_be_read_as_both_arms_stays_unknown() -> None:
    rename = "[migrations.RenameField('stock', 'size', 'volume')]"
    sources = [
        # the list is changed after its assignment
        _named(_stock_list("size"), "OPERATIONS.append(None)\n"),
        _named(_stock_list("size"), "OPERATIONS += []\n"),
        _named(_stock_list("size"), "if DONE_BY_HAND:\n    OPERATIONS = []\n"),
        # an arm that is not a literal list, or a nested choice
        _named("build() if DONE_BY_HAND else []"),
        _named(f"[] if DONE_BY_HAND else ([] if settings.X else {_stock_list('a')})"),
        # a rename that may or may not happen changes the names after it
        _named(f"{rename} if not DONE_BY_HAND else []"),
    ]
    for source in sources:
        (op,) = _ops(source)
        assert not op.readable, source


def _conflict(root: Path, base: Files, stock: str, other: str, ops: str, overlap: str) -> None:
    """Local adds 0002_stock (source given), upstream 0002_<other> doing `ops`: one conflict."""
    local: Files = {"company/migrations/0002_stock.py": stock}
    deps = "[('company', '0001_initial')]"
    upstream: Files = {f"company/migrations/0002_{other}.py": migration_text(deps, ops)}
    diverged(root, base, local, upstream)
    assert_one_conflict(root, "company", sorted([f"0002_{other}", "0002_stock"]), overlap)


def test_a_conflict_with_a_skippable_migration_has_a_known_overlap(tmp_path: Path) -> None:
    base = app_files("company", "0001_initial")
    base["shop/__init__.py"] = ""
    base["shop/settings.py"] = "BACKFILLED = ()\n"
    stock = _named(_stock_list("size") + " if not DONE_BY_HAND else []")
    _conflict(tmp_path / "repo", base, stock, "owner", add_field("owner", "name"), "none")


def test_a_conflict_where_either_arm_touches_the_other_side_is_a_field_clash(
    tmp_path: Path,
) -> None:
    stock = _module("FLAG = False\n", f"[] if FLAG else {_stock_list('size')}")
    size = "migrations.AddField('stock', 'size', models.CharField(max_length=5)),"
    _conflict(tmp_path / "repo", app_files("company", "0001_initial"), stock, "size", size, "field")


def _in_class(branches: str) -> str:
    """A Migration class whose `operations` are assigned in an `if` statement."""
    return (
        HEADER
        + SKIPPED
        + "\n\nclass Migration(migrations.Migration):\n"
        + "    dependencies = [('company', '0001_initial')]\n\n"
        + branches
    )


def test_operations_assigned_in_an_if_statement_are_read_as_both_branches() -> None:
    sources = [
        # if / else, with a log line beside the assignment
        "    if DONE_BY_HAND:\n        operations = []\n        print('run it by hand')\n"
        f"    else:\n        operations = {_stock_list('size')}\n",
        # a plain assignment, then an `if` that may replace it
        "    operations = []\n"
        f"    if not DONE_BY_HAND:\n        operations = {_stock_list('size')}\n",
    ]
    for source in sources:
        (op,) = _ops(_in_class(source))
        assert op.readable, source
        assert [child.field for child in op.children] == ["size"], source


def test_an_if_statement_that_does_more_stays_unknown() -> None:
    sources = [
        # no value when the condition is false
        f"    if not DONE_BY_HAND:\n        operations = {_stock_list('size')}\n",
        # assigned twice in one branch, or changed beside it
        f"    if DONE_BY_HAND:\n        operations = []\n        operations = {_stock_list('a')}\n"
        "    else:\n        operations = []\n",
        f"    if DONE_BY_HAND:\n        operations = {_stock_list('a')}\n"
        "        operations.append(None)\n    else:\n        operations = []\n",
        # elif: the else branch is another `if`
        "    if DONE_BY_HAND:\n        operations = []\n"
        f"    elif settings.X:\n        operations = {_stock_list('a')}\n"
        "    else:\n        operations = []\n",
        # it also changes the dependencies
        "    if DONE_BY_HAND:\n        operations = []\n        dependencies = []\n"
        "    else:\n        operations = []\n",
    ]
    _all_unknown(sources, _in_class)


def _all_unknown(sources: list[str], where: Callable[[str], str]) -> None:
    """Each source, put `where` says, is read as one unreadable operation."""
    for source in sources:
        ops = _ops(where(source))
        assert [op.readable for op in ops] == [False], source


def _at_module_level(branches: str) -> str:
    """`operations` chosen by a module-level `if`; the class says `operations = operations`."""
    return _module(SKIPPED + branches, "operations")


def test_operations_chosen_by_a_module_level_if_statement_are_read_as_both_branches() -> None:
    sources = [
        # osf.io's shape: `if settings.FLAG: operations = [] else: operations = [...]`
        f"if DONE_BY_HAND:\n    operations = []\nelse:\n    operations = {_stock_list('size')}\n",
        # a plain assignment, then an `if` that may replace it
        f"operations = []\nif not DONE_BY_HAND:\n    operations = {_stock_list('size')}\n",
    ]
    for source in sources:
        (op,) = _ops(_at_module_level(source))
        assert (op.op, op.readable) == ("operations", True), source
        assert op.note is not None and "DONE_BY_HAND" in op.note
        assert [child.field for child in op.children] == ["size"], source


def test_a_module_level_if_statement_that_does_more_stays_unknown() -> None:
    sources = [
        # no value when the condition is false
        f"if not DONE_BY_HAND:\n    operations = {_stock_list('size')}\n",
        # elif, or a change after the choice
        "if DONE_BY_HAND:\n    operations = []\n"
        f"elif settings.X:\n    operations = {_stock_list('a')}\n"
        "else:\n    operations = []\n",
        f"if DONE_BY_HAND:\n    operations = []\nelse:\n    operations = {_stock_list('a')}\n"
        "operations.append(None)\n",
        # a rename in one branch
        "if DONE_BY_HAND:\n    operations = []\n"
        "else:\n    operations = [migrations.RenameField('stock', 'size', 'volume')]\n",
    ]
    _all_unknown(sources, _at_module_level)


def test_a_conflict_with_operations_chosen_at_module_level_has_a_known_overlap(
    tmp_path: Path,
) -> None:
    base = app_files("company", "0001_initial")
    base["shop/__init__.py"] = ""
    base["shop/settings.py"] = "BACKFILLED = ()\n"
    branches = (
        f"if DONE_BY_HAND:\n    operations = []\nelse:\n    operations = {_stock_list('size')}\n"
    )
    stock = _at_module_level(branches)
    _conflict(tmp_path / "repo", base, stock, "owner", add_field("owner", "name"), "none")

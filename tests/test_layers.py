"""The layers, held to their rule: every import points down, tests import builders one way.

`cli -> commands -> doing -> reading -> core -> errors`: a module may import
its own layer and the ones below it, never one above (a function-level
import counts too: it is the same dependency, only later). report.py and
report_branches.py are pure like core (records in, words out), which is
why commands may use them; cli, arguments and api sit on top and may import
anything. Read from the source with `ast`; nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.testing.repos import ROOT

PACKAGE = ROOT / "migmerge"

# Lowest first. errors, trace, help and the version are the floor everyone stands on.
FLOORS = {
    "__version__": 0,
    "errors": 0,
    "trace": 0,
    "help": 0,
    "core": 1,
    "report": 1,
    "report_branches": 1,
    "reading": 2,
    "doing": 3,
    "commands": 4,
}

# Upward imports still to be cut, each (importer, imported module). Empty:
# every import points down (docs/architecture.md); never grow it again.
PENDING: set[tuple[str, str]] = set()


def imported_modules(path: Path) -> set[str]:
    """Every migmerge module `path` imports, at any depth, as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            if node.module == "migmerge":  # `from migmerge import reading`
                found.update(f"migmerge.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("migmerge.")}


def floor(module: str) -> int | None:
    """The layer a dotted module name stands on; None for the top level."""
    return FLOORS.get(module.split(".")[1])


def upward_imports() -> set[tuple[str, str]]:
    """(importer, imported) for every import that points up a layer."""
    upward = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        mine = FLOORS.get(where.split("/")[0]) if "/" in where else FLOORS.get(where[:-3])
        if mine is None:
            continue  # the top level may import any layer
        for module in imported_modules(path):
            theirs = floor(module)
            if theirs is None or theirs > mine:
                upward.add((where, module))
    return upward


def test_every_import_points_down_but_the_pending_ones() -> None:
    assert upward_imports() - PENDING == set()


def test_the_pending_list_names_only_imports_still_there() -> None:
    # A cut import must leave the list, so that it cannot come back unseen.
    assert PENDING - upward_imports() == set()


def test_the_check_path_packages_have_empty_init_files() -> None:
    # Loading a layer must cost nothing: the check path's start-up budget.
    for init in sorted(PACKAGE.rglob("__init__.py")):
        if init.parent != PACKAGE:
            assert init.read_bytes() == b"", init


def test_no_test_module_imports_another_and_builders_have_one_spelling() -> None:
    tests = ROOT / "tests"
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_bytes())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert not top.startswith(("test_", "conftest")), f"{path.name} imports {name}"
                assert top not in ("helpers", "testing"), f"{path.name}: spell it tests.testing"
                assert not name.startswith("tests.") or name.startswith("tests.testing."), name


def test_the_result_memo_stamps_every_module_of_reading_and_core() -> None:
    # A remembered check is keyed by the code that derived it: a module moved
    # into reading/ or core/ (or a folder under them) must count without anyone
    # remembering to list it.
    from migmerge.reading.memo import code_stamp

    stamp = code_stamp()
    assert stamp is not None
    stamped = {part.rpartition(":")[0].rpartition(":")[0] for part in stamp.split()[1:]}
    modules = {
        path.relative_to(PACKAGE).as_posix()
        for folder in ("reading", "core")
        for path in (PACKAGE / folder).rglob("*.py")
    }
    assert "core/plans/renumber.py" in modules
    assert stamped == modules

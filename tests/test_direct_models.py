"""A RunPython that uses a model class it imports, not one taken from `apps`.

`from shop.models import Stock` and then `Stock.objects...` in a data
function reaches the stock table as surely as `apps.get_model`. It was read
as reaching nothing, so a conflict with a branch that changes Stock could
be called `none`: a wrong "no". The class of the migration's own app is
that model now; any other imported class is unknown.
"""

from __future__ import annotations

from pathlib import Path

from migmerge.core.model import Operation
from tests.testing.projects import app_files, migration_text, only_operation
from tests.testing.repos import Files, assert_one_conflict, diverged

MODELS = (
    "from django.db import models\n\n\n"
    "class Stock(models.Model):\n    size = models.IntegerField()\n"
)


def _migration(imports: str, body: str) -> str:
    code = f"{imports}\n\n\ndef fill(apps, schema_editor):\n{body}"
    return migration_text("[('shop', '0001_initial')]", "migrations.RunPython(fill),", prelude=code)


FILL = "    for stock in Stock.objects.all():\n        stock.size = 1\n        stock.save()\n"
DIRECT = _migration("from shop.models import Stock", FILL)


def _op(source: str, files: Files | None = None) -> Operation:
    return only_operation(source, "shop", "0002_fill", files or {"shop/models.py": MODELS})


def test_a_model_class_of_the_app_imported_directly_is_reached() -> None:
    op = _op(DIRECT)
    assert (op.readable, op.reaches) == (True, ("stock",))
    package = {
        "shop/models/__init__.py": "from .stock import Stock\n",
        "shop/models/stock.py": MODELS,
    }
    assert _op(DIRECT, package).reaches == ("stock",)


def test_a_contrib_model_is_reached_by_its_label() -> None:
    source = _migration(
        "from django.contrib.contenttypes.models import ContentType",
        "    ContentType.objects.filter(app_label='shop').delete()\n",
    )
    op = _op(source)
    assert (op.readable, op.reaches) == (True, ("contenttypes.contenttype",))


def test_a_model_taken_from_apps_is_not_a_direct_use() -> None:
    source = _migration(
        "from shop.models import Stock  # noqa: the historical model is used",
        "    Stock = apps.get_model('shop', 'Stock')\n" + FILL,
    )
    assert _op(source).reaches == ("stock",)


def test_another_apps_model_class_is_reached_under_its_folders_label() -> None:
    invoice = "from django.db import models\n\n\nclass Invoice(models.Model):\n    pass\n"
    source = _migration(
        "from billing.models import Invoice", "    Invoice.objects.all().delete()\n"
    )
    op = _op(source, {"billing/models.py": invoice})
    assert (op.readable, op.reaches) == (True, ("billing.invoice",))


def test_a_name_from_a_models_module_is_that_model_wherever_the_module_is() -> None:
    # a package not in the tree (a third-party app), an import inside the function
    flags = _migration(
        "from flags.models import Flag", "    Flag.objects.filter(name='x').delete()\n"
    )
    assert _op(flags, {"x.py": ""}).reaches == ("flags.flag",)
    inner = _migration(
        "", "    from shop.models import Stock as Found\n" + FILL.replace("Stock", "Found")
    )
    assert _op(inner).reaches == ("stock",)
    relative = _migration("from ..models import Stock", FILL)
    assert _op(relative, {"x.py": ""}).reaches == ("stock",)


def test_a_module_level_get_model_is_that_model() -> None:
    got = "from django.apps import apps as registry\n\nStock = registry.get_model('shop', 'Stock')"
    assert _op(_migration(got, FILL), {"x.py": ""}).reaches == ("stock",)
    dynamic = got.replace("'shop', 'Stock'", "'shop', NAME")
    assert not _op(_migration(dynamic, FILL), {"x.py": ""}).readable


def test_a_model_class_that_cannot_be_placed_is_unknown() -> None:
    sources = [
        # a module that is not in the tree, and no models module
        (_migration("from vendor import Stock", FILL), {}),
        # a class that is no models module's
        (_migration("from shop.helpers import Stock", FILL), {"shop/helpers.py": MODELS}),
    ]
    for source, files in sources:
        op = _op(source, files or {"x.py": ""})
        assert not op.readable, source
        assert op.note is not None and "not taken from apps" in op.note


def test_a_conflict_with_a_branch_that_changes_the_model_is_not_none(tmp_path: Path) -> None:
    base = app_files("shop", "0001_initial")
    base["shop/models.py"] = MODELS
    local: Files = {"shop/migrations/0002_fill.py": DIRECT}
    remove = "migrations.RemoveField('stock', 'size'),"
    upstream: Files = {
        "shop/migrations/0002_drop_size.py": migration_text("[('shop', '0001_initial')]", remove)
    }
    diverged(tmp_path / "repo", base, local, upstream)
    assert_one_conflict(tmp_path / "repo", "shop", ["0002_drop_size", "0002_fill"], "model")

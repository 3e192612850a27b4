"""RunPython that calls a method of a repository class: `Model.setup_defaults(apps)` (issue 12).

awx's data migrations call a classmethod of one of its models, imported
through the models package's `__init__`, handing it `apps`; the classmethod
takes its model with `apps.get_model(...)`. Every conflict holding one was
`unknown` ("imported from a module that cannot be read").
"""

from __future__ import annotations

from pathlib import Path

from migmerge.core.model import Operation
from tests.testing.projects import add_field, app_files, migration_text, only_operation
from tests.testing.repos import Files, assert_one_conflict, diverged

PACKAGE = "from shop.models.tier import Tier, TierKind  # noqa\n"

TIER = """\
from django.db import models


class Base(models.Model):
    @classmethod
    def inherited(cls, apps):
        apps.get_model('company', 'Secret')


class Tier(Base):
    name = models.CharField(max_length=20)

    @classmethod
    def setup_defaults(cls, apps=None):
        model = apps.get_model('company', 'Tier') if apps is not None else Tier
        for name in ('gold', 'silver'):
            model.objects.get_or_create(name=name)
        cls._link(apps, 'Band')

    @staticmethod
    def _link(apps, model_name):
        apps.get_model('company', model_name).objects.all().delete()

    @property
    def label(self):
        return self.name

    @classmethod
    def through_parent(cls, apps):
        cls.inherited(apps)


class TierKind(models.Model):
    pass
"""

IMPORTS = "from shop.models import Tier"


def _body(call: str) -> str:
    return f"def seed(apps, schema_editor):\n    {call}\n"


def _migration(call: str) -> str:
    return migration_text(
        "[('company', '0001_initial')]",
        "migrations.RunPython(seed, migrations.RunPython.noop),",
        prelude=IMPORTS + "\n\n" + _body(call),
    )


def _reach(call: str) -> Operation:
    files = {"shop/models/__init__.py": PACKAGE, "shop/models/tier.py": TIER}
    return only_operation(_migration(call), "company", "0002_seed", files)


def test_a_classmethod_of_a_re_exported_model_is_followed() -> None:
    op = _reach("Tier.setup_defaults(apps)")
    assert (op.op, op.readable, op.note) == ("RunPython", True, None)
    # Its own get_model, and the staticmethod it calls through `cls` with a string.
    assert set(op.reaches) == {"tier", "band"}


def test_a_method_the_class_does_not_define_itself_stays_unknown() -> None:
    for call in ("Tier.inherited(apps)", "Tier.label(apps)", "Tier.through_parent(apps)"):
        op = _reach(call)
        assert not op.readable, call
        assert op.note is not None and "passes apps to" in op.note, (call, op.note)


def test_a_conflict_calling_a_model_classmethod_has_a_known_overlap(tmp_path: Path) -> None:
    base = app_files("company", "0001_initial")
    base["shop/__init__.py"] = ""
    base["shop/models/__init__.py"] = PACKAGE
    base["shop/models/tier.py"] = TIER
    local: Files = {
        "company/migrations/0002_seed.py": _migration("Tier.setup_defaults(apps)"),
    }
    upstream: Files = {
        "company/migrations/0002_owner.py": migration_text(
            "[('company', '0001_initial')]", add_field("company", "owner")
        ),
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    assert_one_conflict(root, "company", ["0002_owner", "0002_seed"], "none")

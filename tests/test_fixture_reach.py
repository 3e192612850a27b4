"""RunPython that loads a Django fixture file: the models its records name (issue 12).

data-hub-api's data migrations call a helper of theirs,
`load_yaml_data_in_migration(apps, PurePath(__file__).parent / "0020_x.yaml")`,
which reads the YAML and calls `apps.get_model(item["model"])` per record;
every conflict holding one was `unknown`. Django's own
`call_command("loaddata", path)` was read as reaching nothing at all.
"""

from __future__ import annotations

from pathlib import Path

from migmerge.core.model import Operation
from tests.testing.projects import add_field, app_files, migration_text, only_operation
from tests.testing.repos import Files, assert_one_conflict, diverged

LOADER = """\
import yaml
from django.db import transaction


def _load(apps, records):
    for item in records:
        label = item["model"]
        model = apps.get_model(label)
        model.objects.update_or_create(pk=item["pk"], defaults=item["fields"])


@transaction.atomic
def load_yaml_data_in_migration(apps, fixture_file_path):
    with open(fixture_file_path, "rb") as fixture:
        _load(apps, yaml.safe_load(fixture))
"""

TIERS = """\
- model: company.onelisttier
  pk: b91bf800-8d53-e311-aef3-441ea13961e2
  fields:
    name: Tier A
- model: company.onelisttier
  pk: 7e0c261a-d447-e411-985c-e4115bead28a
  fields:
    name: Tier B
- model: metadata.sector
  pk: 1
  fields:
    name: Aerospace
"""

IMPORTS = (
    "from pathlib import PurePath\nfrom proj.migration_utils import load_yaml_data_in_migration"
)
USES_LOADER = """\
def load_tiers(apps, schema_editor):
    load_yaml_data_in_migration(apps, PurePath(__file__).parent / '0002_tiers.yaml')
"""


def _reach(migration: str, files: dict[str, str]) -> Operation:
    return only_operation(migration, "company", "0002_tiers", files)


def _loading(body: str, prelude: str) -> str:
    return migration_text(
        "[('company', '0001_initial')]",
        "migrations.RunPython(load_tiers, migrations.RunPython.noop),",
        prelude=prelude + "\n\n" + body,
    )


def test_a_helper_loading_a_yaml_fixture_reaches_the_models_of_its_records() -> None:
    migration = _loading(USES_LOADER, IMPORTS)
    files = {"proj/migration_utils.py": LOADER, "company/migrations/0002_tiers.yaml": TIERS}
    op = _reach(migration, files)
    assert (op.op, op.readable, op.note) == ("RunPython", True, None)
    assert set(op.reaches) == {"onelisttier", "metadata.sector"}
    # Without the file (or with a record that names no model), what it loads is unknown.
    del files["company/migrations/0002_tiers.yaml"]
    assert not _reach(migration, files).readable
    files["company/migrations/0002_tiers.yaml"] = TIERS.replace(
        "- model: metadata.sector", "- pk: 2"
    )
    op = _reach(migration, files)
    assert not op.readable and op.note is not None and "non-literal" in op.note


def test_loaddata_reaches_the_models_of_its_fixture_and_other_commands_any() -> None:
    fixture = '[{"model": "company.onelisttier", "pk": 1, "fields": {"name": "A"}}]'
    loaddata = (
        "def load_tiers(apps, schema_editor):\n"
        "    call_command('loaddata', os.path.join(os.path.dirname(__file__), 'tiers.json'))\n"
    )
    prelude = "import os\nfrom django.core.management import call_command"
    files = {"company/migrations/tiers.json": fixture}
    op = _reach(_loading(loaddata, prelude), files)
    assert (op.readable, op.reaches) == (True, ("onelisttier",))
    by_name = loaddata.replace(
        "os.path.join(os.path.dirname(__file__), 'tiers.json')", "'initial_tiers'"
    )
    op = _reach(_loading(by_name, prelude), files)
    assert not op.readable
    assert op.note == "load_tiers() loads a fixture that cannot be read (`'initial_tiers'`)"
    other = "def load_tiers(apps, schema_editor):\n    call_command('update_index')\n"
    op = _reach(_loading(other, prelude), files)
    assert not op.readable
    assert op.note == "load_tiers() calls call_command('update_index'), which may reach any model"


def test_a_conflict_loading_fixtures_has_a_known_overlap(tmp_path: Path) -> None:
    base = app_files("company", "0001_initial")
    base["proj/__init__.py"] = ""
    base["proj/migration_utils.py"] = LOADER
    local: Files = {
        "company/migrations/0002_tiers.yaml": TIERS,
        "company/migrations/0002_tiers.py": _loading(USES_LOADER, IMPORTS),
    }
    upstream: Files = {
        "company/migrations/0002_owner.py": migration_text(
            "[('company', '0001_initial')]", add_field("company", "owner")
        ),
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    assert_one_conflict(root, "company", ["0002_owner", "0002_tiers"], "none")

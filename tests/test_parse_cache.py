"""The cache of whole parses: a conflicting branch read once, believed only while it holds.

Real git and the real command line. `--verbose` says how many of a run's
whole parses came from the cache and how many were made; the JSON report is
compared with a run that has no cache at all, so a hit that read differently
from a parse would show.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.testing.projects import add_field, app_files, migration_text
from tests.testing.repos import Files, commit_all, diverged, git, run_migmerge

HELPER = """\
def seed(apps, schema_editor):
    apps.get_model('company', 'Tier').objects.all().delete()
"""

# Python parses it, its compiler refuses it: Django could not import it.
REFUSED = migration_text(
    "[('company', '0002_seed')]",
    add_field("tier", "refused"),
    prelude="from __future__ import braces",
)


def _seed(module: str, after: str) -> str:
    return migration_text(
        f"[('company', {after!r})]",
        "migrations.RunPython(seed, migrations.RunPython.noop),",
        prelude=f"from company.{module} import seed",
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """company forked: local seeds Tier through a helper module (and adds a file Python
    refuses), upstream adds a field to Tier."""
    base = app_files("company", "0001_initial")
    base["company/helpers.py"] = HELPER
    local: Files = {
        "company/migrations/0002_seed.py": _seed("helpers", "0001_initial"),
        "company/migrations/0003_refused.py": REFUSED,
        # company.later: a module nobody wrote yet.
        "company/migrations/0004_later.py": _seed("later", "0003_refused"),
    }
    upstream: Files = {
        "company/migrations/0002_owner.py": migration_text(
            "[('company', '0001_initial')]", add_field("tier", "owner")
        ),
    }
    return diverged(tmp_path / "repo", base, local, upstream)


def check(root: Path, **env: str) -> tuple[dict, tuple[int, int]]:  # type: ignore[type-arg]
    """`check --against main`: its JSON, and (parses from the cache, parses made)."""
    for memo in cache_files("graph"):
        memo.unlink()  # the tree's remembered result would skip the conflict's reading
    proc = run_migmerge(
        root, "check", "--against", "main", "--format", "json", "--verbose", env=env
    )
    assert proc.returncode == 1, proc.stderr
    found = re.search(r"whole parses: (\d+) from the cache, (\d+) made now", proc.stderr)
    assert found, proc.stderr
    return json.loads(proc.stdout), (int(found.group(1)), int(found.group(2)))


def uncached(root: Path) -> dict:  # type: ignore[type-arg]
    return check(root, MIGMERGE_NO_CACHE="1")[0]


def cache_files(kind: str = "parses") -> list[Path]:
    folder = Path(os.environ["HOME"]) / ".cache" / "migmerge"
    return sorted(folder.glob(f"{kind}-*")) if folder.is_dir() else []


def reaches(doc: dict) -> dict[str, list[list[str]]]:  # type: ignore[type-arg]
    (conflict,) = doc["conflicts"]
    return {
        leaf["name"]: [op.get("reaches", []) for op in leaf["operations"]]
        for leaf in conflict["leaves"]
    }


def refusals(doc: dict) -> list[str]:  # type: ignore[type-arg]
    return [w["path"] for w in doc["warnings"] if "Python refuses it" in w["message"]]


def test_a_cache_hit_reads_as_the_parse_did(repo: Path) -> None:
    first, counts = check(repo)
    assert counts == (0, 4)  # the three local migrations and upstream's
    assert len(cache_files()) == 1
    second, counts = check(repo)
    assert counts == (4, 0)
    assert second == first == uncached(repo)
    # What the helper's code reaches, read on the first run, is still there.
    assert reaches(second)["0004_later"] == [["tier"], [], []]
    # A file Python refuses is said on every run, the cached ones too.
    assert refusals(second) == ["company/migrations/0003_refused.py"]


def test_an_edited_followed_module_is_a_miss(repo: Path) -> None:
    check(repo)
    (repo / "company" / "helpers.py").write_text(HELPER.replace("'Tier'", "'Band'"))
    commit_all(repo, "the helper seeds Band")
    doc, counts = check(repo)
    assert counts == (3, 1)  # 0002_seed follows helpers.py: parsed again
    assert reaches(doc)["0004_later"][0] == ["band"]
    assert doc == uncached(repo)


def test_a_module_added_where_an_import_found_none_is_a_miss(repo: Path) -> None:
    before, _ = check(repo)
    (leaf,) = [leaf for leaf in before["conflicts"][0]["leaves"] if leaf["name"] == "0004_later"]
    assert leaf["operations"][2].get("readable") is False  # company.later does not exist yet
    (repo / "company" / "later.py").write_text(HELPER)
    commit_all(repo, "the later helper")
    after, counts = check(repo)
    assert counts == (3, 1)
    assert after == uncached(repo) != before


def test_a_damaged_cache_is_a_miss_and_rewritten(repo: Path) -> None:
    first, _ = check(repo)
    (cache,) = cache_files()
    data = cache.read_bytes()
    # Hand-edit what the helper's code reaches: the checksum no longer holds.
    assert data.count(b"tier") >= 1
    cache.write_bytes(data.replace(b"tier", b"band"))
    second, counts = check(repo)
    assert counts == (0, 4)
    assert second == first
    cache.write_bytes(b"\x00not marshal")
    third, counts = check(repo)
    assert counts == (0, 4) and third == first
    assert check(repo)[1] == (4, 0)


def test_an_entry_of_the_wrong_shape_is_a_miss_not_a_crash(repo: Path) -> None:
    from migmerge.reading import cache as cache_module

    first, _ = check(repo)
    (cache,) = cache_files()
    entries = cache_module._load(cache)
    assert isinstance(entries, dict)
    keys = [key for key in entries if key]
    lies = [
        ((), (1, 2, 3)),  # not a record
        ((("x", "y", "z"),), entries[keys[0]][1]),  # a question that is none
        ((), entries[keys[0]][1][:4] + ((("AddField", None),),) + entries[keys[0]][1][5:]),
        ((), (((("a", 1),),),) + entries[keys[0]][1][1:]),  # a dependency not two names
    ]
    for lie in lies:
        cache_module._write(cache, {**entries, **{key: lie for key in keys}})
        second, counts = check(repo)
        assert counts == (0, 4), lie
        assert second == first


def test_another_code_stamp_is_a_miss(repo: Path) -> None:
    from migmerge.reading import cache as cache_module

    first, _ = check(repo)
    (cache,) = cache_files()
    entries = cache_module._load(cache)
    entries[""] = "an older migmerge"
    cache_module._write(cache, entries)
    second, counts = check(repo)
    assert counts == (0, 4) and second == first


def test_a_merge_just_made_takes_the_same_parses(repo: Path) -> None:
    # After `git merge`, check reads the merged tree, not a prediction: the same
    # blobs, so the --against run's parses serve it.
    check(repo)
    git(repo, "merge", "-q", "--no-edit", "main")
    proc = run_migmerge(repo, "check", "--format", "json", "--verbose")
    assert proc.returncode == 1, proc.stderr
    assert "whole parses: 4 from the cache, 0 made now" in proc.stderr
    assert refusals(json.loads(proc.stdout)) == ["company/migrations/0003_refused.py"]


RICH = """\
from django.db import migrations, models
import django.db.models.deletion


def forwards(apps, schema_editor):
    apps.get_model("company", "Tier").objects.filter(name__startswith="x").update(rank=2)


class Migration(migrations.Migration):
    initial = True
    dependencies = [("company", "0001_initial"), migrations.swappable_dependency("AUTH_USER_MODEL")]
    replaces = [("company", "0002_old")]
    operations = [
        migrations.CreateModel(
            name="Band",
            fields=[
                ("id", models.AutoField(primary_key=True)),
                (
                    "tier",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        to="company.tier",
                        to_field="code",
                    ),
                ),
            ],
            options={"ordering": ["id"], "db_table": "bands"},
        ),
        migrations.AddIndex("band", models.Index(fields=["tier"], name="band_tier_idx")),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField("tier", "old")],
            database_operations=[migrations.RunSQL("ALTER TABLE company_tier DROP COLUMN old")],
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RunSQL(SOME_SQL),
        Unknown("x"),
    ]
"""


def test_a_record_decodes_to_the_very_migration_that_was_parsed() -> None:
    from migmerge.errors import NotAMigration
    from migmerge.reading import parse
    from migmerge.reading.parsed import decode, encode

    for source in (
        RICH,
        REFUSED,
        "class Migration(:\n",
        "not a migration = 1\nclass Migration: x =",
    ):
        try:
            migration = parse.parse_migration(
                source.encode(), app="company", name="0003_x", path="company/migrations/0003_x.py"
            )
        except NotAMigration:
            continue  # nothing to keep
        assert decode(encode(migration), "company", "0003_x", migration.path) == migration
    rich = parse.parse_migration(RICH.encode(), app="company", name="0003_x", path="x.py")
    ops = rich.operations or ()
    assert any(op.children for op in ops) and any(op.tables for op in ops)
    assert any(op.reaches for op in ops) and any(not op.readable for op in ops)


SQL_FROM_SETTINGS = migration_text(
    "[('company', '0001_initial')]",
    "migrations.RunSQL('UPDATE \"{}\" SET rank = 0'.format(settings.SEEDED_TABLE)),",
    prelude="from django.conf import settings\n",
)
SETTINGS = "INSTALLED_APPS = ['company']\nSEEDED_TABLE = 'company_tier'\n"


def test_a_setting_the_sql_reads_is_asked_again(tmp_path: Path) -> None:
    # The table comes from every settings module of the tree: a value edited,
    # or a settings module added, is a new answer, so the parse is made again.
    base = app_files("company", "0001_initial")
    base["site/__init__.py"] = ""
    base["site/settings.py"] = SETTINGS
    local: Files = {"company/migrations/0002_sql.py": SQL_FROM_SETTINGS}
    upstream: Files = {
        "company/migrations/0002_owner.py": migration_text(
            "[('company', '0001_initial')]", add_field("tier", "owner")
        ),
    }
    repo = diverged(tmp_path / "repo", base, local, upstream)
    first, counts = check(repo)
    assert counts == (0, 3)  # both sides, and the history (the SQL names a table)
    assert check(repo) == (first, (3, 0))
    (repo / "site" / "settings.py").write_text(SETTINGS.replace("company_tier", "company_band"))
    commit_all(repo, "another table")
    edited, counts = check(repo)
    assert counts == (2, 1)
    assert edited == uncached(repo) != first
    (repo / "site" / "other_settings.py").write_text(SETTINGS)  # disagrees: unknown again
    commit_all(repo, "a second settings module")
    added, counts = check(repo)
    assert counts == (1, 1)  # the table unknown now: no history to read
    assert added == uncached(repo) != edited

"""Migrations git left with conflict markers: never a leaf that no side has (issue 12).

arches 61aa4f5633: both sides changed one migration's dependencies, and the
fallback reader lost them all, so each side's parent became a leaf of its
own. awx 92df6b0fb2: both sides renamed one migration (git's rename/rename)
and edited its dependencies; git wrote the conflicted text, eight-character
markers, under both names.
"""

from __future__ import annotations

from pathlib import Path

from migmerge.reading.parse import parse_migration, read_header
from tests.testing.projects import add_field, app_files, migration_text
from tests.testing.repos import Files, conflict_leaves, diverged, git, replays

MARKED = b"""\
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
<<<<<<< HEAD
        ("models", "0002_languages"),
||||||| merged common ancestors
        ("models", "0001_initial"),
=======
        ("models", "0003_bulk_load"),
>>>>>>> 1452428
    ]

    operations = [
        migrations.RunSQL("UPDATE graphs SET isactive = true"),
    ]
"""


def _read(source: bytes):  # type: ignore[no-untyped-def]
    return parse_migration(source, app="models", name="0004_settings", path="m/0004_settings.py")


def test_the_dependencies_of_both_sides_are_read_and_the_base_is_not() -> None:
    migration = _read(MARKED)
    assert migration.dependencies == (("models", "0002_languages"), ("models", "0003_bulk_load"))
    assert migration.unreadable is not None
    assert "both sides' lines of its merge conflict markers (line 7)" in migration.unreadable
    # The markers are outside `operations`: what it does is known.
    assert migration.operations is not None
    assert [(o.op, o.readable, o.tables) for o in migration.operations] == [
        ("RunSQL", True, ("graphs",))
    ]
    header = read_header(MARKED, app="models", name="0004_settings", path="p")
    assert header.dependencies == migration.dependencies


def test_a_conflict_around_whole_assignments_joins_them() -> None:
    # One-line lists: the markers hold two assignments, Python would keep the last.
    # Eight-character markers with paths: git's rename/rename.
    source = b"""\
from django.db import migrations


class Migration(migrations.Migration):

<<<<<<<< HEAD:m/0009_old.py
    dependencies = [("models", "0002_languages")]
||||||||
    dependencies = []
========
    dependencies = [("models", "0003_bulk_load")]
>>>>>>>> 1452428:m/0004_settings.py

    operations = []
"""
    migration = _read(source)
    assert migration.dependencies == (("models", "0002_languages"), ("models", "0003_bulk_load"))
    assert migration.operations == ()


def test_operations_the_markers_cut_into_are_unknown() -> None:
    source = MARKED.replace(
        b'        migrations.RunSQL("UPDATE graphs SET isactive = true"),\n',
        b"<<<<<<< HEAD\n"
        b'        migrations.RunSQL("UPDATE graphs SET isactive = true"),\n'
        b"=======\n"
        b"        migrations.RemoveField('graph', 'isactive'),\n"
        b">>>>>>> 1452428\n",
    )
    migration = _read(source)
    assert migration.operations is not None
    *read, cut = migration.operations
    assert [o.op for o in read] == ["RunSQL", "RemoveField"]
    assert (cut.readable, cut.note) == (False, "line 17 holds merge conflict markers")


def _deps(*names: str) -> str:
    """A dependency list as makemigrations writes it: one pair a line."""
    return "[\n" + "".join(f"        ('models', {n!r}),\n" for n in names) + "    ]"


def test_a_migration_both_sides_changed_is_read_as_upstream_has_it(tmp_path: Path) -> None:
    # arches: the branch hooked a shared migration after its own, upstream after its own.
    base = app_files("models", "0001_initial")
    settings = "models/migrations/0002_settings.py"
    base[settings] = migration_text(_deps("0001_initial"), add_field("graph", "active"))
    base["models/migrations/0003_publications.py"] = migration_text(_deps("0002_settings"))
    local: Files = {
        "models/migrations/0004_languages.py": migration_text(_deps("0001_initial")),
        settings: migration_text(_deps("0004_languages"), add_field("graph", "active")),
    }
    upstream: Files = {
        "models/migrations/0005_bulk_load.py": migration_text(_deps("0001_initial")),
        settings: migration_text(_deps("0005_bulk_load"), add_field("graph", "active")),
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    for merging, (code, doc, stderr) in enumerate(replays(root)):
        assert code == 1, stderr
        # Upstream's version (what the merge predicts): the branch's own migration is
        # the second leaf; never upstream's 0005_bulk_load, which settings depends on.
        assert conflict_leaves(doc) == {"models": ["0003_publications", "0004_languages"]}
        marked = [w for w in doc["warnings"] if w["kind"] == "conflict-markers"]  # type: ignore[attr-defined]
        if merging:
            assert b"<<<<<<<" in (root / settings).read_bytes()
            assert [w["path"] for w in marked] == [settings]
            upstreams = "migmerge reads upstream's side of each conflict"
            assert upstreams in marked[0]["message"]
        else:
            assert marked == []
    # Resolved on disk but not yet added: the file as it is now is read.
    (root / settings).write_text(
        migration_text(_deps("0004_languages", "0005_bulk_load"), add_field("graph", "active"))
    )
    code, doc, _ = replays_now(root)
    assert code == 0 and doc["conflicts"] == []


def test_what_git_merged_cleanly_in_a_conflicted_migration_is_kept(tmp_path: Path) -> None:
    # awx 5741b47c54: the branch rewired a migration both sides changed; git merged that
    # part cleanly and left markers elsewhere in the file. Upstream's blob whole would
    # drop the branch's dependency and make the branch's parent a leaf of its own.
    base = app_files("models", "0001_initial")
    settings = "models/migrations/0002_settings.py"
    mine, theirs = add_field("graph", "mine"), add_field("graph", "theirs")
    base[settings] = migration_text(_deps("0001_initial"), add_field("graph", "active"))
    base["models/migrations/0003_publications.py"] = migration_text(_deps("0002_settings"))
    local: Files = {
        "models/migrations/0004_languages.py": migration_text(_deps("0001_initial")),
        settings: migration_text(_deps("0004_languages"), mine),
    }
    upstream: Files = {
        "models/migrations/0005_bulk_load.py": migration_text(_deps("0001_initial")),
        settings: migration_text(_deps("0001_initial"), theirs),
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    git(root, "merge", "--no-commit", "--no-ff", "-q", "main", check=False)
    text = (root / settings).read_text()
    assert "<<<<<<<" in text and "('models', '0004_languages')" in text.split("<<<<<<<")[0]
    code, doc, stderr = replays_now(root)
    assert code == 1, stderr
    assert conflict_leaves(doc) == {"models": ["0003_publications", "0005_bulk_load"]}
    (conflict,) = doc["conflicts"]  # type: ignore[misc]
    # Upstream's side of the conflict: its AddField, not the branch's.
    operations = [op for leaf in conflict["leaves"] for op in leaf["operations"]]
    fields = {(op["model"], op["field"]) for op in operations}
    assert ("graph", "theirs") in fields and ("graph", "mine") not in fields


def replays_now(root: Path) -> tuple[int, dict[str, object], str]:
    """`check` during the merge under way."""
    import json

    from tests.testing.repos import run_migmerge

    proc = run_migmerge(root, "check", "--format", "json")
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def test_a_migration_both_sides_renamed_and_edited_adds_no_leaf(tmp_path: Path) -> None:
    # awx: git's rename/rename leaves the conflicted text under both new names.
    body = "".join(add_field("thing", f"f{i}") for i in range(8))
    base = app_files("models", "0001_initial")
    base["models/migrations/0002_changes.py"] = migration_text(_deps("0001_initial"), body)
    local: Files = {
        "models/migrations/0002_flag.py": migration_text(_deps("0001_initial")),
        "models/migrations/0003_rbac.py": migration_text(_deps("0002_flag")),
        "models/migrations/0004_changes.py": migration_text(_deps("0003_rbac"), body),
    }
    upstream: Files = {
        "models/migrations/0002_base.py": migration_text(_deps("0001_initial")),
        "models/migrations/0003_facts.py": migration_text(_deps("0002_base"), body),
        "models/migrations/0004_jobs.py": migration_text(_deps("0003_facts")),
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    git(root, "rm", "-q", "models/migrations/0002_changes.py")
    git(root, "commit", "-q", "-m", "renamed")
    git(root, "checkout", "-q", "main")
    git(root, "rm", "-q", "models/migrations/0002_changes.py")
    git(root, "commit", "-q", "-m", "renamed")
    git(root, "checkout", "-q", "feature")
    for merging, (code, doc, stderr) in enumerate(replays(root)):
        assert code == 1, stderr
        assert conflict_leaves(doc) == {"models": ["0004_changes", "0004_jobs"]}
        if merging:
            text = (root / "models/migrations/0003_facts.py").read_bytes()
            assert b"<<<<<<<<" in text  # git's rename/rename markers: eight characters

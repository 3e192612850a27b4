"""condo's kmigrator migrations end to end: real git repositories holding `.js` files.

The files are written by the tests in kmigrator's format (tests.testing.kmigrator):
each `// KMIGRATOR:<name>:<base64>` line a Django migration of `_django_schema`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.testing.databases import PG_SERVER, pg_database
from tests.testing.kmigrator import (
    KM_DIR,
    condo_repo,
    condo_with_kmigrator,
    km_add_field,
    km_create_model,
    km_file,
    km_source,
    run_kmigrator,
    write_km,
)
from tests.testing.repos import commit_all, git, run_migmerge


def check_json(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Run `migmerge check --format json`; return the exit code and the document."""
    proc = run_migmerge(root, "check", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    document: dict[str, Any] = json.loads(proc.stdout)
    return proc.returncode, document


def forked(
    tmp_path: Path,
    *,
    merge: bool = True,
    upstream: tuple[str, str] = ("0003_ticket_size", km_add_field("ticket", "size")),
) -> Path:
    """condo: feature adds 0003_ticket_color, main adds `upstream`; feature merges main."""
    root = condo_repo(tmp_path / "condo")
    color = km_add_field("ticket", "color")
    git(root, "checkout", "-q", "-b", "feature")
    write_km(root, "20240110000000", "0003_ticket_color", "0002_ticket_kind", operations=color)
    commit_all(root, "color")
    git(root, "checkout", "-q", "main")
    name, operations = upstream
    write_km(root, "20240105000000", name, "0002_ticket_kind", operations=operations)
    commit_all(root, "upstream")
    git(root, "checkout", "-q", "feature")
    if merge:
        git(root, "merge", "-q", "main", "-m", "merge main")
    return root


def leaves(document: dict[str, Any], app: str = "condo") -> dict[str, dict[str, Any]]:
    (conflict,) = [c for c in document["conflicts"] if c["app"] == app]
    return {leaf["name"]: leaf for leaf in conflict["leaves"]}


# --- check -------------------------------------------------------------------------


def test_a_clean_condo_tree_has_no_conflict(tmp_path: Path) -> None:
    root = condo_repo(tmp_path / "condo")
    code, document = check_json(root)
    assert code == 0
    assert document["conflicts"] == [] and document["warnings"] == []


def test_two_files_with_the_same_number_on_both_sides_conflict(tmp_path: Path) -> None:
    root = forked(tmp_path)
    code, document = check_json(root)
    assert code == 1
    (conflict,) = document["conflicts"]
    assert conflict["app"] == "condo" and conflict["directory"] == KM_DIR
    assert conflict["ancestor"] == "0002_ticket_kind"
    found = leaves(document)
    assert sorted(found) == ["0003_ticket_color", "0003_ticket_size"]
    color, size = found["0003_ticket_color"], found["0003_ticket_size"]
    assert color["path"] == f"{KM_DIR}/20240110000000-0003_ticket_color.js"
    assert (color["side"], size["side"]) == ("local", "upstream")
    assert color["operations"] == [{"op": "AddField", "model": "ticket", "field": "color"}]
    assert conflict["overlap"] == "model"  # one model, different fields
    assert (color["applied"], conflict["strategy"]) == (None, "merge")  # possibly applied
    (unknown,) = document["warnings"]
    assert unknown["kind"] == "applied-unknown"
    assert "no DATABASE_URL in the environment, apps/condo/.env or .env" in unknown["message"]
    assert "set DATABASE_URL" in unknown["message"]


def test_overlap_is_classified_from_the_decoded_operations(tmp_path: Path) -> None:
    color = km_add_field("ticket", "color", "IntegerField(default=0)")
    root = forked(
        tmp_path, merge=False, upstream=("0003_color_and_more", color + km_create_model("m"))
    )
    _, document = check_json(root, "--against", "main")
    (conflict,) = document["conflicts"]
    assert conflict["overlap"] == "field", conflict["reasons"]
    assert conflict["strategy"] == "regenerate"


def test_against_predicts_a_kmigrator_conflict_without_touching_anything(tmp_path: Path) -> None:
    root = forked(tmp_path, merge=False)
    head = git(root, "rev-parse", "HEAD")
    code, document = check_json(root, "--against", "main")
    assert code == 1 and document["mode"] == "against"
    assert sorted(leaves(document)) == ["0003_ticket_color", "0003_ticket_size"]
    assert git(root, "rev-parse", "HEAD") == head and git(root, "status", "--porcelain") == ""


def test_every_kmigrator_folder_is_its_own_app(tmp_path: Path) -> None:
    """All of them name `_django_schema`: their graphs must not mix."""
    root = forked(tmp_path, merge=False)
    mini = "apps/miniapp/migrations"
    write_km(
        root, "20240101000000", "0001_initial", folder=mini, operations=km_create_model("ticket")
    )
    write_km(root, "20240102000000", "0002_ticket_kind", "0001_initial", folder=mini)
    commit_all(root, "miniapp")
    code, document = check_json(root, "--against", "main")
    assert code == 1
    assert [c["app"] for c in document["conflicts"]] == ["condo"]
    assert [w["kind"] for w in document["warnings"]] == ["applied-unknown"]


def test_a_file_named_for_another_migration_holds_several(tmp_path: Path) -> None:
    """The lines name the migrations; the JSON path is the .js file holding each."""
    root = condo_repo(tmp_path / "condo")
    path = f"{KM_DIR}/20240103000000-0004_merge_by_hand.js"
    entries = [
        ("0003_ticket_a", km_source("0003_ticket_a", "0002_ticket_kind", field="a")),
        ("0003_ticket_b", km_source("0003_ticket_b", "0002_ticket_kind", field="b")),
    ]
    (root / path).write_bytes(km_file(entries, newline="\r\n"))
    code, document = check_json(root)
    assert code == 1
    found = leaves(document)
    assert {name: leaf["path"] for name, leaf in found.items()} == {
        "0003_ticket_a": path,
        "0003_ticket_b": path,
    }


def test_stray_files_in_the_folder_are_named(tmp_path: Path) -> None:
    root = condo_repo(tmp_path / "condo")
    (root / KM_DIR / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\xff\xfe")  # ignored by git
    (root / KM_DIR / "README.md").write_text("notes\n")
    code, document = check_json(root)
    assert code == 0
    strays = {w["path"]: w for w in document["warnings"] if w["kind"] == "stray-file"}
    assert sorted(strays) == [f"{KM_DIR}/.DS_Store", f"{KM_DIR}/README.md"]
    assert "UnicodeDecodeError" in strays[f"{KM_DIR}/.DS_Store"]["message"]
    text = run_migmerge(root, "check").stdout
    assert f"warning: {KM_DIR}/.DS_Store is not a kmigrator migration file" in text


def test_a_plain_knex_folder_is_not_kmigrators(tmp_path: Path) -> None:
    root = condo_repo(tmp_path / "condo")
    knex = root / "services/api/migrations"
    knex.mkdir(parents=True)
    (knex / "20240101000000_create_users.js").write_text("exports.up = async () => {}\n")
    (knex / "README.md").write_text("knex migrations\n")
    code, document = check_json(root)
    assert code == 0 and document["warnings"] == []


def test_damaged_lines_and_hand_written_files(tmp_path: Path) -> None:
    root = condo_repo(tmp_path / "condo")
    bare = f"{KM_DIR}/20240103000000-0003_manual_sql.js"
    (root / bare).write_text("// KMIGRATOR:0003_manual_sql\nexports.up = async () => {}\n")
    broken = f"{KM_DIR}/20240104000000-0003_broken.js"
    (root / broken).write_text("// KMIGRATOR:0003_broken:not*base64\nexports.up = 1\n")
    code, document = check_json(root)
    assert code == 0  # a bare mark is a hand-written SQL migration: outside the graph
    (warning,) = document["warnings"]
    assert warning["kind"] == "unreadable-migration" and warning["path"] == broken
    assert "line 1 (KMIGRATOR 0003_broken)" in warning["message"]


def test_one_name_in_two_files_with_different_sources_is_said(tmp_path: Path) -> None:
    root = condo_repo(tmp_path / "condo")
    write_km(root, "20240103000000", "0003_ticket_color", "0002_ticket_kind")
    copy = f"{KM_DIR}/20240104000000-0003_again.js"
    same = km_source("0003_ticket_color", "0002_ticket_kind")
    (root / copy).write_bytes(km_file([("0003_ticket_color", same)]))
    assert check_json(root)[1]["warnings"] == []  # the very same source: harmless
    other = km_source("0003_ticket_color", "0002_ticket_kind", field="other")
    (root / copy).write_bytes(km_file([("0003_ticket_color", other)]))
    (warning,) = check_json(root)[1]["warnings"]
    assert warning["kind"] == "duplicate-name" and warning["path"] == copy


def test_a_second_check_reads_names_from_the_cache(tmp_path: Path) -> None:
    root = forked(tmp_path)
    cache = tmp_path / "cache"
    env = {"MIGMERGE_CACHE_DIR": str(cache)}
    first = run_migmerge(root, "check", "--format", "json", env=env)
    assert list(cache.glob("kmigrator-*.marshal"))
    (cache / "graph").mkdir()  # only the kmigrator cache is left to serve the names
    for memo in cache.glob("graph-*.marshal"):
        memo.rename(cache / "graph" / memo.name)
    second = run_migmerge(root, "check", "--format", "json", env=env)
    assert first.stdout == second.stdout and first.returncode == second.returncode == 1


@pytest.mark.parametrize("command", [["merge", "main", "-m", "merge main"], ["rebase", "main"]])
def test_the_hooks_report_a_kmigrator_fork(tmp_path: Path, command: list[str]) -> None:
    """post-merge after a real merge, post-rewrite after a real rebase."""
    import subprocess

    root = forked(tmp_path, merge=False)
    assert run_migmerge(root, "install-hooks").returncode == 0
    done = subprocess.run(["git", *command], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert "condo" in said and "0003_ticket_color" in said and "0003_ticket_size" in said


def loaded_modules(root: Path) -> tuple[str, list[str]]:
    """Analyze `root` in a fresh interpreter: (conflict count, heavy or optional modules loaded)."""
    import subprocess
    import sys

    code = (
        "import sys, migmerge.cli, migmerge.reading.analysis, migmerge.commands.hook;"
        f"n = len(migmerge.reading.analysis.analyze({str(root)!r}).result.conflicts);"
        "loaded = [m for m in sys.modules if m in ('django', 'questionary')"
        " or m.startswith(('migmerge.doing', 'migmerge.core.kmigr', 'migmerge.reading.kmigr'))];"
        "print(n, ' '.join(sorted(loaded)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    count, _, modules = proc.stdout.strip().partition(" ")
    assert count, proc.stderr
    return count, modules.split()


def test_the_check_path_reads_kmigrator_files_without_django(tmp_path: Path) -> None:
    root = forked(tmp_path)
    assert loaded_modules(root) == (
        "1",
        ["migmerge.core.kmigrator", "migmerge.reading.kmigrator_apps"],
    )


def test_a_tree_without_kmigrator_files_never_loads_the_kmigrator_reader(tmp_path: Path) -> None:
    root = forked(tmp_path)
    git(root, "rm", "-q", "-r", "apps")
    commit_all(root, "no condo app any more")
    assert loaded_modules(root) == ("0", [])


# --- applied: knex_migrations ------------------------------------------------------


class knex_database:  # noqa: N801 - used like a function: `with knex_database(files) as url`
    """A throwaway PostgreSQL database whose knex_migrations records `files`; yields its URL."""

    def __init__(self, files: list[str]) -> None:
        self.files = files
        self.inner = pg_database()

    def __enter__(self) -> str:
        import psycopg

        db = self.inner.__enter__()
        with psycopg.connect(dbname=db.name, autocommit=True, **PG_SERVER) as conn:
            conn.execute(
                "CREATE TABLE knex_migrations (id serial primary key, name varchar(255), "
                "batch integer, migration_time timestamptz)"
            )
            for name in self.files:
                conn.execute(
                    "INSERT INTO knex_migrations (name, batch, migration_time) "
                    "VALUES (%s, 1, now())",
                    (name,),
                )
        return f"postgresql://{db.user}@{db.host}:{db.port}/{db.name}"

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)


BASE_FILES = ["20240101000000-0001_initial.js", "20240102000000-0002_ticket_kind.js"]


def test_applied_is_read_from_knex_migrations(tmp_path: Path) -> None:
    root = forked(tmp_path)
    with knex_database([*BASE_FILES, "20240105000000-0003_ticket_size.js"]) as url:
        (root / "apps/condo/.env").write_text(f"DATABASE_URL={url}\nPORT=3000\n")
        _, document = check_json(root)
    found = leaves(document)
    assert (found["0003_ticket_size"]["applied"], found["0003_ticket_color"]["applied"]) == (
        True,
        False,
    )
    assert document["warnings"] == []
    assert document["conflicts"][0]["strategy"] == "renumber"  # local, unshared, unapplied


def test_an_empty_database_applies_nothing_and_the_environment_wins(tmp_path: Path) -> None:
    root = forked(tmp_path)
    (root / ".env").write_text("DATABASE_URL=postgresql://nobody@127.0.0.1:1/none\n")
    with knex_database([]) as url:
        proc = run_migmerge(root, "check", "--format", "json", env={"DATABASE_URL": url})
    document = json.loads(proc.stdout)
    assert [leaf["applied"] for leaf in document["conflicts"][0]["leaves"]] == [False, False]


def test_an_unreachable_database_is_unknown_not_unapplied(tmp_path: Path) -> None:
    root = forked(tmp_path)
    (root / ".env").write_text('DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"\n')
    _, document = check_json(root)
    assert [leaf["applied"] for leaf in document["conflicts"][0]["leaves"]] == [None, None]
    (warning,) = document["warnings"]
    assert "127.0.0.1/none cannot be read" in warning["message"]


# --- resolve -----------------------------------------------------------------------


def tree_state(root: Path) -> tuple[str, str, dict[str, bytes]]:
    """HEAD, the index and every file of the migrations folder: what a refusal must not change."""
    files = {p.name: p.read_bytes() for p in sorted((root / KM_DIR).iterdir())}
    return git(root, "rev-parse", "HEAD"), git(root, "ls-files", "-s"), files


def decoded_graph(root: Path) -> dict[str, tuple[str, ...]]:
    """Decode the folder as kmigrator does: migration -> the names it depends on."""
    import ast

    from migmerge.core import kmigrator

    nodes = {}
    for path in (root / KM_DIR).iterdir():
        for entry in kmigrator.decode(path.read_bytes()).entries:
            for node in ast.walk(ast.parse(entry.source)):
                if (
                    isinstance(node, ast.Assign)
                    and getattr(node.targets[0], "id", "") == "dependencies"
                ):
                    nodes[entry.name] = tuple(n for _, n in ast.literal_eval(node.value))
    return nodes


def test_resolve_renumbers_an_unapplied_local_file_and_stages_it(tmp_path: Path) -> None:
    root = forked(tmp_path)
    with knex_database(BASE_FILES) as url:
        env = {"DATABASE_URL": url}
        proc = run_migmerge(root, "resolve", "--yes", env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "condo: renumber" in proc.stdout
        code, document = check_json(root)
    assert code == 0 and document["conflicts"] == []
    nodes = decoded_graph(root)
    assert nodes["0004_ticket_color"] == ("0003_ticket_size",)
    names = sorted(p.name for p in (root / KM_DIR).iterdir())
    # Named as kmigrator names a file it writes now: after every file knex runs.
    assert names[-1].endswith("-0004_ticket_color.js") and names[-1] > "20240110000000"
    status = git(root, "status", "--porcelain")
    assert (
        f"R{status[1]} {KM_DIR}/20240110000000-0003_ticket_color.js -> {KM_DIR}/{names[-1]}"
        in status
    )


def test_resolve_merges_in_kmigrators_format_when_applied_is_unknown(tmp_path: Path) -> None:
    root = forked(tmp_path)
    proc = run_migmerge(root, "resolve", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "condo: merge" in proc.stdout
    (merge,) = [p for p in (root / KM_DIR).iterdir() if "_merge_" in p.name]
    assert merge.name.endswith("-0004_merge_0003_ticket_color_0003_ticket_size.js")
    assert merge.read_bytes().startswith(
        b"// auto generated by kmigrator\n// KMIGRATOR:0004_merge_"
    )
    assert decoded_graph(root)["0004_merge_0003_ticket_color_0003_ticket_size"] == (
        "0003_ticket_color",
        "0003_ticket_size",
    )
    assert check_json(root)[0] == 0


def test_a_refused_renumber_changes_nothing(tmp_path: Path) -> None:
    root = forked(tmp_path)
    before = tree_state(root)
    proc = run_migmerge(root, "resolve", "--strategy", "renumber", "--yes")
    assert proc.returncode == 1
    assert "whether knex has applied it cannot be read" in proc.stderr
    assert tree_state(root) == before


def test_merge_refused_on_different_views_names_kmigrators_own_command(tmp_path: Path) -> None:
    root = forked(tmp_path, merge=False)
    write_km(root, "20240111000000", "0004_ticket_views", "0003_ticket_color", views='{"dv": 1}')
    commit_all(root, "views changed")
    git(root, "merge", "-q", "main", "-m", "merge main")
    before = tree_state(root)
    proc = run_migmerge(root, "resolve", "--strategy", "merge", "--yes")
    assert proc.returncode == 1
    assert "different analytics views states" in proc.stderr
    assert "yarn workspace @app/condo makemigrations --merge" in proc.stderr
    assert tree_state(root) == before


def test_dry_run_shows_the_renames_and_changes_nothing(tmp_path: Path) -> None:
    root = forked(tmp_path)
    before = tree_state(root)
    with knex_database(BASE_FILES) as url:
        proc = run_migmerge(
            root, "resolve", "--dry-run", "--format", "json", env={"DATABASE_URL": url}
        )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["applied"] is False
    kinds = [(a["action"], a["path"]) for a in document["actions"]]
    old = f"{KM_DIR}/20240110000000-0003_ticket_color.js"
    assert kinds == [("edit", old), ("rename", old)]
    assert document["actions"][1]["target"].endswith("-0004_ticket_color.js")
    assert tree_state(root) == before


# --- regenerate through the configured commands ------------------------------------

SCHEMA = """\
from django.db import models


class Ticket(models.Model):
    title = models.TextField(null=True)
{fields}
    class Meta:
        db_table = "Ticket"
"""


def schema(*fields: str) -> str:
    return SCHEMA.format(fields="".join(f"    {field}\n" for field in fields))


def pg_columns(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'Ticket'"
        ).fetchall()
    return sorted(row[0] for row in rows)


def knex_rows(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM knex_migrations ORDER BY id")]


def generated_fork(
    tmp_path: Path,
    url: str,
    local: tuple[str, ...],
    upstream: tuple[str, ...],
    merged: tuple[str, ...],
    *,
    migrate_local: bool = False,
) -> Path:
    """A condo fork Django wrote: the stand-in's makemigrations on feature (`local` fields) and
    on main (`upstream`), feature merging main with the schemas merged by hand (`merged`).
    The initial migration is applied in `url`'s database; feature's too with `migrate_local`."""
    root = condo_with_kmigrator(tmp_path / "condo", schema())
    run_kmigrator(root, "makemigrations", url)
    run_kmigrator(root, "migrate", url)
    commit_all(root, "initial")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "apps/condo/schema.py").write_text(schema(*local))
    run_kmigrator(root, "makemigrations", url)
    if migrate_local:
        run_kmigrator(root, "migrate", url)
    commit_all(root, "feature's fields")
    git(root, "checkout", "-q", "main")
    (root / "apps/condo/schema.py").write_text(schema(*upstream))
    run_kmigrator(root, "makemigrations", url)
    commit_all(root, "main's fields")
    git(root, "checkout", "-q", "feature")
    git(root, "merge", "-q", "-X", "theirs", "main", "-m", "merge main")
    (root / "apps/condo/schema.py").write_text(schema(*merged))
    commit_all(root, "the schemas merged by hand")
    return root


def test_regenerate_runs_the_configured_commands_for_real(tmp_path: Path) -> None:
    """Both sides add `color`, differently: the local file is rolled back, deleted and remade."""
    text, number = "color = models.TextField(null=True)", "color = models.IntegerField(null=True)"
    size, shade = "size = models.IntegerField(null=True)", "shade = models.TextField(null=True)"
    with knex_database([]) as url:
        root = generated_fork(
            tmp_path, url, (text, shade), (number, size), (number, size, shade), migrate_local=True
        )
        (local,) = [n for n in knex_rows(url) if "color" in n]
        code, document = check_json(root)
        assert code == 1, document
        (conflict,) = document["conflicts"]
        assert (conflict["overlap"], conflict["strategy"]) == ("field", "regenerate")
        proc = run_migmerge(root, "resolve", "--yes", env={"DATABASE_URL": url})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "bin/kmigrator down" in proc.stdout and "bin/kmigrator makemigrations" in proc.stdout
        assert check_json(root)[0] == 0
        assert not (root / KM_DIR / local).exists()
        rows = knex_rows(url)
        assert local not in rows and [r.partition("-")[2] for r in rows] == [
            "0001_initial.js",
            "0002_ticket_color_ticket_size.js",
            "0003_ticket_shade.js",
        ]
        assert pg_columns(url) == ["color", "id", "shade", "size", "title"]


def kmigrator_lines_apart(data: bytes) -> list[bytes]:
    """Every line of a kmigrator file but its KMIGRATOR ones: the SQL and the rest of the JS."""
    return [line for line in data.splitlines(keepends=True) if not line.startswith(b"// KMIGRATOR")]


def test_a_generated_fork_renumbered_decodes_to_one_leaf_changing_only_the_local_names(
    tmp_path: Path,
) -> None:
    """Issue 15's "done when": Django writes both sides' files (the kmigrator stand-in), the
    fork is real (Django refuses it), `resolve --strategy renumber` fixes it on disk, and the
    folder decodes to one leaf where only the local file's name and dependency changed."""
    from migmerge.core import kmigrator

    color, size = "color = models.TextField(null=True)", "size = models.IntegerField(null=True)"
    with knex_database([]) as url:
        # Not migrated on feature: the local file is local, unshared and unapplied.
        root = generated_fork(tmp_path, url, (color,), (size,), (color, size))
        before = {p.name: p.read_bytes() for p in (root / KM_DIR).iterdir()}
        (local,) = [name for name in before if name.endswith("-0002_ticket_color.js")]
        (upstream,) = [name for name in before if name.endswith("-0002_ticket_size.js")]
        with pytest.raises(AssertionError, match="Conflicting migrations detected"):
            run_kmigrator(root, "makemigrations", url, "--check")  # Django itself sees the fork
        proc = run_migmerge(root, "check", "--format", "json", env={"DATABASE_URL": url})
        assert proc.returncode == 1, proc.stderr
        document = json.loads(proc.stdout)
        (conflict,) = document["conflicts"]
        assert sorted(leaf["path"] for leaf in conflict["leaves"]) == sorted(
            f"{KM_DIR}/{name}" for name in (local, upstream)
        )
        assert (conflict["overlap"], conflict["strategy"]) == ("model", "renumber")

        proc = run_migmerge(
            root, "resolve", "--strategy", "renumber", "--yes", env={"DATABASE_URL": url}
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

        after = {p.name: p.read_bytes() for p in (root / KM_DIR).iterdir()}
        (renamed,) = set(after) - set(before)
        assert set(before) - set(after) == {local}
        assert renamed.endswith("-0003_ticket_color.js") and renamed == max(after)
        for name in set(before) - {local}:
            assert after[name] == before[name], name  # byte for byte
        assert decoded_graph(root) == {
            "0001_initial": (),
            "0002_ticket_size": ("0001_initial",),
            "0003_ticket_color": ("0002_ticket_size",),
        }
        assert kmigrator_lines_apart(after[renamed]) == kmigrator_lines_apart(before[local])
        (old,) = kmigrator.decode(before[local]).entries
        (new,) = kmigrator.decode(after[renamed]).entries
        assert (old.name, new.name) == ("0002_ticket_color", "0003_ticket_color")
        assert new.source == old.source.replace(b"'0001_initial'", b"'0002_ticket_size'")
        assert new.source != old.source
        (views,) = kmigrator.decode(after[renamed]).views
        assert views.name == "0003_ticket_color"
        status = git(root, "status", "--porcelain")
        assert f"{KM_DIR}/{local} -> {KM_DIR}/{renamed}" in status and status[0] == "R"

        code, document = check_json(root)
        assert (code, document["conflicts"]) == (0, [])
        run_kmigrator(root, "makemigrations", url, "--check", "--dry-run")  # one leaf, no change
        run_kmigrator(root, "migrate", url)
        assert pg_columns(url) == ["color", "id", "size", "title"]
        assert [row.partition("-")[2] for row in knex_rows(url)] == [
            "0001_initial.js",
            "0002_ticket_size.js",
            "0003_ticket_color.js",
        ]


def test_a_renumbered_kmigrator_file_is_staged_whole(tmp_path: Path) -> None:
    """CONTRACT: every file resolve writes, edits, renames or deletes is staged, so a plain
    `git commit` records a consistent tree."""
    root = forked(tmp_path)
    with knex_database(BASE_FILES) as url:
        proc = run_migmerge(root, "resolve", "--yes", env={"DATABASE_URL": url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(root, "diff", "--name-status") == ""  # nothing left out of the index
    git(root, "commit", "-q", "-m", "renumbered")
    git(root, "stash", "-q", "--include-untracked")  # what was committed, alone
    code, document = check_json(root)
    assert (code, document["conflicts"]) == (0, [])


def test_on_rebase_renumber_renames_the_replayed_file_in_the_hook(tmp_path: Path) -> None:
    """`on-rebase = "renumber"` in .migmerge.toml: the post-rewrite hook renumbers for real."""
    import os
    import subprocess

    root = forked(tmp_path, merge=False)
    (root / ".migmerge.toml").write_text('on-rebase = "renumber"\n')
    assert run_migmerge(root, "install-hooks").returncode == 0
    with knex_database(BASE_FILES) as url:
        env = {**os.environ, "DATABASE_URL": url}
        done = subprocess.run(
            ["git", "rebase", "main"], cwd=root, capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        assert "renumbered" in done.stdout + done.stderr, done.stdout + done.stderr
        assert check_json(root)[0] == 0
    assert decoded_graph(root)["0004_ticket_color"] == ("0003_ticket_size",)


def test_one_files_migrations_for_readers_that_take_a_blob_at_a_time() -> None:
    from migmerge.reading.kmigrator_apps import file_migrations

    path = f"{KM_DIR}/20240103000000-0004_by_hand.js"
    data = km_file(
        [
            ("0003_ticket_a", km_source("0003_ticket_a", "0002_ticket_kind", field="a")),
            ("0004_ticket_b", km_source("0004_ticket_b", "0003_ticket_a", field="b")),
        ]
    )
    found = file_migrations(data, "condo", path, {})
    assert [(m.app, m.name, m.path, m.dependencies) for m in found] == [
        ("condo", "0003_ticket_a", path, (("condo", "0002_ticket_kind"),)),
        ("condo", "0004_ticket_b", path, (("condo", "0003_ticket_a"),)),
    ]
    assert file_migrations(b"exports.up = async () => {}\n", "condo", path, {}) == []


def test_pre_push_blocks_a_kmigrator_fork_and_lets_the_fixed_one_through(tmp_path: Path) -> None:
    import subprocess

    root = forked(tmp_path, merge=False)  # on feature: 0003_ticket_color; main: 0003_ticket_size
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    git(root, "fetch", "-q", "origin")
    assert run_migmerge(root, "install-hooks", "--hook", "pre-push").returncode == 0
    blocked = subprocess.run(
        ["git", "push", "-q", "origin", "feature"], cwd=root, capture_output=True, text=True
    )
    assert blocked.returncode != 0
    assert "0003_ticket_color" in blocked.stderr + blocked.stdout
    git(root, "rebase", "-q", "origin/main")
    with knex_database(BASE_FILES) as url:
        fixed = run_migmerge(root, "resolve", "--yes", env={"DATABASE_URL": url})
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "renumbered after upstream")
    git(root, "push", "-q", "origin", "feature")  # the hook lets it through

"""The header cache: used on the second run, never stale, never in the way.

git itself tells what was read: GIT_TRACE logs every git command migmerge
runs, so a `cat-file --batch` in the log means blobs were read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.testing.repos import commit_all, git, init_repo, run_migmerge

HEAD = "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"


def migration(deps: str) -> str:
    return HEAD + f"    dependencies = {deps}\n    operations = []\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """shop: a straight line 0001 -> 0002 -> 0003, committed."""
    root = init_repo(tmp_path / "proj")
    folder = root / "shop" / "migrations"
    folder.mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    (folder / "0001_initial.py").write_text(migration("[]"))
    (folder / "0002_a.py").write_text(migration("[('shop', '0001_initial')]"))
    (folder / "0003_b.py").write_text(migration("[('shop', '0002_a')]"))
    commit_all(root, "shop")
    return root


def cache_files(kind: str = "headers") -> list[Path]:
    folder = Path(os.environ["HOME"]) / ".cache" / "migmerge"
    return sorted(folder.glob(f"{kind}-*")) if folder.is_dir() else []


def forget_results() -> None:
    """Drop the remembered results, so that the next run reads headers again."""
    for file in cache_files("graph"):
        file.unlink()


def check(root: Path, tmp_path: Path, **env: str) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    """Run check; return its JSON and the git commands it ran."""
    trace = tmp_path / f"trace-{len(list(tmp_path.glob('trace-*')))}.log"
    proc = run_migmerge(root, "check", "--format", "json", env={"GIT_TRACE": str(trace), **env})
    assert proc.returncode in (0, 1), proc.stderr
    commands = [line for line in trace.read_text().splitlines() if "trace: " in line]
    return json.loads(proc.stdout), commands


def reads_blobs(commands: list[str]) -> bool:
    return any("cat-file --batch" in c and "--batch-check" not in c for c in commands)


def test_second_run_reads_no_blob(project: Path, tmp_path: Path) -> None:
    first, commands = check(project, tmp_path)
    assert reads_blobs(commands)
    assert len(cache_files()) == 1
    forget_results()
    second, commands = check(project, tmp_path)
    assert not reads_blobs(commands)
    assert second == first


def test_an_edited_migration_is_read_again(project: Path, tmp_path: Path) -> None:
    doc, _ = check(project, tmp_path)
    assert doc["conflicts"] == []
    # Same path, new bytes: 0003 now branches off 0001, beside 0002.
    path = project / "shop" / "migrations" / "0003_b.py"
    path.write_text(migration("[('shop', '0001_initial')]"))
    commit_all(project, "rewire 0003")
    doc, _ = check(project, tmp_path)
    leaves = [sorted(leaf["name"] for leaf in c["leaves"]) for c in doc["conflicts"]]
    assert leaves == [["0002_a", "0003_b"]]


def test_a_damaged_cache_is_ignored_and_rewritten(project: Path, tmp_path: Path) -> None:
    first, _ = check(project, tmp_path)
    (cache,) = cache_files()
    cache.write_bytes(b"\x00not marshal")
    forget_results()
    second, commands = check(project, tmp_path)
    assert second == first
    assert reads_blobs(commands)
    forget_results()
    third, commands = check(project, tmp_path)
    assert not reads_blobs(commands)


def test_no_cache_when_switched_off(project: Path, tmp_path: Path) -> None:
    check(project, tmp_path, MIGMERGE_NO_CACHE="1")
    assert cache_files() == []
    assert cache_files("graph") == []


def test_an_unwritable_cache_folder_does_not_matter(project: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would go")
    doc, _ = check(project, tmp_path, MIGMERGE_CACHE_DIR=str(blocked / "migmerge"))
    assert doc["conflicts"] == []


def test_nothing_is_written_inside_the_repository(project: Path, tmp_path: Path) -> None:
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    check(project, tmp_path)
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def test_a_few_folders_leave_a_whole_repository_cache_alone(tmp_path: Path) -> None:
    # A full check caches every header; --against then wants one app's: loading
    # the big cache would cost more than reading those files, and writing a
    # small one back would throw the big one away.
    root = init_repo(tmp_path / "many")
    for n in range(30):
        folder = root / f"app{n}" / "migrations"
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "0001_initial.py").write_text(migration("[]"))
        (folder / "0002_a.py").write_text(migration(f"[('app{n}', '0001_initial')]"))
    commit_all(root, "thirty apps")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "app7" / "migrations" / "0003_mine.py").write_text(migration("[('app7', '0002_a')]"))
    commit_all(root, "mine")
    git(root, "checkout", "-q", "main")
    (root / "app7" / "migrations" / "0003_theirs.py").write_text(migration("[('app7', '0002_a')]"))
    commit_all(root, "theirs")
    git(root, "checkout", "-q", "feature")
    check(root, tmp_path)
    (cache,) = cache_files()
    before = cache.read_bytes()
    proc = run_migmerge(root, "check", "--format", "json", "--against", "main")
    assert proc.returncode == 1, proc.stderr
    (conflict,) = json.loads(proc.stdout)["conflicts"]
    assert sorted(leaf["name"] for leaf in conflict["leaves"]) == ["0003_mine", "0003_theirs"]
    assert cache.read_bytes() == before


# The remembered result: a tree checked again skips the headers and the graph.


def mixed_tree(root: Path) -> None:
    """Everything the graph decides: a conflict, warnings, an inferred label."""
    folder = root / "shop" / "migrations"
    (folder / "0004_x.py").write_text(migration("[('shop', '0003_b')]"))
    (folder / "0004_y.py").write_text(migration("[('shop', '0003_b')]"))
    (folder / "helpers.py").write_text("def noop(apps, schema_editor):\n    pass\n")
    # Folder "legacy", label "billing": only other migrations' dependencies say so.
    legacy = root / "legacy" / "migrations"
    legacy.mkdir(parents=True)
    (legacy / "__init__.py").write_text("")
    (legacy / "0001_initial.py").write_text(migration("[]"))
    (legacy / "0002_invoice.py").write_text(migration("[('billing', '0001_initial')]"))
    (legacy / "0003_paid.py").write_text(
        migration("[('billing', '0002_invoice'), ('shop', '0009_missing')]")
    )
    commit_all(root, "mixed")


def test_an_unchanged_tree_is_not_read_again(project: Path, tmp_path: Path) -> None:
    mixed_tree(project)
    first, _ = check(project, tmp_path)
    assert len(cache_files("graph")) == 1
    (headers,) = cache_files()
    headers.unlink()
    second, _ = check(project, tmp_path)
    # No header was wanted, so no header cache was written again ...
    assert cache_files() == []
    # ... and the remembered result is the fresh one, warnings and all.
    fresh, _ = check(project, tmp_path, MIGMERGE_NO_CACHE="1")
    assert second == first == fresh
    kinds = sorted(w["kind"] for w in fresh["warnings"])
    assert kinds == ["applied-unknown", "missing-dependency", "not-a-migration"]
    assert [c["app"] for c in fresh["conflicts"]] == ["shop"]
    assert "billing.0003_paid depends on shop.0009_missing" in str(fresh["warnings"])


@pytest.mark.parametrize("change", ["untracked", "edited", "edited again"])
def test_work_not_committed_counts(project: Path, tmp_path: Path, change: str) -> None:
    folder = project / "shop" / "migrations"
    (folder / "0004_mine.py").write_text(migration("[('shop', '0003_b')]"))
    first, _ = check(project, tmp_path)  # untracked: read from disk
    assert first["conflicts"] == []
    if change == "untracked":
        (folder / "0004_theirs.py").write_text(migration("[('shop', '0003_b')]"))
    else:
        # Same path, not committed: only its bytes tell the trees apart.
        (folder / "0004_mine.py").write_text(migration("[('shop', '0002_a')]"))
        if change == "edited again":
            doc, _ = check(project, tmp_path)
            assert len(doc["conflicts"]) == 1
            (folder / "0004_mine.py").write_text(migration("[('shop', '0003_b')]"))
    doc, _ = check(project, tmp_path)
    fresh, _ = check(project, tmp_path, MIGMERGE_NO_CACHE="1")
    assert doc == fresh
    assert len(doc["conflicts"]) == (0 if change == "edited again" else 1)


def test_settings_that_steer_the_graph_count(project: Path, tmp_path: Path) -> None:
    mixed_tree(project)
    (project / "manage.py").write_text(
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'conf')\n"
    )
    (project / "conf.py").write_text("MIGRATION_MODULES = {}\n")
    commit_all(project, "settings")
    doc, _ = check(project, tmp_path)
    assert [c["app"] for c in doc["conflicts"]] == ["shop"]
    # Same migrations, but the settings say shop has none: no conflict.
    (project / "conf.py").write_text("MIGRATION_MODULES = {'shop': None}\n")
    doc, _ = check(project, tmp_path)
    assert doc["conflicts"] == []


def test_a_resolution_after_a_remembered_check(project: Path, tmp_path: Path) -> None:
    # resolve plans from every header, which a remembered result does not hold.
    folder = project / "shop" / "migrations"
    git(project, "checkout", "-q", "-b", "feature")
    (folder / "0004_mine.py").write_text(migration("[('shop', '0003_b')]"))
    commit_all(project, "mine")
    git(project, "checkout", "-q", "main")
    (folder / "0004_theirs.py").write_text(migration("[('shop', '0003_b')]"))
    commit_all(project, "theirs")
    git(project, "checkout", "-q", "feature")
    git(project, "merge", "-q", "--no-edit", "main")
    check(project, tmp_path)
    assert cache_files("graph")
    remembered = run_migmerge(project, "resolve", "--dry-run", "--strategy", "renumber")
    fresh = run_migmerge(
        project, "resolve", "--dry-run", "--strategy", "renumber", env={"MIGMERGE_NO_CACHE": "1"}
    )
    # No database: "applied" is unknown, so the renumber would be refused (exit 1); the
    # dry run still shows what it would do.
    assert remembered.returncode == fresh.returncode == 1, remembered.stderr
    assert "0005_mine" in remembered.stdout
    assert remembered.stdout == fresh.stdout


def test_at_most_a_few_results_are_kept(project: Path, tmp_path: Path) -> None:
    from migmerge.reading.cache import MEMO_ENTRIES

    folder = project / "shop" / "migrations"
    for n in range(MEMO_ENTRIES + 3):
        (folder / "0004_next.py").write_text(migration(f"[('shop', '0003_b')]  # {n}"))
        check(project, tmp_path)
    assert len(cache_files("graph")) == MEMO_ENTRIES


def test_an_edited_entry_is_not_believed(project: Path, tmp_path: Path) -> None:
    # Hand-edit the cache: 0003_b "depends" on 0001_initial, which would fork shop.
    first, _ = check(project, tmp_path)
    (cache,) = cache_files()
    data = cache.read_bytes()
    assert data.count(b"0002_a") == 1
    cache.write_bytes(data.replace(b"0002_a", b"0001_a"))
    forget_results()
    second, commands = check(project, tmp_path)
    assert second == first and second["conflicts"] == []
    assert reads_blobs(commands)


def test_an_entry_of_the_wrong_shape_is_a_miss_not_a_crash(project: Path, tmp_path: Path) -> None:
    import marshal
    import zlib

    from migmerge.reading import cache as cache_module

    first, _ = check(project, tmp_path)
    (cache,) = cache_files()
    shas = git(project, "ls-files", "-s", "shop/migrations").split()[1::4]
    payload = marshal.dumps({sha: ((1, 2, 3), "x") for sha in shas})
    head = cache_module._MAGIC + zlib.crc32(payload).to_bytes(4, "big")
    cache.write_bytes(head + len(payload).to_bytes(8, "big") + payload)
    forget_results()
    second, commands = check(project, tmp_path)
    assert second == first
    assert reads_blobs(commands)


def test_a_remembered_result_that_does_not_fit_the_tree_is_derived_again(
    project: Path, tmp_path: Path
) -> None:
    import marshal

    first, _ = check(project, tmp_path)
    (memo,) = cache_files("graph")
    from migmerge.reading import cache as cache_module

    signature, _ = cache_module._load(memo)
    lie = ((), (("nowhere/migrations", "0001_x"),), (), ())
    cache_module._write(memo, (signature, lie))
    assert marshal.loads(memo.read_bytes()[len(cache_module._MAGIC) + 12 :])[1] == lie
    second, _ = check(project, tmp_path)
    assert second == first


def test_a_fifo_in_the_cache_folder_is_a_miss_not_a_hang(project: Path, tmp_path: Path) -> None:
    first, _ = check(project, tmp_path)
    for file in cache_files("graph") + cache_files():
        file.unlink()
        os.mkfifo(file)
    second, _ = check(project, tmp_path)
    assert second == first

"""`migmerge check` end to end: real repositories, real Django, every git state."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.testing.projects import (
    POLLS_V1,
    add_field,
    app_files,
    make_django_project,
    makemigrations,
    manage,
    migration_text,
    nothing_applied,
    write_app,
)
from tests.testing.repos import (
    Files,
    commit_all,
    conflict_leaves,
    criss_cross,
    diverged,
    git,
    init_repo,
    isolated_git_env,
    parse_workflow_command,
    reading_state,
    replays,
    run_migmerge,
    write_files,
)

AGE = POLLS_V1.replace(
    "    name = models.CharField(max_length=100)\n",
    "    name = models.CharField(max_length=100)\n    age = models.IntegerField(default=0)\n",
)
ADDRESS = POLLS_V1.replace(
    "    name = models.CharField(max_length=100)\n",
    "    name = models.CharField(max_length=100)\n    address = models.TextField(default='')\n",
)


@pytest.fixture(scope="module")
def branches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """polls: 0001 on main; feature adds age (0002), main adds address (0002); unmerged."""
    base = tmp_path_factory.mktemp("branches")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_git_env(base / "home").items():
            mp.setenv(key, value)
        root = make_django_project(base / "proj", {"polls": POLLS_V1})
        (root / "README.md").write_text("demo\n")
        makemigrations(root, "polls")
        commit_all(root, "initial")
        git(root, "checkout", "-q", "-b", "feature")
        write_app(root, "polls", AGE)
        makemigrations(root, "polls")
        commit_all(root, "add age")
        git(root, "checkout", "-q", "main")
        write_app(root, "polls", ADDRESS)
        makemigrations(root, "polls")
        commit_all(root, "add address")
        git(root, "checkout", "-q", "feature")
        # makemigrations' consistency check creates an empty SQLite file.
        (root / "db.sqlite3").unlink(missing_ok=True)
        yield root


@pytest.fixture
def repo(branches: Path, tmp_path: Path) -> Path:
    """A private copy of the two-branch project, on branch feature."""
    target = tmp_path / "proj"
    shutil.copytree(branches, target, symlinks=True)
    return target


def check_json(root: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = run_migmerge(root, "check", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def merge_main(root: Path) -> None:
    git(root, "merge", "-q", "-X", "ours", "main", "-m", "merge main")


def push_main_to_a_remote(root: Path, tmp_path: Path) -> None:
    """Give `root` a bare remote `origin` holding main, and fetch it."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    git(root, "fetch", "-q", "origin")


def leaves_by_side(doc: dict) -> dict[str, str]:  # type: ignore[type-arg]
    (conflict,) = doc["conflicts"]
    return {leaf["side"]: leaf["name"] for leaf in conflict["leaves"]}


# git states -------------------------------------------------------------------


def test_clean_tree_exits_zero(repo: Path) -> None:
    proc = run_migmerge(repo, "check")
    assert proc.returncode == 0, proc.stderr
    assert "No migration conflicts" in proc.stdout


def test_merge_just_made_reports_sides(repo: Path) -> None:
    feature = git(repo, "rev-parse", "HEAD").strip()
    main = git(repo, "rev-parse", "main").strip()
    nothing_applied(repo)
    merge_main(repo)
    code, doc = check_json(repo)
    assert code == 1
    assert doc["mode"] == "merge"
    assert (doc["local"], doc["upstream"]) == (feature, main)
    assert doc["base"] == git(repo, "merge-base", feature, main).strip()
    (conflict,) = doc["conflicts"]
    assert conflict["kind"] == "leaves"
    assert conflict["app"] == "polls"
    assert conflict["directory"] == "polls/migrations"
    assert conflict["ancestor"] == "0001_initial"
    assert leaves_by_side(doc) == {
        "local": "0002_userprofile_age",
        "upstream": "0002_userprofile_address",
    }
    local = next(leaf for leaf in conflict["leaves"] if leaf["side"] == "local")
    assert local["path"] == "polls/migrations/0002_userprofile_age.py"
    assert local["branch"] == ["0002_userprofile_age"]
    assert local["operations"] == [{"op": "AddField", "model": "userprofile", "field": "age"}]
    assert conflict["overlap"] == "model"
    assert conflict["strategy"] == "renumber"


def test_merge_in_progress_with_unrelated_text_conflict(repo: Path) -> None:
    (repo / "README.md").write_text("feature\n")
    commit_all(repo, "readme on feature")
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("main\n")
    commit_all(repo, "readme on main")
    main = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "feature")
    assert git(repo, "merge", "main", check=False) is not None
    assert (repo / ".git" / "MERGE_HEAD").exists()
    code, doc = check_json(repo)
    assert code == 1
    assert doc["mode"] == "merge"
    assert doc["upstream"] == main
    assert leaves_by_side(doc)["local"] == "0002_userprofile_age"


def test_rebase_in_progress_keeps_local_as_the_replayed_side(repo: Path) -> None:
    (repo / "README.md").write_text("feature\n")
    commit_all(repo, "readme on feature")
    feature = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("main\n")
    commit_all(repo, "readme on main")
    main = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "feature")
    git(repo, "rebase", "main", check=False)
    assert (repo / ".git" / "rebase-merge").exists() or (repo / ".git" / "rebase-apply").exists()
    code, doc = check_json(repo)
    assert code == 1
    assert doc["mode"] == "rebase"
    assert (doc["local"], doc["upstream"]) == (feature, main)
    # git calls the replayed commits "theirs" here; migmerge must not.
    assert leaves_by_side(doc) == {
        "local": "0002_userprofile_age",
        "upstream": "0002_userprofile_address",
    }


def test_rebase_just_made(repo: Path) -> None:
    feature = git(repo, "rev-parse", "HEAD").strip()
    main = git(repo, "rev-parse", "main").strip()
    git(repo, "rebase", "-q", "-X", "theirs", "main")
    code, doc = check_json(repo)
    assert code == 1
    assert doc["mode"] == "rebase"
    assert (doc["local"], doc["upstream"]) == (feature, main)
    assert leaves_by_side(doc)["local"] == "0002_userprofile_age"


def test_against_predicts_without_touching_anything(repo: Path) -> None:
    before = reading_state(repo)
    code, doc = check_json(repo, "--against", "main")
    assert code == 1
    assert doc["mode"] == "against"
    assert doc["upstream"] == git(repo, "rev-parse", "main").strip()
    assert leaves_by_side(doc) == {
        "local": "0002_userprofile_age",
        "upstream": "0002_userprofile_address",
    }
    assert reading_state(repo) == before
    assert not (repo / "db.sqlite3").exists()


def test_against_includes_uncommitted_work(repo: Path) -> None:
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "other")
    write_app(
        repo,
        "polls",
        ADDRESS.replace(
            "class Question",
            "class Street(models.Model):\n    n = models.IntegerField()\n\n\nclass Question",
        ),
    )
    makemigrations(repo, "polls")  # untracked new migration, not committed
    code, doc = check_json(repo, "--against", "feature")
    assert code == 1
    assert leaves_by_side(doc) == {
        "local": "0003_street",
        "upstream": "0002_userprofile_age",
    }


def test_against_same_branch_is_clean(repo: Path) -> None:
    code, doc = check_json(repo, "--against", "HEAD")
    assert code == 0
    assert doc["conflicts"] == []


def test_worktree_mode_after_later_commit_uses_default_branch(repo: Path) -> None:
    merge_main(repo)
    (repo / "README.md").write_text("later\n")
    commit_all(repo, "later work")
    code, doc = check_json(repo)
    assert code == 1
    assert doc["mode"] == "worktree"
    assert doc["upstream"] == git(repo, "rev-parse", "main").strip()
    assert leaves_by_side(doc)["upstream"] == "0002_userprofile_address"


def test_worktree_mode_prefers_the_branch_upstream(repo: Path, tmp_path: Path) -> None:
    push_main_to_a_remote(repo, tmp_path)
    # Local main moves on: the upstream (origin/main) and the default branch differ.
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("main moves on\n")
    commit_all(repo, "main later")
    git(repo, "checkout", "-q", "feature")
    git(repo, "branch", "-q", "--set-upstream-to=origin/main")
    git(repo, "merge", "-q", "-X", "ours", "--no-edit", "origin/main")
    (repo / "README.md").write_text("later\n")
    commit_all(repo, "later work")
    code, doc = check_json(repo)
    assert code == 1
    assert doc["mode"] == "worktree"
    assert doc["upstream"] == git(repo, "rev-parse", "origin/main").strip()
    assert doc["upstream"] != git(repo, "rev-parse", "main").strip()
    assert leaves_by_side(doc)["upstream"] == "0002_userprofile_address"


def test_shared_means_reachable_from_a_remote(repo: Path, tmp_path: Path) -> None:
    push_main_to_a_remote(repo, tmp_path)
    merge_main(repo)
    _, doc = check_json(repo)
    shared = {leaf["name"]: leaf["shared"] for leaf in doc["conflicts"][0]["leaves"]}
    assert shared == {"0002_userprofile_address": True, "0002_userprofile_age": False}


def test_applied_read_from_the_sqlite_database(repo: Path) -> None:
    manage(repo, "migrate", "polls")  # on feature: 0002_userprofile_age applied
    merge_main(repo)
    _, doc = check_json(repo)
    applied = {leaf["name"]: leaf["applied"] for leaf in doc["conflicts"][0]["leaves"]}
    assert applied == {"0002_userprofile_address": False, "0002_userprofile_age": True}
    assert doc["conflicts"][0]["strategy"] == "merge"


def test_applied_is_null_without_a_database_and_none_is_created(repo: Path) -> None:
    merge_main(repo)
    _, doc = check_json(repo)
    assert {leaf["applied"] for leaf in doc["conflicts"][0]["leaves"]} == {None}
    assert not (repo / "db.sqlite3").exists()


def test_text_output_says_what_to_run(repo: Path) -> None:
    merge_main(repo)
    proc = run_migmerge(repo, "check")
    assert proc.returncode == 1
    assert "polls (polls/migrations): 2 leaves after 0001_initial" in proc.stdout
    assert "0002_userprofile_age" in proc.stdout and "[local]" in proc.stdout
    assert "migmerge resolve" in proc.stdout


def test_github_format_annotates_the_leaf_files(repo: Path) -> None:
    merge_main(repo)
    proc = run_migmerge(repo, "check", "--format", "github")
    assert proc.returncode == 1
    assert "::error file=polls/migrations/0002_userprofile_age.py,line=1" in proc.stdout


def test_app_filter(repo: Path) -> None:
    merge_main(repo)
    code, doc = check_json(repo, "--app", "polls")
    assert code == 1 and [c["app"] for c in doc["conflicts"]] == ["polls"]
    proc = run_migmerge(repo, "check", "--app", "other")  # a label no app has: bad input
    assert (proc.returncode, proc.stdout) == (2, "")
    assert (
        proc.stderr
        == "migmerge: no app labelled other has migrations here\nhint: known apps: polls\n"
    )


# bad input ----------------------------------------------------------------------


def test_not_a_repository(tmp_path: Path) -> None:
    proc = run_migmerge(tmp_path, "check")
    assert proc.returncode == 2
    assert "not inside a git work tree" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_revision(repo: Path) -> None:
    proc = run_migmerge(repo, "check", "--against", "no-such-branch")
    assert proc.returncode == 2
    assert "unknown revision 'no-such-branch'" in proc.stderr


def test_bad_flag_prints_usage(repo: Path) -> None:
    proc = run_migmerge(repo, "check", "--frobnicate")
    assert proc.returncode == 2
    assert "usage:" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "content, kind, reason",
    [
        (b"class Migration(:\n", "unreadable-migration", "cannot parse it (line 1"),
        (b"\x00\x01\x02binary\xff\xfe", "not-a-migration", "no Migration class"),
        (b"# -*- coding: utf-8 -*-\nx = '\xff\xfe'\n", "not-a-migration", "no Migration class"),
    ],
)
def test_an_unreadable_file_is_a_warning_and_check_goes_on(
    repo: Path, content: bytes, kind: str, reason: str
) -> None:
    (repo / "polls" / "migrations" / "0003_broken.py").write_bytes(content)
    code, doc = check_json(repo)
    assert code == 0 and doc["conflicts"] == []
    (warning,) = [w for w in doc["warnings"] if w["path"] == "polls/migrations/0003_broken.py"]
    assert warning["kind"] == kind and reason in warning["message"]
    merge_main(repo)
    code, doc = check_json(repo)
    assert code == 1 and len(doc["conflicts"]) == 1


def test_an_edited_migration_python_refuses_below_its_header_is_a_warning(repo: Path) -> None:
    # Its header reads (no conflict to show), its body does not compile: Django cannot
    # import it. Found by benchmarks/fuzz.py's mutate family (duplicated or cut lines).
    path = repo / "polls" / "migrations" / "0002_userprofile_age.py"
    path.write_text(path.read_text() + "        ),\n    ]\n")
    code, doc = check_json(repo)
    assert code == 0 and doc["conflicts"] == []
    (warning,) = [
        w for w in doc["warnings"] if w["path"] == "polls/migrations/0002_userprofile_age.py"
    ]
    assert warning["kind"] == "unreadable-migration"
    assert "Python refuses it (line " in warning["message"], warning["message"]
    git(repo, "checkout", "--", ".")
    code, doc = check_json(repo)
    assert code == 0 and doc["warnings"] == []


def test_crlf_and_coding_line_are_read(repo: Path) -> None:
    path = repo / "polls" / "migrations" / "0002_userprofile_age.py"
    text = path.read_text()
    path.write_bytes(
        ("# -*- coding: latin-1 -*-\n# caf\xe9\n" + text).replace("\n", "\r\n").encode("latin-1")
    )
    merge_main(repo)
    code, doc = check_json(repo)
    assert code == 1
    assert len(doc["conflicts"][0]["leaves"]) == 2


def test_junk_files_in_migrations_are_ignored(repo: Path) -> None:
    folder = repo / "polls" / "migrations"
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "README").write_text("notes")
    (folder / "0002_userprofile_age.py~").write_text("backup")
    (folder / "_helpers.py").write_text("def f(): pass\n")
    code, doc = check_json(repo)
    assert code == 0 and doc["conflicts"] == []


MIGRATION = (
    "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
    "    dependencies = {deps}\n    operations = []\n"
)


def test_github_format_with_awkward_paths_annotates_the_local_file(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "r")
    folder = root / "src" / "team a,b: 100%" / "polls" / "migrations"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "0001_initial.py").write_text(MIGRATION.format(deps="[]"))
    commit_all(root, "initial")
    git(root, "checkout", "-q", "-b", "feature")
    (folder / "0002_mine.py").write_text(MIGRATION.format(deps="[('polls', '0001_initial')]"))
    commit_all(root, "mine")
    git(root, "checkout", "-q", "main")
    (folder / "0002_theirs.py").write_text(MIGRATION.format(deps="[('polls', '0001_initial')]"))
    commit_all(root, "theirs")
    git(root, "checkout", "-q", "feature")
    proc = run_migmerge(root, "check", "--against", "main", "--format", "github")
    assert proc.returncode == 1, proc.stderr
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("::error")]
    name, properties, message = parse_workflow_command(line)
    assert (name, properties) == (
        "error",
        {
            "file": "src/team a,b: 100%/polls/migrations/0002_mine.py",
            "line": "1",
            "title": "Migration conflict in polls",
        },
    )
    assert "0002_mine here, and on main 0002_theirs (src/team a,b: 100%/polls/" in message
    assert (root / properties["file"]).is_file()  # the annotation points at a file of the checkout


# Shapes real repositories have (issue 12), met both ways: --against and a merge in progress


def test_a_dependency_on_a_migration_the_other_side_deleted(tmp_path: Path) -> None:
    # netbox dcim, data-hub-api, rapidpro flows: one side deletes (or squashes away)
    # 0002_gone, the other adds 0003_theirs on top of it: KeyError, exit 3, before.
    base = app_files("dcim", "0001_initial", "0002_gone")
    local: Files = {
        "dcim/migrations/0002_gone.py": None,
        "dcim/migrations/0002_mine.py": migration_text("[('dcim', '0001_initial')]"),
    }
    upstream: Files = {
        "dcim/migrations/0003_theirs.py": migration_text("[('dcim', '0002_gone')]"),
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        assert conflict_leaves(doc) == {"dcim": ["0002_mine", "0003_theirs"]}
        (warning,) = [w for w in doc["warnings"] if w["kind"] == "missing-dependency"]
        assert warning["path"] == "dcim/migrations/0003_theirs.py"
        assert "dcim.0002_gone, which does not exist" in warning["message"]
        assert "no dcim/migrations/0002_gone.py" in warning["message"]
        assert "NodeNotFoundError" in warning["message"]


PYTHON_2_DATA = """\
from django.db import migrations


def forwards(apps, schema_editor):
    Flow = apps.get_model("flows", "Flow")
    print `Flow.objects.count()`  # backticks: no Python 3 spelling the fallback reader knows


class Migration(migrations.Migration):

    dependencies = [("flows", "0001_initial")]

    operations = [
        migrations.AddField("flow", "legacy", models.IntegerField(default=0)),
        migrations.RunPython(forwards),
    ]
"""


def test_a_python_2_migration_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    # rapidpro, arches: one old file Python 3 cannot parse stopped everything (exit 2).
    base = app_files("flows", "0001_initial")
    base["flows/migrations/0002_legacy.py"] = PYTHON_2_DATA
    local: Files = {
        "flows/migrations/0003_mine.py": migration_text(
            "[('flows', '0002_legacy')]", add_field("flow", "mine")
        )
    }
    upstream: Files = {
        "flows/migrations/0003_theirs.py": PYTHON_2_DATA.replace(
            '("flows", "0001_initial")', '("flows", "0002_legacy")'
        ).replace('"legacy"', '"theirs"')
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        assert conflict_leaves(doc) == {"flows": ["0003_mine", "0003_theirs"]}
        (conflict,) = doc["conflicts"]
        assert conflict["overlap"] == "unknown"
        theirs = next(leaf for leaf in conflict["leaves"] if leaf["name"] == "0003_theirs")
        assert [op["op"] for op in theirs["operations"]] == ["AddField", "RunPython"]
        paths = {w["path"] for w in doc["warnings"] if w["kind"] == "unreadable-migration"}
        # In the branch, and in the history too (a plain header, a Python 2 body).
        assert {"flows/migrations/0003_theirs.py", "flows/migrations/0002_legacy.py"} <= paths
    text = run_migmerge(root, "check")
    assert "warning: flows/migrations/0003_theirs.py: Python 3." in text.stdout


def test_a_long_seed_insert_does_not_stop_check(tmp_path: Path) -> None:
    seed = "INSERT INTO geo_country (code) VALUES " + ", ".join(f"('{i}')" for i in range(3000))
    base = app_files("geo", "0001_initial")
    local: Files = {
        "geo/migrations/0002_seed.py": migration_text(
            "[('geo', '0001_initial')]", f"migrations.RunSQL({seed!r}),"
        )
    }
    upstream: Files = {
        "geo/migrations/0002_other.py": migration_text(
            "[('geo', '0001_initial')]",
            "migrations.CreateModel('City', [('id', models.AutoField(primary_key=True))]),",
        )
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        assert conflict_leaves(doc) == {"geo": ["0002_other", "0002_seed"]}
        assert doc["conflicts"][0]["overlap"] != "unknown"


def _alter(max_length: int) -> str:
    return f"migrations.AlterField('check', 'name', models.CharField(max_length={max_length})),"


@pytest.mark.parametrize("extra_local", [False, True])
def test_same_named_migrations_on_both_sides(tmp_path: Path, extra_local: bool) -> None:
    # Two branches make the same model change: makemigrations names both files alike.
    base = app_files("checks", "0001_initial", "0123_check_name")
    name = "checks/migrations/0124_alter_check_name.py"
    local: Files = {name: migration_text("[('checks', '0123_check_name')]", _alter(200))}
    if extra_local:
        local["checks/migrations/0125_check_more.py"] = migration_text(
            "[('checks', '0124_alter_check_name')]", add_field("check", "more")
        )
    upstream: Files = {name: migration_text("[('checks', '0123_check_name')]", _alter(100))}
    root = diverged(tmp_path / "repo", base, local, upstream)
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        (conflict,) = doc["conflicts"]
        assert conflict["kind"] == "same-name"
        assert (conflict["app"], conflict["ancestor"]) == ("checks", "0123_check_name")
        sides = {leaf["side"]: (leaf["name"], leaf["path"]) for leaf in conflict["leaves"]}
        assert sides == {"local": ("0124_alter_check_name", name), "upstream": sides["upstream"]}
        assert sides["upstream"] == ("0124_alter_check_name", name)
        assert conflict["overlap"] == "field"
    assert "UU" in git(root, "status", "--porcelain") or "AA" in git(root, "status", "--porcelain")


def test_a_conflict_of_leaves_says_its_kind(repo: Path) -> None:
    merge_main(repo)
    _, doc = check_json(repo)
    assert [c["kind"] for c in doc["conflicts"]] == ["leaves"]


KARRIO_STYLE = """\
from django.conf import settings
from django.db import migrations


def get_dependencies():
    deps = [
        ("providers", "0001_initial"),
        ("manager", "0001_initial"),
    ]
    if getattr(settings, "MULTI_ORGANIZATIONS", False):
        deps.append(("orgs", "0026_remove_organization_system_carriers"))
    return deps


class Migration(migrations.Migration):

    dependencies = get_dependencies()

    operations = []
"""


def test_dependencies_built_by_a_function_are_evaluated(tmp_path: Path) -> None:
    # karrio: `dependencies = get_dependencies()` was taken for "the previous
    # migration by number", which here is upstream's 0002: the fork went unseen.
    base = {**app_files("providers", "0001_initial"), **app_files("manager", "0001_initial")}
    local: Files = {"providers/migrations/0003_rename_carrier.py": KARRIO_STYLE}
    upstream: Files = {
        "providers/migrations/0002_theirs.py": migration_text("[('providers', '0001_initial')]")
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        assert conflict_leaves(doc) == {"providers": ["0002_theirs", "0003_rename_carrier"]}
        (warning,) = [w for w in doc["warnings"] if w["kind"] == "dynamic-dependencies"]
        assert warning["path"] == "providers/migrations/0003_rename_carrier.py"
        assert (
            "orgs.0026_remove_organization_system_carriers only when a condition holds"
            in (warning["message"])
        )
    text = run_migmerge(root, "check").stdout
    assert "warning: providers/migrations/0003_rename_carrier.py: dependencies" in text


# What migrations import from the rest of the repository is read, from their own side.
RBAC = """\
def rebuild_role_hierarchy(apps, schema_editor):
    Role = apps.get_model("main", "Role")
    Role.objects.update(ancestors_dirty=True)
"""
OPERATIONS = """\
from django.db.migrations.operations.base import Operation


class AddWaffleFlags(Operation):
    reversible = True

    def __init__(self, flag_names):
        self.flag_names = flag_names

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        Flag = to_state.apps.get_model("waffle", "flag")
        for name in self.flag_names:
            Flag.objects.get_or_create(name=name)
"""
LOCAL_USES = """\
from django.db import migrations
from main.migrations._rbac import rebuild_role_hierarchy
from main.operations import AddWaffleFlags

MODELS = ("Team", "Organization")


def touch(apps, schema_editor):
    for name in MODELS:
        apps.get_model("main", name).objects.all()


class Migration(migrations.Migration):
    dependencies = [("main", "0001_initial")]
    operations = [
        migrations.RunPython(rebuild_role_hierarchy),
        migrations.RunPython(touch),
        AddWaffleFlags(["new_ui"]),
    ]
"""
UPSTREAM_USES = """\
from django.db import migrations
from main import sql
from . import _rbac

TABLE = "main_host"
forward_sql = "UPDATE " + TABLE + " SET enabled = true"


class Migration(migrations.Migration):
    dependencies = [("main", "0001_initial")]
    operations = [
        migrations.RunSQL(forward_sql),
        migrations.RunSQL(sql.FUNCS),
        migrations.RunPython(_rbac.fix_inventory),
    ]
"""


def test_what_migrations_import_is_read_from_their_own_side(tmp_path: Path) -> None:
    # awx (RunPython from _rbac), osf.io (a custom Operation), rapidpro (SQL in a constant).
    base: Files = {
        **app_files("main", "0001_initial"),
        "main/models.py": "",
        "main/migrations/_rbac.py": RBAC,
        "main/operations.py": OPERATIONS,
        "main/sql.py": "FUNCS = '''\nUPDATE main_job SET status = 'new';\n'''\n",
    }
    local: Files = {"main/migrations/0002_local.py": LOCAL_USES}
    upstream: Files = {
        "main/migrations/0002_upstream.py": UPSTREAM_USES,
        # Only upstream has it: read from upstream's side, not the local one.
        "main/migrations/_rbac.py": RBAC
        + '\n\ndef fix_inventory(apps, schema_editor):\n    apps.get_model("main", "Inventory")\n',
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        (conflict,) = doc["conflicts"]
        assert conflict["overlap"] == "none", conflict["reasons"]
        reason = conflict["reasons"][0]
        assert "organization, role, team, waffle.flag (0002_local)" in reason
        assert "inventory (0002_upstream)" in reason
        # The SQL was read: the tables it names are said (no model of main has them).
        assert any("table main_host" in r for r in conflict["reasons"])
        assert any("table main_job" in r for r in conflict["reasons"])


def test_a_fifo_named_like_a_migration_never_blocks(repo: Path) -> None:
    import os
    import subprocess
    import sys

    path = repo / "polls" / "migrations" / "0002_userprofile_age.py"
    path.unlink()
    os.mkfifo(path)
    proc = subprocess.run(
        [sys.executable, "-m", "migmerge", "check", "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    (warning,) = [
        w for w in doc["warnings"] if w["path"] == "polls/migrations/0002_userprofile_age.py"
    ]
    assert "not a regular file" in warning["message"]


def test_check_leaves_a_submodule_and_its_index_alone(repo: Path, tmp_path: Path) -> None:
    import os
    import time

    sub = tmp_path / "sub"
    sub.mkdir()
    git(sub, "init", "-q")
    (sub / "lib.py").write_text("x = 1\n")
    git(sub, "add", "lib.py")
    git(sub, "commit", "-q", "-m", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor")
    git(repo, "commit", "-q", "-m", "vendor")
    time.sleep(1.1)  # a racy-clean stat makes git want to refresh the submodule's index
    os.utime(repo / "vendor" / "lib.py")
    indexes = [repo / ".git" / "index", repo / ".git" / "modules" / "vendor" / "index"]
    before = [p.read_bytes() for p in indexes]
    for args in (("check",), ("check", "--against", "main")):
        proc = run_migmerge(repo, *args)
        assert proc.returncode in (0, 1), proc.stderr
    assert [p.read_bytes() for p in indexes] == before


def test_links_inside_the_repository_are_read_as_django_reads_them(tmp_path: Path) -> None:
    # A tracked symlinked migrations folder was ignored; a symlinked migration was
    # called unreadable ("Django could not load it either"): Django follows links.
    import os

    root = init_repo(tmp_path / "repo")
    base = app_files("polls", "0001_initial", "0002_base", folder="shared/polls_migrations")
    base["extras/0003_linked.py"] = migration_text(
        "[('polls', '0002_base')]", add_field("thing", "linked")
    )
    write_files(root, base)
    os.symlink("../shared/polls_migrations", root / "polls" / "migrations")
    os.symlink("/etc/hostname", root / "shared" / "polls_migrations" / "0003_outside.py")
    commit_all(root, "links")
    git(root, "checkout", "-q", "-b", "feature")
    linked = root / "shared" / "polls_migrations" / "0003_linked.py"
    os.symlink("../../extras/0003_linked.py", linked)
    commit_all(root, "a linked migration")
    git(root, "checkout", "-q", "main")
    theirs = migration_text("[('polls', '0002_base')]", add_field("thing", "theirs"))
    write_files(root, {"shared/polls_migrations/0003_theirs.py": theirs})
    commit_all(root, "theirs")
    git(root, "checkout", "-q", "feature")
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        (conflict,) = doc["conflicts"]
        assert conflict["directory"] in ("polls/migrations", "shared/polls_migrations")
        assert {leaf["name"] for leaf in conflict["leaves"]} == {"0003_linked", "0003_theirs"}
        assert conflict["app"] == "polls"
        out = [w for w in doc["warnings"] if "0003_outside.py" in (w.get("path") or "")]
        assert out and "out of the repository" in out[0]["message"], doc["warnings"]


def test_odd_names_and_git_states_are_told_not_crashed_on(tmp_path: Path) -> None:
    # A newline in the repository's path, a non-UTF-8 byte in a leaf's name,
    # garbage in MERGE_HEAD: each was exit 3.
    root = tmp_path / "repo\nwith a newline"
    base = app_files("polls", "0001_initial")
    upstream: Files = {
        "polls/migrations/0002_theirs.py": migration_text("[('polls', '0001_initial')]")
    }
    init_repo(root)
    write_files(root, base)
    commit_all(root, "base")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "polls" / "migrations").joinpath(os.fsdecode(b"0002_caf\xff.py")).write_text(
        migration_text("[('polls', '0001_initial')]")
    )
    commit_all(root, "odd name")
    git(root, "checkout", "-q", "main")
    write_files(root, upstream)
    commit_all(root, "theirs")
    git(root, "checkout", "-q", "feature")
    code, doc = check_json(root, "--against", "main")
    assert code == 1
    assert {leaf["side"] for leaf in doc["conflicts"][0]["leaves"]} == {"local", "upstream"}
    git(root, "merge", "-q", "--no-commit", "--no-ff", "main")
    (root / ".git" / "MERGE_HEAD").write_bytes(b"not a sha \xff\n")
    code, doc = check_json(root)  # JSON: the odd name escaped, the text is plain ASCII
    assert code == 1 and len(doc["conflicts"]) == 1


def test_a_shallow_clone_says_so(tmp_path: Path) -> None:
    base = app_files("polls", "0001_initial")
    local: Files = {"polls/migrations/0002_mine.py": migration_text("[('polls', '0001_initial')]")}
    upstream: Files = {
        "polls/migrations/0002_theirs.py": migration_text("[('polls', '0001_initial')]")
    }
    source = diverged(tmp_path / "source", base, local, upstream)
    clone = tmp_path / "clone"
    git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "--no-single-branch",
        f"file://{source}",
        str(clone),
    )
    proc = run_migmerge(clone, "check", "--against", "origin/main")
    assert proc.returncode == 2
    assert "shallow" in proc.stderr and "git fetch --unshallow" in proc.stderr


def test_a_migration_upstream_deleted_and_local_edited_is_read_as_deleted(
    tmp_path: Path,
) -> None:
    # data-hub-api: upstream squashed old migrations away while the branch edited one of
    # them; git leaves that file on disk (modify/delete) and it looked like a third leaf.
    base = app_files("company", "0001_initial", "0002_adviser", "0003_team")
    old = "company/migrations/0002_adviser.py"
    local: Files = {
        old: migration_text("[('company', '0001_initial')]", add_field("thing", "renamed")),
        "company/migrations/0004_mine.py": migration_text("[('company', '0003_team')]"),
    }
    upstream: Files = {
        # Unlike 0002_adviser, so that git sees no rename.
        "company/migrations/0002_redo.py": migration_text(
            "[('company', '0001_initial')]",
            "migrations.CreateModel('Team', ["
            + ", ".join(f"('f{i}', models.IntegerField(default={i}))" for i in range(12))
            + "]),",
        ),
        "company/migrations/0003_theirs.py": migration_text("[('company', '0002_redo')]"),
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    git(root, "checkout", "-q", "main")
    git(root, "rm", "-q", old, "company/migrations/0003_team.py")
    git(root, "commit", "-q", "-m", "redo")
    git(root, "checkout", "-q", "feature")
    for merging, (code, doc, stderr) in enumerate(replays(root)):
        assert code == 1, stderr
        assert conflict_leaves(doc) == {"company": ["0003_theirs", "0004_mine"]}
        kinds = {w["kind"]: w for w in doc["warnings"]}  # type: ignore[attr-defined]
        assert kinds["missing-dependency"]["path"] == "company/migrations/0004_mine.py"
        if merging:
            assert kinds["deleted-upstream"]["path"] == old
            assert kinds["deleted-upstream"]["message"] == (
                f"{old}: upstream deleted this migration and the local side changed it (git's "
                "modify/delete conflict); migmerge reads it as deleted, as upstream has it; "
                f"hint: `git rm {old}` to agree, or `git add {old}` to keep it"
            )
        else:
            assert "deleted-upstream" not in kinds
    assert (root / old).exists()


def test_a_newline_in_a_file_name_cannot_shift_the_sides(tmp_path: Path) -> None:
    # Issue 11, item 6: names went to `cat-file --batch-check` one a line, so a
    # newline in one shifted every answer after it and mislabelled the sides.
    base = app_files("polls", "0001_initial")
    odd = "polls/migrations/0002_a\nb.py"
    local: Files = {
        odd: migration_text("[('polls', '0001_initial')]"),
        "polls/migrations/0002_mine.py": migration_text("[('polls', '0001_initial')]"),
    }
    upstream: Files = {
        "polls/migrations/0002_theirs.py": migration_text("[('polls', '0001_initial')]")
    }
    root = diverged(tmp_path / "repo", base, local, upstream)
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        sides = {
            leaf["name"]: leaf["side"]
            for conflict in doc["conflicts"]
            for leaf in conflict["leaves"]  # type: ignore[attr-defined]
        }
        assert sides["0002_mine"] == "local" and sides["0002_theirs"] == "upstream", sides
        assert sides.get("0002_a\nb", "local") == "local", sides


@pytest.mark.parametrize("side", ["feature", "main"])
def test_against_with_several_merge_bases_predicts_what_git_merges(
    tmp_path: Path, side: str
) -> None:
    # rapidpro: 7 false conflicts of `--against` (a97627c52e, 1f6cfebe44, ...) and one with
    # a leaf too many (a2db5e187b): the prediction laid upstream's changes since one base over
    # the local tree, where 0002_expressions looked added by one side; git's merge, from both
    # bases, drops it. Both ways: local kept it, or local renamed it and upstream kept it.
    root = criss_cross(tmp_path / "repo")
    other = "main" if side == "feature" else "feature"
    git(root, "checkout", "-q", side)
    bases = git(root, "merge-base", "--all", "feature", "main").split()
    assert len(bases) == 2
    assert git(root, "merge-base", "feature", "main").strip() == bases[0]
    assert git(root, "ls-tree", "--name-only", bases[0], "msgs/migrations/").count(".py") == 2
    code, doc = check_json(root, "--against", other)
    git(root, "merge", "--no-commit", "--no-ff", "-q", other)
    assert not (root / "msgs/migrations/0002_expressions.py").exists()
    merged_code, merged = check_json(root)
    assert (code, doc["conflicts"]) == (merged_code, merged["conflicts"]) == (0, [])

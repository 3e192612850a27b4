"""Clashes no graph shows, end to end: real repositories, real Django, `migrate` proves them.

Each clash is built the way teams meet it (two branches, each green alone,
merged or rebased with real git), checked with the real CLI, and then run
with Django's own `migrate` on the merged tree: it fails where migmerge says
it would, and a clean pair of the same shape migrates.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.testing.projects import (
    chosen_at_run_time,
    make_django_project,
    makemigrations,
    manage,
    nothing_applied,
    write_app,
)
from tests.testing.repos import commit_all, git, isolated_git_env, run_migmerge

POLLS = """\
from django.db import models


class Choice(models.Model):
    label = models.CharField(max_length=10, unique=True)
"""
SHOP = """\
from django.db import models


class Item(models.Model):
    n = models.IntegerField(default=0)
"""
SHOP_FK = SHOP + (
    "    choice = models.ForeignKey('polls.Choice', on_delete=models.CASCADE, null=True)\n"
)
SHOP_TO_LABEL = SHOP + (
    "    choice = models.ForeignKey('polls.Choice', on_delete=models.CASCADE, null=True,"
    " to_field='label')\n"
)
POLLS_NO_CHOICE = "from django.db import models\n"
POLLS_OPTION = POLLS.replace("class Choice", "class Option")
POLLS_NO_LABEL = POLLS.replace(
    "    label = models.CharField(max_length=10, unique=True)\n", "    pass\n"
)
POLLS_VOTES = POLLS + "    votes = models.IntegerField(null=True)\n"

FILL = """\
from django.db import migrations


def fill(apps, schema_editor):
    Choice = apps.get_model("polls", "Choice")
    Choice.objects.create(label="yes")
    Item = apps.get_model("shop", "Item")
    Item.objects.create(n=Choice.objects.filter(label="yes").count())


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial"), ("polls", "0001_initial")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """polls (Choice) and shop (Item), each with its initial migration, committed on main."""
    where = tmp_path_factory.mktemp("clash")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_git_env(where / "home").items():
            mp.setenv(key, value)
        root = make_django_project(where / "proj", {"polls": POLLS, "shop": SHOP})
        makemigrations(root, "polls")
        makemigrations(root, "shop")
        commit_all(root, "initial")
        (root / "db.sqlite3").unlink(missing_ok=True)
        yield root


@pytest.fixture
def repo(base: Path, tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(base, target, symlinks=True)
    return target


def branch(root: Path, name: str, app: str, models: str, *, start: str = "main") -> None:
    """Commit on branch `name` (made from `start`) the migration makemigrations writes."""
    git(root, "checkout", "-q", "-B", name, start)
    write_app(root, app, models)
    makemigrations(root, app)
    commit_all(root, f"{name}: {app}")


def written(root: Path, app: str, name: str, models: str, operation: str) -> None:
    """Write a migration by hand (what makemigrations would ask a person about), commit it."""
    write_app(root, app, models)
    (root / app / "migrations" / f"{name}.py").write_text(
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
        f"    dependencies = [('{app}', '0001_initial')]\n"
        f"    operations = [{operation}]\n"
    )
    commit_all(root, f"{app}: {name}")


def data_branch(root: Path, name: str) -> None:
    git(root, "checkout", "-q", "-B", name, "main")
    (root / "shop" / "migrations" / "0002_fill.py").write_text(FILL)
    commit_all(root, f"{name}: data")


def merged(root: Path) -> None:
    """Merge main into feature for real (models.py: keep both sides' own files)."""
    git(root, "checkout", "-q", "feature")
    git(root, "merge", "-q", "-X", "ours", "main", "-m", "merge main")
    (root / "db.sqlite3").unlink(missing_ok=True)


def subprocess_git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git as a person does, hooks and all; git sends hooks' output to stderr."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def check(root: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = run_migmerge(root, "check", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def migrate(root: Path) -> tuple[bool, str]:
    """Run Django's migrate on a fresh database (the merged models need not agree)."""
    (root / "db.sqlite3").unlink(missing_ok=True)
    proc = manage(root, "migrate", "--skip-checks", check=False)
    return proc.returncode == 0, proc.stdout + proc.stderr


def cross_app(doc: dict) -> list[dict]:  # type: ignore[type-arg]
    return [c for c in doc["conflicts"] if c["kind"] == "cross-app"]


# cross-app ----------------------------------------------------------------------


def test_a_model_deleted_upstream_that_local_points_a_relation_at(repo: Path) -> None:
    branch(repo, "feature", "shop", SHOP_FK)
    branch(repo, "main", "polls", POLLS_NO_CHOICE)
    merged(repo)
    code, doc = check(repo)
    assert code == 1
    (conflict,) = doc["conflicts"]
    assert (conflict["kind"], conflict["app"], conflict["strategy"]) == ("cross-app", "shop", None)
    user, taker = conflict["leaves"]
    assert (user["app"], user["name"], user["side"]) == ("shop", "0002_item_choice", "local")
    assert (taker["app"], taker["name"], taker["side"]) == (
        "polls",
        "0002_delete_choice",
        "upstream",
    )
    assert user["operations"] == [{"op": "AddField", "model": "item", "field": "choice"}]
    assert taker["operations"] == [{"op": "DeleteModel", "model": "choice", "field": None}]
    assert conflict["reasons"][0] == (
        "shop.0002_item_choice (AddField item.choice) points a relation at model choice, "
        "deleted by DeleteModel"
    )
    ok, output = migrate(repo)
    assert not ok and "Related model 'polls.choice' cannot be resolved" in output


def test_a_clean_pair_of_the_same_shape_migrates(repo: Path) -> None:
    branch(repo, "feature", "shop", SHOP_FK)
    branch(repo, "main", "polls", POLLS_VOTES)
    merged(repo)
    code, doc = check(repo)
    assert (code, doc["conflicts"], doc["warnings"]) == (0, [], [])
    ok, output = migrate(repo)
    assert ok, output


def test_check_against_predicts_it_before_the_merge(repo: Path) -> None:
    git(repo, "checkout", "-q", "main")
    rename = "migrations.RenameModel(old_name='Choice', new_name='Option')"
    written(repo, "polls", "0002_rename_choice_option", POLLS_OPTION, rename)
    branch(repo, "feature", "shop", SHOP_FK, start="main~1")
    code, doc = check(repo, "--against", "main")
    assert code == 1
    (conflict,) = cross_app(doc)
    assert "renamed to option by RenameModel" in conflict["reasons"][0]
    proc = run_migmerge(repo, "check", "--against", "main")
    assert "shop (shop/migrations): uses what polls takes away" in proc.stdout
    assert "polls.0002_rename_choice_option" in proc.stdout
    merged(repo)
    ok, output = migrate(repo)
    assert not ok and "polls.choice" in output


def test_runpython_that_uses_a_field_removed_upstream(repo: Path) -> None:
    data_branch(repo, "feature")
    branch(repo, "main", "polls", POLLS_NO_LABEL)
    merged(repo)
    code, doc = check(repo)
    (conflict,) = cross_app(doc)
    assert code == 1
    assert conflict["reasons"][0] == (
        "shop.0002_fill (RunPython) reaches with get_model and names field choice.label, "
        "removed by RemoveField"
    )
    ok, output = migrate(repo)
    assert not ok and "label" in output


def test_to_field_on_a_field_renamed_upstream(repo: Path) -> None:
    branch(repo, "feature", "shop", SHOP_TO_LABEL)
    git(repo, "checkout", "-q", "main")
    rename = "migrations.RenameField(model_name='choice', old_name='label', new_name='title')"
    written(repo, "polls", "0002_rename", POLLS.replace("label =", "title ="), rename)
    merged(repo)
    code, doc = check(repo)
    (conflict,) = cross_app(doc)
    assert "field choice.label, renamed to title by RenameField" in conflict["reasons"][0]
    ok, output = migrate(repo)
    assert not ok and "label" in output


def test_a_dependency_on_a_migration_renamed_upstream(repo: Path) -> None:
    branch(repo, "main", "polls", POLLS_VOTES)  # polls 0002_choice_votes
    branch(repo, "feature", "shop", SHOP_FK)  # depends on polls 0002_choice_votes
    git(repo, "checkout", "-q", "main")
    folder = repo / "polls" / "migrations"
    git(repo, "mv", "polls/migrations/0002_choice_votes.py", "polls/migrations/0002_votes.py")
    assert (folder / "0002_votes.py").exists()
    commit_all(repo, "main: rename the migration")
    merged(repo)
    code, doc = check(repo)
    (conflict,) = cross_app(doc)
    assert conflict["reasons"][0] == (
        "shop.0002_item_choice depends on polls.0002_choice_votes, "
        "which the upstream side renamed to 0002_votes"
    )
    assert [leaf["name"] for leaf in conflict["leaves"]] == ["0002_item_choice", "0002_votes"]
    ok, output = migrate(repo)
    assert not ok and "0002_choice_votes" in output


def test_resolve_refuses_and_names_both_migrations(repo: Path) -> None:
    branch(repo, "feature", "shop", SHOP_FK)
    branch(repo, "main", "polls", POLLS_NO_CHOICE)
    merged(repo)
    before = git(repo, "status", "--porcelain")
    for args in ((), ("--strategy", "merge", "--force")):
        proc = run_migmerge(repo, "resolve", "--yes", *args)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "shop.0002_item_choice (local) uses what polls.0002_delete_choice (upstream)" in (
            proc.stderr
        )
        assert "hint: edit shop/migrations/0002_item_choice.py" in proc.stderr
    assert git(repo, "status", "--porcelain") == before


def test_the_post_merge_hook_reports_it(repo: Path) -> None:
    branch(repo, "feature", "shop", SHOP_FK)
    branch(repo, "main", "polls", POLLS_NO_CHOICE)
    git(repo, "checkout", "-q", "feature")
    assert run_migmerge(repo, "install-hooks", "--hook", "post-merge").returncode == 0
    proc = run_migmerge(repo, "hook", "post-merge", "0")
    assert proc.stdout == ""  # nothing merged yet
    merge = subprocess_git(repo, "merge", "-X", "ours", "main", "-m", "merge main")
    assert merge.returncode == 0, merge.stderr
    said = merge.stdout + merge.stderr  # what the installed hook printed under git merge
    assert "shop (shop/migrations): uses what polls takes away" in said
    assert "polls.0002_delete_choice (upstream)" in said
    proc = run_migmerge(repo, "hook", "post-merge", "0")
    assert "shop (shop/migrations): uses what polls takes away" in proc.stdout
    assert "polls.0002_delete_choice (upstream)" in proc.stdout


# the same thing twice in one line ------------------------------------------------

REWIRED = "('polls', '0002_choice_votes'),"


def both_add_votes(root: Path) -> None:
    """main adds Choice.votes as 0002_choice_votes; feature adds the same field as 0002_votes."""
    branch(root, "main", "polls", POLLS_VOTES)
    git(root, "checkout", "-q", "-B", "feature", "main~1")
    write_app(root, "polls", POLLS_VOTES)
    makemigrations(root, "polls", "votes")
    commit_all(root, "feature: votes")


def duplicates(doc: dict) -> list[dict]:  # type: ignore[type-arg]
    return [w for w in doc["warnings"] if w["kind"] == "duplicate-operation"]


def test_keep_names_puts_the_same_field_twice_in_one_line(repo: Path) -> None:
    both_add_votes(repo)
    merged(repo)
    nothing_applied(repo)  # known: nothing applied (unknown would be refused)
    proc = run_migmerge(repo, "resolve", "--strategy", "renumber", "--keep-names", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert REWIRED in (repo / "polls" / "migrations" / "0002_votes.py").read_text()
    code, doc = check(repo)
    assert (code, doc["conflicts"]) == (0, [])
    (warning,) = duplicates(doc)
    assert warning["app"] == "polls"
    assert warning["path"] == "polls/migrations/0002_votes.py"
    assert warning["message"] == (
        "polls: 0002_votes runs AddField on field choice.votes, which 0002_choice_votes already "
        "added, and 0002_choice_votes comes first in the same line of migrations: migrate would "
        "fail (duplicate column); remove the operation from 0002_votes"
    )
    ok, output = migrate(repo)
    assert not ok and "duplicate column name: votes" in output


def test_after_a_rebase_the_post_rewrite_hook_warns(repo: Path) -> None:
    both_add_votes(repo)
    # What --keep-names writes, committed on the branch before it is rebased onto main.
    path = repo / "polls" / "migrations" / "0002_votes.py"
    text = path.read_text()
    path.write_text(text.replace("('polls', '0001_initial')", "('polls', '0002_choice_votes')"))
    commit_all(repo, "feature: after main's votes")
    assert run_migmerge(repo, "install-hooks", "--hook", "post-rewrite").returncode == 0
    proc = subprocess_git(repo, "rebase", "main")
    assert proc.returncode == 0, proc.stderr
    assert "warning: polls: 0002_votes runs AddField on field choice.votes" in proc.stderr
    code, doc = check(repo)
    assert code == 0 and doc["mode"] == "rebase" and len(duplicates(doc)) == 1
    # Later, a plain working tree: main's migration is history now, and still found.
    (repo / "README.md").write_text("later\n")
    commit_all(repo, "later")
    code, doc = check(repo)
    assert code == 0 and doc["mode"] == "worktree" and len(duplicates(doc)) == 1
    ok, output = migrate(repo)
    assert not ok and "duplicate column name: votes" in output


def test_a_field_added_again_by_a_list_chosen_at_run_time_is_a_duplicate(repo: Path) -> None:
    # `operations = [] if SKIP else [AddField(votes)]` adds votes whenever SKIP is false.
    both_add_votes(repo)
    path = repo / "polls" / "migrations" / "0002_votes.py"
    text = path.read_text().replace("('polls', '0001_initial')", "('polls', '0002_choice_votes')")
    path.write_text(chosen_at_run_time(text))
    commit_all(repo, "feature: after main's votes, unless SKIP")
    git(repo, "rebase", "-q", "main")
    code, doc = check(repo)
    (warning,) = duplicates(doc)
    assert warning["path"] == "polls/migrations/0002_votes.py"
    assert (
        "0002_votes runs AddField on field choice.votes, which 0002_choice_votes"
        in (warning["message"])
    )
    ok, output = migrate(repo)
    assert not ok and "duplicate column name: votes" in output


def test_two_different_fields_in_one_line_are_fine(repo: Path) -> None:
    branch(repo, "main", "polls", POLLS_VOTES)
    branch(repo, "feature", "polls", POLLS_VOTES + "    weight = models.IntegerField(default=1)\n")
    git(repo, "rebase", "-q", "main")
    code, doc = check(repo, "--against", "main")
    assert (code, duplicates(doc)) == (0, [])
    ok, output = migrate(repo)
    assert ok, output


# rewriting what the default branch has ---------------------------------------------


def with_remote(root: Path) -> Path:
    """A bare remote `origin` holding main, fetched, with origin/HEAD set as a clone has it."""
    remote = root.parent / "remote.git"
    git(root.parent, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    git(root, "fetch", "-q", "origin")
    git(root, "remote", "set-head", "origin", "main")
    return remote


def rewrites(doc: dict) -> list[dict]:  # type: ignore[type-arg]
    return [w for w in doc["warnings"] if w["kind"] == "rewrites-shared-migration"]


def test_editing_deleting_and_renaming_a_migration_of_main(repo: Path) -> None:
    branch(repo, "main", "polls", POLLS_VOTES)
    with_remote(repo)
    main = git(repo, "rev-parse", "main").strip()
    git(repo, "checkout", "-q", "-b", "feature")
    folder = repo / "polls" / "migrations"
    initial = folder / "0001_initial.py"
    initial.write_text(initial.read_text().replace("max_length=10", "max_length=20"))
    git(
        repo, "mv", "polls/migrations/0002_choice_votes.py", "polls/migrations/0003_choice_votes.py"
    )
    (repo / "shop" / "migrations" / "0001_initial.py").unlink()
    commit_all(repo, "feature: rewrite history")
    code, doc = check(repo, "--against", "origin/main")
    found = {w["path"]: w for w in rewrites(doc)}
    assert sorted(found) == [
        "polls/migrations/0001_initial.py",
        "polls/migrations/0002_choice_votes.py",
        "shop/migrations/0001_initial.py",
    ]
    assert {w["commit"] for w in found.values()} == {main}
    assert found["polls/migrations/0002_choice_votes.py"]["message"] == (
        f"polls/migrations/0002_choice_votes.py is on the default branch origin/main "
        f"(at {main[:12]}) and this branch renames it to 0003_choice_votes: databases that "
        "applied it keep the old version; leave it as it is there and add a new migration instead"
    )
    assert "and this branch edits it" in found["polls/migrations/0001_initial.py"]["message"]
    assert "and this branch deletes it" in found["shop/migrations/0001_initial.py"]["message"]
    # The default branch's own later edit of a migration is not a branch's doing.
    git(repo, "checkout", "-q", "-b", "other", "main")
    git(repo, "checkout", "-q", "main")
    initial.write_text(initial.read_text() + "# edited on main\n")
    commit_all(repo, "main: edit")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "checkout", "-q", "other")
    code, doc = check(repo, "--against", "origin/main")
    assert rewrites(doc) == []


def test_new_migrations_are_no_rewrite(repo: Path) -> None:
    with_remote(repo)
    branch(repo, "feature", "polls", POLLS_VOTES)
    code, doc = check(repo, "--against", "origin/main")
    assert (code, doc["warnings"]) == (0, [])


def test_pre_push_warns_but_lets_the_push_through(repo: Path) -> None:
    remote = with_remote(repo)
    git(repo, "checkout", "-q", "-b", "feature")
    initial = repo / "polls" / "migrations" / "0001_initial.py"
    initial.write_text(initial.read_text().replace("max_length=10", "max_length=20"))
    commit_all(repo, "feature: edit a shared migration")
    assert run_migmerge(repo, "install-hooks", "--hook", "pre-push").returncode == 0
    proc = subprocess_git(repo, "push", "origin", "feature")
    assert proc.returncode == 0, proc.stderr
    assert (
        "migmerge: warning: polls/migrations/0001_initial.py is on the default branch origin/main"
    ) in proc.stderr
    assert git(remote, "rev-parse", "feature").strip() == git(repo, "rev-parse", "HEAD").strip()


def test_pre_push_blocks_a_branch_whose_relation_points_at_a_model_main_deleted(
    repo: Path,
) -> None:
    branch(repo, "main", "polls", POLLS_NO_CHOICE)
    with_remote(repo)
    branch(repo, "feature", "shop", SHOP_FK, start="main~1")
    assert run_migmerge(repo, "install-hooks", "--hook", "pre-push").returncode == 0
    proc = subprocess_git(repo, "push", "origin", "feature")
    assert proc.returncode != 0
    assert "shop (shop/migrations): uses what polls takes away" in proc.stderr
    assert "polls.0002_delete_choice (origin/main)" in proc.stderr
    assert "feature" not in git(repo.parent / "remote.git", "branch", "--list")

"""Hooks end to end: real git merge, rebase, pull and push through installed hook.

One "world" is built per module: a bare remote, the user's clone `work` and a
teammate's clone `other`. The teammate has pushed `0002_choice_votes` to main;
`work` has fetched it and holds `feature` (with its own `0002_question_pub_date`,
a conflict with origin/main) and `docs` (no migration touched). Each test
copies the world and drives real git commands in the copy.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import select
import shlex
import shutil
import stat
import subprocess
import termios
import time
from pathlib import Path

import pytest

from migmerge.commands import hook
from migmerge.commands import install as installer
from migmerge.errors import MigmergeError
from migmerge.reading import pushed
from tests.testing.repos import PYTHON, ROOT, criss_cross, git, isolated_git_env, run_migmerge

INITIAL = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Question",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("text", models.CharField(max_length=200)),
            ],
        ),
        migrations.CreateModel(
            name="Choice",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("label", models.CharField(max_length=200)),
            ],
        ),
    ]
"""

ADD_FIELD = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("polls", "{parent}")]

    operations = [
        migrations.AddField(
            model_name="{model}",
            name="{field}",
            field=models.IntegerField(default=0),
        ),
    ]
"""

# Read at import, before the tests' own HOME: pip's download cache lives there.
REAL_HOME = Path(os.path.expanduser("~"))
LOCAL = "0002_question_pub_date"
UPSTREAM = "0002_choice_votes"


def add_field(root: Path, name: str, model: str, field: str, parent: str = "0001_initial") -> None:
    """Write polls/migrations/<name>.py adding `field` to `model`."""
    text = ADD_FIELD.format(parent=parent, model=model, field=field)
    (root / "polls" / "migrations" / f"{name}.py").write_text(text)


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def run_git(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a git command that fires hooks, without a controlling terminal."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # no /dev/tty: an "ask" hook must not wait for a person
    )


def build_world(world: Path) -> None:
    git(world, "init", "-q", "--bare", "-b", "main", "remote.git")
    seed = world / "seed"
    (seed / "polls" / "migrations").mkdir(parents=True)
    git(seed, "init", "-q", "-b", "main")
    (seed / "polls" / "__init__.py").write_text("")
    (seed / "polls" / "migrations" / "__init__.py").write_text("")
    (seed / "polls" / "migrations" / "0001_initial.py").write_text(INITIAL)
    (seed / "README.md").write_text("polls\n")
    commit(seed, "initial")
    git(seed, "push", "-q", str(world / "remote.git"), "main")
    shutil.rmtree(seed)
    for name in ("work", "other"):
        git(world, "clone", "-q", "remote.git", name)
        # relative, so that a copied world pushes to its own remote
        git(world / name, "remote", "set-url", "origin", "../remote.git")
    other = world / "other"
    add_field(other, UPSTREAM, "choice", "votes")
    commit(other, "upstream: votes")
    git(other, "push", "-q", "origin", "main")
    work = world / "work"
    git(work, "checkout", "-q", "-b", "feature")
    add_field(work, LOCAL, "question", "pub_date")
    commit(work, "local: pub_date")
    git(work, "checkout", "-q", "-b", "docs", "main")
    (work / "README.md").write_text("polls, documented\n")
    commit(work, "docs only")
    git(work, "checkout", "-q", "feature")
    git(work, "fetch", "-q", "origin")


@pytest.fixture(scope="module")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("world")
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_git_env(home).items():
            mp.setenv(key, value)
        for name in [n for n in os.environ if n.startswith("GIT_DIR")]:
            mp.delenv(name)
        build_world(world)
    return world


@pytest.fixture
def world(world_template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "world"
    shutil.copytree(world_template, copy, symlinks=True)
    return copy


@pytest.fixture
def work(world: Path) -> Path:
    return world / "work"


def nothing_applied_sqlite(path: Path) -> None:
    """A SQLite database holding Django's django_migrations table, empty (ignored by git)."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute(
            'CREATE TABLE "django_migrations" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,'
            ' "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL,'
            ' "applied" datetime NOT NULL)'
        )
    conn.close()
    (path.parent / ".git" / "info" / "exclude").write_text(path.name + "\n")


def install(root: Path, *names: str) -> str:
    """Install the hooks the way a user does, with the real CLI; return what it printed."""
    proc = run_migmerge(root, "install-hooks", *(f"--hook={name}" for name in names))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def uninstall(root: Path) -> str:
    proc = run_migmerge(root, "uninstall-hooks")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def install_direct(root: Path, *names: str) -> None:
    installer.install_hooks(repo=str(root), hooks=names, out=lambda line: None)


def write_hook(path: Path, body: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = f"#!/bin/sh\n{body}\n".encode()
    path.write_bytes(data)
    path.chmod(0o755)
    return data


def remote_branches(world: Path) -> str:
    return git(
        world / "remote.git", "for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags"
    )


# ------------------------------------------------------------ installing


def test_install_writes_executable_scripts_with_marker_and_interpreter(work: Path) -> None:
    printed = install(work)
    for name in installer.HOOK_NAMES:
        path = work / ".git" / "hooks" / name
        text = path.read_text()
        assert text.splitlines()[1] == installer.MARKER
        assert f"INSTALL_PYTHON={PYTHON}" in text
        assert path.stat().st_mode & stat.S_IXUSR
        assert f"installed {name}" in printed
    assert not list((work / ".git" / "hooks").glob("*.legacy"))


def test_install_only_named_hooks_and_refuse_unknown(work: Path) -> None:
    install(work, "pre-push")
    assert (work / ".git" / "hooks" / "pre-push").exists()
    assert not (work / ".git" / "hooks" / "post-merge").exists()
    with pytest.raises(MigmergeError, match="unknown hook 'pre-commit'"):
        install_direct(work, "pre-commit")
    assert run_migmerge(work, "install-hooks", "--hook", "pre-commit").returncode == 2


def test_shipped_shims_match_the_template() -> None:
    for name in installer.HOOK_NAMES:
        shipped = ROOT / "hooks" / name
        assert shipped.read_text() == installer.render_hook(name, None, None)
        assert shipped.stat().st_mode & stat.S_IXUSR


def test_hooks_dir_follows_core_hooks_path_relative_to_the_work_tree(work: Path) -> None:
    git(work, "config", "core.hooksPath", ".githooks")
    assert installer.hooks_dir(work) == work / ".githooks"
    install(work)
    assert installer.is_migmerge_hook(work / ".githooks" / "pre-push")
    assert not (work / ".git" / "hooks" / "pre-push").exists()


def test_hooks_dir_of_a_linked_worktree_is_the_common_one(world: Path, work: Path) -> None:
    git(work, "worktree", "add", "-q", "-b", "feature2", "../wt", "feature")
    assert installer.hooks_dir(world / "wt") == work / ".git" / "hooks"
    install(world / "wt")
    assert installer.is_migmerge_hook(work / ".git" / "hooks" / "pre-push")


def test_install_twice_keeps_the_foreign_hook_once(work: Path) -> None:
    hook = work / ".git" / "hooks" / "post-merge"
    original = write_hook(hook, "echo foreign")
    first = install(work)
    second = install(work)
    assert "kept the existing hook" in first and "kept" not in second
    assert (work / ".git" / "hooks" / "post-merge.legacy").read_bytes() == original
    assert installer.is_migmerge_hook(hook)
    assert not (work / ".git" / "hooks" / "post-merge.legacy.legacy").exists()


def test_install_refuses_to_clobber_a_kept_hook(work: Path) -> None:
    hook = work / ".git" / "hooks" / "pre-push"
    write_hook(hook, "echo first")
    install(work, "pre-push")
    write_hook(hook, "echo second, replacing migmerge's")
    with pytest.raises(MigmergeError, match="pre-push.legacy exists too"):
        install_direct(work, "pre-push")
    assert run_migmerge(work, "install-hooks").returncode == 2
    assert b"first" in (work / ".git" / "hooks" / "pre-push.legacy").read_bytes()


def test_uninstall_restores_the_original_hooks_byte_for_byte(work: Path) -> None:
    folder = work / ".git" / "hooks"
    original = write_hook(folder / "pre-push", "# keep me\r\necho 'é' >&2")
    (folder / "pre-push").chmod(0o750)
    before = sorted(p.name for p in folder.iterdir())
    install(work)
    printed = uninstall(work)
    assert (folder / "pre-push").read_bytes() == original
    assert stat.S_IMODE((folder / "pre-push").stat().st_mode) == 0o750
    assert sorted(p.name for p in folder.iterdir()) == before
    assert "pre-push.legacy is back as pre-push" in printed


def test_uninstall_leaves_a_foreign_hook_alone(work: Path) -> None:
    hook = work / ".git" / "hooks" / "post-rewrite"
    data = write_hook(hook, "echo not ours")
    uninstall(work)
    assert hook.read_bytes() == data


# ------------------------------------------------------------ pre-push


def test_conflicting_new_branch_push_is_blocked(world: Path, work: Path) -> None:
    install(work)
    proc = run_git(work, "push", "origin", "feature")
    assert proc.returncode != 0
    assert "polls" in proc.stderr
    assert LOCAL in proc.stderr and UPSTREAM in proc.stderr
    assert "origin/main" in proc.stderr and "migmerge resolve" in proc.stderr
    assert "refs/heads/feature" not in remote_branches(world)


def test_conflicting_push_onto_an_existing_branch_is_blocked(world: Path, work: Path) -> None:
    git(work, "push", "-q", "origin", "origin/main:refs/heads/feature")  # remote feature has votes
    git(work, "fetch", "-q", "origin")
    install(work)
    proc = run_git(work, "push", "--force", "origin", "feature")
    assert proc.returncode != 0
    assert "origin/feature (its remote branch)" in proc.stderr and LOCAL in proc.stderr


def test_clean_push_passes(world: Path, work: Path) -> None:
    git(work, "checkout", "-q", "-b", "fresh", "origin/main")
    add_field(work, "0003_question_rank", "question", "rank", parent=UPSTREAM)
    commit(work, "rank")
    install(work)
    proc = run_git(work, "push", "origin", "fresh")
    assert proc.returncode == 0, proc.stderr
    assert "refs/heads/fresh" in remote_branches(world)


def test_push_after_criss_cross_merges_predicts_what_git_merges(tmp_path: Path) -> None:
    # Several merge bases with origin/main (rapidpro's renumbered migrations): the
    # prediction from one base saw a migration git's merge drops, and blocked the push.
    work = criss_cross(tmp_path / "work")
    git(tmp_path, "clone", "-q", "--bare", str(work), "remote.git")
    git(work, "remote", "add", "origin", str(tmp_path / "remote.git"))
    git(work, "fetch", "-q", "origin")
    git(work, "branch", "-q", "--set-upstream-to=origin/main", "feature")
    (work / "NOTES.md").write_text("more\n")
    git(work, "add", "NOTES.md")
    git(work, "commit", "-q", "-m", "more")
    install(work)
    proc = run_git(work, "push", "origin", "feature:refs/heads/topic")
    assert proc.returncode == 0, proc.stderr
    assert "polls" not in proc.stderr and "msgs" not in proc.stderr, proc.stderr


def test_push_without_migration_changes_skips_analysis(world: Path, work: Path) -> None:
    # origin/main gets a migration migmerge cannot read: analysing would fail the push.
    other = world / "other"
    (other / "polls" / "migrations" / "0003_broken.py").write_text("class Migration(:\n")
    commit(other, "broken")
    git(other, "push", "-q", "origin", "main")
    git(work, "fetch", "-q", "origin")
    install(work)
    proc = run_git(work, "push", "origin", "docs")
    assert proc.returncode == 0, proc.stderr
    assert "refs/heads/docs" in remote_branches(world)


def test_conflict_already_upstream_does_not_block_other_work(world: Path, work: Path) -> None:
    other = world / "other"
    add_field(other, "0003_choice_rank", "choice", "rank", parent=UPSTREAM)
    add_field(other, "0003_choice_weight", "choice", "weight", parent=UPSTREAM)
    commit(other, "two leaves on main, pushed past the hook")
    git(other, "push", "-q", "origin", "main")
    git(work, "fetch", "-q", "origin")
    git(work, "checkout", "-q", "-b", "shop", "origin/main~1")  # before the two leaves
    (work / "shop" / "migrations").mkdir(parents=True)
    (work / "shop" / "__init__.py").write_text("")
    (work / "shop" / "migrations" / "__init__.py").write_text("")
    (work / "shop" / "migrations" / "0001_initial.py").write_text(INITIAL.replace("polls", "shop"))
    commit(work, "shop app")
    install(work)
    proc = run_git(work, "push", "origin", "shop")
    assert proc.returncode == 0, proc.stderr
    assert "refs/heads/shop" in remote_branches(world)


def test_branch_deletion_and_tag_push_pass(world: Path, work: Path) -> None:
    git(work, "push", "-q", "origin", "docs")
    install(work)
    git(work, "tag", "v1", "feature")  # a tag on the conflicting commit
    assert run_git(work, "push", "origin", "v1").returncode == 0
    assert run_git(work, "push", "origin", "--delete", "docs").returncode == 0
    assert remote_branches(world).split() == ["refs/heads/main", "refs/tags/v1"]


def test_skip_variable_and_no_verify_bypass(world: Path, work: Path) -> None:
    install(work)
    skipped = run_git(work, "push", "origin", "feature", env={"MIGMERGE_SKIP": "1"})
    assert skipped.returncode == 0, skipped.stderr
    git(work, "branch", "feature-b", "feature")
    assert run_git(work, "push", "--no-verify", "origin", "feature-b").returncode == 0
    assert "refs/heads/feature-b" in remote_branches(world)


def test_skip_variable_still_runs_the_foreign_hook(work: Path) -> None:
    write_hook(work / ".git" / "hooks" / "pre-push", "echo foreign-ran >&2; exit 1")
    install(work)
    proc = run_git(work, "push", "origin", "docs", env={"MIGMERGE_SKIP": "1"})
    assert proc.returncode != 0 and "foreign-ran" in proc.stderr


def test_unfetched_remote_commits_pass_with_a_hint(world: Path, work: Path) -> None:
    git(work, "checkout", "-q", "-b", "fresh", "origin/main")
    add_field(work, "0003_question_rank", "question", "rank", parent=UPSTREAM)
    commit(work, "rank: no conflict with main")
    git(work, "push", "-q", "origin", "fresh")
    other = world / "other"
    git(other, "fetch", "-q", "origin")
    git(other, "checkout", "-q", "-b", "fresh", "origin/fresh")
    (other / "README.md").write_text("changed by the teammate\n")
    commit(other, "teammate")
    git(other, "push", "-q", "origin", "fresh")
    git(work, "commit", "-q", "--allow-empty", "-m", "more")
    install(work)
    proc = run_git(work, "push", "--force", "origin", "fresh")
    assert proc.returncode == 0, proc.stderr
    assert "not fetched" in proc.stderr and "git fetch origin" in proc.stderr


def test_a_pushed_branch_is_checked_against_where_it_will_land(world: Path, work: Path) -> None:
    # The pull-request workflow: feature was pushed before main gained a sibling
    # migration; its own remote copy has no conflict, the branch it lands on has.
    git(work, "push", "-q", "--no-verify", "origin", "feature")
    git(work, "fetch", "-q", "origin")
    (work / "README.md").write_text("polls, reviewed\n")
    commit(work, "review fixes, no migration")
    install(work)
    proc = run_git(work, "push", "origin", "feature")
    assert proc.returncode != 0
    assert (
        "migmerge: pushing feature would conflict with origin/main"
        " (the default branch, where it will land) in polls:" in proc.stderr
    )
    assert "origin/feature" not in proc.stderr  # its remote branch is no conflict
    assert (
        git(world / "remote.git", "rev-parse", "feature").strip()
        != git(work, "rev-parse", "feature").strip()
    )


def test_each_conflicting_branch_is_named_once(world: Path, work: Path) -> None:
    git(work, "push", "-q", "origin", "origin/main:refs/heads/feature")  # remote feature = main
    git(work, "fetch", "-q", "origin")
    install(work)
    proc = run_git(work, "push", "--force", "origin", "feature")
    assert proc.returncode != 0
    assert proc.stderr.count("migmerge: pushing feature would conflict") == 1
    assert "with origin/feature (its remote branch) in polls" in proc.stderr


def test_every_pushed_ref_is_checked(world: Path, work: Path) -> None:
    git(work, "checkout", "-q", "-b", "fresh", "origin/main")
    install(work)
    proc = run_git(work, "push", "origin", "docs", "fresh", "feature")
    assert proc.returncode != 0
    assert "pushing feature would conflict with origin/main" in proc.stderr
    assert "pushing docs" not in proc.stderr and "pushing fresh" not in proc.stderr
    assert remote_branches(world).split() == ["refs/heads/main"]  # git pushes all or nothing


def test_foreign_pre_push_sees_the_same_input_and_can_block(world: Path, work: Path) -> None:
    seen = world / "seen.txt"
    write_hook(work / ".git" / "hooks" / "pre-push", f'echo "$@" > {seen}; cat >> {seen}')
    install(work)
    git(work, "checkout", "-q", "-b", "fresh", "origin/main")
    proc = run_git(work, "push", "origin", "fresh")
    assert proc.returncode == 0, proc.stderr
    sha = git(work, "rev-parse", "fresh").strip()
    assert (
        seen.read_text()
        == f"origin ../remote.git\nrefs/heads/fresh {sha} refs/heads/fresh {'0' * 40}\n"
    )
    write_hook(work / ".git" / "hooks" / "pre-push.legacy", "exit 3")
    git(work, "commit", "-q", "--allow-empty", "-m", "more")
    assert run_git(work, "push", "origin", "fresh").returncode != 0


def test_foreign_pre_push_input_reaches_migmerge_too(work: Path) -> None:
    write_hook(work / ".git" / "hooks" / "pre-push", "cat > /dev/null")
    install(work)
    proc = run_git(work, "push", "origin", "feature")
    assert proc.returncode != 0 and LOCAL in proc.stderr


# Modules a hook's Python would import from the work tree without -I: the
# standard library's (git.py needs fnmatch, install.py shlex, nearly all types)
# and migmerge itself.
SHADOWS = ("fnmatch", "shlex", "types", "migmerge")


def plant_shadows(root: Path, marker: Path) -> None:
    """Commit modules that write `marker` when imported (builtins only: nothing to import)."""
    for name in SHADOWS:
        code = f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n"
        (root / f"{name}.py").write_text(code)
    commit(root, "modules named like the standard library's")


@pytest.mark.parametrize("installed", [False, True], ids=["checkout", "installed"])
def test_hooks_never_import_the_repository_s_own_modules(
    world: Path, work: Path, installed: bool
) -> None:
    marker = world / "imported.txt"
    plant_shadows(work, marker)
    # The threat is real: a plain `python -m` in the work tree imports them.
    subprocess.run([PYTHON, "-m", "migmerge", "--version"], cwd=work, capture_output=True)
    assert marker.exists()
    marker.unlink()
    if installed:  # as from a package index: `-I -m migmerge` (this checkout is on sys.path)
        for name in ("post-merge", "pre-push"):
            installer._install_one(
                work / ".git" / "hooks" / name, installer.render_hook(name, PYTHON, None)
            )
    else:  # a development checkout: its folder passed to `-I -c` as data
        assert run_migmerge(world, "install-hooks", "--repo", str(work)).returncode == 0
        assert "INSTALL_PYTHONPATH=" + str(ROOT) in (work / ".git/hooks/pre-push").read_text()
    merged = run_git(work, "merge", "--no-edit", "origin/main")
    assert "the merge left parallel migrations" in merged.stdout + merged.stderr
    git(work, "reset", "-q", "--hard", "HEAD~1")
    pushed = run_git(work, "push", "origin", "feature")
    assert pushed.returncode != 0 and LOCAL in pushed.stderr
    assert not marker.exists(), marker.read_text()


def test_core_hooks_path_push_is_checked(work: Path) -> None:
    git(work, "config", "core.hooksPath", ".githooks")
    install(work)
    proc = run_git(work, "push", "origin", "feature")
    assert proc.returncode != 0 and "polls" in proc.stderr


def test_linked_worktree_push_is_checked(world: Path, work: Path) -> None:
    git(work, "worktree", "add", "-q", "-b", "feature2", "../wt", "feature")
    install(world / "wt")
    proc = run_git(world / "wt", "push", "origin", "feature2")
    assert proc.returncode != 0 and LOCAL in proc.stderr


def test_pre_commit_variables_stand_in_for_empty_input(work: Path) -> None:
    variables = {
        "PRE_COMMIT_REMOTE_NAME": "origin",
        "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/feature",
        "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/feature",
        "PRE_COMMIT_TO_REF": git(work, "rev-parse", "feature").strip(),
    }
    proc = run_migmerge(work, "hook", "pre-push", input="", env=variables)
    assert proc.returncode == 1, proc.stderr
    assert LOCAL in proc.stderr + proc.stdout


def test_hooks_trace_with_migmerge_verbose_and_shrink_with_quiet(work: Path) -> None:
    install(work)
    traced = run_git(work, "push", "origin", "feature", env={"MIGMERGE_VERBOSE": "1"})
    assert "pre-push: 1 refs from git's input" in traced.stderr
    assert "refs/heads/feature -> refs/heads/feature: against ['origin/main']" in traced.stderr
    sha = git(work, "rev-parse", "feature").strip()
    line = f"refs/heads/feature {sha} refs/heads/feature {'0' * 40}\n"
    brief = run_migmerge(work, "hook", "--quiet", "pre-push", "origin", "x", input=line)
    assert brief.returncode == 1
    assert brief.stderr.splitlines() == [
        "migmerge: pushing feature would conflict with origin/main"
        " (the default branch, where it will land) in polls:",
        "hint: git fetch origin && git merge origin/main, then migmerge resolve",
        "      see it first: migmerge check --against origin/main",
        "      push anyway: git push --no-verify",
    ]


def test_check_push_reads_git_lines(work: Path) -> None:
    sha = git(work, "rev-parse", "docs").strip()
    refs = pushed.parse_push_lines(f"refs/heads/docs {sha} refs/heads/docs {'0' * 40}\n")
    errors: list[str] = []
    assert hook.check_push(work, "origin", refs, out=errors.append, err=errors.append) == 0
    feature = git(work, "rev-parse", "feature").strip()
    refs = pushed.parse_push_lines(f"refs/heads/feature {feature} refs/heads/x {'0' * 40}\n")
    assert hook.check_push(work, "origin", refs, out=errors.append, err=errors.append) == 1
    assert "origin/main" in errors[-1]


def _pre_commit_env(work: Path, branch: str) -> dict[str, str]:
    """The variables pre-commit sets for the first ref of a push of `branch`."""
    return {
        "PRE_COMMIT_REMOTE_NAME": "origin",
        "PRE_COMMIT_LOCAL_BRANCH": f"refs/heads/{branch}",
        "PRE_COMMIT_REMOTE_BRANCH": f"refs/heads/{branch}",
        "PRE_COMMIT_TO_REF": git(work, "rev-parse", branch).strip(),
    }


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ("git push origin docs feature", ["docs", "feature"]),
        (
            "git -C . -c push.default=simple push -fu origin +docs feature:feature",
            ["docs", "feature"],
        ),
        ("git push -o ci.skip origin docs HEAD", ["docs", "feature"]),
        ("git push origin docs tag v1 feature", ["docs", "feature"]),
        ("git push --all origin", ["docs", "feature", "main"]),  # main: behind, harmless
        ("git push origin docs :old", ["docs"]),
        ("git push origin docs refs/heads/docs:refs/heads/elsewhere", ["docs", "docs"]),
        ("git push", ["docs"]),  # git's default push: pre-commit's one ref
        ("git p origin docs feature", ["docs"]),  # an alias: not read
        ("git push -d origin docs feature", ["docs"]),  # deletions
        ("git push --repo=origin docs feature", ["docs"]),
        ("git push upstream docs feature", ["docs"]),  # another remote than pre-commit's
        ("git push origin feature", ["docs"]),  # not the push pre-commit saw
        ("git push origin 'refs/heads/*:refs/heads/*'", ["docs"]),
    ],
)
def test_pre_commit_pushes_of_several_refs_are_read_from_git_s_command_line(
    work: Path, argv: str, expected: list[str]
) -> None:
    git(work, "tag", "v1", "main")
    refs = pushed.pre_commit_refs(work, "origin", _pre_commit_env(work, "docs"), shlex.split(argv))
    assert [ref.local_ref.removeprefix("refs/heads/") for ref in refs] == expected
    for ref in refs:
        assert ref.local_sha == git(work, "rev-parse", ref.local_ref).strip()
        tracking = git(
            work, "rev-parse", "-q", "--verify", "origin/" + ref.remote_ref[11:], check=False
        )
        assert ref.remote_sha == (tracking.strip() or "0" * 40)  # as last fetched


def test_git_push_argv_finds_the_push_above_this_process(work: Path) -> None:
    # What pre-commit's process chain looks like: git push -> hook script -> this process.
    probe = "from migmerge.reading.pushed import git_push_argv; print(git_push_argv())"
    write_hook(work / ".git" / "hooks" / "pre-push", f"{PYTHON} -c '{probe}' >&2; exit 1")
    proc = run_git(work, "push", "origin", "docs", "feature")
    assert "['git', 'push', 'origin', 'docs', 'feature']" in proc.stderr


# ------------------------------------------------------------ post-merge / post-rewrite


def test_post_merge_reports_the_conflict_the_merge_made(work: Path) -> None:
    install(work)
    proc = run_git(work, "merge", "--no-edit", "origin/main")
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "the merge left parallel migrations" in output
    assert LOCAL in output and UPSTREAM in output and "migmerge resolve" in output
    # Whose each leaf is: git still has MERGE_HEAD while its post-merge hook runs.
    assert f"    {LOCAL} (local)\n" in output and f"    {UPSTREAM} (upstream)\n" in output


def test_post_merge_after_git_pull(work: Path) -> None:
    install(work)
    proc = run_git(work, "pull", "--no-rebase", "--no-edit", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert "polls" in proc.stdout + proc.stderr and UPSTREAM in proc.stdout + proc.stderr


def test_fast_forward_pull_reports_only_what_it_brought(world: Path, work: Path) -> None:
    other = world / "other"
    legacy = other / "legacy" / "migrations"
    legacy.mkdir(parents=True)
    (other / "legacy" / "__init__.py").write_text("")
    (legacy / "__init__.py").write_text("")
    (legacy / "0001_initial.py").write_text(INITIAL)
    for name, field in (("0002_a", "a"), ("0002_b", "b")):
        text = ADD_FIELD.format(parent="0001_initial", model="question", field=field)
        (legacy / f"{name}.py").write_text(text.replace('("polls", ', '("legacy", '))
    commit(other, "legacy app, with parallel migrations")
    git(other, "push", "-q", "origin", "main")
    git(work, "checkout", "-q", "main")
    install(work)
    brought = run_git(work, "pull", "--ff-only", "origin", "main")
    assert brought.returncode == 0, brought.stderr
    assert "legacy" in brought.stdout + brought.stderr
    # The next pull brings no migration: the old conflict is not its doing.
    (other / "README.md").write_text("polls, more docs\n")
    commit(other, "docs")
    git(other, "push", "-q", "origin", "main")
    later = run_git(work, "pull", "--ff-only", "origin", "main")
    assert later.returncode == 0, later.stderr
    assert "Fast-forward" in later.stdout
    assert "migmerge" not in later.stdout + later.stderr
    # A plain check still lists every conflict of the tree.
    proc = run_migmerge(work, "check")
    assert proc.returncode == 1 and "legacy" in proc.stdout


# What a hook imports to find that a merge changed no migration: git, and no more.
HOOK_PROBE = (
    "import sys; from migmerge.cli import main; code = main(['hook', 'post-merge', '0']);"
    "heavy = ('migmerge.reading.analysis', 'migmerge.reading.parse', 'migmerge.reading.discover',"
    " 'migmerge.core.strategy', 'migmerge.report', 'migmerge.reading.pushed', 'shutil', 'json');"
    "print(code, sorted(m for m in heavy if m in sys.modules))"
)
NOTHING_TO_READ = "no migration changed on either side: nothing to read"


def test_a_merge_that_changes_no_migration_is_answered_by_git_alone(work: Path) -> None:
    git(work, "checkout", "-q", "docs")
    git(work, "checkout", "-q", "-b", "notes", "main")
    (work / "NOTES.md").write_text("notes\n")
    commit(work, "notes only")
    git(work, "checkout", "-q", "docs")
    git(work, "merge", "-q", "--no-ff", "--no-edit", "notes")  # neither side touched migrations
    env = {**os.environ, "MIGMERGE_VERBOSE": "1"}
    probe = [PYTHON, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {HOOK_PROBE}"]
    proc = subprocess.run(probe, cwd=work, capture_output=True, text=True, env=env)
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr
    assert NOTHING_TO_READ in proc.stderr
    # The local side changed a migration since the merge base: the changed folders are read.
    git(work, "checkout", "-q", "feature")
    git(work, "merge", "-q", "--no-ff", "--no-edit", "notes")
    proc = subprocess.run(probe, cwd=work, capture_output=True, text=True, env=env)
    assert proc.stdout.startswith("0 ") and "migmerge.reading.analysis" in proc.stdout, proc.stderr
    assert NOTHING_TO_READ not in proc.stderr


# Paths around git's migration pathspecs, each side of them.
PATHSPEC_CASES = (
    "polls/migrations/0002_x.py",
    "migrations/__init__.py",
    "a/b/migrations/c/d.txt",
    "a/migrations",  # a file named migrations: no folder of that name
    "b/migrations.py",
    "c/Migrations/x.py",
    "c/mymigrations/x.py",
    "c/migrations_old/x.py",
    "0001_initial.py",
    "d/0001_.py",
    "d/0001.py",
    "d/001_x.py",
    "d/00011_x.py",
    "d/x0001_a.py",
    "d/0001_a.pyc",
    "d/0001_a.py.txt",
    "d/0001_a.PY",
    "d/0001_a.py/inner.txt",  # a folder named like a module
    "d/\u0660\u0660\u0660\u0661_x.py",  # Arabic-Indic digits: not [0-9]
    "d/0001_a b.py",
    "d/0001_\u00fc.py",
    "d/0001_.py.py",
    "d/models.py",
    "README.md",
)


def test_is_migration_path_agrees_with_git_s_pathspecs(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    for path in PATHSPEC_CASES:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(path)
    commit(tmp_path, "every case")
    empty = git(tmp_path, "hash-object", "-t", "tree", "/dev/null").strip()
    out = subprocess.run(
        ["git", "diff-tree", "-r", "--name-only", "-z", empty, "HEAD", "--",
         *hook.migration_pathspecs(hook.load_config(tmp_path))],
        cwd=tmp_path, capture_output=True, check=True,
    ).stdout  # fmt: skip
    by_git = {p.decode() for p in out.split(b"\0") if p}
    assert by_git, "git matched nothing: the cases no longer reach its pathspecs"
    assert {p for p in PATHSPEC_CASES if hook.is_migration_path(p)} == by_git


def test_post_merge_diffs_each_side_once_and_the_analysis_reads_that_diff(work: Path) -> None:
    from migmerge.reading import git as git_access
    from migmerge.reading import git_diff
    from migmerge.reading.analysis import analyze
    from migmerge.reading.scope import followed_sides

    # manage.py names the settings: each read in turn, then the migrations.
    (work / "manage.py").write_text(
        'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")\n'
    )
    (work / "mysite").mkdir()
    (work / "mysite" / "settings.py").write_text('INSTALLED_APPS = ["polls"]\n')
    commit(work, "a project")
    git(work, "merge", "-q", "--no-edit", "origin/main")  # no hook: the state it leaves
    info = git_access.find_repo(work)
    followed = followed_sides(info)
    assert followed.state is not None and followed.sides is not None
    theirs, ours = git_diff.diff_pairs(work, followed.sides)
    handed = analyze(info, changed_only=True, state=followed.state, diffs=(theirs, ours))
    afresh = analyze(info, changed_only=True)
    assert handed.result == afresh.result and len(handed.result.conflicts) == 1
    # The handed diffs say which folders the analysis reads: none, no conflict.
    unchanged = analyze(info, changed_only=True, state=followed.state, diffs=({}, {}))
    assert unchanged.result.conflicts == ()
    # Run as git runs it: one diff of both sides, however many questions it
    # answers, and one `cat-file` for the blobs each step reads.
    trace = work.parent / "git-trace"
    env = {"GIT_TRACE": str(trace), "MIGMERGE_VERBOSE": "1"}
    proc = subprocess.run(
        [PYTHON, "-m", "migmerge", "hook", "post-merge", "0"],
        cwd=work, capture_output=True, text=True, env={**os.environ, **env},
    )  # fmt: skip
    assert proc.returncode == 0 and LOCAL in proc.stdout + proc.stderr, proc.stderr
    commands = re.findall(r"trace: built-in: git (.*)", trace.read_text())
    diffs = [c for c in commands if c.startswith("diff-tree")]
    assert len(diffs) == 1 and commands.count("cat-file --batch") == 1, commands


def test_post_merge_never_fails_git(world: Path, work: Path) -> None:
    other = world / "other"
    (other / "polls" / "migrations" / "0003_broken.py").write_text("class Migration(:\n")
    commit(other, "broken")
    git(other, "push", "-q", "origin", "main")
    install(work)
    proc = run_git(work, "pull", "--no-rebase", "--no-edit", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert "migmerge:" in proc.stderr and "0003_broken" in proc.stderr


def test_post_commit_reports_a_merge_committed_by_hand(world: Path, work: Path) -> None:
    # django-linear-migrations: max_migration.txt names each app's last migration,
    # so every parallel-migration merge stops on a text conflict there, and git
    # runs no post-merge hook for the commit that concludes it.
    other = world / "other"
    (other / "polls" / "migrations" / "max_migration.txt").write_text(UPSTREAM + "\n")
    commit(other, "linear: upstream")
    git(other, "push", "-q", "origin", "main")
    git(work, "fetch", "-q", "origin")
    (work / "polls" / "migrations" / "max_migration.txt").write_text(LOCAL + "\n")
    commit(work, "linear: local")
    install(work)
    stopped = run_git(work, "merge", "--no-edit", "origin/main")
    assert stopped.returncode != 0 and "max_migration.txt" in stopped.stdout
    assert "parallel migrations" not in stopped.stdout + stopped.stderr
    (work / "polls" / "migrations" / "max_migration.txt").write_text(LOCAL + "\n")
    git(work, "add", "polls/migrations/max_migration.txt")
    committed = run_git(work, "commit", "--no-edit")
    assert committed.returncode == 0, committed.stderr
    output = committed.stdout + committed.stderr
    assert "migmerge: the merge left parallel migrations in 1 app:" in output
    assert LOCAL in output and UPSTREAM in output and "hint: migmerge resolve" in output


def test_post_commit_is_silent_for_other_commits(work: Path) -> None:
    install(work, "post-commit")
    git(work, "merge", "-q", "--no-edit", "origin/main")  # a merge git made: post-merge's job
    for args in (["commit", "--amend", "--no-edit"], ["commit", "--allow-empty", "-m", "x"]):
        proc = run_git(work, *args)
        assert proc.returncode == 0, proc.stderr
        assert "migmerge" not in proc.stdout + proc.stderr


def test_ask_without_a_terminal_reports(work: Path) -> None:
    # A database known to have nothing applied: unknown would be taken as possibly applied.
    config = '[tool.migmerge]\non-merge = "ask"\ndatabase = "db.sqlite3"\n'
    (work / "pyproject.toml").write_text(config)
    nothing_applied_sqlite(work / "db.sqlite3")
    commit(work, "config")
    install(work)
    proc = run_git(work, "merge", "--no-edit", "origin/main")
    assert proc.returncode == 0
    assert "hint: migmerge resolve" in proc.stdout + proc.stderr
    assert (work / "polls" / "migrations" / f"{LOCAL}.py").exists()


def run_git_on_terminal(cwd: Path, *args: str, first_prompt: bytes) -> str:
    """Run git with a pseudo-terminal as its controlling terminal, answering yes to prompts."""
    master, slave = os.openpty()

    def own_the_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        ["git", *args], cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
        env={**os.environ, "TERM": "xterm"}, start_new_session=True, preexec_fn=own_the_terminal,
    )  # fmt: skip
    os.close(slave)
    try:
        return _converse(master, proc, first_prompt)
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


def _converse(master: int, proc: subprocess.Popen[bytes], first_prompt: bytes) -> str:
    output, answered, deadline = b"", 0, time.monotonic() + 30
    while time.monotonic() < deadline:
        if not select.select([master], [], [], 0.1)[0]:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every process holding the terminal is gone
            break
        output += chunk
        if b"\x1b[6n" in chunk:  # prompt_toolkit asks where the cursor is
            os.write(master, b"\x1b[1;1R")
        rest = output[answered:]
        if (first_prompt in rest and answered == 0) or (
            answered and re.search(rb"\((Y/n|y/N)\)", rest)
        ):
            os.write(master, b"y")
            answered = len(output)
    return output.decode("utf-8", "replace")


def test_ask_on_a_terminal_resolves_on_the_spot(work: Path) -> None:
    # A database known to have nothing applied: unknown would be taken as possibly applied.
    config = '[tool.migmerge]\non-merge = "ask"\ndatabase = "db.sqlite3"\n'
    (work / "pyproject.toml").write_text(config)
    nothing_applied_sqlite(work / "db.sqlite3")
    commit(work, "config")
    install(work)
    output = run_git_on_terminal(
        work,
        "merge",
        "--no-edit",
        "origin/main",
        first_prompt=b"Resolve the parallel migrations now?",
    )
    migrations = work / "polls" / "migrations"
    assert not (migrations / f"{LOCAL}.py").exists(), output
    assert (migrations / "0003_question_pub_date.py").exists(), output


def test_post_rewrite_after_rebase_advises_renumber(work: Path) -> None:
    (work / "pyproject.toml").write_text('[tool.migmerge]\ndatabase = "db.sqlite3"\n')
    nothing_applied_sqlite(work / "db.sqlite3")  # known: nothing applied
    commit(work, "config")
    install(work)
    proc = run_git(work, "rebase", "origin/main")
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "the rebase left parallel migrations" in output and LOCAL in output
    assert "hint: migmerge resolve --strategy renumber\n" in output
    assert run_migmerge(work, "resolve", "--strategy", "renumber", "--dry-run").returncode == 0


def test_post_rewrite_agrees_with_check_when_applied_is_unknown(work: Path) -> None:
    install(work)
    proc = run_git(work, "rebase", "origin/main")
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "hint: migmerge resolve\n" in output  # not --strategy renumber: it would be refused
    doc = json.loads(run_migmerge(work, "check", "--format", "json").stdout)
    assert doc["conflicts"][0]["strategy"] == "merge"
    dry = run_migmerge(work, "resolve", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("polls: merge ("), dry.stdout
    refused = run_migmerge(work, "resolve", "--strategy", "renumber", "--dry-run")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "whether it is applied cannot be read" in refused.stdout


def test_post_rewrite_after_git_pull_rebase(work: Path) -> None:
    install(work)
    proc = run_git(work, "pull", "--rebase", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert "the rebase left parallel migrations" in proc.stdout + proc.stderr


def test_post_merge_after_a_squash_merge_in_a_linked_worktree(world: Path, work: Path) -> None:
    git(work, "worktree", "add", "-q", "-b", "feature2", "../wt", "feature")
    install(work)
    proc = run_git(world / "wt", "merge", "--squash", "origin/main")
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "the merge left parallel migrations" in output and LOCAL in output


def test_post_rewrite_ignores_amend(work: Path) -> None:
    git(work, "merge", "-q", "--no-edit", "origin/main")  # the conflict exists already
    install(work)
    proc = run_git(work, "commit", "--amend", "--no-edit")
    assert proc.returncode == 0
    assert "parallel migrations" not in proc.stdout + proc.stderr


def test_on_rebase_renumber_moves_local_migrations(work: Path) -> None:
    # A database known to have nothing applied: unknown would be taken as possibly applied.
    config = '[tool.migmerge]\non-rebase = "renumber"\ndatabase = "db.sqlite3"\n'
    (work / "pyproject.toml").write_text(config)
    nothing_applied_sqlite(work / "db.sqlite3")
    commit(work, "config")
    install(work)
    proc = run_git(work, "rebase", "origin/main")
    assert proc.returncode == 0, proc.stderr
    migrations = work / "polls" / "migrations"
    assert not (migrations / f"{LOCAL}.py").exists(), proc.stdout + proc.stderr
    moved = migrations / "0003_question_pub_date.py"
    assert f'("polls", "{UPSTREAM}")' in moved.read_text()


def test_run_hook_skip_and_unknown(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGMERGE_SKIP", "1")
    code = hook.run_hook(
        repo=str(work),
        name="pre-push",
        args=["origin", "x"],
        stdin=io.StringIO("garbage"),
        out=print,
        err=print,
    )
    assert code == 0
    monkeypatch.delenv("MIGMERGE_SKIP")
    with pytest.raises(MigmergeError, match="unknown hook"):
        hook.run_hook(
            repo=str(work), name="pre-commit", args=[], stdin=io.StringIO(""), out=print, err=print
        )


def test_time_hook_runs_the_installed_script(work: Path) -> None:
    install(work, "pre-push")
    sha = git(work, "rev-parse", "docs").strip()
    line = f"refs/heads/docs {sha} refs/heads/docs {'0' * 40}\n"
    run = installer.time_hook(work, "pre-push", ["origin", "../remote.git"], line)
    assert run.returncode == 0 and run.seconds > 0
    line = line.replace(sha, git(work, "rev-parse", "feature").strip())
    assert installer.time_hook(work, "pre-push", ["origin", "x"], line).returncode == 1


def test_pre_commit_manifest_names_each_hook_and_stage() -> None:
    blocks = (ROOT / ".pre-commit-hooks.yaml").read_text().split("- id: ")[1:]
    manifest = {}
    for block in blocks:
        lines = block.splitlines()
        pairs = (line.strip().split(": ", 1) for line in lines[1:] if ": " in line)
        manifest[lines[0]] = dict(pairs)
    assert set(manifest) == {f"migmerge-{name}" for name in installer.HOOK_NAMES}
    for name in installer.HOOK_NAMES:
        entry = manifest[f"migmerge-{name}"]
        assert entry["entry"] == f"migmerge hook {name}"
        assert entry["stages"] == f"[{name}]"
        assert entry["language"] == "python"
        assert entry["always_run"] == "true" and entry["pass_filenames"] == "false"


# ------------------------------------------------------------ under the pre-commit framework

GUARD_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: no-wip
        name: no WIP file
        entry: sh -c 'test ! -e WIP'
        language: system
        stages: [pre-push]
        always_run: true
        pass_filenames: false
"""


def pre_commit(root: Path, *args: str) -> str:
    """Run the real pre-commit (installed from PyPI with the test extra); return its output."""
    proc = subprocess.run(
        [PYTHON, "-m", "pre_commit", *args], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_install_hooks_over_pre_commit_keeps_its_pushes_working(world: Path, work: Path) -> None:
    (work / ".pre-commit-config.yaml").write_text(GUARD_CONFIG)
    pre_commit(work, "install", "--hook-type", "pre-push")
    printed = install(work, "pre-push")
    hooks_dir = work / ".git" / "hooks"
    assert "as pre-push.legacy, which pre-commit's pre-push runs first" in printed
    assert installer.is_pre_commit_hook(hooks_dir / "pre-push")
    assert installer.is_migmerge_hook(hooks_dir / "pre-push.legacy")
    clean = run_git(work, "push", "origin", "docs")
    assert clean.returncode == 0, clean.stderr
    assert re.search(r"no WIP file\.+Passed", clean.stdout + clean.stderr)
    blocked = run_git(work, "push", "origin", "feature")
    assert blocked.returncode != 0 and "pushing feature would conflict" in blocked.stderr
    git(work, "checkout", "-q", "-b", "fresh", "origin/main")
    git(work, "commit", "-q", "--allow-empty", "-m", "something to push")
    (work / "WIP").write_text("")
    guarded = run_git(work, "push", "origin", "fresh")
    assert guarded.returncode != 0 and re.search(r"no WIP file\.+Failed", guarded.stdout)
    assert "removed pre-push.legacy" in uninstall(work)
    assert installer.is_pre_commit_hook(hooks_dir / "pre-push")
    assert not (hooks_dir / "pre-push.legacy").exists()
    (work / "WIP").unlink()
    assert run_git(work, "push", "origin", "fresh").returncode == 0
    assert remote_branches(world).split() == [
        "refs/heads/docs",
        "refs/heads/fresh",
        "refs/heads/main",
    ]


def test_install_hooks_repairs_pre_commit_moved_aside(work: Path) -> None:
    # What migmerge used to do: pre-commit's script moved to pre-push.legacy, where
    # pre-commit finds itself as its own legacy hook and refuses every push.
    (work / ".pre-commit-config.yaml").write_text(GUARD_CONFIG)
    pre_commit(work, "install", "--hook-type", "pre-push")
    hooks_dir = work / ".git" / "hooks"
    (hooks_dir / "pre-push").rename(hooks_dir / "pre-push.legacy")
    (hooks_dir / "pre-push").write_text(installer.render_hook("pre-push", PYTHON, str(ROOT)))
    (hooks_dir / "pre-push").chmod(0o755)
    broken = run_git(work, "push", "origin", "docs")
    assert broken.returncode != 0 and "migration mode" in broken.stderr
    install(work, "pre-push")
    assert installer.is_pre_commit_hook(hooks_dir / "pre-push")
    assert installer.is_migmerge_hook(hooks_dir / "pre-push.legacy")
    fixed = run_git(work, "push", "origin", "docs")
    assert fixed.returncode == 0, fixed.stderr


def test_pre_commit_installed_after_migmerge_runs_it_as_its_legacy_hook(work: Path) -> None:
    hooks_dir = work / ".git" / "hooks"
    user = write_hook(hooks_dir / "pre-push", "echo user-hook-ran >&2")
    install(work, "pre-push")  # the user's hook becomes pre-push.legacy
    (work / ".pre-commit-config.yaml").write_text(GUARD_CONFIG)
    install_again = subprocess.run(
        [PYTHON, "-m", "pre_commit", "install", "--hook-type", "pre-push"],
        cwd=work, capture_output=True, text=True,
    )  # fmt: skip
    assert "migration mode" in install_again.stdout  # pre-commit took ours as its legacy hook
    blocked = run_git(work, "push", "origin", "feature")
    assert blocked.returncode != 0 and "pushing feature would conflict" in blocked.stderr
    assert run_git(work, "push", "origin", "docs").returncode == 0
    uninstall(work)
    assert installer.is_pre_commit_hook(hooks_dir / "pre-push")
    assert not (hooks_dir / "pre-push.legacy").exists()
    assert user  # pre-commit's own `install` overwrote the user's hook kept as .legacy


def test_install_hooks_skips_what_pre_commit_config_runs_already(work: Path) -> None:
    (work / ".pre-commit-config.yaml").write_text(
        "repos:\n  - repo: https://example.invalid/migmerge\n    rev: x\n"
        "    hooks:\n      - id: migmerge-pre-push\n"
    )
    printed = install(work)
    assert "skipped pre-push: .pre-commit-config.yaml runs migmerge-pre-push" in printed
    assert not (work / ".git" / "hooks" / "pre-push").exists()
    assert installer.is_migmerge_hook(work / ".git" / "hooks" / "post-merge")


@pytest.fixture(scope="module")
def migmerge_hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This checkout as a git repository pre-commit can clone (uncommitted changes included)."""
    copy = tmp_path_factory.mktemp("migmerge-repo")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    home = tmp_path_factory.mktemp("repo-home")
    env = {**os.environ, **isolated_git_env(home)}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=copy, env=env, check=True, capture_output=True)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=copy, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    return copy, sha


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit store for the module: its virtualenv for migmerge is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def test_the_manifest_s_hooks_under_pre_commit(
    world: Path,
    work: Path,
    migmerge_hook_repo: tuple[Path, str],
    pre_commit_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    monkeypatch.setenv("PIP_CACHE_DIR", str(REAL_HOME / ".cache" / "pip"))  # not the test's HOME
    repo, sha = migmerge_hook_repo
    (work / ".pre-commit-config.yaml").write_text(
        "default_install_hook_types: [pre-push, post-merge, post-rewrite, post-commit]\n"
        f"repos:\n  - repo: {repo}\n    rev: {sha}\n    hooks:\n"
        + "".join(f"      - id: migmerge-{name}\n" for name in installer.HOOK_NAMES)
    )
    git(work, "add", ".pre-commit-config.yaml")
    git(work, "commit", "-q", "-m", "pre-commit")
    pre_commit(work, "install")
    pre_commit(work, "install-hooks")  # builds the virtualenv: pip installs migmerge from `repo`
    # pre-push: pre-commit names only the first ref (docs); feature is checked too.
    pushed = run_git(work, "push", "origin", "docs", "feature")
    assert pushed.returncode != 0
    assert (
        "migmerge: pushing feature would conflict with origin/main" in pushed.stdout + pushed.stderr
    )
    assert remote_branches(world).split() == ["refs/heads/main"]
    assert run_git(work, "push", "origin", "docs").returncode == 0
    # post-merge, post-rewrite
    merged = run_git(work, "merge", "--no-edit", "origin/main")
    assert "migmerge: the merge left parallel migrations in 1 app:" in merged.stdout + merged.stderr
    git(work, "reset", "-q", "--hard", "HEAD~1")
    rebased = run_git(work, "rebase", "origin/main")
    assert (
        "migmerge: the rebase left parallel migrations in 1 app:" in rebased.stdout + rebased.stderr
    )
    # post-commit: a merge that stopped on a conflict (max_migration.txt), committed by hand
    git(work, "reset", "-q", "--hard", "ORIG_HEAD")
    other = world / "other"
    (other / "polls" / "migrations" / "max_migration.txt").write_text(UPSTREAM + "\n")
    commit(other, "linear: upstream")
    git(other, "push", "-q", "origin", "main")
    git(work, "fetch", "-q", "origin")
    (work / "polls" / "migrations" / "max_migration.txt").write_text(LOCAL + "\n")
    commit(work, "linear: local")
    assert run_git(work, "merge", "--no-edit", "origin/main").returncode != 0
    (work / "polls" / "migrations" / "max_migration.txt").write_text(LOCAL + "\n")
    git(work, "add", "polls/migrations/max_migration.txt")
    committed = run_git(work, "commit", "--no-edit")
    assert committed.returncode == 0, committed.stdout + committed.stderr
    assert (
        "migmerge: the merge left parallel migrations in 1 app:"
        in committed.stdout + committed.stderr
    )

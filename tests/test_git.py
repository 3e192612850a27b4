"""reading/git: the one clean environment every subprocess gets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from migmerge.reading import git, git_diff, git_objects, git_refs, git_worktree
from tests.testing.repos import commit_all, init_repo

REDIRECTING = {
    "GIT_DIR": "/elsewhere/.git",
    "GIT_WORK_TREE": "/elsewhere",
    "GIT_INDEX_FILE": "/elsewhere/.git/index.lock",
    "GIT_QUARANTINE_PATH": "/elsewhere/.git/objects/incoming-x",
    "GIT_LITERAL_PATHSPECS": "1",
    "GIT_CONFIG_PARAMETERS": "'core.worktree'='/elsewhere'",
    "GIT_SOMETHING_NEW": "x",
}
KEPT = {
    "GIT_AUTHOR_NAME": "A",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_SSH_COMMAND": "ssh -i key",
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "user.name",
    "GIT_CONFIG_VALUE_0": "B",
    "GIT_TRACE": "1",
    "PATH": os.environ["PATH"],
    "DJANGO_SETTINGS_MODULE": "proj.settings",
}


def test_clean_env_drops_what_redirects_git_and_keeps_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {**REDIRECTING, **KEPT}.items():
        monkeypatch.setenv(key, value)
    before = dict(os.environ)
    env = git.clean_env({"EXTRA": "1"})
    assert not set(REDIRECTING) & set(env)
    assert {key: env[key] for key in KEPT} == KEPT
    assert env["EXTRA"] == "1"
    assert dict(os.environ) == before  # nothing changes the process's own environment


def test_git_commands_ignore_a_literal_pathspec_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = init_repo(tmp_path / "r")
    (root / "polls" / "migrations").mkdir(parents=True)
    (root / "polls" / "migrations" / "0001_initial.py").write_text("")
    first = commit_all(root, "one")
    (root / "polls" / "migrations" / "0002_more.py").write_text("")
    second = commit_all(root, "two")
    monkeypatch.setenv("GIT_LITERAL_PATHSPECS", "1")  # would turn :(glob) specs into names
    spec = [":(glob)**/migrations/**"]
    index, _ = git_worktree.index_entries(root, spec)
    assert sorted(index) == ["polls/migrations/0001_initial.py", "polls/migrations/0002_more.py"]
    assert git_diff.differs(root, first, second, spec)


def _refs(*names: str, head: str | None = None) -> git_refs.Refs:
    shas = {name: f"{i:040x}" for i, name in enumerate(names, 1)}
    symrefs = {"refs/remotes/origin/HEAD": head} if head else {}
    if head:
        shas["refs/remotes/origin/HEAD"] = shas[head]
    return git_refs.Refs(shas, symrefs, {}, None)


@pytest.mark.parametrize(
    ("names", "head", "configured", "remote", "expected"),
    [
        (
            ("refs/remotes/origin/main", "refs/heads/main"),
            None,
            None,
            "origin",
            "refs/remotes/origin/main",
        ),
        (
            ("refs/remotes/origin/trunk", "refs/remotes/origin/main"),
            "refs/remotes/origin/trunk",
            None,
            "origin",
            "refs/remotes/origin/trunk",
        ),
        (("refs/remotes/origin/master",), None, None, "origin", "refs/remotes/origin/master"),
        (("refs/heads/master",), None, None, "origin", "refs/heads/master"),
        (
            ("refs/remotes/up/main", "refs/remotes/origin/main"),
            None,
            None,
            "up",
            "refs/remotes/up/main",
        ),
        (
            ("refs/remotes/origin/develop", "refs/heads/develop", "refs/remotes/origin/main"),
            None,
            "develop",
            "origin",
            "refs/remotes/origin/develop",
        ),
        (
            ("refs/heads/develop", "refs/remotes/origin/main"),
            None,
            "develop",
            "origin",
            "refs/heads/develop",
        ),
        (
            ("refs/remotes/origin/develop",),
            None,
            "origin/develop",
            "origin",
            "refs/remotes/origin/develop",
        ),
        (("refs/remotes/origin/main",), None, "develop", "origin", None),
        ((), None, None, "origin", None),
    ],
)
def test_the_default_branch_has_one_home(
    names: tuple[str, ...],
    head: str | None,
    configured: str | None,
    remote: str,
    expected: str | None,
) -> None:
    assert _refs(*names, head=head).default_branch(configured, remote) == expected


def test_the_cat_file_readers_read_each_reply_by_the_name_sent(tmp_path: Path) -> None:
    # One reply walker for blobs, folders and object ids: a missing name, a
    # name holding a newline, and a body that looks like a reply header
    # must shift nothing.
    root = init_repo(tmp_path / "r")
    folder = root / "polls" / "migrations"
    folder.mkdir(parents=True)
    tricky = b"0000 missing\n" + bytes(range(256))
    (folder / "0001_initial.py").write_bytes(tricky)
    (folder / "0002_more.py").write_bytes(b"")
    (root / "odd\nname.py").write_bytes(b"odd")
    commit_all(root, "one")
    blobs = git_objects.tree_entries(root, "HEAD")
    first, empty = blobs["polls/migrations/0001_initial.py"], blobs["polls/migrations/0002_more.py"]
    missing = "1" * 40
    assert git_objects.read_blobs(root, [missing, first, empty, first]) == {
        first: tricky,
        empty: b"",
    }
    # The same answers from the one reader kept open, asked twice; a name
    # that is no object id still goes to a `cat-file` of its own.
    with git_objects.one_reader(root):
        assert git_objects.read_blobs(root, [missing, first, empty]) == {first: tricky, empty: b""}
        assert git_objects.read_blobs(root, [empty, missing]) == {empty: b""}
        by_name = "HEAD:polls/migrations/0002_more.py"
        assert git_objects.read_blobs(root, [by_name]) == {by_name: b""}
        reader = git_objects._readers[str(root)]
        assert reader.proc is not None and reader.proc.poll() is None
    assert reader.proc.poll() == 0 and str(root) not in git_objects._readers  # closed after
    names = ["HEAD:nothing.py", "HEAD:odd\nname.py", "HEAD:polls/migrations/0001_initial.py"]
    assert git_objects.object_ids(root, names) == {
        "HEAD:odd\nname.py": blobs["odd\nname.py"],
        "HEAD:polls/migrations/0001_initial.py": first,
    }
    assert git_objects.existing_objects(root, names) == set(names[1:])
    folders = ["HEAD:nothing", "HEAD:polls/migrations", "HEAD:odd\nname.py", "HEAD:polls"]
    found = git_objects.folder_entries(root, folders)
    assert found["HEAD:polls/migrations"] == {"0001_initial.py": first, "0002_more.py": empty}
    assert set(found) == {"HEAD:polls/migrations", "HEAD:polls"}  # a blob is no folder

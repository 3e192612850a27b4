"""`check --branches` end to end: a bare remote, several pushed branches, real Django.

The world: polls (Choice), shop (Item) and audit (Log) on main, pushed to a
bare remote; seven branches pushed from there, main moved on after them, and
a local branch `work` that tracks one of them. Each conflict migmerge
predicts is then merged for real in a clone and `migrate` fails; a pair it
calls clean is merged and migrates.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.testing.projects import make_django_project, makemigrations, manage, write_app
from tests.testing.repos import commit_all, git, isolated_git_env, reading_state, run_migmerge

POLLS = """\
from django.db import models


class Choice(models.Model):
    label = models.CharField(max_length=10)
"""
SHOP = """\
from django.db import models


class Item(models.Model):
    n = models.IntegerField(default=0)
"""
AUDIT = """\
from django.db import models


class Log(models.Model):
    text = models.TextField(default="")
"""


def field(models: str, line: str) -> str:
    return models + f"    {line}\n"


def pushed(root: Path, name: str, app: str, models: str, start: str = "main") -> None:
    """Make branch `name` from `start` with the migration makemigrations writes; push it."""
    git(root, "checkout", "-q", "-B", name, start)
    write_app(root, app, models)
    makemigrations(root, app)
    commit_all(root, f"{name}: {app}")
    git(root, "push", "-q", "origin", name)


def build(where: Path) -> Path:
    remote = where / "remote.git"
    git(where, "init", "-q", "--bare", "-b", "main", str(remote))
    root = make_django_project(where / "proj", {"polls": POLLS, "shop": SHOP, "audit": AUDIT})
    for app in ("polls", "shop", "audit"):
        makemigrations(root, app)
    commit_all(root, "initial")
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    git(root, "branch", "-q", "stale", "main")
    git(root, "push", "-q", "origin", "stale")  # merged already: nothing of its own
    pushed(root, "feature-a", "polls", field(POLLS, "votes = models.IntegerField(null=True)"))
    pushed(root, "feature-b", "polls", field(POLLS, "weight = models.IntegerField(null=True)"))
    fk = "choice = models.ForeignKey('polls.Choice', on_delete=models.CASCADE, null=True)"
    pushed(root, "feature-c", "shop", field(SHOP, fk))
    pushed(root, "feature-d", "polls", "from django.db import models\n")
    pushed(root, "feature-f", "audit", field(AUDIT, "level = models.IntegerField(null=True)"))
    git(root, "checkout", "-q", "-B", "feature-e", "main")
    initial = root / "polls" / "migrations" / "0001_initial.py"
    initial.write_text(initial.read_text() + "# tidied\n")
    commit_all(root, "feature-e: edit a migration main has")
    git(root, "push", "-q", "origin", "feature-e")
    git(root, "checkout", "-q", "-B", "docs", "main")
    (root / "README.md").write_text("docs\n")
    commit_all(root, "docs only")
    git(root, "push", "-q", "origin", "docs")
    # main moves on after every branch left it
    git(root, "checkout", "-q", "main")
    write_app(root, "audit", field(AUDIT, "user = models.TextField(default='')"))
    makemigrations(root, "audit")
    commit_all(root, "main: audit user")
    git(root, "push", "-q", "origin", "main")
    git(root, "fetch", "-q", "origin")
    git(root, "remote", "set-head", "origin", "main")
    # HEAD: local work on feature-b, one commit not pushed yet
    git(root, "checkout", "-q", "-b", "work", "--track", "origin/feature-b")
    (root / "NOTES.md").write_text("wip\n")
    commit_all(root, "work in progress")
    (root / "db.sqlite3").unlink(missing_ok=True)
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    where = tmp_path_factory.mktemp("branches")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in isolated_git_env(where / "home").items():
            mp.setenv(key, value)
        yield build(where)


@pytest.fixture
def repo(world: Path, tmp_path: Path) -> Path:
    """A private copy of the world (the clone and its bare remote)."""
    shutil.copytree(world.parent, tmp_path / "w", symlinks=True)
    root = tmp_path / "w" / "proj"
    git(root, "remote", "set-url", "origin", str(tmp_path / "w" / "remote.git"))
    return root


def branches(root: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = run_migmerge(root, "check", "--branches", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def pairs(doc: dict) -> dict[tuple[str, str], list[tuple[str, str]]]:  # type: ignore[type-arg]
    return {(p["a"], p["b"]): [(c["kind"], c["app"]) for c in p["conflicts"]] for p in doc["pairs"]}


def test_every_branch_against_main_and_each_other(repo: Path) -> None:
    code, doc = branches(repo)
    assert code == 1  # HEAD conflicts
    assert (doc["version"], doc["mode"], doc["remote"]) == (1, "branches", "origin")
    assert doc["default"] == {
        "ref": "origin/main",
        "commit": git(repo, "rev-parse", "origin/main").strip(),
    }
    listed = {b["ref"]: (b["current"], b["apps"]) for b in doc["branches"]}
    assert listed == {
        "HEAD": (True, ["polls"]),
        "origin/feature-a": (False, ["polls"]),
        "origin/feature-c": (False, ["shop"]),
        "origin/feature-d": (False, ["polls"]),
        "origin/feature-e": (False, ["polls"]),
        "origin/feature-f": (False, ["audit"]),
    }
    assert pairs(doc) == {
        ("HEAD", "origin/feature-a"): [("leaves", "polls")],
        ("HEAD", "origin/feature-d"): [("leaves", "polls")],
        ("origin/feature-a", "origin/feature-d"): [("leaves", "polls")],
        ("origin/feature-f", "origin/main"): [("leaves", "audit")],
        ("origin/feature-c", "origin/feature-d"): [("cross-app", "shop")],
    }
    (warning,) = doc["warnings"]
    assert (warning["kind"], warning["ref"], warning["path"]) == (
        "rewrites-shared-migration",
        "origin/feature-e",
        "polls/migrations/0001_initial.py",
    )
    assert warning["commit"] == doc["default"]["commit"]


def test_a_pair_conflict_is_check_s_conflict(repo: Path) -> None:
    _, doc = branches(repo)
    (pair,) = [p for p in doc["pairs"] if (p["a"], p["b"]) == ("HEAD", "origin/feature-a")]
    (conflict,) = pair["conflicts"]
    assert conflict["ancestor"] == "0001_initial"
    assert [(leaf["name"], leaf["ref"], leaf["side"]) for leaf in conflict["leaves"]] == [
        ("0002_choice_votes", "origin/feature-a", "upstream"),
        ("0002_choice_weight", "HEAD", "local"),
    ]
    weight = conflict["leaves"][1]
    assert weight["path"] == "polls/migrations/0002_choice_weight.py"
    assert weight["operations"] == [{"op": "AddField", "model": "choice", "field": "weight"}]
    assert (weight["shared"], weight["applied"]) == (False, None)
    assert conflict["overlap"] == "model"
    assert conflict["strategy"] == "merge"  # applied cannot be read here: possibly applied
    (cross,) = [p for p in doc["pairs"] if p["b"] == "origin/feature-d" and p["a"].endswith("c")]
    user, taker = cross["conflicts"][0]["leaves"]
    assert (user["app"], user["ref"], taker["app"], taker["ref"]) == (
        "shop",
        "origin/feature-c",
        "polls",
        "origin/feature-d",
    )


def merged(repo: Path, tmp_path: Path, *refs: str) -> Path:
    """A fresh clone of the remote with `refs` merged into main, as the pull requests would land."""
    clone = tmp_path / "merged"
    git(tmp_path, "clone", "-q", str(repo.parent / "remote.git"), str(clone))
    for ref in refs:
        git(clone, "merge", "-q", "--no-edit", "-X", "ours", f"origin/{ref}")
    return clone


def migrate(root: Path) -> tuple[bool, str]:
    proc = manage(root, "migrate", "--skip-checks", check=False)
    return proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "refs, failure",
    [
        (("feature-a", "feature-d"), "Conflicting migrations detected"),
        (("feature-f",), "Conflicting migrations detected"),
        (("feature-c", "feature-d"), "Related model 'polls.choice' cannot be resolved"),
    ],
)
def test_each_predicted_conflict_fails_to_migrate(
    repo: Path, tmp_path: Path, refs: tuple[str, ...], failure: str
) -> None:
    ok, output = migrate(merged(repo, tmp_path, *refs))
    assert not ok and failure in output


def test_a_pair_called_clean_migrates(repo: Path, tmp_path: Path) -> None:
    _, doc = branches(repo)
    refs = {pair for pair in pairs(doc)}
    assert ("origin/feature-a", "origin/feature-c") not in refs
    ok, output = migrate(merged(repo, tmp_path, "feature-a", "feature-c"))
    assert ok, output


def test_the_text_table(repo: Path) -> None:
    proc = run_migmerge(repo, "check", "--branches")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        "6 branches changed migrations since leaving origin/main: HEAD, origin/feature-a, "
        "origin/feature-c, origin/feature-d, origin/feature-e, origin/feature-f"
    )
    assert lines[2].split() == ["branch", "conflicts", "with", "app", "leaves", "overlap"]
    assert lines[3].split() == [
        "HEAD",
        "origin/feature-a",
        "polls",
        "0002_choice_votes",
        "(origin/feature-a),",
        "0002_choice_weight",
        "(HEAD)",
        "model",
    ]
    assert any(
        line.split()[:3] == ["origin/feature-c", "origin/feature-d", "shop"]
        and line.endswith("cross-app")
        for line in lines
    )
    assert "HEAD conflicts with origin/feature-a, origin/feature-d" in proc.stdout
    assert "hint: see one in full with `migmerge check --against origin/feature-a`" in proc.stdout
    assert "warning: polls/migrations/0001_initial.py is on the default branch" in proc.stdout


def test_github_annotations_on_the_current_branch_s_files(repo: Path) -> None:
    proc = run_migmerge(repo, "check", "--branches", "--format", "github")
    assert proc.returncode == 1
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error")]
    assert errors and all(
        line.startswith("::error file=polls/migrations/0002_choice_weight.py,line=1,")
        for line in errors
    )
    assert "title=Migration conflict with origin/feature-a in polls::" in errors[0]
    assert "::notice title=origin/feature-c and origin/feature-d conflict in shop::" in proc.stdout
    assert "::notice::polls/migrations/0001_initial.py is on the default branch" in proc.stdout


def test_on_the_default_branch_it_tells_and_exits_zero(repo: Path) -> None:
    git(repo, "checkout", "-q", "main")
    code, doc = branches(repo)
    assert code == 0
    assert "HEAD" not in {b["ref"] for b in doc["branches"]}
    assert ("origin/feature-b", "origin/feature-a") not in pairs(doc)
    assert ("origin/feature-a", "origin/feature-b") in pairs(doc)


def test_nothing_is_touched(repo: Path) -> None:
    before = reading_state(repo)
    branches(repo)
    assert reading_state(repo) == before
    assert not (repo / "db.sqlite3").exists()


def test_app_filter_and_another_remote(repo: Path, tmp_path: Path) -> None:
    code, doc = branches(repo, "--app", "audit")
    assert (code, pairs(doc)) == (0, {("origin/feature-f", "origin/main"): [("leaves", "audit")]})
    fork = tmp_path / "fork.git"
    git(tmp_path, "init", "-q", "--bare", str(fork))
    git(repo, "remote", "add", "fork", str(fork))
    git(repo, "push", "-q", "fork", "origin/main:refs/heads/main", "origin/feature-f:refs/heads/f")
    git(repo, "fetch", "-q", "fork")
    code, doc = branches(repo, "--remote", "fork")
    assert doc["default"]["ref"] == "fork/main"
    assert pairs(doc)[("fork/f", "fork/main")] == [("leaves", "audit")]


def test_bad_input(repo: Path) -> None:
    proc = run_migmerge(repo, "check", "--branches", "--remote", "nowhere")
    assert proc.returncode == 2
    assert "no remote-tracking branch of 'nowhere'" in proc.stderr
    proc = run_migmerge(repo, "check", "--remote", "origin")
    assert proc.returncode == 2 and "--remote goes with --branches" in proc.stderr
    proc = run_migmerge(repo, "check", "--branches", "--against", "main")
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr


def test_merge_bases_from_one_rev_list(tmp_path: Path) -> None:
    """One walk gives each tip's merge base; a branch that merged main in asks git itself."""
    from migmerge.reading.git_refs import merge_base, merge_bases

    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for name in ("a", "b"):
        (root / name).write_text(name)
        commit_all(root, name)
    git(root, "checkout", "-q", "-b", "plain", "main~1")
    (root / "p").write_text("p")
    plain = commit_all(root, "p")
    git(root, "checkout", "-q", "-b", "merging", "main~1")
    (root / "m").write_text("m")
    commit_all(root, "m")
    git(root, "merge", "-q", "--no-edit", "main")
    (root / "m2").write_text("m2")
    merging = commit_all(root, "m2")
    main = git(root, "rev-parse", "main").strip()
    behind = git(root, "rev-parse", "main~1").strip()
    bases = merge_bases(root, [plain, merging, behind], main)
    assert bases == {
        plain: merge_base(root, plain, main),
        merging: main,  # the merge brought main in: git's own answer
        behind: behind,  # part of main already
    }
    assert merge_base(root, merging, main) == main


def test_a_pull_request_checked_out_detached_is_head(repo: Path) -> None:
    """As CI checks a pull request out: detached at the branch's commit, which is then HEAD."""
    git(repo, "checkout", "-q", "--detach", "origin/feature-a")
    code, doc = branches(repo)
    refs = [b["ref"] for b in doc["branches"]]
    assert "HEAD" in refs and "origin/feature-a" not in refs
    assert code == 1
    assert ("HEAD", "origin/feature-d") in pairs(doc)
    assert ("HEAD", "origin/feature-b") in pairs(doc)  # not HEAD's upstream any more


def test_the_branches_path_imports_neither_django_nor_questionary_nor_doing(repo: Path) -> None:
    import subprocess

    from tests.testing.repos import PYTHON

    code = (
        "import sys; from migmerge.reading.branches import check_branches;"
        f"n = len(check_branches({str(repo)!r}, None).pairs);"
        "loaded = [m for m in sys.modules if m in ('django', 'questionary', 'git')"
        " or m.startswith('migmerge.doing')];"
        "print(n, sorted(loaded))"
    )
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "5 []", proc.stderr


def test_the_table_and_annotations_rendered_whole() -> None:
    """report_branches.py in memory: the exact words a person and GitHub get."""
    from migmerge import report_branches
    from migmerge.core.branch_records import BranchesResult, BranchInfo, Pair
    from migmerge.core.model import Conflict, Leaf, Overlap

    def leaf(name: str, ref: str, side: str) -> Leaf:
        path = f"polls/migrations/{name}.py"
        return Leaf(name, path, side, ref != "HEAD", None, (name,), (), None, ref)  # type: ignore[arg-type]

    conflict = Conflict(
        "polls",
        "polls/migrations",
        "0001_initial",
        (leaf("0002_a", "HEAD", "local"), leaf("0002_b", "origin/b", "upstream")),
        Overlap("none", ("the branches touch different models",)),
        "merge",
    )
    other = conflict._replace(
        leaves=(leaf("0002_b", "origin/b", "local"), leaf("0002_c", "origin/c", "upstream"))
    )
    result = BranchesResult(
        "origin",
        "origin/main",
        "f" * 40,
        (
            BranchInfo("HEAD", "1" * 40, "0" * 40, True, ("polls",)),
            BranchInfo("origin/b", "2" * 40, "0" * 40, False, ("polls",)),
            BranchInfo("origin/c", "3" * 40, "0" * 40, False, ("polls",)),
        ),
        (Pair("HEAD", "origin/b", (conflict,)), Pair("origin/b", "origin/c", (other,))),
    )
    assert report_branches.branches_text(result) == (
        "3 branches changed migrations since leaving origin/main: HEAD, origin/b, origin/c\n"
        "\n"
        "branch    conflicts with  app    leaves                                overlap\n"
        "HEAD      origin/b        polls  0002_a (HEAD), 0002_b (origin/b)      none\n"
        "origin/b  origin/c        polls  0002_b (origin/b), 0002_c (origin/c)  none\n"
        "\n"
        "HEAD conflicts with origin/b\n"
        "hint: see one in full with `migmerge check --against origin/b`"
    )
    assert report_branches.branches_github(result).splitlines() == [
        "::error file=polls/migrations/0002_a.py,line=1,title=Migration conflict with origin/b"
        " in polls::0002_a (HEAD), 0002_b (origin/b); overlap none. the branches touch"
        " different models",
        "::notice title=origin/b and origin/c conflict in polls::0002_b (origin/b), 0002_c"
        " (origin/c); overlap none",
    ]
    empty = result._replace(branches=(), pairs=())
    assert report_branches.branches_text(empty) == (
        "0 branches changed migrations since leaving origin/main\n"
        "No conflicts: none conflicts with origin/main or with another."
    )


def test_condo_s_kmigrator_branches(tmp_path: Path) -> None:
    """kmigrator's .js files (condo) are read like any migration: names from the KMIGRATOR line."""
    from tests.testing.kmigrator import condo_repo, km_add_field, write_km

    root = condo_repo(tmp_path / "condo")
    remote = tmp_path / "condo.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    for branch, stamp, field in (
        ("color", "20240110000000", "color"),
        ("size", "20240111000000", "size"),
    ):
        git(root, "checkout", "-q", "-b", branch, "main")
        name = f"0003_ticket_{field}"
        write_km(root, stamp, name, "0002_ticket_kind", operations=km_add_field("ticket", field))
        commit_all(root, branch)
        git(root, "push", "-q", "origin", branch)
    git(root, "checkout", "-q", "main")
    git(root, "fetch", "-q", "origin")
    code, doc = branches(root)
    assert code == 0  # HEAD is main
    (pair,) = doc["pairs"]
    assert (pair["a"], pair["b"]) == ("origin/color", "origin/size")
    (conflict,) = pair["conflicts"]
    assert (conflict["app"], conflict["ancestor"], conflict["overlap"]) == (
        "condo",
        "0002_ticket_kind",
        "model",
    )
    assert [(leaf["name"], leaf["path"]) for leaf in conflict["leaves"]] == [
        ("0003_ticket_color", "apps/condo/migrations/20240110000000-0003_ticket_color.js"),
        ("0003_ticket_size", "apps/condo/migrations/20240111000000-0003_ticket_size.js"),
    ]
    assert conflict["leaves"][0]["operations"] == [
        {"op": "AddField", "model": "ticket", "field": "color"}
    ]

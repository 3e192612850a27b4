"""The graph, in memory, held against Django's own MigrationLoader on the same migrations.

Django's side runs in a subprocess: its real loader builds its real graph from
the same headers (no files), with a real SQLite `django_migrations` table for
what is applied, and reports leaves, nodes in use, or the node it could not
find.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from typing import Any

import pytest

from migmerge.core.graph import Graph, Missing
from migmerge.core.model import Key, Migration
from tests.testing.repos import PYTHON


def m(
    app: str,
    name: str,
    *deps: Key,
    replaces: tuple[Key, ...] = (),
    run_before: Sequence[Key] = (),
) -> Migration:
    """A header-only migration."""
    return Migration(app, name, f"{app}/migrations/{name}.py", deps, replaces, tuple(run_before))


def chain(app: str, count: int, start: int = 1, after: Key | None = None) -> list[Migration]:
    """`count` migrations of `app` in a line, numbered from `start`."""
    out = []
    previous = after
    for n in range(start, start + count):
        name = f"{n:04d}_m"
        out.append(m(app, name, *([previous] if previous else [])))
        previous = (app, name)
    return out


SQUASH = [
    m("a", "0001_x"),
    m("a", "0002_y", ("a", "0001_x")),
    m("a", "0001_squashed_0002_y", replaces=(("a", "0001_x"), ("a", "0002_y"))),
    m("a", "0003_z", ("a", "0002_y")),
    m("b", "0001_b", ("a", "0001_x")),
]

CASES: dict[str, tuple[list[Migration], list[Key]]] = {
    "a line": (chain("a", 3), []),
    "two leaves": ([*chain("a", 2), m("a", "0002_other", ("a", "0001_m"))], []),
    "first of another app": (
        [*chain("a", 2), m("b", "0001_b", ("a", "__first__"))],
        [],
    ),
    "latest of another app with two leaves": (
        [
            *chain("a", 2),
            m("a", "0002_aaa", ("a", "0001_m")),
            m("b", "0001_b", ("a", "__latest__")),
            m("b", "0002_b", ("b", "0001_b")),
        ],
        [],
    ),
    "same-app first is ignored": (
        [m("a", "0001_m", ("a", "__first__")), m("a", "0002_m", ("a", "0001_m"))],
        [],
    ),
    "run_before across apps": (
        [*chain("a", 2), m("b", "0001_b", run_before=[("a", "0002_m")])],
        [],
    ),
    "run_before in the same app joins two leaves": (
        [*chain("a", 2), m("a", "0002_z", ("a", "0001_m"), run_before=[("a", "0002_m")])],
        [],
    ),
    "squash not applied": (SQUASH, []),
    "squash fully applied": (SQUASH, [("a", "0001_x"), ("a", "0002_y")]),
    "squash partly applied": (SQUASH, [("a", "0001_x")]),
    "squash whose originals were deleted": (
        [
            m("a", "0001_squashed_0002_y", replaces=(("a", "0001_x"), ("a", "0002_y"))),
            m("a", "0003_z", ("a", "0002_y")),
            m("a", "0003_w", ("a", "0001_squashed_0002_y")),
        ],
        [],
    ),
    "dependency on a migration that does not exist": (
        [*chain("a", 2), m("a", "0003_x", ("a", "0002_gone"))],
        [],
    ),
    "same-app latest is a node that does not exist": (
        [*chain("a", 2), m("a", "0003_x", ("a", "__latest__"))],
        [],
    ),
    "a cycle": (
        [m("a", "0001_x", ("a", "0002_y")), m("a", "0002_y", ("a", "0001_x"))],
        [],
    ),
    "a cycle and a second leaf": (
        [
            m("a", "0001_x", ("a", "0001_x")),
            m("a", "0002_a", ("a", "0001_x")),
            m("a", "0002_b", ("a", "0001_x")),
        ],
        [],
    ),
}

DJANGO_SIDE = r"""
import json, sys
import django
from django.conf import settings
settings.configure(
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=[],
)
django.setup()
from django.db import connection
from django.db.migrations import Migration
from django.db.migrations.exceptions import CircularDependencyError, NodeNotFoundError
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder


class Loader(MigrationLoader):
    def __init__(self, migrations, applied):
        self.given = migrations
        recorder = MigrationRecorder(connection)
        recorder.ensure_schema()
        recorder.migration_qs.all().delete()
        for app, name in applied:
            recorder.record_applied(app, name)
        super().__init__(connection, load=False)

    def load_disk(self):
        self.disk_migrations = {}
        for row in self.given:
            migration = Migration(row["name"], row["app"])
            migration.dependencies = [tuple(d) for d in row["dependencies"]]
            migration.replaces = [tuple(d) for d in row["replaces"]]
            migration.run_before = [tuple(d) for d in row["run_before"]]
            self.disk_migrations[row["app"], row["name"]] = migration
        self.migrated_apps = {row["app"] for row in self.given}
        self.unmigrated_apps = set()


out = {}
for name, (migrations, applied) in json.load(sys.stdin).items():
    loader = Loader(migrations, applied)
    try:
        loader.build_graph()
    except NodeNotFoundError as exc:
        out[name] = {"missing": list(exc.node), "origin": str(exc.origin)}
        continue
    except CircularDependencyError as exc:
        out[name] = {"cycle": str(exc)}
        continue
    leaves, nodes = {}, {}
    for app, leaf in loader.graph.leaf_nodes():
        leaves.setdefault(app, []).append(leaf)
    for app, node in loader.graph.nodes:
        nodes.setdefault(app, []).append(node)
    out[name] = {"leaves": leaves, "nodes": {a: sorted(n) for a, n in nodes.items()}}
print(json.dumps(out))
"""


def _row(migration: Migration) -> dict[str, Any]:
    return {
        "app": migration.app,
        "name": migration.name,
        "dependencies": migration.dependencies,
        "replaces": migration.replaces,
        "run_before": migration.run_before,
    }


@pytest.fixture(scope="module")
def django_says() -> dict[str, Any]:
    """What Django's real loader makes of every case, from one subprocess."""
    cases = {name: ([_row(x) for x in ms], applied) for name, (ms, applied) in CASES.items()}
    proc = subprocess.run(
        [PYTHON, "-c", DJANGO_SIDE],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def ours(name: str) -> Graph:
    migrations, applied = CASES[name]
    return Graph({x.key: x for x in migrations}, frozenset(applied) if applied else None)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_graph_agrees_with_djangos_loader(name: str, django_says: dict[str, Any]) -> None:
    graph = ours(name)
    said = django_says[name]
    if "missing" in said:
        assert [tuple(said["missing"])] == [x.node for x in graph.missing]
        return
    if "cycle" in said:
        cycle = graph.cycle()
        assert cycle is not None and all(f"{a}.{n}" in said["cycle"] for a, n in cycle)
        for app in graph.by_app:  # and nothing breaks on it
            leaves = graph.leaves(app)
            graph.branches(app, graph.common_ancestor(app, leaves), leaves)
        return
    assert graph.missing == [] and graph.cycle() is None
    apps = sorted(said["nodes"])
    assert {app: graph.leaves(app) for app in apps} == said["leaves"]
    assert {app: graph.nodes(app) for app in apps} == said["nodes"]


def test_a_missing_dependency_is_named_with_its_origin_and_never_shown() -> None:
    # One side deleted 0002_gone; the other added 0003 on top of it (netbox dcim's shape).
    graph = Graph(
        {x.key: x for x in [*chain("a", 1), m("a", "0002_mine", ("a", "0001_m"))]}
        | {("a", "0003_theirs"): m("a", "0003_theirs", ("a", "0002_gone"))}
    )
    assert graph.missing == [Missing(("a", "0003_theirs"), ("a", "0002_gone"), "dependencies")]
    assert graph.conflicts() == {"a": ["0002_mine", "0003_theirs"]}
    assert graph.nodes("a") == ["0001_m", "0002_mine", "0003_theirs"]
    assert graph.common_ancestor("a", ["0002_mine", "0003_theirs"]) is None
    assert graph.branches("a", None, ["0002_mine", "0003_theirs"]) == [
        ["0001_m", "0002_mine"],
        ["0003_theirs"],
    ]


def test_a_missing_common_root_is_never_the_ancestor() -> None:
    graph = Graph(
        {
            x.key: x
            for x in [m("a", "0002_x", ("a", "0001_gone")), m("a", "0002_y", ("a", "0001_gone"))]
        }
    )
    assert graph.common_ancestor("a", ["0002_x", "0002_y"]) is None
    assert [x.origin for x in graph.missing] == [("a", "0002_x"), ("a", "0002_y")]


def test_branches_follow_paths_through_other_apps() -> None:
    # a.0002_a depends on b.0001, which depends on a.0002_z: z comes first, whatever the names.
    migrations = [
        *chain("a", 1),
        m("a", "0002_a", ("a", "0001_m"), ("b", "0001_b")),
        m("a", "0002_z", ("a", "0001_m")),
        m("b", "0001_b", ("a", "0002_z")),
        m("a", "0003_r", ("a", "0002_a"), ("a", "0002_z")),
        m("a", "0002_other", ("a", "0001_m")),
    ]
    graph = Graph({x.key: x for x in migrations})
    assert graph.conflicts() == {"a": ["0002_other", "0003_r"]}
    assert graph.branches("a", "0001_m", ["0003_r"]) == [["0002_z", "0002_a", "0003_r"]]


def test_branch_time_follows_the_sum_not_the_product() -> None:
    # 2,000 local migrations over a 20,000-migration history took 21 s when
    # each member's ancestors were walked again.
    history = chain("a", 20_000)
    local = chain("a", 2_000, start=20_001, after=history[-1].key)
    upstream = m("a", "20001_theirs", history[-1].key)
    graph = Graph({x.key: x for x in [*history, *local, upstream]})
    start = time.perf_counter()
    leaves = graph.leaves("a")
    ancestor = graph.common_ancestor("a", leaves)
    branches = graph.branches("a", ancestor, leaves)
    assert time.perf_counter() - start < 2.0
    assert ancestor == history[-1].name
    assert [len(b) for b in branches] == [1, 2_000]


def test_lineage_answers_as_ancestors_do_in_one_pass() -> None:
    # Long branches over long histories asked ancestors() once per migration: their product.
    base = chain("a", 5)
    left = chain("a", 3, start=6, after=base[-1].key)
    right = chain("a", 2, start=20, after=base[2].key)
    join = m("a", "0030_merge", left[-1].key, right[-1].key)
    graph = Graph({x.key: x for x in [*base, *left, *right, join]})
    keys = [base[1].key, left[0].key, right[1].key, join.key, left[2].key]
    lineage = graph.lineage(keys)
    assert lineage is not None
    for a in keys:
        for b in keys:
            assert lineage.before(a, b) == (a in graph.ancestors(b)), (a, b)
    ordered = sorted(keys, key=lineage.depth.__getitem__)
    assert all(
        lineage.depth[a] < lineage.depth[b]
        for a in keys
        for b in keys
        if a != b and lineage.before(a, b)
    )
    assert ordered[0] == base[1].key and ordered[-1] == join.key


def test_lineage_of_a_cycle_is_none() -> None:
    one = m("a", "0001_one", ("a", "0002_two"))
    two = m("a", "0002_two", ("a", "0001_one"))
    assert Graph({one.key: one, two.key: two}).lineage([one.key]) is None

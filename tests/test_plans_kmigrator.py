"""kmigrator plans in memory: renumber, merge and regenerate of a generated condo fork.

The folder is a dict of file name -> bytes written in kmigrator's format; the
plans' actions are applied to it here, and the result decoded again.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from datetime import datetime

import pytest

from migmerge.core import kmigrator
from migmerge.core.model import Conflict, Leaf, Overlap
from migmerge.core.plan import Action, Plan
from migmerge.core.plans import kmigrator as plans
from migmerge.core.plans import kmigrator_regenerate as regenerate
from migmerge.errors import Refused
from tests.testing.kmigrator import (
    KM_DIR,
    KM_VIEWS,
    km_add_field,
    km_create_model,
    km_file,
    km_source,
)

NOW = datetime(2024, 2, 1, 12, 0, 0)
DOWN = 'BEGIN;\nALTER TABLE "Ticket" DROP COLUMN x;\nCOMMIT;\n'


def migration(name: str, *parents: str, operations: str = "", views: str = KM_VIEWS) -> bytes:
    code = km_source(name, *parents, operations=operations)
    return km_file([(name, code)], views=views, down=DOWN)


def fork() -> dict[str, bytes]:
    """0001 <- 0002 <- upstream 0003_ticket_size (and a hand-written SQL file after it);
    0002 <- local 0003_ticket_color <- 0004_ticket_shade."""
    return {
        f"{KM_DIR}/20240101000000-0001_initial.js": migration(
            "0001_initial", operations=km_create_model("ticket")
        ),
        f"{KM_DIR}/20240102000000-0002_ticket_kind.js": migration(
            "0002_ticket_kind", "0001_initial"
        ),
        f"{KM_DIR}/20240105000000-0003_ticket_size.js": migration(
            "0003_ticket_size", "0002_ticket_kind", operations=km_add_field("ticket", "size")
        ),
        f"{KM_DIR}/20240106000000-0004_fill_sizes.js": b"// KMIGRATOR:0004_fill_sizes\n"
        b"exports.up = async (knex) => { await knex.raw('UPDATE ...') }\n",
        f"{KM_DIR}/20240103000000-0003_ticket_color.js": migration(
            "0003_ticket_color", "0002_ticket_kind", operations=km_add_field("ticket", "color")
        ),
        f"{KM_DIR}/20240104000000-0004_ticket_shade.js": migration(
            "0004_ticket_shade", "0003_ticket_color", operations=km_add_field("ticket", "shade")
        ),
    }


def folder_of(
    files: dict[str, bytes], applied: frozenset[str] | None = frozenset()
) -> plans.Folder:
    modules = {
        entry.name: path
        for path, data in sorted(files.items())
        for entry in kmigrator.decode(data).entries
    }
    why = "" if applied is not None else "no DATABASE_URL in the environment"
    return plans.Folder(
        "condo",
        KM_DIR,
        tuple(sorted(files)),
        modules,
        files.__getitem__,
        applied,
        why,
        "yarn workspace @app/condo makemigrations --merge",
    )


def conflict(*, shared: bool = False, applied: bool | None = False) -> Conflict:
    leaves = (
        Leaf(
            "0003_ticket_size",
            f"{KM_DIR}/20240105000000-0003_ticket_size.js",
            "upstream",
            True,
            True,
            ("0003_ticket_size",),
            (),
        ),
        Leaf(
            "0004_ticket_shade",
            f"{KM_DIR}/20240104000000-0004_ticket_shade.js",
            "local",
            shared,
            applied,
            ("0003_ticket_color", "0004_ticket_shade"),
            (),
        ),
    )
    return Conflict("condo", KM_DIR, "0002_ticket_kind", leaves, Overlap("model"), None)


def apply(files: dict[str, bytes], plan: Plan) -> dict[str, bytes]:
    """Carry out a file plan on the dict, as the executor does on disk."""
    out = dict(files)
    for action in plan.actions:
        if action.action in ("edit", "write"):
            assert action.path and action.content is not None
            out[action.path] = action.content
        elif action.action == "rename":
            assert action.path and action.target and action.target not in out
            out[action.target] = out.pop(action.path)
        elif action.action == "delete":
            assert action.path
            del out[action.path]
    return out


def graph(files: dict[str, bytes]) -> dict[str, tuple[str, ...]]:
    """Decode every file as kmigrator does: migration name -> the names it depends on."""
    nodes = {}
    for data in files.values():
        for entry in kmigrator.decode(data).entries:
            nodes[entry.name] = dependencies(entry.source)
    return nodes


def dependencies(source: bytes) -> tuple[str, ...]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "dependencies":
            return tuple(name for _, name in ast.literal_eval(node.value))
    return ()


def leaves_of(nodes: dict[str, tuple[str, ...]]) -> list[str]:
    needed = {dep for deps in nodes.values() for dep in deps}
    return sorted(name for name in nodes if name not in needed)


def outside_lines(data: bytes) -> list[bytes]:
    """Every line but the KMIGRATOR ones: the SQL and the rest of the JS."""
    return [line for line in data.splitlines(keepends=True) if not line.startswith(b"// KMIGRATOR")]


# --- renumber ---------------------------------------------------------------------


def test_a_renumbered_fork_decodes_to_a_single_leaf_graph() -> None:
    files = fork()
    plan = plans.plan_renumber(folder_of(files), conflict(), now=NOW)
    after = apply(files, plan)
    nodes = graph(after)
    assert leaves_of(nodes) == ["0005_ticket_shade"]
    assert nodes["0004_ticket_color"] == ("0003_ticket_size",)
    assert nodes["0005_ticket_shade"] == ("0004_ticket_color",)
    before = graph(files)
    unchanged = ("0001_initial", "0002_ticket_kind", "0003_ticket_size")
    assert {n: nodes[n] for n in unchanged} == {n: before[n] for n in unchanged}


def test_only_the_local_names_and_dependencies_change() -> None:
    files = fork()
    after = apply(files, plans.plan_renumber(folder_of(files), conflict(), now=NOW))
    renamed = {
        f"{KM_DIR}/{old}": f"{KM_DIR}/{new}"
        for old, new in [
            ("20240103000000-0003_ticket_color.js", "20240201120000-0004_ticket_color.js"),
            ("20240104000000-0004_ticket_shade.js", "20240201120001-0005_ticket_shade.js"),
        ]
    }
    assert set(after) == (set(files) - set(renamed)) | set(renamed.values())
    for path in set(files) - set(renamed):
        assert after[path] == files[path]  # byte for byte
    swaps = {
        "0003_ticket_color": [(b"'0002_ticket_kind'", b"'0003_ticket_size'")],
        "0004_ticket_shade": [(b"'0003_ticket_color'", b"'0004_ticket_color'")],
    }
    for old_path, new_path in renamed.items():
        assert outside_lines(after[new_path]) == outside_lines(files[old_path])  # the SQL stays
        (old,), (new,) = (
            kmigrator.decode(files[old_path]).entries,
            kmigrator.decode(after[new_path]).entries,
        )
        expected = old.source
        for a, b in swaps[old.name]:
            expected = expected.replace(a, b)
        assert new.source == expected  # the dependency, nothing else
        (views,) = kmigrator.decode(after[new_path]).views
        assert views.name == new.name and views.state == KM_VIEWS.encode()


def test_renamed_files_sort_after_every_other_file_knex_runs() -> None:
    files = fork()
    plan = plans.plan_renumber(folder_of(files), conflict(), now=datetime(2020, 1, 1))
    targets = [a.target for a in plan.actions if a.action == "rename"]
    # After the hand-written 0004_fill_sizes (not in the graph, but knex runs it), in order.
    assert targets == [
        f"{KM_DIR}/20240106000001-0004_ticket_color.js",
        f"{KM_DIR}/20240106000002-0005_ticket_shade.js",
    ]
    assert max(apply(files, plan), key=lambda p: p.rpartition("/")[2]) == targets[-1]


@pytest.mark.parametrize(
    ("facts", "applied", "words"),
    [
        ({"shared": True}, frozenset(), "it is shared"),
        ({"applied": True}, frozenset({"20240103000000-0003_ticket_color.js"}), "knex has applied"),
        ({"applied": None}, None, r"cannot be read \(no DATABASE_URL in the environment\)"),
    ],
)
def test_renumber_refuses_what_knex_may_have_run(
    facts: dict[str, bool | None], applied: frozenset[str] | None, words: str
) -> None:
    with pytest.raises(Refused, match=words) as refused:
        plans.plan_renumber(folder_of(fork(), applied), conflict(**facts), now=NOW)
    assert "--strategy merge" in (refused.value.hint or "")


def test_forced_over_an_applied_file_says_which_knex_row_to_rename() -> None:
    applied = frozenset({"20240103000000-0003_ticket_color.js"})
    plan = plans.plan_renumber(
        folder_of(fork(), applied), conflict(applied=True), force=True, now=NOW
    )
    assert plan.warnings == (
        "knex_migrations still records 20240103000000-0003_ticket_color.js: run UPDATE "
        "knex_migrations SET name = '20240201120000-0004_ticket_color.js' WHERE name = "
        "'20240103000000-0003_ticket_color.js'; or knex stops ('The migration directory is "
        "corrupt, the following files are missing')",
    )


def test_crlf_files_keep_their_line_endings() -> None:
    files = fork()
    path = f"{KM_DIR}/20240103000000-0003_ticket_color.js"
    code = km_source("0003_ticket_color", "0002_ticket_kind", field="color").replace(b"\n", b"\r\n")
    files[path] = km_file([("0003_ticket_color", code)], newline="\r\n", down=DOWN)
    after = apply(files, plans.plan_renumber(folder_of(files), conflict(), now=NOW))
    new = after[f"{KM_DIR}/20240201120000-0004_ticket_color.js"]
    assert outside_lines(new) == outside_lines(files[path])
    assert new.splitlines(keepends=True)[1].endswith(b"\r\n")  # the re-encoded line's own break
    (entry,) = kmigrator.decode(new).entries
    assert b"('_django_schema', '0003_ticket_size'),\r\n" in entry.source


# --- merge ------------------------------------------------------------------------


def test_merge_writes_kmigrators_merge_file_when_the_views_agree() -> None:
    files = fork()
    plan = plans.plan_merge(folder_of(files), conflict(), now=NOW)
    (write,) = plan.actions
    assert write.path == f"{KM_DIR}/20240201120000-0005_merge_0003_ticket_size_0004_ticket_shade.js"
    decoded = kmigrator.decode(write.content or b"")
    (entry,) = decoded.entries
    assert dependencies(entry.source) == ("0003_ticket_size", "0004_ticket_shade")
    assert [(v.name, v.state) for v in decoded.views] == [(entry.name, KM_VIEWS.encode())]
    assert leaves_of(graph(apply(files, plan))) == [entry.name]


def test_merge_of_files_without_views_lines_writes_none() -> None:
    files = {p: _without_views(d) for p, d in fork().items()}
    (write,) = plans.plan_merge(folder_of(files), conflict(), now=NOW).actions
    assert kmigrator.decode(write.content or b"").views == ()


def test_merge_refuses_when_the_branches_end_with_different_views() -> None:
    files = fork()
    path = f"{KM_DIR}/20240104000000-0004_ticket_shade.js"
    files[path] = migration(
        "0004_ticket_shade", "0003_ticket_color", views='{"dv": 1, "lists": {}}'
    )
    with pytest.raises(Refused, match="different analytics views states") as refused:
        plans.plan_merge(folder_of(files), conflict(), now=NOW)
    assert "yarn workspace @app/condo makemigrations --merge" in (refused.value.hint or "")
    assert "writes it only into .kmigrator/" in (refused.value.hint or "")


def _without_views(data: bytes) -> bytes:
    return b"".join(
        line for line in data.splitlines(keepends=True) if b"KMIGRATOR_VIEWS" not in line
    )


# --- regenerate -------------------------------------------------------------------

COMMANDS = {
    "rollback": "yarn workspace @app/condo migrate:down",
    "makemigrations": "yarn workspace @app/condo makemigrations",
    "migrate": "yarn workspace @app/condo migrate",
}
LOCAL = [
    f"{KM_DIR}/20240103000000-0003_ticket_color.js",
    f"{KM_DIR}/20240104000000-0004_ticket_shade.js",
]


def runs(actions: Iterable[Action]) -> list[str]:
    return [
        " ".join(a.command or ()) if a.action == "run" else f"{a.action} {a.path}" for a in actions
    ]


def test_regenerate_rolls_back_once_per_applied_local_file() -> None:
    applied = frozenset(p.rpartition("/")[2] for p in [*LOCAL, *sorted(fork())[:2]])
    plan = regenerate.plan_regenerate(
        folder_of(fork(), applied), conflict(applied=True), COMMANDS, "/repo"
    )
    assert runs(plan.actions) == [
        "yarn workspace @app/condo migrate:down",
        "yarn workspace @app/condo migrate:down",
        f"delete {LOCAL[0]}",
        f"delete {LOCAL[1]}",
        "yarn workspace @app/condo makemigrations",
        "yarn workspace @app/condo migrate",
    ]
    assert all(a.cwd == "/repo" for a in plan.actions if a.action == "run")


def test_regenerate_with_nothing_applied_rolls_nothing_back() -> None:
    plan = regenerate.plan_regenerate(folder_of(fork(), frozenset()), conflict(), COMMANDS, "/repo")
    assert runs(plan.actions)[:2] == [f"delete {LOCAL[0]}", f"delete {LOCAL[1]}"]


def test_regenerate_refuses_when_knex_would_undo_an_upstream_file_first() -> None:
    applied = frozenset({LOCAL[0].rpartition("/")[2], "20240105000000-0003_ticket_size.js"})
    with pytest.raises(
        Refused, match="20240105000000-0003_ticket_size.js, which is not one of yours"
    ):
        regenerate.plan_regenerate(
            folder_of(fork(), applied), conflict(applied=True), COMMANDS, "/r"
        )


def test_regenerate_refuses_a_file_that_cannot_be_rolled_back() -> None:
    files = fork()
    files[LOCAL[1]] = km_file(
        [("0004_ticket_shade", km_source("0004_ticket_shade", "0003_ticket_color"))]
    )
    applied = frozenset(p.rpartition("/")[2] for p in LOCAL)
    with pytest.raises(Refused, match="no auto backward migration"):
        regenerate.plan_regenerate(
            folder_of(files, applied), conflict(applied=True), COMMANDS, "/r"
        )


def test_regenerate_needs_the_commands_and_a_readable_database() -> None:
    with pytest.raises(Refused, match="rollback, migrate not configured") as refused:
        regenerate.plan_regenerate(folder_of(fork()), conflict(), {"makemigrations": "x"}, "/r")
    assert "[commands]" in (refused.value.hint or "")
    with pytest.raises(Refused, match="how many times to roll back cannot be told"):
        regenerate.plan_regenerate(folder_of(fork(), None), conflict(applied=None), COMMANDS, "/r")
    forced = regenerate.plan_regenerate(
        folder_of(fork(), None), conflict(applied=None), COMMANDS, "/r", force=True
    )
    assert "migrate:down" not in " ".join(runs(forced.actions))


def test_keep_names_moves_the_dependency_and_the_timestamps_only() -> None:
    files = fork()
    plan = plans.plan_renumber(folder_of(files), conflict(), keep_names=True, now=NOW)
    after = apply(files, plan)
    nodes = graph(after)
    assert leaves_of(nodes) == ["0004_ticket_shade"]
    assert nodes["0003_ticket_color"] == ("0003_ticket_size",)
    assert sorted(a.target for a in plan.actions if a.action == "rename") == [
        f"{KM_DIR}/20240201120000-0003_ticket_color.js",
        f"{KM_DIR}/20240201120001-0004_ticket_shade.js",
    ]
    shade = after[f"{KM_DIR}/20240201120001-0004_ticket_shade.js"]
    assert shade == files[f"{KM_DIR}/20240104000000-0004_ticket_shade.js"]  # nothing to change

"""kmigrator files: decoded and re-encoded byte for byte, renamed in knex's file order.

Every file here is written by the tests in kmigrator's format: Django
migration sources the tests write, base64-encoded into `// KMIGRATOR:` lines.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import random
import re
from datetime import datetime, timedelta, timezone

import pytest

from migmerge.core import kmigrator, kmigrator_write
from migmerge.core.kmigrator import Change, decode
from migmerge.core.kmigrator_write import reencode
from migmerge.errors import KmigratorError
from migmerge.reading.parse import parse_migration
from tests.testing.kmigrator import KM_VIEWS as VIEWS
from tests.testing.kmigrator import km_b64 as b64
from tests.testing.kmigrator import km_file
from tests.testing.kmigrator import km_source as source


def kmigrator_reading(data: bytes) -> list[tuple[str, bytes]]:
    """Read a file the way kmigrator's rule says: UTF-8 text, universal newlines, per line.

    Left out: a payload that does not decode (kmigrator stops on it), and an
    empty name or payload (kmigrator would write a module Django refuses).
    """
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None).read()
    found = []
    for line in text.split("\n"):
        if line.startswith("// KMIGRATOR:"):
            name, colon, payload = line[len("// KMIGRATOR:") :].rpartition(":")
            if name and colon and re.fullmatch(r"[A-Za-z0-9+/=]+", payload):
                with contextlib.suppress(binascii.Error):
                    found.append((name, base64.b64decode(payload)))
    return found


# --- file names --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "apps/condo/migrations/20240501100000-0012_ticket_kind.js",
        "migrations/20240501100000-0001_initial.js",
        "apps/x/migrations/20220209123400_0099_manual_fix.js",  # hand-made: underscore
        "apps/x/migrations/202110181210713-0068_auto.js",  # hand-made: 15 digits
        "apps/x/migrations/20210707112100-00027-insert_roles.js",
    ],
)
def test_migration_file_names(path: str) -> None:
    assert kmigrator.is_migration_file(path)


@pytest.mark.parametrize(
    "path",
    [
        "apps/condo/migrations/.DS_Store",
        "apps/condo/migrations/README.md",
        "apps/condo/migrations/index.js",
        "apps/condo/migrations/20240501100000-0012_ticket_kind.py",
        "apps/condo/schema/20240501100000-0012_ticket_kind.js",
        "apps/condo/migrations/old/20240501100000-0012_ticket_kind.js",
        "20240501100000-0012_ticket_kind.js",
    ],
)
def test_other_file_names_are_not_migrations(path: str) -> None:
    assert not kmigrator.is_migration_file(path)


def test_parse_file_name_and_canonical() -> None:
    name = kmigrator.parse_file_name("20240501100000-0012_ticket_kind.js")
    assert name == ("20240501100000", "-", "0012_ticket_kind")
    assert name is not None and name.canonical
    odd = kmigrator.parse_file_name("20220215172458_00100_alter_user_type.js")
    assert odd is not None and not odd.canonical
    assert kmigrator.parse_file_name("notes.js") is None


# --- decoding ----------------------------------------------------------------


def test_decode_one_entry_with_its_views_line() -> None:
    code = source("0012_ticket_kind", "0011_user_email")
    data = km_file([("0012_ticket_kind", code)])
    decoded = decode(data)
    (entry,) = decoded.entries
    assert (entry.name, entry.source, entry.line) == ("0012_ticket_kind", code, 2)
    assert data[entry.start : entry.end] == f"// KMIGRATOR:0012_ticket_kind:{b64(code)}".encode()
    (views,) = decoded.views
    assert (views.name, views.line) == ("0012_ticket_kind", 3)
    assert json.loads(views.state) == json.loads(VIEWS)
    assert decoded.bare == ()
    assert decoded.damaged == ()


def test_decoded_source_reads_as_a_django_migration() -> None:
    data = km_file([("0012_ticket_kind", source("0012_ticket_kind", "0011_user_email"))])
    (entry,) = decode(data).entries
    migration = parse_migration(
        entry.source, app=kmigrator.APP_LABEL, name=entry.name, path="migrations/x.js"
    )
    assert migration.dependencies == (("_django_schema", "0011_user_email"),)


def test_several_entries_in_one_file() -> None:
    entries = [
        ("0149_ticket_completedat", source("0149_ticket_completedat", "0148_x")),
        ("0150_alter_source_type", source("0150_alter_source_type", "0149_ticket_completedat")),
        ("0151_more", source("0151_more", "0150_alter_source_type")),
    ]
    data = km_file(entries, views=None)
    decoded = decode(data)
    assert [(e.name, e.source) for e in decoded.entries] == entries
    assert [e.line for e in decoded.entries] == [2, 3, 4]
    assert decoded.views == ()
    assert [(e.name, e.source) for e in decoded.entries] == kmigrator_reading(data)


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\r\r\n"])
def test_decode_other_line_breaks(newline: str) -> None:
    # "\r\r\n" is what kmigrator wrote on Windows: kmigrator reads a lone CR as a break too.
    code = source("0030_alter_token", "0029_x").replace(b"\n", b"\r\n")
    data = km_file([("0030_alter_token", code)], newline=newline)
    decoded = decode(data)
    breaks = 2 if newline == "\r\r\n" else 1  # kmigrator reads an empty line between
    (entry,) = decoded.entries
    assert (entry.name, entry.source, entry.line) == ("0030_alter_token", code, 1 + breaks)
    assert data[entry.end : entry.end + len(newline)] == newline.encode()
    assert decoded.views[0].line == 1 + 2 * breaks
    assert [(entry.name, entry.source)] == kmigrator_reading(data)


def test_a_bare_line_marks_a_hand_written_migration() -> None:
    data = b"// KMIGRATOR:0152_manual_insert_roles\n\nexports.up = async (knex) => {}\n"
    decoded = decode(data)
    assert decoded.entries == () and decoded.damaged == ()
    assert decoded.bare == (kmigrator.Bare("0152_manual_insert_roles", 1, 0, 37),)
    assert kmigrator_reading(data) == []


def test_a_file_without_kmigrator_lines_holds_no_migration() -> None:
    data = b"exports.up = async (knex) => {\n    await knex.raw(`UPDATE x SET y = 1`)\n}\n"
    assert decode(data) == ((), (), (), ())


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("// KMIGRATOR:0003_x:SGVsbG8", "bad base64"),  # padding lost
        ("// KMIGRATOR:0003_x:SGVs!bG8=", "not base64"),  # kmigrator skips it silently
        ("// KMIGRATOR:0003_x:", "empty payload"),
        ("// KMIGRATOR::SGVsbG8=", "no migration name"),
        ("// KMIGRATOR_VIEWS:views:e30=", "no leading number"),
        ("// KMIGRATOR_VIEWS:0003_x:e30", "bad base64"),
        ("// KMIGRATOR_VIEWS:0003_x", "no ':'"),
    ],
)
def test_damaged_lines_are_reported_not_raised(line: str, reason: str) -> None:
    good = source("0002_y", "0001_initial")
    data = km_file([("0002_y", good)], views=None).replace(
        b"\n\nexports", f"\n{line}\n\nexports".encode(), 1
    )
    decoded = decode(data)
    assert [e.name for e in decoded.entries] == ["0002_y"]
    (damaged,) = decoded.damaged
    assert reason in damaged.reason
    assert damaged.line == 3
    assert data[damaged.start : damaged.end] == line.encode()
    assert damaged.kind == ("views" if "VIEWS" in line else "migration")


def test_a_file_that_is_not_utf8_is_damaged() -> None:
    data = km_file([("0002_y", source("0002_y", "0001_initial"))]) + b"\x80\xff"
    decoded = decode(data)
    assert [e.name for e in decoded.entries] == ["0002_y"]
    assert [(d.kind, d.line) for d in decoded.damaged] == [("file", 0)]
    assert "UnicodeDecodeError" in decoded.damaged[0].reason


def test_a_name_on_two_lines_reports_the_one_kmigrator_hides() -> None:
    first, second = source("0545_x", "0544_a"), source("0545_x", "0544_b")
    data = km_file([("0545_x", first), ("0545_x", second)], views=None)
    decoded = decode(data)
    assert [(e.name, e.source) for e in decoded.entries] == [("0545_x", first), ("0545_x", second)]
    (hidden,) = decoded.damaged
    assert (hidden.name, hidden.line) == ("0545_x", 2)
    assert "line 3 has the same name" in hidden.reason
    with pytest.raises(KmigratorError, match="same name"):
        reencode(data, {"0545_x": Change("0546_x")})


def test_conflict_markers_make_the_file_unreadable() -> None:
    ours, theirs = source("0545_x", "0544_a"), source("0545_x", "0544_b")
    data = (
        f"// auto generated by kmigrator\n<<<<<<<< HEAD:migrations/1-0545_x.js\n"
        f"// KMIGRATOR:0545_x:{b64(ours)}\n========\n// KMIGRATOR:0545_x:{b64(theirs)}\n"
        ">>>>>>>> 2e468f8 (add x)\n\nexports.up = async (knex) => {}\n"
    ).encode()
    decoded = decode(data)
    assert [d.kind for d in decoded.damaged] == ["file", "migration"]
    assert "conflict markers" in decoded.damaged[0].reason
    with pytest.raises(KmigratorError, match="conflict markers"):
        reencode(data, {"0545_x": Change("0546_x")})
    assert decode(data.replace(b"\n<<<<<<<<", b"\n  <<<<<<<<")).damaged[0].kind == "migration"


def test_only_lines_that_start_with_the_mark_count() -> None:
    code = b64(source("0009_x", "0008_y"))
    data = (
        f"// auto generated by kmigrator\n  // KMIGRATOR:0009_x:{code}\n"
        f"// note: KMIGRATOR:0009_x:{code}\n// KMIGRATORS:0009_x:{code}\n"
    ).encode()
    assert decode(data) == ((), (), (), ())
    assert kmigrator_reading(data) == []


def test_the_name_runs_to_the_last_colon() -> None:
    code = source("a", "0001_initial")
    data = f"// KMIGRATOR:odd:name:{b64(code)}\n".encode()
    assert [(e.name, e.source) for e in decode(data).entries] == [("odd:name", code)]
    assert kmigrator_reading(data) == [("odd:name", code)]


def test_decode_agrees_with_kmigrators_reading_on_scrambled_files() -> None:
    pieces = ["// KMIGRATOR:", "// KMIGRATOR_VIEWS:", "0003_x", ":", "=", "QUJD", "SGVsbG8", "!"]
    pieces += ["\n", "\r\n", "\r", " ", "é", "//", "// auto generated by kmigrator\n"]
    rng = random.Random(15)
    for _ in range(3000):
        data = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30))).encode()
        decoded = decode(data)
        assert [(e.name, e.source) for e in decoded.entries] == kmigrator_reading(data)
        for start, end, line in _spans(decoded):
            assert data[start:end].startswith(b"// KMIGRATOR") or not line
        if decoded.entries and not decoded.damaged:
            _check_round_trip(data, decoded)


def _spans(decoded: kmigrator.Decoded, everything: bool = True) -> list[tuple[int, int, int]]:
    """Return (start, end, line) of the entries and views lines, and the others if asked."""
    spans = [(e.start, e.end, e.line) for e in decoded.entries]
    spans += [(v.start, v.end, v.line) for v in decoded.views]
    if everything:
        spans += [(b.start, b.end, b.line) for b in decoded.bare]
        spans += [(d.start, d.end, d.line) for d in decoded.damaged]
    return spans


def _check_round_trip(data: bytes, decoded: kmigrator.Decoded) -> None:
    """Rename (where the name allows) and re-source every entry, then decode again."""
    renamable = [e.name for e in decoded.entries if not re.search(r"[:/\\\r\n]", e.name)]
    changes = {e.name: Change(None, e.source + b"#") for e in decoded.entries}
    changes.update({name: Change(f"9{name}", changes[name].source) for name in renamable})
    again = decode(reencode(data, changes))
    expected = [(changes[e.name].name or e.name, e.source + b"#") for e in decoded.entries]
    assert [(e.name, e.source) for e in again.entries] == expected


# --- re-encoding -------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_round_trip_renames_an_entry_and_its_views_line(newline: str) -> None:
    old = source("0012_ticket_kind", "0011_user_email")
    other = source("0013_ticket_more", "0012_ticket_kind")
    data = km_file([("0012_ticket_kind", old), ("0013_ticket_more", other)], newline=newline)
    new = old.replace(b"0011_user_email", b"0014_upstream_leaf")
    result = reencode(data, {"0012_ticket_kind": Change("0015_ticket_kind", new)})

    decoded = decode(result)
    assert [(e.name, e.source) for e in decoded.entries] == [
        ("0015_ticket_kind", new),
        ("0013_ticket_more", other),
    ]
    assert [v.name for v in decoded.views] == ["0015_ticket_kind", "0013_ticket_more"]
    assert decoded.views[0].state == decode(data).views[0].state
    assert _outside_lines(result, decoded) == _outside_lines(data, decode(data))
    assert result.count(newline.encode()) == data.count(newline.encode())


def _outside_lines(data: bytes, decoded: kmigrator.Decoded) -> list[bytes]:
    """Return the bytes between the KMIGRATOR and KMIGRATOR_VIEWS lines."""
    spans = sorted((start, end) for start, end, _ in _spans(decoded, everything=False))
    edges = [0, *[edge for span in spans for edge in span], len(data)]
    return [data[edges[i] : edges[i + 1]] for i in range(0, len(edges), 2)]


def test_a_rename_alone_keeps_the_payload_text() -> None:
    code = source("0012_ticket_kind", "0011_user_email")
    data = km_file([("0012_ticket_kind", code)])
    result = reencode(data, {"0012_ticket_kind": Change(name="0020_ticket_kind")})
    assert result == data.replace(b"0012_ticket_kind:", b"0020_ticket_kind:")


def test_a_new_source_alone_keeps_the_name_and_the_views_line() -> None:
    code = source("0012_ticket_kind", "0011_user_email")
    data = km_file([("0012_ticket_kind", code)])
    new = code.replace(b"0011_user_email", b"0011_other")
    result = reencode(data, {"0012_ticket_kind": Change(source=new)})
    assert result == data.replace(b64(code).encode(), b64(new).encode())


def test_reencode_keeps_damaged_and_bare_lines() -> None:
    code = source("0002_y", "0001_initial")
    extra = b"// KMIGRATOR:0003_x:SGVsbG8\n// KMIGRATOR:0004_manual\n"
    data = km_file([("0002_y", code)], views=None).replace(
        b"\n\nexports", b"\n" + extra + b"\nexports", 1
    )
    result = reencode(data, {"0002_y": Change("0005_y")})
    assert extra in result
    assert [e.name for e in decode(result).entries] == ["0005_y"]


def test_reencode_refuses_unknown_entries_and_bad_names() -> None:
    data = km_file([("0002_y", source("0002_y", "0001_initial"))])
    with pytest.raises(KmigratorError, match="0009_missing"):
        reencode(data, {"0009_missing": Change("0010_x")})
    for bad in ["", "0003_a:b", "0003_a/b", "0003_a\nb"]:
        with pytest.raises(KmigratorError):
            reencode(data, {"0002_y": Change(bad)})


def test_no_change_is_the_same_bytes() -> None:
    data = km_file([("0002_y", source("0002_y", "0001_initial"))], newline="\r\n")
    assert reencode(data, {}) == data
    assert reencode(data, {"0002_y": Change()}) == data


# --- renamed files -----------------------------------------------------------

UPSTREAM = "apps/condo/migrations/20240501100000-0014_upstream_leaf.js"


def test_the_renamed_file_sorts_after_upstream() -> None:
    path = "apps/condo/migrations/20240430090000-0014_ticket_kind.js"
    new = kmigrator_write.renamed_path(path, "0015_ticket_kind", UPSTREAM)
    assert new == "apps/condo/migrations/20240501100001-0015_ticket_kind.js"
    names = sorted(p.rpartition("/")[2] for p in (new, UPSTREAM))
    assert names[-1] == new.rpartition("/")[2]  # knex runs files in name order


def test_the_timestamp_is_now_when_now_is_later() -> None:
    now = datetime(2024, 6, 2, 8, 30, 5)
    assert kmigrator_write.timestamp_after(UPSTREAM, now) == "20240602083005"
    assert kmigrator_write.timestamp_after(UPSTREAM, datetime(2020, 1, 1)) == "20240501100001"


def test_an_aware_now_is_taken_as_local_time() -> None:
    now = datetime(2030, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=5)))
    expected = now.astimezone().strftime("%Y%m%d%H%M%S")
    assert kmigrator_write.timestamp_after(UPSTREAM, now) == expected


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        ("20211231235959-0100_x.js", "20220101000000"),
        ("202110181210713-0068_auto.js", "20211018121112"),  # 15 digits: "71" seconds carry
        ("20220209123400_0099_manual.js", "20220209123401"),
    ],
)
def test_timestamps_after_odd_upstream_names(upstream: str, expected: str) -> None:
    stamp = kmigrator_write.timestamp_after(upstream)
    assert stamp == expected
    assert f"{stamp}-0101_local.js" > upstream


@pytest.mark.parametrize(
    "upstream", ["0014_x.js", "2024050110-0014_x.js", "20241399100000-0014_x.js"]
)
def test_no_timestamp_after_a_name_without_one(upstream: str) -> None:
    with pytest.raises(KmigratorError, match="timestamp"):
        kmigrator_write.timestamp_after(upstream)


def test_several_renamed_files_keep_their_order_after_upstream() -> None:
    moves = [
        ("apps/condo/migrations/20240430090000-0014_a.js", "0015_a"),
        ("apps/condo/migrations/20240430090000-0015_b.js", "0016_b"),
        ("apps/condo/migrations/20240430090001-0016_c.js", "0017_c"),
    ]
    now = datetime(2024, 5, 1, 10, 0, 0)  # earlier than upstream's file: the order still holds
    paths = kmigrator_write.renamed_paths(moves, UPSTREAM, now)
    names = [p.rpartition("/")[2] for p in paths]
    assert names == [
        "20240501100001-0015_a.js",
        "20240501100002-0016_b.js",
        "20240501100003-0017_c.js",
    ]
    assert sorted([*names, UPSTREAM.rpartition("/")[2]])[1:] == names
    assert all(kmigrator.parse_file_name(n).canonical for n in names)  # type: ignore[union-attr]


def test_the_file_name_is_kmigrators() -> None:
    assert (
        kmigrator_write.file_name("20240501100000", "0001_initial")
        == "20240501100000-0001_initial.js"
    )
    with pytest.raises(KmigratorError):
        kmigrator_write.file_name("20240501100000", "0001/initial")


# --- merge files -------------------------------------------------------------


@pytest.mark.parametrize("views", [None, VIEWS.encode()])
def test_a_rendered_merge_file_decodes_to_the_merge(views: bytes | None) -> None:
    merge = (
        b"from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n\n"
        b"    dependencies = [\n        ('_django_schema', '0014_a'),\n"
        b"        ('_django_schema', '0014_b'),\n    ]\n\n    operations = [\n    ]\n"
    )
    data = kmigrator_write.render_merge_file("0015_merge_0014_a_0014_b", merge, views)
    decoded = decode(data)
    assert [(e.name, e.source) for e in decoded.entries] == [("0015_merge_0014_a_0014_b", merge)]
    assert [v.state for v in decoded.views] == ([] if views is None else [views])
    assert data.startswith(b"// auto generated by kmigrator\n")
    assert data.count(b"await knex.raw(`\n    \n    `)") == 2

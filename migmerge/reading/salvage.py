"""The fallback reader: what `ast` can still read of a file Python cannot parse whole.

Old projects keep Python 2 migrations for years (`print "done"` in a data
function), and one such file must not stop a check. The text is cut into
statements at their indentation; each is parsed alone, so one broken function
costs that function and nothing else; a statement that is Python 2 only
(`print x`, `except E, e:`, `raise E, "why"`) is read as its Python 3
spelling, which makes the same calls. A `class Migration` that does not parse
is read statement by statement inside, and a list assigned there
(`dependencies`, `operations`) that does not parse is read item by item: the
header and the operations as far as they go. What could not be parsed is
named (its line), never guessed.

A file git left with conflict markers (`<<<<<<<`, `=======`, `>>>>>>>`, and
diff3's `|||||||` base) is read with both sides' lines and without the
markers and the base: its dependencies are then those of both sides, so no
migration either side depends on becomes a leaf it is not, and an
`operations` list the markers cut into holds an unparsed item, its overlap
unknown (half of each side's operations is neither side's migration).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple, TypeVar

# Lines at a statement's indentation that continue the statement before them.
_CONTINUES = re.compile(r"(else|elif|except|finally|case)\b|[)\]}]")
# Messages of a piece that is merely cut short: the next piece may complete it.
_CUT_SHORT = (
    "never closed",
    "unterminated triple-quoted",
    "unexpected EOF",
    "expected an indented",
)
# How many following pieces a piece cut short may take to complete.
_REACH = 200
_LISTS = ("dependencies", "replaces", "run_before", "operations")
# The text of the unparsed item standing for operations cut by conflict markers.
CONFLICTED = "merge conflict markers"


class Unparsed(NamedTuple):
    """An item of a list that could not be parsed (stands in for it in the tree)."""

    line: int
    text: str


class Salvaged(NamedTuple):
    """What could be read: a module of the statements that parse, and what did not."""

    tree: ast.Module
    lost: tuple[int, ...]  # first line of each statement or item left out
    markers: tuple[int, ...] = ()  # the line of each `<<<<<<<` (conflict markers)


def salvage(text: str) -> Salvaged:
    """Read what can be read of `text`, a module Python cannot parse whole."""
    lost: list[int] = []
    text, regions = _both_sides(text)
    body: list[ast.stmt] | None = None
    if regions:
        try:
            body = ast.parse(text).body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            body = None
    if body is None:
        body = _statements(text.splitlines(keepends=True), 0, lost, _migration_class)
    tree = ast.Module(body=body, type_ignores=[])
    if regions:
        _both_headers(tree, regions)
        _operations_cut(tree, regions)
    return Salvaged(tree, tuple(lost), tuple(first for first, _ in regions))


# git's conflict markers, each alone at the start of its line.
# Seven or more: git writes eight for a rename/rename conflict, more when nested.
_MARKER = re.compile(r"(<{7,}|\|{7,}|={7,}|>{7,})(?: .*)?\r?\n?$")


def _both_sides(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`text` with both sides' lines kept and the markers and diff3's base blanked.

    Returns the text (the same lines, so line numbers hold) and each
    conflict's (first line, last line), counted from 1.
    """
    if "<<<<<<<" not in text:
        return text, []
    lines = text.splitlines(keepends=True)
    regions: list[tuple[int, int]] = []
    state, first = "out", 0
    for i, line in enumerate(lines):
        match = _MARKER.match(line)
        mark = match.group(1)[0] if match else ""
        blank = "\n" if line.endswith("\n") else ""
        if state == "out" and mark == "<":
            state, first, lines[i] = "ours", i + 1, blank
        elif state in ("ours", "base") and mark in "|=" and mark:
            state, lines[i] = ("base" if mark == "|" else "theirs"), blank
        elif state == "theirs" and mark == ">":
            state, lines[i] = "out", blank
            regions.append((first, i + 1))
        elif state == "base":
            lines[i] = blank
    if not regions:
        return text, []
    return "".join(lines), regions


def _both_headers(tree: ast.Module, regions: list[tuple[int, int]]) -> None:
    """One `dependencies` (`replaces`, `run_before`) of both sides' items, where each has its own.

    A conflict around a whole one-line assignment keeps both assignments;
    Python would take the last, one side's, so they are joined instead.
    """
    for cls in _migration_classes(tree):
        for name in _LISTS[:3]:
            found = [stmt for stmt in cls.body if _assigned_list(stmt, name) is not None]
            if len(found) < 2 or not any(_within(stmt, regions) for stmt in found):
                continue
            items: dict[str, ast.expr] = {}
            for stmt in found:
                for item in _assigned_list(stmt, name) or []:
                    items.setdefault(ast.dump(item), item)
            first = _assigned_list(found[0], name)
            assert first is not None
            first[:] = list(items.values())
            cls.body = [stmt for stmt in cls.body if stmt is found[0] or stmt not in found]


def _migration_classes(tree: ast.Module) -> list[ast.ClassDef]:
    return [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration"]


def _assigned_list(stmt: ast.stmt, name: str) -> list[ast.expr] | None:
    """The items of `name = [...]` (or a tuple), else None."""
    if not isinstance(stmt, ast.Assign) or not isinstance(stmt.value, (ast.List, ast.Tuple)):
        return None
    if not any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
        return None
    return stmt.value.elts


def _within(stmt: ast.stmt, regions: list[tuple[int, int]]) -> bool:
    """Tell whether a conflict region overlaps the lines of `stmt`."""
    end = getattr(stmt, "end_lineno", None) or _last_line(stmt)
    return any(first <= end and last >= stmt.lineno for first, last in regions)


def _operations_cut(tree: ast.Module, regions: list[tuple[int, int]]) -> None:
    """Put an unparsed item in each `operations` list a conflict falls in."""
    for cls in _migration_classes(tree):
        for stmt in cls.body:
            items = _assigned_list(stmt, "operations")
            if items is not None and _within(stmt, regions):
                first = next(a for a, b in regions if a <= _last_line(stmt) and b >= stmt.lineno)
                items.append(ast.Constant(value=Unparsed(first, CONFLICTED)))  # type: ignore[arg-type]


def _last_line(node: ast.AST) -> int:
    """The last line any part of `node` is on (nodes the fallback reader made have no end)."""
    last = 0
    for part in ast.walk(node):
        line = getattr(part, "end_lineno", None) or getattr(part, "lineno", None)
        if isinstance(line, int):
            last = max(last, line)
    return last


def _starts(lines: list[str]) -> list[int]:
    """Indexes of the lines that begin a statement (lines are dedented to column 0)."""
    out = []
    joined = False  # the line before ends in a backslash or is a decorator
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0] not in " \t" and not joined and not _CONTINUES.match(line):
            out.append(i)
        joined = stripped.endswith("\\") or stripped.startswith("@")
    return out


T = TypeVar("T")
Descend = Callable[[list[str], int, list[int]], "list[ast.stmt] | None"]


def _pieces(lines: list[str], read: Callable[[str], T]) -> Iterator[tuple[int, int, T | None]]:
    """Cut `lines` into statements; yield (first line, end line, what `read` made of it or None).

    A piece only cut short (a bracket still open) takes the pieces after it
    until `read` takes it whole.
    """
    starts = _starts(lines)
    ends = [*starts[1:], len(lines)]
    i = 0
    while i < len(starts):
        result, taken = _read_growing(lines, starts, ends, i, read)
        yield starts[i], ends[i + taken - 1], result
        i += taken


def _read_growing(
    lines: list[str], starts: list[int], ends: list[int], i: int, read: Callable[[str], T]
) -> tuple[T | None, int]:
    for taken in range(1, min(_REACH, len(starts) - i) + 1):
        try:
            return read("".join(lines[starts[i] : ends[i + taken - 1]])), taken
        except SyntaxError as exc:
            if not any(words in (exc.msg or "") for words in _CUT_SHORT):
                break
        except (ValueError, RecursionError, MemoryError):
            break
    return None, 1


# Python 2 statements that have a Python 3 spelling of the same calls, line by line:
# `print x` (and `print >>f, x`), `exec code`, `except E, e:`, `raise E, "why"`, `<>`.
_PY2_LINE = (
    (re.compile(r"^(\s*)print\s*>>\s*([^,]+),\s*(.+?)\s*$"), r"\1print(\3, file=\2)"),
    (re.compile(r"^(\s*)(print|exec)\s+(?![\s(=.,)\[])(.+?)\s*$"), r"\1\2(\3)"),
    (re.compile(r"^(\s*)print\s*$"), r"\1print()"),
    (re.compile(r"^(\s*except\s+)(.+),\s*(\w+)\s*:\s*$"), r"\1\2 as \3:"),
    (re.compile(r"^(\s*)raise\s+([\w.]+)\s*,\s*(.+?)\s*$"), r"\1raise \2(\3)"),
)


def _python2(text: str) -> str:
    """`text` with the Python 2 statements above spelled as Python 3 (same lines)."""
    out = []
    for line in text.splitlines(keepends=True):
        end = line[len(line.rstrip("\r\n")) :]
        body = line[: len(line) - len(end)]
        for pattern, replacement in _PY2_LINE:
            body = pattern.sub(replacement, body)
        out.append(body.replace("<>", "!=") + end)
    return "".join(out)


def _parse(text: str) -> ast.Module:
    """Parse a statement; one that is Python 2 only, as its Python 3 spelling."""
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        fixed = _python2(text)
        if fixed == text:
            raise
        try:
            return ast.parse(fixed)
        except SyntaxError:
            raise exc from None


def _statements(lines: list[str], offset: int, lost: list[int], descend: Descend) -> list[ast.stmt]:
    """Parse `lines` statement by statement; `offset`: line number before lines[0]."""
    body: list[ast.stmt] = []
    for start, end, module in _pieces(lines, _parse):
        if module is not None:
            ast.increment_lineno(module, offset + start)
            body += module.body
            continue
        inner = descend(lines[start:end], offset + start, lost)
        if inner is None:
            lost.append(offset + start + 1)
        else:
            body += inner
    return body


def _migration_class(lines: list[str], offset: int, lost: list[int]) -> list[ast.stmt] | None:
    """Read a `class Migration` that does not parse, statement by statement inside."""
    header = lines[0]
    if not re.match(r"class\s+Migration\b", header) or not header.rstrip().endswith(":"):
        return None
    body_lines = _dedented(lines[1:])
    body = _statements(body_lines, offset + 1, lost, _class_list)
    bases = _header_bases(header)
    cls = ast.ClassDef(
        name="Migration",
        bases=bases,
        keywords=[],
        body=body or [ast.Pass()],
        decorator_list=[],
        lineno=offset + 1,
        col_offset=0,
    )
    return [cls]


def _header_bases(header: str) -> list[ast.expr]:
    try:
        tree = ast.parse(header.rstrip() + " pass\n")
    except SyntaxError:
        return []
    first = tree.body[0]
    return first.bases if isinstance(first, ast.ClassDef) else []


def _class_list(lines: list[str], offset: int, lost: list[int]) -> list[ast.stmt] | None:
    """Read `name = [...]` item by item when the whole list does not parse."""
    match = re.match(r"(\w+)\s*=\s*([\[(])", lines[0])
    if match is None or match.group(1) not in _LISTS:
        return None
    first = lines[0][match.end() :]
    items_text = [first, *lines[1:]]
    closing = "]" if match.group(2) == "[" else ")"
    items = _items(_dedented(_strip_closing(items_text, closing)), offset, lost)
    target = ast.Name(id=match.group(1), ctx=ast.Store())
    value = ast.List(elts=items, ctx=ast.Load())
    return [ast.Assign(targets=[target], value=value, lineno=offset + 1, col_offset=0)]


def _strip_closing(lines: list[str], closing: str) -> list[str]:
    """Drop the list's closing bracket (its last non-blank character)."""
    for i in range(len(lines) - 1, -1, -1):
        stripped = lines[i].rstrip()
        if stripped:
            if stripped.endswith(closing):
                lines = [*lines[:i], stripped[:-1] + "\n"]
            return lines
    return lines


def _items(lines: list[str], offset: int, lost: list[int]) -> list[ast.expr]:
    """Parse list items one by one; an item that does not parse becomes Unparsed."""
    out: list[ast.expr] = []
    for start, _, items in _pieces(lines, _list_items):
        if items is not None:
            out += items
            continue
        line = offset + start + 1
        lost.append(line)
        # Not one of the types typeshed allows a constant: nothing but parse looks at it.
        out.append(ast.Constant(value=Unparsed(line, lines[start].strip())))  # type: ignore[arg-type]
    return out


def _list_items(text: str) -> list[ast.expr]:
    """The items of `text`, some items of a list; SyntaxError when they do not parse."""
    text = text.rstrip().rstrip(",")
    ast.parse(text)  # alone first: whole, or cut short?
    node = ast.parse(f"[{text}\n]", mode="eval").body
    if not isinstance(node, ast.List):
        raise SyntaxError("not list items")
    return list(node.elts)


def _dedented(lines: list[str]) -> list[str]:
    """Remove the indentation of the first non-blank line from every line."""
    indent = next((line[: len(line) - len(line.lstrip())] for line in lines if line.strip()), "")
    return [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines]

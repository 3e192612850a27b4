"""Byte-preserving edits of migration files, located with `ast` and spliced at node offsets.

The file is decoded in its own declared encoding (PEP 263 coding line, BOM),
string literals are found by walking the `dependencies`, `run_before` and
`replaces` assignments of the migration class, and only those literals'
characters are replaced. Everything else -- comments, quotes, line endings,
non-ASCII text -- comes back byte for byte.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from migmerge.core.model import Key
from migmerge.errors import MigmergeError

REFERENCE_ATTRIBUTES = ("dependencies", "run_before", "replaces")

# The line breaks Python's tokenizer knows; str.splitlines() knows more (\f, \x1c...).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class EditError(MigmergeError):
    """A migration file cannot be edited safely."""


@dataclass(frozen=True)
class _Decoded:
    text: str
    encoding: str
    line_starts: tuple[int, ...]  # character offset of each line's first character


@dataclass(frozen=True)
class _Splice:
    start: int  # character offsets into the decoded text
    end: int
    text: str


def rewrite_references(source: bytes, renames: Mapping[Key, Key]) -> bytes:
    """Rename every (app, old) pair in dependencies, run_before and replaces to (app, new)."""
    return _rewrite(source, renames, REFERENCE_ATTRIBUTES)


def replace_dependency(source: bytes, old: Key, new: Key) -> bytes:
    """Re-point the dependency tuple `old` to `new`; fail when there is none."""
    result = _rewrite(source, {old: new}, ("dependencies",))
    if result == source and old != new:
        raise EditError(
            f"no literal dependency on {old[0]}.{old[1]} to re-point",
            hint="edit the migration's dependencies by hand, or use --strategy merge",
        )
    return result


def references(source: bytes, attributes: tuple[str, ...] = REFERENCE_ATTRIBUTES) -> list[Key]:
    """List the literal (app, name) pairs found in the given class attributes."""
    decoded = _decode(source)
    return [key for key, _, _ in _pairs(_parse(decoded.text), attributes)]


def _rewrite(source: bytes, renames: Mapping[Key, Key], attributes: tuple[str, ...]) -> bytes:
    """Apply `renames` to the literal pairs of `attributes`, splicing only the changed strings."""
    decoded = _decode(source)
    splices: list[_Splice] = []
    for key, app_node, name_node in _pairs(_parse(decoded.text), attributes):
        new = renames.get(key)
        if new is None:
            continue
        for node, old_value, new_value in ((app_node, key[0], new[0]), (name_node, key[1], new[1])):
            if old_value != new_value:
                splices.append(_splice_literal(decoded, node, new_value))
    if not splices:
        return source
    return _encode(decoded, _apply_splices(decoded.text, splices))


def _decode(source: bytes) -> _Decoded:
    """Decode in the file's own encoding, remembering where every line starts."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise EditError(f"cannot decode the migration: {exc}") from exc
    starts = [0] + [match.end() for match in _LINE_BREAK.finditer(text)]
    return _Decoded(text=text, encoding=encoding, line_starts=tuple(starts))


def _encode(decoded: _Decoded, text: str) -> bytes:
    """Encode back in the original encoding (utf-8-sig puts the BOM back)."""
    return text.encode(decoded.encoding)


def _parse(text: str) -> ast.Module:
    """Parse the decoded source; a file Django cannot load is not edited."""
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise EditError(f"cannot parse the migration: {exc.msg} (line {exc.lineno})") from exc


_Pair = tuple[Key, ast.expr, ast.expr]


def _pairs(tree: ast.Module, attributes: tuple[str, ...]) -> Iterator[_Pair]:
    """Yield every literal two-string tuple or list inside the attributes' values."""
    for value in _attribute_values(tree, attributes):
        for node in ast.walk(value):
            if isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) == 2:
                app, name = node.elts
                app_value, name_value = _str_value(app), _str_value(name)
                if app_value is not None and name_value is not None:
                    yield (app_value, name_value), app, name


def _attribute_values(tree: ast.Module, attributes: tuple[str, ...]) -> Iterator[ast.expr]:
    """Yield the values assigned to `attributes` in the body of every class of the module."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                yield from _assigned(statement, attributes)


def _assigned(statement: ast.stmt, attributes: tuple[str, ...]) -> Iterator[ast.expr]:
    """Yield the value of `NAME = ...`, `NAME: T = ...` or `NAME += ...` for a wanted NAME."""
    if isinstance(statement, ast.Assign):
        if any(isinstance(t, ast.Name) and t.id in attributes for t in statement.targets):
            yield statement.value
    elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
        target = statement.target
        if isinstance(target, ast.Name) and target.id in attributes and statement.value:
            yield statement.value


def _str_value(node: ast.expr) -> str | None:
    """The value of a plain string literal, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _splice_literal(decoded: _Decoded, node: ast.expr, value: str) -> _Splice:
    """Replace the literal `node` with `value`, written in the literal's own quote style."""
    start = _offset(decoded, node.lineno, node.col_offset)
    end = _offset(decoded, node.end_lineno or node.lineno, node.end_col_offset or 0)
    return _Splice(start, end, _literal_like(decoded.text[start:end], value))


def _offset(decoded: _Decoded, lineno: int, col: int) -> int:
    """Turn ast's (line, UTF-8 byte column) into a character offset in the decoded text."""
    line_start = decoded.line_starts[lineno - 1]
    prefix_bytes = decoded.text[line_start:].encode("utf-8")[:col]
    return line_start + len(prefix_bytes.decode("utf-8"))


_LITERAL = re.compile(r"(?P<prefix>[rRuU]*)(?P<quote>'''|\"\"\"|'|\")")


def _literal_like(original: str, value: str) -> str:
    """Render `value` with the prefix and quotes of `original`; repr() when that is unsafe."""
    match = _LITERAL.match(original)
    if match is None or "\\" in value or match["quote"][0] in value or "\n" in value:
        return repr(value)
    return f"{match['prefix']}{match['quote']}{value}{match['quote']}"


def _apply_splices(text: str, splices: list[_Splice]) -> str:
    """Splice replacements in from the end so earlier offsets stay valid."""
    for splice in sorted(splices, key=lambda s: s.start, reverse=True):
        text = text[: splice.start] + splice.text + text[splice.end :]
    return text

"""From a migration's bytes to a tree, as Python's compiler takes them.

The bytes go to the compiler as they are, so it decides the encoding as when
Django imports the file; what it refuses beyond syntax is said in words
(`why_not_taken`). What it cannot parse at all goes to the fallback reader
(salvage.py), and the note says what was left out. The modules a migration
imports are parsed here too, the same tolerant way.
"""

from __future__ import annotations

import ast
import io
import sys

from migmerge.reading.salvage import Unparsed, salvage


def parse_tree(source: bytes, path: str) -> tuple[ast.Module, str | None]:
    """Parse `source` as Python's compiler does; else what the fallback reader salvages.

    The bytes go to the compiler as they are, so it decides the encoding (BOM,
    coding line, bytes in comments) exactly as when Django imports the file.
    Returns the tree and, when Python would not take the file, why.
    """
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return _salvaged(source, exc)
    refusal = _refusal(tree, source, path)
    return tree, refusal


def refused(source: bytes, path: str) -> str | None:
    """Why Python would not import `source` (syntax included), in words; None when it would.

    For a migration read by its header only: the header reads, the rest may not.
    """
    try:
        compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return f"Python refuses it ({why_not_taken(exc)}), so Django cannot import it either"
    return None


def _refusal(tree: ast.Module, source: bytes, path: str) -> str | None:
    """What Python's compiler refuses beyond syntax (`from __future__ import braces`).

    Asked of every file read in full: no cheaper test is sound (a keyword
    repeated in a call is refused only here), and it costs a tenth of the parse.
    """
    try:
        try:
            compile(tree, path, "exec", dont_inherit=True)
        except RecursionError:  # too deep as Python objects; the compiler may still take it
            compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return f"Python refuses it ({why_not_taken(exc)}), so Django cannot import it either"
    return None


def _salvaged(source: bytes, exc: BaseException) -> tuple[ast.Module, str]:
    """Read what the fallback reader can of a file Python cannot parse."""
    import tokenize  # for a file Python refuses only: the others are read without it

    try:
        encoding = tokenize.detect_encoding(io.BytesIO(source).readline)[0]
        text = source.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        text = source.decode("utf-8", errors="replace")
    found = salvage(text.replace("\0", ""))
    lost = ", ".join(map(str, found.lost[:5])) + (", ..." if len(found.lost) > 5 else "")
    left = f" (left out: line {lost})" if lost else ""
    if found.markers:
        marks = ", ".join(map(str, found.markers))
        left = f", both sides' lines of its merge conflict markers (line {marks}){left}"
    reason = f"{SALVAGED} ({why_not_taken(exc)}): read as far as it goes{left}"
    return found.tree, reason


# How an `unreadable` note begins when the fallback reader read the file.
SALVAGED = f"Python {sys.version_info[0]}.{sys.version_info[1]} cannot parse it"


def why_not_taken(exc: BaseException) -> str:
    """Say in a few words why Python did not take a file."""
    if "null bytes" in str(exc):
        return "the file contains NUL bytes"
    if isinstance(exc, SyntaxError):
        return f"line {exc.lineno}: {exc.msg}" if exc.lineno else str(exc.msg)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def module_tree(source: bytes) -> ast.Module | None:
    """Parse a module imported by a migration, as far as it reads."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        try:
            return salvage(source.decode("utf-8", "replace").replace("\0", "")).tree
        except RecursionError:
            return None


def unparsed_line(node: ast.expr) -> int | None:
    """The line of a list item the fallback reader could not parse, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, Unparsed):
        return node.value.line
    return None

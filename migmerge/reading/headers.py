"""Migration headers the fast way: byte scans of plain makemigrations files.

`check` reads ten thousand headers (dependencies and `initial`) when a tree is
new to it; this module does that without `ast`, and is all a check loads when
its headers come from the cache. Anything unusual (`replaces`, `run_before`,
a computed list, a second class) is left to `parse`, the full reader.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from migmerge.core.model import SETTING_APP, Key, Migration

# No quote of either kind inside: `"0002_it's"` is left to the full parser.
_STR = rb"(?:\"[^\"'\\\n#]*\"|'[^'\"\\\n#]*')"
_PAIR = rb"\(\s*" + _STR + rb"\s*,\s*" + _STR + rb"\s*,?\s*\)"
_SWAP = rb"migrations\.swappable_dependency\(\s*settings\.[A-Za-z_][A-Za-z0-9_]*\s*\)"
_ITEM = rb"(?:" + _PAIR + rb"|" + _SWAP + rb")"
_FAST_DEPS = (
    rb"dependencies[ \t]*=[ \t]*(?:\[\s*(?:"
    + _ITEM
    + rb"\s*,\s*)*(?:"
    + _ITEM
    + rb"\s*)?\]|\(\s*\)|\(\s*(?:"
    + _ITEM
    + rb"\s*,\s*)+(?:"
    + _ITEM
    + rb"\s*)?\))"
    # Nothing may follow on the line: `+ [...]` or a comment needs the full parser.
    + rb"(?=[ \t]*\r?\n)"
)
_FAST_ITEM = (
    rb"\(\s*[\"']([^\"']*)[\"']\s*,\s*[\"']([^\"']*)[\"']|settings\.([A-Za-z_][A-Za-z0-9_]*)"
)
_FAST_INITIAL = rb"[ \t]*=[ \t]*(True|False)[ \t]*\r?\n"


_SUSPECT = (b'print "', b"print '", b"<<<<<<<", b"braces", b"\nexec ", b"`")


@functools.cache
def _fast_patterns() -> tuple[re.Pattern[bytes], ...]:
    """The fast path's patterns, compiled on first use (about 3 ms).

    A check whose result is remembered reads no header and never needs them.
    """
    return tuple(re.compile(p) for p in (_FAST_DEPS, _FAST_ITEM, _FAST_INITIAL))


HeaderFields = tuple[tuple[tuple[Any, str], ...], Any]
"""A plain header as bytes alone decide it: (dependencies, initial).

A dependency is (app, name), or (None, SETTING) for
`swappable_dependency(settings.SETTING)`, which only settings can resolve.
Plain tuples, so the header cache can store them with `marshal`.
"""


def fast_header_fields(source: bytes) -> HeaderFields | None:
    """Read a plain makemigrations header with byte scans; None when anything is unusual."""
    deps_pattern, item_pattern, initial_pattern = _fast_patterns()
    at = source.find(b"dependencies")
    if at < 0 or source.find(b"dependencies", at + 1) >= 0:
        return None
    # Anything of these calls for the full parser (`in` is three times
    # faster than one regex alternation on ten thousand files).
    if b"replaces" in source or b"run_before" in source or b"\0" in source:
        return None
    # What may not compile goes to the full reader, which asks the compiler: a
    # Python 2 print statement, conflict markers, braces (compiling every file
    # here would cost a fresh clone's first check seconds).
    if any(word in source for word in _SUSPECT):
        return None
    if source.count(b"class Migration") != 1:
        return None
    # Class-body indentation only: anything deeper may sit under an `if`.
    if source[at - 5 : at] != b"\n    " and source[at - 2 : at] != b"\n\t":
        return None
    match = deps_pattern.match(source, at)
    if match is None or not match.group(0).isascii():
        return None
    usual, initial = _fast_initial(source, initial_pattern)
    if not usual:
        return None
    deps = tuple(
        (None, setting.decode()) if setting else (dep_app.decode(), dep_name.decode())
        for dep_app, dep_name, setting in item_pattern.findall(match.group(0))
    )
    return deps, initial


def header_migration(
    fields: HeaderFields, app: str, name: str, path: str, settings: Mapping[str, str]
) -> Migration:
    """Build a header-only Migration from `fields`, fast.

    Ten thousand of these are made when a tree is new to migmerge: the tuple
    is built directly, without the keyword handling of Migration(...).
    """
    raw, initial = fields
    deps = raw
    for dep_app, _ in raw:
        if dep_app is None:
            deps = tuple(swappable_key(n, settings) if a is None else (a, n) for a, n in raw)
            break
    return tuple.__new__(Migration, (app, name, path, deps, (), (), initial, None, None, None))


def _fast_initial(source: bytes, pattern: re.Pattern[bytes]) -> tuple[bool, bool | None]:
    """Find a plain `initial = True/False` line: (False, None) when anything is unusual."""
    found: bool | None = None
    at = source.find(b"initial")
    while at >= 0:
        if source[at - 1 : at] in (b" ", b"\t") and source[at - 2 : at - 1] in (b" ", b"\t"):
            match = pattern.match(source, at + 7)
            if found is not None or match is None:
                return False, None
            found = match.group(1) == b"True"
        at = source.find(b"initial", at + 7)
    return True, found


def swappable_key(setting: str, settings: Mapping[str, str]) -> Key:
    """Key for `swappable_dependency(settings.<setting>)`."""
    value = settings.get(setting)
    if value and "." in value:
        return (value.split(".", 1)[0], "__first__")
    return (SETTING_APP, setting)

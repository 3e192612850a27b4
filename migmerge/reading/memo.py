"""The result memo's side of a scan: its exact signature, the code stamp, a remembered outcome.

A tree checked again with the same signature takes what the graph made of
it last time instead of reading headers and building the graph (the memo
itself is cache.ResultMemo). The signature holds the code stamp: every
module under the folders whose code decides an outcome, so an edit or an
upgrade starts afresh and a module moved there is never forgotten.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from typing import cast

from migmerge.core.model import Warning
from migmerge.reading import snapshot
from migmerge.reading.derive import Outcome, Scan, Shape


def fits(scan: Scan, outcome: object) -> bool:
    """Tell whether a remembered outcome is one this scan can take; else derive it again."""
    try:
        kept, removed, warnings, shapes = cast(Outcome, outcome)
        modules = {p.directory: p.modules for p in scan.packages}
        return (
            all(d in modules and isinstance(label, str) for d, label, _ in kept)
            and all(d in modules and name in modules[d] for d, name in removed)
            and all(len(w) == 4 and isinstance(w[2], str) for w in warnings)
            and all(_shape_fits(shape, modules) for shape in shapes)
        )
    except (TypeError, ValueError):
        return False


def _shape_fits(shape: Shape, modules: Mapping[str, Mapping[str, str]]) -> bool:
    directory, app, leaves, _, branches, _ = shape
    names = modules.get(directory, {})
    return isinstance(app, str) and all(n in names for n in (*leaves, *sum(branches, ())))


def replay(scan: Scan, outcome: Outcome) -> None:
    """Bring `scan` where `_derive` left it, from a remembered outcome."""
    kept, removed, warnings, _ = outcome
    by_dir = {p.directory: p for p in scan.packages}
    for directory, name in removed:
        by_dir[directory].modules.pop(name, None)
    packages = []
    for directory, label, source in kept:
        package = by_dir[directory]
        package.label, package.label_source = label, source
        packages.append(package)
    scan.packages[:] = packages
    scan.warnings += [Warning(*w) for w in warnings]


def signature(scan: Scan) -> str | None:
    """Everything `_derive` depends on, as one string; None when too big to keep.

    Files git stores count by blob id, the others by their bytes. Parts hold
    no NUL (paths cannot, reprs escape it) except file bytes, which come with
    their length: two different inputs never give the same string.
    """
    stamp = code_stamp()
    if stamp is None:
        return None
    files = scan.tree.files
    settings = scan.settings
    parts = [
        stamp,
        repr(sorted(settings.swappable.items())),
        repr(sorted(settings.migration_modules.items(), key=lambda item: item[0])),
    ]
    on_disk: list[str] = []
    for package in scan.packages:
        shas = [files[path] for path in package.modules.values()]
        parts.append(
            repr((package.directory, package.label, package.label_source, package.project))
        )
        parts.append(str(len(shas)))
        parts += package.modules
        parts += shas
        if snapshot.DISK in shas:
            on_disk += [path for path in package.modules.values() if files[path] == snapshot.DISK]
    if on_disk:
        sources = scan.read(on_disk)
        if sum(len(data) for data in sources.values()) > MEMO_DISK_BYTES:
            return None
        for path in on_disk:
            data = sources.get(path)
            parts.append(repr(path))
            parts.append("-" if data is None else f"{len(data)}:{data.decode('latin-1')}")
    return "\0".join(parts)


# Bytes of changed or untracked migrations a signature may carry (a tree
# nobody committed yet is read in full on every run anyway).
MEMO_DISK_BYTES = 1 << 20


# The folders whose code decides an outcome: every module in them and in their
# subfolders is stamped, so a module moved or added there is never forgotten.
_DERIVING = ("reading", "core")


@functools.cache
def code_stamp() -> str | None:
    """Which migmerge, on which Python, computed an outcome: edited or upgraded code starts afresh.

    The Python counts too: what its parser and compiler take or refuse is
    part of a parse (the same migmerge on 3.11 and 3.12 may read a file
    differently). Worked out once per process: the code that runs is the
    code that was loaded.
    """
    from migmerge import __version__

    package = os.path.dirname(os.path.dirname(__file__))
    python = f"{sys.implementation.cache_tag}-{sys.hexversion:x}"
    parts = [f"{__version__}/{python}"]
    try:
        for folder in _DERIVING:
            parts += _stamps(os.path.join(package, folder), folder)
    except OSError:
        return None
    return " ".join(parts)


def _stamps(folder: str, name: str) -> list[str]:
    """`path:mtime:size` of every module under `folder`, its subfolders too, by name."""
    out = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.endswith(".py"):
                stat = entry.stat()
                out.append(f"{name}/{entry.name}:{stat.st_mtime_ns}:{stat.st_size}")
            elif entry.is_dir() and entry.name != "__pycache__":
                out += _stamps(entry.path, f"{name}/{entry.name}")
    return out

"""`--verbose`: what migmerge read, from where, and what each step cost, on stderr.

Any module may say what it does: `trace.note("read 12 headers from the
cache")`, or time a block: `with trace.step("list the working tree"): ...`.
Off unless the command line turns it on, and then nearly free: `note`
returns at once and `step` hands back one shared object that does nothing,
so the check path pays a function call per step, not a clock read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

_sink: Callable[[str], None] | None = None
_origin = 0.0


def enable(sink: Callable[[str], None] | None) -> None:
    """Send the trace to `sink` (None: off); times count from now."""
    global _sink, _origin
    _sink, _origin = sink, time.perf_counter()


def enabled() -> bool:
    """Tell whether anyone listens (to skip building a costly message)."""
    return _sink is not None


def note(message: str) -> None:
    """Say one thing migmerge did or read, stamped with the time since the start."""
    if _sink is not None:
        _sink(f"migmerge: [{(time.perf_counter() - _origin) * 1000:7.1f} ms] {message}")


class _Step:
    """Times a block and says what it cost when it ends."""

    __slots__ = ("what", "started")

    def __init__(self, what: str) -> None:
        self.what = what
        self.started = time.perf_counter()

    def __enter__(self) -> _Step:
        return self

    def __exit__(self, *exc: object) -> None:
        note(f"{self.what}: {(time.perf_counter() - self.started) * 1000:.1f} ms")


class _Off:
    __slots__ = ()

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_OFF = _Off()


def step(what: str) -> AbstractContextManager[object]:
    """Time a block (`with trace.step("scan the headers"): ...`); free when the trace is off."""
    return _Step(what) if _sink is not None else _OFF

"""What git remembers of migration files that are gone: where they are, renames, who applied them.

`doctor` asks this for the rows of `django_migrations` that have no file in
the checkout. One `git log --all` per migrations folder finds the newest
commit holding each file and the renames git detects; one object lookup tells
which branch tips still hold it; HEAD's reflog tells which branch was checked
out when the row was written.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from migmerge.core.doctor import Whereabouts
from migmerge.core.model import Key
from migmerge.reading import git, git_objects


class Sighting(NamedTuple):
    """The newest commit whose tree has a path, and the rename git saw away from it."""

    commit: str | None
    renamed_to: str | None  # the path it was renamed to, newest rename first


def folder_history(root: Path, directory: str, paths: Iterable[str]) -> dict[str, Sighting]:
    """For each of `paths` in `directory`: the newest commit holding it, and its rename."""
    wanted = set(paths)
    out = git.git_bytes(
        root, "log", "--all", "-z", "--format=%x01%H", "-M", "--name-status", "--", directory
    )
    holding: dict[str, str] = {}
    renamed: dict[str, str] = {}
    for commit, changes in _records(out):
        for status, old, new in changes:
            if status.startswith("R") and old in wanted:
                renamed.setdefault(old, new)
            if new in wanted and status[:1] in ("A", "M", "R", "C"):
                holding.setdefault(new, commit)
    return {path: Sighting(holding.get(path), renamed.get(path)) for path in wanted}


def _records(out: bytes) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Parse `git log -z --format=%x01%H --name-status` into (commit, [(status, old, new)])."""
    records = []
    for record in out.split(b"\x01"):
        if not record:
            continue
        sha, _, rest = record.partition(b"\0")
        tokens = [t.decode("utf-8", "surrogateescape") for t in rest.lstrip(b"\n").split(b"\0")]
        changes = []
        i = 0
        while i < len(tokens) and tokens[i]:
            status = tokens[i]
            if status[:1] in ("R", "C") and i + 2 < len(tokens):
                changes.append((status, tokens[i + 1], tokens[i + 2]))
                i += 3
            elif i + 1 < len(tokens):
                changes.append((status, tokens[i + 1], tokens[i + 1]))
                i += 2
            else:
                break
        records.append((sha.decode(), changes))
    return records


def tips_holding(root: Path, refs: Mapping[str, str], paths: Sequence[str]) -> dict[str, list[str]]:
    """path -> the short names of the branches whose tip holds it (one object lookup)."""
    names = {f"{sha}:{path}": (ref, path) for ref, sha in refs.items() for path in paths}
    found = git_objects.existing_objects(root, names)
    out: dict[str, list[str]] = {path: [] for path in paths}
    for name in sorted(found):
        ref, path = names[name]
        out[path].append(_short(ref))
    return out


def _short(ref: str) -> str:
    return ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")


class Checkout(NamedTuple):
    """A moment HEAD moved to a branch, from HEAD's reflog."""

    when: float  # seconds since the epoch
    branch: str


def checkouts(git_dir: Path) -> list[Checkout]:
    """Every "checkout: moving from A to B" of HEAD's reflog, oldest first."""
    try:
        text = (git_dir / "logs" / "HEAD").read_text("utf-8", "replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        head, _, message = line.partition("\t")
        if not message.startswith("checkout: moving from "):
            continue
        fields = head.split()
        if len(fields) < 2 or not fields[-2].isdigit():
            continue
        target = message.rpartition(" to ")[2].strip()
        found.append(Checkout(float(fields[-2]), target))
    return found


def checked_out_at(history: Sequence[Checkout], when: float | None) -> str | None:
    """The branch HEAD had moved to last before `when`, or None when the reflog does not say.

    The reflog counts whole seconds: a checkout in the same second as the row
    may have come before or after it, so then the answer is not known.
    """
    if when is None:
        return None
    second = int(when)
    if any(int(c.when) == second for c in history):
        return None
    before = [c for c in history if c.when < second]
    return before[-1].branch if before else None


def applied_time(text: str, zone: str | None = None) -> float | None:
    """Seconds since the epoch of a django_migrations `applied` value (naive: in `zone`, or UTC)."""
    value = text.strip().replace(" ", "T", 1)
    if value.endswith(("+00", "-00")) or (
        len(value) > 3 and value[-3] in "+-" and ":" not in value[-3:]
    ):
        value += ":00"
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(zone))
    return moment.timestamp()


def _zone(name: str | None) -> datetime.tzinfo:
    if name:
        try:
            import zoneinfo

            return zoneinfo.ZoneInfo(name)
        except Exception:  # an unknown zone name: UTC is Django's own default
            pass
    return datetime.timezone.utc


def whereabouts(
    root: Path,
    git_dir: Path,
    ghosts: Sequence[tuple[Key, str, str]],
    refs: Mapping[str, str],
    zone: str | None = None,
) -> dict[Key, Whereabouts]:
    """Where git still has each ghost: (key, expected path, applied value) -> Whereabouts."""
    by_folder: dict[str, list[tuple[Key, str, str]]] = {}
    for key, path, applied in ghosts:
        by_folder.setdefault(path.rpartition("/")[0], []).append((key, path, applied))
    history = checkouts(git_dir)
    out: dict[Key, Whereabouts] = {}
    for folder, items in by_folder.items():
        seen = folder_history(root, folder, [path for _, path, _ in items])
        tips = tips_holding(root, refs, [path for _, path, _ in items])
        for key, path, applied in items:
            sighting = seen[path]
            renamed = sighting.renamed_to
            new = _stem(renamed) if renamed and renamed.rpartition("/")[0] == folder else None
            out[key] = Whereabouts(
                sighting.commit,
                path if sighting.commit else None,
                tuple(tips[path]),
                new,
                checked_out_at(history, applied_time(applied, zone)),
            )
    return out


def _stem(path: str) -> str:
    name = path.rpartition("/")[2]
    return name[:-3] if name.endswith(".py") else name

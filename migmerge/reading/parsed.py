"""Whole parses remembered: by the migration's blob and what the parse found of other modules.

A conflicting branch's migrations are read whole on every check (operations,
what their RunPython and SQL reach, what Python refuses), about 0.5 ms a
file. A parse depends on the file's bytes (its blob id), its app, name and
path, the swappable settings, the code and Python that parsed (the cache
file's stamp: memo.code_stamp), and on what the repository's other modules
answered when the parse followed an import, opened a data file or listed
the tree's settings modules (`django.conf.settings.X`), each from the side
of the file it was asked for. That last part is recorded as the parse runs
(`Recorder`): each question asked and the identity of the answer (the path
found and a digest of its bytes, the paths listed, or nothing found). An
entry is believed only when every one of its questions gets the same answer
now (`Parses.recall`), so an edited, added or removed helper module is a
miss. A file Python refuses keeps its refusal in the entry and is reported
on every run, as a parse would.

The entries are plain tuples (cache.ParseCache keeps them, checksummed);
one that does not decode to exactly the records a parse gives is a miss.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migmerge.core.model import Migration, Operation
from migmerge.reading import snapshot
from migmerge.reading.cache import ParseCache
from migmerge.reading.memo import code_stamp

if TYPE_CHECKING:  # a recalled parse needs no parser
    from migmerge.reading.parse_names import ModuleSource

# A recorded question: the readers it was seen by (`as_seen_by`, in order),
# the importer, the module or data path asked, the level (DATA for a data
# file, SETTINGS for the list of settings modules), and the identity of the
# answer: (path, digest) for a module, a digest for a data file, the paths
# for the settings modules, None when there was nothing.
Follow = tuple[tuple[str, ...], str, str, int, Any]
DATA = -1
SETTINGS = -2


class Recorder:
    """A ModuleSource that passes every question on and records it with its answer's identity.

    Every way a parse reads the repository's other modules goes through
    ModuleSource (mypy holds this class to it), so what is recorded here is
    all a parse learnt beyond its own bytes.
    """

    def __init__(
        self,
        source: ModuleSource,
        digests: dict[bytes, str],
        follows: dict[Follow, None] | None = None,
        seen_by: tuple[str, ...] = (),
    ) -> None:
        self.source = source
        self.trees = source.trees
        self.digests = digests
        self.follows: dict[Follow, None] = {} if follows is None else follows
        self.seen_by = seen_by

    def find(self, importer: str, module: str, level: int) -> tuple[str, bytes] | None:
        found = self.source.find(importer, module, level)
        self._record(importer, module, level, _identity(found, self.digests))
        return found

    def data(self, importer: str, path: str) -> bytes | None:
        found = self.source.data(importer, path)
        self._record(importer, path, DATA, _identity(found, self.digests))
        return found

    def settings_files(self) -> list[str]:
        found = self.source.settings_files()
        self._record("", "", SETTINGS, tuple(found))
        return found

    def as_seen_by(self, reader: str) -> Recorder:
        seen = self.source.as_seen_by(reader)
        return Recorder(seen, self.digests, self.follows, (*self.seen_by, reader))

    def _record(self, importer: str, asked: str, level: int, identity: Any) -> None:
        self.follows[(self.seen_by, importer, asked, level, identity)] = None


def _identity(found: tuple[str, bytes] | bytes | None, digests: dict[bytes, str]) -> Any:
    if found is None:
        return None
    if isinstance(found, bytes):
        return _digest(found, digests)
    return (found[0], _digest(found[1], digests))


def _digest(data: bytes, digests: dict[bytes, str]) -> str:
    """A digest of `data`, once per run for the same bytes (a helper many migrations import)."""
    if data not in digests:
        import hashlib  # only when a parse found another module of the repository

        digests[data] = hashlib.blake2b(data, digest_size=20).hexdigest()
    return digests[data]


class Parses:
    """The remembered parses of one scan's repository: looked up, checked, added, saved once."""

    def __init__(self, root: Path, files: Mapping[str, str], settings: Mapping[str, str]) -> None:
        self.files = files
        self.settings = repr(sorted(settings.items()))
        self.root = root
        self.cache: ParseCache | None = None
        self.digests: dict[bytes, str] = {}
        self.answers: dict[tuple[tuple[str, ...], str, str, int], Any] = {}
        self.recalled = self.added = 0

    def open(self, wanted: int) -> None:
        """Load the cache for about `wanted` parses (once; a cache far bigger stays unread)."""
        if self.cache is None:
            stamp = code_stamp()
            self.cache = ParseCache.stamped(self.root, wanted, stamp or "")
            if stamp is None:
                self.cache.file = None  # the code cannot be stamped: neither believed nor kept
                self.cache.entries.clear()

    def key(self, app: str, name: str, path: str) -> str | None:
        """The entry of one migration, or None when its bytes have no blob id (not cached)."""
        sha = self.files.get(path, snapshot.DISK)
        if sha == snapshot.DISK:
            return None
        return "\0".join((sha, app, name, path, self.settings))

    def recall(
        self, key: str, modules: Callable[[], ModuleSource], app: str, name: str, path: str
    ) -> Migration | None:
        """The migration as parsed before, if each question its parse asked is answered the same."""
        assert self.cache is not None
        entry = self.cache.get(key)
        if entry is None:
            return None
        follows, record = entry
        try:
            if type(follows) is not tuple or not all(self._same(f, modules) for f in follows):
                return None
            migration = decode(record, app, name, path)
        except (TypeError, ValueError):
            return None  # not what this module writes: a damaged or edited entry
        self.recalled += 1
        return migration

    def _same(self, follow: Follow, modules: Callable[[], ModuleSource]) -> bool:
        seen_by, importer, asked, level, identity = follow
        question = (seen_by, importer, asked, level)
        if question not in self.answers:
            if type(seen_by) is not tuple or not all(type(r) is str for r in seen_by):
                raise TypeError("not a recorded question")
            if type(importer) is not str or type(asked) is not str or type(level) is not int:
                raise TypeError("not a recorded question")
            source = modules()
            for reader in seen_by:
                source = source.as_seen_by(reader)
            found: Any
            if level == SETTINGS:
                found = tuple(source.settings_files())
            elif level == DATA:
                found = _identity(source.data(importer, asked), self.digests)
            else:
                found = _identity(source.find(importer, asked, level), self.digests)
            self.answers[question] = found
        return bool(self.answers[question] == identity)

    def remember(self, key: str, recorder: Recorder, migration: Migration) -> None:
        """Keep a parse with the questions it asked (and this run's answers to them)."""
        assert self.cache is not None
        for follow in recorder.follows:
            self.answers.setdefault(follow[:4], follow[4])
        self.cache.put(key, (tuple(recorder.follows), encode(migration)))
        self.added += 1

    def save(self) -> None:
        if self.cache is not None:
            self.cache.save()


# ---------------------------------------------------------------------------
# Records as plain tuples, and back, checked field by field

# What each of Operation's fields must hold, by position.
_OP_KINDS = tuple(
    "ops"
    if field == "children"
    else "bool"
    if field == "readable"
    else "str"
    if field == "op"
    else "names"
    if isinstance(Operation._field_defaults.get(field), tuple)
    else "text"
    for field in Operation._fields
)
_CHILDREN = Operation._fields.index("children")


def encode(migration: Migration) -> tuple[Any, ...]:
    """What a cache entry keeps of a parsed migration (app, name and path are its key)."""
    ops = migration.operations
    return (
        migration.dependencies,
        migration.replaces,
        migration.run_before,
        migration.initial,
        None if ops is None else _encode_ops(ops),
        migration.dynamic,
        migration.unreadable,
    )


def _encode_ops(ops: tuple[Operation, ...]) -> tuple[tuple[Any, ...], ...]:
    return tuple(op[:_CHILDREN] + (_encode_ops(op.children),) + op[_CHILDREN + 1 :] for op in ops)


def decode(record: Any, app: str, name: str, path: str) -> Migration:
    """The Migration an entry holds; ValueError or TypeError when it is not one `encode` wrote."""
    if type(record) is not tuple or len(record) != 7:
        raise ValueError("not a parse record")
    dependencies, replaces, run_before, initial, ops, dynamic, unreadable = record
    for keys in (dependencies, replaces, run_before):
        _keys(keys)
    if initial is not None and type(initial) is not bool:
        raise TypeError("initial")
    _optional(dynamic)
    _optional(unreadable)
    return Migration(
        app=app,
        name=name,
        path=path,
        dependencies=dependencies,
        replaces=replaces,
        run_before=run_before,
        initial=initial,
        operations=None if ops is None else _decode_ops(ops),
        dynamic=dynamic,
        unreadable=unreadable,
    )


def _keys(keys: Any) -> None:
    if type(keys) is not tuple:
        raise TypeError("keys")
    for key in keys:
        if type(key) is not tuple or len(key) != 2:
            raise TypeError("key")
        _names(key)


def _optional(value: Any) -> None:
    if value is not None and type(value) is not str:
        raise TypeError("text")


def _decode_ops(ops: Any) -> tuple[Operation, ...]:
    if type(ops) is not tuple:
        raise TypeError("operations")
    return tuple(_decode_op(op) for op in ops)


def _decode_op(fields: Any) -> Operation:
    if type(fields) is not tuple or len(fields) != len(_OP_KINDS):
        raise ValueError("not an operation")
    for value, kind in zip(fields, _OP_KINDS):
        if kind == "names":
            _names(value)
        elif kind == "bool" and type(value) is not bool:
            raise TypeError("readable")
        elif kind == "str" and type(value) is not str:
            raise TypeError("op")
        elif kind == "text":
            _optional(value)
    values = list(fields)
    values[_CHILDREN] = _decode_ops(fields[_CHILDREN])
    return Operation._make(values)


def _names(value: Any) -> None:
    if type(value) is not tuple or not all(type(v) is str for v in value):
        raise TypeError("names")

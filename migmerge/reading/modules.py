"""The repository's other modules, found by import name, for the parser to follow.

A migration's RunPython function, SQL or custom operation often lives in
another module (`from awx.main.migrations._rbac import rebuild_role_hierarchy`).
The parser asks here for that module's bytes at the revision being read: from
the snapshot when it holds the file, else from the commit that holds what the
snapshot leaves out unchanged. Bytes only: nothing is imported or run.
"""

from __future__ import annotations

import ast
import re

from migmerge.reading import git_objects
from migmerge.reading.parse_names import module_paths
from migmerge.reading.settings_files import is_settings_file
from migmerge.reading.snapshot import WORKING_TREE, Snapshot, on_disk

# The side of a whole tree: its own files hold every module.
_WHOLE = "(the whole tree)"

# A settings module that may run a project assigns INSTALLED_APPS (`=`, `+=`, `|=`).
_INSTALLS = re.compile(rb"^[ \t]*INSTALLED_APPS\s*[+|]?=", re.MULTILINE)


class RepositoryModules:
    """`parse_names.ModuleSource` over a snapshot; every answer kept for the run.

    A whole tree answers from its own files. A part of a predicted merge
    answers from the side of the file asking: an upstream migration imports
    upstream's helpers, a local one the local commit's (or the working tree's).
    """

    def __init__(self, tree: Snapshot) -> None:
        self.tree = tree
        self.trees: dict[tuple[str, int], ast.Module | None] = {}
        self._found: dict[tuple[str | None, tuple[str, ...]], tuple[str, bytes] | None] = {}
        self._settings: list[str] | None = None

    def find(
        self, importer: str, module: str, level: int, side_of: str | None = None
    ) -> tuple[str, bytes] | None:
        """The path and bytes of `module` as `importer` imports it, or None.

        `side_of`: the file whose side of a predicted merge answers (else `importer`'s).
        """
        candidates = tuple(module_paths(importer, module, level))
        origin = self.tree.origin
        seen_by = side_of or importer
        if origin is None:
            side: str | None = _WHOLE
        else:
            side = origin.upstream if seen_by in origin.upstream_paths else origin.local
        key = (side, candidates)
        if key not in self._found:
            self._found[key] = self._first(side, candidates)
        return self._found[key]

    def data(self, importer: str, path: str) -> bytes | None:
        """The bytes of a data file (a `.sql` a RunSQL subclass opens) at `importer`'s side.

        In a predicted merge a file the importer's side lacks is upstream's, when
        upstream has it (it came with upstream's migration).
        """
        origin = self.tree.origin
        sides: list[str | None] = [_WHOLE]
        if origin is not None:
            sides = [origin.upstream if importer in origin.upstream_paths else origin.local]
            if self.tree.label != WORKING_TREE and sides[0] != origin.upstream:
                sides.append(origin.upstream)
        for side in sides:
            key = (side, (path,))
            if key not in self._found:
                self._found[key] = self._first(side, (path,))
            found = self._found[key]
            if found is not None:
                return found[1]
        return None

    def as_seen_by(self, reader: str) -> _SeenBy:
        """These modules, each read at `reader`'s side: the settings a migration runs with
        are its own side's, through every import they make."""
        return _SeenBy(self, reader)

    def settings_files(self) -> list[str]:
        """The tree's settings modules a project may run with: named like settings, assigning
        INSTALLED_APPS (read where a migration uses `django.conf.settings`)."""
        if self._settings is None:
            named = [p for p in self.tree.files if is_settings_file(p)]
            sources = self.tree.read(named)
            self._settings = sorted(p for p, data in sources.items() if _INSTALLS.search(data))
        return self._settings

    def _first(self, side: str | None, candidates: tuple[str, ...]) -> tuple[str, bytes] | None:
        if side == _WHOLE:
            listed = [path for path in candidates if path in self.tree.files]
            return self._read(self.tree, listed[:1])
        if side is None:  # the working tree
            return self._read(on_disk(self.tree.root, candidates), list(candidates))
        names = {f"{side}:{path}": path for path in candidates}
        ids = git_objects.object_ids(self.tree.root, names)
        found = [names[name] for name in names if name in ids]
        blobs = {names[name]: sha for name, sha in ids.items()}
        return self._read(Snapshot(self.tree.root, blobs), found[:1])

    @staticmethod
    def _read(tree: Snapshot, paths: list[str]) -> tuple[str, bytes] | None:
        """The first of `paths` the tree holds, with its bytes."""
        data = tree.read(paths)
        first = next((path for path in paths if path in data), None)
        return (first, data[first]) if first is not None else None


class _SeenBy:
    """RepositoryModules read at one file's side, whoever imports (`as_seen_by`)."""

    def __init__(self, modules: RepositoryModules, reader: str) -> None:
        self.modules = modules
        self.reader = reader
        self.trees = modules.trees

    def find(self, importer: str, module: str, level: int) -> tuple[str, bytes] | None:
        return self.modules.find(importer, module, level, side_of=self.reader)

    def data(self, importer: str, path: str) -> bytes | None:
        return self.modules.data(self.reader, path)

    def settings_files(self) -> list[str]:
        return self.modules.settings_files()

    def as_seen_by(self, reader: str) -> _SeenBy:
        return self

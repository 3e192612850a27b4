"""Find migrations packages in a tree and the app label each belongs to.

Label, first found of: `[tool.migmerge] apps`; the key of the settings'
`MIGRATION_MODULES` entry naming the package; the `label` of the app's
AppConfig; other migrations' dependency tuples naming this folder's migrations;
the folder's name. A kmigrator folder (condo: `migrations/` holding
`<timestamp>-NNNN_name.js` files) is a package too, labelled by the config or
its app folder's name, never by dependencies (see `kmigrator_apps`).
Everything is read statically.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from migmerge.core.model import Migration, Warning
from migmerge.reading.config import Config
from migmerge.reading.settings_files import Settings
from migmerge.reading.snapshot import Snapshot

# The label source of a kmigrator folder until the config names it: never
# inferred from dependencies (every kmigrator app's name `_django_schema`).
KMIGRATOR = "kmigrator"


class Package:
    """A migrations package while its label is being worked out."""

    __slots__ = ("directory", "label", "label_source", "project", "modules")

    def __init__(self, directory: str, label: str, label_source: str, project: str) -> None:
        self.directory = directory
        self.label = label
        self.label_source = label_source
        self.project = project
        self.modules: dict[str, str] = {}  # name -> path

    def __repr__(self) -> str:
        return f"Package({self.directory!r}, label={self.label!r} from {self.label_source})"


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _base(path: str) -> str:
    return path.rpartition("/")[2]


def context_paths(directories: Iterable[str]) -> set[str]:
    """Files discovery reads around some folders: apps.py, every manage.py above, pyproject."""
    out = {"pyproject.toml", "manage.py"}
    for directory in directories:
        parts = directory.split("/")
        out.update("/".join(parts[:i]) + "/manage.py" for i in range(1, len(parts) + 1))
        if len(parts) > 1:
            out.add(_parent(directory) + "/apps.py")
    return out


def find_packages(
    snapshot: Snapshot, config: Config, settings: Settings, warnings: list[Warning]
) -> list[Package]:
    """Return every migrations package of the snapshot with a provisional label."""
    files = snapshot.files
    projects = sorted(
        {_parent(p) for p in files if p.endswith("manage.py") and _base(p) == "manage.py"}, key=len
    )
    directories = _package_directories(files, config, settings)
    recognised = _recognised(snapshot, directories, config)
    directories |= recognised
    packages = [
        Package(d, _base(_parent(d)) or _base(d), "folder", _project_of(d, projects))
        for d in sorted(directories)
    ]
    # kmigrator apps (condo): each folder is its own app, named for its folder.
    packages += [
        Package(d, _base(_parent(d)) or _base(d), KMIGRATOR, _project_of(d, projects))
        for d in sorted(kmigrator_folders(files) - directories)
        if not _excluded(d, config.exclude)
    ]
    by_dir = {p.directory: p for p in packages}
    _collect_modules(files, by_dir, warnings)
    _label_from_settings(packages, settings)
    return _without_copies(packages, recognised)


def _without_copies(packages: list[Package], recognised: set[str]) -> list[Package]:
    """Drop a package found by its contents that holds the very modules of another.

    The target of a linked `migrations` folder is found twice: through the
    link (as Django imports it) and where it lies; only the link counts.
    """
    if not recognised:
        return packages
    named = {frozenset(p.modules) for p in packages if p.directory not in recognised}
    return [
        p for p in packages if p.directory not in recognised or frozenset(p.modules) not in named
    ]


def _package_directories(files: Mapping[str, str], config: Config, settings: Settings) -> set[str]:
    found = {
        _parent(p)
        for p in files
        if p.endswith("migrations/__init__.py") and _base(_parent(p)) == "migrations"
    }
    wanted = [m.replace(".", "/") for _, m in settings.modules]
    if wanted:
        inits = [_parent(p) for p in files if p.endswith("/__init__.py") or p == "__init__.py"]
        for module_path in wanted:
            found.update(d for d in inits if d == module_path or d.endswith("/" + module_path))
    found.update(d for d in config.migration_modules if d + "/__init__.py" in files)
    return {d for d in found if not _excluded(d, config.exclude)}


def kmigrator_folders(paths: Iterable[str]) -> set[str]:
    """Folders holding kmigrator migration files (condo's `.js` migrations), among `paths`."""
    # One cheap pass first: most trees have no such file, and need not import kmigrator.
    found = [p for p in paths if p.endswith(".js") and "migrations/" in p]
    if not found:
        return set()
    from migmerge.core import kmigrator

    return kmigrator.folders(found)


def _recognised(snapshot: Snapshot, known: set[str], config: Config) -> set[str]:
    """Packages named otherwise whose modules hold Django migrations (`dojo/db_migrations`).

    A folder with an `__init__.py` and a module named like a migration
    (`0001_...`) counts when that module holds a Migration class. Test
    folders are left out: libraries keep migration fixtures there.
    """
    files = snapshot.files
    first: dict[str, str] = {}
    for path in files:
        if "/migrations/" in path:
            continue  # the usual place, found by name
        directory, _, name = path.rpartition("/")
        if name[:1].isdigit() and name.endswith(".py") and directory not in known:
            first.setdefault(directory, path)
    wanted = {
        d: p
        for d, p in first.items()
        if d + "/__init__.py" in files and not _test_folder(d) and not _excluded(d, config.exclude)
    }
    sources = snapshot.read(wanted.values()) if wanted else {}
    return {d for d, p in wanted.items() if _holds_migration(sources.get(p, b""))}


def _test_folder(directory: str) -> bool:
    return any(
        part in ("test", "tests") or part.startswith("test_") or part.endswith("_tests")
        for part in directory.split("/")
    )


_MIGRATION_CLASS = re.compile(rb"class\s+Migration\s*\(")


def _holds_migration(source: bytes) -> bool:
    """Tell whether a module looks like a Django migration (read by bytes only)."""
    return bool(_MIGRATION_CLASS.search(source)) and (
        b"dependencies" in source or b"operations" in source
    )


def _excluded(directory: str, patterns: Iterable[str]) -> bool:
    return any(
        fnmatch.fnmatch(directory, pat)
        or fnmatch.fnmatch(directory + "/", pat)
        or directory.startswith(pat.rstrip("/*") + "/")
        for pat in patterns
    )


def _project_of(directory: str, projects: list[str]) -> str:
    best = ""
    for project in projects:
        if project == "" or directory == project or directory.startswith(project + "/"):
            best = project if len(project) >= len(best) else best
    return best


def _collect_modules(
    files: Mapping[str, str], by_dir: dict[str, Package], warnings: list[Warning]
) -> None:
    for path in files:
        directory, _, name = path.rpartition("/")
        package = by_dir.get(directory)
        if package is None:
            continue
        if package.label_source == KMIGRATOR:
            package.modules[name] = path  # every file: kmigrator reads them all
            continue
        if name[:1] in ("_", "~"):
            continue
        if name.endswith(".py"):
            package.modules[name[:-3]] = path
        elif name.endswith(".pyc") and name[:-1] not in files:
            warnings.append(
                Warning(
                    "sourceless-module",
                    None,
                    f"{path} is a compiled module without source: Django loads it, "
                    "migmerge cannot read it (delete it if it is a leftover)",
                    path,
                )
            )


def _label_from_settings(packages: list[Package], settings: Settings) -> None:
    for label, module in settings.modules:
        module_path = module.replace(".", "/")
        for package in packages:
            if package.directory == module_path or package.directory.endswith("/" + module_path):
                package.label, package.label_source = label, "settings"


def label_packages(packages: list[Package], snapshot: Snapshot, config: Config) -> None:
    """Apply configured and AppConfig labels to packages."""
    pending = []
    for package in packages:
        app_dir = _parent(package.directory)
        configured = config.apps.get(app_dir) or config.apps.get(package.directory)
        if configured:
            package.label, package.label_source = configured, "config"
        elif package.label_source == "folder":
            pending.append(package)
    apps_files = [(p, (_parent(p.directory) + "/apps.py").lstrip("/")) for p in pending]
    sources = snapshot.read(path for _, path in apps_files)
    for package, path in apps_files:
        source = sources.get(path)
        label = appconfig_label(source, _parent(package.directory)) if source else None
        if label:
            package.label, package.label_source = label, "appconfig"


def appconfig_label(source: bytes, app_dir: str) -> str | None:
    """Return the `label` of the AppConfig in `source` that belongs to `app_dir`."""
    if b"label" not in source:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    dotted = app_dir.replace("/", ".")
    labelled: list[tuple[str | None, str]] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            attrs = _class_strings(node)
            if "label" in attrs:
                labelled.append((attrs.get("name"), attrs["label"]))
    for name, label in labelled:
        if name and (dotted == name or dotted.endswith("." + name)):
            return label
    return labelled[0][1] if len(labelled) == 1 else None


def _class_strings(node: ast.ClassDef) -> dict[str, str]:
    out: dict[str, str] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                out[target.id] = value.value
    return out


def infer_labels(packages: list[Package], headers: Mapping[str, Migration]) -> dict[str, str]:
    """Label folder-named packages from dependency tuples naming their migrations.

    Returns directory -> new label for the packages it relabelled. Only names
    unique to one folder count (every app has a `0001_initial`).
    """
    if not any(p.label_source == "folder" for p in packages):
        return {}  # every label is settled already
    owners: dict[str, set[str]] = defaultdict(set)
    for package in packages:
        for name in package.modules:
            owners[name].add(package.directory)
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for migration in headers.values():
        for deps in (migration.dependencies, migration.run_before):
            for dep_app, dep_name in deps:
                dirs = owners.get(dep_name)
                if dirs and len(dirs) == 1 and dep_name != "0001_initial":
                    votes[next(iter(dirs))][dep_app] += 1
    changed = {}
    for package in packages:
        if package.label_source == "folder" and votes.get(package.directory):
            label = votes[package.directory].most_common(1)[0][0]
            if label != package.label:
                changed[package.directory] = label
            package.label, package.label_source = label, "dependencies"
    return changed


def relabel(migration: Migration, label: str) -> Migration:
    """Return `migration` under its app's final label."""
    return migration._replace(app=label)

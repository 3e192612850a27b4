"""`analyze`: the read side in one call: scope, scan, graph, conflicts, facts.

Coordinates the read side: git state -> snapshot -> packages -> headers ->
graph -> conflicts -> classification -> git facts. Imports neither Django nor
questionary nor anything that writes; planners read the tree through the
`Analysis` it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from migmerge import trace
from migmerge.core.graph import Graph
from migmerge.core.model import (
    AppMigrations,
    CheckResult,
    Key,
    Migration,
    Mode,
    Project,
    Warning,
)
from migmerge.errors import MigmergeError
from migmerge.reading import discover, git, git_objects, git_refs, snapshot
from migmerge.reading.cache import ResultMemo
from migmerge.reading.config import Config, load_config
from migmerge.reading.derive import (
    Scan,
    all_migrations,
    by_project,
    derive,
    scan_tree,
)
from migmerge.reading.facts import applied_warnings, projects_of, with_git_facts
from migmerge.reading.leaves import build_conflicts, parse_whole
from migmerge.reading.memo import fits, replay, signature
from migmerge.reading.scope import (
    Diffs,
    GitState,
    against_state,
    changed_part,
    detect_state,
    fast_forwarded_from,
    side_diffs,
)
from migmerge.reading.sides import Found, find_clashes, sides_of


class Analysis:
    """The result of `check` plus what resolution needs to plan."""

    __slots__ = (
        "root",
        "result",
        "apps",
        "config",
        "scan",
        "_migrations",
        "_parsed",
        "projects",
        "options",
        "_mentions",
    )

    def __init__(
        self,
        root: Path,
        result: CheckResult,
        apps: Mapping[str, AppMigrations],
        config: Config,
        scan: Scan,
        migrations: dict[Key, Migration],
    ) -> None:
        self.root = root
        self.result = result
        self.apps = apps
        self.config = config
        self.scan = scan
        # Every header by key: filled on first use (a remembered result needs none).
        self._migrations = migrations
        self._parsed: dict[Key, Migration] = {}
        # The project of each conflicting app's folder (with its applied state).
        self.projects: dict[str, Project] = {}
        # How projects are read: (the --settings flag, may the project's interpreter be asked).
        self.options: tuple[str | None, bool] = (None, False)
        # Which tracked text files name each migration (see mentions()).
        self._mentions: dict[str, set[str]] = {}

    def project_for(self, directory: str | None = None) -> Project:
        """The project that runs the app in `directory` (default: the first conflict's)."""
        if directory is None and self.result.conflicts:
            directory = self.result.conflicts[0].directory
        if directory in self.projects:
            return self.projects[directory]
        from migmerge.reading.project import load_project

        settings, ask = self.options
        return load_project(self.root, self.config, settings=settings, near=directory, ask=ask)

    def require_apps(self, apps: Sequence[str]) -> None:
        """Refuse labels that no migrations package has (exit 2), naming the known ones."""
        known: Mapping[str, AppMigrations] = self.apps
        if self.result.mode == "against" and any(app not in known for app in apps):
            # --against reads only the folders either side changed: ask the whole tree.
            known = analyze(self.root).apps
        missing = [app for app in apps if app not in known]
        if missing:
            raise MigmergeError(
                f"no app labelled {', '.join(missing)} has migrations here",
                hint=f"known apps: {', '.join(sorted(known)) or 'none'}",
            )

    @property
    def project(self) -> Project:
        """The project of the first conflict (or of the repository when there is none)."""
        return self.project_for()

    @property
    def settings(self) -> Mapping[str, str]:
        """The swappable models settings name (AUTH_USER_MODEL -> "app.Model")."""
        return self.scan.settings.swappable

    @property
    def backups(self) -> Path:
        """Where database backups go: inside the git folder, never in the work tree."""
        return git.find_repo(self.root).git_dir / "migmerge" / "backups"

    @property
    def migrations(self) -> Mapping[Key, Migration]:
        """Every migration of the tree, header only, by key."""
        if not self._migrations:
            self._migrations.update(all_migrations(self.scan))
        return self._migrations

    def mentions(self, names: Iterable[str]) -> dict[str, set[str]]:
        """The tracked text files that name each of `names` as a word.

        One `git grep` for every conflict's branch migrations at the first
        question (one per app cost 34 s over 1,000 apps), again only for names
        not asked about before.
        """
        wanted = set(names)
        if not self._mentions:
            wanted |= {n for c in self.result.conflicts for leaf in c.leaves for n in leaf.branch}
        missing = sorted(wanted - set(self._mentions))
        if missing:
            for name in missing:
                self._mentions[name] = set()
            for path, word in git.grep_words(self.root, missing):
                self._mentions.setdefault(word, set()).add(path)
        return {name: self._mentions.get(name, set()) for name in names}

    def manage_command(self, *args: str, app_dir: str | None = None) -> tuple[str, ...]:
        """The argv running the project's manage command with `args` (project.manage_command)."""
        from migmerge.reading.project import manage_command

        return manage_command(self.root, self.config, *args, app_dir=app_dir)

    def links_out(self, writes: Iterable[tuple[str, bool]]) -> list[str]:
        """The links out of the repository these writes would follow (see files.link_out)."""
        from migmerge.reading.files import links_out

        return links_out(self.root, writes)

    def migration(self, app: str, name: str) -> Migration:
        """Return the migration fully parsed (operations included)."""
        key = (app, name)
        if key not in self._parsed:
            path = dict(self.apps[app].files)[name]
            source = self.scan.read([path]).get(path)
            if source is None:
                source = (self.root / path).read_bytes()
            package = self.scan.package(self.apps[app].directory)
            self._parsed[key] = parse_whole(self.scan, app, package, name, {path: source})
        return self._parsed[key]


def analyze(
    repo: str | Path | git.RepoInfo | None = None,
    *,
    against: str | None = None,
    apps: Sequence[str] = (),
    changed_only: bool = False,
    listing: git.Started | None = None,
    settings: str | None = None,
    ask: bool = False,
    state: GitState | None = None,
    diffs: Diffs | None = None,
) -> Analysis:
    """Inspect the working tree (or predict merging `against`) for conflicts.

    `changed_only` (the hooks): look only at the folders the merge or rebase
    in progress or just made changed on either side, or a fast-forward just
    brought in, when there is one.
    `listing`: the whole working tree's listing, started early (see `start`).
    `settings`: the --settings flag. `ask`: the project's interpreter may be
    asked what static reading cannot tell (resolve; check stays static).
    `state` (the hooks, with `changed_only`): the merge or rebase just made, as
    `scope.followed_sides` found it; taken as it is, not asked of git again.
    `diffs` (with `state`): what each of its sides changed since the merge
    base, as `scope.side_diffs` gives them, when the caller asked git already.
    """
    info = repo if isinstance(repo, git.RepoInfo) else git.find_repo(repo)
    with git_objects.one_reader(info.root):  # its few small reads: one process
        return _analyze(info, against, apps, changed_only, listing, settings, ask, state, diffs)


def _analyze(
    info: git.RepoInfo,
    against: str | None,
    apps: Sequence[str],
    changed_only: bool,
    listing: git.Started | None,
    settings: str | None,
    ask: bool,
    state: GitState | None,
    diffs: Diffs | None,
) -> Analysis:
    trace.note(f"repository {info.root} (git folder {info.git_dir})")
    config = load_config(info.root)
    refs = None
    handed, diffs = (diffs if state is not None else None), None
    if against is not None:
        upstream = git.resolve_rev(info.root, against)
        local = git.try_rev(info.root, "HEAD")
        state = against_state(info.root, local, upstream, "against")
        diffs = side_diffs(info.root, state, None)
        tree = changed_part(info.root, state, config, local_rev=None, predict=True, diffs=diffs)
    else:
        if state is None:
            with trace.step("refs and git state"):
                refs = git_refs.list_refs(info.root)
                state = detect_state(info, config, refs)
        pulled = changed_only and state.mode == "worktree" and fast_forwarded_from(info)
        if changed_only and state.mode in ("merge", "rebase") and state.base:
            diffs = handed if handed is not None else side_diffs(info.root, state, None)
            tree = changed_part(
                info.root, state, config, local_rev=None, predict=False, diffs=diffs
            )
        elif pulled and state.local:
            # A fast-forward (a plain `git pull`): only what it brought in.
            scope = GitState("merge", pulled, state.local, pulled)
            tree = changed_part(info.root, scope, config, local_rev=None, predict=False)
        else:
            with trace.step("list the working tree"):
                tree = snapshot.worktree(info.root, started=listing, rebase=state.mode == "rebase")
    _say_scope(state, tree)
    return _analyze_tree(info.root, tree, state, config, apps, refs, (settings, ask), diffs)


def _say_scope(state: GitState, tree: snapshot.Snapshot) -> None:
    if trace.enabled():
        sides = ", ".join(f"{k} {v[:12]}" for k, v in zip(state._fields[1:], state[1:]) if v)
        trace.note(f"git state: {state.mode} ({sides or 'no sides'}); reading {tree.label}")
        trace.note(f"{len(tree.files)} files in scope")


def _deleted_upstream(scan: Scan, tree: snapshot.Snapshot) -> list[Warning]:
    """Warn for each migration git left in a modify/delete conflict, read as deleted."""
    if not tree.deleted_upstream:
        return []
    by_dir = {p.directory: p for p in scan.packages}
    out = []
    for path in tree.deleted_upstream:
        directory, _, file = path.rpartition("/")
        package = by_dir.get(directory)
        if package is None or not file.endswith(".py") or file.startswith("__"):
            continue
        message = (
            f"{path}: upstream deleted this migration and the local side changed it (git's "
            "modify/delete conflict); migmerge reads it as deleted, as upstream has it; "
            f"hint: `git rm {path}` to agree, or `git add {path}` to keep it"
        )
        out.append(Warning("deleted-upstream", package.label, message, path))
    return out


def analyze_revisions(
    repo: Path | git.RepoInfo,
    local: str,
    upstream: str,
    *,
    mode: Mode = "against",
    base: str | None = None,
    other_bases: Sequence[str] = (),
) -> CheckResult:
    """Predict merging commit `upstream` into commit `local` (no working tree).

    `base`: their merge base, when the caller asked git for it already (the first
    `git merge-base --all` prints), `other_bases` the rest.
    """
    info = repo if isinstance(repo, git.RepoInfo) else git.find_repo(repo)
    config = load_config(info.root)
    if base is None:
        state = against_state(info.root, local, upstream, mode)
    else:
        state = GitState(mode, local, upstream, base, tuple(other_bases))
    diffs = side_diffs(info.root, state, local)
    with git_objects.one_reader(info.root):
        tree = changed_part(info.root, state, config, local_rev=local, predict=True, diffs=diffs)
        return _analyze_tree(info.root, tree, state, config, (), diffs=diffs).result


def _analyze_tree(
    root: Path,
    tree: snapshot.Snapshot,
    state: GitState,
    config: Config,
    only: Sequence[str],
    refs: git_refs.Refs | None = None,
    options: tuple[str | None, bool] = (None, False),
    diffs: Diffs | None = None,
) -> Analysis:
    with trace.step("discovery: settings, migrations packages, labels"):
        scan = scan_tree(tree, config)
    trace.note(f"{len(scan.packages)} migrations packages")
    memo = ResultMemo.open(root)
    key = signature(scan)
    outcome = memo.get(key) if key is not None else None
    if outcome is not None and not fits(scan, outcome):
        outcome = None  # a remembered result that does not fit this tree: never believed
    migrations: dict[Key, Migration] = {}
    if outcome is None:
        with trace.step("headers and graph (this tree was not checked before)"):
            outcome, migrations = derive(scan)
        if key is not None:
            memo.put(key, outcome)
    else:
        trace.note("graph: this tree was checked before; its result is reused")
        replay(scan, outcome)
    app_map: dict[str, AppMigrations] = {}
    for packages in by_project(scan.packages).values():
        for package in packages:
            app_map.setdefault(package.label, _app(package))
    shapes = [shape for shape in outcome[3] if not only or shape[1] in only]
    by_dir: dict[str, discover.Package] = {}
    for package in scan.packages:
        by_dir.setdefault(package.directory, package)  # the first, as scan.package finds it
    conflicts = build_conflicts(shapes, by_dir, scan)
    if tree.twins:
        from migmerge.reading.same_name import same_name_conflicts

        conflicts += [c for c in same_name_conflicts(scan, tree.twins) if not only or c.app in only]
    analysis = Analysis(
        root,
        CheckResult(state.mode, state.local, state.upstream, state.base),
        app_map,
        config,
        scan,
        migrations,
    )
    analysis.options = options
    found = _clashes(analysis, tree, state, diffs, refs, _memo_of(memo, key, state, diffs))
    conflicts += [c for c in found.conflicts if not only or c.app in only]
    warnings = [*scan.warnings, *found.warnings, *_deleted_upstream(scan, tree)]
    if state.mode in ("merge", "rebase") and tree.label == "working tree":
        from migmerge.reading.markers import conflict_markers

        warnings += conflict_markers(tree, ((a.label, a.directory) for a in app_map.values()))
    if conflicts:
        settings, ask = options
        django = [c for c in conflicts if c.directory not in scan.kmigrator]
        projects = projects_of(root, django, config, tree, settings=settings, ask=ask)
        modules = {c.directory: scan.package(c.directory).modules for c in conflicts}
        if len(django) < len(conflicts):
            from migmerge.reading import knex  # condo: knex_migrations, not django_migrations

            kmigrator = [c for c in conflicts if c.directory in scan.kmigrator]
            projects.update(knex.projects(root, kmigrator, modules, config.python))
        with trace.step("sides, shared, applied of each leaf"):
            conflicts = with_git_facts(root, modules, conflicts, state, config, refs, projects)
        analysis.projects = projects
        warnings += applied_warnings(conflicts, projects)
    analysis.result = CheckResult(
        state.mode, state.local, state.upstream, state.base, tuple(conflicts), tuple(warnings)
    )
    return analysis


def _clashes(
    analysis: Analysis,
    tree: snapshot.Snapshot,
    state: GitState,
    diffs: Diffs | None,
    refs: git_refs.Refs | None,
    memo: tuple[ResultMemo, str] | None,
) -> Found:
    """What the sides' own migrations clash on beyond leaves: cross-app, duplicates, rewrites."""
    if memo is not None and memo[0].get(memo[1]) == "clean":
        return Found([], [])
    sides = sides_of(analysis.root, state, tree, diffs)
    if sides is None or not (sides.local or sides.upstream):
        return Found([], [])
    found = find_clashes(
        analysis.root,
        analysis.scan,
        sides,
        lambda: Graph(analysis.migrations),
        state=state,
        config=analysis.config,
        refs=refs,
    )
    if memo is not None and not found.conflicts and not found.warnings:
        memo[0].put(memo[1], "clean")
    return found


def _memo_of(
    memo: ResultMemo, key: str | None, state: GitState, diffs: Diffs | None
) -> tuple[ResultMemo, str] | None:
    """Where to remember a tree whose sides clash on nothing, when that saves git's diffs.

    The same tree between the same commits gives the same answer; `--against`
    and the hooks run the diffs anyway (and may warn on the default branch,
    which moves on its own), so they look every time.
    """
    if key is None or diffs is not None or state.mode == "against":
        return None
    return memo, "\0".join((key, "clashes", state.mode, *(x or "-" for x in state[1:4])))


def _app(package: discover.Package) -> AppMigrations:
    return AppMigrations(
        package.label,
        package.directory,
        package.label_source,
        tuple(sorted(package.modules.items())),
    )

"""`check`: find apps with parallel migrations and say how far they collide; write nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from migmerge.reading import git, git_worktree

Out = Callable[[str], None]


def run_check(
    *,
    repo: str | None,
    against: str | None,
    apps: Sequence[str],
    format: str,
    out: Out,
    settings: str | None = None,
    colour: bool = False,
) -> int:
    """Run `check`; exit 1 when conflicts are found. `colour`: the text for a terminal."""
    info = git.find_repo(repo)
    from migmerge.reading.unfinished import find_unfinished

    unfinished = find_unfinished(info.git_dir)
    if unfinished is not None and format != "json":
        out(f"migmerge: {unfinished.sentence()}")  # first: the state below is half-resolved
    # Listing the working tree is the slowest git work of a check: started
    # now, git lists the files while Python imports the rest of migmerge.
    listing = git_worktree.start_worktree_listing(info.root) if against is None else None
    from migmerge import report
    from migmerge.reading.analysis import analyze

    analysis = analyze(info, against=against, apps=apps, listing=listing, settings=settings)
    analysis.require_apps(apps)
    result = analysis.result
    if format == "json":
        out(report.check_json(result, unfinished))
    elif format == "github":
        out(report.check_github(result, against))
    else:
        out(report.check_text(result, against, colour=colour))
    return 1 if result.conflicts or unfinished else 0


def run_branches(
    *, repo: str | None, remote: str | None, apps: Sequence[str], format: str, out: Out
) -> int:
    """Run `check --branches`; exit 1 when the current branch conflicts with anything."""
    from migmerge import report_branches
    from migmerge.reading.branches import check_branches, only_apps

    result = only_apps(check_branches(repo, remote), apps)
    if format == "json":
        out(report_branches.branches_json(result))
    elif format == "github":
        out(report_branches.branches_github(result))
    else:
        out(report_branches.branches_text(result))
    current = result.current
    return 1 if any(current in (p.a, p.b) for p in result.pairs) else 0

"""Turn results into text for people, JSON for programs, annotations for CI.

Pure functions returning strings: the CLI decides where they go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from migmerge.core.model import (
    CheckResult,
    Conflict,
    Leaf,
    Operation,
    Warning,
)

if TYPE_CHECKING:
    from migmerge.core.doctor import Diagnosis, Finding  # doctor's report only: not imported
    from migmerge.core.model import Unfinished

_MODE_WORDS = {
    "worktree": "working tree",
    "merge": "merge",
    "rebase": "rebase",
    "against": "predicted merge",
}


def check_json(result: CheckResult, unfinished: Unfinished | None = None) -> str:
    """Render the contract's `check --format json` document.

    An interrupted resolve adds the key "unfinished" (journal, what, started).
    """
    import json  # only for this format: text is the hook's default

    document = result.to_json()
    if unfinished is not None:
        document["unfinished"] = unfinished.to_json()
    return json.dumps(document, indent=2)


# Modest colour for a terminal (cli decides: a terminal, and NO_COLOR unset).
_RED, _BOLD, _YELLOW, _GREEN, _PLAIN = "\x1b[1;31m", "\x1b[1m", "\x1b[33m", "\x1b[32m", "\x1b[0m"


def check_text(result: CheckResult, against: str | None = None, *, colour: bool = False) -> str:
    """Render a check result for a person: what conflicts, why, what to run next.

    `colour`: the headline red (or green when clean), each app bold, warnings yellow.
    """

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_PLAIN}" if colour else text

    lines = [
        paint("warning:", _YELLOW) + f" {_where(warning)}{warning.message}"
        for warning in result.warnings
    ]
    if not result.conflicts:
        where = f" (merging {against})" if against else ""
        lines.append(paint(f"No migration conflicts{where}: every app has a single leaf.", _GREEN))
        return "\n".join(lines)
    count = len(result.conflicts)
    where = _MODE_WORDS[result.mode] + (f" with {against}" if against else "")
    if all(c.kind == "leaves" for c in result.conflicts):
        head = f"{count} app{'s' if count > 1 else ''} with parallel migrations ({where}):"
    else:
        head = f"{count} migration conflict{'s' if count > 1 else ''} ({where}):"
    lines.append(paint(head, _RED))
    for conflict in result.conflicts:
        first, *rest = _conflict_lines(conflict)
        lines += ["", paint(first, _BOLD), *rest]
    lines += ["", _next_step(result, against)]
    return "\n".join(lines)


def _where(warning: Warning) -> str:
    """The file a warning is about, unless its message names it already: every warning names one."""
    return f"{warning.path}: " if warning.path and warning.path not in warning.message else ""


def _conflict_lines(conflict: Conflict) -> list[str]:
    if conflict.kind == "cross-app":
        return _cross_app_lines(conflict)
    ancestor = conflict.ancestor or "(no common migration)"
    lines = [
        f"{conflict.app} ({conflict.directory}): {len(conflict.leaves)} leaves after {ancestor}"
    ]
    if conflict.kind == "same-name":
        lines = [
            f"{conflict.app} ({conflict.directory}): both sides added {conflict.leaves[0].name} "
            f"after {ancestor}, with different contents (one would be lost)"
        ]
    for leaf in conflict.leaves:
        lines.append(f"  {leaf.name:<40} {_leaf_facts(leaf)}")
        for name in leaf.branch:
            if name != leaf.name or len(leaf.branch) > 1:
                lines.append(f"      {name}")
        for op in leaf.operations:
            lines.append(f"      - {describe(op)}")
    lines.append(f"  overlap: {conflict.overlap.kind}")
    lines += [f"    {reason}" for reason in conflict.overlap.reasons]
    if conflict.strategy:
        lines.append(f"  suggested: {conflict.strategy}: {conflict.strategy_why}")
    else:
        lines.append(f"  suggested: choose a strategy ({conflict.strategy_why})")
    return lines


def _cross_app_lines(conflict: Conflict) -> list[str]:
    """A cross-app conflict: the two migrations, what each does, and what must change."""
    user, taker = conflict.leaves[0], conflict.leaves[1]
    lines = [f"{conflict.app} ({conflict.directory}): uses what {taker.app} takes away"]
    for leaf in (user, taker):
        lines.append(f"  {leaf.app}.{leaf.name:<40} {_leaf_facts(leaf)}")
        lines += [f"      - {describe(op)}" for op in leaf.operations]
    lines += [f"    {reason}" for reason in conflict.overlap.reasons]
    lines.append(f"  suggested: by hand ({conflict.strategy_why})")
    return lines


def _leaf_facts(leaf: Leaf) -> str:
    facts: list[str] = [leaf.side or "side unknown"]
    if leaf.shared:
        facts.append("shared")
    if leaf.applied:
        facts.append("applied")
    return "[" + ", ".join(facts) + "]"


def describe(op: Operation) -> str:
    """Say what one operation does, in a few words."""
    if op.new_name and op.field:
        return f"{op.op} {op.model}.{op.field} -> {op.new_name}"
    if op.new_name:
        return f"{op.op} {op.model} -> {op.new_name}"
    target = ".".join(x for x in (op.model, op.field) if x)
    if op.reaches:
        target = "reaches " + ", ".join(op.reaches)
    if not op.readable and op.note:
        target = (target + " " if target else "") + f"(unreadable: {op.note})"
    return f"{op.op} {target}".rstrip()


def _next_step(result: CheckResult, against: str | None) -> str:
    if all(c.kind == "cross-app" for c in result.conflicts):
        return "hint: change one migration of each cross-app conflict by hand, then check again"
    if against:
        return (
            f"hint: merge {against} (git merge {against}), then run `migmerge resolve`; "
            "or preview with `migmerge resolve --dry-run` after the merge"
        )
    apps = " ".join(f"--app {c.app}" for c in result.conflicts)
    return (
        f"hint: run `migmerge resolve --dry-run {apps}` to see the plan, "
        f"then `migmerge resolve {apps}`"
    )


def check_github(result: CheckResult, against: str | None = None) -> str:
    """Render GitHub Actions workflow commands that annotate the conflicting files.

    With `against` (a pull request's base) only the local leaves are annotated:
    the upstream files are not in the pull request's checkout, so the message
    names them instead.
    """
    lines = [line for c in result.conflicts for line in _annotations(c, against)]
    for warning in result.warnings:
        where = {"file": warning.path} if warning.path else {}
        lines.append(workflow_command("warning", where, warning.message))
    if not result.conflicts:
        lines.append("No migration conflicts.")
    return "\n".join(lines)


def _annotations(conflict: Conflict, against: str | None) -> list[str]:
    if conflict.kind == "cross-app":
        return [_cross_app_annotation(conflict)]
    title = {"title": f"Migration conflict in {conflict.app}"}
    overlap = " ".join([f"overlap {conflict.overlap.kind}.", *conflict.overlap.reasons])
    if not against:
        names = ", ".join(leaf.name for leaf in conflict.leaves)
        message = (
            f"{conflict.app} has {len(conflict.leaves)} leaf migrations ({names}); {overlap}"
            f" Fix: migmerge resolve --app {conflict.app}"
        )
        return [on_leaf(leaf, title, message) for leaf in conflict.leaves]
    return _against_annotations(conflict, against, title, overlap)


def _against_annotations(
    conflict: Conflict, against: str, title: dict[str, str], overlap: str
) -> list[str]:
    here = [leaf for leaf in conflict.leaves if leaf.side != "upstream"]
    there = ", ".join(f"{leaf.name} ({leaf.path})" for leaf in conflict.leaves if leaf not in here)

    def message(mine: str) -> str:
        return (
            f"merging {against} would leave {conflict.app} with {len(conflict.leaves)} leaf"
            f" migrations: {mine}, and on {against} {there or 'none'}; {overlap}"
            f" Fix: git merge {against}, then migmerge resolve --app {conflict.app}"
        )

    if not here:  # the fork is upstream's own: no file of this branch to point at
        return [workflow_command("error", title, message("none of this branch"))]
    return [on_leaf(leaf, title, message(f"{leaf.name} here")) for leaf in here]


def _cross_app_annotation(conflict: Conflict) -> str:
    """One error on the migration that uses what the other side takes away."""
    title = {"title": f"Cross-app migration conflict in {conflict.app}"}
    return on_leaf(conflict.leaves[0], title, " ".join(conflict.overlap.reasons))


def on_leaf(leaf: Leaf, title: dict[str, str], message: str) -> str:
    return workflow_command("error", {"file": leaf.path, "line": "1", **title}, message)


def workflow_command(name: str, properties: dict[str, str], message: str) -> str:
    """Render one `::name key=value,...::message` line, escaped as GitHub documents.

    Values escape `%`, CR and LF, and also `:` and `,` (they end a value); the
    message escapes `%`, CR and LF. Unescaped, a path such as `a,b/0002_x.py`
    annotates a file that does not exist, and a newline ends the command.
    """
    pairs = ",".join(f"{key}={_escape(value, property=True)}" for key, value in properties.items())
    return f"::{name}{' ' if pairs else ''}{pairs}::{_escape(message)}"


def _escape(text: str, *, property: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property else text


# Hooks ---------------------------------------------------------------------


def hook_summary(what: str, conflicts: Sequence[Conflict], *, brief: bool = False) -> str:
    """Say what a merge or rebase left, for the post-* hooks (`brief`: the apps only)."""
    if brief:
        apps = ", ".join(conflict.app for conflict in conflicts)
        return f"migmerge: {what} left parallel migrations in {apps}"
    apps = "1 app" if len(conflicts) == 1 else f"{len(conflicts)} apps"
    lines = [f"migmerge: {what} left parallel migrations in {apps}:"]
    lines += [line for conflict in conflicts for line in describe_conflict(conflict)]
    return "\n".join(lines)


def describe_conflict(conflict: Conflict, upstream: str = "upstream") -> list[str]:
    """Return the lines that tell a person about one conflict."""
    if conflict.kind == "cross-app":
        taker = conflict.leaves[1].app
        lines = [f"  {conflict.app} ({conflict.directory}): uses what {taker} takes away"]
        lines += [
            f"    {leaf.app}.{leaf.name} ({_side(leaf, upstream)})" for leaf in conflict.leaves
        ]
        return lines + [f"    {reason}" for reason in conflict.overlap.reasons]
    after = f" after {conflict.ancestor}" if conflict.ancestor else ""
    lines = [f"  {conflict.app} ({conflict.directory}): {len(conflict.leaves)} leaves{after}"]
    lines += [f"    {leaf.name} ({_side(leaf, upstream)})" for leaf in conflict.leaves]
    reasons = f": {'; '.join(conflict.overlap.reasons)}" if conflict.overlap.reasons else ""
    lines.append(f"    overlap {conflict.overlap.kind}{reasons}")
    return lines


def _side(leaf: Leaf, upstream: str) -> str:
    if leaf.side == "upstream":
        return upstream
    return leaf.side or "side unknown"


# Warnings about clashes no graph shows: the hooks say them even when every app has one leaf.
CLASH_WARNINGS = ("duplicate-operation", "rewrites-shared-migration")


def clash_warnings(warnings: Sequence[Warning]) -> str:
    """Say the duplicate-operation and rewrites-shared-migration warnings, one a line."""
    return "\n".join(
        f"migmerge: warning: {w.message}" for w in warnings if w.kind in CLASH_WARNINGS
    )


def push_report(
    remote: str,
    branch: str,
    label: str,
    role: str,
    conflicts: Sequence[Conflict],
    *,
    brief: bool = False,
) -> str:
    """Say why pre-push blocks pushing `branch`: which branch it conflicts with, and the ways on.

    `brief` (--quiet): without each conflict's details.
    """
    apps = ", ".join(conflict.app for conflict in conflicts)
    lines = [f"migmerge: pushing {branch} would conflict with {label} ({role}) in {apps}:"]
    if not brief:
        lines += [line for conflict in conflicts for line in describe_conflict(conflict, label)]
    lines += [
        f"hint: git fetch {remote} && git merge {label}, then migmerge resolve",
        f"      see it first: migmerge check --against {label}",
        "      push anyway: git push --no-verify",
    ]
    return "\n".join(lines)


# Doctor --------------------------------------------------------------------


def doctor_text(
    found: Diagnosis,
    fixes: tuple[Sequence[Finding], Sequence[tuple[Finding, str]]] | None = None,
    *,
    why_left: bool = True,
) -> str:
    """Say what doctor found, finding by finding, what it could not read, what --fix does.

    `fixes`: the findings doctor --fix's plan fixes, and those it leaves with why
    (counted from the plan); `why_left`: say each one's why here (doctor --fix
    says it with its plan instead).
    """
    where = found.database.describe() if found.database else "no database"
    django = f", Django {found.django}" if found.django else ""
    lines = [f"migmerge doctor: {where}{django}"]
    for finding in found.findings:
        lines.append(f"{finding.kind}: {_named(finding)}")
        lines += [f"    {line}" for line in finding.evidence]
        if finding.fix:
            lines.append(f"  fix: {finding.fix}")
    lines += [f"could not read {item}" for item in found.unread]
    lines += _doctor_summary(found, fixes, why_left)
    return "\n".join(lines)


def _named(finding: Finding) -> str:
    return f"{finding.app}.{finding.migration}" if finding.migration else finding.app


def _doctor_summary(
    found: Diagnosis,
    fixes: tuple[Sequence[Finding], Sequence[tuple[Finding, str]]] | None,
    why_left: bool,
) -> list[str]:
    if not found.findings:
        checked = "" if not found.unread else " in what could be read"
        return [f"The files, django_migrations and the schema agree{checked}."]
    count = len(found.findings)
    head = f"{count} problem{'s' if count > 1 else ''} found"
    if fixes is None:
        return [head + "."]
    fixed, left = fixes
    if fixed:
        kinds = ", ".join(dict.fromkeys(f.kind for f in fixed))
        head += (
            f"; `migmerge doctor --fix` fixes {len(fixed)} of them ({kinds}) after a backup "
            "(`--dry-run` shows how)"
        )
    else:
        head += "; `migmerge doctor --fix` fixes none of them"
    if not left:
        return [head + "."]
    kinds = ", ".join(dict.fromkeys(f.kind for f, _ in left))
    head += f"{', and' if fixed else ':'} it leaves {len(left)} ({kinds})"
    if not why_left:
        return [head + ", each with why below."]
    return [head + ":", *(f"  {f.kind} {_named(f)}: {why}" for f, why in left)]


def doctor_json(found: Diagnosis) -> str:
    """Render the contract's doctor document."""
    import json

    return json.dumps(
        {
            "version": 1,
            "mode": "doctor",
            "database": found.database.describe() if found.database else None,
            "django": found.django,
            "findings": [f.to_json() for f in found.findings],
            "leaves": found.leaves,
            "unread": list(found.unread),
        },
        indent=2,
    )

"""Regenerate a kmigrator app's fork (condo) as a plan: the project's own commands, in order.

`rollback` once per applied local file (knex undoes the applied file that
sorts last by name, so only when those are the local ones), the local files
deleted, `makemigrations`, `migrate`: the commands `[tool.migmerge.commands]`
configures. A plan is data: nothing here runs anything.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from migmerge.core.model import Conflict
from migmerge.core.plan import Action, Plan
from migmerge.core.plans.kmigrator import Folder, base_name, refuse_mixed_files
from migmerge.core.strategy import regenerate_rule
from migmerge.errors import Refused

COMMANDS_EXAMPLE = (
    '[commands]\nrollback = "yarn workspace @app/condo migrate:down"\n'
    'makemigrations = "yarn workspace @app/condo makemigrations"\n'
    'migrate = "yarn workspace @app/condo migrate"'
)


def plan_regenerate(
    folder: Folder,
    conflict: Conflict,
    commands: Mapping[str, str],
    cwd: str,
    *,
    force: bool = False,
) -> Plan:
    """Roll back the local files, delete them, makemigrations and migrate: configured commands."""
    argv = _commands(folder.app, commands)
    local = [leaf for leaf in conflict.leaves if leaf.side == "local"]
    if len(local) != 1:
        raise Refused(
            f"{folder.app}: cannot regenerate: {len(local)} leaves are local, so which files to "
            "regenerate cannot be told",
            hint="name the branch you merge with: migmerge check --against REV",
        )
    regenerate_rule(conflict, local[0], force=force)
    paths = list(dict.fromkeys(folder.modules[name] for name in local[0].branch))
    refuse_mixed_files(folder, paths, local[0].branch)
    undo = _rollbacks(folder, paths, force)
    actions = [
        *(
            _run(argv["rollback"], cwd, f"undo {base_name(p)} (knex undoes the last applied file)")
            for p in undo
        ),
        *(Action("delete", "kmigrator writes its migration again below", path=p) for p in paths),
        _run(
            argv["makemigrations"],
            cwd,
            "write the local model changes again, after upstream's",
            database=False,
        ),
        _run(argv["migrate"], cwd, "apply the regenerated migrations"),
    ]
    warnings = (
        f"{', '.join(base_name(p) for p in paths)}: kmigrator writes the SQL again; anything added "
        "by hand to exports.up or exports.down is lost (git still has it)",
    )
    return Plan("regenerate", conflict.app, tuple(actions), warnings)


def _commands(app: str, commands: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The configured rollback, makemigrations and migrate commands; refuse when one is missing."""
    missing = [key for key in ("rollback", "makemigrations", "migrate") if not commands.get(key)]
    if missing:
        raise Refused(
            f"{app}: cannot regenerate a kmigrator app without the commands that run its "
            f"migrations: {', '.join(missing)} not configured",
            hint=f"add to .migmerge.toml at the repository's root:\n{COMMANDS_EXAMPLE}",
        )
    return {
        key: tuple(shlex.split(commands[key])) for key in ("rollback", "makemigrations", "migrate")
    }


def _rollbacks(folder: Folder, paths: Sequence[str], force: bool) -> list[str]:
    """The local files to roll back, last first; refuse where knex's down would undo another."""
    if folder.applied is None:
        if force:
            return []  # --force: taken as not applied, nothing is rolled back
        raise Refused(
            f"{folder.app}: cannot regenerate: whether knex has applied "
            f"{', '.join(base_name(p) for p in paths)} cannot be read ({folder.applied_why}), so "
            "how many times to roll back cannot be told",
            hint="let migmerge read knex_migrations (DATABASE_URL); or roll back yourself, "
            "once per applied file of yours, then run with --force (no rollback step)",
        )
    mine = sorted((p for p in paths if base_name(p) in folder.applied), key=base_name, reverse=True)
    last = sorted(folder.applied)[-len(mine) :] if mine else []
    if sorted(map(base_name, mine)) != last:
        raise Refused(
            f"{folder.app}: cannot regenerate: knex's down undoes the applied file that sorts "
            f"last by name, {last[-1]}, which is not one of yours",
            hint="roll back by hand in the order knex allows, or migmerge resolve --strategy merge",
        )
    for path in mine:
        if b"no auto backward migration" in folder.read(path):
            raise Refused(
                f"{path} cannot be rolled back: its exports.down throws ('no auto backward "
                "migration')",
                hint=f"migmerge resolve --app {folder.app} --strategy merge",
            )
    return mine


def _run(argv: tuple[str, ...], cwd: str, why: str, *, database: bool = True) -> Action:
    return Action("run", why, command=argv, cwd=cwd, touches_database=database)

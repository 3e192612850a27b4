"""Steps several plans share: the database backup, the unapply, max_migration.txt."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from migmerge.core.argv import display_argv, manage_cwd
from migmerge.core.model import Key
from migmerge.core.plan import Action
from migmerge.errors import MigmergeError

if TYPE_CHECKING:
    from migmerge.core.plans.inputs import AnalysisView

MAX_MIGRATION = "max_migration.txt"


# `manage.py migrate APP TARGET` refuses while the app has two leaves (Django's
# conflict check comes first), so the unapply drives Django's own executor,
# which is what migrate runs after that check. The code is fixed: what to undo
# comes as JSON in UNAPPLY_VARIABLE, never spliced into the code (issue 11):
# - a list of [app, target] pairs (target null: zero): migrate back to them;
# - {"only": [[app, name], ...]}: unapply exactly those migrations, in that
#   order, and nothing else (doctor's ghosts, which sit beside migrations of
#   this checkout: migrating their app back would undo those too). Each one is
#   unapplied from the state of every other applied migration, so SQLite's
#   table remake keeps the columns the checkout's migrations added (Django's
#   own backwards plan would start from the graph's order and could drop them).
# Top-level statements only: Django before 3.1's `shell -c` runs code with
# separate locals, where a comprehension or function could not see them.
UNAPPLY_VARIABLE = "MIGMERGE_UNAPPLY"
UNAPPLY_CODE = (
    "import json, os; "
    "from django.db import connection; "
    "from django.db.migrations.executor import MigrationExecutor; "
    "from django.db.migrations.state import ProjectState\n"
    f'job = json.loads(os.environ["{UNAPPLY_VARIABLE}"]); '
    "executor = MigrationExecutor(connection); loader = executor.loader; only = []\n"
    "if isinstance(job, list): executor.migrate([(app, name) for app, name in job])\n"
    "else:\n"
    ' for key in job["only"]: only.append(loader.graph.nodes[tuple(key)])\n'
    " state = ProjectState(real_apps=loader.unmigrated_apps); before = {}\n"
    " for migration, _ in executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True):\n"
    "  if migration not in only and (migration.app_label, migration.name) in "
    "loader.applied_migrations: state = migration.mutate_state(state, preserve=False)\n"
    " for migration in reversed(only): "
    "before[migration] = state; state = migration.mutate_state(state, preserve=True)\n"
    " for migration in only: executor.unapply_migration(before[migration], migration)"
)


def unapply_env(app: str, target: str | None) -> tuple[tuple[str, str], ...]:
    """The environment naming the unapply's target (None: unapply the whole app)."""
    return ((UNAPPLY_VARIABLE, json.dumps([[app, target]])),)


def unapply_only_env(keys: Sequence[Key]) -> tuple[tuple[str, str], ...]:
    """The environment naming exactly the migrations to unapply, in the order to unapply them."""
    return ((UNAPPLY_VARIABLE, json.dumps({"only": [list(key) for key in keys]})),)


def unapply_command(analysis: AnalysisView, app: str) -> tuple[str, ...] | None:
    """The project's manage.py running the fixed unapply code, or None without manage.py."""
    try:
        return _unapply_argv(analysis, app)
    except MigmergeError:
        return None


def _unapply_argv(analysis: AnalysisView, app: str) -> tuple[str, ...]:
    """The unapply's argv; the project reader's MigmergeError when there is no manage.py."""
    directory = analysis.apps[app].directory
    return analysis.manage_command("shell", "-c", UNAPPLY_CODE, app_dir=directory)


def unapply_display(command: tuple[str, ...] | None, app: str, target: str | None) -> str:
    """The unapply as a person types it in a shell: the variable, then the command, quoted."""
    argv = (
        display_argv(command) if command else ["python", "manage.py", "shell", "-c", UNAPPLY_CODE]
    )
    variables = [f"{key}={shlex.quote(value)}" for key, value in unapply_env(app, target)]
    return " ".join([*variables, shlex.join(argv)])


def unapply_actions(
    analysis: AnalysisView, app: str, target: str | None, *, why: str | None = None
) -> tuple[Action, ...]:
    """The one unapply: migrate `app` back to `target` (None: zero) through Django's executor.

    Works while the app has two leaves; carries no name in code. Take a
    backup_action first. MigmergeError (what to configure) without a manage.py.
    """
    run = _unapply_argv(analysis, app)
    why = why or f"unapply {app} back to {target or 'zero'} through Django's executor"
    cwd = str(manage_cwd(run))
    env = unapply_env(app, target)
    return (
        Action("run", why, command=run, cwd=cwd, touches_database=True, env=env, drops_data=True),
    )


def unapply_only_actions(
    analysis: AnalysisView, keys: Sequence[Key], why: str
) -> tuple[Action, ...]:
    """The one unapply, for exactly `keys` (newest first) and nothing else.

    The files of `keys` must be in place when it runs. MigmergeError (what to
    configure) without a manage.py.
    """
    run = _unapply_argv(analysis, keys[0][0])
    cwd = str(manage_cwd(run))
    env = unapply_only_env(keys)
    return (Action("run", why, command=run, cwd=cwd, touches_database=True, env=env),)


def settings_args(command: tuple[str, ...]) -> tuple[str, ...]:
    """What follows the unapply code in its command (the --settings flag, if any)."""
    return command[command.index(UNAPPLY_CODE) + 1 :] if UNAPPLY_CODE in command else ()


def backup_action(backups: Path, *, optional: bool = False, what: str = "the database") -> Action:
    """Back up the database before the plan changes it, into the folder `backups`.

    `optional` (--force): when it cannot be backed up, the plan goes on without a backup.
    """
    why = f"keep a copy of {what} to restore if a step fails"
    if optional:
        why += " (--force: if it cannot be backed up, go on without a backup)"
    return Action("backup", why, target=str(backups), optional=optional)


def max_migration(root: Path, directory: str, leaf: str) -> tuple[Action, ...]:
    """Point django-linear-migrations' max_migration.txt at the new leaf, when the app has one."""
    path = f"{directory}/{MAX_MIGRATION}"
    if not (root / path).is_file():
        return ()
    content = f"{leaf}\n".encode()
    if (root / path).read_bytes() == content:
        return ()
    why = f"django-linear-migrations records the app's latest migration: now {leaf}"
    return (Action("edit", why, path=path, content=content),)

"""Steps several plans share: the database backup, the unapply, max_migration.txt."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from migmerge.core.model import Action
from migmerge.errors import MigmergeError
from migmerge.reading import git

if TYPE_CHECKING:
    from migmerge.reading.analysis import Analysis

MAX_MIGRATION = "max_migration.txt"


# `manage.py migrate APP TARGET` refuses while the app has two leaves (Django's
# conflict check comes first), so the unapply drives Django's own executor,
# which is what migrate runs after that check. The code is fixed: the targets
# come as JSON in UNAPPLY_VARIABLE, never spliced into the code (issue 11).
UNAPPLY_VARIABLE = "MIGMERGE_UNAPPLY"
UNAPPLY_CODE = (
    "import json, os; "
    "from django.db import connection; "
    "from django.db.migrations.executor import MigrationExecutor; "
    "MigrationExecutor(connection).migrate("
    f'[(app, name) for app, name in json.loads(os.environ["{UNAPPLY_VARIABLE}"])])'
)


def unapply_env(app: str, target: str | None) -> tuple[tuple[str, str], ...]:
    """The environment naming the unapply's target (None: unapply the whole app)."""
    return ((UNAPPLY_VARIABLE, json.dumps([[app, target]])),)


def unapply_command(analysis: Analysis, app: str) -> tuple[str, ...] | None:
    """The project's manage.py running the fixed unapply code, or None without manage.py."""
    try:
        return _unapply_argv(analysis, app)
    except MigmergeError:
        return None


def _unapply_argv(analysis: Analysis, app: str) -> tuple[str, ...]:
    """The unapply's argv; the project reader's MigmergeError when there is no manage.py."""
    from migmerge.reading import project

    directory = analysis.apps[app].directory
    return project.manage_command(
        analysis.root, analysis.config, "shell", "-c", UNAPPLY_CODE, app_dir=directory
    )


def unapply_display(command: tuple[str, ...] | None, app: str, target: str | None) -> str:
    """The unapply as a person types it in a shell: the variable, then the command, quoted."""
    from migmerge.reading.project import display_argv

    argv = (
        display_argv(command) if command else ["python", "manage.py", "shell", "-c", UNAPPLY_CODE]
    )
    variables = [f"{key}={shlex.quote(value)}" for key, value in unapply_env(app, target)]
    return " ".join([*variables, shlex.join(argv)])


def unapply_actions(
    analysis: Analysis, app: str, target: str | None, *, why: str | None = None
) -> tuple[Action, ...]:
    """The one unapply: migrate `app` back to `target` (None: zero) through Django's executor.

    Works while the app has two leaves; carries no name in code. Take a
    backup_action first. MigmergeError (what to configure) without a manage.py.
    """
    from migmerge.reading import project

    run = _unapply_argv(analysis, app)
    why = why or f"unapply {app} back to {target or 'zero'} through Django's executor"
    cwd = str(project.manage_cwd(run))
    env = unapply_env(app, target)
    return (
        Action("run", why, command=run, cwd=cwd, touches_database=True, env=env, drops_data=True),
    )


def settings_args(command: tuple[str, ...]) -> tuple[str, ...]:
    """What follows the unapply code in its command (the --settings flag, if any)."""
    return command[command.index(UNAPPLY_CODE) + 1 :] if UNAPPLY_CODE in command else ()


def backup_action(root: Path, *, optional: bool = False, what: str = "the database") -> Action:
    """Back up the database before the plan changes it.

    `optional` (--force): when it cannot be backed up, the plan goes on without a backup.
    """
    why = f"keep a copy of {what} to restore if a step fails"
    if optional:
        why += " (--force: if it cannot be backed up, go on without a backup)"
    return Action("backup", why, target=str(backup_dir(root)), optional=optional)


def backup_dir(root: Path) -> Path:
    """Where database backups go: inside the git directory, never in the work tree."""
    return git.find_repo(root).git_dir / "migmerge" / "backups"


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

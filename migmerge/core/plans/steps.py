"""Steps several plans share: the database backup, the unapply, max_migration.txt."""

from __future__ import annotations

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
# conflict check comes first), so these steps drive Django's own executor,
# which is what migrate runs after that check.
_MIGRATE = (
    "from django.db import connection; "
    "from django.db.migrations.executor import MigrationExecutor; "
    'MigrationExecutor(connection).migrate([("{app}", "{target}")])'
)


def migrate_command(analysis: Analysis, app: str, target: str) -> tuple[str, ...] | None:
    """The project's manage.py migrating `app` to `target`, or None without manage.py."""
    from migmerge.reading import project

    directory = analysis.apps[app].directory
    code = _MIGRATE.format(app=app, target=target)
    try:
        return project.manage_command(
            analysis.root, analysis.config, "shell", "-c", code, app_dir=directory
        )
    except MigmergeError:
        return None


def display(command: tuple[str, ...] | None, app: str, target: str) -> str:
    """Render a migrate command as a person types it, quoted for a shell."""
    if command is None:
        code = _MIGRATE.format(app=app, target=target)
        return f"python manage.py shell -c {shlex.quote(code)}"
    return shlex.join(["python", "manage.py", *command[2:]])


def backup_action(root: Path) -> Action:
    """Back up the database before the plan changes it."""
    why = "keep a copy of the database to restore if a step fails"
    return Action("backup", why, target=str(backup_dir(root)))


def run_action(command: tuple[str, ...], why: str) -> Action:
    """A manage.py step that changes the database."""
    from migmerge.reading import project

    cwd = str(project.manage_cwd(command))
    return Action("run", why, command=command, cwd=cwd, touches_database=True)


def require(command: tuple[str, ...] | None, shown: str) -> tuple[str, ...]:
    """Fail when the project's manage.py cannot be found."""
    if command is None:
        raise MigmergeError(
            "cannot find the project's manage.py to migrate with",
            hint=f'run {shown} yourself, or set [tool.migmerge] manage-py = "path/to/manage.py"',
        )
    return command


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

"""migmerge's Django system check: an Error when an app's migration graph forks.

- migmerge.E001 (Error): an installed app has two or more leaf migrations
  (the fork `migrate` refuses with "Conflicting migrations detected").
- migmerge.W001 (Warning): a migration migmerge cannot read statically.
- migmerge.W002 (Warning): migmerge could not check at all (the message says why).

The check reads the repository holding the project the way `migmerge check`
does (statically: no migration is imported, no database is opened): the
folder `MIGMERGE_REPO` names in the settings, else `BASE_DIR`, else the
current folder. Outside a git work tree (a deployed image without `.git`) it
says nothing: there is no branch to fork from.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks

from migmerge.core.model import CheckResult, Conflict
from migmerge.errors import MigmergeError, NotARepository, UnreadableMigration


def parallel_migrations(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Report each installed app whose migrations fork, and migrations that cannot be read."""
    from migmerge.api import check

    try:
        result = check(repository_folder())
    except NotARepository:
        return []
    except UnreadableMigration as exc:
        return [checks.Warning(exc.message, hint=exc.hint, id="migmerge.W001")]
    except MigmergeError as exc:
        return [_cannot_check(exc.message, exc.hint)]
    except Exception as exc:  # a bug in migmerge must not stop manage.py
        return [_cannot_check(f"{type(exc).__name__}: {exc}", "this is a bug in migmerge")]
    return _messages(result, _labels(app_configs))


checks.register(parallel_migrations, "migmerge")


def repository_folder() -> str:
    """The folder whose repository is checked: MIGMERGE_REPO, else BASE_DIR, else here."""
    for name in ("MIGMERGE_REPO", "BASE_DIR"):
        value = getattr(settings, name, None)
        if value:
            return str(os.fspath(value))
    return os.getcwd()


def _labels(app_configs: Sequence[AppConfig] | None) -> set[str]:
    configs = app_configs if app_configs is not None else apps.get_app_configs()
    return {config.label for config in configs}


def _messages(result: CheckResult, labels: set[str]) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = [
        _fork(conflict) for conflict in result.conflicts if conflict.app in labels
    ]
    messages += [
        checks.Warning(warning.message, obj=warning.path, id="migmerge.W001")
        for warning in result.warnings
        if warning.kind == "unreadable-migration"
    ]
    return messages


def _fork(conflict: Conflict) -> checks.Error:
    names = ", ".join(leaf.name for leaf in conflict.leaves)
    after = f" after {conflict.ancestor}" if conflict.ancestor else ""
    return checks.Error(
        f"app {conflict.app!r} has {len(conflict.leaves)} leaf migrations{after}: {names}"
        f" (overlap {conflict.overlap.kind})",
        hint=f"see the plan with `manage.py migmerge resolve --dry-run --app {conflict.app}`, "
        f"then run it without --dry-run",
        obj=conflict.directory,
        id="migmerge.E001",
    )


def _cannot_check(message: str, hint: str | None) -> checks.Warning:
    return checks.Warning(f"migmerge could not check: {message}", hint=hint, id="migmerge.W002")

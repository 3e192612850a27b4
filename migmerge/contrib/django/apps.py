"""The optional Django app: add "migmerge.contrib.django" to INSTALLED_APPS.

It adds a system check (`manage.py check`, and every command that runs the
checks, `migrate` and `runserver` included) and the `manage.py migmerge`
command. migmerge's own command line never imports this package: only a
project that installs the app does.
"""

from __future__ import annotations

from django.apps import AppConfig


class MigmergeConfig(AppConfig):
    """Registers migmerge's system check."""

    name = "migmerge.contrib.django"
    label = "migmerge"
    verbose_name = "migmerge"

    def ready(self) -> None:
        from migmerge.contrib.django import checks  # noqa: F401  (registers the check)

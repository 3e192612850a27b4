"""`manage.py migmerge ...`: migmerge's command line, run from a Django project.

Every argument goes to migmerge's own parser, so the commands, flags, output
and exit codes are exactly those of `migmerge` (`manage.py migmerge check
--against origin/main`, `manage.py migmerge resolve --dry-run`, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "migmerge's command line: check, resolve, install-hooks, ... (manage.py migmerge --help)"
    requires_system_checks: list[str] = []  # the point may be to fix what they would report

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("arguments", nargs=argparse.REMAINDER, help="migmerge's arguments")

    def run_from_argv(self, argv: list[str]) -> None:
        """Hand everything after `manage.py migmerge` to migmerge, and exit with its code."""
        sys.exit(_migmerge(argv[2:]))

    def handle(self, *args: Any, **options: Any) -> None:
        """`call_command("migmerge", "check", ...)`: output to the command's streams."""
        with contextlib.redirect_stdout(self.stdout), contextlib.redirect_stderr(self.stderr):
            code = _migmerge(options["arguments"])
        if code:
            raise CommandError(f"migmerge exited with {code}", returncode=code)


def _migmerge(arguments: Sequence[str]) -> int:
    from migmerge.cli import main

    return main(list(arguments))

"""The command line's shape: every command, every flag, one table.

pre-commit's habit: all of argparse in one module, so that a new flag has
one home and the parser reads top to bottom. The words of --help are in
help.py; what each command does with its flags is cli.dispatch.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from migmerge import __version__
from migmerge.commands.install import HOOK_NAMES
from migmerge.help import DESCRIPTION, EXAMPLES, EXIT_CODES, QUIET_HELP


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit 2 with a hint, never a traceback."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        # self.prog is "migmerge" for the top parser, "migmerge check" for a command's.
        sys.stderr.write(f"migmerge: error: {message}\nhint: {self.prog} --help\n")
        raise SystemExit(2)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, its width found as `shutil.get_terminal_size` finds it, without `shutil`.

    argparse makes a formatter for every flag it adds, and its own imports
    shutil (with zlib, bz2 and lzma) for the width: 2 ms of every hook run.
    """

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: Any = None
    ) -> None:
        if width is None:
            width = _columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _columns() -> int:
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the command line (one place for every flag).

    `command="hook"`: the top parser and the hook command's only, which is all
    an installed hook runs (building every command's costs each hook ~5 ms).
    """
    parser = _Parser(
        prog="migmerge",
        description=DESCRIPTION,
        formatter_class=_Formatter,
        epilog="Run `migmerge COMMAND --help` for a command's flags and examples.\n"
        "Start with `migmerge demo` to see it work on a generated project.",
    )
    parser.add_argument("--version", action="version", version=f"migmerge {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if command == "hook":
        _hook_parser(commands)
        return parser
    _check_parser(commands)
    _resolve_parser(commands)
    _doctor_parser(commands)
    hooks = _sub(commands, "install-hooks", f"install the git hooks ({', '.join(HOOK_NAMES)})")
    hooks.add_argument(
        "--hook",
        action="append",
        dest="hooks",
        metavar="NAME",
        choices=HOOK_NAMES,
        help="a hook to install (repeatable; default: all of them)",
    )
    _sub(commands, "uninstall-hooks", "remove migmerge's hooks and restore the ones it replaced")
    _hook_parser(commands)
    demo = _sub(
        commands, "demo", "build a Django project with a real conflict and resolve it", repo=False
    )
    demo.add_argument("dir", nargs="?", help="where to build it (default: a temporary folder)")
    demo.add_argument(
        "--strategy",
        choices=("auto", "merge", "renumber", "regenerate", "all"),
        default="auto",
        help="how the demo resolves the conflict (all: each strategy in turn)",
    )
    return parser


def _hook_parser(commands: Any) -> None:
    hook = _sub(commands, "hook", "run one hook (what the installed hook scripts call)")
    hook.add_argument("name", choices=HOOK_NAMES)
    hook.add_argument("args", nargs=argparse.REMAINDER, help="the arguments git passed")


def _sub(commands: Any, name: str, help: str, *, repo: bool = True) -> argparse.ArgumentParser:
    epilog = "\n\n".join(x for x in (EXAMPLES.get(name), EXIT_CODES) if x)
    sub: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=_Formatter,
    )
    if repo:
        sub.add_argument(
            "--repo", metavar="DIR", help="the repository (default: the one holding this folder)"
        )
    sub.set_defaults(command_parser=sub)  # its usage, for arguments only it can reject
    loudness = sub.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help=QUIET_HELP.get(name, QUIET_HELP[""])
    )
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also say on stderr what was read, from where, and what each step cost "
        "(MIGMERGE_VERBOSE=1 does the same, for hooks)",
    )
    return sub


def _app_filter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app",
        action="append",
        dest="apps",
        default=[],
        metavar="LABEL",
        help="only this app (repeatable)",
    )


def _settings_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settings",
        metavar="MODULE",
        help="the settings module the project runs with (default: DJANGO_SETTINGS_MODULE, "
        "else what manage.py names, else [tool.migmerge] settings)",
    )


def _check_parser(commands: Any) -> None:
    check = _sub(commands, "check", "find apps with parallel migrations and classify them")
    which = check.add_mutually_exclusive_group()
    which.add_argument(
        "--against",
        metavar="REV",
        help="predict merging REV into HEAD plus the working tree, without touching anything "
        "(reads only the migrations folders either side changed since the merge base)",
    )
    which.add_argument(
        "--branches",
        action="store_true",
        help="predict, for HEAD and every remote branch that changed migrations since it left "
        "the default branch, which pairs conflict: each with the default branch and each other "
        "(exit 1 when HEAD conflicts with anything)",
    )
    check.add_argument(
        "--remote",
        metavar="NAME",
        help="with --branches: the remote whose branches to compare (default: origin)",
    )
    _app_filter(check)
    _settings_flag(check)
    check.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text for people (default), json (the contract's document), github (annotations)",
    )


def _doctor_parser(commands: Any) -> None:
    doctor = _sub(
        commands,
        "doctor",
        "find where the migration files, django_migrations and the schema disagree",
    )
    _app_filter(doctor)
    doctor.add_argument(
        "--database",
        metavar="ALIAS",
        default="default",
        help="the database alias (default: default)",
    )
    _settings_flag(doctor)
    doctor.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), json (one entry per finding; with --fix, the plan)",
    )
    doctor.add_argument(
        "--fix",
        action="store_true",
        help="plan, show and apply what is safe after a backup, all or nothing: rename the rows "
        "of renamed migrations, fake what the schema proves applied, roll ghosts back with "
        "their files from git, delete stale rows whose file no commit has; exit 0 when "
        "consistent after it",
    )
    doctor.add_argument(
        "--yes",
        action="store_true",
        help="with --fix: apply without asking (also the rollbacks that drop data and the "
        "stale rows' deletions)",
    )
    doctor.add_argument(
        "--dry-run",
        action="store_true",
        help="with --fix: show the plan only, change nothing",
    )


def _resolve_parser(commands: Any) -> None:
    resolve = _sub(commands, "resolve", "plan, show and apply the resolution of conflicts")
    resolve.add_argument(
        "--strategy",
        choices=("auto", "merge", "renumber", "regenerate"),
        default=None,
        help="auto (default, or [tool.migmerge] strategy) picks by overlap",
    )
    _app_filter(resolve)
    _settings_flag(resolve)
    resolve.add_argument(
        "--keep-names",
        action="store_true",
        help="renumber: rewire dependencies without renaming files",
    )
    resolve.add_argument(
        "--applied",
        choices=("rollback", "record", "refuse"),
        help="renumbering local migrations applied in your database: roll them back first, "
        "or rename their django_migrations rows (only where the history stays consistent), "
        "after a backup; refuse (the default without a terminal)",
    )
    resolve.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    resolve.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    resolve.add_argument(
        "--force",
        action="store_true",
        help="allow renaming shared or applied migrations and merge/renumber over a field "
        "overlap; go on without a backup when the database cannot be backed up",
    )
    resolve.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), json (the contract's plan document)",
    )
    way_on = resolve.add_mutually_exclusive_group()
    way_on.add_argument(
        "--abort",
        action="store_true",
        help="an interrupted resolve left its journal: put files, index and database back",
    )
    way_on.add_argument(
        "--continue",
        dest="resume",
        action="store_true",
        help="an interrupted resolve left its journal: put everything back, then resolve again",
    )

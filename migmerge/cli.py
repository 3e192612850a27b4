"""The command line: arguments, output and exit codes, and nothing else.

Every command is a function taking keyword arguments and returning an exit
code; errors migmerge raises on purpose become a message and exit 2 (exit 1
for refusals), anything else a short report and exit 3, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from migmerge import __version__
from migmerge.commands.install import HOOK_NAMES
from migmerge.errors import ErrorPolicy, MigmergeError

EXAMPLES = {
    "check": """\
examples:
  migmerge check                        inspect the working tree (and a merge or rebase in progress)
  migmerge check --against origin/main  predict merging origin/main, touching nothing
  migmerge check --format json          machine-readable result (exit 1 when conflicts)
  migmerge check --format github        annotations for GitHub Actions

check writes nothing in the repository; it keeps what it read and derived in
~/.cache/migmerge (MIGMERGE_CACHE_DIR moves it, MIGMERGE_NO_CACHE=1 turns it off;
deleting it is always safe).""",
    "resolve": """\
examples:
  migmerge resolve --dry-run            show the plan for every conflict, change nothing
  migmerge resolve                      resolve with the recommended strategy, asking first
  migmerge resolve --strategy merge --yes --app polls
  migmerge resolve --strategy renumber --keep-names""",
    "doctor": """\
examples:
  migmerge doctor                       compare the files, django_migrations and the schema
  migmerge doctor --format json         one entry per finding (kind, app, migration, evidence, fix)
  migmerge doctor --app polls --settings proj.settings_dev

doctor writes nothing. It reads the database read-only, git's history for
migration files that are gone, and asks the project's own Django (its
interpreter and settings) what the schema should be; that answer is kept in
~/.cache/migmerge until anything it depends on changes.""",
    "install-hooks": """\
examples:
  migmerge install-hooks                post-merge, post-commit, post-rewrite and pre-push
  migmerge install-hooks --hook pre-push""",
    "demo": """\
examples:
  migmerge demo                         build and resolve a conflict in a temporary folder
  migmerge demo ./try-migmerge          keep the demo project to look at""",
}

DESCRIPTION = """\
Find, classify and resolve parallel Django migrations across git branches.

When two branches both add a migration to the same app, Django refuses to
migrate ("Conflicting migrations detected; multiple leaf nodes in the
migration graph"). migmerge finds those apps, tells whether the branches
touch the same models or fields, and fixes it: a merge migration, a renumber
of your migrations after upstream's, or a guided rollback-and-regenerate.
"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit 2 with a hint, never a traceback."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(
            f"migmerge: error: {message}\nhint: migmerge {self.prog.split()[-1]} --help\n"
        )
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """Build the whole command line (one place for every flag)."""
    parser = _Parser(
        prog="migmerge",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `migmerge COMMAND --help` for a command's flags and examples.\n"
        "Start with `migmerge demo` to see it work on a generated project.",
    )
    parser.add_argument("--version", action="version", version=f"migmerge {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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
    hook = _sub(commands, "hook", "run one hook (what the installed hook scripts call)")
    hook.add_argument("name", choices=HOOK_NAMES)
    hook.add_argument("args", nargs=argparse.REMAINDER, help="the arguments git passed")
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


EXIT_CODES = """exit codes: 0 clean or done, 1 conflicts found or resolution refused,
            2 bad input, 3 internal error, 130 interrupted"""


def _sub(commands: Any, name: str, help: str, *, repo: bool = True) -> argparse.ArgumentParser:
    epilog = "\n\n".join(x for x in (EXAMPLES.get(name), EXIT_CODES) if x)
    sub: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if repo:
        sub.add_argument(
            "--repo", metavar="DIR", help="the repository (default: the one holding this folder)"
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
    check.add_argument(
        "--against",
        metavar="REV",
        help="predict merging REV into HEAD plus the working tree, without touching anything "
        "(reads only the migrations folders either side changed since the merge base)",
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
        help="text for people (default), json (one entry per finding)",
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
    resolve.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    resolve.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    resolve.add_argument(
        "--force",
        action="store_true",
        help="allow renaming shared or applied migrations and merge/renumber over a field overlap",
    )
    resolve.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), json (the contract's plan document)",
    )


# commands --------------------------------------------------------------------


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def cmd_resolve(args: argparse.Namespace) -> int:
    """Run `resolve` with a questioner that fits the terminal."""
    from migmerge.commands import resolve
    from migmerge.doing import prompts

    questioner = prompts.make_questioner(yes=args.yes)
    return resolve.resolve(
        repo=args.repo,
        strategy=args.strategy,
        apps=args.apps,
        keep_names=args.keep_names,
        yes=args.yes,
        dry_run=args.dry_run,
        force=args.force,
        fmt=args.format,
        questioner=questioner,
        out=_out,
        settings=args.settings,
    )


def cmd_hook(args: argparse.Namespace, stdin: TextIO) -> int:
    """Run one git hook."""
    from migmerge.commands import hook

    return hook.run_hook(
        repo=args.repo, name=args.name, args=args.args, stdin=stdin, out=_out, err=_err
    )


def dispatch(args: argparse.Namespace) -> int:
    """Call the function behind the chosen command."""
    if args.command == "check":
        from migmerge.commands.check import run_check

        return run_check(
            repo=args.repo,
            against=args.against,
            apps=args.apps,
            format=args.format,
            out=_out,
            settings=args.settings,
        )
    if args.command == "doctor":
        from migmerge.commands.doctor import run_doctor

        return run_doctor(
            repo=args.repo,
            apps=args.apps,
            database=args.database,
            settings=args.settings,
            fmt=args.format,
            out=_out,
        )
    if args.command == "resolve":
        return cmd_resolve(args)
    if args.command == "hook":
        return cmd_hook(args, sys.stdin)
    if args.command in ("install-hooks", "uninstall-hooks"):
        from migmerge.commands import install

        if args.command == "install-hooks":
            return install.install_hooks(
                repo=args.repo,
                hooks=args.hooks or HOOK_NAMES,
                out=_out,
            )
        return install.uninstall_hooks(repo=args.repo, out=_out)
    if args.command == "demo":
        from migmerge.commands import demo

        return demo.run_demo(directory=args.dir, strategy=args.strategy, out=_out)
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, map errors to exit codes."""
    # Run without the cycle collector, which would rescan every migration
    # header each few hundred allocations (a fifth of a large check).
    # Reference counting still frees everything that is not a cycle.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if collecting:
            gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return handle_errors(lambda: dispatch(args), _error_policy(args))


def _error_policy(args: argparse.Namespace) -> ErrorPolicy:
    if args.command != "hook":
        return ErrorPolicy()
    from migmerge.commands.hook import error_policy

    return error_policy(args.name)


# The one error handler -------------------------------------------------------


def handle_errors(action: Callable[[], int], policy: ErrorPolicy | None = None) -> int:
    """Run a command; turn what it raises into a message and an exit code.

    The exception's type gives the exit code (MigmergeError: its own, 2 or 1;
    Ctrl-C: 130; anything else is a bug: a log, exit 3); `policy` is what a
    command adds (the hooks: a way on, or never failing git's command).
    """
    try:
        return action()
    except BrokenPipeError:
        return 0  # the reader went away (`| head`): nothing left to say to it
    except (Exception, KeyboardInterrupt) as exc:
        code = _explain(exc)
    policy = policy or ErrorPolicy()
    if policy.hint:
        _err(f"hint: {policy.hint}")
    if policy.never_fail:
        if policy.done:
            _err(f"migmerge: {policy.done}")
        return 0
    return code


def _explain(exc: BaseException) -> int:
    """Say what went wrong; return the exit code its type stands for."""
    if isinstance(exc, MigmergeError):
        _err(f"migmerge: {exc.message}")
        if exc.hint:
            _err(f"hint: {exc.hint}")
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        _err("migmerge: interrupted")
        return 130
    # A bug: say so briefly, keep the details in a log.
    log = write_crash_log(exc)
    where = f"details in {log}" if log else "no log could be written"
    _err(f"migmerge: internal error: {type(exc).__name__}: {exc} ({where})")
    _err("hint: this is a bug in migmerge; please report it with the log")
    return 3


def write_crash_log(exc: BaseException) -> str | None:
    """Write the traceback of a crash to a log; return its path, or None when none could be."""
    import tempfile  # only on a crash: the check path stays light
    import traceback

    log = os.path.join(tempfile.gettempdir(), "migmerge-error.log")
    try:
        with open(log, "w") as handle:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=handle)
    except OSError:
        return None
    return log

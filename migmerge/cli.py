"""The command line: arguments, output and exit codes, and nothing else.

Every command is a function taking keyword arguments and returning an exit
code. `handle_errors` is the one error handler: errors migmerge raises on
purpose become a message and their exit code (2 bad input, 1 refusals),
anything else a short report, a log and exit 3, never a traceback; a hook
adds only its policy. Every command takes --quiet and --verbose (the
trace). The flags themselves are in arguments.py, their words in help.py.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from migmerge import __version__, trace
from migmerge.arguments import build_parser
from migmerge.commands.install import HOOK_NAMES
from migmerge.errors import ErrorPolicy, MigmergeError

# commands --------------------------------------------------------------------


Out = Callable[[str], None]


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def use_colour(stream: TextIO) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (ValueError, OSError):  # a closed or detached stream is no terminal
        return False


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def cmd_resolve(args: argparse.Namespace, out: Out) -> int:
    """Run `resolve` with a questioner that fits the terminal."""
    from migmerge.commands import resolve
    from migmerge.doing import prompts

    # --continue asks for the resolution already agreed to: it runs as --yes.
    questioner = prompts.make_questioner(yes=args.yes or args.resume)
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
        out=out,
        settings=args.settings,
        applied=args.applied,
        abort=args.abort,
        resume=args.resume,
    )


def cmd_doctor_fix(args: argparse.Namespace, out: Out) -> int:
    """Run `doctor --fix` with a questioner that fits the terminal."""
    from migmerge.commands.doctor_fix import run_fix
    from migmerge.doing import prompts

    return run_fix(
        repo=args.repo,
        apps=args.apps,
        database=args.database,
        settings=args.settings,
        fmt=args.format,
        yes=args.yes,
        dry_run=args.dry_run,
        questioner=prompts.make_questioner(yes=args.yes),
        out=out,
    )


def cmd_hook(args: argparse.Namespace, stdin: TextIO, out: Out) -> int:
    """Run one git hook."""
    from migmerge.commands import hook

    return hook.run_hook(
        repo=args.repo,
        name=args.name,
        args=args.args,
        stdin=stdin,
        out=out,
        err=_err,
        brief=args.quiet,
    )


def dispatch(args: argparse.Namespace, out: Out = _out) -> int:
    """Call the function behind the chosen command, its output to `out`."""
    if args.command == "check":
        from migmerge.commands.check import run_check

        if args.remote and not args.branches:
            raise MigmergeError(
                "--remote goes with --branches", hint="migmerge check --branches --remote NAME"
            )
        if args.branches:
            from migmerge.commands.check import run_branches

            return run_branches(
                repo=args.repo, remote=args.remote, apps=args.apps, format=args.format, out=out
            )
        return run_check(
            repo=args.repo,
            against=args.against,
            apps=args.apps,
            format=args.format,
            out=out,
            settings=args.settings,
            colour=out is _out and use_colour(sys.stdout),
        )
    if args.command == "doctor" and args.fix:
        return cmd_doctor_fix(args, out)
    if args.command == "doctor":
        from migmerge.commands.doctor import run_doctor

        return run_doctor(
            repo=args.repo,
            apps=args.apps,
            database=args.database,
            settings=args.settings,
            fmt=args.format,
            out=out,
        )
    if args.command == "resolve":
        return cmd_resolve(args, out)
    if args.command == "hook":
        return cmd_hook(args, sys.stdin, out)
    if args.command in ("install-hooks", "uninstall-hooks"):
        from migmerge.commands import install

        if args.command == "install-hooks":
            return install.install_hooks(
                repo=args.repo,
                hooks=args.hooks or HOOK_NAMES,
                out=out,
            )
        return install.uninstall_hooks(repo=args.repo, out=out)
    if args.command == "demo":
        from migmerge.commands import demo

        return demo.run_demo(directory=args.dir, strategy=args.strategy, out=out)
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


# Commands that only read, whose process may end without the interpreter's teardown.
_READ_ONLY = ("hook", "check")
# What may hold something to release at exit (a terminal's mode, a connection,
# a resolution's files): a run that imported any of them ends the usual way.
_RELEASES_AT_EXIT = ("migmerge.doing", "django", "questionary", "prompt_toolkit")


def exit_program(code: int, argv: Sequence[str] | None = None) -> NoReturn:
    """End the program (`python -m migmerge`) with `code`.

    A hook or a check that only read ends with `os._exit` once its output is
    flushed: tearing down every module and collecting their cycles cost about
    7 ms of a hook's CPU, on every merge and push, and frees nothing the
    system does not. Anything else ends as Python ends.
    """
    given = list(sys.argv[1:] if argv is None else argv)
    if (
        given[:1]
        and given[0] in _READ_ONLY
        and not any(name in sys.modules for name in _RELEASES_AT_EXIT)
    ):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass  # Python's own exit says what went wrong with the stream
        else:
            os._exit(code)
    raise SystemExit(code)


def _main(argv: Sequence[str] | None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser("hook" if given[:1] == ["hook"] else None)
    args, extra = parser.parse_known_args(argv)
    if extra:  # say so with the command's usage, not the top parser's
        getattr(args, "command_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "doctor" and (args.yes or args.dry_run) and not args.fix:
        flag = "--yes" if args.yes else "--dry-run"
        args.command_parser.error(f"{flag} goes with --fix: migmerge doctor --fix {flag}")
    tracing = args.verbose or os.environ.get("MIGMERGE_VERBOSE") == "1"
    if tracing:
        trace.enable(_err)
        trace.note(f"migmerge {__version__}, Python {sys.version.split()[0]} ({sys.executable})")
    try:
        return handle_errors(lambda: _run(args), _error_policy(args))
    finally:
        if tracing:
            trace.note("done")
            trace.enable(None)


def _run(args: argparse.Namespace) -> int:
    """Dispatch; with --quiet, keep the output back unless the command fails."""
    if not args.quiet or not _holds_back(args):
        return dispatch(args)
    held: list[str] = []
    try:
        code = dispatch(args, held.append)
    except BaseException:
        code = 1  # what led up to an error is worth seeing with it
        raise
    finally:
        if code:
            for line in held:
                _out(line)
    return code


def _holds_back(args: argparse.Namespace) -> bool:
    """Tell whether --quiet keeps a command's output back (not a program's, not a question's)."""
    if getattr(args, "format", "text") != "text" or args.command == "hook":
        return False
    fixing = args.command == "resolve" or (args.command == "doctor" and args.fix)
    if fixing and not (args.yes or args.dry_run):
        from migmerge.doing.prompts import at_a_terminal

        return not at_a_terminal()  # a question is shown with its plan
    return True


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
    """Write the traceback of a crash to a private log; return its path, or None when none could be.

    The log is the user's own (`error.log` in the cache folder: folder 0700, file
    0600), and nothing planted there is followed: a link in its place is removed,
    never written through, and a folder that is a link or another user's is not used.
    """
    import traceback  # only on a crash: the check path stays light

    from migmerge.reading.cache import user_folder

    folder = user_folder()
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        if os.fstat(dir_fd).st_uid != os.getuid():
            return None
        with contextlib.suppress(FileNotFoundError):
            os.unlink("error.log", dir_fd=dir_fd)  # a link is removed, never followed
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open("error.log", flags, 0o600, dir_fd=dir_fd)
        with os.fdopen(fd, "w") as handle:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=handle)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    return str(folder / "error.log")

"""`python -m migmerge`: the program, as the installed hooks run it."""

from __future__ import annotations

import gc

# No cycle collection while the modules load either (cli.main runs without it):
# the collector would rescan every class and function made so far, a few
# times over (about 3 ms of a hook's CPU).
gc.disable()

from migmerge.cli import exit_program, main  # noqa: E402

exit_program(main())

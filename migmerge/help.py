"""The words of `--help`: each command's examples, the description, the exit codes.

Text only, kept apart from arguments.py so that the parser's shape reads on
one screen; arguments.py builds the parsers from these.
"""

from __future__ import annotations

EXAMPLES = {
    "check": """\
examples:
  migmerge check                        inspect the working tree (and a merge or rebase in progress)
  migmerge check --against origin/main  predict merging origin/main, touching nothing
  migmerge check --format json          machine-readable result (exit 1 when conflicts)
  migmerge check --format github        annotations for GitHub Actions
  migmerge check --branches             HEAD and every branch of origin: which pairs conflict

check writes nothing in the repository; it keeps what it read and derived in
~/.cache/migmerge (MIGMERGE_CACHE_DIR moves it, MIGMERGE_NO_CACHE=1 turns it off;
deleting it is always safe).""",
    "resolve": """\
examples:
  migmerge resolve --dry-run            show the plan for every conflict, change nothing
  migmerge resolve                      resolve with the recommended strategy, asking first
  migmerge resolve --strategy merge --yes --app polls
  migmerge resolve --strategy renumber --keep-names
  migmerge resolve --strategy renumber --applied rollback   (yours are applied: unapply first)

A migration whose applied state cannot be read is taken as possibly applied:
renumber refuses it (say where the database is: --settings, [tool.migmerge]
settings, database or python) unless --force. --dry-run shows what would be
refused and why (exit 1). A crash writes its log to ~/.cache/migmerge/error.log.""",
    "doctor": """\
examples:
  migmerge doctor                       compare the files, django_migrations and the schema
  migmerge doctor --format json         one entry per finding (kind, app, migration, evidence, fix)
  migmerge doctor --app polls --settings proj.settings_dev
  migmerge doctor --fix --dry-run       the plan of the safe fixes, nothing changed
  migmerge doctor --fix                 show the plan, ask, back up, apply, diagnose again

doctor writes nothing. It reads the database read-only, git's history for
migration files that are gone, and asks the project's own Django (its
interpreter and settings) what the schema should be; that answer is kept in
~/.cache/migmerge until anything it depends on changes.

doctor --fix changes the database, after a backup and all or nothing: it
renames the rows of renamed migrations, runs `migrate --fake APP NAME` for
exactly the migrations the schema proves, rolls exactly the ghosts back with
their files from git (put back, unapplied, removed again), and deletes a
stale row whose file no commit has. A rollback that drops data, and a row's
deletion, say what and are asked with "no" as the default. Drift is never fixed
automatically. Exit 0 when consistent afterwards, 1 when problems remain or
it was refused (no terminal and no --yes).""",
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


EXIT_CODES = """exit codes: 0 clean or done, 1 conflicts found or resolution refused,
            2 bad input, 3 internal error, 130 interrupted"""


QUIET_HELP = {
    "": "print nothing unless the command fails (errors always go to stderr)",
    "check": "text: print nothing when clean; conflicts are still shown",
    "doctor": "text: print nothing when consistent; problems are still shown "
    "(--fix: as resolve, a question still shows its plan)",
    "resolve": "print nothing unless it is refused or fails; a question still shows its plan",
    "hook": "one line per report instead of the details",
}

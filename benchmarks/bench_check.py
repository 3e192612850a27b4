"""Benchmark `migmerge check` against Django's own MigrationLoader, in one run.

Generates real git repositories of real Django migration files and prints
median wall times (each command runs in a fresh process, as a hook would):

1. `migmerge check` vs `MigrationLoader(None, ignore_no_migrations=True)
   .detect_conflicts()` on 50 apps x 200 migrations with one conflict
   (target: migmerge at most 1/15 of Django's time);
2. `check --against` on 250 apps x 200 against 10 apps x 200, one change each
   (target: within 1.5x: the cost follows the change, not the repository);
3. what the installed hooks add to `git merge` and `git push` on the
   10,000-migration repository (target: under 100 ms; `--only hooks` runs
   this part alone);
4. `migmerge doctor` (no --fix) on the 10,000-migration project with a
   migrated SQLite database, next to `manage.py showmigrations` (target:
   under 2 s);
5. `check --branches` on the 10,000-migration repository with 100 remote
   branches each adding one migration, against 10 (targets: under 1.5 s, and
   at most 2x the 10 branches' time);
6. `check` just after merging local branches of 300, 1,000 and 2,000
   migrations over a 20,000-migration history, the result not remembered
   (target: under 1 s each; the time grows with the sum, not the product),
   wall and CPU time: every check after the first (the branch's parses
   cached), and the first (nothing of the branch parsed before);
7. `resolve --dry-run` after a merge that forks 1,000 apps (each side adds a
   migration to every app), next to 100 apps (target: under 5 s, and growing
   linearly: at most 12x the 100 apps' time). Django has no such command;
   `makemigrations --merge --noinput --dry-run` is shown beside it.

Usage: python benchmarks/bench_check.py [--runs N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PYTHON = sys.executable
PACKAGE = Path(__file__).resolve().parent.parent / "migmerge"

MIGRATION = """\
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("{app}", "{prev}"),
    ]

    operations = [
        migrations.AddField(
            model_name="thing",
            name="field_{n}",
            field=models.IntegerField(default=0),
        ),
    ]
"""

INITIAL = """\
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Thing",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False))],
        ),
    ]
"""

# As `django-admin startproject` writes it: it names the settings module.
MANAGE = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsettings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

DJANGO_LOADER = """
import os, sys
sys.path.insert(0, os.getcwd())
os.environ["DJANGO_SETTINGS_MODULE"] = "benchsettings"
import django
django.setup()
from django.db.migrations.loader import MigrationLoader
conflicts = MigrationLoader(None, ignore_no_migrations=True).detect_conflicts()
print(sorted(conflicts))
"""


CACHE_DIR = ""  # set in main(): the header cache lives with the benchmark's repositories


def env(cold: bool = False) -> dict[str, str]:
    """The environment of every timed command: no GIT_* leaks, bytecode on.

    `cold` is a fresh clone's first run: Python writes no bytecode for the
    migrations Django imports, and migmerge has no header cache.
    """
    out = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "MIGMERGE_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    out.update(
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        MIGMERGE_CACHE_DIR=CACHE_DIR,
    )
    if cold:
        out.update(PYTHONDONTWRITEBYTECODE="1", MIGMERGE_NO_CACHE="1")
    return out


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "gc.auto=0", *args], cwd=cwd, capture_output=True, text=True, env=env()
    )
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def write_app(root: Path, app: str, count: int) -> None:
    folder = root / app / "migrations"
    folder.mkdir(parents=True)
    (root / app / "__init__.py").write_text("")
    (root / app / "models.py").write_text("")
    (folder / "__init__.py").write_text("")
    prev = "0001_initial"
    (folder / f"{prev}.py").write_text(INITIAL)
    for n in range(2, count + 1):
        name = f"{n:04d}_thing_field_{n}"
        (folder / f"{name}.py").write_text(MIGRATION.format(app=app, prev=prev, n=n))
        prev = name


def add_leaf(root: Path, app: str, count: int, suffix: str) -> None:
    prev = sorted(p.stem for p in (root / app / "migrations").glob("0*.py"))[count - 1]
    name = f"{count + 1:04d}_thing_{suffix}"
    path = root / app / "migrations" / f"{name}.py"
    path.write_text(MIGRATION.format(app=app, prev=prev, n=suffix))


def make_repo(root: Path, apps: int, count: int) -> Path:
    """A committed repository of `apps` apps with `count` migrations each."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for a in range(apps):
        write_app(root, f"app{a}", count)
    (root / ".gitignore").write_text("__pycache__/\n")
    (root / "manage.py").write_text(MANAGE)
    installed = ", ".join(f'"app{a}"' for a in range(apps))
    (root / "benchsettings.py").write_text(
        f"INSTALLED_APPS = [{installed}]\nDATABASES = {{}}\nSECRET_KEY = 'bench'\nUSE_TZ = True\n"
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def branch_pair(root: Path, count: int, *, merge: bool) -> None:
    """feature adds a leaf to app0; main adds another; optionally merge them."""
    git(root, "checkout", "-q", "-b", "feature")
    add_leaf(root, "app0", count, "local")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "local leaf")
    git(root, "checkout", "-q", "main")
    add_leaf(root, "app0", count, "upstream")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "upstream leaf")
    git(root, "checkout", "-q", "feature")
    if merge:
        git(root, "merge", "-q", "main", "-m", "merge")
    git(root, "gc", "-q")


def timed(cmd: list[str], cwd: Path, runs: int, *args: Any, **options: Any) -> float:
    """Median wall time of `cmd` in seconds over `runs` fresh processes.

    Warm runs follow one untimed run, which writes what a developer's machine
    already has: bytecode of the migrations (Django) and migmerge's caches.
    `forget`: drop migmerge's remembered results before each run, keeping
    its header cache, as after a pull changed the tree.
    """
    return timed_cpu(cmd, cwd, runs, *args, **options)[0]


def timed_cpu(
    cmd: list[str],
    cwd: Path,
    runs: int,
    expect: tuple[int, ...] = (0, 1),
    cold: bool = False,
    forget: bool = False,
    unparsed: bool = False,
) -> tuple[float, float]:
    """As `timed`, with the median CPU time (user + system) of each process and its children.

    `unparsed`: drop the cache of whole parses too (a conflict's branches
    never read before, as at the first check after a merge).
    """
    times, cpu = [], []
    if not cold:
        subprocess.run(cmd, cwd=cwd, capture_output=True, env=env())
    for _ in range(runs):
        for kind in ("graph",) * forget + ("parses",) * unparsed:
            for file in Path(CACHE_DIR).glob(f"{kind}-*"):
                file.unlink()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env(cold))
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode not in expect:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr}")
    return statistics.median(times), statistics.median(cpu)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def bench_full(base: Path, runs: int) -> None:
    root = make_repo(base / "full", 50, 200)
    branch_pair(root, 200, merge=True)
    migmerge = [PYTHON, "-m", "migmerge", "check"]
    django = [PYTHON, "-c", DJANGO_LOADER]
    print("1. check on 50 apps x 200 migrations (10,000 files, one conflict)")
    # Cold first: once warm, the migrations' bytecode is on disk for good.
    cold = (timed(migmerge, root, runs, cold=True), timed(django, root, 3, (0,), cold=True))
    warm = (timed(migmerge, root, runs), timed(django, root, max(3, runs // 2), (0,)))
    changed = (timed(migmerge, root, runs, forget=True), warm[1])
    for label, (mm, dj) in (("warm", warm), ("changed", changed), ("cold", cold)):
        ratio = dj / mm
        verdict = "ok" if ratio >= 15 else "MISSED"
        print(f"   {label}: {WHAT[label]}")
        print(f"   migmerge check                          {ms(mm)}")
        print(f"   Django MigrationLoader.detect_conflicts {ms(dj)}")
        target = f"(target >= 15x: {verdict})"
        print(f"   ratio Django / migmerge                 {ratio:8.1f}x  {target}")
    bench_hooks(base, root, runs)


WHAT = {
    "warm": "bytecode and migmerge's caches on disk, tree checked before (every run but the first)",
    "changed": "as warm, but the tree's result not remembered (the first check after a pull)",
    "cold": "no bytecode, no cache (a fresh clone's first run)",
}


def bench_against(base: Path, runs: int) -> None:
    results = {}
    against = [PYTHON, "-m", "migmerge", "check", "--against", "main"]
    for apps in (10, 250):
        root = make_repo(base / f"against{apps}", apps, 200)
        branch_pair(root, 200, merge=False)
        results[apps] = timed(against, root, runs)
    ratio = results[250] / results[10]
    verdict = "ok" if ratio <= 1.5 else "MISSED"
    print("2. check --against main, one conflicting change")
    print(f"   10 apps x 200 migrations   (2,000)    {ms(results[10])}")
    print(f"   250 apps x 200 migrations (50,000)    {ms(results[250])}")
    print(f"   ratio large / small                     {ratio:8.2f}x  (target <= 1.5x: {verdict})")
    # Without a manage.py naming the settings, every settings-like file of
    # the tree is looked at: a walk of the whole tree.
    (root / "manage.py").unlink()
    unnamed = timed(against, root, runs)
    git(root, "checkout", "-q", "--", "manage.py")
    print(f"   250 apps, no manage.py naming settings  {ms(unnamed)}  (walks the whole tree)")


def bench_long_branch(base: Path, runs: int) -> None:
    """check after merging a long local branch into a long history (issue 11: was quadratic)."""
    history = 20_000
    root = make_repo(base / "long", 1, history)
    folder = root / "app0" / "migrations"
    last = f"{history:04d}_thing_field_{history}"
    check = [PYTHON, "-m", "migmerge", "check"]
    print("6. check after a merge: a long local branch over 20,000 migrations, not remembered")
    print("   (first: the branch never read whole before, no parse cached)")
    for length in (300, 1_000, 2_000):
        git(root, "checkout", "-q", "-b", f"local{length}", "main")
        prev = last
        for n in range(1, length + 1):
            name = f"{history + n}_local_{n}"
            (folder / f"{name}.py").write_text(MIGRATION.format(app="app0", prev=prev, n=n))
            prev = name
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"{length} local migrations")
        git(root, "checkout", "-q", "-b", f"upstream{length}", "main")
        upstream = folder / f"{history + 1}_upstream.py"
        upstream.write_text(MIGRATION.format(app="app0", prev=last, n="up"))
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "one upstream migration")
        git(root, "checkout", "-q", f"local{length}")
        git(root, "merge", "-q", f"upstream{length}", "-m", "merge")
        for unparsed in (False, True):
            elapsed, cpu = timed_cpu(check, root, runs, forget=True, unparsed=unparsed)
            verdict = "ok" if elapsed < 1.0 else "MISSED"
            print(
                f"   local branch of {length:>5,}{' (first)' if unparsed else '        '}"
                f" {ms(elapsed)}  (target < 1 s: {verdict})"
                f"   CPU {ms(cpu)}  load {os.getloadavg()[0]:.1f}"
            )
        git(root, "checkout", "-q", "main")


def bench_many_apps(base: Path, runs: int) -> None:
    """resolve --dry-run over many forked apps (issue 11: one `git grep` per app, 34 s)."""
    resolve = [PYTHON, "-m", "migmerge", "resolve", "--dry-run"]
    django = [PYTHON, "manage.py", "makemigrations", "--merge", "--noinput", "--dry-run"]
    results: dict[int, tuple[float, float]] = {}
    for apps in (100, 1_000):
        root = make_repo(base / f"apps{apps}", apps, 3)
        git(root, "checkout", "-q", "-b", "feature")
        for a in range(apps):
            add_leaf(root, f"app{a}", 3, "local")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "local leaves")
        git(root, "checkout", "-q", "main")
        for a in range(apps):
            add_leaf(root, f"app{a}", 3, "upstream")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "upstream leaves")
        git(root, "checkout", "-q", "feature")
        git(root, "merge", "-q", "main", "-m", "merge")
        results[apps] = (timed(resolve, root, runs), timed(django, root, 1, (0,)))
    print("7. resolve --dry-run after a merge that forks every app (3 migrations each)")
    for apps, (mm, dj) in results.items():
        verdict = "ok" if apps < 1_000 or mm < 5.0 else "MISSED"
        print(f"   {apps:>5,} apps: migmerge resolve --dry-run {ms(mm)}  (target < 5 s: {verdict})")
        print(f"          Django makemigrations --merge --dry-run {ms(dj)}")
    ratio = results[1_000][0] / results[100][0]
    verdict = "ok" if ratio <= 12 else "MISSED"
    print(f"   ratio 1,000 / 100 apps                  {ratio:8.2f}x  (target <= 12x: {verdict})")


def bench_hooks(base: Path, root: Path, runs: int) -> None:
    """Time `git merge` and `git push` with and without migmerge's hooks."""
    work = base / "hookwork"
    times: dict[tuple[str, bool], float] = {}
    cpu: dict[tuple[str, bool], float] = {}
    for hooked in (False, True):
        for op in HOOK_OPS:
            samples: list[tuple[float, float]] = []
            for i in range(runs):
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(root, work, symlinks=True)
                if hooked:
                    subprocess.run(
                        [PYTHON, "-m", "migmerge", "install-hooks"],
                        cwd=work,
                        capture_output=True,
                        env=env(),
                        check=True,
                    )
                samples.append(_hook_op(work, op, i))
            times[(op, hooked)] = statistics.median(wall for wall, _ in samples)
            cpu[(op, hooked)] = statistics.median(used for _, used in samples)
    load = os.getloadavg()[0]
    print(f"3. what the hooks add on the 10,000-migration repository (load average {load:.1f})")
    for op in HOOK_OPS:
        added = times[(op, True)] - times[(op, False)]
        verdict = "ok" if added < 0.1 else "MISSED"
        print(
            f"   git {op:<6} {HOOK_OPS[op]:<17} wall {ms(times[(op, False)])} -> "
            f"{ms(times[(op, True)])}: +{added * 1000:5.1f} ms  (target < 100 ms: {verdict})"
        )
        print(
            f"   {'':<28} CPU  {ms(cpu[(op, False)])} -> {ms(cpu[(op, True)])}: "
            f"+{(cpu[(op, True)] - cpu[(op, False)]) * 1000:5.1f} ms"
        )
    print(
        "   (CPU: git's and the hooks' processes, user + system; on a loaded machine the\n"
        "   wall time waits for other guests, the CPU time much less)"
    )


# What each timed git command brings: no migration (most merges and pushes), or one new,
# clean migration (the hook then reads and checks that app).
HOOK_OPS = {
    "merge": "(no migration)",
    "push": "(no migration)",
    "merge+": "(a new migration)",
    "push+": "(a new migration)",
}


def _change(work: Path, op: str, i: int) -> None:
    """Commit what the operation brings: a notes file, or a new migration of app1."""
    if op.endswith("+"):
        prev = "0200_thing_field_200"
        path = work / "app1" / "migrations" / f"0201_thing_side{i}.py"
        path.write_text(MIGRATION.format(app="app1", prev=prev, n=f"side{i}"))
    else:
        (work / "NOTES.txt").write_text(f"{op} {i}")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", f"{op} {i}")


def _hook_op(work: Path, op: str, i: int) -> tuple[float, float]:
    """Run one timed git command; return its wall time and the CPU time of it and its hooks."""
    if op.startswith("merge"):
        git(work, "checkout", "-q", "-b", f"side{i}", "main")
        _change(work, op, i)
        git(work, "checkout", "-q", "main")
        cmd = ["git", "merge", "-q", "--no-ff", f"side{i}", "-m", "merge side"]
    else:
        remote = work.parent / "hookremote.git"
        shutil.rmtree(remote, ignore_errors=True)
        git(work.parent, "init", "-q", "--bare", str(remote))
        git(work, "remote", "add", "origin", str(remote))
        git(work, "checkout", "-q", "main")
        git(work, "push", "-q", "--no-verify", "origin", "main")
        git(work, "fetch", "-q", "origin")
        _change(work, op, i)
        cmd = ["git", "push", "-q", "origin", "main"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env())
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def migrated_database(root: Path, apps: int, count: int) -> None:
    """Write the SQLite database `manage.py migrate` leaves for make_repo's project.

    The same tables, columns and django_migrations rows, written directly:
    migrating 10,000 migrations one by one would take minutes.
    """
    import sqlite3

    settings = root / "benchsettings.py"
    settings.write_text(
        settings.read_text().replace(
            "DATABASES = {}",
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', "
            "'NAME': 'db.sqlite3'}}\nDEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'",
        )
    )
    numbers = range(2, count + 1)
    fields = "".join(f"    field_{n} = models.IntegerField(default=0)\n" for n in numbers)
    rows = []
    with sqlite3.connect(root / "db.sqlite3") as conn:
        conn.execute(
            'CREATE TABLE "django_migrations" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, '
            '"app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, '
            '"applied" datetime NOT NULL)'
        )
        for a in range(apps):
            app = f"app{a}"
            (root / app / "models.py").write_text(
                "from django.db import models\n\n\nclass Thing(models.Model):\n" + fields
            )
            columns = "".join(f', "field_{n}" integer NOT NULL' for n in range(2, count + 1))
            conn.execute(f'CREATE TABLE "{app}_thing" ("id" integer NOT NULL PRIMARY KEY{columns})')
            names = sorted(p.stem for p in (root / app / "migrations").glob("0*.py"))
            rows += [(app, name, "2026-01-01 00:00:00") for name in names]
        conn.executemany(
            "INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, ?)", rows
        )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "models and a migrated database")


def bench_doctor(base: Path, runs: int) -> None:
    root = make_repo(base / "doctor", 50, 200)
    # The initial migrations say what Django's autodetector writes for the id.
    for initial in root.glob("app*/migrations/0001_initial.py"):
        initial.write_text(
            initial.read_text().replace(
                "models.BigAutoField(primary_key=True, serialize=False)",
                "models.BigAutoField(auto_created=True, primary_key=True, serialize=False, "
                'verbose_name="ID")',
            )
        )
    migrated_database(root, 50, 200)
    doctor = [PYTHON, "-m", "migmerge", "doctor"]
    showmigrations = [PYTHON, "manage.py", "showmigrations"]
    start = time.perf_counter()
    subprocess.run(doctor, cwd=root, capture_output=True, env=env(), check=True)
    first = time.perf_counter() - start
    mm = timed(doctor, root, runs, expect=(0,))
    dj = timed(showmigrations, root, max(3, runs // 2), expect=(0,))
    verdict = "ok" if mm < 2 else "MISSED"
    print("4. doctor on 50 apps x 200 migrations with a migrated SQLite database")
    print(f"   migmerge doctor, first run (asks the project's Django) {ms(first)}")
    print(f"   migmerge doctor                         {ms(mm)}  (target < 2 s: {verdict})")
    print(f"   manage.py showmigrations                {ms(dj)}")


def bench_branches(base: Path, runs: int) -> None:
    """`check --branches` with 100 remote branches against 10, on the 10,000-migration tree."""
    root = make_repo(base / "branches", 50, 200)
    remote = base / "branches-remote.git"
    git(base, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    _branch_commits(root, 100)
    git(root, "push", "-q", "origin", "refs/heads/b*:refs/heads/b*")
    ten = base / "branches-ten.git"
    git(base, "init", "-q", "--bare", str(ten))
    git(root, "remote", "add", "ten", str(ten))
    git(root, "push", "-q", "ten", "main", *(f"b{k:03d}" for k in range(10)))
    for k in range(100):
        git(root, "branch", "-q", "-D", f"b{k:03d}")  # remote branches only, as in CI
    git(root, "fetch", "-q", "origin")
    git(root, "fetch", "-q", "ten")
    git(root, "remote", "set-head", "origin", "main")
    git(root, "gc", "-q")
    command = [PYTHON, "-m", "migmerge", "check", "--branches", "--remote"]
    hundred = timed([*command, "origin"], root, runs)
    tens = timed([*command, "ten"], root, runs)
    ratio = hundred / tens
    print("5. check --branches on 50 apps x 200 migrations, each branch adding one migration")
    print(f"   10 remote branches  (5 conflicting pairs)   {ms(tens)}")
    verdict = "ok" if hundred < 1.5 else "MISSED"
    print(
        f"   100 remote branches (50 conflicting pairs)  {ms(hundred)}  (target < 1.5 s: {verdict})"
    )
    verdict = "ok" if ratio <= 2 else "MISSED"
    print(
        f"   ratio 100 / 10                              {ratio:8.2f}x  (target <= 2x: {verdict})"
    )


def _branch_commits(root: Path, count: int) -> None:
    """Branches b000.. on main, each adding one migration; b2k and b2k+1 share an app.

    Written with one `git fast-import`: a checkout per branch would cost
    more than the benchmark measures.
    """
    main = git(root, "rev-parse", "main").strip()
    stream = []
    for k in range(count):
        app = f"app{k // 2}"
        name = f"0201_thing_b{k:03d}"
        text = MIGRATION.format(app=app, prev="0200_thing_field_200", n=f"b{k:03d}").encode()
        stream.append(
            f"commit refs/heads/b{k:03d}\ncommitter bench <bench@example.com> 0 +0000\n"
            f"data 0\nfrom {main}\nM 100644 inline {app}/migrations/{name}.py\n"
            f"data {len(text)}\n".encode()
            + text
            + b"\n"
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=root,
        input=b"".join(stream),
        check=True,
        env=env(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement (median)")
    parser.add_argument("--keep", metavar="DIR", help="build the repositories here and keep them")
    parser.add_argument(
        "--only",
        choices=("full", "hooks", "against", "doctor", "branches", "long", "apps"),
        help="run one part only (default: all)",
    )
    args = parser.parse_args()
    base = Path(args.keep or tempfile.mkdtemp(prefix="migmerge-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    global CACHE_DIR
    CACHE_DIR = str(base / "cache")
    # Bytecode for migmerge itself, as `pip install` writes it for any package
    # (an editable install only gets it on first import).
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(PACKAGE)], check=True, env=env())
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, repositories in {base}")
    try:
        if args.only in (None, "full"):
            bench_full(base, args.runs)
        if args.only == "hooks":  # part 3 alone, on part 1's repository
            root = make_repo(base / "full", 50, 200)
            branch_pair(root, 200, merge=True)
            bench_hooks(base, root, args.runs)
        if args.only in (None, "against"):
            bench_against(base, args.runs)
        if args.only in (None, "doctor"):
            bench_doctor(base, args.runs)
        if args.only in (None, "branches"):
            bench_branches(base, args.runs)
        if args.only in (None, "long"):
            bench_long_branch(base, args.runs)
        if args.only in (None, "apps"):
            bench_many_apps(base, args.runs)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

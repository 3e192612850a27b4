"""Karrio-shaped projects: no manage.py, apps deep under modules/*/karrio/server/*."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.testing.repos import PYTHON, init_repo

KARRIO_SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent.parent.parent.parent
SECRET_KEY = "test"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "karrio.server.core",
    "karrio.server.manager",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
"""

KARRIO_SCRIPT = """\
#!{python}
# The `karrio` console script of a Karrio install: Django's manage.py by another name.
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "karrio.server.settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""

KARRIO_CORE = """\
from django.db import models


class Carrier(models.Model):
    name = models.CharField(max_length=50)
"""

KARRIO_MANAGER = """\
from django.db import models


class Shipment(models.Model):
    reference = models.CharField(max_length=50)
"""


def karrio_app(root: Path, module: str, models: str) -> Path:
    """Write app karrio.server.<module> under modules/<module>/ (namespace packages above it)."""
    app = root / "modules" / module / "karrio" / "server" / module
    (app / "migrations").mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    config = f"{module.title()}Config"
    (app / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\n"
        f'class {config}(AppConfig):\n    name = "karrio.server.{module}"\n'
    )
    (app / "models.py").write_text(models)
    return app


def karrio_project(root: Path) -> Path:
    """A Karrio-shaped repository with its own `.venv`, as `pip install -e modules/*` leaves it.

    The virtualenv sees the modules and this interpreter's packages (Django)
    through a `.pth` file; `.venv/bin/karrio` is its console script. Returns
    the folder to put on PATH.
    """
    import sysconfig

    init_repo(root)
    karrio_app(root, "core", KARRIO_CORE)
    karrio_app(root, "manager", KARRIO_MANAGER)
    settings = root / "modules/core/karrio/server/settings"
    settings.mkdir()
    (settings / "__init__.py").write_text(KARRIO_SETTINGS)
    (root / ".gitignore").write_text(".venv/\ndb.sqlite3\n__pycache__/\n")
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
    paths = [str(root / "modules" / m) for m in ("core", "manager")]
    paths.append(sysconfig.get_paths()["purelib"])  # Django, as the project's install has it
    for site in (root / ".venv/lib").glob("python*/site-packages"):
        (site / "karrio_modules.pth").write_text("\n".join(paths) + "\n")
    bin_dir = root / ".venv/bin"
    script = bin_dir / "karrio"
    script.write_text(KARRIO_SCRIPT.format(python=bin_dir / "python"))
    script.chmod(0o755)
    return bin_dir


def karrio(root: Path, bin_dir: Path, *args: str) -> str:
    """Run the test's `karrio` command in `root`; return its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    proc = subprocess.run(
        [str(bin_dir / "karrio"), *args], cwd=root, capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise AssertionError(f"karrio {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout

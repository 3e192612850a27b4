"""The package people install: built as an index would take it, and holding what the tests need."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.testing.repos import PYTHON, ROOT, git

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dependency pyproject declares for 3.10
    import tomli as tomllib


def tracked_files() -> list[str]:
    """The files of this checkout as git lists them (new, unignored ones too)."""
    listed = git(ROOT, "ls-files", "-z", "-co", "--exclude-standard")
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist and the wheel from a copy of the checkout, as CI would from a clone."""
    source = tmp_path_factory.mktemp("source")
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [PYTHON, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_twine_check_strict_passes(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    assert len(files) == 2, files
    proc = subprocess.run(
        [PYTHON, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_sdist_holds_every_file_of_the_repository(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        held = {name.removeprefix(top + "/") for name in archive.getnames()}
    missing = [name for name in tracked_files() if name not in held]
    assert missing == []
    assert not [name for name in held if "__pycache__" in name or name.endswith(".pyc")]


def test_the_wheel_holds_the_package_and_its_resources_only(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "migmerge/resources/hook-tmpl" in names and "migmerge/py.typed" in names
    assert not [name for name in names if name.startswith(("tests/", "docs/"))]
    assert "License-Expression: MIT" in metadata
    assert "Classifier: Framework :: Django" in metadata
    assert "Project-URL: Source, " in metadata
    assert not re.search(r"(?im)^Requires-Dist: gitpython", metadata)


def test_every_declared_dependency_is_used() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    source = "\n".join(p.read_text() for p in (ROOT / "migmerge").rglob("*.py"))
    imports = {"Django": "django", "questionary": "questionary", "tomli": "tomli"}
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=;\[ ]", requirement, maxsplit=1)[0]
        module = imports[name]  # a new dependency: say here what it is imported as
        assert re.search(rf"^\s*(import|from) {module}\b", source, re.M), name

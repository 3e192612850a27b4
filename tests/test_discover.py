"""Discovery and the graph on layouts real projects have, checked against Django's loader."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from migmerge.reading import settings_files, snapshot
from migmerge.reading.config import Config
from tests.testing.projects import add_field, app_files, django_conflicts, migration_text
from tests.testing.repos import (
    Files,
    commit_all,
    conflict_leaves,
    diverged,
    git,
    init_repo,
    replays,
    run_migmerge,
)

SETTINGS = """\
SECRET_KEY = "x"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "accounts",
    "wagtail.admin",
    "dojo",
    "shop",
    "blog",
    "vendor.legacy_pkg.config.LegacyConfig",
]
MIGRATION_MODULES = {"dojo": "dojo.db_migrations"}
AUTH_USER_MODEL = "accounts.User"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""

HEAD = "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"


def migration(deps: str, body: str = "", ops: str = "") -> str:
    return HEAD + f"    dependencies = {deps}\n{body}    operations = [{ops}]\n"


def create(model: str) -> str:
    pk = "models.AutoField(primary_key=True)"
    return f"migrations.CreateModel(name={model!r}, fields=[('id', {pk})])"


def add(model: str, field: str) -> str:
    return f"migrations.AddField({model!r}, {field!r}, models.IntegerField(default=0))"


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text) if text.startswith("\n") else text)


def base_files() -> dict[str, str]:
    files = {
        "proj/__init__.py": "",
        "proj/settings.py": SETTINGS,
        "manage.py": "",
        "accounts/__init__.py": "",
        "accounts/migrations/__init__.py": "",
        "accounts/migrations/0001_initial.py": migration(
            "[('auth', '0012_alter_user_first_name_max_length')]",
            "    initial = True\n",
            "migrations.CreateModel(name='User', "
            "fields=[('id', models.AutoField(primary_key=True)), "
            "('password', models.CharField(max_length=128)), "
            "('last_login', models.DateTimeField(null=True))], options={'abstract': False})",
        ),
        "accounts/models.py": "from django.contrib.auth.base_user import AbstractBaseUser\n\n\n"
        "class User(AbstractBaseUser):\n    USERNAME_FIELD = 'id'\n",
        "wagtail/__init__.py": "",
        "wagtail/admin/__init__.py": "",
        "wagtail/admin/apps.py": "from django.apps import AppConfig\n\n\n"
        "class WagtailAdminAppConfig(AppConfig):\n"
        "    name = 'wagtail.admin'\n    label = 'wagtailadmin'\n",
        "wagtail/admin/migrations/__init__.py": "",
        "wagtail/admin/migrations/0001_initial.py": migration(
            "[migrations.swappable_dependency(settings.AUTH_USER_MODEL)]", "", create("Admin")
        ).replace("from django.db", "from django.conf import settings\nfrom django.db"),
        "dojo/__init__.py": "",
        "dojo/db_migrations/__init__.py": "",
        "dojo/db_migrations/0001_initial.py": migration("[]", "", create("Finding")),
        "dojo/db_migrations/0002_finding_a.py": migration(
            "[('dojo', '0001_initial')]", "", add("finding", "a")
        ),
        "shop/__init__.py": "",
        "shop/migrations/__init__.py": "",
        # squashed; the replaced files are gone, 0004 still names the old 0003.
        "shop/migrations/0001_squashed_0003_c.py": migration(
            "[]",
            "    replaces = [('shop', '0001_initial'), ('shop', '0002_b'), ('shop', '0003_c')]\n",
            create("Item"),
        ),
        "shop/migrations/0004_item_d.py": migration("[('shop', '0003_c')]", "", add("item", "d")),
        "blog/__init__.py": "",
        "blog/migrations/__init__.py": "",
        "blog/migrations/0001_initial.py": migration("[]", "", create("Post")),
        # a redundant older dependency: not a merge.
        "blog/migrations/0002_post_a.py": migration(
            "[('blog', '0001_initial')]", "", add("post", "a")
        ),
        "blog/migrations/0003_post_b.py": migration(
            "[('blog', '0002_post_a'), ('blog', '0001_initial')]", "", add("post", "b")
        ),
        "vendor/__init__.py": "",
        "vendor/legacy_pkg/__init__.py": "",
        "vendor/legacy_pkg/config.py": "from django.apps import AppConfig\n\n\n"
        "class LegacyConfig(AppConfig):\n    name = 'vendor.legacy_pkg'\n    label = 'legacy'\n",
        "vendor/legacy_pkg/migrations/__init__.py": "",
        "vendor/legacy_pkg/migrations/0001_initial.py": migration("[]", "", create("Old")),
        "vendor/legacy_pkg/migrations/0002_old_a.py": migration(
            "[('legacy', '0001_initial')]", "", add("old", "a")
        ),
        "vendor/legacy_pkg/migrations/0003_old_b.py": migration(
            "[('legacy', '0002_old_a')]", "", add("old", "b")
        ),
    }
    return files


def ours(root: Path) -> dict:  # type: ignore[type-arg]
    proc = run_migmerge(root, "check", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    doc: dict = json.loads(proc.stdout)  # type: ignore[type-arg]
    return doc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = init_repo(tmp_path / "real")
    write(root, base_files())
    commit_all(root, "base")
    return root


def test_real_layouts_have_no_phantom_conflicts(project: Path) -> None:
    assert django_conflicts(project) == {}
    doc = ours(project)
    assert doc["conflicts"] == []
    kinds = {w["kind"] for w in doc["warnings"]}
    assert "missing-dependency" not in kinds  # 0004 -> replaced 0003 is redirected


def diverge(project: Path) -> None:
    """feature and main each add migrations to five apps; leaves feature checked out."""
    git(project, "checkout", "-q", "-b", "feature")
    write(
        project,
        {
            "wagtail/admin/migrations/0002_admin_x.py": migration(
                "[('wagtailadmin', '0001_initial')]", "", add("admin", "x")
            ),
            "dojo/db_migrations/0003_finding_x.py": migration(
                "[('dojo', '0002_finding_a')]", "", add("finding", "x")
            ),
            "shop/migrations/0005_item_x.py": migration(
                "[('shop', '0004_item_d')]", "", add("item", "x")
            ),
            "vendor/legacy_pkg/migrations/0004_old_x.py": migration(
                "[('legacy', '0003_old_b')]", "", add("old", "x")
            ),
            "blog/migrations/0004_post_x.py": migration(
                "[('blog', '0003_post_b')]", "", add("post", "x")
            ),
        },
    )
    commit_all(project, "feature")
    git(project, "checkout", "-q", "main")
    write(
        project,
        {
            "wagtail/admin/migrations/0002_admin_y.py": migration(
                "[('wagtailadmin', '0001_initial')]", "", add("admin", "y")
            ),
            "dojo/db_migrations/0003_finding_y.py": migration(
                "[('dojo', '0002_finding_a')]", "", add("finding", "y")
            ),
            "shop/migrations/0005_item_y.py": migration(
                "[('shop', '0004_item_d')]", "", add("item", "y")
            ),
            "vendor/legacy_pkg/migrations/0004_old_y.py": migration(
                "[('legacy', '0003_old_b')]", "", add("old", "y")
            ),
            # a third leaf in blog, numbered differently: still a conflict.
            "blog/migrations/0004_post_y.py": migration(
                "[('blog', '0003_post_b')]", "", add("post", "y")
            ),
            "blog/migrations/0005_post_z.py": migration(
                "[('blog', '0003_post_b')]", "", add("post", "z")
            ),
        },
    )
    commit_all(project, "main")
    git(project, "checkout", "-q", "feature")


def leaves_by_app(doc: dict) -> dict[str, list[str]]:  # type: ignore[type-arg]
    return {c["app"]: sorted(leaf["name"] for leaf in c["leaves"]) for c in doc["conflicts"]}


def test_django_agrees_on_conflicting_apps_and_leaves(project: Path) -> None:
    diverge(project)
    git(project, "merge", "-q", "main", "-m", "merge")
    expected = django_conflicts(project)
    assert set(expected) == {"wagtailadmin", "dojo", "shop", "legacy", "blog"}
    doc = ours(project)
    assert leaves_by_app(doc) == expected
    directories = {c["app"]: c["directory"] for c in doc["conflicts"]}
    assert directories["dojo"] == "dojo/db_migrations"
    assert directories["legacy"] == "vendor/legacy_pkg/migrations"
    ancestors = {c["app"]: c["ancestor"] for c in doc["conflicts"]}
    assert ancestors["shop"] == "0004_item_d"
    assert ancestors["blog"] == "0003_post_b"


@pytest.mark.parametrize(
    "manage_py",
    [
        pytest.param(
            'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n', id="named"
        ),
        pytest.param("", id="unnamed"),  # no settings module named: every settings-like file
    ],
)
def test_against_predicts_the_merge_on_real_layouts(project: Path, manage_py: str) -> None:
    # --against reads only the changed folders and what discovery needs around
    # them (apps.py, manage.py, settings): MIGRATION_MODULES, AppConfig labels
    # and squashes must come out as a full check of the merge sees them.
    write(project, {"manage.py": "import os\n" + manage_py})
    commit_all(project, "manage.py")
    diverge(project)
    proc = run_migmerge(project, "check", "--format", "json", "--against", "main")
    assert proc.returncode == 1, proc.stderr
    predicted = leaves_by_app(json.loads(proc.stdout))
    git(project, "merge", "-q", "main", "-m", "merge")
    assert predicted == django_conflicts(project)
    assert set(predicted) == {"wagtailadmin", "dojo", "shop", "legacy", "blog"}


def test_dynamic_dependencies_warn_and_assume_previous(project: Path) -> None:
    write(
        project,
        {
            "blog/migrations/0004_dynamic.py": HEAD
            + "    dependencies = get_dependencies()\n    operations = []\n",
        },
    )
    doc = ours(project)
    assert doc["conflicts"] == []
    dynamic = [w for w in doc["warnings"] if w["kind"] == "dynamic-dependencies"]
    assert dynamic and dynamic[0]["app"] == "blog"


def test_migration_modules_none_means_no_migrations(project: Path) -> None:
    settings = project / "proj" / "settings.py"
    settings.write_text(
        settings.read_text().replace('{"dojo": "dojo.db_migrations"}', '{"blog": None}')
    )
    write(project, {"blog/migrations/0003_post_other.py": migration("[('blog', '0002_post_a')]")})
    doc = ours(project)
    assert "blog" not in {c["app"] for c in doc["conflicts"]}


@pytest.mark.parametrize("layout", ["conf.py", "conf/__init__.py"])
def test_settings_named_by_manage_py_are_read_whatever_their_name(
    project: Path, layout: str
) -> None:
    # DJANGO_SETTINGS_MODULE = "conf": a module nothing calls settings.
    (project / "proj" / "settings.py").unlink()
    write(
        project,
        {
            layout: SETTINGS,
            "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'conf')\n",
            "dojo/db_migrations/0002_finding_b.py": migration("[('dojo', '0001_initial')]"),
        },
    )
    commit_all(project, "settings module named by manage.py")
    doc = ours(project)
    # dojo's folder is found only through the settings' MIGRATION_MODULES.
    assert leaves_by_app(doc) == {"dojo": ["0002_finding_a", "0002_finding_b"]}


def test_configured_label_and_extra_folder(project: Path) -> None:
    write(
        project,
        {
            "pyproject.toml": '[tool.migmerge]\napps = { "extras/schema" = "reports" }\n'
            'migration-modules = ["extras/schema"]\n',
            "extras/schema/__init__.py": "",
            "extras/schema/0001_initial.py": migration("[]"),
            "extras/schema/0002_a.py": migration("[('reports', '0001_initial')]"),
            "extras/schema/0002_b.py": migration("[('reports', '0001_initial')]"),
        },
    )
    doc = ours(project)
    assert [(c["app"], c["directory"]) for c in doc["conflicts"]] == [("reports", "extras/schema")]


def test_bad_config_is_exit_2(project: Path) -> None:
    write(project, {"pyproject.toml": "[tool.migmerge]\nstrategy = 'sideways'\n"})
    proc = run_migmerge(project, "check")
    assert proc.returncode == 2
    assert "strategy" in proc.stderr and "Traceback" not in proc.stderr


def test_sourceless_pyc_is_a_warning(project: Path) -> None:
    (project / "blog" / "migrations" / "0009_compiled.pyc").write_bytes(b"\x00compiled")
    doc = ours(project)
    assert any(w["kind"] == "sourceless-module" for w in doc["warnings"])


def test_app_folder_moved_on_one_side(project: Path) -> None:
    git(project, "checkout", "-q", "-b", "moved")
    git(project, "mv", "blog", "blog_app")
    settings = project / "proj" / "settings.py"
    settings.write_text(settings.read_text().replace('"blog",', '"blog_app.apps.BlogConfig",'))
    write(
        project,
        {
            "blog_app/apps.py": "from django.apps import AppConfig\n\n\n"
            "class BlogConfig(AppConfig):\n"
            "    name = 'blog_app'\n    label = 'blog'\n",
            "blog_app/migrations/0004_post_moved.py": migration(
                "[('blog', '0003_post_b')]", "", add("post", "moved")
            ),
        },
    )
    commit_all(project, "move the app")
    git(project, "checkout", "-q", "main")
    write(
        project,
        {
            "blog/migrations/0004_post_main.py": migration(
                "[('blog', '0003_post_b')]", "", add("post", "m")
            ),
        },
    )
    commit_all(project, "main work")
    git(project, "checkout", "-q", "moved")
    # git's directory-rename detection moves main's file into blog_app/ and stops.
    git(project, "merge", "main", check=False)
    assert (project / "blog_app" / "migrations" / "0004_post_main.py").exists()
    assert django_conflicts(project) == {"blog": ["0004_post_main", "0004_post_moved"]}
    doc = ours(project)
    assert doc["mode"] == "merge"
    (conflict,) = doc["conflicts"]
    assert conflict["app"] == "blog" and conflict["directory"] == "blog_app/migrations"
    sides = {leaf["name"]: leaf["side"] for leaf in conflict["leaves"]}
    assert sides == {"0004_post_main": "upstream", "0004_post_moved": "local"}


def test_a_migrations_package_that_is_not_djangos_is_skipped(project: Path) -> None:
    write(
        project,
        {
            "blocks/migrations/__init__.py": "",
            "blocks/migrations/operations.py": "def helper():\n    return 1\n",
        },
    )
    proc = run_migmerge(project, "check", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    skipped = [w for w in doc["warnings"] if w["kind"] == "not-a-migration"]
    assert [w["path"] for w in skipped] == ["blocks/migrations/operations.py"]


def test_duplicate_numbers_joined_by_a_merge_are_not_called_a_straight_line(
    project: Path,
) -> None:
    write(
        project,
        {
            "blog/migrations/0004_post_x.py": migration("[('blog', '0003_post_b')]"),
            "blog/migrations/0004_post_y.py": migration("[('blog', '0003_post_b')]"),
            "blog/migrations/0005_merge.py": migration(
                "[('blog', '0004_post_x'), ('blog', '0004_post_y')]"
            ),
        },
    )
    doc = ours(project)
    assert doc["conflicts"] == []
    (warning,) = [w for w in doc["warnings"] if w["kind"] == "duplicate-number"]
    assert "parallel branches joined by a merge" in warning["message"]


# Shapes of real repositories (issue 12), met both ways: --against and a merge in progress

# DefectDojo: manage.py names a settings module made at deploy time; the template
# assigns MIGRATION_MODULES only under an `if`.
DOJO_SETTINGS = """\
import environ

env = environ.Env()
INSTALLED_APPS = ["django.contrib.auth", "dojo"]
if env("DD_TRACK_MIGRATIONS"):
    MIGRATION_MODULES = {"dojo": "dojo.db_migrations"}
"""


@pytest.mark.parametrize("settings", [DOJO_SETTINGS, None])
def test_a_migrations_folder_named_otherwise_is_found(tmp_path: Path, settings: str | None) -> None:
    manage = (
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'dojo.settings.settings')\n"
    )
    base: Files = {
        "manage.py": manage,
        "dojo/settings/__init__.py": "",
        **app_files("dojo", "0001_initial", "0002_a", folder="dojo/db_migrations"),
    }
    if settings is not None:
        base["dojo/settings/settings.dist.py"] = settings
    mine = migration_text("[('dojo', '0002_a')]", add_field("finding", "mine"))
    theirs = migration_text("[('dojo', '0002_a')]", add_field("finding", "theirs"))
    root = diverged(
        tmp_path / "repo",
        base,
        {"dojo/db_migrations/0003_mine.py": mine},
        {"dojo/db_migrations/0003_theirs.py": theirs},
    )
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        assert conflict_leaves(doc) == {"dojo": ["0003_mine", "0003_theirs"]}
        assert doc["conflicts"][0]["directory"] == "dojo/db_migrations"


def test_a_none_in_one_of_several_settings_hides_nothing(tmp_path: Path) -> None:
    # osf.io: the admin site's settings turn osf's migrations off; the API migrates them.
    base: Files = {
        "admin/base/settings/__init__.py": "",
        "admin/base/settings/defaults.py": "INSTALLED_APPS = ['osf', 'admin']\n"
        "MIGRATION_MODULES = {'osf': None, 'addons_box': None}\n",
        "api/base/settings/__init__.py": "",
        "api/base/settings/defaults.py": "INSTALLED_APPS = ['osf', 'api']\n",
        **app_files("osf", "0001_initial"),
    }
    mine = migration_text("[('osf', '0001_initial')]", add_field("node", "mine"))
    theirs = migration_text("[('osf', '0001_initial')]", add_field("node", "theirs"))
    root = diverged(
        tmp_path / "repo",
        base,
        {"osf/migrations/0002_mine.py": mine},
        {"osf/migrations/0002_theirs.py": theirs},
    )
    for code, doc, stderr in replays(root):
        assert code == 1, stderr
        assert conflict_leaves(doc) == {"osf": ["0002_mine", "0002_theirs"]}


@pytest.mark.parametrize(
    "source",
    [
        "MIGRATION_MODULES = {}\nif DEBUG:\n    MIGRATION_MODULES = {'shop': 'shop.schema'}\n",
        "MIGRATION_MODULES = {}\nMIGRATION_MODULES['shop'] = 'shop.schema'\n",
        "MIGRATION_MODULES = dict(shop='shop.schema')\n",
        "MIGRATION_MODULES = {'a': None}\nMIGRATION_MODULES.update({'shop': 'shop.schema'})\n",
        "MIGRATION_MODULES = {}\nMIGRATION_MODULES |= {'shop': 'shop.schema'}\n",
        "try:\n    from .local import *\nexcept ImportError:\n"
        "    MIGRATION_MODULES = {'shop': 'shop.schema'}\n",
        "print 'old settings'\nMIGRATION_MODULES = {'shop': 'shop.schema'}\n",
    ],
)
def test_migration_modules_are_read_wherever_they_are_assigned(tmp_path: Path, source: str) -> None:
    write(
        tmp_path,
        {"conf/settings.py": source, "shop/__init__.py": "", "shop/schema/__init__.py": ""},
    )
    tree = snapshot.on_disk(tmp_path, ["conf/", "shop/"])
    settings = settings_files.read_settings(tree, tree.files, Config())
    assert ("shop", "shop.schema") in settings.modules
    assert settings.migration_modules["shop"] == "shop.schema"

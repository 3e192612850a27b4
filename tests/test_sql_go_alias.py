"""`GO` in SQL is a name, not T-SQL's batch separator (issue 12, osf.io).

sqlparse ends a statement at the word `GO`; PostgreSQL, MySQL and SQLite
have no such separator, so `FROM guardian_groupobjectpermission GO,
django_content_type CT` is one statement whose alias is `GO`. It was read
as two, the second starting `, django_content_type ...`: SQL that cannot be
read, and every conflict holding it was unknown.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.projects import add_field, app_files, migration_text, only_operation
from tests.testing.repos import Files, assert_one_conflict, diverged

# osf.io's shape: a module-level list of one statement, an alias `GO` in a comma join.
COPY = '''
COPY_PERMISSIONS = [
    """
    INSERT INTO company_stockpermission (stock_id, group_id)
    SELECT CAST(GO.object_pk AS INT), CAST(GO.group_id AS INT)
    FROM company_grant GO, django_content_type CT
    WHERE CT.model = 'stock' AND GO.content_type_id = CT.id;
    """
]
'''


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        (
            "'SELECT go.id FROM polls_question go JOIN polls_choice c ON c.q = go.id'",
            ("polls_question", "polls_choice"),
        ),
        (
            "'UPDATE polls_choice SET n = 1 FROM polls_question AS GO WHERE GO.id = q; "
            "DELETE FROM polls_tag'",
            ("polls_choice", "polls_question", "polls_tag"),
        ),
    ],
)
def test_an_alias_go_is_a_name(sql: str, tables: tuple[str, ...]) -> None:
    op = only_operation(migration_text(ops=f"migrations.RunSQL({sql}),"), "polls", "0002_go", {})
    assert (op.readable, op.tables) == (True, tables)


def test_a_conflict_with_sql_aliasing_a_table_go_reaches_its_models(tmp_path: Path) -> None:
    base = app_files("company", "0001_initial")
    grant_model = "migrations.CreateModel('Grant', [('id', models.AutoField(primary_key=True))]),"
    base["company/migrations/0001_initial.py"] = migration_text("[]", grant_model)
    copy = migration_text(
        "[('company', '0001_initial')]", "migrations.RunSQL(COPY_PERMISSIONS),", prelude=COPY
    )
    local: Files = {"company/migrations/0002_copy.py": copy}
    deps = "[('company', '0001_initial')]"
    grant = migration_text(deps, add_field("grant", "level"))
    upstream: Files = {"company/migrations/0002_grant_level.py": grant}
    diverged(tmp_path / "repo", base, local, upstream)
    assert_one_conflict(tmp_path / "repo", "company", ["0002_copy", "0002_grant_level"], "model")

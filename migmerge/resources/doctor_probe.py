"""What the project's own Django says its schema should be: run by `migmerge doctor`.

This file is run with the project's interpreter, its settings module named by
DJANGO_SETTINGS_MODULE, in the folder manage.py runs in. It reads one JSON
object on stdin ({"database": alias, "connect": bool, "changes": bool}) and
prints one line "MIGMERGE-DOCTOR:" followed by a JSON object. It never
builds code from names, never migrates and never writes to the database:
it loads the migration graph, reads which migrations are applied, and works
out from Django's own migration state

- `expected`: the tables and columns the applied migrations describe;
- `unapplied`: for each unapplied migration, in plan order, the tables,
  columns, indexes and constraints it would create (the evidence that it is
  already in the schema, if they exist);
- `changes`: the model changes no migration holds (what `makemigrations
  --check` reports), unless the request says "changes": false (migmerge
  remembers them from the same files).

It runs with whatever Python the project uses, so it keeps to the standard
library and Django, and to syntax every supported Python reads.
"""

import json
import os
import sys
import traceback

MARKER = "MIGMERGE-DOCTOR:"


def main():
    request = json.loads(sys.stdin.read() or "{}")
    sys.path.insert(0, os.getcwd())
    # The name of the bytecode Python writes for a module (doctor --fix removes a ghost's).
    out = {"errors": [], "cache_tag": getattr(sys.implementation, "cache_tag", None)}
    try:
        import django

        django.setup()
    except Exception as exc:  # the project's settings or apps do not load
        out["errors"].append(f"Django could not be set up: {_short(exc)}")
        return out
    out["django"] = django.get_version()
    from django.conf import settings

    out["zone"] = None if settings.USE_TZ else settings.TIME_ZONE
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.loader import MigrationLoader

    if not request.get("connect"):
        # The database could not be read (or does not exist): connecting could
        # create it, or hang; the model changes need no database.
        _guard(out, "changes", lambda: _changes(MigrationLoader(None, ignore_no_migrations=True)))
        return out
    connection = connections[request.get("database") or "default"]
    out["vendor"] = connection.vendor
    _read_only(connection)
    try:
        executor = MigrationExecutor(connection)
    except Exception as exc:
        out["errors"].append(f"the migration graph could not be loaded: {_short(exc)}")
        return out
    loader = executor.loader
    out["applied"] = sorted(list(key) for key in loader.applied_migrations)
    _guard(out, "expected", lambda: _expected(executor))
    _guard(out, "unapplied", lambda: _unapplied(executor, connection))
    if request.get("changes", True):  # False: migmerge remembers them from these files
        _guard(out, "changes", lambda: _changes(loader))
    return out


def _read_only(connection):
    """Open a SQLite file read-only and immutable: no -wal or -shm file, nothing created."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    from pathlib import Path

    connection.settings_dict["NAME"] = Path(name).resolve().as_uri() + "?mode=ro&immutable=1"
    options = dict(connection.settings_dict.get("OPTIONS") or {})
    options["uri"] = True
    connection.settings_dict["OPTIONS"] = options


def _guard(out, key, compute):
    try:
        out[key] = compute()
    except Exception as exc:
        out["errors"].append(f"{key} could not be worked out: {_short(exc)}")


def _short(exc):
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return last[:500]


def _expected(executor):
    """app -> table -> {"model": name, "columns": [...]} for the applied state."""
    state = executor._create_project_state(with_applied_migrations=True)
    apps = state.apps
    found = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy or meta.swapped:
            continue
        tables = found.setdefault(meta.app_label, {})
        columns = [f.column for f in meta.local_concrete_fields if f.column]
        tables[meta.db_table] = {"model": meta.object_name, "columns": columns}
    return found


def _unapplied(executor, connection):
    """What each unapplied migration would create, in the order migrate would run them."""
    from django.db.backends.utils import truncate_name

    loader = executor.loader
    plan = executor.migration_plan(loader.graph.leaf_nodes())
    state = executor._create_project_state(with_applied_migrations=True)
    limit = connection.ops.max_name_length()
    out = []
    for migration, backwards in plan:
        if backwards:
            continue
        entry = {"app": migration.app_label, "name": migration.name, "creates": [], "unknown": []}
        for operation in migration.operations:
            before = state.clone()
            operation.state_forwards(migration.app_label, state)
            creates = _creates(migration.app_label, operation, before, state, limit, truncate_name)
            if creates is None:
                entry["unknown"].append(operation.describe())
            else:
                entry["creates"].extend(creates)
        out.append(entry)
    return out


def _table(app_label, model_state, limit, truncate_name):
    table = model_state.options.get("db_table")
    if not table:
        table = f"{app_label}_{model_state.name_lower}"
    return truncate_name(table, limit)


def _column(name, field):
    clone = field.clone()
    clone.set_attributes_from_name(name)
    return clone.column


def _creates(app_label, operation, before, after, limit, truncate_name):
    """Describe what one operation creates, or None when its effect cannot be evidenced."""
    kind = type(operation).__name__
    if kind == "CreateModel":
        model = after.models[app_label, operation.name_lower]
        if model.options.get("proxy") or model.options.get("managed") is False:
            return []
        table = _table(app_label, model, limit, truncate_name)
        columns = [_column(n, f) for n, f in model.fields.items() if not f.many_to_many]
        items = [{"op": kind, "model": operation.name, "table": table, "columns": columns}]
        return items + _constraints(kind, table, model.options)
    if kind == "AddField":
        model = after.models[app_label, operation.model_name_lower]
        table = _table(app_label, model, limit, truncate_name)
        field = operation.field
        if field.many_to_many:
            return None  # its table is named by the rendered model: not evidenced here
        column = _column(operation.name, field)
        return [{"op": kind, "model": operation.model_name, "table": table, "column": column}]
    if kind in ("AddIndex", "AddConstraint"):
        model = after.models[app_label, operation.model_name_lower]
        table = _table(app_label, model, limit, truncate_name)
        item = operation.index if kind == "AddIndex" else operation.constraint
        key = "index" if kind == "AddIndex" else "constraint"
        return [{"op": kind, "model": operation.model_name, "table": table, key: item.name}]
    return None


def _constraints(kind, table, options):
    out = []
    for index in options.get("indexes", []):
        if index.name:
            out.append({"op": kind, "table": table, "index": index.name})
    for constraint in options.get("constraints", []):
        out.append({"op": kind, "table": table, "constraint": constraint.name})
    return out


def _changes(loader):
    """app -> descriptions of the model changes no migration holds (makemigrations --check)."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    if loader.detect_conflicts():
        return None  # makemigrations refuses a forked graph; check reports the fork itself
    questioner = NonInteractiveMigrationQuestioner(dry_run=True)
    autodetector = MigrationAutodetector(
        _state_at_leaves(loader), ProjectState.from_apps(apps), questioner
    )
    changes = autodetector.changes(graph=loader.graph)
    return {
        app: [op.describe() for migration in migrations for op in migration.operations]
        for app, migrations in changes.items()
    }


def _state_at_leaves(loader):
    """loader.project_state(): the same plan in the same order, without its quadratic cost.

    Django's graph.make_state() keeps the plan in a list and asks `in` of it for
    each node of each leaf's forwards plan: 7 s of a 10,000-migration project's
    probe. A set beside the plan makes that linear; what is built is the same.
    """
    from django.db.migrations.state import ProjectState

    graph = loader.graph
    leaves = list(graph.leaf_nodes())
    if not leaves:
        return ProjectState()
    state = ProjectState(real_apps=loader.unmigrated_apps)
    planned = set()
    for leaf in leaves:
        for node in graph.forwards_plan(leaf):
            if node not in planned:
                planned.add(node)
                state = graph.nodes[node].mutate_state(state, preserve=False)
    return state


if __name__ == "__main__":
    try:
        result = main()
    except Exception as exc:
        result = {"errors": [f"the doctor probe failed: {_short(exc)}"]}
    sys.stdout.write("\n" + MARKER + json.dumps(result) + "\n")

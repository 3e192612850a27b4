"""Read Django migration files statically: `ast`, never import or exec.

`parse_migration` reads a whole file (header and operations); `read_header` is
the fast path the conflict search runs on every migration of a repository.

Longer than 400 lines for one reason: the operation readers are one table
(READERS), a short reader for each operation Django and the common
third-party apps define, each next to the entry that names its parameters.
Cut in two, the table would be read in two places for one question ("what
does this operation touch?"). The other jobs of reading a migration live
beside it: the bytes to a tree in parse_source (the fallback for what Python
cannot parse in salvage), the class's header in parse_header, what a name
stands for across the repository's modules in parse_names, strings and SQL
built in code in parse_strings (the tables the SQL names in sql_tables,
the void functions it creates in sql_voids),
what RunPython code reaches in parse_reach, small node readings in
parse_nodes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from migmerge.core.model import SETTING_APP, Migration, Operation
from migmerge.errors import NotAMigration, SouthMigration
from migmerge.reading.headers import fast_header_fields, header_migration
from migmerge.reading.parse_header import (
    WATCHED,
    Attrs,
    chosen_at_module_level,
    class_attributes,
    dynamic_note,
    guarded_header,
    read_initial,
)
from migmerge.reading.parse_names import Context, ModuleSource, lookup_expr, sole_value
from migmerge.reading.parse_nodes import (
    bind,
    const_str,
    dotted_name,
    last_name,
    literal_elements,
    lower_str,
    shape,
    simple_assignment,
    snippet,
    unique,
)
from migmerge.reading.parse_reach import operation_class, reach_code, silenced_base
from migmerge.reading.parse_returns import picked_list
from migmerge.reading.parse_source import SALVAGED, parse_tree, unparsed_line, why_not_taken
from migmerge.reading.parse_strings import literal_items, sql_statements, string_value
from migmerge.reading.salvage import CONFLICTED
from migmerge.reading.sql_tables import sql_tables

# South's migration classes (Django before 1.7): not Django migrations.
SOUTH_BASES = frozenset({"SchemaMigration", "DataMigration"})


# Postgres extension operations: they install an extension and touch no model.
HARMLESS_OPS = frozenset(
    {
        "CreateExtension",
        "BtreeGinExtension",
        "BtreeGistExtension",
        "BloomExtension",
        "CITextExtension",
        "CryptoExtension",
        "HStoreExtension",
        "TrigramExtension",
        "UnaccentExtension",
        # django.contrib.postgres: a database collation is no model's.
        "CreateCollation",
        "RemoveCollation",
    }
)


RELATION_FIELDS = ("ForeignKey", "OneToOneField", "ManyToManyField", "ForeignObject")


# ---------------------------------------------------------------------------
# Entry points


def parse_migration(
    source: bytes,
    *,
    app: str,
    name: str,
    path: str,
    operations: bool = True,
    settings: Mapping[str, str] | None = None,
    modules: ModuleSource | None = None,
) -> Migration:
    """Read a migration's source into a Migration, with its operations unless told not to.

    `modules`: where to find the repository's other modules, to follow what
    the operations import (RunPython functions, SQL, custom operations).

    Never fails on a file that holds a migration: what Python cannot parse is
    read by the fallback reader as far as it goes, an operation whose reading
    fails is unreadable, and `unreadable` says what was not read. NotAMigration
    when the file holds no Migration class.
    """
    tree, problem = parse_tree(source, path)
    cls = _migration_class(tree, path, problem, source)
    module = chosen_at_module_level(tree)
    ctx = Context.build(app, module, settings or {}, path=path, modules=modules)
    if problem:
        ctx.problems.append(problem)
    if cls is None:
        return _unread(app, name, path, operations, ctx)
    _class_scope(cls, ctx)
    attrs = class_attributes(cls)
    if problem and problem.startswith(SALVAGED):
        _unsalvaged(attrs)
    header = guarded_header(attrs, ctx)
    ops = _read_operations(attrs, ctx) if operations else None
    return Migration(
        app=app,
        name=name,
        path=path,
        dependencies=header.values["dependencies"],
        replaces=header.values["replaces"],
        run_before=header.values["run_before"],
        initial=read_initial(attrs),
        operations=ops,
        dynamic="; ".join(header.notes) or None,
        unreadable="; ".join(dict.fromkeys(ctx.problems)) or None,
    )


def _class_scope(cls: ast.ClassDef, ctx: Context) -> None:
    """Names the class body defines come first in its own expressions (`operations`).

    arches defines its RunPython functions inside `class Migration`, and
    keeps SQL in class attributes.
    """
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ctx.functions[stmt.name] = stmt
        target, value = simple_assignment(stmt)
        if target is not None and value is not None and target not in WATCHED:
            ctx.constants[target] = value


def _unsalvaged(attrs: Attrs) -> None:
    """What the fallback reader did not find is unknown, not absent."""
    for attr in ("dependencies", "operations"):
        if attr not in attrs.plain:
            attrs.changed.setdefault(attr, "in a part of the file that cannot be parsed")


def _unread(app: str, name: str, path: str, operations: bool, ctx: Context) -> Migration:
    """A migration nothing of which can be read: placed as makemigrations would, unknown."""
    note = "the Migration class cannot be read"
    return Migration(
        app=app,
        name=name,
        path=path,
        operations=(Operation(op="operations", readable=False, note=note),) if operations else None,
        dynamic=dynamic_note("dependencies", [note]),
        unreadable="; ".join(ctx.problems),
    )


def read_header(
    source: bytes,
    *,
    app: str,
    name: str,
    path: str,
    settings: Mapping[str, str] | None = None,
) -> Migration:
    """Read only a migration's dependencies, replaces, run_before and initial, fast."""
    fields = fast_header_fields(source)
    if fields is not None:
        return header_migration(fields, app, name, path, settings or {})
    return parse_migration(
        source, app=app, name=name, path=path, operations=False, settings=settings
    )


# ---------------------------------------------------------------------------
# Finding the class


def _migration_class(
    tree: ast.Module, path: str, problem: str | None, source: bytes
) -> ast.ClassDef | None:
    """Return the last module-level `class Migration`, as Python would bind it.

    None when the file is a migration that cannot be read (Python cannot
    parse it and the class was not salvaged); NotAMigration when it is none.
    """
    found = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration"]
    if found:
        if {last_name(base) for base in found[-1].bases} & SOUTH_BASES:
            raise SouthMigration(path, "a South migration, which Django does not read")
        return found[-1]
    if problem and re.search(rb"class\s+Migration\b", source):
        return None
    raise NotAMigration(path, "no Migration class" + (f" ({problem})" if problem else ""))


# ---------------------------------------------------------------------------
# Operations: one reader for each


def _read_operations(attrs: Attrs, ctx: Context) -> tuple[Operation, ...]:
    """Read the class's `operations` list."""
    node = attrs.plain.get("operations")
    if "operations" in attrs.changed:
        note = f"operations is {attrs.changed['operations']}"
        return (Operation(op="operations", readable=False, note=note),)
    return _operation_list(node, ctx) if node is not None else ()


def _operation_list(node: ast.expr | None, ctx: Context) -> tuple[Operation, ...]:
    """Read a list literal of operation calls (or a module-level name holding one).

    A list chosen at run time, `[...] if COND else []`, is read as one
    `operations` entry whose children are what either arm may run.
    """
    node = sole_value(node, ctx)
    if isinstance(node, ast.IfExp):
        return (_either_list(node, ctx),)
    if isinstance(node, ast.ListComp):  # `[RunSQL(...) for t in (...)]`: as `[*[...]]`
        node = ast.List(elts=[ast.Starred(value=node, ctx=ast.Load())], ctx=ast.Load())
    elements = literal_elements(node)
    if elements is None:
        assert node is not None
        picked = picked_list(node, ctx, _guarded_operation)
        if picked is not None:
            return picked
        note = f"operations is not a literal list: `{snippet(node)}`"
        return (Operation(op="operations", readable=False, note=note),)
    expanded = [item for element in elements for item in _unrolled(element, ctx)]
    return tuple(_guarded_operation(element, ctx) for element in expanded)


def _either_list(node: ast.IfExp, ctx: Context) -> Operation:
    """`A if COND else B`: every operation either list holds, as possible ones.

    That is a superset of what runs, which is safe for overlap. A rename in
    either arm would make the names of later migrations depend on COND: unknown.
    """
    arms = [sole_value(arm, ctx) for arm in (node.body, node.orelse)]
    if any(literal_elements(arm) is None or isinstance(arm, ast.IfExp) for arm in arms):
        note = f"operations is not a literal list: `{snippet(node)}`"
        return Operation(op="operations", readable=False, note=note)
    children = tuple(op for arm in arms for op in _operation_list(arm, ctx))
    test = snippet(node.test)
    if any(op.op.startswith("Rename") for op in children):
        note = f"operations chosen at run time (`{test}`) rename things"
        return Operation(op="operations", readable=False, note=note, children=children)
    note = f"chosen at run time (`{test}`): read as what either list may run"
    return Operation(op="operations", note=note, children=children)


def _unrolled(element: ast.expr, ctx: Context) -> list[ast.expr]:
    """`*[AddField(model_name=m, ...) for m in ('a', 'b')]`: one operation per value.

    Only a comprehension with one `for` over a literal (or a module-level
    name holding one) of strings, unfiltered; anything else stays as it is.
    """
    if not isinstance(element, ast.Starred) or not isinstance(element.value, ast.ListComp):
        return [element]
    comp = element.value
    if len(comp.generators) != 1 or comp.generators[0].ifs:
        return [element]
    loop = comp.generators[0]
    items = literal_items(loop.iter, ctx)
    if items is None or not isinstance(loop.target, ast.Name):
        return [element]
    strings = [string_value(item, ctx) for item in items]
    if None in strings:
        return [element]
    return [_substituted(comp.elt, loop.target.id, text) for text in strings if text is not None]


class _Substitute(ast.NodeTransformer):
    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def visit_Name(self, node: ast.Name) -> ast.expr:  # noqa: N802 - ast's visitor name
        return ast.Constant(self.value) if node.id == self.name else node


def _substituted(node: ast.expr, name: str, value: str) -> ast.expr:
    """A copy of `node` with the loop variable `name` replaced by `value`."""
    import copy  # a loop over operations only: most migrations never get here

    result: ast.expr = _Substitute(name, value).visit(copy.deepcopy(node))
    return result


def _guarded_operation(node: ast.expr, ctx: Context) -> Operation:
    """Read one operation; a failure to read it makes it unreadable, never stops the check."""
    try:
        return _operation(node, ctx)
    except Exception as exc:  # noqa: BLE001 - one operation must never stop a check
        name = (last_name(node.func) if isinstance(node, ast.Call) else None) or "operation"
        note = f"reading it failed ({why_not_taken(exc)})"
        ctx.problems.append(f"{name} at line {getattr(node, 'lineno', '?')}: {note}")
        return Operation(op=name, readable=False, note=note)


def _operation(node: ast.expr, ctx: Context) -> Operation:
    """Read one operation call."""
    line = unparsed_line(node)
    if line is not None:
        marks = isinstance(node, ast.Constant) and getattr(node.value, "text", None) == CONFLICTED
        why = "holds merge conflict markers" if marks else "cannot be parsed"
        return Operation(op="operations", readable=False, note=f"line {line} {why}")
    if not isinstance(node, ast.Call):
        note = f"`{snippet(node)}` is not an operation call"
        return Operation(op="operations", readable=False, note=note)
    name = last_name(node.func) or "operation"
    if name in HARMLESS_OPS:
        return Operation(op=name)
    reader = READERS.get(name)
    if reader is None or not _is_django_operation(node.func, ctx):
        reader = THIRD_PARTY_READERS.get(_full_name(node.func, ctx))
        if reader is None:
            return _custom_operation(name, node, ctx)
    op = reader(name, bind(node, reader.params), ctx)
    return op._replace(detail=_detail(node))


def _detail(node: ast.Call) -> str | None:
    """The call's arguments, normalised; None when too deep to render (then never equal)."""
    try:
        return shape(node)
    except RecursionError:
        return None


def _custom_operation(name: str, node: ast.Call, ctx: Context) -> Operation:
    """Read a custom operation defined in the repository; else it is unknown."""
    found = lookup_expr(node.func, ctx)
    if found is not None and isinstance(found[0], ast.ClassDef):
        base = silenced_base(found[0])
        if base is not None and _is_django_operation(base, found[1]):
            # Read as its base: same arguments, same state change, no database work.
            base_name = last_name(base) or ""
            reader = READERS.get(base_name)
            defined = lookup_expr(base, found[1])  # not a class of the repository's own
            if reader is not None and (defined is None or not isinstance(defined[0], ast.ClassDef)):
                op = reader(base_name, bind(node, reader.params), ctx)
                return op._replace(detail=_detail(node))
        read = operation_class(name, found[0], found[1])
        if read is not None:
            return read._replace(detail=_detail(node))
        from migmerge.reading.parse_files import file_sql  # rare: a RunSQL subclass

        sql = file_sql(found[0], found[1], node, ctx)
        if sql is not None and sql.call is not None:
            op = _run_sql(name, bind(sql.call, READERS["RunSQL"].params), ctx)
            return op._replace(detail=_detail(sql.call))
        if sql is not None:
            where = found[1].path or "this file"
            note = f"{name} ({where}) is a RunSQL that reads its SQL in __init__: {sql.why}"
            return Operation(op=name, readable=False, note=note)
    origin = _origin(node.func, ctx)
    note = f"{name} is a custom operation{origin}; what it touches is unknown"
    return Operation(op=name, readable=False, note=note)


def _is_django_operation(func: ast.expr, ctx: Context) -> bool:
    """Tell whether a call names one of Django's own migration operations."""
    dotted = dotted_name(func)
    if dotted is None:
        return False
    head = dotted.partition(".")[0]
    # A bare name imported from nowhere visible, or `migrations.X`: trust the name.
    return (
        _full_name(func, ctx).startswith("django.")
        or head == "migrations"
        or head not in ctx.imports
    )


def _full_name(func: ast.expr, ctx: Context) -> str:
    """The dotted name a call's function has through the file's imports ("" when not a name)."""
    dotted = dotted_name(func)
    if dotted is None:
        return ""
    head, _, rest = dotted.partition(".")
    module = ctx.imports.get(head, head)
    return f"{module}.{rest}" if rest else module


def _origin(func: ast.expr, ctx: Context) -> str:
    """Say where a custom operation comes from, when the imports tell."""
    dotted = dotted_name(func) or ""
    head, _, rest = dotted.partition(".")
    module = ctx.imports.get(head)
    if module is None:
        return ""
    return f" from {module.rsplit('.', 1)[0] if not rest else module}"


class _Reader(NamedTuple):
    params: tuple[str, ...]
    read: Callable[[str, dict[str, ast.expr], Context], Operation]

    def __call__(self, name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
        return self.read(name, args, ctx)


def _needs(name: str, args: Mapping[str, ast.expr], *required: str) -> Operation | None:
    """Return an unreadable Operation when a required name argument is not a string literal."""
    for param in required:
        if const_str(args.get(param)) is None:
            where = snippet(args[param]) if param in args else "missing"
            note = f"{name}'s {param} is not a string literal ({where})"
            return Operation(op=name, readable=False, note=note)
    return None


def _create_model(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    bad = _needs(name, args, "name")
    if bad:
        return bad
    model = lower_str(args["name"])
    assert model is not None
    fields = _pairs(args.get("fields"))
    options = _dict_items(args.get("options"))
    refs = [ref for _, value in fields for ref in _field_references(value, ctx, model)]
    refs += [
        ref for base in literal_elements(args.get("bases")) or [] for ref in _base_ref(base, ctx)
    ]
    table = const_str(options.get("db_table"))
    return Operation(
        op=name,
        model=model,
        fields=tuple(f.lower() for f, _ in fields),
        options=tuple(options),
        names=tuple(_option_names(options)),
        references=unique(refs),
        field_refs=unique([r for _, value in fields for r in _to_field(value, ctx, model)]),
        tables=(table.lower(),) if table else (),
    )


def _pairs(node: ast.expr | None) -> list[tuple[str, ast.expr]]:
    """Read CreateModel's `fields`: a list of (name, field) pairs."""
    out = []
    for element in literal_elements(node) or []:
        if isinstance(element, (ast.Tuple, ast.List)) and len(element.elts) == 2:
            key = const_str(element.elts[0])
            if key is not None:
                out.append((key, element.elts[1]))
    return out


def _dict_items(node: ast.expr | None) -> dict[str, ast.expr]:
    """Read a dict literal with string keys."""
    if not isinstance(node, ast.Dict):
        return {}
    out = {}
    for key, value in zip(node.keys, node.values, strict=True):
        text = const_str(key)
        if text is not None:
            out[text] = value
    return out


def _option_names(options: Mapping[str, ast.expr]) -> Iterator[str]:
    """Yield the names of indexes and constraints declared in model options."""
    for key in ("indexes", "constraints"):
        for element in literal_elements(options.get(key)) or []:
            found = _object_name(element)
            if found:
                yield found


def _object_name(node: ast.expr | None) -> str | None:
    """Return the `name=` of an Index(...) or constraint call."""
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "name":
                return const_str(kw.value)
    return None


def _field_references(node: ast.expr, ctx: Context, model: str | None) -> list[str]:
    """Return the models a field definition points at through relations."""
    if not isinstance(node, ast.Call) or last_name(node.func) not in RELATION_FIELDS:
        return []
    args = bind(node, ("to",))
    refs = [_model_ref(args["to"], ctx, model)] if "to" in args else []
    if "through" in args:
        refs.append(_model_ref(args["through"], ctx, model))
    return [ref for ref in refs if ref]


def _to_field(node: ast.expr, ctx: Context, model: str | None) -> list[str]:
    """Return "app.model.field" for a relation whose `to_field` names a field."""
    if not isinstance(node, ast.Call) or last_name(node.func) not in RELATION_FIELDS:
        return []
    args = bind(node, ("to",))
    field = const_str(args.get("to_field"))
    target = _model_ref(args["to"], ctx, model) if "to" in args and field else None
    return [f"{target}.{field.lower()}"] if target and field else []


def _base_ref(node: ast.expr, ctx: Context) -> list[str]:
    """Return the model a CreateModel base names, for multi-table inheritance."""
    ref = _model_ref(node, ctx, None) if const_str(node) else None
    return [ref] if ref else []


def _model_ref(node: ast.expr, ctx: Context, model: str | None) -> str | None:
    """Turn a relation target into "app.model"."""
    text = const_str(node)
    if text is not None:
        if text == "self":
            return f"{ctx.app}.{model}" if model else None
        return text.lower() if "." in text else f"{ctx.app}.{text.lower()}"
    if isinstance(node, ast.Attribute) and dotted_name(node.value) == "settings":
        value = ctx.settings.get(node.attr)
        return value.lower() if value else f"{SETTING_APP}.{node.attr.lower()}"
    return None


def _model_only(option: str | None) -> Callable[[str, dict[str, ast.expr], Context], Operation]:
    """Build a reader for operations that name a model (and maybe set one option)."""

    def read(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
        bad = _needs(name, args, "name")
        if bad:
            return bad
        model = lower_str(args["name"])
        if option == "db_table":
            table = const_str(args.get("table"))
            tables = (table.lower(),) if table else ()
            return Operation(op=name, model=model, options=(option,), tables=tables)
        return Operation(op=name, model=model, options=(option,) if option else ())

    return read


def _alter_model_options(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    bad = _needs(name, args, "name")
    if bad:
        return bad
    options = _dict_items(args.get("options"))
    return Operation(op=name, model=lower_str(args["name"]), options=tuple(options))


def _rename_model(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    bad = _needs(name, args, "old_name", "new_name")
    return bad or Operation(
        op=name, model=lower_str(args["old_name"]), new_name=lower_str(args["new_name"])
    )


def _field_op(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    bad = _needs(name, args, "model_name", "name")
    if bad:
        return bad
    model = lower_str(args["model_name"])
    refs = _field_references(args["field"], ctx, model) if "field" in args else []
    to_field = _to_field(args["field"], ctx, model) if "field" in args else []
    return Operation(
        op=name,
        model=model,
        field=lower_str(args["name"]),
        references=tuple(refs),
        field_refs=tuple(to_field),
    )


def _rename_field(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    bad = _needs(name, args, "model_name", "old_name", "new_name")
    if bad:
        return bad
    return Operation(
        op=name,
        model=lower_str(args["model_name"]),
        field=lower_str(args["old_name"]),
        new_name=lower_str(args["new_name"]),
    )


def _named_object(key: str) -> Callable[[str, dict[str, ast.expr], Context], Operation]:
    """Build a reader for operations adding an index/constraint object under `key`."""

    def read(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
        bad = _needs(name, args, "model_name")
        if bad:
            return bad
        found = _object_name(args.get(key))
        if found is None:
            note = f"{name}'s {key} has no literal name"
            return Operation(
                op=name, model=lower_str(args["model_name"]), readable=False, note=note
            )
        return Operation(op=name, model=lower_str(args["model_name"]), names=(found,))

    return read


def _remove_named(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    bad = _needs(name, args, "model_name", "name")
    if bad:
        return bad
    return Operation(
        op=name, model=lower_str(args["model_name"]), names=(const_str(args["name"]) or "",)
    )


def _rename_index(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    bad = _needs(name, args, "model_name", "new_name")
    if bad:
        return bad
    new = const_str(args["new_name"]) or ""
    old = const_str(args.get("old_name"))
    return Operation(
        op=name,
        model=lower_str(args["model_name"]),
        new_name=new,
        names=(old, new) if old else (new,),
    )


def _separate(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    children = _operation_list(args.get("state_operations"), ctx) + _operation_list(
        args.get("database_operations"), ctx
    )
    return Operation(op=name, children=children)


def _run_python(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    code = args.get("code")
    if code is None:
        return Operation(op=name, readable=False, note="RunPython without code")
    return reach_code(code, ctx)


def _run_sql(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    children = _operation_list(args["state_operations"], ctx) if "state_operations" in args else ()
    statements = sql_statements(args.get("sql"), ctx)
    if statements is None:
        note = f"its SQL is not a literal ({snippet(args['sql']) if 'sql' in args else 'none'})"
        return Operation(op=name, readable=False, note=note, children=children)
    tables, problem = sql_tables(statements)
    if problem:
        return Operation(op=name, readable=False, note=problem, children=children)
    return Operation(op=name, tables=tables, children=children)


READERS: dict[str, _Reader] = {
    "CreateModel": _Reader(("name", "fields", "options", "bases", "managers"), _create_model),
    "DeleteModel": _Reader(("name",), _model_only(None)),
    "RenameModel": _Reader(("old_name", "new_name"), _rename_model),
    "AlterModelTable": _Reader(("name", "table"), _model_only("db_table")),
    "AlterModelTableComment": _Reader(("name", "table_comment"), _model_only("db_table_comment")),
    "AlterModelOptions": _Reader(("name", "options"), _alter_model_options),
    "AlterModelManagers": _Reader(("name", "managers"), _model_only("managers")),
    "AlterUniqueTogether": _Reader(("name", "unique_together"), _model_only("unique_together")),
    "AlterIndexTogether": _Reader(("name", "index_together"), _model_only("index_together")),
    "AlterOrderWithRespectTo": _Reader(
        ("name", "order_with_respect_to"), _model_only("order_with_respect_to")
    ),
    "AddField": _Reader(("model_name", "name", "field"), _field_op),
    "AlterField": _Reader(("model_name", "name", "field"), _field_op),
    "RemoveField": _Reader(("model_name", "name"), _field_op),
    "RenameField": _Reader(("model_name", "old_name", "new_name"), _rename_field),
    "AddIndex": _Reader(("model_name", "index"), _named_object("index")),
    "RemoveIndex": _Reader(("model_name", "name"), _remove_named),
    "RenameIndex": _Reader(("model_name", "new_name", "old_name", "old_fields"), _rename_index),
    "AddConstraint": _Reader(("model_name", "constraint"), _named_object("constraint")),
    "AlterConstraint": _Reader(("model_name", "name", "constraint"), _remove_named),
    "RemoveConstraint": _Reader(("model_name", "name"), _remove_named),
    "SeparateDatabaseAndState": _Reader(("database_operations", "state_operations"), _separate),
    "RunPython": _Reader(("code", "reverse_code"), _run_python),
    "RunSQL": _Reader(("sql", "reverse_sql", "state_operations"), _run_sql),
    # django.contrib.postgres.operations
    "AddIndexConcurrently": _Reader(("model_name", "index"), _named_object("index")),
    "RemoveIndexConcurrently": _Reader(("model_name", "name"), _remove_named),
    "AddConstraintNotValid": _Reader(("model_name", "constraint"), _named_object("constraint")),
    "ValidateConstraint": _Reader(("model_name", "name"), _remove_named),
}


def _trigger_name(node: ast.expr | None) -> str | None:
    """The name of a pgtrigger `Trigger(name=...)`."""
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "name":
                return const_str(kw.value)
    return None


def _add_trigger(name: str, args: dict[str, ast.expr], ctx: Context) -> Operation:
    """pgtrigger's AddTrigger: a trigger on the model's table (what its body does later, when
    rows change, is no change this migration makes)."""
    bad = _needs(name, args, "model_name")
    if bad:
        return bad
    model = lower_str(args["model_name"])
    found = _trigger_name(args.get("trigger"))
    if found is None:
        note = f"{name}'s trigger has no literal name"
        return Operation(op=name, model=model, readable=False, note=note)
    return Operation(op=name, model=model, names=(found,))


# Operations of other packages, by the dotted name the file imports them under.
THIRD_PARTY_READERS: dict[str, _Reader] = {
    "pgtrigger.migrations.AddTrigger": _Reader(("model_name", "trigger"), _add_trigger),
    "pgtrigger.migrations.RemoveTrigger": _Reader(("model_name", "name"), _remove_named),
}

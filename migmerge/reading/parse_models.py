"""Model classes a RunPython's code uses directly: imported, not taken from `apps`.

Django's advice is `apps.get_model(...)`, but data functions often import
the model (`from shop.models import Stock`, then `Stock.objects...`), most
of all helpers shared with management commands. Such code reaches that
model as surely as through `apps`; before this, it was read as reaching
nothing, so a conflict with a branch that changes the model could be
called `none`. A name imported from a models module (`shop.models`,
`shop.models.stock`, `waffle.models`, `django.contrib.contenttypes.models`)
is the model of that name, labelled by the folder above `models`
(Django's default label; the conflict's own app when it is named so), as is
a class the lookup finds in a `models.py` or a `models/` package. Any
other name (a class of some other module, or one that cannot be followed)
is unknown.
"""

from __future__ import annotations

import ast

from migmerge.reading.parse_names import Context, lookup

# A model's managers: what code that uses the model itself reaches for.
MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})


def direct_models(code: ast.AST, ctx: Context) -> tuple[list[str], list[str]]:
    """The models `code` uses through imported names (`Stock.objects`), and what is not read.

    Names the code binds itself (parameters, `Stock = apps.get_model(...)`)
    are the historical models and are read elsewhere; names it imports
    (`from shop.models import Stock as S` inside the function) count.
    """
    local = _bound_here(code)
    inner = _imported_inside(code)
    models: list[str] = []
    problems: list[str] = []
    for node in ast.walk(code):
        if not (
            isinstance(node, ast.Attribute)
            and node.attr in MANAGERS
            and isinstance(node.value, ast.Name)
            and node.value.id not in local
        ):
            continue
        name = node.value.id
        model = _model_of(name, inner.get(name) or ctx.origins.get(name), ctx)
        if model is None:
            problems.append(f"uses {name}.{node.attr}, a model class not taken from apps")
        else:
            models.append(model)
    return models, problems


def _bound_here(code: ast.AST) -> set[str]:
    """Names a function binds: its parameters and what it assigns."""
    names = {
        n.id for n in ast.walk(code) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    args = getattr(code, "args", None)
    if isinstance(args, ast.arguments):
        names |= {a.arg for a in ast.walk(args) if isinstance(a, ast.arg)}
    return names


def _imported_inside(code: ast.AST) -> dict[str, tuple[str, str, int]]:
    """`from m import X as Y` inside the code: Y -> (m, X, level), as Context.origins has it."""
    out: dict[str, tuple[str, str, int]] = {}
    for node in ast.walk(code):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                out[alias.asname or alias.name] = (node.module or "", alias.name, node.level)
    return out


def _model_of(name: str, origin: tuple[str, str, int] | None, ctx: Context) -> str | None:
    """The model an imported name is: `app.model` by the models module it comes from."""
    if origin is not None and origin[1] and origin[1] != "*":
        module, attribute, level = origin
        dotted = module.split(".") if module else []
        if level:  # `from ..models import X`: the folders above the importer
            folders = (ctx.path or "").split("/")[:-1]
            dotted = folders[: len(folders) - (level - 1)] + dotted
        if "models" in dotted and dotted.index("models") > 0:
            return _label(dotted[dotted.index("models") - 1], attribute, ctx)
    if name in ctx.origins or origin is None:
        found = lookup(name, ctx)
        if found is not None and isinstance(found[0], ast.ClassDef):
            return _defined_model(found[0].name, found[1].path or ctx.path, ctx)
        if found is not None and isinstance(found[0], ast.Call):
            return _got_model(found[0], ctx)
    return None


def _got_model(call: ast.Call, ctx: Context) -> str | None:
    """`X = apps.get_model('osf', 'Node')` at module level (Django's registry): that model."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "get_model") or call.keywords:
        return None
    words = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if len(words) != len(call.args):
        return None
    if len(words) == 1 and words[0].count(".") == 1:
        words = words[0].split(".")
    return _label(words[0], words[1], ctx) if len(words) == 2 else None


def _defined_model(name: str, path: str, ctx: Context) -> str | None:
    """A class found in a `models.py` or a `models/` package of the tree."""
    parts = path.split("/")
    if "models" in parts[:-1]:
        folder = parts[: parts.index("models")]
    elif parts[-1] == "models.py":
        folder = parts[:-1]
    else:
        return None
    return _label(folder[-1], name, ctx) if folder else None


def _label(folder: str, name: str, ctx: Context) -> str:
    # By the folder's name, Django's default label: a model of the conflict's
    # app carries that label, so it is never mistaken for another app's.
    model = name.lower()
    return model if folder == ctx.app else f"{folder}.{model}"

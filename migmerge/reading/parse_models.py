"""Model classes a RunPython's code uses directly: imported, not taken from `apps`.

Django's advice is `apps.get_model(...)`, but data functions often import
the model (`from shop.models import Stock`, then `Stock.objects...`), most
of all helpers shared with management commands. Such code reaches that
model as surely as through `apps`; before this, it was read as reaching
nothing, so a conflict with a branch that changes the model could be
called `none`. A class of the repository in a `models.py` or a `models/`
package is that model: of the migration's own app when the folder is named
like its label, else `<folder>.<class>` (Django's default label), as a
model of `django.contrib` is (`ContentType`: `contenttypes.contenttype`).
A name that cannot be followed to such a class is unknown.
"""

from __future__ import annotations

import ast

from migmerge.reading.parse_names import Context, lookup

# A model's managers: what code that uses the model itself reaches for.
MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})


def direct_models(code: ast.AST, ctx: Context) -> tuple[list[str], list[str]]:
    """The models `code` uses through module-level names (`Stock.objects`), and what is not read.

    Names the code binds itself (parameters, `Stock = apps.get_model(...)`)
    are the historical models and are read elsewhere.
    """
    local = _bound_here(code)
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
        model = _model_of(name, ctx)
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


def _model_of(name: str, ctx: Context) -> str | None:
    """The model a module-level name is, when it is a class of the migration's own app."""
    origin = ctx.origins.get(name)
    if origin is not None and origin[0].startswith("django.contrib.") and origin[1]:
        module = origin[0].split(".")
        if len(module) == 4 and module[3] == "models":  # django.contrib.<label>.models
            return f"{module[2]}.{origin[1].lower()}"
    found = lookup(name, ctx)
    if found is None or not isinstance(found[0], ast.ClassDef):
        return None
    path = found[1].path or ctx.path
    parts = path.split("/")
    if "models" in parts[:-1]:
        folder = parts[: parts.index("models")]
    elif parts[-1] == "models.py":
        folder = parts[:-1]
    else:
        return None
    if not folder:
        return None
    model = found[0].name.lower()
    # Another app's class: by the folder's name, Django's default label (a model
    # of the conflict's app is never mistaken for it: it carries that label).
    return model if folder[-1] == ctx.app else f"{folder[-1]}.{model}"

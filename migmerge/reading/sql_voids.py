"""Which functions some SQL creates returning void, and `EXECUTE f(...)` of one.

PL/pgSQL's `EXECUTE expr` runs the text `expr` evaluates to. For a call of a
function that returns void that text is empty: EXECUTE calls the function and
runs nothing more (rapidpro's triggers write `EXECUTE helper(...)` for
`PERFORM helper(...)`). So such an EXECUTE is no SQL built at run time, when
the same SQL creates the function `RETURNS void` with that many arguments,
in that schema, and never returning anything else. Tokens in (sqlparse's,
whitespace and comments left out), answers out; nothing is run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Voids = dict[str, set[tuple[str | None, int, int]]]
"""Functions the same SQL creates, by lower-case name: (schema, fewest, most arguments)
of each definition returning void; a name also created returning anything else is left out."""


def void_functions(statements: Iterable[Sequence[Any]]) -> Voids:
    """The functions these statements (their tokens) create that return void.

    Read from `CREATE [OR REPLACE] FUNCTION [schema.]name(params) RETURNS void`;
    a function with OUT or VARIADIC parameters, or created twice with another
    result type, is not one.
    """
    void: Voids = {}
    other: set[str] = set()
    for words in statements:
        _void_function(words, void, other)
    return {name: found for name, found in void.items() if name not in other}


def _void_function(words: Sequence[Any], void: Voids, other: set[str]) -> None:
    """Note the function one statement creates: in `void` when it returns void, else `other`."""
    if len(words) > 2 and str(words[0].normalized).upper().startswith("CREATE"):
        if str(words[1].value).upper() != "FUNCTION":
            return
        schema, name, at = _called(words, 2)
        close = _closing(words, at) if name else None
        if name is None:
            return
        arity = _arity(words[at + 1 : close]) if close is not None else None
        returns = [str(t.value).upper() for t in words[close + 1 : close + 3]] if close else []
        if arity is not None and returns == ["RETURNS", "VOID"]:
            void.setdefault(name, set()).add((schema, arity[0], arity[1]))
        else:
            other.add(name)


def executes_void(words: Sequence[Any], at: int, void: Voids) -> bool:
    """`EXECUTE f(args);` where f is a void function `void` knows: the command string is
    empty, so EXECUTE runs f and nothing else (what f's own body names is read where it is
    created). Anything after the call (`|| ...`, USING, INTO) is not this."""
    schema, name, at = _called(words, at)
    close = _closing(words, at) if name else None
    if name is None or close is None or name not in void:
        return False
    if close + 1 < len(words) and words[close + 1].value != ";":
        return False
    given = _arity(words[at + 1 : close])
    return given is not None and any(
        (schema is None or where is None or schema == where) and low <= given[1] <= high
        for where, low, high in void[name]
    )


def _called(words: Sequence[Any], at: int) -> tuple[str | None, str | None, int]:
    """`[schema.]name(` from `at`: (schema, name, index of the bracket); name None if not one."""
    parts: list[str] = []
    while at < len(words) and str(words[at].ttype).startswith("Token.Name"):
        parts.append(str(words[at].value).strip('"').lower())
        if at + 1 < len(words) and words[at + 1].value == ".":
            at += 2
        else:
            at += 1
            break
    if not 1 <= len(parts) <= 2 or at >= len(words) or words[at].value != "(":
        return None, None, at
    return (parts[0] if len(parts) == 2 else None), parts[-1], at


def _closing(words: Sequence[Any], at: int) -> int | None:
    """The index of the bracket closing the one at `at`."""
    depth = 0
    for i in range(at, len(words)):
        if words[i].ttype is not None and str(words[i].ttype) == "Token.Punctuation":
            depth += {"(": 1, ")": -1}.get(words[i].value, 0)
            if depth == 0:
                return i
    return None


def _arity(inside: Sequence[Any]) -> tuple[int, int] | None:
    """How many arguments a parameter list takes (fewest, most), or a call passes (n, n);
    None for OUT, INOUT or VARIADIC parameters."""
    items: list[list[str]] = [[]]
    depth = 0
    for token in inside:
        value = str(token.value)
        if value in "()" and str(token.ttype) == "Token.Punctuation":
            depth += 1 if value == "(" else -1
        if value == "," and depth == 0:
            items.append([])
        else:
            items[-1].append(value.upper())
    if items == [[]]:
        return 0, 0
    if any(item[:1] and item[0] in ("OUT", "INOUT", "VARIADIC") for item in items):
        return None
    required = sum(1 for item in items if "DEFAULT" not in item and "=" not in item)
    return required, len(items)

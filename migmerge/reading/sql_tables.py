"""Which tables some SQL names: RunSQL statements read with sqlparse's lexer, never run.

Text in, lower-case table names out, and a problem when a statement's kind
cannot be told (then the caller takes the SQL as touching anything). sqlparse
ships with Django and is imported only when SQL must be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Statements sqlparse does not type but that are well understood and name tables
# only after the keywords below.
KNOWN_UNTYPED = frozenset(
    {
        "TRUNCATE",
        "SET",
        "RESET",
        "COMMENT",
        "GRANT",
        "REVOKE",
        "VACUUM",
        "ANALYZE",
        "LOCK",
        "REFRESH",  # REFRESH MATERIALIZED VIEW: a view, no model's table
        "REINDEX",
        "BEGIN",
        "COMMIT",
        "NOTIFY",
    }
)


TABLE_AFTER = frozenset({"FROM", "INTO", "UPDATE", "TABLE", "REFERENCES", "TRUNCATE", "JOIN"})


SKIP_WORDS = frozenset({"IF", "NOT", "EXISTS", "ONLY", "TABLE", "CONCURRENTLY", "LATERAL"})


def sql_tables(statements: Sequence[str]) -> tuple[tuple[str, ...], str | None]:
    """Return the lower-case tables some SQL names, and a problem when it cannot be read.

    The statements are split and tokenized, not grouped: grouping is what
    stops at sqlparse's token limit (a 38 KB seed INSERT), and table names
    need only the tokens.
    """
    from sqlparse.engine import FilterStack  # shipped with Django; only when SQL must be read

    tables: list[str] = []
    for text in statements:
        statement: Any
        for statement in FilterStack().run(text):  # type: ignore[no-untyped-call]
            words = [t for t in statement.flatten() if not (t.is_whitespace or _is_comment(t))]
            if not words:
                continue
            first = words[0].value.upper()
            if _statement_type(words) == "UNKNOWN" and first not in KNOWN_UNTYPED:
                return (), f"its SQL cannot be read: `{_short(str(statement))}`"
            tables += _tables_in(words)
            for body in _bodies(words):
                found, problem = _body_tables(body)
                if problem:
                    return (), problem
                tables += found
    return tuple(dict.fromkeys(tables)), None  # each once, in order


def _bodies(words: Sequence[Any]) -> list[str]:
    """The code of a function or procedure a statement creates: its dollar-quoted strings."""
    out = []
    for token in words:
        value = str(token.value)
        if str(token.ttype).startswith("Token.Literal") and value.startswith("$"):
            tag_end = value.find("$", 1)
            tag = value[: tag_end + 1]
            if tag_end > 0 and value.endswith(tag) and len(value) >= 2 * len(tag):
                out.append(value[len(tag) : len(value) - len(tag)])
    return out


def _body_tables(body: str) -> tuple[list[str], str | None]:
    """The tables the SQL inside a PL/pgSQL body names (BEGIN, IF, RETURN ... around it).

    SQL built at run time (`EXECUTE` of a string) cannot be read.
    """
    from sqlparse.engine import FilterStack

    tables: list[str] = []
    statement: Any
    for statement in FilterStack().run(body):  # type: ignore[no-untyped-call]
        words = [t for t in statement.flatten() if not (t.is_whitespace or _is_comment(t))]
        for i, token in enumerate(words):
            if str(token.value).upper() == "EXECUTE" and not (
                i + 1 < len(words) and str(words[i + 1].value).upper() in ("PROCEDURE", "FUNCTION")
            ):
                return [], f"its SQL runs SQL built at run time: `{_short(str(statement))}`"
        tables += _tables_in(words)
        for inner in _bodies(words):
            found, problem = _body_tables(inner)
            if problem:
                return [], problem
            tables += found
    return tables, None


def _statement_type(words: Sequence[Any]) -> str:
    """What sqlparse's get_type says, from the tokens: SELECT, INSERT, CREATE, ... or UNKNOWN."""
    kind = str(words[0].ttype)
    if kind in ("Token.Keyword.DML", "Token.Keyword.DDL"):
        return str(words[0].normalized)
    if kind != "Token.Keyword.CTE":
        return "UNKNOWN"
    depth = 0  # WITH x AS (...) INSERT ...: the first statement word outside brackets
    for token in words[1:]:
        depth += {"(": 1, ")": -1}.get(token.value, 0) if token.ttype is not None else 0
        if depth == 0 and str(token.ttype) == "Token.Keyword.DML":
            return str(token.normalized)
    return "UNKNOWN"


def _is_comment(token: object) -> bool:
    ttype = getattr(token, "ttype", None)
    return ttype is not None and "Comment" in str(ttype)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tables_in(words: Sequence[object]) -> list[str]:
    """Collect the table names that follow table-naming keywords."""
    out: list[str] = []
    seen_index = False
    for i, token in enumerate(words):
        if not _is_keyword(token):
            continue
        word = str(getattr(token, "normalized", "")).upper()
        seen_index = seen_index or word in ("INDEX", "TRIGGER", "RULE", "POLICY")
        if word in TABLE_AFTER or word.endswith(" JOIN") or (word == "ON" and seen_index):
            name = _name_at(words, i + 1)
            if name:
                out.append(name)
    return out


def _is_keyword(token: object) -> bool:
    return "Keyword" in str(getattr(token, "ttype", ""))


def _name_at(words: Sequence[object], at: int) -> str | None:
    """Read a possibly schema-qualified, possibly quoted name starting at `at`."""
    while (
        at < len(words) and set(str(getattr(words[at], "value", "")).upper().split()) <= SKIP_WORDS
    ):
        at += 1
    name = None
    while at < len(words) and _is_name(words[at]):
        name = str(getattr(words[at], "value", "")).strip('"`[]').lower()
        if at + 1 < len(words) and getattr(words[at + 1], "value", "") == ".":
            at += 2
        else:
            break
    return name


def _is_name(token: object) -> bool:
    ttype = str(getattr(token, "ttype", ""))
    return (
        ttype.startswith("Token.Name")
        or ttype == "Token.Literal.String.Symbol"
        or ("Keyword" in ttype and str(getattr(token, "value", "")).upper() not in TABLE_AFTER)
    )

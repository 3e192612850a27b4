"""Which tables some SQL names: RunSQL statements read with sqlparse's lexer, never run.

Text in, lower-case table names out, and a problem when a statement's kind
cannot be told (then the caller takes the SQL as touching anything). sqlparse
ships with Django and is imported only when SQL must be read.

A `DO` block runs its body at once: its statements are read like a
function's body (and, like it, `EXECUTE` of a string cannot be read).
UNREAD marks a value the migration's code splices into the SQL without the
file telling what it is (`.format(settings.LANGUAGE_CODE)`): inside a quoted
literal it is data, not a name (unless the literal is read as a name:
`'...'::regclass`, `to_regclass('...')`); anywhere else the SQL cannot be read.
Taken on trust there: that the value holds no quote that would end the literal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from migmerge.reading.sql_voids import Voids, executes_void, void_functions

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
        "DO",  # an anonymous code block: its body (dollar-quoted) is read below
    }
)

# Stands in SQL text for a value the migration's code does not tell (see above).
UNREAD = "migmerge_unread_value"

# Casts and functions that read a quoted literal as a name (a table, a sequence, a type).
NAME_CASTS = frozenset({"regclass", "regtype", "regproc", "regprocedure", "regnamespace"})
NAME_FUNCTIONS = frozenset(
    {
        "to_regclass",
        "nextval",
        "setval",
        "currval",
        "pg_get_serial_sequence",
        "quote_ident",
        "format",
        "has_table_privilege",
        "pg_total_relation_size",
        "pg_relation_size",
    }
)


TABLE_AFTER = frozenset(
    {"FROM", "INTO", "UPDATE", "TABLE", "REFERENCES", "TRUNCATE", "JOIN", "USING"}
)


SKIP_WORDS = frozenset({"IF", "NOT", "EXISTS", "ONLY", "TABLE", "CONCURRENTLY", "LATERAL"})


def sql_tables(statements: Sequence[str]) -> tuple[tuple[str, ...], str | None]:
    """Return the lower-case tables some SQL names, and a problem when it cannot be read.

    The statements are split and tokenized, not grouped: grouping is what
    stops at sqlparse's token limit (a 38 KB seed INSERT), and table names
    need only the tokens.
    """
    tables: list[str] = []
    void = _void_functions(statements)
    for text in statements:
        statement: Any
        for statement in _split(text):
            tokens = list(statement.flatten())
            words = [t for t in tokens if not (t.is_whitespace or _is_comment(t))]
            if not words:
                continue
            if _unread_as_name(tokens):
                return (), _unread_problem(statement)
            first = words[0].value.upper()
            if _statement_type(words) == "UNKNOWN" and first not in KNOWN_UNTYPED:
                return (), f"its SQL cannot be read: `{_short(str(statement))}`"
            tables += _tables_in(words)
            for body in _bodies(words):
                found, problem = _body_tables(body, void)
                if problem:
                    return (), problem
                tables += found
    return tuple(dict.fromkeys(tables)), None  # each once, in order


def _split(text: str) -> Iterator[Any]:
    """sqlparse's statements of `text`, tokenized, `GO` read as the name it is.

    sqlparse ends a statement at the word `GO` (T-SQL's batch separator);
    PostgreSQL, MySQL and SQLite have none, so `FROM guardian_groupobjectpermission
    GO, django_content_type CT` is one statement whose alias is `GO`.
    """
    from sqlparse.engine import FilterStack  # shipped with Django; only when SQL must be read

    stack = FilterStack()  # type: ignore[no-untyped-call]
    stack.preprocess.append(_GoIsAName())
    return stack.run(text)  # type: ignore[no-any-return, no-untyped-call]


class _GoIsAName:
    """A sqlparse stream filter: the keyword `GO` (any case) is a name."""

    def process(self, stream: Iterable[tuple[Any, str]]) -> Iterator[tuple[Any, str]]:
        from sqlparse import tokens

        for ttype, value in stream:
            if ttype is tokens.Keyword and value.split()[0].upper() == "GO":
                ttype = tokens.Name
            yield ttype, value


def _bodies(words: Sequence[Any]) -> list[str]:
    """The code of a function or procedure a statement creates: its dollar-quoted strings."""
    out = []
    for token in words:
        if _is_dollar_quoted(token):
            value = str(token.value)
            tag = value[: value.find("$", 1) + 1]
            out.append(value[len(tag) : len(value) - len(tag)])
    return out


def _body_tables(body: str, void: Voids) -> tuple[list[str], str | None]:
    """The tables the SQL inside a PL/pgSQL body names (BEGIN, IF, RETURN ... around it).

    SQL built at run time (`EXECUTE` of a string) cannot be read; `EXECUTE f(...)`
    of a function `void` says returns nothing runs no SQL but the call.
    """
    tables: list[str] = []
    statement: Any
    for statement in _split(body):
        tokens = list(statement.flatten())
        words = [t for t in tokens if not (t.is_whitespace or _is_comment(t))]
        if _unread_as_name(tokens):
            return [], _unread_problem(statement)
        for i, token in enumerate(words):
            if (
                str(token.value).upper() == "EXECUTE"
                and not (
                    i + 1 < len(words)
                    and str(words[i + 1].value).upper() in ("PROCEDURE", "FUNCTION")
                )
                and not executes_void(words, i + 1, void)
            ):
                return [], f"its SQL runs SQL built at run time: `{_short(str(statement))}`"
        tables += _tables_in(words)
        for inner in _bodies(words):
            found, problem = _body_tables(inner, void)
            if problem:
                return [], problem
            tables += found
    return tables, None


def _unread_as_name(tokens: Sequence[Any]) -> bool:
    """Whether a value the file does not tell (UNREAD) sits where it may be a name or SQL.

    Inside a quoted string literal it is data; inside a dollar-quoted body it
    is judged when the body is read; anywhere else (a bare word, a quoted
    identifier, a comment, a literal read as a name) it may be anything.
    """
    words = [t for t in tokens if not t.is_whitespace]
    for i, token in enumerate(words):
        if UNREAD not in str(token.value):
            continue
        if _is_dollar_quoted(token):
            continue
        if str(token.ttype) != "Token.Literal.String.Single" or _read_as_name(words, i):
            return True
    return False


def _read_as_name(words: Sequence[Any], at: int) -> bool:
    """Whether the literal at `at` is read as a name, or as code.

    Cast to a name type, passed to a function that takes a name, or the
    quoted body of a function a statement creates (`AS '...'`).
    """
    if any(str(w.value).upper() in ("FUNCTION", "PROCEDURE") for w in words[:at]):
        return True
    cast = at + 1  # '...'::text::regclass, CAST('...' AS regclass)
    while cast + 1 < len(words) and str(words[cast].value).lower() in ("::", "as"):
        if str(words[cast + 1].value).lower() in NAME_CASTS:
            return True
        cast += 2
    depth = 0
    for i in range(at - 1, 0, -1):  # the call whose brackets hold the literal
        value = words[i].value
        if value == ")":
            depth += 1
        elif value == "(":
            if depth == 0:
                return str(words[i - 1].value).lower().split(".")[-1] in NAME_FUNCTIONS
            depth -= 1
    return False


def _unread_problem(statement: object) -> str:
    text = _short(str(statement).replace(UNREAD, "{?}"))
    return f"its SQL holds a value the file does not tell where a name may be: `{text}`"


def _is_dollar_quoted(token: Any) -> bool:
    value = str(token.value)
    tag_end = value.find("$", 1) if value.startswith("$") else -1
    tag = value[: tag_end + 1]
    return (
        str(token.ttype).startswith("Token.Literal")
        and tag_end > 0
        and value.endswith(tag)
        and len(value) >= 2 * len(tag)
    )


def _void_functions(statements: Sequence[str]) -> Voids:
    """The functions these statements create returning void (sql_voids.py); only SQL that
    says EXECUTE is tokenized for them again."""
    if not any("execute" in text.lower() for text in statements):
        return {}
    return void_functions(
        [t for t in statement.flatten() if not (t.is_whitespace or _is_comment(t))]
        for text in statements
        for statement in _split(text)
    )


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
    """Collect the table names that follow table-naming keywords (each of a `FROM a, b` list)."""
    out: list[str] = []
    seen_index = False
    for i, token in enumerate(words):
        if not _is_keyword(token):
            continue
        word = str(getattr(token, "normalized", "")).upper()
        seen_index = seen_index or word in ("INDEX", "TRIGGER", "RULE", "POLICY")
        if word == "USING" and seen_index:
            continue  # CREATE INDEX ... USING gin: an index method
        if word in TABLE_AFTER or word.endswith(" JOIN") or (word == "ON" and seen_index):
            at = i + 1
            while True:
                name, at = _name_at(words, at)
                if not name:
                    break
                out.append(name)
                at = _after_alias(words, at)
                if at >= len(words) or getattr(words[at], "value", "") != ",":
                    break
                at += 1
    return out


def _after_alias(words: Sequence[object], at: int) -> int:
    """Past a table's alias (`tiles t`, `tiles AS t`), if one follows at `at`."""
    if at < len(words) and str(getattr(words[at], "value", "")).upper() == "AS":
        return at + 2
    if at < len(words) and str(getattr(words[at], "ttype", "")) == "Token.Name":
        return at + 1
    return at


def _is_keyword(token: object) -> bool:
    return "Keyword" in str(getattr(token, "ttype", ""))


def _name_at(words: Sequence[object], at: int) -> tuple[str | None, int]:
    """Read a possibly schema-qualified, possibly quoted name starting at `at`; and past it."""
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
            at += 1
            break
    return name, at


def _is_name(token: object) -> bool:
    ttype = str(getattr(token, "ttype", ""))
    return (
        ttype.startswith("Token.Name")
        or ttype == "Token.Literal.String.Symbol"
        or ("Keyword" in ttype and str(getattr(token, "value", "")).upper() not in TABLE_AFTER)
    )

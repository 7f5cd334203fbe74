"""Compile a parsed Query into an SQLite FTS5 MATCH expression.

Every term becomes a double-quoted phrase of word tokens, so nothing a person types
can reach FTS5's own syntax (NEAR, column filters, `*`, `^`, quotes).
"""

from __future__ import annotations

from bot.query import Query, Term

TEXT_COLUMNS = "{title abstract keywords}"
AUTHOR_COLUMN = "authors"


def compile_match(query: Query) -> str:
    """The MATCH expression for a non-empty query."""
    if query.is_empty:
        raise ValueError("an empty query has no MATCH expression")
    positive = " AND ".join(_group(group) for group in query.groups)
    if not query.excluded:
        return positive
    excluded = " OR ".join(_phrase(t) for t in query.excluded)
    return f"({positive}) NOT ({excluded})"


def _group(terms: tuple[Term, ...]) -> str:
    if len(terms) == 1:
        return _phrase(terms[0])
    return "(" + " OR ".join(_phrase(t) for t in terms) + ")"


def _phrase(term: Term) -> str:
    columns = AUTHOR_COLUMN if term.field == "author" else TEXT_COLUMNS
    text = " ".join(term.tokens).replace('"', '""')
    return f'{columns} : "{text}"'

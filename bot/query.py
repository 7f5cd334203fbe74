"""The query language people type: words, "phrases", OR, -exclude, author:Name.

Parsing never fails on odd input (`gpt-4`, `c++`, a lone `"`): anything that is not
a word is a separator. The result is a small tree that the store's search, the alert
percolator and `bot.matching` all evaluate, each reading the words through
`bot.text.analyze` as the papers' text is read, so they find the same papers.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from bot.errors import QueryError
from bot.text import analyze_words, words

MAX_QUERY_CHARS = 500
MAX_TERMS = 32

Field = Literal["text", "author"]


class Term(NamedTuple):
    """A word or phrase (a run of word tokens, as typed) to find in a field."""

    field: Field
    tokens: tuple[str, ...]

    def __str__(self) -> str:
        body = " ".join(self.tokens)
        if len(self.tokens) > 1:
            body = f'"{body}"'
        return f"author:{body}" if self.field == "author" else body


class Query(NamedTuple):
    """All `groups` must match (each group is an OR of terms); no `excluded` term may."""

    groups: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def terms(self) -> list[Term]:
        """Every positive term, in order."""
        return [t for group in self.groups for t in group]

    def __str__(self) -> str:
        parts = [" OR ".join(str(t) for t in g) for g in self.groups]
        parts += [f"-{t}" for t in self.excluded]
        return " ".join(parts)


# A token is a quoted phrase (closing quote optional), or a run of non-space characters.
# Either may carry a leading `-` and/or an `author:` prefix.
_TOKEN = re.compile(r'(-?)(author:)?(?:"([^"]*)"?|(\S+))', re.IGNORECASE)


def parse_query(text: str, *, max_chars: int = MAX_QUERY_CHARS) -> Query:
    """Parse a person's query; only raise QueryError for input that is too long."""
    if len(text) > max_chars:
        raise QueryError(f"That query is {len(text):,} characters long; keep it under {max_chars}.")
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False  # the previous token was OR
    for match in _TOKEN.finditer(text):
        minus, author, quoted, bare = match.groups()
        raw = quoted if quoted is not None else bare
        if quoted is None and not minus and not author and raw == "OR":
            join_next = bool(groups)
            continue
        if quoted is None and author and not raw:
            continue
        tokens = tuple(words(raw))
        if not analyze_words(tokens):  # no word at all, or only accents
            continue
        term = Term("author" if author else "text", tokens)
        if minus:
            excluded.append(term)
            join_next = False
        elif join_next and groups:
            groups[-1].append(term)
            join_next = False
        else:
            groups.append([term])
    if sum(len(g) for g in groups) + len(excluded) > MAX_TERMS:
        raise QueryError(f"That query has too many terms; use at most {MAX_TERMS}.")
    return Query(tuple(_dedupe(g) for g in groups), tuple(_dedupe(excluded)))


def _dedupe(terms: list[Term]) -> tuple[Term, ...]:
    return tuple(dict.fromkeys(terms))


def author_query(name: str) -> Query:
    """A query matching one author by name (the --author / author: filter)."""
    tokens = tuple(words(name))
    return Query(((Term("author", tokens),),)) if analyze_words(tokens) else Query()


def combine(*queries: Query) -> Query:
    """AND several queries together."""
    groups: list[tuple[Term, ...]] = []
    excluded: list[Term] = []
    for q in queries:
        groups.extend(q.groups)
        excluded.extend(q.excluded)
    return Query(tuple(groups), tuple(dict.fromkeys(excluded)))

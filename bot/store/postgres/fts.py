"""The PostgreSQL side of search: the tsvectors the store writes and tsqueries compiled for them.

PostgreSQL's own parser and dictionaries never see a paper or a query: the store writes each
paper's `search` vector itself, from the words `bot.text.analyze` reads (the one analysis
that SQLite's index and the alerts use too), and queries are cast to `tsquery` from the same
analysed words. So both backends find the same papers for the same query.

Weights name the fields: A title, B keywords, C authors, D abstract (`ts_rank`'s default
weights make them count 1.0, 0.4, 0.2 and 0.1). A plain term searches A, B and D; `author:`
searches C only. A gap of one position separates two fields, two keywords and two authors,
so that no phrase can span them (SQLite's index puts a separator token there).

Search reads `paper_search` (migration 0006: pk, list_date and `search`, kept by a trigger
on `papers`). Matching runs on two vectors GIN indexes as expressions of `search`: TEXT_WORDS
(its A, B and D positions, plus its pk block lexemes) and AUTHOR_WORDS (its C positions).
A query over them needs no weights, so GIN answers a plain word from the index alone.
`search` ranks the matches.

A phrase is asked of GIN as its word pairs (migration 0010): each paper's `pairs` vector
holds one lexeme 'a~b' for every two COMMON words (pair_words.PAIR_WORDS) at adjacent
positions of `search`'s A, B and D positions (the migration's `search_pairs` says it in SQL),
and TEXT_WORDS holds them too. A phrase asks GIN for its pairs of adjacent common words and
for its other words plainly, so a phrase of two common words finds exactly its papers, and
`search @@ phrase` is tested on those few, not on every paper holding both words.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from bot.query import Query, Term
from bot.store.postgres.pair_words import PAIR_WORDS
from bot.text import analyze, analyze_words, plain_words

TEXT_WEIGHTS = "ABD"
AUTHOR_WEIGHT = "C"
MAX_POSITION = 16383  # PostgreSQL keeps positions up to this; later ones count as this
# The matching vectors, exactly as migration 0010 indexes them (the planner matches the text).
TEXT_WORDS = (
    "(ts_filter(d.search, '{a,b,d}') || d.pairs || ('''#13_' || (d.pk >> 13) || ''' ''#15_'"
    " || (d.pk >> 15) || '''')::tsvector)"
)
PAIR = "~"  # joins the two words of a pair lexeme (analysed words are letters and digits)
AUTHOR_WORDS = "(ts_filter(d.search, '{c}'))"
# TEXT_WORDS holds a block lexeme per level: '#13_' + str(pk >> 13), '#15_' + str(pk >> 15).
BLOCK_LEVELS = (13, 15)
MAX_BLOCKS = 2  # more blocks ORed cost GIN more than they save (each is one more entry)
BUCKET = "/*bucket*/"  # where compile_where's text condition may take a bucket restriction


def search_vectors(
    title: str, abstract: str, keywords: Sequence[str], authors: Sequence[str]
) -> tuple[str, str]:
    """A paper's `search` tsvector (lexeme:position+weight) and its `pairs` tsvector, as
    tsvector input text."""
    positions: dict[str, list[str]] = {}
    pairs: set[str] = set()
    common = PAIR_WORDS
    at = 0
    for weight, items in _fields(title, abstract, keywords, authors):
        labels = _LABELS[weight]
        for item in items:
            words = analyze(item)
            start = at + 2  # after the gap before each field and each keyword or author
            at += 1 + len(words)
            if at < _LABELED:
                for label, word in zip(labels[start : at + 1], words, strict=True):
                    got = positions.get(word)
                    if got is None:
                        positions[word] = [label]
                    else:
                        got.append(label)
            else:
                for n, word in enumerate(words, start):
                    positions.setdefault(word, []).append(f"{min(n, MAX_POSITION)}{weight}")
            if weight != AUTHOR_WEIGHT:  # a pair for every two adjacent common text words
                for a, b in itertools.pairwise(words):
                    if a in common and b in common:
                        pairs.add(f"{a}{PAIR}{b}")
    if at >= MAX_POSITION or max(map(len, positions.values()), default=0) > 256:
        # Some positions are capped or dropped: pair only those the stored vector keeps.
        pairs = _kept_pairs(title, abstract, keywords, authors)
    return _vector(positions), " ".join(_quote(p) for p in sorted(pairs))


# The text of the first positions, "nA" .. "nD", made once (looked up for each word).
_LABELED = 2048
_LABELS = {w: tuple(f"{n}{w}" for n in range(_LABELED)) for w in "ABCD"}


def _fields(
    title: str, abstract: str, keywords: Sequence[str], authors: Sequence[str]
) -> tuple[tuple[str, Sequence[str]], ...]:
    return (("A", [title]), ("B", keywords), (AUTHOR_WEIGHT, authors), ("D", [abstract]))


def _kept_pairs(
    title: str, abstract: str, keywords: Sequence[str], authors: Sequence[str]
) -> set[str]:
    """The pairs of a long paper's vector, as `search_pairs` reads them: 'a~b' for each
    common word a at a kept text (A, B, D) position whose next position holds the common
    text word b (PostgreSQL keeps a word's first 256 positions, each at most MAX_POSITION).
    At MAX_POSITION itself PostgreSQL keeps one weight, perhaps an author's (C), where this
    pairs the text word: a few pairs more than `search_pairs` gives, which cost GIN a few
    candidates and no result (the exact phrase test removes them)."""
    positions: dict[str, list[tuple[int, str]]] = {}
    at = 0
    for weight, items in _fields(title, abstract, keywords, authors):
        for item in items:
            at += 1
            for word in analyze(item):
                at += 1
                positions.setdefault(word, []).append((min(at, MAX_POSITION), weight))
    words_at: dict[int, list[str]] = {}
    for word, places in positions.items():
        if word in PAIR_WORDS:
            for n, weight in places[:256]:
                if weight != AUTHOR_WEIGHT:
                    words_at.setdefault(n, []).append(word)
    return {
        f"{a}{PAIR}{b}" for n, ws in words_at.items() for a in ws for b in words_at.get(n + 1, ())
    }


def title_vector(title: str) -> str:
    """A paper's `title_words` tsvector: the title's plain words, unstemmed, for prefixes."""
    positions: dict[str, list[str]] = {}
    for at, word in enumerate(plain_words(title), start=1):
        positions.setdefault(word, []).append(str(min(at, MAX_POSITION)))
    return _vector(positions)


def _vector(positions: dict[str, list[str]]) -> str:
    # PostgreSQL keeps at most 256 positions of one lexeme; more would be an error.
    # (Analysed words hold only letters and digits: quoted as they are, unless not.)
    return " ".join(
        f"'{w}':{','.join(p)}"
        if len(p) <= 256 and "'" not in w and "\\" not in w
        else f"{_quote(w)}:{','.join(p[:256])}"
        for w, p in positions.items()
    )


def compile_tsquery(query: Query) -> str:
    """The tsquery text for a non-empty query."""
    if query.is_empty:
        raise ValueError("an empty query has no tsquery")
    positive = " & ".join(_group(group) for group in query.groups)
    if not query.excluded:
        return positive
    excluded = " | ".join(_phrase(t) for t in query.excluded)
    return f"({positive}) & !({excluded})"


def compile_where(query: Query, first: int) -> tuple[str, list[str]]:
    """A SQL condition on TEXT_WORDS and AUTHOR_WORDS (of `paper_search d`) that holds
    exactly where `search @@ compile_tsquery(query)` does, and its tsquery parameters,
    numbered from `first`.

    GIN gets only what it answers exactly from its index, with no recheck of each match
    (a recheck would compute the indexed expression again, row by row): words of one field
    in one tsquery (GIN answers it in one pass; a group that mixes fields is an OR of one
    tsquery per field), a phrase as all of its words. Where that finds more (phrases,
    excluded terms), the condition adds `d.search @@ compile_tsquery(query)`, tested on the
    rows GIN found. Where the text words must match a positive tsquery, BUCKET follows its
    parameter: replacing it with ` && $n::tsquery` (a `bucket_tsquery`) ANDs a restriction
    to some pk blocks into what GIN looks up; replacing it with "" leaves it as it is."""
    if query.is_empty:
        raise ValueError("an empty query has no condition")
    params: list[str] = []

    def on(column: str, tsquery: str, bucket: str = "") -> str:
        params.append(tsquery)
        return f"{column} @@ (${first + len(params) - 1}::tsquery{bucket})"

    single: dict[str, list[str]] = {_TEXT: [], _AUTHOR: []}
    mixed: list[tuple[Term, ...]] = []
    for group in query.groups:
        columns = {_column(t) for t in group}
        if len(columns) == 1:
            single[columns.pop()].append(_group(group, gin=True))
        else:
            mixed.append(group)
    conditions = []
    for column, groups in single.items():
        if groups:
            conditions.append(on(column, " & ".join(groups), BUCKET if column == _TEXT else ""))
    for group in mixed:
        parts = [
            on(column, " | ".join(_phrase(t, gin=True) for t in group if _column(t) == column))
            for column in (_TEXT, _AUTHOR)
        ]
        conditions.append("(" + " OR ".join(parts) + ")")
    if query.excluded or any(len(analyze_words(t.tokens)) > 1 for t in query.terms()):
        params.append(compile_tsquery(query))
        conditions.append(f"d.search @@ ${first + len(params) - 1}::tsquery")
    return " AND ".join(conditions), params


def bucket_tsquery(low: int, high: int) -> str | None:
    """A tsquery that TEXT_WORDS matches for every paper with low < pk <= high (and some
    papers next to them): an OR of at most MAX_BLOCKS blocks of the finest level that
    covers the range with so few; None where no level does."""
    for level in BLOCK_LEVELS:
        first, last = max(low + 1, 0) >> level, max(high, 0) >> level
        if last - first < MAX_BLOCKS:
            return " | ".join(_quote(f"#{level}_{b}") for b in range(first, last + 1))
    return None


def compile_prefix(typed: str) -> str | None:
    """A tsquery for titles with every typed word, the last one as a prefix (as SQLite's)."""
    tokens = plain_words(typed)
    if not tokens:
        return None
    *whole, last = (_quote(t) for t in tokens)
    return " & ".join([*whole, f"{last}:*"])


def compile_term(term: Term) -> str:
    """The tsquery text for one term alone (to rank each term by itself)."""
    return _phrase(term)


_TEXT = TEXT_WORDS
_AUTHOR = AUTHOR_WORDS


def _column(term: Term) -> str:
    return _AUTHOR if term.field == "author" else _TEXT


def _group(terms: tuple[Term, ...], *, gin: bool = False) -> str:
    if len(terms) == 1:
        return _phrase(terms[0], gin=gin)
    return "(" + " | ".join(_phrase(t, gin=gin) for t in terms) + ")"


def _phrase(term: Term, *, gin: bool = False) -> str:
    """A term as tsquery text: its words in a row, in its field's weights; for GIN (`gin`),
    unweighted, a superset GIN decides with no recheck: a text phrase's pairs of adjacent
    common words (`pairs`) and its other words, else all of its words anywhere."""
    words = analyze_words(term.tokens)
    if gin and term.field != "author":
        return "(" + " & ".join(_quote(w) for w in sorted(_gin_words(words))) + ")"
    if gin:
        return "(" + " & ".join(_lexemes(words, "")) + ")"
    restrict = AUTHOR_WEIGHT if term.field == "author" else TEXT_WEIGHTS
    return "(" + " <-> ".join(_lexemes(words, restrict)) + ")"


def _gin_words(words: Sequence[str]) -> set[str]:
    """A text phrase's GIN lexemes: 'a~b' for each two adjacent words both in PAIR_WORDS (the
    pairs every paper holding the phrase has), and each word in no such pair."""
    found: set[str] = set()
    paired: set[int] = set()
    for n, (a, b) in enumerate(itertools.pairwise(words)):
        if a in PAIR_WORDS and b in PAIR_WORDS:
            found.add(f"{a}{PAIR}{b}")
            paired.update((n, n + 1))
    return found | {w for n, w in enumerate(words) if n not in paired}


def _lexemes(words: Iterable[str], weights: str) -> list[str]:
    return [f"{_quote(w)}:{weights}" if weights else _quote(w) for w in words]


def _quote(word: str) -> str:
    # Analysed words hold only letters and digits; quoting keeps anything else inert anyway.
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"

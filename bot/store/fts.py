"""The SQLite FTS5 side of search: what the index holds, and queries compiled for it.

The index (`papers_fts`, migration 0005) holds no text of its own: its columns are the
papers' words as `bot.text.analyze` reads them, joined by spaces and written by the store,
so that /search and alerts read words the same way. Its `ascii` tokenizer splits that text
back exactly: the analysed words hold no ASCII punctuation, and `_` joins nothing else.

Every query term becomes a double-quoted phrase of analysed words, so nothing a person
types can reach FTS5's own syntax (NEAR, column filters, `*`, `^`, quotes).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bot.query import Query, Term
from bot.text import analyze_words, analyzed, plain, plain_words, stems_of

TEXT_COLUMNS = "{title abstract keywords}"
AUTHOR_COLUMN = "authors"
PREFIX_COLUMN = "title_words"  # the title's plain words, unstemmed: for prefix lookups
# Between two keywords or two author names: a token no analysis makes (a word never holds
# `_`), so no phrase can span two of them.
SEPARATOR = "__"
_JOIN = f" {SEPARATOR} "
# Keywords and author names come back paper after paper: each one's analysed words, kept
# for the next paper (bounded; emptied when full, as bot.text's own caches).
_NAMES_LIMIT = 20_000
_names: dict[str, str] = {}


def index_row(
    title: str, abstract: str, keywords: Sequence[str], authors: Sequence[str]
) -> tuple[str, str, str, str, str]:
    """A paper's column values in papers_fts (title, abstract, keywords, authors, title_words)."""
    title_words = plain_words(title)
    return (
        " ".join(stems_of(title_words)),
        analyzed(abstract),
        _JOIN.join(map(_analysed_name, keywords)),
        _JOIN.join(map(_analysed_name, authors)),
        " ".join(title_words),
    )


def _analysed_name(text: str) -> str:
    """A keyword's or an author name's analysed words, joined by spaces."""
    found = _names.get(text)
    if found is None:
        if len(_names) >= _NAMES_LIMIT:
            _names.clear()
        found = _names[text] = analyzed(text)
    return found


# FTS5's bm25 (its constants, and the column weights the stores rank with: title, abstract,
# keywords, authors, title_words).
BM25_K1 = 1.2
BM25_B = 0.75
COLUMN_WEIGHTS = (10.0, 1.0, 4.0, 2.0, 0.0)


def head_weights(
    row: Sequence[str], average_length: float, words: Collection[str]
) -> dict[str, tuple[float, float]]:
    """Each title word's (of those in `words`) (bm25 weight, weighted frequency) in one
    paper (its papers_fts `row`): the weight is what FTS5's bm25 scores for a query of that
    word alone, less the word's IDF (the same for every paper), against the table's
    `average_length`.

    A text term matches title, abstract and keywords, so its frequency is their weighted
    count; the length is every column's token count (the values are single-spaced words).
    """
    title = row[0].split()
    length = len(title) + sum(c.count(" ") + 1 for c in row[1:] if c)
    t, a, k = COLUMN_WEIGHTS[:3]
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average_length) if average_length else 0.0
    # Whole words only: counts of " stem " in the padded texts.
    abstract, keywords = f" {row[1]} ", f" {row[2]} "
    weights = {}
    for stem in set(title).intersection(words):
        word = f" {stem} "
        freq = t * title.count(stem) + a * abstract.count(word) + k * keywords.count(word)
        weights[stem] = (freq * (BM25_K1 + 1) / (freq + norm), freq)  # as bm25_weight
    return weights


def bm25_weight(freq: float, length: int, average_length: float) -> float:
    """FTS5's bm25 for one term of weighted frequency `freq` in a row `length` tokens long,
    less the term's IDF."""
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average_length) if average_length else 0.0
    return freq * (BM25_K1 + 1) / (freq + norm)


def single_word(query: Query) -> str | None:
    """The analysed word of a query whose only positive term is one text word, else None."""
    if len(query.groups) != 1 or len(query.groups[0]) != 1:
        return None
    (term,) = query.groups[0]
    if term.field == "author":
        return None
    stems = analyze_words(term.tokens)
    return stems[0] if len(stems) == 1 else None


def compile_match(query: Query) -> str:
    """The MATCH expression for a non-empty query."""
    if query.is_empty:
        raise ValueError("an empty query has no MATCH expression")
    positive = " AND ".join(_group(group) for group in query.groups)
    if not query.excluded:
        return positive
    excluded = " OR ".join(_phrase(t) for t in query.excluded)
    return f"({positive}) NOT ({excluded})"


def compile_phrase(words: tuple[str, ...], columns: str = TEXT_COLUMNS) -> str:
    """The MATCH for one phrase of analysed words in `columns` (the text columns)."""
    text = " ".join(words).replace('"', '""')
    return f'{columns} : "{text}"'


def compile_prefix(typed: str) -> str | None:
    """A MATCH for titles with every typed word, the last one as a prefix; None if no word."""
    tokens = plain_words(typed)
    if not tokens:
        return None
    quoted = " ".join(f'"{t}"' for t in tokens)
    return f"{PREFIX_COLUMN} : ({quoted} *)"


def _group(terms: tuple[Term, ...]) -> str:
    if len(terms) == 1:
        return _phrase(terms[0])
    return "(" + " OR ".join(_phrase(t) for t in terms) + ")"


def _phrase(term: Term) -> str:
    columns = AUTHOR_COLUMN if term.field == "author" else TEXT_COLUMNS
    text = " ".join(analyze_words(term.tokens)).replace('"', '""')
    return f'{columns} : "{text}"'


def title_groups(query: Query) -> list[list[list[str]]]:
    """For each group of `query` whose terms are all text: for each of its terms, the MATCH
    tests (of `title_words`) for each of its words in a title. A paper with a term in its
    title has its first word there, or its second...: a title filter is a group's terms
    (OR), each read as one of its words (the rarest, picked by the store).

    `title_words` holds plain words, so a stem is looked for as a prefix of them (a
    superset: "diffus" finds "diffusion"; a stem ending in the `i` of a `y`, "studi", as
    "stud"); a stem shorter than 3 letters, as the word typed.
    """
    # Only for groups of one word each: with alternatives (a OR b; see every_term) or
    # phrases, ranking the title matches cost 1.1-1.7x the window at the median, 1.5x at
    # p95 (bench/search.py, 200,000 papers), so those queries rank the window.
    if any(len(group) > 1 or len(group[0].tokens) > 1 for group in query.groups):
        return []
    groups = []
    for group in query.groups:
        if any(term.field == "author" for term in group):
            continue
        terms = []
        for term in group:
            tests: dict[str, None] = {}
            for token in term.tokens:
                for word in plain(token):
                    (stem,) = analyze_words((word,)) or (word,)
                    stem = stem[:-1] if stem.endswith("i") and len(stem) > 3 else stem
                    # Words hold letters and digits only: nothing to escape.
                    tests[
                        f'{PREFIX_COLUMN} : "{stem}" *'
                        if len(stem) >= 3
                        else f'{PREFIX_COLUMN} : "{word}"'
                    ] = None
            terms.append(list(tests))
        groups.append(terms)
    return groups


def every_term(query: Query) -> Query:
    """`query` with each of its positive terms required ("a OR b" as "a b"): it holds the
    same phrases, so bm25 scores its matches (all of them matches of `query`) as it does for
    `query`, and the best matches of "a OR b" hold both words as good as always."""
    return Query(tuple((term,) for term in query.terms()), query.excluded)


def compile_titled(query: Query, tests: Sequence[str]) -> str:
    """The MATCH for the papers that match `query` and pass one of the title `tests` (see
    title_groups). `title_words` has a bm25 weight of 0: bm25 scores these rows exactly as
    it does for `compile_match(query)`."""
    return f"({compile_match(query)}) AND ({' OR '.join(tests)})"

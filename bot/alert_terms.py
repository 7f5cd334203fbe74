"""The alert index's words: how a paper's fields become the keys it is looked up by, and how
an alert's query is compiled into the keys it is filed under and the check that verifies
it (bot.percolator builds its index from these)."""

from __future__ import annotations

import re
import sys
from collections.abc import (
    Callable,
    Sequence,
)
from dataclasses import dataclass
from itertools import chain, pairwise
from operator import attrgetter
from typing import Any, TypeAlias

import numpy as np

from bot.alert_policy import STOP_STEMS
from bot.models import Paper
from bot.query import Query, Term
from bot.text import analyze_words, contains_run, plain_words, stem

Key: TypeAlias = str | tuple[str, str]  # an analysed word, or two consecutive ones


_SEP = "\x01"  # the token between two fields; never a word
_JOIN = f" {_SEP} "
_WORD = re.compile(r"[^\W_]+")
_AUTHOR = "@"  # author words are filed as "@word"; "@" is never part of a word
# For ASCII text: keep digits and letters (lower-cased) and the separator, blank the rest.
_ASCII_TABLE = bytes(
    c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c == 1) else 32
    for c in range(256)
)
_STEM_CACHE_LIMIT = 50_000  # per cache, as bot.text bounds its own (a day has ~10,000 words)
_text_stems: dict[str, str] = {_SEP: _SEP}  # plain word -> interned stem
_author_stems: dict[str, str] = {_SEP: _SEP}  # plain word -> interned "@" + stem


@dataclass(frozen=True, slots=True)
class Match:
    """Why an alert matched a paper: one matching term per positive group, in order."""

    terms: tuple[Term, ...]

    @property
    def reason(self) -> str:
        """The reason as shown to a person, e.g. matched `diffusion` + `author:rombach`."""
        if not self.terms:
            return "matched (the alert has no words to look for)"
        return "matched " + " + ".join(f"`{t}`" for t in self.terms)

    def __str__(self) -> str:
        return self.reason


# -- papers -----------------------------------------------------------------------


def _tokens(fields: Sequence[str]) -> list[str]:
    """The words of each field exactly as bot.text.plain_words gives them, _SEP between."""
    text = _JOIN.join(fields)
    if not text.isascii():
        tokens: list[str] = []
        for i, field in enumerate(fields):
            if i:
                tokens.append(_SEP)
            tokens += plain_words(field)
        return tokens
    if text.count(_SEP) != max(len(fields) - 1, 0):  # a field holds the separator itself
        text = _JOIN.join(f.replace(_SEP, " ") for f in fields)  # (not a word character)
    # The common case, about four times faster than the regex (ASCII words are plain).
    return text.encode("ascii").translate(_ASCII_TABLE).decode("ascii").split()


def _stem_tokens(tokens: list[str], cache: dict[str, str], prefix: str) -> tuple[str, ...]:
    """Stem plain words through a shared cache (plain word -> interned prefix + stem)."""
    try:
        return tuple(map(cache.__getitem__, tokens))
    except KeyError:
        if len(cache) > _STEM_CACHE_LIMIT:
            cache.clear()
            cache[_SEP] = _SEP
        for w in set(tokens).difference(cache):
            cache[w] = sys.intern(prefix + stem(w))
        return tuple(map(cache.__getitem__, tokens))


class _Part:
    """One part of a paper's text tokenized: its analysed words and the keys among them
    (bigrams never span two fields, so a paper's keys are the union of its parts')."""

    __slots__ = ("keys", "stems")

    def __init__(
        self,
        tokens: list[str],
        cache: dict[str, str],
        prefix: str,
        filed: set[Key],
        starters: set[str],
    ) -> None:
        self.stems = stems = _stem_tokens(tokens, cache, prefix)
        self.keys: set[Key] = filed.intersection(stems)
        if starters:  # the bigrams, if the index has any
            self.keys.update(filed.intersection(pairwise(stems)))


class _PaperKeys:
    """A paper tokenized once: its analysed word sequences, and those of its keys (words,
    and bigrams that begin with a starter) that the index looks up.

    `like` (another text of the same paper, tokenized) lends the parts that are equal: a
    paper matched again after its keywords arrived tokenizes only its keywords twice."""

    __slots__ = ("authors", "keys", "parts", "text")
    parts: tuple[_Part, _Part, _Part]  # title and abstract, keywords, authors

    def __init__(
        self,
        paper: Paper,
        filed: set[Key],
        starters: set[str],
        like: tuple[Paper, _PaperKeys] | None = None,
    ) -> None:
        # The text is title, abstract, then each keyword, _SEP between (as `_tokens` joins).
        other, lent = like if like is not None else (None, None)
        if lent and other and (other.title, other.abstract) == (paper.title, paper.abstract):
            body = lent.parts[0]
        else:
            body = _Part(_tokens((paper.title, paper.abstract)), _text_stems, "", filed, starters)
        if lent and other and other.ai_keywords == paper.ai_keywords:
            words = lent.parts[1]
        else:
            kws = paper.ai_keywords
            words = _Part(_tokens(("", *kws)) if kws else [], _text_stems, "", filed, starters)
        if lent and other and other.authors == paper.authors:
            names = lent.parts[2]
        else:
            names = _Part(_tokens(paper.authors), _author_stems, _AUTHOR, filed, starters)
        self.parts = (body, words, names)
        self.text = body.stems + words.stems
        self.authors = names.stems
        self.keys: set[Key] = body.keys | words.keys | names.keys


# -- compiled alerts --------------------------------------------------------------


class _CTerm:
    """A term compiled: its analysed needle, the key that decides or pre-filters it, a cost."""

    __slots__ = ("author", "cost", "exact", "key", "needle", "term")

    def __init__(self, term: Term, cost: Callable[[str, bool], float]) -> None:
        self.term = term
        self.author = author = term.field == "author"
        analysed = analyze_words(term.tokens)
        # A token that is not a word never equals a paper's word: such a term is dead,
        # like an empty one.
        live = bool(analysed) and all(_WORD.fullmatch(t) for t in analysed)
        prefix = _AUTHOR if author else ""
        self.needle: tuple[str, ...] = (
            tuple(sys.intern(prefix + t) for t in analysed) if live else ()
        )
        costs = [cost(t, author) for t in analysed]
        self.key: Key = ""
        self.cost = 0.0
        if len(self.needle) == 1:
            self.key, self.cost = self.needle[0], costs[0]
        elif self.needle:  # the rarest bigram
            pair_costs = [a * b for a, b in pairwise(costs)]
            i = min(range(len(pair_costs)), key=pair_costs.__getitem__)
            self.key, self.cost = (self.needle[i], self.needle[i + 1]), pair_costs[i]
        self.exact = len(self.needle) in (1, 2)  # the key alone decides

    def found(self, paper: _PaperKeys) -> bool:
        """True if the term occurs in the paper (a phrase inside one field)."""
        if self.key not in paper.keys:
            return False
        return self.exact or contains_run(paper.authors if self.author else paper.text, self.needle)


# How a filed query's alerts are filed, once for each variant: (keys, Match, drop keys).
# Filed under one key (`_plus`) or two (`_pairs`); unfiled for a paper with a drop key.
# Compiled, the Match is replaced by its code in the index's table of Matches.
_Filing: TypeAlias = tuple[tuple[Key, ...], Match, tuple[Key, ...]]
_Posting: TypeAlias = tuple[tuple[Key, ...], int, tuple[Key, ...]]
_EXACT = attrgetter("exact")
_NEEDLE = attrgetter("needle")


class _Compiled:
    """One distinct query compiled, with the alerts that share it and how it is filed.

    A query that fits the dict tables has `postings`: one for each of its variants (an
    OR group has one for each term: "the first term present is this one"); each alert has
    a slot for each variant. Any other query is verified, found by `anchor_keys`.
    Only a verified query is kept compiled, with its alerts and its compiled terms: of a
    filed one the index keeps a count (`bot.alert_filings._Filed`), since its alerts are in
    the index's dicts, and compiles it again to add or remove an alert (most queries are
    filed, and 30,000 small objects and tuples were a third of the index's memory).
    """

    __slots__ = (
        "alerts",
        "anchor_keys",
        "count",
        "excluded",
        "groups",
        "matches",
        "postings",
        "query",
        "reasons",
    )
    groups: tuple[tuple[_CTerm, ...], ...]
    excluded: tuple[_CTerm, ...]
    postings: tuple[_Posting, ...]

    def __init__(
        self, query: Query, cterm: Callable[[Term], _CTerm], new_code: Callable[[Match], int]
    ) -> None:
        self.query = query  # the one copy the index keeps of equal queries
        self.count = 0  # how many alerts have this query
        self.alerts: dict[int, None] | None = {}  # their slots, if verified
        # The index's code for each posting's Match; for a verified query, the codes of
        # the Matches made so far, by the terms found.
        self.reasons: dict[tuple[Term, ...], int] | None = None
        # Made by verify(): the terms found -> its alerts as a posting, so a match costs
        # one array; forgotten whenever the alerts change.
        self.matches: dict[tuple[Term, ...], _Postings] | None = None
        self.anchor_keys: tuple[Key, ...] = ()
        # The two commonest shapes (one word or phrase; two words), filed at once.
        qgroups = query.groups
        if not query.excluded and len(qgroups[0] if qgroups else ()) == 1:
            if len(qgroups) == 1:
                ct = cterm(qgroups[0][0])
                if ct.exact:
                    self._filed((((ct.key,), new_code(Match((ct.term,))), ()),))
                    return
            elif len(qgroups) == 2 and len(qgroups[1]) == 1:
                a, b = cterm(qgroups[0][0]), cterm(qgroups[1][0])
                if a.exact and b.exact and type(a.key) is str and type(b.key) is str:
                    keys = (a.key, b.key) if a.cost <= b.cost else (b.key, a.key)
                    self._filed(((keys, new_code(Match((a.term, b.term))), ()),))
                    return
        filings = self._compile(query, cterm)
        if filings:
            self._filed(tuple([(keys, new_code(m), drops) for keys, m, drops in filings]))
        else:
            self.postings = ()

    def _filed(self, postings: tuple[_Posting, ...]) -> None:
        """A query filed in the dict tables: its postings, no alerts, no terms kept."""
        self.postings = postings
        self.alerts = None
        self.groups = ()
        self.excluded = ()

    def _compile(self, query: Query, cterm: Callable[[Term], _CTerm]) -> tuple[_Filing, ...]:
        self.groups = ()
        self.excluded = ()
        qgroups = query.groups
        if len(qgroups) == 1 and len(qgroups[0]) == 1 and not query.excluded:
            ct = cterm(qgroups[0][0])  # the most common alert: one word or one phrase
            self.groups = ((ct,),) if ct.needle else ((),)
            if ct.exact:
                return (((ct.key,), Match((ct.term,)), ()),)
            if ct.needle:
                self.anchor_keys = (ct.key,)
            return ()
        if len(qgroups) == 2 and len(qgroups[0]) == len(qgroups[1]) == 1 and not query.excluded:
            a, b = cterm(qgroups[0][0]), cterm(qgroups[1][0])  # the next most common
            if a.exact and b.exact and isinstance(a.key, str) and isinstance(b.key, str):
                self.groups = ((a,), (b,))
                first, second = (a, b) if a.cost <= b.cost else (b, a)
                return (((first.key, second.key), Match((a.term, b.term)), ()),)
        self.groups = groups = tuple(_live(tuple(map(cterm, g))) for g in qgroups)
        if query.excluded:
            self.excluded = _live(tuple(map(cterm, query.excluded)))
        terms = (*chain.from_iterable(groups), *self.excluded)
        if not groups or not all(groups):
            return ()  # verified for every paper, or never matches
        filings = _filings(groups, self.excluded) if all(map(_EXACT, terms)) else None
        if filings is None:
            anchor = min(groups, key=lambda g: sum(ct.cost for ct in g))
            self.anchor_keys = tuple(dict.fromkeys(ct.key for ct in anchor))
            return ()
        return filings

    def verify(self, paper: _PaperKeys, new_code: Callable[[Match], int]) -> _Postings | None:
        """The exact check (the same rules as bot.matching.matches) for one paper: its
        alerts with the code of the reason, or None. The array is shared: never change it."""
        for ex in self.excluded:
            if ex.found(paper):
                return None
        found = []
        for group in self.groups:
            for ct in group:
                if ct.found(paper):
                    found.append(ct.term)
                    break
            else:
                return None
        terms = tuple(found)
        if self.matches is None:
            self.matches = {}
        found_alerts = self.matches.get(terms)
        if found_alerts is None:
            if self.reasons is None:
                self.reasons = {}
            code = self.reasons.get(terms)
            if code is None:
                code = self.reasons[terms] = new_code(Match(terms))
            found_alerts = self.matches[terms] = _packed(list(self.alerts or ()), code)
        return found_alerts


def _live(cts: tuple[_CTerm, ...]) -> tuple[_CTerm, ...]:
    """The terms that can match at all (not empty, every token a word)."""
    return cts if all(map(_NEEDLE, cts)) else tuple(ct for ct in cts if ct.needle)


def _filings(
    groups: tuple[tuple[_CTerm, ...], ...], excluded: tuple[_CTerm, ...]
) -> tuple[_Filing, ...] | None:
    """How to file a query whose terms are all one key each, if its shape allows: a
    variant for each distinct key of its OR group, unfiled by the keys before it (the
    reason names the first term present) and by the excluded keys."""
    drops = tuple(ct.key for ct in excluded)
    out: list[_Filing] = []
    earlier: list[Key] = []
    if len(groups) == 1:
        for ct in groups[0]:
            if ct.key not in earlier:  # (else an earlier term with the same key wins)
                out.append(((ct.key,), Match((ct.term,)), (*earlier, *drops)))
                earlier.append(ct.key)
    elif len(groups) == 2 and min(map(len, groups)) == 1:
        a, b = groups
        ored, other = (a, b[0]) if len(a) > 1 or len(b) == 1 else (b, a[0])
        for ct in ored:  # (two single words: one variant)
            if ct.key not in earlier:
                first, second = (ct, other) if ct.cost <= other.cost else (other, ct)
                terms = (ct.term, other.term) if ored is a else (other.term, ct.term)
                out.append(((first.key, second.key), Match(terms), (*earlier, *drops)))
                earlier.append(ct.key)
    else:
        return None
    return tuple((keys, m, tuple(dict.fromkeys(d))) for keys, m, d in out)


def _token_cost(token: str, author: bool) -> float:
    """A guess at how often a word occurs (lower is rarer): long words and names are rarer."""
    cost = 1.0 if token in STOP_STEMS else 0.5 / max(len(token), 1)
    return cost * 0.1 if author else cost


# -- the index --------------------------------------------------------------------

# A posting: the alerts filed under some keys, as an int64 array: for each one, its slot
# and the code of its Match (an index into the index's table of Matches).
_Postings: TypeAlias = "np.ndarray[Any, np.dtype[np.int64]]"


_SLOT = (1 << 32) - 1  # the low 32 bits of a posting's entry: a slot; the high bits: a code
_NONE = np.zeros(0, dtype=np.int64)


def _packed(slots: list[int], code: int) -> _Postings:
    """The entries of these slots, all with this code."""
    return np.array(slots, dtype=np.int64) | (code << 32)


def _joined(parts: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """The arrays (postings, or slots) as one."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else _NONE


def _term_keys(comp: _Compiled, known: dict[_Compiled, frozenset[Key]]) -> frozenset[Key]:
    """The keys of a verified query's terms (noted in `known`)."""
    keys = known.get(comp)
    if keys is None:
        terms = chain(chain.from_iterable(comp.groups), comp.excluded)
        keys = known[comp] = frozenset(ct.key for ct in terms if ct.needle)
    return keys

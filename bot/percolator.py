"""Match new papers against every saved alert at once: an index from words to alerts.

A percolator turns search around: the alerts' queries are indexed, and each new paper
is looked up in that index. Matching follows `bot.matching.matches` exactly (folded
words, phrases inside one field, author terms on author names); only the work differs.

How it works:
- A paper is tokenized once into a set of keys: its folded words, plus the word pairs
  (bigrams) that start with a word some indexed phrase starts with. Author words carry
  an "@" prefix, so `author:x` and `x` never meet; a separator token sits between fields,
  so no phrase spans two fields.
- A term of one or two words is decided by one key: the word, or the bigram.
- Most alerts (every term one or two words; at most two groups, one of them a single
  term) live in plain dicts: key -> {alert id: Match}, or key -> second key -> {...}.
  A paper's keys are intersected with those dicts (in C) and whole dicts of matches
  are merged. Alerts with an excluded term are then dropped by the excluded key.
  For an OR group, the first term present wins, so each term is filed under its rank
  and lower ranks are merged last.
- Every other alert is anchored on its rarest group; each term of that group is filed
  under its key, and the alerts found that way are verified exactly (phrases of three
  or more words by position).
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, compress, pairwise
from operator import attrgetter
from typing import Any, TypeAlias

from bot.errors import QueryError
from bot.models import Paper
from bot.query import Query, Term
from bot.text import fold

# A compact English stop-word list: words too common to be an alert on their own.
_STOP_WORDS_TEXT = """
    a about above after again against all almost also although always am among an and
    another any are around as at be because been before being below between both but by
    can could did do does doing done down during each either else enough even ever every
    few for from further had has have having he her here hers herself him himself his how
    however i if in into is it its itself just least less like made make many may me might
    more most much must my myself near neither no nor not now of off often on once one only
    or other others our ours ourselves out over own per perhaps quite rather same several
    shall she should since so some such than that the their theirs them themselves then
    there therefore these they this those though through thus to too toward towards under
    until up upon us use used using very via was we well were what whatever when where
    whether which while who whom whose why will with within without would yet you your
    yours yourself
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_WORDS_TEXT.split())

Key: TypeAlias = str | tuple[str, str]  # a folded word, or two consecutive ones

_SEP = "\x01"  # a token between two fields; never a word
_JOIN = f" {_SEP} "
_WORD_OR_SEP = re.compile(r"[^\W_]+|\x01")  # bot.text.words' pattern, plus the separator
_WORD = re.compile(r"[^\W_]+")
_AUTHOR = "@"  # author words are filed as "@word"; "@" is never part of a word
# For ASCII text: keep digits and letters (lower-cased) and the separator, blank the rest.
_ASCII_TABLE = bytes(
    c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c == 1) else 32
    for c in range(256)
)
_FOLD_CACHE_LIMIT = 300_000
_text_fold: dict[str, str] = {_SEP: _SEP}  # raw word -> interned folded word
_author_fold: dict[str, str] = {_SEP: _SEP}  # raw word -> interned "@" + folded word


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


# -- validation -------------------------------------------------------------------


def validate_alert(query: Query) -> None:
    """Refuse an alert that is empty, can never match, or would match almost everything."""
    if not query.groups:
        if query.excluded:
            raise QueryError("That alert only excludes words; add at least one word to look for.")
        raise QueryError("That alert is empty; add at least one word to look for.")
    for group in query.groups:
        blockers = [_blocker(term, query.excluded) for term in group]
        if all(b is not None for b in blockers):
            shown = " OR ".join(f"`{t}`" for t in group) or "an empty group"
            by = ", ".join(dict.fromkeys(f"`-{b}`" for b in blockers if b is not None))
            raise QueryError(f"That alert can never match: {shown} is ruled out by {by}.")
    if all(all(_is_broad(term) for term in group) for group in query.groups):
        shown = " ".join(f"`{t}`" for g in query.groups for t in g)
        raise QueryError(
            f"That alert is too broad: {shown} would match almost every paper; "
            "add a more specific word."
        )


def _blocker(term: Term, excluded: Sequence[Term]) -> Term | None:
    """An excluded term found wherever `term` is (so `term` can never count), if any."""
    needle = tuple(fold(t) for t in term.tokens)
    if not needle:
        return term  # an empty term matches nothing
    for ex in excluded:
        ex_needle = tuple(fold(t) for t in ex.tokens)
        if ex.field == term.field and ex_needle and _contains(needle, ex_needle):
            return ex
    return None


def _is_broad(term: Term) -> bool:
    return all(len(t) <= 1 or t in STOP_WORDS or fold(t) in STOP_WORDS for t in term.tokens)


# -- papers -----------------------------------------------------------------------


def _contains(hay: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    """True if `needle` occurs as consecutive items of `hay` (a C-speed index scan)."""
    first, n = needle[0], len(needle)
    i = -1
    try:
        while True:
            i = hay.index(first, i + 1)
            if hay[i : i + n] == needle:
                return True
    except ValueError:
        return False


def _tokens(fields: Sequence[str]) -> list[str]:
    """The words of each field exactly as bot.text.words splits them, _SEP between fields."""
    text = _JOIN.join(fields)
    if text.count(_SEP) != max(len(fields) - 1, 0):  # a field holds the separator itself
        text = _JOIN.join(f.replace(_SEP, " ") for f in fields)  # (not a word character)
    if text.isascii():  # the common case, about four times faster than the regex
        return text.encode("ascii").translate(_ASCII_TABLE).decode("ascii").split()
    return _WORD_OR_SEP.findall(text.casefold())


def _fold_tokens(tokens: list[str], cache: dict[str, str], prefix: str) -> tuple[str, ...]:
    """Fold words through a shared cache (raw word -> interned prefix + folded word)."""
    try:
        return tuple(map(cache.__getitem__, tokens))
    except KeyError:
        if len(cache) > _FOLD_CACHE_LIMIT:
            cache.clear()
            cache[_SEP] = _SEP
        for w in set(tokens).difference(cache):
            cache[w] = sys.intern(prefix + fold(w))
        return tuple(map(cache.__getitem__, tokens))


class _PaperKeys:
    """A paper tokenized once: folded word sequences and the set of keys present."""

    __slots__ = ("authors", "keys", "text")

    def __init__(self, paper: Paper, starters: Mapping[str, int]) -> None:
        fields = (paper.title, paper.abstract, *paper.ai_keywords)
        self.text = text = _fold_tokens(_tokens(fields), _text_fold, "")
        self.authors = authors = _fold_tokens(_tokens(paper.authors), _author_fold, _AUTHOR)
        self.keys: set[Key] = set(text)
        self.keys.update(authors)
        if starters:  # only the bigrams some indexed term could be looking for
            contains = starters.__contains__
            self.keys.update(compress(pairwise(text), map(contains, text)))
            self.keys.update(compress(pairwise(authors), map(contains, authors)))


# -- compiled alerts --------------------------------------------------------------


class _CTerm:
    """A term compiled: its folded needle, the key that decides or pre-filters it, a cost."""

    __slots__ = ("author", "cost", "exact", "key", "needle", "term")

    def __init__(self, term: Term, cost: Callable[[str, bool], float]) -> None:
        self.term = term
        self.author = author = term.field == "author"
        folded = [fold(t) for t in term.tokens]
        # A token that is not a word can never equal a paper's word: the term is dead,
        # like an empty one.
        live = bool(folded) and all(_WORD.fullmatch(t) for t in folded)
        prefix = _AUTHOR if author else ""
        self.needle: tuple[str, ...] = tuple(sys.intern(prefix + t) for t in folded) if live else ()
        costs = [cost(t, author) for t in folded]
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
        return self.exact or _contains(paper.authors if self.author else paper.text, self.needle)


_Posting: TypeAlias = tuple[int, Key, Key | None, Match]  # rank, key, second key, match


class _Compiled:
    """One distinct query compiled, with the alerts that share it and how it is filed.

    `postings` file the alerts in the dict tables: (rank, key, second key or None,
    Match); `drops` are the excluded keys that unfile them again. A query that does not
    fit that shape is verified instead, found through `anchor_keys`.
    """

    __slots__ = (
        "alerts",
        "anchor_keys",
        "drops",
        "excluded",
        "groups",
        "matches",
        "postings",
        "starters",
    )

    def __init__(self, query: Query, cterm: Callable[[Term], _CTerm]) -> None:
        self.alerts: dict[int, None] = {}
        self.matches: dict[tuple[Term, ...], Match] | None = None  # made by verify()
        self.postings: tuple[_Posting, ...] = ()
        self.drops: tuple[Key, ...] = ()
        self.anchor_keys: tuple[Key, ...] = ()
        self.excluded: tuple[_CTerm, ...] = ()
        self.starters: tuple[str, ...] = ()  # first words of bigram keys
        qgroups = query.groups
        if len(qgroups) == 1 and len(qgroups[0]) == 1 and not query.excluded:
            ct = cterm(qgroups[0][0])  # the most common alert: one word or phrase
            self.groups: tuple[tuple[_CTerm, ...], ...] = ((ct,),) if ct.needle else ((),)
            if isinstance(ct.key, tuple):
                self.starters = (ct.key[0],)
            if ct.exact:
                self.postings = ((0, ct.key, None, Match((ct.term,))),)
            elif ct.needle:
                self.anchor_keys = (ct.key,)
            return
        self.groups = groups = tuple(_live(tuple(map(cterm, g))) for g in qgroups)
        if query.excluded:
            self.excluded = _live(tuple(map(cterm, query.excluded)))
        terms = (*chain.from_iterable(groups), *self.excluded)
        self.starters = tuple(ct.key[0] for ct in terms if isinstance(ct.key, tuple))
        if not groups or not all(groups):
            return  # verified for every paper, or never matches
        exact = all(map(_EXACT, terms))
        if exact and len(groups) == 1:
            self.postings = tuple(
                (r, ct.key, None, Match((ct.term,))) for r, ct in enumerate(groups[0])
            )
        elif exact and len(groups) == 2 and (len(groups[0]) == 1 or len(groups[1]) == 1):
            a, b = groups
            # File under the group with several terms, or else under the rarer term.
            if len(a) > 1 or (len(b) == 1 and b[0].cost < a[0].cost):
                self.postings = tuple(
                    (r, ct.key, b[0].key, Match((ct.term, b[0].term))) for r, ct in enumerate(a)
                )
            else:
                self.postings = tuple(
                    (r, ct.key, a[0].key, Match((a[0].term, ct.term))) for r, ct in enumerate(b)
                )
        else:
            anchor = min(groups, key=lambda g: sum(ct.cost for ct in g))
            self.anchor_keys = tuple(dict.fromkeys(ct.key for ct in anchor))
            return
        self.drops = tuple(dict.fromkeys(ct.key for ct in self.excluded))

    def verify(self, paper: _PaperKeys) -> Match | None:
        """The exact check (the same rules as bot.matching.matches) for one paper."""
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
        m = self.matches.get(terms)
        if m is None:
            m = self.matches[terms] = Match(terms)
        return m


_EXACT = attrgetter("exact")
_NEEDLE = attrgetter("needle")


def _live(cts: tuple[_CTerm, ...]) -> tuple[_CTerm, ...]:
    """The terms that can match at all (not empty, every token a word)."""
    return cts if all(map(_NEEDLE, cts)) else tuple(ct for ct in cts if ct.needle)


def _token_cost(token: str, author: bool) -> float:
    """A guess at how often a word occurs (lower is rarer): long words and names are rarer."""
    cost = 1.0 if token in STOP_WORDS else 0.5 / max(len(token), 1)
    return cost * 0.1 if author else cost


# -- the index --------------------------------------------------------------------

_Table: TypeAlias = dict[Key, dict[int, Match]]


class AlertIndex:
    """Every active alert, indexed by word, so a paper is matched against all at once."""

    def __init__(self, frequencies: Mapping[str, float] | None = None) -> None:
        # `frequencies` (folded word -> share of papers containing it), if given, guides
        # which group anchors an alert; results never depend on it.
        self._freq = frequencies
        self._alerts: dict[int, Query] = {}
        self._compiled: dict[Query, _Compiled] = {}
        self._terms: dict[tuple[str, tuple[str, ...]], _CTerm] = {}  # shared compiled terms
        self._plus: list[_Table] = []  # by rank: key -> alerts
        self._pairs: list[dict[Key, _Table]] = []  # by rank: key -> second key -> alerts
        self._drop: dict[Key, dict[int, None]] = {}  # excluded key -> alerts
        self._checked: dict[Key, list[_Compiled]] = {}  # anchor key -> queries to verify
        self._always: list[_Compiled] = []  # no positive groups: verified for every paper
        self._key_refs: dict[Key, int] = {}  # every key filed above -> use count
        self._starters: dict[str, int] = {}  # first words of used bigrams -> use count

    @classmethod
    def build(
        cls, pairs: Iterable[tuple[int, Query]], frequencies: Mapping[str, float] | None = None
    ) -> AlertIndex:
        """An index of the given (alert_id, query) pairs (a later pair wins an id)."""
        index = cls(frequencies)
        with _gc_paused():
            index._build(dict(pairs))
        return index

    def _build(self, alerts: dict[int, Query]) -> None:
        self._alerts = alerts
        by_query: dict[Query, dict[int, None]] = {}
        for alert_id, query in alerts.items():
            ids = by_query.get(query)
            if ids is None:
                by_query[query] = {alert_id: None}
            else:
                ids[alert_id] = None
        cterm = self._cterm
        for query, ids in by_query.items():
            comp = self._compiled[query] = _Compiled(query, cterm)
            self._link(comp, +1)
            self._file(comp, ids)

    def __len__(self) -> int:
        return len(self._alerts)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._alerts

    def alerts(self) -> dict[int, Query]:
        """The indexed alerts, by id."""
        return dict(self._alerts)

    def add(self, alert_id: int, query: Query) -> None:
        """Index one alert (replacing any alert with the same id)."""
        old = self._alerts.get(alert_id)
        if old is not None:
            if old == query:
                return
            self.remove(alert_id)
        self._alerts[alert_id] = query
        comp = self._compiled.get(query)
        if comp is None:
            comp = self._compiled[query] = _Compiled(query, self._cterm)
            self._link(comp, +1)
        self._file(comp, {alert_id: None})

    def remove(self, alert_id: int) -> None:
        """Forget one alert; an unknown id is ignored."""
        query = self._alerts.pop(alert_id, None)
        if query is None:
            return
        comp = self._compiled[query]
        del comp.alerts[alert_id]
        for rank, key, key2, _ in comp.postings:
            if key2 is None:
                _discard(self._plus[rank], key, alert_id)
            else:
                sub = self._pairs[rank][key]
                _discard(sub, key2, alert_id)
                if not sub:
                    del self._pairs[rank][key]
        for key in comp.drops:
            _discard(self._drop, key, alert_id)
        if not comp.alerts:
            del self._compiled[query]
            self._link(comp, -1)

    def match(self, paper: Paper) -> dict[int, Match]:
        """Every alert whose query matches the paper, with the reason it matched."""
        return self._match(_PaperKeys(paper, self._starters))

    def match_many(self, papers: Iterable[Paper]) -> dict[str, dict[int, Match]]:
        """Match a batch: paper id -> {alert id: Match} (an empty dict when none match)."""
        starters = self._starters
        return {p.id: self._match(_PaperKeys(p, starters)) for p in papers}

    # -- internals ----------------------------------------------------------------

    def _match(self, paper: _PaperKeys) -> dict[int, Match]:
        hits = self._key_refs.keys() & paper.keys  # the paper's keys the index files
        result: dict[int, Match] = {}
        # Higher ranks first: for an OR group the lowest-ranked term present wins.
        for rank in range(len(self._plus) - 1, -1, -1):
            plus, pairs = self._plus[rank], self._pairs[rank]
            for key in plus.keys() & hits:
                result.update(plus[key])
            for key in pairs.keys() & hits:
                sub = pairs[key]
                for key2 in sub.keys() & hits:
                    result.update(sub[key2])
        if result:
            drop = self._drop
            for key in drop.keys() & hits:
                for alert_id in drop[key].keys() & result.keys():
                    del result[alert_id]
        if self._checked:
            candidates: dict[_Compiled, None] = {}
            for key in self._checked.keys() & hits:
                candidates.update(dict.fromkeys(self._checked[key]))
            for comp in candidates:
                m = comp.verify(paper)
                if m is not None:
                    result.update(dict.fromkeys(comp.alerts, m))
        for comp in self._always:
            m = comp.verify(paper)
            if m is not None:
                result.update(dict.fromkeys(comp.alerts, m))
        return result

    def _file(self, comp: _Compiled, ids: dict[int, None]) -> None:
        """File these alerts (all with the compiled query) in the dict tables."""
        comp.alerts.update(ids)
        for rank, key, key2, match in comp.postings:
            while len(self._plus) <= rank:
                self._plus.append({})
                self._pairs.append({})
            if key2 is None:
                _merge(self._plus[rank], key, ids, match)
            else:
                _merge(self._pairs[rank].setdefault(key, {}), key2, ids, match)
        for key in comp.drops:
            self._drop.setdefault(key, {}).update(ids)

    def _cterm(self, term: Term) -> _CTerm:
        key = (term.field, term.tokens)  # hashed in C, unlike a Term
        ct = self._terms.get(key)
        if ct is None:
            ct = self._terms[key] = _CTerm(term, self._word_cost)
        return ct

    def _word_cost(self, token: str, author: bool) -> float:
        if self._freq is not None and not author:
            return self._freq.get(token, 0.0)
        return _token_cost(token, author)

    def _link(self, comp: _Compiled, delta: int) -> None:
        """Count (+1) or uncount (-1) what a compiled query shares between its alerts."""
        refs = self._key_refs
        for _, key, key2, _ in comp.postings:
            _count(refs, key, delta)
            if key2 is not None:
                _count(refs, key2, delta)
        for key in comp.drops:
            _count(refs, key, delta)
        for key in comp.anchor_keys:
            _count(refs, key, delta)
            if delta > 0:
                self._checked.setdefault(key, []).append(comp)
            else:
                self._checked[key].remove(comp)
                if not self._checked[key]:
                    del self._checked[key]
        for first in comp.starters:
            _count(self._starters, first, delta)
        if not comp.groups:
            if delta > 0:
                self._always.append(comp)
            else:
                self._always.remove(comp)
        if delta < 0 and len(self._terms) > 1000 + 4 * len(self._compiled):
            self._terms.clear()  # a cache only: drop the terms of removed alerts


def _merge(table: _Table, key: Key, ids: dict[int, None], match: Match) -> None:
    alerts = table.get(key)
    if alerts is None:
        table[key] = dict.fromkeys(ids, match)
    else:
        alerts.update(dict.fromkeys(ids, match))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cycle collector: a build makes ~10^5 acyclic objects it would rescan."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _count(counts: dict[Any, int], key: Any, delta: int) -> None:
    n = counts.get(key, 0) + delta
    if n:
        counts[key] = n
    else:
        del counts[key]


def _discard(table: dict[Key, dict[int, Any]], key: Key, alert_id: int) -> None:
    alerts = table[key]
    del alerts[alert_id]
    if not alerts:
        del table[key]

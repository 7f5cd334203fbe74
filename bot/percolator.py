"""Match new papers against every saved alert at once: an index from words to alerts.

A percolator turns search around: the queries are stored and indexed, and each new
paper is the "query". Every distinct alert query is anchored on one positive group
(the one whose words are rarest); each term of that group is indexed under its rarest
folded token. A paper is tokenized once into sets of folded words (text fields and
author names), the sets are intersected with the index's keys, and only the alerts
found that way are verified exactly. The result always equals `bot.matching.matches`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bot.errors import QueryError
from bot.models import Paper
from bot.query import Query, Term
from bot.text import fold, words

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

_FOLD_CACHE_LIMIT = 500_000
_folded: dict[str, str] = {}  # raw word -> interned folded word


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
            excl = ", ".join(dict.fromkeys(f"`-{b}`" for b in blockers if b is not None))
            raise QueryError(
                f"That alert can never match: {shown} is ruled out by {excl or 'itself'}."
            )
    if all(all(_is_broad(term) for term in group) for group in query.groups):
        shown = " ".join(f"`{t}`" for g in query.groups for t in g)
        raise QueryError(
            f"That alert is too broad: {shown} would match almost every paper; "
            "add a more specific word."
        )


def _blocker(term: Term, excluded: tuple[Term, ...]) -> Term | None:
    """An excluded term that matches wherever `term` does (so `term` can never count)."""
    needle = _needle(term)
    if not needle:  # an empty term matches nothing
        return term
    for ex in excluded:
        ex_needle = _needle(ex)
        if ex.field == term.field and ex_needle and _contains(needle, ex_needle):
            return ex
    return None


def _is_broad(term: Term) -> bool:
    return all(len(t) <= 1 or t in STOP_WORDS or fold(t) in STOP_WORDS for t in term.tokens)


def _needle(term: Term) -> tuple[str, ...]:
    """The term's tokens folded exactly the way bot.matching folds them."""
    return tuple(sys.intern(fold(t)) for t in term.tokens)


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


def _fold_all(raw: list[str]) -> tuple[str, ...]:
    """Fold words through a shared cache; the folded strings are interned."""
    cache = _folded
    if len(cache) > _FOLD_CACHE_LIMIT:
        cache.clear()
    for w in set(raw).difference(cache):
        cache[w] = sys.intern(fold(w))
    return tuple(map(cache.__getitem__, raw))


class PaperWords:
    """A paper tokenized once: sets of folded words per field family, fields on demand."""

    __slots__ = ("_author_fields", "_paper", "_text_fields", "authors", "text")

    def __init__(self, paper: Paper) -> None:
        self._paper = paper
        fields = [paper.title, paper.abstract, *paper.ai_keywords]
        # Fields are joined by a newline, which is never part of a word.
        self.text: set[str] = set(_fold_all(words("\n".join(fields))))
        self.authors: set[str] = set(_fold_all(words("\n".join(paper.authors))))
        self._text_fields: list[tuple[str, ...]] | None = None
        self._author_fields: list[tuple[str, ...]] | None = None

    def text_fields(self) -> list[tuple[str, ...]]:
        """Folded words of the title, the abstract and each AI keyword, separately."""
        if self._text_fields is None:
            p = self._paper
            self._text_fields = [_fold_all(words(f)) for f in (p.title, p.abstract, *p.ai_keywords)]
        return self._text_fields

    def author_fields(self) -> list[tuple[str, ...]]:
        """Folded words of each author name, separately."""
        if self._author_fields is None:
            self._author_fields = [_fold_all(words(a)) for a in self._paper.authors]
        return self._author_fields

    def has(self, term: _CTerm) -> bool:
        """True if the compiled term matches (a phrase must sit inside one field)."""
        needle = term.needle
        if term.author:
            if len(needle) == 1:
                return needle[0] in self.authors
            return term.token_set <= self.authors and any(
                _contains(f, needle) for f in self.author_fields()
            )
        if len(needle) == 1:
            return needle[0] in self.text
        return term.token_set <= self.text and any(_contains(f, needle) for f in self.text_fields())


class _CTerm:
    """A term compiled for matching: folded needle, its word set, index key and cost."""

    __slots__ = ("author", "cost", "key", "needle", "term", "token_set")

    def __init__(self, term: Term, cost: Callable[[str, bool], float]) -> None:
        self.term = term
        self.author = term.field == "author"
        self.needle = _needle(term)
        self.token_set = frozenset(self.needle)
        # Indexed under its rarest word; an empty term ("") matches nothing.
        costs = {t: cost(t, self.author) for t in self.needle}
        self.key = min(costs, key=costs.__getitem__) if costs else ""
        self.cost = costs.get(self.key, 0.0)


_EMPTY: frozenset[str] = frozenset()


def _keys(terms: Iterable[_CTerm], author: bool) -> frozenset[str]:
    keys = frozenset(ct.key for ct in terms if ct.author == author)
    return keys or _EMPTY


class _Compiled:
    """One distinct query compiled, with the alerts that share it."""

    __slots__ = (
        "alerts",
        "anchor",
        "conjunctive",
        "ex_author",
        "ex_text",
        "excluded",
        "groups",
        "match",
        "matches",
        "req_author",
        "req_text",
        "single",
    )

    def __init__(self, query: Query, cterm: Callable[[Term], _CTerm]) -> None:
        self.groups = groups = tuple(tuple(map(cterm, g)) for g in query.groups)
        self.excluded = excluded = tuple(c for c in map(cterm, query.excluded) if c.needle)
        self.alerts: dict[int, Match] = {}  # alert id -> its Match when conjunctive
        self.matches: dict[tuple[Term, ...], Match] = {}
        # A conjunctive query (every group one single word, every exclusion a single
        # word) is decided by four set operations and always yields the same Match.
        self.conjunctive = all(len(g) == 1 and len(g[0].needle) == 1 for g in groups) and all(
            len(c.needle) == 1 for c in excluded
        )
        # The anchor: the group whose (usable) terms are rarest; each of its terms is
        # indexed under its key. None when some group can never match.
        usable = [tuple(ct for ct in g if ct.needle) for g in groups]
        self.anchor: tuple[_CTerm, ...] | None = None
        if usable and all(usable):
            self.anchor = min(usable, key=lambda g: sum(ct.cost for ct in g))
        self.match = Match(tuple(g[0].term for g in usable) if self.anchor else ())
        self.conjunctive = self.conjunctive and self.anchor is not None
        # One word and nothing else: the index key alone decides.
        self.single = self.conjunctive and len(groups) == 1 and not excluded
        self.req_text = self.req_author = self.ex_text = self.ex_author = _EMPTY
        if self.conjunctive and not self.single:
            required = [g[0] for g in groups]
            self.req_text = _keys(required, False)
            self.req_author = _keys(required, True)
            if excluded:
                self.ex_text = _keys(excluded, False)
                self.ex_author = _keys(excluded, True)

    def verify(self, pw: PaperWords) -> Match | None:
        """The exact check (the same rules as bot.matching.matches) for one paper."""
        for ex in self.excluded:
            if pw.has(ex):
                return None
        found: list[Term] = []
        for group in self.groups:
            for ct in group:
                if ct.needle and pw.has(ct):
                    found.append(ct.term)
                    break
            else:
                return None
        terms = tuple(found)
        m = self.matches.get(terms)
        if m is None:
            m = self.matches[terms] = Match(terms)
        return m


def _anchor_keys(anchor: tuple[_CTerm, ...]) -> list[tuple[bool, str]]:
    """The distinct (field family, word) index keys of an anchor group."""
    return list(dict.fromkeys((ct.author, ct.key) for ct in anchor))


def _token_cost(token: str, author: bool) -> float:
    """A guess at how often a word occurs (lower is rarer): long words and names are rarer."""
    cost = 10.0 if token in STOP_WORDS else 1.0 / max(len(token), 1)
    return cost * 0.1 if author else cost


class AlertIndex:
    """Every active alert, indexed by word, so a paper is matched against all at once."""

    def __init__(self, frequencies: Mapping[str, float] | None = None) -> None:
        # `frequencies` (folded word -> share of papers containing it), if given,
        # guides which group anchors each alert; results never depend on it.
        self._freq = frequencies
        self._alerts: dict[int, Query] = {}
        self._compiled: dict[Query, _Compiled] = {}
        self._always: list[_Compiled] = []  # no positive groups: verified for every paper
        # Per field family: folded word -> ...
        #   ready: alerts whose query is that single word -> their Match (no checks needed)
        #   conj:  conjunctive queries anchored on the word (checked with set operations)
        #   probe: other queries anchored on the word (checked with verify())
        self._ready: tuple[dict[str, dict[int, Match]], dict[str, dict[int, Match]]] = ({}, {})
        self._conj: tuple[dict[str, list[_Compiled]], dict[str, list[_Compiled]]] = ({}, {})
        self._probe: tuple[dict[str, list[_Compiled]], dict[str, list[_Compiled]]] = ({}, {})
        self._terms: dict[Term, _CTerm] = {}  # compiled terms, shared between queries

    @classmethod
    def build(
        cls,
        pairs: Iterable[tuple[int, Query]],
        frequencies: Mapping[str, float] | None = None,
    ) -> AlertIndex:
        """An index of the given (alert_id, query) pairs."""
        index = cls(frequencies)
        for alert_id, query in pairs:
            index.add(alert_id, query)
        return index

    def __len__(self) -> int:
        return len(self._alerts)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._alerts

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
            self._link(comp)
        comp.alerts[alert_id] = comp.match
        if comp.single:
            ct = comp.groups[0][0]
            self._ready[ct.author].setdefault(ct.key, {})[alert_id] = comp.match

    def remove(self, alert_id: int) -> None:
        """Forget one alert; an unknown id is ignored."""
        query = self._alerts.pop(alert_id, None)
        if query is None:
            return
        comp = self._compiled[query]
        del comp.alerts[alert_id]
        if comp.single:
            ct = comp.groups[0][0]
            ready = self._ready[ct.author]
            del ready[ct.key][alert_id]
            if not ready[ct.key]:
                del ready[ct.key]
        if not comp.alerts:
            del self._compiled[query]
            self._unlink(comp)

    def alerts(self) -> dict[int, Query]:
        """The indexed alerts, by id."""
        return dict(self._alerts)

    def match(self, paper: Paper) -> dict[int, Match]:
        """Every alert whose query matches the paper, with the reason it matched."""
        return self._match(PaperWords(paper))

    def match_many(self, papers: Iterable[Paper]) -> dict[str, dict[int, Match]]:
        """Match a batch: paper id -> {alert id: Match} (an empty dict when none match)."""
        return {p.id: self._match(PaperWords(p)) for p in papers}

    # -- internals ---------------------------------------------------------------

    def _cterm(self, term: Term) -> _CTerm:
        ct = self._terms.get(term)
        if ct is None:
            ct = self._terms[term] = _CTerm(term, self._word_cost)
        return ct

    def _word_cost(self, token: str, author: bool) -> float:
        if self._freq is not None and not author:
            return self._freq.get(token, 0.0)
        return _token_cost(token, author)

    def _tables(self, comp: _Compiled) -> tuple[dict[str, list[_Compiled]], ...] | None:
        if comp.anchor is None or comp.single:
            return None  # never matches, or served by the ready table alone
        return self._conj if comp.conjunctive else self._probe

    def _link(self, comp: _Compiled) -> None:
        if not comp.groups:
            self._always.append(comp)
            return
        tables = self._tables(comp)
        if tables is None or comp.anchor is None:
            return
        for author, key in _anchor_keys(comp.anchor):
            tables[author].setdefault(key, []).append(comp)

    def _unlink(self, comp: _Compiled) -> None:
        if not comp.groups:
            self._always.remove(comp)
            return
        tables = self._tables(comp)
        if tables is None or comp.anchor is None:
            return
        for author, key in _anchor_keys(comp.anchor):
            lst = tables[author][key]
            lst.remove(comp)
            if not lst:
                del tables[author][key]

    def _match(self, pw: PaperWords) -> dict[int, Match]:
        result: dict[int, Match] = {}
        text, authors = pw.text, pw.authors
        probes: dict[_Compiled, None] = {}
        for author, words_ in ((False, text), (True, authors)):
            ready = self._ready[author]
            conj = self._conj[author]
            probe = self._probe[author]
            for key in words_.intersection(ready):
                result.update(ready[key])
            for key in words_.intersection(conj):
                for c in conj[key]:
                    if (
                        c.req_text <= text
                        and c.req_author <= authors
                        and text.isdisjoint(c.ex_text)
                        and authors.isdisjoint(c.ex_author)
                    ):
                        result.update(c.alerts)
            for key in words_.intersection(probe):
                probes.update(dict.fromkeys(probe[key]))
        for c in (*probes, *self._always):
            m = c.verify(pw)
            if m is not None:
                result.update(dict.fromkeys(c.alerts, m))
        return result

"""Match new papers against every saved alert at once: an index from words to alerts.

A percolator turns search around: the alerts' queries are indexed, and each new paper
is looked up in that index. Matching follows `bot.matching.matches` exactly (analysed
words, phrases inside one field, author terms on author names); only the work differs.

How it works:

* A paper is tokenized once into a set of keys: its analysed words (`bot.text.analyze`:
  stems without accents), and the word pairs (bigrams) that begin with a word that some
  indexed bigram begins with. Author words carry an "@" prefix, so `author:x` and `x`
  never meet. A separator token sits between two fields, so no bigram or phrase spans
  two fields.
* A term of one or two words is decided by one key: its word, or its bigram.
* Most alerts (every term one or two words, and one group, or two groups of which one
  is a single term) are filed in plain dicts: key -> {alert id: Match}, or key ->
  second key -> {alert id: Match}. The paper's keys are intersected with those dicts
  (in C) and whole dicts of matches are merged. Alerts with an excluded term present
  are then dropped, found by the excluded key.
* The reason names the first term present in an OR group. An alert of one OR group is
  filed under each of its terms, and fixed up when two are present; an OR group with a
  second group is filed by rank, and lower ranks are merged last.
* Every other alert (a phrase of three words or more, several OR groups...) is anchored
  on its rarest group: each term of that group is filed under its key, and the alerts
  found that way are verified exactly, phrases by position. A verified query caches its
  {alert id: Match} per reason, so a hit is one dict merge.
* Memory: equal queries are kept once (callers parse each alert's query anew, and at
  100,000 alerts the copies weighed more than the index), and a filed query keeps only
  a count of its alerts, which live in the dicts above.
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
_STEM_CACHE_LIMIT = 300_000
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


class _PaperKeys:
    """A paper tokenized once: analysed word sequences and the set of keys present."""

    __slots__ = ("authors", "keys", "text")

    def __init__(self, paper: Paper, starters: set[str]) -> None:
        fields = (paper.title, paper.abstract, *paper.ai_keywords)
        self.text = text = _stem_tokens(_tokens(fields), _text_stems, "")
        self.authors = authors = _stem_tokens(_tokens(paper.authors), _author_stems, _AUTHOR)
        self.keys: set[Key] = set(text)
        self.keys.update(authors)
        if starters:  # only the bigrams that an indexed term could be looking for
            contains = starters.__contains__
            self.keys.update(compress(pairwise(text), map(contains, text)))
            self.keys.update(compress(pairwise(authors), map(contains, authors)))


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


# Where a query's alerts are filed: (rank, keys, Match). With rank None, in the plain
# dicts under one key or two; with a rank, in the ranked dicts under two keys.
_Posting: TypeAlias = tuple[int | None, tuple[Key, ...], Match]
_EXACT = attrgetter("exact")
_NEEDLE = attrgetter("needle")


class _Compiled:
    """One distinct query compiled, with the alerts that share it and how it is filed.

    A query that fits the dict tables has `postings`, and `drops`: the excluded keys
    that unfile its alerts again. Any other query is verified, found by `anchor_keys`.
    Only a verified query keeps its alerts and its compiled terms: a filed one keeps a
    count, since its alerts are in the index's dicts (most queries are filed, and 30,000
    small dicts and tuples are a quarter of the index's memory).
    """

    __slots__ = (
        "alerts",
        "anchor_keys",
        "count",
        "drops",
        "excluded",
        "groups",
        "matches",
        "postings",
        "query",
        "starters",
    )
    groups: tuple[tuple[_CTerm, ...], ...]
    excluded: tuple[_CTerm, ...]

    def __init__(self, query: Query, cterm: Callable[[Term], _CTerm]) -> None:
        self.query = query  # the one copy the index keeps of equal queries
        self.count = 0  # how many alerts have this query
        self.alerts: dict[int, None] | None = {}  # them, if verified
        # Made by verify(): the terms found -> {alert id: Match} for all its alerts, so a
        # match costs one dict merge; forgotten whenever the alerts change.
        self.matches: dict[tuple[Term, ...], dict[int, Match]] | None = None
        self._compile(query, cterm)
        if self.postings:
            self.alerts = None
            self.groups = ()
            self.excluded = ()

    def _compile(self, query: Query, cterm: Callable[[Term], _CTerm]) -> None:
        self.postings: tuple[_Posting, ...] = ()
        self.drops: tuple[Key, ...] = ()
        self.anchor_keys: tuple[Key, ...] = ()
        self.groups = ()
        self.excluded = ()
        self.starters: tuple[str, ...] = ()  # the first words of its bigram keys
        qgroups = query.groups
        if len(qgroups) == 1 and len(qgroups[0]) == 1 and not query.excluded:
            ct = cterm(qgroups[0][0])  # the most common alert: one word or one phrase
            self.groups = ((ct,),) if ct.needle else ((),)
            if isinstance(ct.key, tuple):
                self.starters = (ct.key[0],)
            if ct.exact:
                self.postings = ((None, (ct.key,), Match((ct.term,))),)
            elif ct.needle:
                self.anchor_keys = (ct.key,)
            return
        if len(qgroups) == 2 and len(qgroups[0]) == len(qgroups[1]) == 1 and not query.excluded:
            a, b = cterm(qgroups[0][0]), cterm(qgroups[1][0])  # the next most common
            if a.exact and b.exact and isinstance(a.key, str) and isinstance(b.key, str):
                self.groups = ((a,), (b,))
                first, second = (a, b) if a.cost <= b.cost else (b, a)
                self.postings = ((None, (first.key, second.key), Match((a.term, b.term))),)
                return
        self.groups = groups = tuple(_live(tuple(map(cterm, g))) for g in qgroups)
        if query.excluded:
            self.excluded = _live(tuple(map(cterm, query.excluded)))
        terms = (*chain.from_iterable(groups), *self.excluded)
        self.starters = tuple(ct.key[0] for ct in terms if isinstance(ct.key, tuple))
        if not groups or not all(groups):
            return  # verified for every paper, or never matches
        postings = _postings(groups) if all(map(_EXACT, terms)) else None
        if postings is None:
            anchor = min(groups, key=lambda g: sum(ct.cost for ct in g))
            self.anchor_keys = tuple(dict.fromkeys(ct.key for ct in anchor))
        else:
            self.postings = postings
            self.drops = tuple(dict.fromkeys(ct.key for ct in self.excluded))

    def verify(self, paper: _PaperKeys) -> dict[int, Match] | None:
        """The exact check (the same rules as bot.matching.matches) for one paper: its
        alerts with the reason, or None. The dict is shared: never change it."""
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
            found_alerts = self.matches[terms] = dict.fromkeys(self.alerts or (), Match(terms))
        return found_alerts


def _live(cts: tuple[_CTerm, ...]) -> tuple[_CTerm, ...]:
    """The terms that can match at all (not empty, every token a word)."""
    return cts if all(map(_NEEDLE, cts)) else tuple(ct for ct in cts if ct.needle)


def _postings(groups: tuple[tuple[_CTerm, ...], ...]) -> tuple[_Posting, ...] | None:
    """How to file a query whose terms are all one key each, if its shape allows."""
    out: dict[tuple[int | None, tuple[Key, ...]], Match] = {}  # the first filing wins
    if len(groups) == 1:
        # Each term on its own; where two are present the earlier one is the reason.
        group = groups[0]
        for ct in group:
            out.setdefault((None, (ct.key,)), Match((ct.term,)))
        for i, ct in enumerate(group):
            for later in group[i + 1 :]:
                out.setdefault((i, (ct.key, later.key)), Match((ct.term,)))
    elif len(groups) == 2 and min(map(len, groups)) == 1:
        a, b = groups
        if len(a) == len(b) == 1:  # two words: file under the rarer one first
            first, second = (a[0], b[0]) if a[0].cost <= b[0].cost else (b[0], a[0])
            out[None, (first.key, second.key)] = Match((a[0].term, b[0].term))
        else:  # an OR group and one more term: each OR term by its rank
            ored, other = (a, b[0]) if len(a) > 1 else (b, a[0])
            for i, ct in enumerate(ored):
                terms = (ct.term, other.term) if ored is a else (other.term, ct.term)
                out.setdefault((i, (ct.key, other.key)), Match(terms))
    else:
        return None
    return tuple((rank, keys, m) for (rank, keys), m in out.items())


def _token_cost(token: str, author: bool) -> float:
    """A guess at how often a word occurs (lower is rarer): long words and names are rarer."""
    cost = 1.0 if token in STOP_STEMS else 0.5 / max(len(token), 1)
    return cost * 0.1 if author else cost


# -- the index --------------------------------------------------------------------

_Alerts: TypeAlias = dict[int, Match]


class AlertIndex:
    """Every active alert, indexed by word, so a paper is matched against all at once."""

    def __init__(self, frequencies: Mapping[str, float] | None = None) -> None:
        # `frequencies` (analysed word -> share of papers containing it), if given, guides
        # which group anchors an alert; results never depend on it.
        self._freq = frequencies
        self._alerts: dict[int, Query] = {}
        self._compiled: dict[Query, _Compiled] = {}
        self._terms: dict[tuple[str, tuple[str, ...]], _CTerm] = {}  # shared compiled terms
        self._plus: dict[Key, _Alerts] = {}  # key -> alerts
        self._pairs: dict[Key, dict[Key, _Alerts]] = {}  # key -> second key -> alerts
        self._ranked: list[dict[Key, dict[Key, _Alerts]]] = []  # by rank, merged last to first
        self._drop: dict[Key, dict[int, None]] = {}  # excluded key -> alerts
        self._checked: dict[Key, list[_Compiled]] = {}  # anchor key -> queries to verify
        self._always: list[_Compiled] = []  # no positive group: verified for every paper
        # Every key filed above, and the first words of the bigram keys: made when needed.
        self._filed: tuple[set[Key], set[str]] | None = None

    @classmethod
    def build(
        cls, pairs: Iterable[tuple[int, Query]], frequencies: Mapping[str, float] | None = None
    ) -> AlertIndex:
        """An index of the given (alert_id, query) pairs (a later pair wins an id)."""
        index = cls(frequencies)
        # Equal queries are kept once, as they come in: a caller that parses each alert's
        # query makes a new copy for each, and the copies are then freed one by one.
        alerts: dict[int, Query] = {}
        canonical: dict[Query, Query] = {}
        for alert_id, query in pairs:
            alerts[alert_id] = canonical.setdefault(query, query)
        del canonical
        with _gc_paused():
            # Fresh id objects made in order sit side by side in memory: every match
            # touches them, and merging big alert dicts gets faster.
            by_query: dict[int, tuple[Query, dict[int, None]]] = {}  # by id(): no rehash
            for alert_id in sorted(alerts):
                query = alerts[alert_id]
                fresh = alert_id + 0
                index._alerts[fresh] = query
                by_query.setdefault(id(query), (query, {}))[1][fresh] = None
            del alerts
            for query, ids in by_query.values():
                comp = index._compiled[query] = _Compiled(query, index._cterm)
                index._link(comp, +1)
                index._file(comp, ids)
            index._lookup()
        return index

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
        comp = self._compiled.get(query)
        if comp is None:
            comp = self._compiled[query] = _Compiled(query, self._cterm)
            self._link(comp, +1)
        self._alerts[alert_id] = comp.query  # one copy of equal queries
        self._file(comp, {alert_id: None})
        self._filed = None

    def remove(self, alert_id: int) -> None:
        """Forget one alert; an unknown id is ignored."""
        query = self._alerts.pop(alert_id, None)
        if query is None:
            return
        comp = self._compiled[query]
        comp.count -= 1
        if comp.alerts is not None:
            del comp.alerts[alert_id]
            comp.matches = None
        for posting in comp.postings:
            _discard(*self._path(posting), alert_id)
        for key in comp.drops:
            _discard(self._drop, (key,), alert_id)
        while self._ranked and not self._ranked[-1]:
            self._ranked.pop()
        if not comp.count:
            del self._compiled[query]
            self._link(comp, -1)
        self._filed = None

    def match(self, paper: Paper) -> dict[int, Match]:
        """Every alert whose query matches the paper, with the reason it matched."""
        keys, starters = self._lookup()
        return self._match(_PaperKeys(paper, starters), keys)

    def match_many(self, papers: Iterable[Paper]) -> dict[str, dict[int, Match]]:
        """Match a batch: paper id -> {alert id: Match} (an empty dict when none match)."""
        keys, starters = self._lookup()
        return {p.id: self._match(_PaperKeys(p, starters), keys) for p in papers}

    # -- internals ----------------------------------------------------------------

    def _lookup(self) -> tuple[set[Key], set[str]]:
        """Every key filed in the index, and the first words of the bigrams to look for."""
        if self._filed is None:
            keys: set[Key] = {*self._plus, *self._pairs, *self._drop, *self._checked}
            for tables in ([self._pairs], self._ranked):
                for table in tables:
                    keys.update(table)
                    for sub in table.values():
                        keys.update(sub)
            starters = {key[0] for key in keys if isinstance(key, tuple)}
            for comp in chain(chain.from_iterable(self._checked.values()), self._always):
                starters.update(comp.starters)  # (bigrams of terms verified, not filed)
            self._filed = keys, starters
        return self._filed

    def _match(self, paper: _PaperKeys, filed: set[Key]) -> dict[int, Match]:
        hits = filed & paper.keys  # the paper's keys the index files
        plus, pairs = self._plus, self._pairs
        parts = [plus[key] for key in plus.keys() & hits]
        for key in pairs.keys() & hits:
            sub = pairs[key]
            parts.extend([sub[key2] for key2 in sub.keys() & hits])
        # No alert is in two of these dicts but the OR alerts the ranked dicts then fix,
        # so merge them in any order: copying the biggest is much faster than inserting.
        biggest = max(parts, key=len, default={})
        result: dict[int, Match] = biggest.copy()
        for part in parts:
            if part is not biggest:
                result.update(part)
        for ranked in reversed(self._ranked):  # rank 0 last: the first OR term wins
            for key in ranked.keys() & hits:
                sub = ranked[key]
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
                found = comp.verify(paper)
                if found is not None:
                    result.update(found)
        for comp in self._always:
            found = comp.verify(paper)
            if found is not None:
                result.update(found)
        return result

    def _file(self, comp: _Compiled, ids: dict[int, None]) -> None:
        """File these alerts (all with the compiled query) in the dict tables."""
        comp.count += len(ids)
        if comp.alerts is not None:
            comp.alerts.update(ids)
            comp.matches = None
        for rank, keys, match in comp.postings:
            if rank is None and len(keys) == 1:
                node, last = self._plus, keys[0]
            elif rank is None:
                node, last = self._pairs.setdefault(keys[0], {}), keys[1]
            else:
                while len(self._ranked) <= rank:
                    self._ranked.append({})
                node, last = self._ranked[rank].setdefault(keys[0], {}), keys[1]
            alerts = node.get(last)
            if alerts is None:
                node[last] = dict.fromkeys(ids, match)
            else:
                alerts.update(dict.fromkeys(ids, match))
        for key in comp.drops:
            self._drop.setdefault(key, {}).update(ids)

    def _path(self, posting: _Posting) -> tuple[dict[Any, Any], tuple[Key, ...]]:
        """The dict a posting is filed in, and the keys down to its alerts."""
        rank, keys, _ = posting
        if rank is not None:
            return self._ranked[rank], keys
        return (self._plus if len(keys) == 1 else self._pairs), keys

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
        """List (+1) or unlist (-1) a compiled query that is verified, not filed."""
        for key in comp.anchor_keys:
            if delta > 0:
                self._checked.setdefault(key, []).append(comp)
            else:
                self._checked[key].remove(comp)
                if not self._checked[key]:
                    del self._checked[key]
        if not comp.groups and not comp.postings:
            if delta > 0:
                self._always.append(comp)
            else:
                self._always.remove(comp)
        if delta < 0 and len(self._terms) > 1000 + 4 * len(self._compiled):
            self._terms.clear()  # a cache only: forget the terms of removed alerts


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


def _discard(root: dict[Any, Any], path: tuple[Any, ...], alert_id: int) -> None:
    """Unfile an alert at root[path...], and drop the dicts that leaves empty."""
    nodes = [root]
    for key in path[:-1]:
        nodes.append(nodes[-1][key])
    del nodes[-1][path[-1]][alert_id]
    for node, key in zip(reversed(nodes), reversed(path), strict=True):
        if node[key]:
            break
        del node[key]

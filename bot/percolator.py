"""Match new papers against every saved alert at once: an index from words to alerts.

A percolator turns search around: the alerts' queries are indexed, and each new paper
is looked up in that index. Matching follows `bot.matching.matches` exactly (analysed
words, phrases inside one field, author terms on author names); only the work differs.

How it works:

* A paper is tokenized once into a set of keys: those of its analysed words
  (`bot.text.analyze`: stems without accents) and word pairs (bigrams) that the index
  looks up. Author words carry an "@" prefix, so `author:x` and `x` never meet. A
  separator token sits between two fields, so no bigram or phrase spans two fields.
* A term of one or two words is decided by one key: its word, or its bigram.
* Most alerts (every term one or two words, and one group, or two groups of which one
  is a single term) are filed in plain dicts: key -> posting, or key -> second key ->
  posting. A posting is an int64 numpy array with an entry per alert: its slot (a small
  int standing for the alert) and the code of its Match (why it matched). The paper's
  keys are intersected with those dicts (in C) and the postings found are concatenated.
* The reason names the first term present in an OR group: an alert of one OR group (or
  of an OR group and one more term) has a slot for each distinct key of the group, its
  variants, each filed under its key (and the other term's) and dropped by the keys
  before it. Excluded terms drop every variant. So no alert is found twice, and a paper's
  matches are its postings, less the slots of the drop keys present (one numpy pass).
* Every other alert (a phrase of three words or more, several OR groups...) is anchored
  on its rarest group: each term of that group is filed under its key, and the alerts
  found that way are verified exactly, phrases by position. A verified query caches its
  posting per reason.
* The answer for a paper is a `Matches`: a Mapping of alert id -> Match that keeps the
  entries and reads the ids and reasons only when asked (a paper can match thousands of
  alerts, and a dict of them cost more than finding them).
* Memory: equal queries are kept once (callers parse each alert's query anew, and at
  100,000 alerts the copies weighed more than the index), made of one copy of each term
  and group; a filed query keeps only a count of its alerts (they are in the postings)
  and is compiled again when one is added or removed; equal Matches share a code; a
  build stores every posting as a slice of one array.
"""

from __future__ import annotations

import gc
from collections.abc import (
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import contextmanager
from itertools import chain
from typing import Any

import numpy as np

from bot.alert_filings import SharedQueries, _Filed, _Filings, _unfile
from bot.alert_terms import (
    _NONE,
    _SLOT,
    Key,
    Match,
    _Compiled,
    _CTerm,
    _joined,
    _packed,
    _PaperKeys,
    _Postings,
    _term_keys,
    _token_cost,
)
from bot.matches import Matches
from bot.models import Paper
from bot.query import Query, Term

__all__ = ["AlertIndex", "Match", "Matches", "SharedQueries"]


class AlertIndex:
    """Every active alert, indexed by word, so a paper is matched against all at once."""

    def __init__(self, frequencies: Mapping[str, float] | None = None) -> None:
        # `frequencies` (analysed word -> share of papers containing it), if given, guides
        # which group anchors an alert; results never depend on it. Copied: a filed query is
        # compiled again to remove it, which must find the keys it was filed under.
        self._freq = dict(frequencies) if frequencies is not None else None
        # Each alert has a slot (a small int, reused once freed), and one more for each
        # further variant of its query: the postings hold slots.
        # (An alert's slots are found by a scan of `_ids`: a dict of them weighed more, and
        # so did a dict of the alerts' queries by id: ~8 MB at 100,000 alerts with its ints.)
        self._ids = np.zeros(0, dtype=np.int64)  # slot -> alert id (-1: free)
        self._query_at = np.empty(0, dtype=np.object_)  # slot -> its alert's Query (or None)
        self._count = 0  # alerts indexed
        self._ids_lent = False  # Matches read `_ids`: copy it before changing it
        self._used = 0  # slots ever used: the free ones below are in `_free`
        self._free: list[int] = []
        self._table: list[Match] = [Match(())]  # code -> Match (code 0 is never used)
        self._code_of: dict[tuple[Term, ...], int] = {}  # a Match's terms -> its code
        self._reasons: dict[int, str] = {}  # code -> its Match's reason, once read
        self._of_code = np.empty(0, dtype=np.object_)  # the same, as an array: made when needed
        # Each distinct query: a verified one compiled, a filed one as a count.
        self._compiled: dict[Query, _Compiled | _Filed] = {}
        self._terms: dict[Term, _CTerm] = {}  # shared compiled terms
        self._share = SharedQueries()  # the indexed queries' one copy of each term and group
        self._plus: dict[Key, _Postings] = {}  # key -> alerts
        self._pairs: dict[Key, dict[Key, _Postings]] = {}  # key -> second key -> alerts
        self._drop: dict[Key, np.ndarray[Any, np.dtype[np.int32]]] = {}  # excluded key -> slots
        self._checked: dict[Key, list[_Compiled]] = {}  # anchor key -> queries to verify
        self._always: list[_Compiled] = []  # no positive group: verified for every paper
        # Every key a paper is looked up by, and the first words of the bigram keys among
        # them: made when needed.
        self._filed: tuple[set[Key], set[str]] | None = None
        self._numbers: _Postings | None = None  # `_alert_numbers`, made when needed

    @classmethod
    def build(
        cls,
        pairs: Iterable[tuple[int, Query]],
        frequencies: Mapping[str, float] | None = None,
        share: SharedQueries | None = None,
    ) -> AlertIndex:
        """An index of the given (alert_id, query) pairs (a later pair wins an id). `share`,
        if given, made the queries (each as it was parsed, so the parsed copies were freed
        one by one): the index keeps its terms and groups."""
        index = cls(frequencies)
        if share is not None:
            index._share = share
        # Equal queries are kept once, as they come in: a caller that parses each alert's
        # query makes a new copy for each, and the copies are then freed one by one.
        canonical: dict[Query, Query] = {}
        one_copy = canonical.setdefault
        alerts = {alert_id: one_copy(query, query) for alert_id, query in pairs}
        del canonical
        with _gc_paused():
            # Slots in the order of the ids; the distinct queries in the order of their
            # first slot, each with its slots (grouped by id(): no rehash, in numpy).
            ids = sorted(alerts)
            queries = list(map(alerts.__getitem__, ids))
            index._count = len(ids)
            del alerts
            by_id = dict(zip(map(id, queries), queries, strict=True))
            number = dict(zip(by_id, range(len(by_id)), strict=True))
            of_slot = np.fromiter(map(number.__getitem__, map(id, queries)), np.intp, len(ids))
            del queries, number
            distinct = list(map(index._share, by_id.values()))  # of shared terms and groups
            del by_id
            # Each slot's query, for `_query_at`.
            slot_queries = np.fromiter(distinct, np.object_, len(distinct)).take(of_slot).tolist()
            slots_in_order: list[int] = np.argsort(of_slot, kind="stable").tolist()
            ends: list[int] = np.cumsum(np.bincount(of_slot, minlength=len(distinct))).tolist()
            del of_slot
            filings = _Filings()
            file, compiled = filings.add, index._compiled
            cterm, new_code = index._cterm, index._new_code
            start = 0
            for query, end in zip(distinct, ends, strict=True):
                slots, start = slots_in_order[start:end], end
                comp = _Compiled(query, cterm, new_code)
                postings = comp.postings
                if not postings:  # verified: listed, and it keeps its alerts
                    compiled[query] = comp
                    index._link(comp, +1)
                    index._file(comp, [slots])
                    continue
                kept = compiled[query] = _Filed(query)
                kept.count = len(slots)
                keys, code, drops = postings[0]  # (the first slots are the alerts')
                file(keys, slots, code, drops)
                for keys, code, drops in postings[1:]:  # further slots, after the first ones
                    first = len(ids)
                    ids += map(ids.__getitem__, slots)
                    slot_queries += [query] * len(slots)
                    file(keys, range(first, len(ids)), code, drops)
            index._ids = np.array(ids, dtype=np.int64)
            index._query_at = np.fromiter(slot_queries, np.object_, len(slot_queries))
            index._used = len(ids)
            del ids, slot_queries
            filings.store(index._plus, index._pairs, index._drop)
            index._lookup()
        return index

    def __len__(self) -> int:
        return self._count

    def __contains__(self, alert_id: object) -> bool:
        return isinstance(alert_id, int) and len(self._slots(alert_id)) > 0

    def alerts(self) -> dict[int, Query]:
        """The indexed alerts, by id."""
        ids = self._ids[: self._used]
        live = np.flatnonzero(ids >= 0)
        return dict(zip(ids[live].tolist(), self._query_at[live].tolist(), strict=True))

    def _slots(self, alert_id: int) -> list[int]:
        """The slots of an alert (its first, then its query's further variants)."""
        found: list[int] = np.flatnonzero(self._ids[: self._used] == alert_id).tolist()
        return found

    def add(self, alert_id: int, query: Query) -> None:
        """Index one alert (replacing any alert with the same id)."""
        held = self._slots(alert_id)
        old: Query | None = self._query_at[held[0]] if held else None
        if old is not None:
            if old == query:
                return
            self.remove(alert_id)
        kept = self._compiled.get(query)
        if kept is None:
            query = self._share(query)
            comp = self._compile(query)
            kept = self._compiled[query] = _Filed(query) if comp.postings else comp
            self._link(comp, +1)
        elif isinstance(kept, _Filed):  # how it is filed, again (with the same codes)
            comp = self._compile(kept.query)
        else:
            comp = kept
        slots = sorted(self._new_slot() for _ in comp.postings or (None,))  # (variants in order)
        self._own_ids()[slots] = alert_id
        for slot in slots:
            self._query_at[slot] = kept.query  # one copy of equal queries
        self._count += 1
        self._file(comp, [[slot] for slot in slots])
        if kept is not comp:
            kept.count += 1
        self._filed = self._numbers = None

    def remove(self, alert_id: int) -> None:
        """Forget one alert; an unknown id is ignored."""
        slots = self._slots(alert_id)
        if not slots:
            return
        query: Query = self._query_at[slots[0]]
        self._own_ids()[slots] = -1
        for slot in slots:
            self._query_at[slot] = None
        self._count -= 1
        self._free += slots
        slot = slots[0]
        kept = self._compiled[query]
        kept.count -= 1
        comp = kept if isinstance(kept, _Compiled) else self._compile(query)  # (filed: again)
        if comp.alerts is not None:
            del comp.alerts[slot]
            comp.matches = None
        for (keys, _, drops), variant in zip(
            comp.postings, slots[: len(comp.postings)], strict=True
        ):
            _unfile(self._plus if len(keys) == 1 else self._pairs, keys, variant)
            for key in drops:
                _unfile(self._drop, (key,), variant)
        if not kept.count:
            del self._compiled[query]
            self._link(comp, -1)
        self._filed = self._numbers = None

    def match(self, paper: Paper) -> Matches:
        """Every alert whose query matches the paper, with the reason it matched."""
        keys, starters, scratch = self._matching()
        return self._match(_PaperKeys(paper, keys, starters), scratch)

    def match_many(self, papers: Iterable[Paper]) -> dict[str, Matches]:
        """Match a batch: paper id -> its Matches (empty when none match)."""
        keys, starters, scratch = self._matching()
        return {p.id: self._match(_PaperKeys(p, keys, starters), scratch) for p in papers}

    def match_again(
        self, changes: Iterable[tuple[Paper, Paper]], keep: Iterable[int] = ()
    ) -> dict[str, Matches]:
        """For each (old, new) text of one paper: new paper id -> the new text's matches of
        the alerts its old text did not match, and of the alerts in `keep` (matched before
        or not). What the two texts share is tokenized, looked up and verified once: a
        posting under keys both have, less what a drop key of the new text unfiles, was
        matched before too, and so was a verified query that none of the changed parts
        holds a key of (its answer is the same)."""
        keys, starters, _ = self._matching()
        alert_of = self._alert_numbers()  # slot -> a number for its alert
        seen = np.zeros(int(alert_of.max(initial=-1)) + 1, dtype=np.bool_)
        flags = np.zeros(len(self._ids), dtype=np.uint8)  # _NEW, _OLD: dropped; _KEEP
        keep_ids = np.fromiter(keep, np.int64)
        if len(keep_ids):
            flags[np.isin(self._ids, keep_ids)] = _KEEP
        drop = self._drop
        held: dict[_Compiled, frozenset[Key]] = {}  # a verified query's keys, once found
        out = {}
        for old, new in changes:
            now = _PaperKeys(new, keys, starters)
            was = _PaperKeys(old, keys, starters, like=(new, now))
            added, removed = now.keys - was.keys, was.keys - now.keys
            same, only_new = self._lookup_split(now.keys, added)
            only_old = self._lookup_lost(was.keys, removed)
            # Keys of the parts that differ: a verified query holding none answers alike.
            touched: set[Key] = set()
            for part, then in zip(now.parts, was.parts, strict=True):
                if part is not then:
                    touched |= part.keys | then.keys
            new_parts: list[_Postings] = []
            for comp in self._to_verify(now):
                found = comp.verify(now, self._new_code)
                if found is None:
                    continue
                changed = not _term_keys(comp, held).isdisjoint(touched)
                if changed and comp.verify(was, self._new_code) is None:  # new to it
                    new_parts.append(found)
                elif len(keep_ids):  # matched before too (a verified alert has one slot)
                    new_parts.append(found.compress(flags.take(found & _SLOT) != 0))
            dropped_now = _joined([drop[key] for key in drop.keys() & now.keys])
            dropped_then = _joined([drop[key] for key in drop.keys() & was.keys])
            flags[dropped_now] |= _NEW
            flags[dropped_then] |= _OLD
            shared = _joined(same)
            on = flags.take(shared & _SLOT)
            # The old text's matches: what a new match's alert is looked for in.
            was_found = shared.compress((on & _OLD) == 0)
            if only_old:
                then_found = _joined(only_old)
                then_on = flags.take(then_found & _SLOT)
                was_found = np.concatenate((was_found, then_found.compress((then_on & _OLD) == 0)))
            # A shared match was one before unless a drop key the new text lost unfiled it.
            new_parts.append(shared.compress(((on & _NEW) == 0) & ((on & (_OLD | _KEEP)) != 0)))
            if only_new:
                now_found = _joined(only_new)
                new_parts.append(now_found.compress((flags.take(now_found & _SLOT) & _NEW) == 0))
            flags[dropped_now] &= _KEEP
            flags[dropped_then] &= _KEEP
            found = _joined(new_parts)
            had = alert_of.take(was_found & _SLOT)
            seen[had] = True
            slots = found & _SLOT
            found = found.compress(~seen.take(alert_of.take(slots)) | (flags.take(slots) != 0))
            seen[had] = False
            out[new.id] = Matches(found, self._ids, self._table, self._of_code, self._reasons)
        return out

    # -- internals ----------------------------------------------------------------

    def _matching(self) -> tuple[set[Key], set[str], np.ndarray[Any, np.dtype[np.bool_]]]:
        """What matching needs: the keys looked up, the bigrams' first words, and a scratch
        array; the Matches made from now on read `_ids` and the codes array as they are."""
        keys, starters = self._lookup()
        self._ids_lent = True
        self._codes_array()
        return keys, starters, self._scratch()

    def _lookup(self) -> tuple[set[Key], set[str]]:
        """Every key filed in the index or looked at by a verified query, and the first
        words of the bigrams among them."""
        if self._filed is None:
            keys: set[Key] = {*self._plus, *self._pairs, *self._drop, *self._checked}
            for sub in self._pairs.values():
                keys.update(sub)
            for comp in chain(chain.from_iterable(self._checked.values()), self._always):
                keys.update(ct.key for ct in chain(*comp.groups, comp.excluded) if ct.needle)
            starters = {key[0] for key in keys if isinstance(key, tuple)}
            self._filed = keys, starters
        return self._filed

    def _scratch(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """A flag for each slot, for matching papers one after another (one for each
        call: no sharing between threads). All true between two papers."""
        return np.ones(len(self._ids), dtype=np.bool_)

    def _lookup_split(
        self, hits: set[Key], fresh: set[Key]
    ) -> tuple[list[_Postings], list[_Postings]]:
        """The postings filed under keys in `hits`: those under no key of `fresh`, and
        those under one (`fresh` is a part of `hits`)."""
        plus, pairs = self._plus, self._pairs
        if not fresh:
            return self._lookup_all(hits), []
        same: list[_Postings] = []
        other: list[_Postings] = []
        for key in plus.keys() & hits:
            (other if key in fresh else same).append(plus[key])
        for key in pairs.keys() & hits:
            sub = pairs[key]
            if key in fresh:
                other.extend([sub[key2] for key2 in sub.keys() & hits])
            else:
                for key2 in sub.keys() & hits:
                    (other if key2 in fresh else same).append(sub[key2])
        return same, other

    def _lookup_lost(self, hits: set[Key], lost: set[Key]) -> list[_Postings]:
        """The postings filed under keys in `hits` of which one is in `lost` (a part of
        `hits`): those `_lookup_split(hits, lost)` puts second, with less work."""
        plus, pairs = self._plus, self._pairs
        if not lost:
            return []
        parts = [plus[key] for key in plus.keys() & lost]
        for key in pairs.keys() & hits:
            sub = pairs[key]
            parts.extend([sub[key2] for key2 in sub.keys() & (hits if key in lost else lost)])
        return parts

    def _lookup_all(self, hits: set[Key]) -> list[_Postings]:
        """The postings filed under keys in `hits` (one key, or both of a pair)."""
        plus, pairs = self._plus, self._pairs
        parts = [plus[key] for key in plus.keys() & hits]
        for key in pairs.keys() & hits:
            sub = pairs[key]
            parts.extend([sub[key2] for key2 in sub.keys() & hits])
        return parts

    def _match(self, paper: _PaperKeys, alive: np.ndarray[Any, np.dtype[np.bool_]]) -> Matches:
        """The paper's Matches."""
        hits = paper.keys  # the paper's keys that the index looks up
        parts = self._lookup_all(hits)
        # An alert found by verification is in none of the tables.
        for comp in self._to_verify(paper):
            verified = comp.verify(paper, self._new_code)
            if verified is not None:
                parts.append(verified)
        # No alert is in two parts (an alert's variants exclude each other), so the
        # answer is the parts less the slots a drop key unfiles.
        if not parts:
            return Matches(_NONE, self._ids, self._table, self._of_code, self._reasons)
        found = parts[0] if len(parts) == 1 else np.concatenate(parts)
        drop = self._drop
        drops = [drop[key] for key in drop.keys() & hits]
        if drops:
            gone = drops[0] if len(drops) == 1 else np.concatenate(drops)
            alive[gone] = False
            keep = alive.take(found & _SLOT)
            alive[gone] = True  # (all true again for the next paper)
            found = found.compress(keep)
        return Matches(found, self._ids, self._table, self._of_code, self._reasons)

    def _to_verify(self, paper: _PaperKeys) -> Iterable[_Compiled]:
        """The verified queries that may match the paper: by an anchor key, or always."""
        if not self._checked:
            return self._always
        candidates: dict[_Compiled, None] = {}
        for key in self._checked.keys() & paper.keys:
            candidates.update(dict.fromkeys(self._checked[key]))
        return chain(candidates, self._always)

    def _alert_numbers(self) -> _Postings:
        """Slot -> a number for its alert (the slots of one alert share it; 0..alerts)."""
        if self._numbers is None:
            self._numbers = np.unique(self._ids, return_inverse=True)[1].astype(np.int64)
        return self._numbers

    def _file(self, comp: _Compiled, variants: list[list[int]]) -> None:
        """File these alerts (all with the compiled query; their slots for each variant)
        in the dict tables (a build files its own all at once: `_Filings`)."""
        slots = variants[0]
        comp.count += len(slots)
        if comp.alerts is not None:
            comp.alerts.update(dict.fromkeys(slots))
            comp.matches = None
        for (keys, code, drops), these in zip(
            comp.postings, variants[: len(comp.postings)], strict=True
        ):
            if len(keys) == 1:
                node, last = self._plus, keys[0]
            else:
                node, last = self._pairs.setdefault(keys[0], {}), keys[1]
            new = _packed(these, code)
            old = node.get(last)
            node[last] = new if old is None else np.concatenate((old, new))
            for key in drops:
                new_slots = np.array(these, dtype=np.int32)
                old_slots = self._drop.get(key)
                self._drop[key] = (
                    new_slots if old_slots is None else np.concatenate((old_slots, new_slots))
                )

    def _codes_array(self) -> None:
        """Bring `_of_code` up to the table (a new array: Matches keep theirs)."""
        if len(self._of_code) < len(self._table):
            of_code = np.empty(len(self._table), dtype=np.object_)
            of_code[:] = self._table
            self._of_code = of_code

    def _own_ids(self) -> _Postings:
        """`_ids`, to change: a copy if a Matches may still read it."""
        if self._ids_lent:
            self._ids = self._ids.copy()
            self._ids_lent = False
        return self._ids

    def _new_slot(self) -> int:
        """A free slot."""
        if self._free:
            return self._free.pop()
        if self._used == len(self._ids):
            grown = np.full(max(16, 2 * self._used), -1, dtype=np.int64)
            grown[: self._used] = self._ids
            self._ids, self._ids_lent = grown, False
            queries = np.empty(len(grown), dtype=np.object_)
            queries[: self._used] = self._query_at[: self._used]
            self._query_at = queries
        self._used += 1
        return self._used - 1

    def _new_code(self, match: Match) -> int:
        """A code for a Match. Codes are never reused (a Matches may still read it), so the
        table grows by the reasons of queries added after the build; an equal Match has
        the same code (a filed query is compiled again for each add and remove)."""
        code = self._code_of.get(match.terms)
        if code is None:
            code = self._code_of[match.terms] = len(self._table)
            self._table.append(match)
        return code

    def _cterm(self, term: Term) -> _CTerm:
        ct = self._terms.get(term)
        if ct is None:
            ct = self._terms[term] = _CTerm(term, self._word_cost)
        return ct

    def _compile(self, query: Query) -> _Compiled:
        """The query compiled (a filed one has the same codes each time)."""
        return _Compiled(query, self._cterm, self._new_code)

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
            self._share = SharedQueries()  # (and their groups)


# match_again's flags for each slot: unfiled by a drop key of the new text, of the old one;
# an alert whose matches are kept either way.
_NEW, _OLD, _KEEP = 1, 2, 4


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

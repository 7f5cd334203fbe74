"""The alert index's bookkeeping (bot.percolator): how a build files its postings, how an
alert is unfiled, and what the index keeps of a filed query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from itertools import chain
from operator import is_
from typing import Any

import numpy as np

from bot.alert_terms import _SLOT, Key, _Postings
from bot.query import Query, Term

_new_query = partial(tuple.__new__, Query)  # a Query of (groups, excluded), made faster


class SharedQueries:
    """Queries equal to those given, made of one copy of each term and each group: a parse
    makes new ones for each query (at 100,000 alerts, 60,000 Terms with their words, of 1,700
    distinct, and 58,000 groups, of 7,200). A query already made of them is given back."""

    __slots__ = ("_groups", "_terms")

    def __init__(self) -> None:
        self._terms: dict[Term, Term] = {}
        self._groups: dict[tuple[Term, ...], tuple[Term, ...]] = {}

    def __call__(self, query: Query) -> Query:
        find = self._groups.get
        groups = tuple(map(find, query.groups))
        if None in groups:
            groups = tuple(map(self._group, query.groups))
        excluded = query.excluded
        if excluded:
            excluded = find(excluded) or self._group(excluded)
        if excluded is query.excluded and all(map(is_, groups, query.groups)):
            return query
        return _new_query((groups, excluded))

    def _group(self, terms: tuple[Term, ...]) -> tuple[Term, ...]:
        """The one copy of a group (or of an excluded tuple)."""
        shared = self._groups.get(terms)
        if shared is None:
            one = self._terms.setdefault
            shared = tuple([one(term, term) for term in terms])
            self._groups[shared] = shared  # (keyed by the copy kept, so the parse is freed)
        return shared


class _Filed:
    """What the index keeps of a filed query (one whose alerts are all in the dict tables):
    the one copy of it, and how many alerts have it. How it is filed is compiled again when
    an alert with it is added or removed (a kept `_Compiled` with its postings weighed
    ~300 bytes a query: ~8 MB at 100,000 alerts)."""

    __slots__ = ("count", "query")

    def __init__(self, query: Query) -> None:
        self.query = query
        self.count = 0


class _Filings:
    """A build's filings, stored at the end: every posting a slice of one shared array
    (thousands of small arrays, made one by one, would cost more than the build)."""

    def __init__(self) -> None:
        self.postings: dict[tuple[Key, ...], tuple[list[int], list[int]]] = {}
        self.drops: dict[Key, list[int]] = {}

    def add(
        self, keys: tuple[Key, ...], slots: Sequence[int], code: int, drops: Iterable[Key]
    ) -> None:
        """File `slots` under `keys` with their Match's code, and under each drop key."""
        found = self.postings.get(keys)
        if found is None:
            found = self.postings[keys] = ([], [])
        found[0].extend(slots)
        found[1].extend([code] * len(slots))
        for key in drops:
            excluded = self.drops.get(key)
            if excluded is None:
                self.drops[key] = list(slots)
            else:
                excluded.extend(slots)

    def store(
        self,
        plus: dict[Key, _Postings],
        pairs: dict[Key, dict[Key, _Postings]],
        drop: dict[Key, Any],
    ) -> None:
        """Put every posting in its dict."""
        slots: list[int] = []
        codes: list[int] = []
        ends: list[int] = []
        for these, their_codes in self.postings.values():
            slots += these
            codes += their_codes
            ends.append(len(slots))
        entries = np.array(slots, dtype=np.int64) | (np.array(codes, dtype=np.int64) << 32)
        start = 0
        for keys, end in zip(self.postings, ends, strict=True):
            if len(keys) == 1:
                plus[keys[0]] = entries[start:end]
            else:
                pairs.setdefault(keys[0], {})[keys[1]] = entries[start:end]
            start = end
        excluded = np.array(list(chain.from_iterable(self.drops.values())), dtype=np.int32)
        start = 0
        for key, these in self.drops.items():
            drop[key] = excluded[start : start + len(these)]
            start += len(these)
        self.postings.clear()
        self.drops.clear()


def _unfile(root: dict[Any, Any], path: tuple[Any, ...], slot: int) -> None:
    """Unfile an alert's slot at root[path...], and drop what that leaves empty."""
    nodes = [root]
    for key in path[:-1]:
        nodes.append(nodes[-1][key])
    node, key = nodes[-1], path[-1]
    filed = node[key]
    kept = filed[((filed & _SLOT) if filed.dtype == np.int64 else filed) != slot]
    if len(kept):
        node[key] = kept
        return
    del node[key]
    for node, key in zip(reversed(nodes[:-1]), reversed(path[:-1]), strict=True):
        if node[key]:
            break
        del node[key]

"""The alerts that matched one paper, as the percolator (bot.percolator) finds them."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any

import numpy as np

from bot.alert_terms import _SLOT, Match, _Postings


class Matches(Mapping[int, Match]):
    """The alerts that matched one paper (alert id -> Match), kept as one array.

    A paper can match thousands of alerts: building a dict of them cost more than finding
    them. `len` reads the array, iterating and `ids()` read the ids from it, and the first
    lookup by id makes the dict. Alert ids come in no particular order.
    """

    __slots__ = ("_by_id", "_entries", "_ids", "_of_code", "_of_slot", "_reasons", "_table")

    def __init__(
        self,
        entries: _Postings,
        of_slot: _Postings,
        table: list[Match],
        of_code: np.ndarray[Any, np.dtype[np.object_]],
        reasons: dict[int, str],
    ) -> None:
        self._entries = entries  # the postings' entries: (code << 32) | slot
        self._of_slot = of_slot  # slot -> alert id, as it was (the index copies it on write)
        self._table = table  # code -> Match (the index only ever appends to it)
        self._of_code = of_code  # the same as an array, perhaps without the newest codes
        self._reasons = reasons  # code -> its Match's reason, as read so far (the index's)
        self._ids: _Postings | None = None
        self._by_id: dict[int, Match] | None = None

    def ids(self) -> _Postings:
        """The matching alert ids (read-only)."""
        if self._ids is None:
            self._ids = self._of_slot.take(self._entries & _SLOT)
        return self._ids

    def codes(self) -> _Postings:
        """Each match's reason as a code (in the order of `ids()`), read by `match_of`."""
        return self._entries >> 32

    def match_of(self, code: int) -> Match:
        """The Match a code of `codes()` stands for."""
        return self._table[code]

    def reason_of(self, code: int) -> str:
        """The reason of the Match a code of `codes()` stands for (made once per index)."""
        reason = self._reasons.get(code)
        if reason is None:
            reason = self._reasons[code] = self._table[code].reason
        return reason

    def only(self, keep: np.ndarray[Any, np.dtype[np.bool_]]) -> Matches:
        """These matches less those whose flag (in the order of `ids()`) is false."""
        return Matches(
            self._entries.compress(keep), self._of_slot, self._table, self._of_code, self._reasons
        )

    def _dict(self) -> dict[int, Match]:
        if self._by_id is None:
            codes = self._entries >> 32
            if len(codes) and codes.max() >= len(self._of_code):
                matches = list(map(self._table.__getitem__, codes.tolist()))
            else:
                matches = self._of_code.take(codes).tolist()  # (faster: in C)
            self._by_id = dict(zip(self.ids().tolist(), matches, strict=True))
        return self._by_id

    def keys(self) -> KeysView[int]:
        return self._dict().keys()

    def items(self) -> ItemsView[int, Match]:
        return self._dict().items()

    def values(self) -> ValuesView[Match]:
        return self._dict().values()

    def __getitem__(self, alert_id: int) -> Match:
        return self._dict()[alert_id]

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._dict()

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids().tolist())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Matches({self._dict()!r})"

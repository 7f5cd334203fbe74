"""Alert outbox rows kept packed, to be queued later a bucket of people at a time.

Matching many papers at once (a refresh that brought AI keywords to 1,400 papers) makes
hundreds of thousands of (person, paper) rows. Writing them one row at a time into the
outbox took seconds; packed, they are a few blobs, written in the transaction that marks
the papers matched. The sender then moves one bucket of people's rows into the outbox
(`expand_alert_matches`) and sends those before it moves the next, so the first messages
do not wait for the last rows, and every person's rows arrive together: one message each.

A part holds the rows of one bucket of people (user id modulo BUCKETS) from one batch: two
little-endian int64 columns (user id, alert id), then three int32 columns (paper, reason,
target: places in its `names`), 28 bytes a row, and the names as JSON. The format is the
same on every backend, so a store copy carries parts as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # numpy is imported where it is used: `paperboy scrape` never needs it
    import numpy as np

    _Ints = np.ndarray[Any, np.dtype[np.int64]]

BUCKETS = 64  # people are spread over this many buckets by user id


def bucket_of(user_id: int) -> int:
    """The bucket a person's kept rows are in."""
    return user_id % BUCKETS


class DeferredPart(NamedTuple):
    """One bucket's rows of one batch, packed."""

    bucket: int
    names: str  # JSON: {"papers": [...], "reasons": [...], "targets": [...]}
    packed: bytes  # user and alert ids (int64), then paper, reason and target (int32)
    row_count: int


def pack(
    columns: tuple[_Ints, _Ints, _Ints, _Ints, _Ints],
    papers: Sequence[str],
    reasons: Sequence[str],
    targets: Sequence[str],
) -> list[DeferredPart]:
    """Rows given as columns (user id; paper, a place in `papers`; alert id; reason and
    target, places in `reasons` and `targets`) -> a part per bucket of people with rows,
    each keeping the rows' order."""
    import numpy as np

    users, paper_at, alerts, reason_at, target_at = columns
    # Each name as JSON once: a part's names are then joined, not encoded again.
    encoded = [
        list(map(encode_basestring, names)) for names in (papers, reasons, map(str, targets))
    ]
    buckets = users % BUCKETS
    order = np.argsort(buckets, kind="stable")  # each bucket's rows together, in order
    bounds = np.searchsorted(buckets[order], np.arange(BUCKETS + 1)).tolist()
    parts: list[DeferredPart] = []
    for bucket in range(BUCKETS):
        rows = order[bounds[bucket] : bounds[bucket + 1]]
        if not len(rows):
            continue
        lists = []
        places = []
        for column, names in zip((paper_at, reason_at, target_at), encoded, strict=True):
            # Only the names these rows use, renumbered.
            used, place = np.unique(column[rows], return_inverse=True)
            lists.append("[" + ",".join([names[i] for i in used.tolist()]) + "]")
            places.append(place.ravel())
        wide = np.stack((users[rows], alerts[rows])).astype("<i8")
        narrow = np.stack(places).astype("<i4")
        parts.append(
            DeferredPart(
                bucket,
                '{"papers":%s,"reasons":%s,"targets":%s}' % tuple(lists),  # noqa: UP031
                wide.tobytes() + narrow.tobytes(),
                len(rows),
            )
        )
    return parts


def unpack(names: str, packed: bytes) -> Iterator[tuple[int, str, int, str, str]]:
    """A part's rows, in the order packed: (user id, paper id, alert id, reason, target)."""
    import numpy as np

    named = json.loads(names)
    papers, reasons, targets = named["papers"], named["reasons"], named["targets"]
    n = len(packed) // 28
    users, alerts = np.frombuffer(packed, dtype="<i8", count=2 * n).reshape(2, n).tolist()
    narrow = np.frombuffer(packed, dtype="<i4", offset=16 * n).reshape(3, n)
    paper_at, reason_at, target_at = narrow.tolist()
    for u, p, a, r, t in zip(users, paper_at, alerts, reason_at, target_at, strict=True):
        yield u, papers[p], a, reasons[r], targets[t]


def queued_rows(
    parts: Iterable[Sequence[Any]],
) -> Iterator[tuple[int, str, int, str, str, Any]]:
    """The rows of parts read back as (id, queued_at, names, packed), oldest part first,
    each with its part's queued_at: (user id, paper id, alert id, reason, target, queued_at),
    as expand_alert_matches inserts them on either backend."""
    for _, queued_at, names, packed in parts:
        for row in unpack(names, packed):
            yield (*row, queued_at)


__all__ = ["BUCKETS", "DeferredPart", "bucket_of", "pack", "queued_rows", "unpack"]

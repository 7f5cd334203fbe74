"""Alert outbox rows kept packed (defer_alert_matches) and queued a bucket of people at a time
(expand_alert_matches): the rows that arrive are the rows queue_alert_matches would queue."""

from __future__ import annotations

import random

import numpy as np

from bot.models import OutboxRow, QueuedAlert
from bot.store import Store
from bot.store.deferred import BUCKETS, DeferredPart, bucket_of, pack, unpack
from tests.bot.store.support import DAY, paper


def packed(rows: list[OutboxRow]) -> list[DeferredPart]:
    """rows -> parts, as alert_rows.OutboxRows.packed makes them."""
    papers = sorted({r.paper_id for r in rows})
    reasons = sorted({r.reason for r in rows})
    targets = sorted({str(r.target) for r in rows})
    columns = tuple(
        np.array(c, dtype=np.int64)
        for c in (
            [r.user_id for r in rows],
            [papers.index(r.paper_id) for r in rows],
            [r.alert_id for r in rows],
            [reasons.index(r.reason) for r in rows],
            [targets.index(str(r.target)) for r in rows],
        )
    )
    return pack(columns, papers, reasons, targets)  # type: ignore[arg-type]


def as_rows(queued: list[QueuedAlert]) -> list[OutboxRow]:
    return sorted(OutboxRow(r.user_id, r.paper_id, r.alert_id, r.reason, r.target) for r in queued)


async def expand_all(store: Store) -> list[tuple[int, int]]:
    calls = []
    while (expanded := await store.expand_alert_matches()) is not None:
        calls.append(expanded)
    return calls


def test_packing_keeps_every_row_and_its_order_within_a_bucket() -> None:
    rng = random.Random(3)
    rows = [
        OutboxRow(
            rng.choice([1, 2, 65, 130, 987_654_321_098_765_432]),
            f"2501.{rng.randrange(5):05d}",
            rng.randrange(-3, 9),  # a follow's row has a negative id
            rng.choice(["matched `a`", "matched `b`; new paper by `Ada`", "é ✓"]),
            rng.choice(["dm", "channel:42"]),
        )
        for _ in range(200)
    ]
    parts = packed(rows)
    assert sorted(p.bucket for p in parts) == sorted({bucket_of(r.user_id) for r in rows})
    for part in parts:
        got = [OutboxRow(*r) for r in unpack(part.names, part.packed)]
        assert got == [r for r in rows if bucket_of(r.user_id) == part.bucket]
        assert part.row_count == len(got)


async def test_kept_rows_wait_and_their_papers_are_matched(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2501.00001"), paper("2501.00002")])
    kept = await store.defer_alert_matches(
        ["2501.00001"], packed([OutboxRow(1, "2501.00001", 7, "matched `a`")])
    )
    assert kept == 1
    assert await store.alert_outbox() == []
    assert [p.id for p in await store.unmatched_papers()] == ["2501.00002"]


async def test_expanding_queues_what_queueing_would(store: Store) -> None:
    rng = random.Random(11)
    rows = sorted(
        {
            (u, p): OutboxRow(u, p, rng.randrange(1, 50), f"matched `{rng.randrange(4)}`", t)
            for u, p, t in (
                (rng.randrange(1, 400), f"2501.{rng.randrange(30):05d}", rng.choice(["dm", "c:9"]))
                for _ in range(600)
            )
        }.values()
    )
    await store.defer_alert_matches([], packed(rows))
    calls = await expand_all(store)
    assert len(calls) == len({bucket_of(r.user_id) for r in rows}) <= BUCKETS
    assert sum(n for _, n in calls) == len(rows)
    assert as_rows(await store.alert_outbox()) == rows
    assert await store.expand_alert_matches() is None


async def test_a_persons_rows_from_every_batch_arrive_together(store: Store) -> None:
    person, other = 5, 5 + BUCKETS  # one bucket
    await store.defer_alert_matches(
        [], packed([OutboxRow(person, "2501.00001", 1, "a"), OutboxRow(7, "2501.00001", 2, "a")])
    )
    await store.defer_alert_matches(
        [],
        packed([OutboxRow(other, "2501.00002", 3, "b"), OutboxRow(person, "2501.00003", 1, "b")]),
    )
    bucket, queued = await store.expand_alert_matches() or (None, 0)
    assert bucket == bucket_of(person) and queued == 3
    assert sorted((r.user_id, r.paper_id) for r in await store.alert_outbox()) == [
        (person, "2501.00001"),
        (person, "2501.00003"),
        (other, "2501.00002"),
    ]
    assert await store.expand_alert_matches() == (bucket_of(7), 1)
    assert await store.expand_alert_matches() is None


async def test_the_first_row_for_a_pair_wins(store: Store) -> None:
    await store.queue_alert_matches([], [OutboxRow(1, "2501.00001", 1, "queued first")])
    await store.mark_alerts(1, ["2501.00001"], "sent")
    await store.defer_alert_matches(
        [],
        packed([OutboxRow(1, "2501.00001", 2, "again"), OutboxRow(1, "2501.00002", 2, "kept")]),
    )
    await store.defer_alert_matches([], packed([OutboxRow(1, "2501.00002", 3, "kept later")]))
    assert await expand_all(store) == [(1, 1)]
    (row,) = await store.alert_outbox()
    assert (row.paper_id, row.alert_id, row.reason) == ("2501.00002", 2, "kept")


async def test_nothing_kept_expands_to_nothing(store: Store) -> None:
    assert await store.expand_alert_matches() is None
    assert await store.defer_alert_matches(["2501.00001"], []) == 0
    assert await store.expand_alert_matches() is None


async def test_the_buckets_with_kept_rows(store: Store) -> None:
    assert await store.deferred_buckets() == set()
    await store.defer_alert_matches(
        [],
        packed([OutboxRow(1, "2501.00001", 1, "a"), OutboxRow(2 + BUCKETS, "2501.00001", 2, "a")]),
    )
    await store.defer_alert_matches([], packed([OutboxRow(1 + BUCKETS, "2501.00002", 3, "a")]))
    assert await store.deferred_buckets() == {1, 2}
    assert await store.expand_alert_matches() == (1, 2)
    assert await store.deferred_buckets() == {2}

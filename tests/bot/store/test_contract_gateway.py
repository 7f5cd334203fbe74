"""Identify turns: each identify bucket IDENTIFYs at most once per interval."""

from __future__ import annotations

import asyncio
import itertools
import time

from bot.store import Store

INTERVAL = 0.3


async def turns(store: Store, bucket: int, n: int) -> list[float]:
    """Take `n` turns of one bucket at once; the moments they were given, in order."""
    given: list[float] = []

    async def one() -> None:
        await store.identify_turn(bucket, INTERVAL)
        given.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(given)


async def test_the_first_turn_is_at_once(store: Store) -> None:
    start = time.monotonic()
    await store.identify_turn(0, 30)
    assert time.monotonic() - start < 5


async def test_turns_of_one_bucket_are_an_interval_apart(store: Store) -> None:
    given = await turns(store, 0, 3)
    gaps = [b - a for a, b in itertools.pairwise(given)]
    assert all(gap >= INTERVAL * 0.95 for gap in gaps), gaps


async def test_buckets_do_not_wait_for_each_other(store: Store) -> None:
    await store.identify_turn(0, 30)
    start = time.monotonic()
    await store.identify_turn(1, 30)
    assert time.monotonic() - start < 5

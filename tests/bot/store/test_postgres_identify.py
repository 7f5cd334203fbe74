"""PostgreSQL: identify turns are shared by every process using the database."""

from __future__ import annotations

import asyncio
import itertools
import time

from bot.store.postgres import PostgresStore
from tests.support import postgres

INTERVAL = 0.3


async def test_two_stores_on_one_database_take_turns(pg_server: object) -> None:
    """Two stores stand for two bot processes: their turns of one bucket are spaced."""
    async with (
        postgres.server().database() as url,
        PostgresStore(url) as first,
        PostgresStore(url) as second,
    ):
        given: list[float] = []

        async def turn(store: PostgresStore) -> None:
            await store.identify_turn(0, INTERVAL)
            given.append(time.monotonic())

        await asyncio.gather(turn(first), turn(second), turn(first), turn(second))
        given.sort()
        gaps = [b - a for a, b in itertools.pairwise(given)]
        assert all(gap >= INTERVAL * 0.95 for gap in gaps), gaps

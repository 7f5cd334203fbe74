"""Gateway bookkeeping: whose turn it is to IDENTIFY, across every process of the bot."""

from __future__ import annotations

import asyncio

from bot.store.postgres.connection import PostgresBase

# pg_advisory_xact_lock(IDENTIFY_LOCK, bucket): one turn of a bucket at a time, bot-wide.
IDENTIFY_LOCK = 0x1D_E7_1F


class Gateway(PostgresBase):
    """Identify turns, shared by every process through an advisory lock and a meta row per
    bucket holding the database's time of the last turn."""

    async def identify_turn(self, bucket: int, interval: float) -> None:
        """Wait until `bucket` may IDENTIFY: `interval` seconds after its last turn (taken by
        any process), measured on the database's clock."""
        key = f"identify:{bucket}"
        async with self._transaction() as con:
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", IDENTIFY_LOCK, bucket)
            elapsed = await con.fetchval(
                "SELECT extract(epoch FROM clock_timestamp() - value::timestamptz)::float8"
                " FROM meta WHERE key = $1",
                key,
            )
            if elapsed is not None and elapsed < interval:
                await asyncio.sleep(min(interval - max(elapsed, 0.0), interval))
            await con.execute(
                "INSERT INTO meta (key, value) VALUES ($1, clock_timestamp()::text)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key,
            )

"""Gateway bookkeeping: whose turn it is to IDENTIFY (one process: kept in memory)."""

from __future__ import annotations

import asyncio
import time

from bot.store.sqlite.connection import SQLiteBase


class Gateway(SQLiteBase):
    """Identify turns. A SQLite store serves one process, so its turns are that process's."""

    _turns: dict[int, tuple[asyncio.Lock, list[float]]]

    async def identify_turn(self, bucket: int, interval: float) -> None:
        """Wait until `bucket` may IDENTIFY: `interval` seconds after its last turn."""
        turns = self.__dict__.setdefault("_turns", {})
        lock, last = turns.setdefault(bucket, (asyncio.Lock(), []))
        async with lock:
            if last:
                wait = last[0] + interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(min(wait, interval))
            last[:] = [time.monotonic()]

"""A pacing limiter: keep bulk sends under Discord's global limit instead of provoking 429s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    """Lets at most `rate` callers through per second, evenly spaced, in arrival order."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Wait for this caller's slot.

        Slots are measured when callers are released, not when they arrive, so a stalled
        event loop can never release a burst of callers whose slots all passed meanwhile.
        """
        async with self._lock:
            delay = self._next - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = self._clock() + self.interval

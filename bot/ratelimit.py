"""Limiters: pace bulk sends under Discord's global limit, budget shared resources fairly."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Hashable

from bot.errors import UserError


class Pacer:
    """Lets at most `rate` callers through per second, in arrival order, on a fixed grid.

    Caller k's slot is one interval after caller k-1's slot, and nobody goes before their
    slot, so no window of W seconds ever holds more than W * rate + 1 slots. A caller the
    event loop wakes late (by up to one interval) does not push back everyone after it:
    the next caller keeps its slot. Past that (an idle pacer, a stalled loop) the grid
    restarts at the present, so a stall never releases a burst of callers whose slots all
    passed meanwhile: at most two go back to back.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._next = -float("inf")
        self._lock = asyncio.Lock()

    @property
    def rate(self) -> float:
        """Callers let through per second."""
        return 1.0 / self.interval

    def hold(self, seconds: float) -> None:
        """Let nobody through for `seconds` from now (then the grid goes on from there)."""
        self._next = max(self._next, self._clock() + seconds)

    def set_rate(self, rate: float) -> None:
        """Change the rate from the next caller on (callers already given a slot keep it)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate

    async def wait(self) -> None:
        """Wait for this caller's slot."""
        async with self._lock:
            now = self._clock()
            slot = self._next if now - self._next < self.interval else now
            if slot > now:
                await asyncio.sleep(slot - now)
            self._next = slot + self.interval


class TokenBucket:
    """Up to `burst` uses at once, refilled at `per_minute` a minute: a budget callers share.

    The clock is injected (seconds, e.g. `time.monotonic`); a clock that jumps backwards
    only delays the refill.
    """

    def __init__(
        self, per_minute: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.rate = per_minute / 60.0
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = now
        return self._tokens

    def take(self) -> float:
        """Use one token and return 0.0, or return the seconds until one is free (none used)."""
        if self._refill() >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate

    @property
    def full(self) -> bool:
        """Whether the bucket has refilled completely (an idle caller, safe to forget)."""
        return self._refill() >= self.burst


class Buckets:
    """One TokenBucket per key (a person); idle, full buckets are forgotten now and then."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        keep: int = 1000,
    ) -> None:
        self._make = lambda: TokenBucket(per_minute, burst, clock=clock)
        self._buckets: dict[Hashable, TokenBucket] = {}
        self._keep = keep

    def take(self, key: Hashable) -> float:
        """TokenBucket.take for this key's bucket."""
        if len(self._buckets) >= self._keep:
            self._buckets = {k: b for k, b in self._buckets.items() if not b.full}
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = self._make()
        return bucket.take()


class StillRunning(UserError):
    """The person's previous piece of the same kind of work has not finished yet."""


class OnePerKey:
    """At most one piece of work in flight per key (a person).

    A second one waits up to `wait` seconds for the first to finish, else StillRunning. On a
    shared FIFO resource (the store's search connection) this shares it fairly: each person
    has at most one request queued, so nobody waits behind a second request of anyone else.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        self._slots: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, key: Hashable, *, wait: float = 0.0) -> AsyncIterator[None]:
        """Hold this key's one slot for the duration of the block."""
        lock, users = self._slots.setdefault(key, (asyncio.Lock(), [0]))
        if lock.locked() and wait <= 0:
            raise StillRunning(self.message)
        users[0] += 1
        try:
            try:
                async with asyncio.timeout(max(wait, 0.0) if lock.locked() else None):
                    await lock.acquire()
            except TimeoutError:
                raise StillRunning(self.message) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            users[0] -= 1
            if not users[0]:
                del self._slots[key]

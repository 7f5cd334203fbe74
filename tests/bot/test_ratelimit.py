import asyncio
import time

import pytest

from bot.ratelimit import Pacer


async def test_pacer_spaces_callers_evenly() -> None:
    pacer = Pacer(100)
    started = time.monotonic()
    stamps: list[float] = []

    async def call() -> None:
        await pacer.wait()
        stamps.append(time.monotonic() - started)

    await asyncio.gather(*(call() for _ in range(21)))
    assert stamps[-1] >= 0.19  # 20 intervals of 10 ms after the first
    # No 1-second window (here: 100 ms window at 100/s -> 10 + 1) ever holds more than allowed.
    for i, t in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s - t < 0.1) <= 11


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Pacer(0)

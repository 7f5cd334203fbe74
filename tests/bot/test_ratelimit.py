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


class _FakeTime:
    """A clock that asyncio.sleep (patched) advances, recording each sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> _FakeTime:
    fake = _FakeTime()
    monkeypatch.setattr("bot.ratelimit.asyncio.sleep", fake.sleep)
    return fake


async def test_pacer_a_late_caller_does_not_push_back_the_next(fake_time: _FakeTime) -> None:
    pacer = Pacer(10, clock=lambda: fake_time.now)  # a slot every 100 ms
    await pacer.wait()  # an idle pacer lets the first caller straight through
    assert fake_time.sleeps == []
    fake_time.now += 0.15  # the loop came back to the second caller 50 ms after its slot
    await pacer.wait()
    await pacer.wait()  # the third keeps its slot, 100 ms after the second's
    assert fake_time.sleeps == [0.05]


async def test_pacer_restarts_its_grid_after_a_stall(fake_time: _FakeTime) -> None:
    pacer = Pacer(10, clock=lambda: fake_time.now)
    await pacer.wait()
    fake_time.now += 1.0  # a stall of ten slots: they are not released as a burst
    await pacer.wait()
    await pacer.wait()
    await pacer.wait()
    assert fake_time.sleeps == [0.1, 0.1]

"""RisingDelivery with an in-memory courier and a real temporary SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import cast

import pytest

from bot.delivery.courier import Gone, Rejected, TryLater
from bot.delivery.rising import RisingDelivery, health_key, rising_nonce
from bot.leases import rising_key
from bot.models import Paper, RisingChannel
from bot.shards import Shards
from bot.store import SQLiteStore
from tests.bot.delivery.support import Clock, HealthLog
from tests.fakes.fake_courier import Crash, FakeCourier

JAN2, JAN8 = date(2025, 1, 2), date(2025, 1, 8)  # the clock says 2025-01-08 10:00
CHANNEL, OTHER, GUILD = 100, 200, 1
OLD = "2412.00001"  # listed on 2024-12-20: older than the 7 days followed


def papers(day: date, upvotes: list[int], tag: str = "") -> list[Paper]:
    return [
        Paper(
            f"{day:%y%m}.{day.day:02d}{n:03d}",
            f"Paper {n} {tag}".strip(),
            "An abstract.",
            upvotes=u,
        )
        for n, u in enumerate(upvotes)
    ]


async def refresh(store: SQLiteStore, clock: Clock, day: date, listed: list[Paper]) -> None:
    """A refresh of one list (it records an upvote point), an hour later."""
    clock.advance(hours=1)
    await store.refresh_lists([(day, listed)], at=clock())


@asynccontextmanager
async def running(
    tmp_path: Path, clock: Clock, courier: FakeCourier, health: HealthLog
) -> AsyncIterator[tuple[RisingDelivery, SQLiteStore]]:
    async with SQLiteStore(tmp_path / "paperboy.db", clock=clock) as store:
        yield RisingDelivery(store, courier, clock=clock, report_health=health), store


def posted(courier: FakeCourier, channel: int = CHANNEL) -> list[str]:
    return [s.payload.split()[1] for s in courier.sent if s.channel_id == channel]


async def test_a_paper_is_posted_once_when_it_reaches_the_threshold(
    tmp_path: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier()
    listed = papers(JAN8, [10, 60])
    async with running(tmp_path, clock, courier, health) as (engine, store):
        await refresh(store, clock, JAN8, listed)
        assert await engine.set_channel(RisingChannel(CHANNEL, GUILD, 50)) == 1  # 60: already
        assert await engine.run() == 0
        await refresh(store, clock, JAN8, [replace(listed[0], upvotes=49), listed[1]])
        assert await engine.run() == 0  # not before
        await refresh(store, clock, JAN8, [replace(listed[0], upvotes=75), listed[1]])
        assert await engine.run() == 1
        assert [s.payload for s in courier.sent] == [f"rising {listed[0].id} 75 +65"]
        assert courier.sent[0].nonce == rising_nonce(CHANNEL, listed[0].id)
        await refresh(store, clock, JAN8, [replace(listed[0], upvotes=300), listed[1]])
        assert await engine.run() == 0  # once, ever
        assert len(courier.sent) == 1


async def test_only_papers_of_the_last_seven_days_and_matching_keywords(
    tmp_path: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier()
    async with running(tmp_path, clock, courier, health) as (engine, store):
        await engine.set_channel(RisingChannel(CHANNEL, GUILD, 5, "diffusion"))
        await engine.set_channel(RisingChannel(OTHER, GUILD, 5))
        await store.ingest_day(date(2024, 12, 20), [Paper(OLD, "Old", "x", upvotes=1)])
        await store.ingest_day(JAN2, papers(JAN2, [9], "diffusion"))  # the oldest day followed
        await store.ingest_day(JAN8, papers(JAN8, [9, 9], "graphs"))
        await store.refresh_lists(
            [(date(2024, 12, 20), [Paper(OLD, "Old", "x", upvotes=90)])], at=clock()
        )
        assert await engine.run() == 4
        assert posted(courier) == ["2501.02000"]
        assert sorted(posted(courier, OTHER)) == ["2501.02000", "2501.08000", "2501.08001"]


async def test_a_send_cut_short_is_resumed_with_the_same_nonce_and_posted_once(
    tmp_path: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier(crash_after=2)
    async with running(tmp_path, clock, courier, health) as (engine, store):
        await engine.set_channel(RisingChannel(CHANNEL, GUILD, 1))
        await store.ingest_day(JAN8, papers(JAN8, [5, 6, 7, 8]))
        with pytest.raises(Crash):  # the process dies after a send, before recording it
            await engine.run()
    async with running(tmp_path, clock, courier, health) as (engine, store):
        assert await engine.run() == 3  # the second one's resend is deduplicated by its nonce
        assert sorted(posted(courier)) == [p.id for p in papers(JAN8, [0, 0, 0, 0])]
        assert courier.attempts == 5
        assert await engine.run() == 0 and await store.rising_outbox() == []


async def test_refused_passing_and_gone(tmp_path: Path, clock: Clock, health: HealthLog) -> None:
    courier = FakeCourier(failures=[Rejected("400"), TryLater("502")])
    async with running(tmp_path, clock, courier, health) as (engine, store):
        await engine.set_channel(RisingChannel(CHANNEL, GUILD, 1))
        await store.ingest_day(JAN8, papers(JAN8, [5, 6, 7]))
        assert await engine.run() == 0  # one refused (dropped for good), then a passing error
        assert await engine.run() == 2  # the rest, at the retry
        assert len(posted(courier)) == 2
        await store.ingest_day(JAN8, papers(JAN8, [5, 6, 7, 8, 9]))
        courier.failures = [Gone("the channel was deleted")]
        assert await engine.run() == 0
        assert await store.rising_channels() == []  # stopped, and the server is told
        (key, problem, guild), *_ = [r for r in health.reports if r[1]]
        assert key == health_key(CHANNEL) and guild == GUILD
        assert problem is not None and "the channel was deleted" in problem
        assert await store.rising_outbox() == []  # its other planned post is dropped too


async def test_a_post_leased_by_another_process_is_left_to_it(
    tmp_path: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier()
    async with running(tmp_path, clock, courier, health) as (engine, store):
        await engine.set_channel(RisingChannel(CHANNEL, GUILD, 1))
        await store.ingest_day(JAN8, papers(JAN8, [5, 6]))
        held = await store.claim_lease(rising_key(CHANNEL, "2501.08001"), "other:1", 60)
        assert held is not None
        assert await engine.run() == 1  # the other paper; this one is the other process's
        assert posted(courier) == ["2501.08000"]
        await store.release_lease(held)
        assert await engine.run() == 1
        assert sorted(posted(courier)) == ["2501.08000", "2501.08001"]


async def test_a_process_posts_rising_papers_only_in_servers_on_its_shards(
    tmp_path: Path, clock: Clock, health: HealthLog
) -> None:
    """Shard 1's process plans and sends nothing for a server on shard 0, and leaves what
    shard 0's process planned for it alone (not marked done)."""
    on_0, on_1 = (0 << 22) | 7, (1 << 22) | 7
    listed = papers(JAN8, [10, 20])
    async with SQLiteStore(tmp_path / "paperboy.db", clock=clock) as store:
        first = RisingDelivery(
            store, FakeCourier(), clock=clock, report_health=health, owns=Shards(2, (0,)).owns
        )
        second_courier = FakeCourier()
        second = RisingDelivery(
            store, second_courier, clock=clock, report_health=health, owns=Shards(2, (1,)).owns
        )
        await first.set_channel(RisingChannel(CHANNEL, on_0, 50))
        await second.set_channel(RisingChannel(OTHER, on_1, 50))
        await refresh(store, clock, JAN8, [replace(p, upvotes=80) for p in listed])
        assert await second.run() == 2
        assert {s.channel_id for s in second_courier.sent} == {OTHER}
        assert {p.channel_id for p in await store.rising_outbox()} == set()  # not planned yet
        first_courier = cast(FakeCourier, first.courier)
        first_courier.crash_after = 1
        with pytest.raises(Crash):
            await first.run()  # planned both for CHANNEL, died after sending one
        assert await second.run() == 0  # not its server: left for shard 0's process
        assert [p.channel_id for p in await store.rising_outbox()] == [CHANNEL, CHANNEL]
        first_courier.crash_after = None
        assert await first.run() == 2  # the first again, with its nonce: Discord keeps one
        assert [s.channel_id for s in first_courier.sent] == [CHANNEL, CHANNEL]
        assert await store.rising_outbox() == []

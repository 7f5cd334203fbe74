"""DigestDelivery with an in-memory courier and a real temporary SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import DigestConfig
from bot.delivery.courier import Gone, Posted, Rejected, TryLater, part_nonce
from bot.delivery.digests import DigestDelivery, Outcome, health_key
from bot.leases import Leases, digest_key
from bot.models import Fence, Paper, Subscription
from bot.shards import Shards
from bot.store import SQLiteStore
from tests.bot.delivery.support import Clock, HealthLog
from tests.fakes.fake_courier import FakeCourier

JAN8, JAN9 = date(2025, 1, 8), date(2025, 1, 9)
CHANNEL, OTHER, GUILD = 100, 200, 1  # CHANNEL posts at 09:00 UTC, OTHER at 10:00
POST_TIME = datetime(2025, 1, 9, 9, 0, tzinfo=UTC)  # the 2025-01-08 list is complete by then


def papers(day: date, count: int = 25) -> list[Paper]:
    """A list of `count` papers: with top 25 and 10 per message, a digest of 3 parts."""
    return [
        Paper(f"{day:%y%m}.{day.day:02d}{n:03d}", f"Paper {n}", "An abstract.", upvotes=100 - n)
        for n in range(count)
    ]


@pytest.fixture
async def db(tmp_path: Path, clock: Clock) -> Path:
    """A store file with the 2025-01-08 list and two subscribed channels; it is 09:00 next day."""
    path = tmp_path / "paperboy.db"
    async with SQLiteStore(path, clock=clock) as store:
        await store.ingest_day(JAN8, papers(JAN8))
        await store.save_subscription(Subscription(CHANNEL, GUILD, "09:00", "UTC", 25))
        await store.save_subscription(Subscription(OTHER, GUILD, "10:00", "UTC", 25))
    clock.now = POST_TIME
    return path


@asynccontextmanager
async def running(
    db: Path, clock: Clock, courier: FakeCourier, health: HealthLog, refreshed: bool = True
) -> AsyncIterator[tuple[DigestDelivery, SQLiteStore]]:
    """The service over the store file, as one process would run it."""

    async def refresh(_day: date) -> bool:
        return refreshed

    async with SQLiteStore(db, clock=clock) as store:
        yield (
            DigestDelivery(
                store,
                courier,
                clock=clock,
                settings=DigestConfig(),
                refresh=refresh,
                report_health=health,
            ),
            store,
        )


async def test_each_part_is_posted_once_with_its_stable_nonce(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        (outcome,) = await service.run_due()
        assert (outcome.channel_id, outcome.state, outcome.messages) == (CHANNEL, "sent", 3)
        delivery = await store.get_delivery(CHANNEL, JAN8)
        assert delivery is not None and delivery.state == "sent"
        assert [s.nonce for s in courier.sent] == [p.nonce for p in delivery.parts]
        assert [p.message_id for p in delivery.parts] == [1, 2, 3]
        assert await service.run_due() == []  # posted: never again
    # The recipe of the store before the courier port: in-flight rows resume unchanged.
    assert [p.nonce for p in delivery.parts] == [part_nonce(CHANNEL, JAN8, n) for n in range(3)]
    assert part_nonce(CHANNEL, JAN8, 0) == "5388753644524019584"
    assert courier.attempts == 3 and health.reports == [(health_key(CHANNEL), None, GUILD)]


async def test_a_crash_between_parts_resumes_the_stored_plan_without_repeats(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier(crash_after=2)  # part 1 reaches the chat, then the process dies
    async with running(db, clock, courier, health) as (service, store):
        (outcome,) = await service.run_due()
        assert outcome.state == "pending" and "Crash" in outcome.detail
        planned = await store.get_delivery(CHANNEL, JAN8)
    assert planned is not None and [p.message_id for p in planned.parts] == [1, None, None]

    courier.crash_after = None
    courier.render_digest = lambda _selection: ["rendered anew"]  # type: ignore[method-assign]
    async with running(db, clock, courier, health) as (service, store):  # a new process
        (outcome,) = await service.run_due()
        done = await store.get_delivery(CHANNEL, JAN8)
    assert outcome.state == "sent" and done is not None and done.state == "sent"
    assert [s.payload for s in courier.sent] == [p.payload for p in planned.parts]  # once each
    assert [p.nonce for p in done.parts] == [p.nonce for p in planned.parts]
    assert [p.message_id for p in done.parts] == [1, 2, 3]
    assert courier.attempts == 4  # part 1 was resent with its nonce and deduplicated


@pytest.mark.parametrize(
    "reason",
    ["the channel was deleted", "I lost access to the channel", "I lost permission to post there"],
)
async def test_a_gone_channel_is_marked_failing_reported_and_skipped(
    db: Path, clock: Clock, health: HealthLog, reason: str
) -> None:
    courier = FakeCourier(failures=[Gone(reason)])
    async with running(db, clock, courier, health) as (service, store):
        (outcome,) = await service.run_due()
        assert (outcome.state, outcome.detail) == ("failed", reason)
        sub = await store.get_subscription(CHANNEL)
        assert sub is not None and sub.failing_reason == reason
        assert health.reports == [
            (health_key(CHANNEL), f"The digest in <#{CHANNEL}> fails: {reason}.", GUILD)
        ]
        # The next day's list is due at 09:00: a failing channel is not tried again.
        await store.ingest_day(JAN9, papers(JAN9))
        clock.now = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
        assert await service.run_due() == []
    assert courier.attempts == 1 and courier.sent == []


async def test_a_rejected_message_is_left_out_and_the_rest_is_posted(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier(failures=[Rejected("400 50035: Invalid Form Body")])
    async with running(db, clock, courier, health) as (service, store):
        sub = await store.get_subscription(CHANNEL)
        outcome = await service.deliver(CHANNEL, JAN8, sub, guild_id=GUILD)
        assert outcome.state == "sent" and "Invalid Form Body" in outcome.detail
        assert sub is not None and (await store.get_subscription(CHANNEL)) == sub  # not failing
        clock.now = datetime(2025, 1, 9, 10, 0, tzinfo=UTC)
        (other,) = await service.run_due()  # the refused part is never retried
        assert (other.channel_id, other.state) == (OTHER, "sent")
    assert [s.channel_id for s in courier.sent] == [CHANNEL] * 2 + [OTHER] * 3
    (problem,) = health.problems()
    assert f"<#{CHANNEL}>" in problem and "message 1 was refused" in problem


async def test_a_digest_whose_every_message_is_rejected_fails_that_list_only(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier(failures=[Rejected("400 50035: Invalid Form Body")] * 3)
    async with running(db, clock, courier, health) as (service, store):
        sub = await store.get_subscription(CHANNEL)
        outcome = await service.deliver(CHANNEL, JAN8, sub, guild_id=GUILD)
        assert outcome.state == "failed" and "Invalid Form Body" in outcome.detail
        assert sub is not None and (await store.get_subscription(CHANNEL)) == sub  # not failing
        clock.now = datetime(2025, 1, 9, 10, 0, tzinfo=UTC)
        (other,) = await service.run_due()  # the refused digest is closed, not retried
        assert (other.channel_id, other.state) == (OTHER, "sent")
    assert [s.channel_id for s in courier.sent] == [OTHER] * 3
    (problem,) = health.problems()
    assert f"<#{CHANNEL}>" in problem and "was not posted" in problem


async def test_try_later_leaves_the_digest_pending_and_the_retry_resumes_it(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier(failures=[None, TryLater("503 Service Unavailable")])
    async with running(db, clock, courier, health) as (service, store):
        (first,) = await service.run_due()
        assert first.state == "pending" and "503" in first.detail
        assert len(courier.sent) == 1
        (retried,) = await service.run_due()  # the digest:retry job's body
        assert retried.state == "sent"
        done = await store.get_delivery(CHANNEL, JAN8)
    assert done is not None and [s.nonce for s in courier.sent] == [p.nonce for p in done.parts]
    assert courier.attempts == 4 and health.problems() == []


async def test_threads_open_under_the_first_part_and_a_failed_refresh_still_posts(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier()
    async with running(db, clock, courier, health, refreshed=False) as (service, store):
        await store.save_subscription(
            Subscription(CHANNEL, GUILD, "09:00", "UTC", 25, threads=True)
        )
        outcome = await service.deliver(
            CHANNEL, JAN8, await store.get_subscription(CHANNEL), guild_id=GUILD
        )
    assert outcome.state == "sent" and len(courier.sent) == 3
    assert courier.threads == [(CHANNEL, 1, "Daily Papers 2025-01-08")]


# -- leases: two processes on one store ---------------------------------------------------


async def test_a_digest_leased_by_another_process_is_left_to_it(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        held = await store.claim_lease(digest_key(CHANNEL, JAN8), "other:1", 60)
        assert held is not None
        (outcome,) = await service.run_due()
        assert (outcome.state, outcome.detail) == ("pending", "another process is posting it")
        assert courier.sent == [] and await store.get_delivery(CHANNEL, JAN8) is None
        await store.release_lease(held)
        (outcome,) = await service.run_due()
        assert outcome.state == "sent" and len(courier.sent) == 3


class TakenOver(FakeCourier):
    """After its first message, another process takes the lease over (this one was paused
    past its lease, say): `then` runs once, after that message left."""

    def __init__(self, then: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self.then: Callable[[], Awaitable[None]] | None = then

    async def post(
        self, channel_id: int, payload: str, nonce: str, *, guild_id: int | None = None
    ) -> Posted:
        posted = await super().post(channel_id, payload, nonce, guild_id=guild_id)
        then, self.then = self.then, None
        if then is not None:
            await then()
        return posted


async def test_a_process_whose_lease_was_taken_over_sends_and_records_nothing_more(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    async with SQLiteStore(db, clock=clock) as other_store:
        taken: list[Fence] = []

        async def take_over() -> None:
            fence = await other_store.claim_lease(digest_key(CHANNEL, JAN8), "other:1", 60)
            assert fence is not None  # the first process's lease has expired
            taken.append(fence)

        courier = TakenOver(take_over)

        async def refresh(_day: date) -> bool:
            return True

        async with SQLiteStore(db, clock=clock) as store:
            service = DigestDelivery(
                store,
                courier,
                clock=clock,
                settings=DigestConfig(),
                refresh=refresh,
                report_health=health,
                leases=Leases(store, "paused:1", seconds=0),  # expires at once
            )
            (outcome,) = await service.run_due()
            assert (outcome.state, outcome.detail) == ("pending", "another process took it over")
            assert len(courier.sent) == 1  # the message that left before the takeover
            delivery = await store.get_delivery(CHANNEL, JAN8)
            assert delivery is not None and delivery.state == "sending"
            assert [p.message_id for p in delivery.parts] == [None, None, None]
            # The new holder resumes with the stored nonces: the first message is not repeated.
            other = DigestDelivery(
                other_store,
                courier,
                clock=clock,
                settings=DigestConfig(),
                refresh=refresh,
                report_health=health,
                leases=Leases(other_store, "other:1"),
            )
            (outcome,) = await other.run_due()
            assert outcome.state == "sent"
            assert len(courier.sent) == 3 and courier.attempts == 4


async def test_a_lease_that_runs_out_while_its_holder_is_asked_for_is_taken(
    db: Path, clock: Clock, health: HealthLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim fails (another process holds the lease), and the lease runs out before this
    process asks who holds it: the delivery is free, and it is posted now, not at the next
    retry run minutes later."""
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        assert await store.claim_lease(digest_key(CHANNEL, JAN8), "elsewhere:1", 60)
        ask = store.lease_holder

        async def ask_after_it_ran_out(key: str) -> str | None:
            clock.now += timedelta(seconds=61)
            return await ask(key)

        monkeypatch.setattr(store, "lease_holder", ask_after_it_ran_out)
        (outcome,) = await service.run_due()
        assert outcome.state == "sent" and len(courier.sent) == 3


async def test_a_process_posts_only_the_digests_of_servers_on_its_shards(
    tmp_path: Path, clock: Clock, health: HealthLog
) -> None:
    """Two processes over one store, shard 0 and shard 1 of 2: each posts its servers' digest."""
    on_0, on_1 = (0 << 22) | 7, (1 << 22) | 7  # server ids on shard 0 and shard 1 of 2
    path = tmp_path / "sharded.db"
    async with SQLiteStore(path, clock=clock) as store:
        await store.ingest_day(JAN8, papers(JAN8))
        await store.save_subscription(Subscription(CHANNEL, on_0, "09:00", "UTC", 25))
        await store.save_subscription(Subscription(OTHER, on_1, "09:00", "UTC", 25))
        clock.now = POST_TIME
        couriers = {0: FakeCourier(), 1: FakeCourier()}

        async def refresh(_day: date) -> bool:
            return True

        for shard, courier in couriers.items():
            service = DigestDelivery(
                store,
                courier,
                clock=clock,
                settings=DigestConfig(),
                refresh=refresh,
                report_health=health,
                owns=Shards(2, (shard,)).owns,
            )
            outcomes = await service.run_due()
            assert [(o.channel_id, o.state) for o in outcomes] == [
                ({0: CHANNEL, 1: OTHER}[shard], "sent")
            ]
        assert {s.channel_id for s in couriers[0].sent} == {CHANNEL}
        assert {s.channel_id for s in couriers[1].sent} == {OTHER}


async def test_a_lease_left_by_a_dead_process_of_this_host_is_taken_at_once(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    import asyncio
    import socket
    import sys

    gone = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import os; print(os.getpid())", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await gone.communicate()
    dead = f"{socket.gethostname()}:{out.decode().strip()}"  # killed mid-digest, say
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        assert await store.claim_lease(digest_key(CHANNEL, JAN8), dead, 600) is not None
        (outcome,) = await service.run_due()
        assert outcome.state == "sent" and len(courier.sent) == 3
        # A live holder (another host's, or this one's) is waited out.
        assert await store.claim_lease(digest_key(OTHER, JAN8), "elsewhere:1", 600)
        assert await service.deliver(OTHER, JAN8, None) == Outcome(
            OTHER, JAN8, "pending", "another process is posting it"
        )

"""AlertDelivery with an in-memory courier and a real temporary SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.delivery.alerts import DM_HEALTH, AlertDelivery
from bot.delivery.courier import DeliveryError, Gone, Refused, Rejected, TryLater, batch_nonce
from bot.models import Paper
from bot.store import SQLiteStore
from tests.bot.delivery.support import Clock, HealthLog
from tests.fakes.fake_courier import FakeCourier, Sent

DAY = date(2025, 1, 8)
ALICE, BOB, CHANNEL = 1, 2, 500
GROKKING = Paper("2501.00001", "Grokking in small transformers", "An abstract.", upvotes=5)
DECAY = Paper("2501.00002", "Grokking and weight decay", "An abstract.", upvotes=50)
VIDEO = Paper("2501.00003", "Diffusion models for video", "An abstract.", upvotes=20)
PROTEIN = Paper("2501.00004", "Protein folding at scale", "An abstract.", upvotes=90)
UNMATCHED = Paper("2501.00005", "Sparse attention kernels", "An abstract.", upvotes=70)


@pytest.fixture
async def db(tmp_path: Path, clock: Clock) -> Path:
    """A store file with a new list and alerts: alice by DM and in a channel, bob by DM."""
    path = tmp_path / "paperboy.db"
    async with SQLiteStore(path, clock=clock) as store:
        await store.ingest_day(DAY, [GROKKING, DECAY, VIDEO, PROTEIN, UNMATCHED])
        await store.add_alert(ALICE, "grokking")
        await store.add_alert(ALICE, "diffusion")
        await store.add_alert(ALICE, "protein", deliver="here", channel_id=CHANNEL, guild_id=9)
        await store.add_alert(BOB, "grokking")
    return path


@asynccontextmanager
async def running(
    db: Path, clock: Clock, courier: FakeCourier, health: HealthLog
) -> AsyncIterator[tuple[AlertDelivery, SQLiteStore]]:
    """The service over the store file, as one process would run it."""
    async with SQLiteStore(db, clock=clock) as store:
        yield AlertDelivery(store, courier, clock=clock, report_health=health), store


def ids(*papers: Paper) -> str:
    return ",".join(p.id for p in papers)


# What the outbox holds after matching, in delivery order: (user, target) then paper id.
EXPECTED = [
    Sent(CHANNEL, ids(PROTEIN), batch_nonce(ALICE, f"channel:{CHANNEL}", [PROTEIN.id]), ALICE),
    Sent(
        None,
        ids(DECAY, VIDEO, GROKKING),  # most upvoted first
        batch_nonce(ALICE, "dm", [GROKKING.id, DECAY.id, VIDEO.id]),
        ALICE,
    ),
    Sent(None, ids(DECAY, GROKKING), batch_nonce(BOB, "dm", [GROKKING.id, DECAY.id]), BOB),
]


async def test_matches_go_out_as_one_message_per_person_and_target(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        await service.run()
        assert await store.alert_outbox(clock() + timedelta(days=1)) == []
        await service.run()  # nothing new, nothing queued: nothing sent again
    assert courier.sent == EXPECTED and courier.attempts == 3
    # The recipe of the alert engine before the courier port: in-flight rows resume unchanged.
    assert batch_nonce(1, "dm", ["2501.00001", "2501.00002"]) == "7799075217045606855"
    assert health.reports == [(DM_HEALTH, None, None)]


async def test_a_crash_after_a_send_resends_that_batch_once_with_its_nonce(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier(crash_after=2)  # alice's DM leaves, then the process dies
    async with running(db, clock, courier, health) as (service, store):
        await service.run()  # logs the crash; the rows stay as they were
        (sending,) = {r.batch for r in await store.alert_outbox() if r.state == "sending"}
    assert sending == EXPECTED[1].nonce
    courier.crash_after = None
    async with running(db, clock, courier, health) as (service, store):  # a new process
        await service.run()
        assert await store.alert_outbox(clock() + timedelta(days=1)) == []
    assert courier.sent == EXPECTED and courier.attempts == 4


async def test_refused_dms_pause_dm_alerts_and_keep_the_rows_queued(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier(failures=[None, None, Refused("Cannot send messages to this user")])
    async with running(db, clock, courier, health) as (service, store):
        await service.run()
        assert (await store.alert_user(BOB)).dm_blocked == "Cannot send messages to this user"
        kept = await store.alert_outbox()
        assert {(r.user_id, r.paper_id, r.state) for r in kept} == {
            (BOB, GROKKING.id, "queued"),
            (BOB, DECAY.id, "queued"),
        }
        await service.run()
        assert courier.attempts == 3  # not asked again while bob refuses DMs
        await store.set_dm_blocked(BOB, None)  # /alert resume
        await service.run()
    assert courier.sent == EXPECTED
    assert health.problems() == []  # one refusal is a person's choice, not a problem


async def test_many_refusals_in_one_run_are_a_health_problem(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    users = range(10, 15)
    refused = Refused("Cannot send messages to this user")
    courier = FakeCourier(failures=[None, None, None, *[refused] * len(users)])
    async with running(db, clock, courier, health) as (service, store):
        for user in users:
            await store.add_alert(user, "video")
        await service.run()
        assert all([(await store.alert_user(u)).dm_blocked for u in users])
    (problem,) = health.problems()
    assert problem.startswith("5 people refused alert DMs in one run")


@pytest.mark.parametrize(
    "failure",
    [TryLater("503 Service Unavailable"), Rejected("400 50035: Invalid Form Body")],
    ids=["try later", "rejected"],
)
async def test_a_failed_send_backs_off_and_is_retried(
    db: Path, clock: Clock, health: HealthLog, failure: DeliveryError
) -> None:
    courier = FakeCourier(failures=[failure, None, None, failure])
    async with running(db, clock, courier, health) as (service, store):
        await service.run()  # alice's channel post fails; her DM and bob's go out
        (row,) = await store.alert_outbox(clock() + timedelta(days=1))
        assert (row.user_id, row.paper_id, row.attempts) == (ALICE, PROTEIN.id, 1)
        await service.run()
        assert courier.attempts == 3  # not due again before its minute is up
        clock.advance(minutes=1)
        await service.run()  # fails again: now it waits two minutes
        clock.advance(minutes=1)
        await service.run()
        assert courier.attempts == 4
        clock.advance(minutes=1)
        await service.run()
        assert await store.alert_outbox(clock() + timedelta(days=1)) == []
    assert courier.attempts == 5
    assert sorted(courier.sent, key=EXPECTED.index) == EXPECTED


async def test_a_gone_channel_drops_its_matches_but_a_dm_is_retried(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    gone = Gone("the channel was deleted")
    courier = FakeCourier(failures=[gone, gone])
    async with running(db, clock, courier, health) as (service, store):
        await service.run()
        left = await store.alert_outbox(clock() + timedelta(days=1))
        assert {(r.user_id, r.target) for r in left} == {(ALICE, "dm")}  # the channel's: dropped
        clock.advance(minutes=1)
        await service.run()
    assert courier.sent == [EXPECTED[2], EXPECTED[1]]


async def test_a_channel_alert_whose_owner_may_no_longer_post_there_comes_by_dm(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    note = "You can no longer post in #papers (Lab), so this alert came by DM."
    courier = FakeCourier(moved={ALICE: note})
    async with running(db, clock, courier, health) as (service, store):
        await service.run()
        assert await store.alert_outbox(clock() + timedelta(days=1)) == []
    protein = [s for s in courier.sent if s.payload == ids(PROTEIN)]
    assert [(s.channel_id, s.user_id) for s in protein] == [(None, ALICE)]  # a DM, not #papers
    assert courier.notes.count(note) == 1


async def test_a_row_of_an_alert_muted_before_the_send_is_dropped_not_sent(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        await service.match_new()
        (protein,) = [a for a in await store.user_alerts(ALICE) if a.query == "protein"]
        assert await store.set_alert_muted(ALICE, protein.id, True)
        await service.deliver()
        assert await store.alert_outbox(clock() + timedelta(days=1)) == []
    assert ids(PROTEIN) not in [s.payload for s in courier.sent]
    assert len(courier.sent) == 2  # alice's DM and bob's DM still go out

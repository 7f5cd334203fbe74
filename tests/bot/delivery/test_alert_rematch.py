"""A paper matched again (its text changed): only people who do not have it yet get a row."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.delivery import alerts as alerts_module
from bot.delivery.alerts import AlertDelivery
from bot.store import SQLiteStore
from tests.bot.delivery.support import Clock, HealthLog
from tests.bot.delivery.test_alerts import ALICE, BOB, DAY, DECAY, GROKKING, db, running
from tests.fakes.fake_courier import FakeCourier

__all__ = ["db"]  # the fixture: a new list and alerts
CAROL = 3
LATE = replace(GROKKING, ai_keywords=("diffusion", "protein folding"))


async def rematched(store: SQLiteStore, service: AlertDelivery) -> int:
    """Deliver the first matches, then the list comes again with GROKKING's late keywords."""
    await service.run()
    await store.add_alert(CAROL, "protein")
    await store.add_alert(CAROL, "diffusion")
    await store.ingest_day(DAY, [LATE, DECAY])
    assert [p.id for p in await store.unmatched_papers()] == [GROKKING.id]
    return await service.match_new()


@pytest.mark.parametrize("chunk", [5000, 1])
async def test_a_rematch_queues_only_people_without_the_paper(
    db: Path, clock: Clock, health: HealthLog, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts_module, "QUEUE_CHUNK", chunk)
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        # Alice's `diffusion` and `protein` alerts now match GROKKING too, but she has it.
        assert await rematched(store, service) == 1
        (row,) = await store.alert_outbox()
        assert (row.user_id, row.paper_id) == (CAROL, GROKKING.id)
        assert row.reason == "matched `protein`; matched `diffusion`"  # by alert id
        assert await store.alert_recipients([GROKKING.id]) == {GROKKING.id: {ALICE, BOB, CAROL}}
        assert await service.match_new() == 0
        sent = len(courier.sent)
        await service.run()
    assert [s.user_id for s in courier.sent[sent:]] == [CAROL]


async def test_a_dropped_row_is_not_queued_again(db: Path, clock: Clock, health: HealthLog) -> None:
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        await service.match_new()
        await store.mark_alerts(BOB, [GROKKING.id], "dropped")
        await store.ingest_day(DAY, [replace(GROKKING, title="Grokking in tiny transformers")])
        assert await service.match_new() == 0
        rows = await store.alert_outbox()
        assert (BOB, GROKKING.id) not in {(r.user_id, r.paper_id) for r in rows}


async def test_a_rematch_queues_only_what_the_change_made_match(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    """DAVE's alert, made after the first match, matched the old text too: the change makes
    no difference to it. ERIN's rising alert matched the old text but waited for upvotes."""
    dave, erin = 4, 5
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        await store.add_alert(erin, "grokking", min_upvotes=10)
        await service.run()
        # GROKKING has 5 upvotes: Erin's alert waits (she gets DECAY, with 50).
        assert await store.alert_recipients([GROKKING.id]) == {GROKKING.id: {ALICE, BOB}}
        await store.add_alert(dave, "grokking")
        await store.add_alert(CAROL, "protein")
        await store.ingest_day(DAY, [replace(LATE, upvotes=12), DECAY])
        assert await service.match_new() == 2
        pairs = {(r.user_id, r.paper_id) for r in await store.alert_outbox()}
        assert pairs == {(CAROL, GROKKING.id), (erin, GROKKING.id)}
        assert await service.match_new() == 0


async def test_upvotes_alone_queue_only_the_rising_alerts(
    db: Path, clock: Clock, health: HealthLog
) -> None:
    dave, erin = 4, 5
    courier = FakeCourier()
    async with running(db, clock, courier, health) as (service, store):
        await store.add_alert(erin, "grokking", min_upvotes=10)
        await service.run()
        await store.add_alert(dave, "grokking")  # made after the first match
        await store.ingest_day(DAY, [replace(GROKKING, upvotes=12), DECAY])
        assert [p.id for p in await store.unmatched_papers()] == [GROKKING.id]
        assert await service.match_new() == 1
        (row,) = await store.alert_outbox()
        assert (row.user_id, row.paper_id) == (erin, GROKKING.id)

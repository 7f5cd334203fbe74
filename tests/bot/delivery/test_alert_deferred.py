"""A large match kept packed (DEFER_ROWS) sends what queueing every row would have sent: one
message per person with all their papers, sent a bucket of people at a time, and a process
killed between two buckets leaves nothing unsent and nothing sent twice."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import sys
from datetime import date
from pathlib import Path

import pytest

from bot.delivery import alerts as alerts_module
from bot.delivery.alerts import ALERTS_LEASE, AlertDelivery
from bot.models import OutboxRow, Paper
from bot.store import Store
from bot.store.deferred import bucket_of
from tests.bot.delivery.support import Clock, HealthLog
from tests.bot.store.test_contract_deferred import packed
from tests.fakes.fake_courier import FakeCourier
from tests.support.harness import open_store, store_location

ROOT = Path(__file__).resolve().parents[3]
DAY_ISO = "2025-01-08"
WORDS = ["grokking", "diffusion", "protein", "sparse", "video", "agents", "robots", "speech"]


def papers(seed: int) -> list[Paper]:
    rng = random.Random(seed)
    return [
        Paper(
            f"2501.{n:05d}",
            " ".join(rng.sample(WORDS, 3)),
            "An abstract about " + " and ".join(rng.sample(WORDS, 2)) + ".",
            upvotes=rng.randrange(100),
        )
        for n in range(1, 41)
    ]


def delivered(courier: FakeCourier) -> list[tuple[int, list[str]]]:
    """Who got which papers (PostgreSQL may order papers of equal upvotes either way)."""
    return sorted((s.user_id or 0, sorted(s.payload.split(","))) for s in courier.sent)


async def fill(store: Store, seed: int) -> None:
    """40 papers and 300 alerts of 150 people (in many buckets), some with several alerts."""
    rng = random.Random(seed)
    await store.ingest_day(date.fromisoformat(DAY_ISO), papers(seed))
    for _ in range(300):
        user = rng.randrange(1, 150) * 7919  # spread over the buckets
        await store.add_alert(user, " ".join(rng.sample(WORDS, rng.choice([1, 1, 2]))))


async def sent_by(store: Store, defer_rows: int, monkeypatch: pytest.MonkeyPatch) -> FakeCourier:
    monkeypatch.setattr(alerts_module, "DEFER_ROWS", defer_rows)
    courier = FakeCourier()
    engine = AlertDelivery(store, courier, clock=Clock(), report_health=HealthLog())
    expansions: list[int] = []  # messages sent before each bucket was queued
    expand = store.expand_alert_matches

    async def counted() -> tuple[int, int] | None:
        expansions.append(len(courier.sent))
        return await expand()

    store.expand_alert_matches = counted  # type: ignore[method-assign]
    await engine.run()
    await engine.run()  # nothing left: nothing sent again
    if defer_rows == 0:
        buckets = {bucket_of(s.user_id or 0) for s in courier.sent}
        # One call per bucket with people (and the last, which finds none), each bucket's
        # people sent before the next bucket is queued; the second run has nothing kept.
        assert len(expansions) == len(buckets) + 1
        sending = expansions[: len(buckets) + 1]
        assert sending[0] == 0 and all(a < b for a, b in itertools.pairwise(sending))
    return courier


@pytest.mark.parametrize("seed", [1, 2])
async def test_kept_rows_send_the_messages_queued_rows_send(
    tmp_path: Path, store_backend: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = {}
    for defer_rows in (10**9, 0):
        async with store_location(tmp_path / str(defer_rows), store_backend) as location:
            if isinstance(location, Path):
                location.parent.mkdir(parents=True, exist_ok=True)
            async with open_store(location) as store:
                await fill(store, seed)
                courier = await sent_by(store, defer_rows, monkeypatch)
                assert await store.expand_alert_matches() is None
        people = [s.user_id for s in courier.sent]
        assert len(people) == len(set(people)) > 50  # one message each (all go by DM)
        messages[defer_rows] = delivered(courier)
    assert messages[0] == messages[10**9]


async def child(location: str) -> None:
    """(In the child process.) Match with every row kept packed, queue two buckets, die."""
    store = open_store(location if location.startswith("postgres") else Path(location))
    await store.open()
    alerts_module.DEFER_ROWS = 0
    engine = AlertDelivery(store, FakeCourier(), clock=Clock(), report_health=HealthLog())
    await engine.match_new()
    assert await store.alert_outbox() == []
    await store.expand_alert_matches()
    await store.expand_alert_matches()
    os.kill(os.getpid(), signal.SIGKILL)


async def test_a_kill_between_two_buckets_delivers_each_person_once(
    tmp_path: Path, store_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with store_location(tmp_path, store_backend) as location:
        async with open_store(location) as store:
            await fill(store, 3)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import asyncio, sys\n"
            "from tests.bot.delivery.test_alert_deferred import child\n"
            "asyncio.run(child(sys.argv[1]))",
            str(location),
            cwd=ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == -signal.SIGKILL, err.decode()
        async with open_store(location) as store:
            waiting = {r.user_id for r in await store.alert_outbox()}
            assert len({bucket_of(u) for u in waiting}) == 2
            courier = await sent_by(store, 10**9, monkeypatch)
    async with store_location(tmp_path / "whole", store_backend) as location:
        if isinstance(location, Path):
            location.parent.mkdir(parents=True, exist_ok=True)
        async with open_store(location) as store:
            await fill(store, 3)
            whole = await sent_by(store, 10**9, monkeypatch)
    assert delivered(courier) == delivered(whole)


async def test_a_person_with_queued_and_kept_rows_gets_one_message(
    tmp_path: Path, store_backend: str
) -> None:
    """Rows waiting in the outbox (a smaller batch, or a retry) and rows still kept for the
    same person go out together; someone with no kept rows is sent before any bucket."""
    both, alone = 7, 8  # different buckets
    courier = FakeCourier()
    async with (
        store_location(tmp_path, store_backend) as location,
        open_store(location) as store,
    ):
        await store.ingest_day(date.fromisoformat(DAY_ISO), papers(4)[:3])
        a = await store.add_alert(both, "grokking")
        b = await store.add_alert(alone, "grokking")
        await store.queue_alert_matches(
            [],
            [
                OutboxRow(both, "2501.00001", a.id, "r"),
                OutboxRow(alone, "2501.00001", b.id, "r"),
            ],
        )
        kept = [
            OutboxRow(both, "2501.00002", a.id, "r"),
            OutboxRow(both, "2501.00003", a.id, "r"),
        ]
        await store.defer_alert_matches([], packed(kept))
        engine = AlertDelivery(store, courier, clock=Clock(), report_health=HealthLog())
        expand = store.expand_alert_matches
        sent_before: list[int] = []

        async def counted() -> tuple[int, int] | None:
            sent_before.append(len(courier.sent))
            return await expand()

        store.expand_alert_matches = counted  # type: ignore[method-assign]
        await engine.deliver()
    assert delivered(courier) == [
        (both, ["2501.00001", "2501.00002", "2501.00003"]),
        (alone, ["2501.00001"]),
    ]
    assert sent_before == [1, 2]  # `alone` first; `both` once their bucket was queued


async def test_a_process_without_the_lease_queues_nothing_kept(
    tmp_path: Path, store_backend: str
) -> None:
    async with (
        store_location(tmp_path, store_backend) as location,
        open_store(location) as store,
    ):
        await store.ingest_day(date.fromisoformat(DAY_ISO), papers(4)[:1])
        a = await store.add_alert(7, "grokking")
        await store.defer_alert_matches([], packed([OutboxRow(7, "2501.00001", a.id, "r")]))
        assert await store.claim_lease(ALERTS_LEASE, "other:1", 60) is not None
        courier = FakeCourier()
        engine = AlertDelivery(store, courier, clock=Clock(), report_health=HealthLog())
        await engine.deliver()
        assert courier.sent == []
        assert await store.deferred_buckets() == {bucket_of(7)}
        assert await store.alert_outbox() == []

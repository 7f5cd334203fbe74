"""A process killed (SIGKILL) after a paper's text changed, before or during its re-match: the
next process matches it again from the kept old text and each person gets it once.

The kills are real: a child process stores the change (and starts the re-match) against the
same store, then kills itself at the exact point under test."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.delivery import alerts as alerts_module
from bot.delivery.alerts import AlertDelivery
from bot.models import QueuedAlert
from bot.store import Store
from tests.bot.delivery.support import Clock, HealthLog
from tests.bot.delivery.test_alerts import ALICE, BOB, DAY, DECAY, GROKKING
from tests.fakes.fake_courier import FakeCourier
from tests.support.harness import open_store, store_location

ROOT = Path(__file__).resolve().parents[3]
CAROL, DAVE = 3, 4
LATE = replace(GROKKING, ai_keywords=("diffusion", "protein folding"))  # the late keywords


def _open(location: str) -> Store:
    return open_store(location if location.startswith("postgres") else Path(location))


async def child(location: str, mode: str) -> None:
    """(In the child process.) Store the late keywords; then die at once ("after-write"), or
    match them again and die right before the paper is marked matched ("mid-rematch")."""
    store = _open(location)
    await store.open()
    await store.ingest_day(DAY, [LATE, DECAY])
    if mode == "after-write":
        os.kill(os.getpid(), signal.SIGKILL)
    alerts_module.QUEUE_CHUNK = 1  # one row per transaction: some land before the kill
    queue = store.queue_alert_matches

    async def queue_then_die(paper_ids: list[str], rows: list[QueuedAlert]) -> int:
        if paper_ids:
            os.kill(os.getpid(), signal.SIGKILL)
        return await queue(paper_ids, rows)

    store.queue_alert_matches = queue_then_die  # type: ignore[method-assign]
    engine = AlertDelivery(store, FakeCourier(), clock=Clock(), report_health=HealthLog())
    await engine.match_new()
    raise AssertionError("the re-match never marked the paper matched")


async def killed(location: str, mode: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import asyncio, sys\n"
        "from tests.bot.delivery.test_rematch_kill import child\n"
        "asyncio.run(child(sys.argv[1], sys.argv[2]))",
        str(location),
        mode,
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == -signal.SIGKILL, err.decode()


@pytest.mark.parametrize("mode", ["after-write", "mid-rematch"])
async def test_a_kill_between_a_text_change_and_its_rematch_still_delivers_once(
    tmp_path: Path, store_backend: str, mode: str
) -> None:
    clock, health = Clock(), HealthLog()
    courier = FakeCourier()
    async with store_location(tmp_path, store_backend) as location:
        async with _open(str(location)) as store:
            await store.ingest_day(DAY, [GROKKING, DECAY])
            await store.add_alert(ALICE, "grokking")
            await store.add_alert(BOB, "grokking")
            engine = AlertDelivery(store, courier, clock=clock, report_health=health)
            await engine.run()  # the first matches, delivered
            first = len(courier.sent)
            await store.add_alert(ALICE, "protein")  # she has GROKKING already
            await store.add_alert(CAROL, "protein")  # only the late keywords match
            await store.add_alert(DAVE, "grokking")  # the old text matched it already
        await killed(str(location), mode)
        async with _open(str(location)) as store:
            assert [p.id for p in await store.unmatched_papers()] == [GROKKING.id]
            queued = {(r.user_id, r.paper_id) for r in await store.alert_outbox()}
            assert queued == ({(CAROL, GROKKING.id)} if mode == "mid-rematch" else set())
            engine = AlertDelivery(store, courier, clock=clock, report_health=health)  # anew
            await engine.run()
            await engine.run()  # nothing left: nothing sent again
            assert await store.unmatched_papers() == []
            assert await store.matched_text([GROKKING.id]) == {}
    assert [(s.user_id, s.payload) for s in courier.sent[first:]] == [(CAROL, GROKKING.id)]

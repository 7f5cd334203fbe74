"""The alert outbox: papers waiting to be matched, each (person, paper) queued once ever,
retries and attempts, and the last check before sending that drops what may not be sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Alert, QueuedAlert
from bot.store import Store
from tests.bot.store.support import DAY, NEXT_DAY, paper

FUTURE = datetime.now(UTC) + timedelta(days=365)


def match(alert: Alert, paper_id: str, reason: str = "matched") -> QueuedAlert:
    return QueuedAlert(alert.user_id, paper_id, alert.id, reason, alert.target)


def keys(rows: list[QueuedAlert]) -> list[tuple[int, str]]:
    return [(r.user_id, r.paper_id) for r in rows]


async def queued_one(store: Store) -> tuple[Alert, QueuedAlert]:
    alert = await store.add_alert(1, "diffusion")
    await store.queue_alert_matches([], [match(alert, "2501.00001")])
    (row,) = await store.alert_outbox()
    return alert, row


# -- papers waiting to be matched ---------------------------------------------------------


async def test_listed_papers_wait_to_be_matched(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2501.00001"), paper("2501.00002")])
    await store.ingest_day(NEXT_DAY, [paper("2501.00003")])
    assert [p.id for p in await store.unmatched_papers()] == [
        "2501.00001",
        "2501.00002",
        "2501.00003",
    ]
    assert len(await store.unmatched_papers(limit=2)) == 2


async def test_unmatched_papers_are_whole_papers(store: Store) -> None:
    stored = paper("2501.00001", authors=("Ada",), ai_keywords=("engines",), upvotes=4)
    await store.ingest_day(DAY, [stored])
    assert await store.unmatched_papers() == [stored]


async def test_a_paper_stored_by_id_waits_until_a_list_carries_it(store: Store) -> None:
    await store.upsert_paper(paper("2501.00001"))
    assert await store.unmatched_papers() == []
    await store.ingest_day(DAY, [paper("2501.00001")])
    assert [p.id for p in await store.unmatched_papers()] == ["2501.00001"]


async def test_queueing_marks_the_papers_matched_for_good(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2501.00001"), paper("2501.00002")])
    await store.queue_alert_matches(["2501.00001"], [])  # matched nothing: still matched
    assert [p.id for p in await store.unmatched_papers()] == ["2501.00002"]
    await store.ingest_day(NEXT_DAY, [paper("2501.00001", upvotes=9), paper("2501.00002")])
    assert [p.id for p in await store.unmatched_papers()] == ["2501.00002"]


# -- queueing -----------------------------------------------------------------------------


async def test_queue_counts_the_rows_it_queued(store: Store) -> None:
    a = await store.add_alert(1, "diffusion")
    b = await store.add_alert(2, "diffusion")
    queued = await store.queue_alert_matches(
        ["2501.00001"], [match(a, "2501.00001"), match(b, "2501.00001")]
    )
    assert queued == 2
    rows = await store.alert_outbox()
    assert [(r.user_id, r.paper_id, r.alert_id, r.reason, r.target) for r in rows] == [
        (1, "2501.00001", a.id, "matched", "dm"),
        (2, "2501.00001", b.id, "matched", "dm"),
    ]
    assert all((r.state, r.batch, r.attempts) == ("queued", None, 0) for r in rows)


async def test_one_person_gets_a_paper_once_in_one_queue(store: Store) -> None:
    a = await store.add_alert(1, "diffusion")
    b = await store.add_alert(1, "models")
    queued = await store.queue_alert_matches(
        ["2501.00001"], [match(a, "2501.00001", "first"), match(b, "2501.00001", "second")]
    )
    assert queued == 1
    (row,) = await store.alert_outbox()
    assert (row.alert_id, row.reason) == (a.id, "first")


@pytest.mark.parametrize("state", ["queued", "sending", "sent"])
async def test_one_person_gets_a_paper_once_ever(store: Store, state: str) -> None:
    alert, _ = await queued_one(store)
    if state != "queued":
        await store.mark_alerts(1, ["2501.00001"], state, batch="b1")
    other = await store.add_alert(1, "other")
    assert await store.queue_alert_matches([], [match(other, "2501.00001")]) == 0
    rows = await store.alert_outbox()
    assert [r.alert_id for r in rows] == ([alert.id] if state != "sent" else [])


async def test_a_dropped_match_is_not_queued_again(store: Store) -> None:
    alert, _ = await queued_one(store)
    await store.set_alert_muted(1, alert.id, True)
    assert await store.drop_unsendable_alerts() == 1
    await store.set_alert_muted(1, alert.id, False)
    assert await store.queue_alert_matches([], [match(alert, "2501.00001")]) == 0
    assert await store.alert_outbox() == []


async def test_the_outbox_by_person_then_target_then_paper(store: Store) -> None:
    one = await store.add_alert(1, "a")
    one_here = await store.add_alert(1, "b", deliver="here", channel_id=5, guild_id=6)
    two = await store.add_alert(2, "c")
    await store.queue_alert_matches(
        [],
        [
            match(two, "2501.00001"),
            match(one, "2501.00009"),
            match(one_here, "2501.00005"),
            match(one, "2501.00003"),
        ],
    )
    rows = await store.alert_outbox()
    assert [(r.user_id, r.target, r.paper_id) for r in rows] == [
        (1, "channel:5", "2501.00005"),
        (1, "dm", "2501.00003"),
        (1, "dm", "2501.00009"),
        (2, "dm", "2501.00001"),
    ]


# -- states, retries and attempts ---------------------------------------------------------


async def test_a_sending_row_stays_in_the_outbox_with_its_batch(store: Store) -> None:
    await queued_one(store)
    await store.mark_alerts(1, ["2501.00001"], "sending", batch="n1")
    (row,) = await store.alert_outbox()
    assert (row.state, row.batch, row.attempts) == ("sending", "n1", 0)


async def test_a_sent_row_leaves_the_outbox(store: Store) -> None:
    await queued_one(store)
    await store.mark_alerts(1, ["2501.00001"], "sent")
    assert await store.alert_outbox() == []
    assert await store.alert_outbox(FUTURE) == []


async def test_a_retry_waits_until_its_time_and_counts_an_attempt(store: Store) -> None:
    await queued_one(store)
    await store.mark_alerts(1, ["2501.00001"], "sending", batch="n1")
    retry = datetime.now(UTC) + timedelta(minutes=5)
    await store.mark_alerts(1, ["2501.00001"], "queued", retry_at=retry)
    assert await store.alert_outbox() == []
    assert await store.alert_outbox(retry - timedelta(seconds=1)) == []
    (row,) = await store.alert_outbox(retry)
    assert (row.state, row.attempts) == ("queued", 1)
    assert row.batch == "n1"  # a retry keeps its batch unless given a new one


async def test_only_a_retry_counts_as_an_attempt(store: Store) -> None:
    await queued_one(store)
    past = datetime.now(UTC) - timedelta(minutes=1)
    await store.mark_alerts(1, ["2501.00001"], "queued", retry_at=past)
    await store.mark_alerts(1, ["2501.00001"], "sending", batch="n2")
    await store.mark_alerts(1, ["2501.00001"], "queued", retry_at=past)
    await store.mark_alerts(1, ["2501.00001"], "queued")
    (row,) = await store.alert_outbox()
    assert (row.attempts, row.batch) == (2, "n2")


async def test_mark_alerts_touches_only_the_named_rows(store: Store) -> None:
    alert = await store.add_alert(1, "a")
    other = await store.add_alert(2, "b")
    await store.queue_alert_matches(
        [],
        [match(alert, "2501.00001"), match(alert, "2501.00002"), match(other, "2501.00001")],
    )
    await store.mark_alerts(1, ["2501.00001"], "sent")
    assert keys(await store.alert_outbox()) == [(1, "2501.00002"), (2, "2501.00001")]


# -- the last check before sending --------------------------------------------------------


async def test_claim_marks_the_rows_sending_with_the_batch(store: Store) -> None:
    alert = await store.add_alert(1, "a")
    await store.queue_alert_matches(
        [], [match(alert, p) for p in ("2501.00001", "2501.00002", "2501.00003")]
    )
    claimed = await store.claim_alerts(1, ["2501.00001", "2501.00003"], "batch-1", by_dm=True)
    assert sorted(r.paper_id for r in claimed) == ["2501.00001", "2501.00003"]
    assert all((r.state, r.batch) == ("sending", "batch-1") for r in claimed)
    states = {r.paper_id: r.state for r in await store.alert_outbox()}
    assert states == {"2501.00001": "sending", "2501.00002": "queued", "2501.00003": "sending"}


async def test_claim_takes_only_that_persons_rows(store: Store) -> None:
    await store.add_alert(1, "a")
    other = await store.add_alert(2, "b")
    await store.queue_alert_matches([], [match(other, "2501.00001")])
    assert await store.claim_alerts(1, ["2501.00001"], "b", by_dm=True) == []
    (row,) = await store.alert_outbox()
    assert (row.user_id, row.state) == (2, "queued")


async def test_claim_never_takes_a_sent_row(store: Store) -> None:
    await queued_one(store)
    await store.mark_alerts(1, ["2501.00001"], "sent")
    assert await store.claim_alerts(1, ["2501.00001"], "b", by_dm=True) == []


async def test_claim_takes_back_a_row_left_sending(store: Store) -> None:
    await queued_one(store)
    await store.claim_alerts(1, ["2501.00001"], "crashed-run", by_dm=True)
    (row,) = await store.claim_alerts(1, ["2501.00001"], "next-run", by_dm=True)
    assert (row.state, row.batch) == ("sending", "next-run")


Unsendable = Callable[[Store, Alert], Awaitable[object]]
UNSENDABLE: dict[str, Unsendable] = {
    "removed": lambda s, a: s.remove_alert(a.user_id, a.id),
    "muted": lambda s, a: s.set_alert_muted(a.user_id, a.id, True),
    "paused": lambda s, a: s.set_alerts_paused(a.user_id, True),
    "channel alerts off": lambda s, a: s.set_channel_alerts_allowed(20, False),
}

# Undoing what made a row unsendable does not bring a dropped row back.
UNDO: dict[str, Callable[[Store], Awaitable[object]]] = {
    "paused": lambda s: s.set_alerts_paused(1, False),
    "channel alerts off": lambda s: s.set_channel_alerts_allowed(20, True),
}


async def queue_unsendable(store: Store, why: str) -> None:
    """Queue a match of an alert posting in server 20, then make it unsendable; and a match
    of another person's alert that stays sendable."""
    alert = await store.add_alert(1, "a", deliver="here", channel_id=10, guild_id=20)
    fine = await store.add_alert(2, "b")
    await store.queue_alert_matches([], [match(alert, "2501.00001"), match(fine, "2501.00001")])
    await UNSENDABLE[why](store, alert)


@pytest.mark.parametrize("why", sorted(UNSENDABLE))
async def test_claim_drops_what_may_no_longer_be_sent(store: Store, why: str) -> None:
    await queue_unsendable(store, why)
    assert await store.claim_alerts(1, ["2501.00001"], "b", by_dm=False) == []
    assert keys(await store.alert_outbox()) == [(2, "2501.00001")]
    if why in UNDO:
        await UNDO[why](store)
    assert keys(await store.alert_outbox()) == [(2, "2501.00001")]  # dropped for good


@pytest.mark.parametrize("why", sorted(UNSENDABLE))
async def test_drop_unsendable_drops_the_same_rows(store: Store, why: str) -> None:
    await queue_unsendable(store, why)
    assert await store.drop_unsendable_alerts() == 1
    assert keys(await store.alert_outbox()) == [(2, "2501.00001")]
    assert await store.drop_unsendable_alerts() == 0


async def test_a_refused_dm_holds_dm_rows_without_dropping_them(store: Store) -> None:
    await queued_one(store)
    await store.set_dm_blocked(1, "refused")
    assert await store.claim_alerts(1, ["2501.00001"], "b", by_dm=True) == []
    assert await store.drop_unsendable_alerts() == 0
    (row,) = await store.alert_outbox()
    assert row.state == "queued"
    await store.set_dm_blocked(1, None)
    (claimed,) = await store.claim_alerts(1, ["2501.00001"], "b", by_dm=True)
    assert claimed.state == "sending"


async def test_a_refused_dm_does_not_hold_rows_sent_another_way(store: Store) -> None:
    await queued_one(store)
    await store.set_dm_blocked(1, "refused")
    (claimed,) = await store.claim_alerts(1, ["2501.00001"], "b", by_dm=False)
    assert (claimed.state, claimed.batch) == ("sending", "b")


async def test_drop_unsendable_keeps_sendable_rows(store: Store) -> None:
    await queued_one(store)
    assert await store.drop_unsendable_alerts() == 0
    assert len(await store.alert_outbox()) == 1

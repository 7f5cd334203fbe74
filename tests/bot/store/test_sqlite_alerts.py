"""The store's alert tables: alerts, per-person state, matching marks and the outbox."""

import asyncio
from datetime import UTC, date, datetime, timedelta

from bot.models import Paper, QueuedAlert, Subscription
from bot.store import SQLiteStore

DAY = date(2025, 1, 7)


def paper(pid: str) -> Paper:
    return Paper(id=pid, title=f"Paper {pid}", abstract="About diffusion.")


async def test_alerts_crud_and_ownership(store: SQLiteStore) -> None:
    a = await store.add_alert(1, "diffusion")
    b = await store.add_alert(1, "grokking", deliver="here", channel_id=10, guild_id=20)
    await store.add_alert(2, "vision")
    assert [x.query for x in await store.user_alerts(1)] == ["diffusion", "grokking"]
    assert b.target == "channel:10" and a.target == "dm"
    assert not await store.remove_alert(2, a.id)  # not theirs
    assert await store.remove_alert(1, a.id)
    assert [x.id for x in await store.user_alerts(1)] == [b.id]


async def test_active_alerts_leave_out_muted_paused_blocked_and_disallowed(
    store: SQLiteStore,
) -> None:
    muted = await store.add_alert(1, "a")
    await store.set_alert_muted(1, muted.id, True)
    await store.add_alert(2, "b")
    await store.set_alerts_paused(2, True)
    await store.add_alert(3, "c")
    await store.set_dm_blocked(3, "Cannot send messages to this user")
    here = await store.add_alert(3, "c2", deliver="here", channel_id=5, guild_id=6)
    await store.add_alert(4, "d", deliver="here", channel_id=7, guild_id=8)
    await store.set_channel_alerts_allowed(8, False)
    ok = await store.add_alert(5, "e")
    assert {a.id for a in await store.active_alerts()} == {here.id, ok.id}
    user = await store.alert_user(3)
    assert user.dm_blocked and not user.dm_block_notified
    await store.mark_dm_block_notified(3)
    assert (await store.alert_user(3)).dm_block_notified
    await store.set_dm_blocked(3, None)
    assert (await store.alert_user(3)).dm_blocked is None
    assert await store.channel_alerts_allowed(6) and not await store.channel_alerts_allowed(8)


async def test_new_papers_wait_for_matching_until_marked(store: SQLiteStore) -> None:
    await store.ingest_day(DAY, [paper("2501.00001"), paper("2501.00002")])
    assert [p.id for p in await store.unmatched_papers()] == ["2501.00001", "2501.00002"]
    queued = await store.queue_alert_matches(
        ["2501.00001", "2501.00002"],
        [
            QueuedAlert(1, "2501.00001", 1, "matched `diffusion`"),
            QueuedAlert(1, "2501.00001", 2, "matched `other`"),  # same (user, paper): once
        ],
    )
    assert queued == 1
    assert await store.unmatched_papers() == []
    # A re-scrape of known papers never makes them unmatched again.
    await store.ingest_day(DAY, [paper("2501.00001"), paper("2501.00002")])
    assert await store.unmatched_papers() == []


async def test_outbox_states_and_retry_time(store: SQLiteStore) -> None:
    await store.queue_alert_matches([], [QueuedAlert(1, "2501.00001", 1, "r")])
    (row,) = await store.alert_outbox()
    assert row.state == "queued" and row.batch is None
    await store.mark_alerts(1, ["2501.00001"], "sending", batch="n1")
    (row,) = await store.alert_outbox()
    assert row.state == "sending" and row.batch == "n1"
    later = datetime.now(UTC) + timedelta(minutes=5)
    await store.mark_alerts(1, ["2501.00001"], "queued", retry_at=later)
    assert await store.alert_outbox() == []
    (row,) = await store.alert_outbox(later)
    assert row.attempts == 1
    await store.mark_alerts(1, ["2501.00001"], "sent")
    assert await store.alert_outbox(later) == []


async def test_digest_subscriptions_and_outbox(store: SQLiteStore) -> None:
    await store.save_subscription(Subscription(10, 1, "09:00", "UTC", 5))
    await store.set_subscription_failing(10, "gone")
    assert (await store.get_subscription(10)).failing_reason == "gone"  # type: ignore[union-attr]
    await store.save_subscription(Subscription(10, 1, "10:00", "UTC", 5))
    sub = await store.get_subscription(10)
    assert sub is not None and sub.failing_reason is None and sub.post_time == "10:00"
    first = await store.start_delivery(10, DAY, [("a", "1"), ("b", "2")])
    again = await store.start_delivery(10, DAY, [("x", "7"), ("y", "8"), ("z", "9")])
    assert [p.payload for p in again.parts] == ["a", "b"] == [p.payload for p in first.parts]
    assert [p.nonce for p in again.parts] == ["1", "2"]  # an existing plan wins, nonces too
    await store.record_part_sent(10, DAY, 0, 555)
    pending = await store.get_delivery(10, DAY)
    assert pending is not None and [p.part for p in pending.pending] == [1]
    await store.finish_delivery(10, DAY, "sent")
    done = await store.get_delivery(10, DAY)
    assert done is not None and done.state == "sent"
    assert await store.remove_subscription(10) and not await store.remove_subscription(10)


async def test_many_concurrent_writers_read_their_own_writes(store: SQLiteStore) -> None:
    async def one(channel: int) -> None:
        planned = await store.start_delivery(channel, DAY, [("a", "1"), ("b", "2")])
        assert len(planned.parts) == 2
        await store.record_part_sent(channel, DAY, 0, channel * 10)
        await store.stats()  # reads interleaved with the writes
        seen = await store.get_delivery(channel, DAY)
        assert seen is not None and seen.parts[0].message_id == channel * 10
        alert = await store.add_alert(channel, f"topic{channel}")
        assert alert.user_id == channel

    await asyncio.gather(*(one(c) for c in range(1, 201)))
    assert len(await store.delivery_states(DAY)) == 200

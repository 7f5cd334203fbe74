"""The processes sharing a store: registry, shard_count agreement, leadership, delivery leases
with fencing, and health problems reported once. Two stores opened on one database stand for
two processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from bot.errors import ClusterConfigError, LeaseLost
from bot.models import ClusterProcess
from bot.store import SQLiteStore, Store
from bot.store.postgres import PostgresStore
from tests.bot.store.support import DAY

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PARTS = [("one", "nonce-1"), ("two", "nonce-2")]


def process(
    pid: int, shard_count: int | None = 4, shards: tuple[int, ...] = (0, 1)
) -> ClusterProcess:
    return ClusterProcess(f"host:{pid}", "host", pid, shard_count, shards, NOW, NOW)


@asynccontextmanager
async def second(store: Store) -> AsyncIterator[Store]:
    """Another process's store on the same database."""
    other: Store
    if isinstance(store, PostgresStore):
        other = PostgresStore(store.url)
    else:
        assert isinstance(store, SQLiteStore)
        other = SQLiteStore(store.path)
    async with other:  # type: ignore[attr-defined]
        yield other


# -- the registry -------------------------------------------------------------------------


async def test_registered_processes_are_listed_with_their_shards(store: Store) -> None:
    await store.register_process(process(1), live_within=30)
    await store.register_process(process(2, shards=(2, 3)), live_within=30)
    listed = await store.cluster_processes()
    assert [(p.id, p.pid, p.shard_count, p.shard_ids) for p in listed] == [
        ("host:1", 1, 4, (0, 1)),
        ("host:2", 2, 4, (2, 3)),
    ]
    assert all(p.age < 30 and p.last_seen.tzinfo is not None for p in listed)


async def test_a_process_with_another_shard_count_is_refused(store: Store) -> None:
    await store.register_process(process(1, shard_count=4), live_within=30)
    with pytest.raises(ClusterConfigError, match=r"host:1.*shard_count = 4.*shard_count = 8"):
        await store.register_process(process(2, shard_count=8), live_within=30)
    assert [p.id for p in await store.cluster_processes()] == ["host:1"]


async def test_a_gone_process_does_not_stop_a_new_shard_count(store: Store) -> None:
    await store.register_process(process(1, shard_count=4), live_within=30)
    await store.register_process(process(2, shard_count=8), live_within=-1)  # all gone
    assert {p.shard_count for p in await store.cluster_processes()} == {4, 8}


async def test_a_restarted_process_replaces_its_row(store: Store) -> None:
    await store.register_process(process(1, shards=(0,)), live_within=30)
    await store.register_process(process(1, shards=(0, 1)), live_within=30)
    assert [p.shard_ids for p in await store.cluster_processes()] == [(0, 1)]


async def test_heartbeat_records_the_leader_and_says_when_the_row_is_gone(store: Store) -> None:
    await store.register_process(process(1), live_within=30)
    assert await store.process_heartbeat("host:1", leader=True)
    assert [p.leader for p in await store.cluster_processes()] == [True]
    await store.remove_process("host:1")
    assert not await store.process_heartbeat("host:1", leader=True)
    assert await store.cluster_processes() == []


async def test_prune_forgets_processes_not_seen_for_long(store: Store) -> None:
    await store.register_process(process(1), live_within=30)
    assert await store.prune_processes(3600) == 0
    assert await store.prune_processes(-1) == 1
    assert await store.cluster_processes() == []


# -- leadership ---------------------------------------------------------------------------


async def test_one_process_leads_and_another_takes_over_when_it_resigns(store: Store) -> None:
    async with second(store) as other:
        assert await store.lead("a")
        assert await store.lead("a")  # staying the leader
        if isinstance(store, SQLiteStore):
            return  # one process per SQLite store: it always leads
        assert not await other.lead("b")
        await store.resign()
        assert await other.lead("b")
        assert not await store.lead("a")


# -- leases and fencing -------------------------------------------------------------------


async def test_a_held_lease_is_refused_to_another_owner(store: Store) -> None:
    first = await store.claim_lease("digest:1", "a", 60)
    assert first is not None
    assert await store.claim_lease("digest:1", "b", 60) is None
    again = await store.claim_lease("digest:1", "a", 60)  # the holder may claim again
    assert again is not None and again.token > first.token


async def test_an_expired_lease_is_taken_over_with_a_greater_token(store: Store) -> None:
    first = await store.claim_lease("digest:1", "a", 0)
    assert first is not None
    taken = await store.claim_lease("digest:1", "b", 60)
    assert taken is not None and taken.token > first.token
    assert not await store.renew_lease(first)
    assert await store.renew_lease(taken)


async def test_an_expired_lease_nobody_took_can_be_renewed(store: Store) -> None:
    fence = await store.claim_lease("digest:1", "a", 0)
    assert fence is not None
    assert await store.renew_lease(fence)


async def test_a_released_lease_is_free_and_tokens_keep_growing(store: Store) -> None:
    first = await store.claim_lease("digest:1", "a", 60)
    assert first is not None
    await store.release_lease(first)
    taken = await store.claim_lease("digest:1", "b", 60)
    assert taken is not None and taken.token > first.token
    await store.release_lease(first)  # an old token releases nothing
    assert await store.claim_lease("digest:1", "a", 60) is None


async def test_fenced_outbox_writes_fail_after_a_takeover_and_write_nothing(store: Store) -> None:
    old = await store.claim_lease("digest:10", "a", 0)
    assert old is not None
    await store.start_delivery(10, DAY, PARTS, fence=old)
    new = await store.claim_lease("digest:10", "b", 60)
    assert new is not None
    with pytest.raises(LeaseLost):
        await store.record_part_sent(10, DAY, 0, 111, fence=old)
    with pytest.raises(LeaseLost):
        await store.record_part_refused(10, DAY, 1, fence=old)
    with pytest.raises(LeaseLost):
        await store.finish_delivery(10, DAY, "sent", fence=old)
    with pytest.raises(LeaseLost):
        await store.start_delivery(11, DAY, PARTS, fence=old)
    delivery = await store.get_delivery(10, DAY)
    assert delivery is not None and delivery.state == "sending"
    assert [p.message_id for p in delivery.parts] == [None, None]
    assert await store.get_delivery(11, DAY) is None
    await store.record_part_sent(10, DAY, 0, 222, fence=new)
    await store.finish_delivery(10, DAY, "sent", fence=new)
    delivery = await store.get_delivery(10, DAY)
    assert delivery is not None and delivery.state == "sent"
    assert delivery.parts[0].message_id == 222


async def test_a_fenced_rising_post_is_not_recorded_after_a_takeover(store: Store) -> None:
    from bot.models import RisingChannel

    await store.save_rising(RisingChannel(channel_id=20, guild_id=1, threshold=5))
    await store.start_rising_post(20, "2501.00001", "payload", "nonce")
    old = await store.claim_lease("rising:20:2501.00001", "a", 0)
    assert old is not None
    assert await store.claim_lease("rising:20:2501.00001", "b", 60) is not None
    with pytest.raises(LeaseLost):
        await store.finish_rising_post(20, "2501.00001", 5, fence=old)
    assert [p.paper_id for p in await store.rising_outbox()] == ["2501.00001"]


async def test_two_processes_claiming_at_once_get_one_lease(store: Store) -> None:
    async with second(store) as other:
        import asyncio

        got = await asyncio.gather(
            *(
                s.claim_lease(f"digest:{n}", name, 60)
                for n in range(20)
                for s, name in ((store, "a"), (other, "b"))
            )
        )
        pairs = list(zip(got[::2], got[1::2], strict=True))
        assert all((a is None) != (b is None) for a, b in pairs)


# -- health problems ----------------------------------------------------------------------


async def test_a_problem_is_reported_once_and_cleared_once(store: Store) -> None:
    async with second(store) as other:
        assert await store.report_problem("digest:10", "it fails", 7, NOW)
        assert not await other.report_problem("digest:10", "it fails again", 7, NOW)
        listed = await other.health_problems()
        assert [(p.key, p.message, p.guild_id, p.since) for p in listed] == [
            ("digest:10", "it fails", 7, NOW)
        ]
        cleared = await other.clear_problem("digest:10")
        assert cleared is not None and cleared.message == "it fails"
        assert await store.clear_problem("digest:10") is None
        assert await store.health_problems() == []


async def test_a_lease_of_a_dead_owner_can_be_taken_and_its_holder_is_named(store: Store) -> None:
    first = await store.claim_lease("digest:1", "host:1", 60)
    assert first is not None
    assert await store.lease_holder("digest:1") == "host:1"
    assert await store.claim_lease("digest:1", "host:2", 60, take_from="host:9") is None
    taken = await store.claim_lease("digest:1", "host:2", 60, take_from="host:1")
    assert taken is not None and taken.token > first.token
    assert await store.lease_holder("digest:1") == "host:2"
    await store.release_lease(taken)
    assert await store.lease_holder("digest:1") is None

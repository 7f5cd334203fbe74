"""This process among the processes sharing a store: who leads, the fail-over, the share of
the rate limit, and how /status and `paperboy status` describe them."""

from __future__ import annotations

import asyncio
import socket
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.cluster import Member, is_live, orphan_shards, process_lines, share
from bot.errors import ClusterConfigError
from bot.leases import process_name
from bot.models import ClusterProcess
from bot.ratelimit import Pacer
from bot.store import SQLiteStore
from bot.store.postgres import PostgresStore
from tests.support.postgres import PgServer

AT = datetime(2026, 1, 5, 9, tzinfo=UTC)


def proc(
    name: str, shards: tuple[int, ...], *, leader: bool = False, age: float = 1.0
) -> ClusterProcess:
    return ClusterProcess(name, "host", 1, 4, shards, AT, AT, leader, age)


def test_status_lines_name_the_leader_the_gone_and_shards_nobody_holds() -> None:
    lines = process_lines(
        [proc("a", (0, 1), leader=True), proc("b", (2,)), proc("c", (3,), leader=True, age=90)]
    )
    assert lines[0].startswith("a (leader): shards 0, 1 of 4") and "1 s ago" in lines[0]
    assert lines[1].startswith("b (follower): shard 2 of 4")
    assert lines[2].startswith("c (gone): shard 3 of 4") and "90 s ago" in lines[2]
    assert lines[3].startswith("no live process holds shard 3: digests of those servers wait")
    assert orphan_shards([proc("a", (0, 1, 2, 3))]) == []


def test_shares_of_the_limit_together_stay_within_one_process_bound() -> None:
    assert share(47, 1) == 47
    for n in range(2, 9):  # each pacer may let one more through in a second
        assert n * (share(47, n) + 1) <= 47 + 1 - 4 + 1e-9


def test_status_says_when_nobody_leads() -> None:
    lines = process_lines([proc("a", (0, 1, 2, 3), leader=False)])
    assert lines[-1].startswith("no live process leads right now")


async def test_on_sqlite_the_one_process_leads(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "p.db") as store:
        member = Member(store, process_id="only")
        await member.join()
        assert member.leading and member.live == 1
        await member.stop()
        assert await store.cluster_processes() == []


async def test_a_killed_process_of_this_host_is_not_waited_for(tmp_path: Path) -> None:
    """A process restarted after kill -9 finds its predecessor still in the registry: with
    its pid gone it is neither waited for nor given a share of the rate limit (a crash loop
    does not slow the bot to a trickle)."""
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    async with SQLiteStore(tmp_path / "p.db") as store:
        killed = ClusterProcess(
            f"{socket.gethostname()}:{dead.pid}", socket.gethostname(), dead.pid, None, (), AT, AT
        )
        await store.register_process(killed, live_within=30)
        assert is_live(replace(killed, age=1.0)) is False
        member = Member(store, process_id=process_name(), pacer=Pacer(47), heartbeat_seconds=5)
        await asyncio.wait_for(member.join_before_login(), 3)  # no 7.5 s newcomer wait
        assert member.live == 1
        assert member.pacer is not None and member.pacer.rate == 47  # the whole share
        await member.stop()


@pytest.mark.usefixtures("pg_server")
class TestOnPostgres:
    async def test_one_leads_the_other_takes_over_when_it_stops(self, pg_server: PgServer) -> None:
        async with pg_server.database() as url, PostgresStore(url) as a, PostgresStore(url) as b:
            first = Member(a, shard_count=4, shard_ids=(0, 1), process_id="a")
            second = Member(b, shard_count=4, shard_ids=(2, 3), process_id="b")
            changes: list[tuple[str, bool]] = []

            async def noted(name: str, leading: bool) -> None:
                changes.append((name, leading))

            first.on_change(lambda leading: noted("a", leading))
            second.on_change(lambda leading: noted("b", leading))
            await first.join()
            await second.join()
            assert (first.leading, second.leading) == (True, False)
            await first.beat()
            listed = {p.id: p.leader for p in await b.cluster_processes()}
            assert listed == {"a": True, "b": False}
            await first.stop()  # SIGTERM: gives the lead up and leaves the registry
            await second.beat()
            assert second.leading and changes == [("a", True), ("b", True)]
            assert [p.id for p in await b.cluster_processes()] == ["b"]

    async def test_a_killed_leaders_lock_goes_with_its_connection(
        self, pg_server: PgServer
    ) -> None:
        async with pg_server.database() as url, PostgresStore(url) as a, PostgresStore(url) as b:
            assert await a.lead("a")
            assert not await b.lead("b")
            admin = await asyncpg.connect(url)
            try:  # what the server sees of a kill -9: the leader's session ends
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'paperboy leader a'"
                )
            finally:
                await admin.close()
            assert await b.lead("b")
            assert not await a.lead("a")  # it finds out at once, and follows

    async def test_a_leader_connection_asyncpg_cannot_use_is_dropped_not_raised(
        self, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Seen in CI: a ping sent as the server's notice of the session's end arrived left
        # asyncpg's protocol stuck ("cannot switch to state 11; another operation (2) is in
        # progress"). lead() says False, drops the connection, and leads again on a new one.
        async with pg_server.database() as url, PostgresStore(url) as a:
            assert await a.lead("a")
            stuck = a._leader_con
            assert stuck is not None

            fetchval = type(stuck).fetchval

            async def in_progress(con: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
                if con is stuck:
                    raise asyncpg.InternalClientError(
                        "cannot switch to state 11; another operation (2) is in progress"
                    )
                return await fetchval(con, *args, **kwargs)

            monkeypatch.setattr(type(stuck), "fetchval", in_progress)
            assert not await a.lead("a")
            assert stuck.is_closed()
            assert await a.lead("a") and a._leader_con is not stuck

    async def test_each_process_paces_at_its_share_of_the_limit(self, pg_server: PgServer) -> None:
        async with pg_server.database() as url, PostgresStore(url) as a, PostgresStore(url) as b:
            pacers = Pacer(47), Pacer(47)
            first = Member(a, shard_count=2, shard_ids=(0,), pacer=pacers[0], process_id="a")
            second = Member(b, shard_count=2, shard_ids=(1,), pacer=pacers[1], process_id="b")
            await first.join()
            assert pacers[0].rate == pytest.approx(47)
            await second.join()
            await first.beat()
            assert [p.rate for p in pacers] == [pytest.approx(21), pytest.approx(21)]
            await second.stop()
            await first.beat()
            assert pacers[0].rate == pytest.approx(47)

    async def test_a_process_with_another_shard_count_is_refused_at_start(
        self, pg_server: PgServer
    ) -> None:
        async with pg_server.database() as url, PostgresStore(url) as a, PostgresStore(url) as b:
            await Member(a, shard_count=4, process_id="a").join()
            with pytest.raises(ClusterConfigError, match=r"process a .*shard_count = 4"):
                await Member(b, shard_count=8, process_id="b").join()

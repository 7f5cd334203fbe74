"""Several real `python -m bot run` processes sharing one PostgreSQL store, each holding some
shards, against the fake gateway speaking shards (identify concurrency checked).

Cost: each test starts two or three bot processes (about a second each to log in); the kill
tests restart one of them ten times.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.hf.parse import parse_items
from bot.models import Subscription
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeDiscord, RecordedMessage, shard_of
from tests.fakes.fake_hf import FakeHF
from tests.support.faults import BotProcess, kill_repeatedly, write_config
from tests.support.harness import open_store, store_location
from tests.test_faults import SEED_DAY, real_days, wait_count

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("pg_server")]

IDENTIFY = 0.3  # seconds between IDENTIFYs of one bucket: the bots' setting and the fake's rule
PARTS = 3  # a top-25 digest of SEED_DAY's 26 papers is 3 messages


@dataclass
class Cluster:
    """The fakes, the store and the processes (name -> process) of one test."""

    discord: FakeDiscord
    hf: FakeHF
    db: str
    bots: dict[str, BotProcess]
    shard_count: int
    guilds: list[str]
    channels: dict[str, int] = field(default_factory=dict)  # guild -> its digest channel
    day: date | None = None

    async def start(self, *names: str) -> None:
        """Start these processes (all: every one) together; they identify in turn."""
        await asyncio.gather(*(self.bots[n].start() for n in names or self.bots))

    async def ready(self, timeout: float = 30) -> None:
        """Wait until every shard holds a session and the commands are synced."""

        def up() -> bool:
            for bot in self.bots.values():
                assert bot.running or bot.proc is None, bot.tail()
            shards = [(s, self.shard_count) for s in range(self.shard_count)]
            return all(self.discord.sessions_of(s) for s in shards) and bool(self.discord.commands)

        await self.discord.wait_for(up, timeout, "a session on every shard")

    def holder(self, guild: str) -> BotProcess:
        """The process holding this server's shard (by what it logged when identifying)."""
        shard = shard_of(guild, self.shard_count)
        line = f"identifying shard {shard} of {self.shard_count} "
        (bot,) = [b for b in self.bots.values() if line in b.log.read_text()]
        return bot

    def digests(self) -> list[RecordedMessage]:
        return [m for m in self.discord.messages if m.channel_id in self.channel_ids]

    @property
    def channel_ids(self) -> set[str]:
        return {str(c) for c in self.channels.values()}

    async def wait_delivered(self, timeout: float) -> None:
        sql = "SELECT count(*) FROM digest_deliveries WHERE state = 'sent'"
        await wait_count(self.db, sql, len(self.channels), timeout)

    async def stop(self) -> None:
        for bot in self.bots.values():
            if bot.running:
                assert await bot.stop() == 0, bot.tail()

    async def assert_each_digest_once(self) -> None:
        """Every planned part in its channel exactly once, in order, as recorded."""
        assert self.day is not None
        async with open_store(self.db) as store:
            for channel in self.channels.values():
                delivery = await store.get_delivery(channel, self.day)
                assert delivery is not None and delivery.state == "sent", channel
                got = [m for m in self.discord.messages if m.channel_id == str(channel)]
                assert len(delivery.parts) == PARTS
                assert [m.nonce for m in got] == [p.nonce for p in delivery.parts], channel
                assert [int(m.id) for m in got] == [p.message_id for p in delivery.parts]


@contextlib.asynccontextmanager
async def cluster(
    tmp_path: Path,
    shards: dict[str, str],
    *,
    shard_count: int,
    guilds: int,
    digests: bool = False,
    **sections: Any,
) -> AsyncIterator[Cluster]:
    """The fakes, a PostgreSQL store, `guilds` servers spread evenly over the shards, and one
    process per entry of `shards` (name -> $PAPERBOY_SHARD_IDS), not started. `digests`:
    every server has a #digest channel whose digest of yesterday's list is due at start."""
    yesterday, long_ago = real_days()
    items = copy.deepcopy(seed_items()[SEED_DAY])
    async with (
        FakeDiscord() as discord,
        FakeHF.serving(yesterday.isoformat(), items) as hf,
        store_location(tmp_path, "postgresql") as db,
    ):
        assert isinstance(db, str)
        discord.identify_window = IDENTIFY
        made = [
            discord.add_guild(f"server {n}", shard=(n % shard_count, shard_count))
            for n in range(guilds)
        ]
        c = Cluster(discord, hf, db, {}, shard_count, made)
        if digests:
            c.day = yesterday
            async with open_store(db, clock=lambda: long_ago) as store:
                await store.ingest_day(yesterday, parse_items(items, "seed"))
                for guild in made:
                    channel = int(discord.add_text_channel(guild, "digest"))
                    c.channels[guild] = channel
                    await store.save_subscription(
                        Subscription(channel, int(guild), "00:00", "UTC", 25)
                    )
            sections.setdefault("digest", {"complete_after_hours": 0})
        config = write_config(
            tmp_path / "config.toml",
            discord,
            hf,
            db,
            discord={"shard_count": shard_count, "identify_seconds": IDENTIFY},
            **sections,
        )
        c.bots = {
            name: BotProcess(
                config, tmp_path / f"{name}.log", discord.token, env={"PAPERBOY_SHARD_IDS": ids}
            )
            for name, ids in shards.items()
        }
        try:
            yield c
        finally:
            for bot in c.bots.values():
                if bot.running:
                    await bot.kill()
        discord.assert_clean()


async def ask_every_server(c: Cluster) -> None:
    """/search in every server: answered once, by the session (process) holding its shard."""
    for guild in c.guilds:
        channel = c.discord.add_text_channel(guild, "general")
        member = c.discord.add_member(guild, f"reader in {guild}")
        inter = await c.discord.invoke(
            "search", {"query": "diffusion"}, user=member, channel=channel
        )
        await inter.response(timeout=10)
        assert [s for _, s in inter.sessions] == [(shard_of(guild, c.shard_count), c.shard_count)]
        assert len(inter.callbacks) == 1


async def test_two_processes_each_answer_the_servers_on_their_shard(tmp_path: Path) -> None:
    async with cluster(tmp_path, {"a": "0", "b": "1"}, shard_count=2, guilds=6) as c:
        await c.start()
        await c.ready()
        assert {shard_of(g, 2): c.holder(g) for g in c.guilds} == {0: c.bots["a"], 1: c.bots["b"]}
        accepted = [r for r in c.discord.identifies if r.accepted]
        assert sorted(r.shard for r in accepted) == [(0, 2), (1, 2)]
        assert abs(accepted[1].at - accepted[0].at) >= IDENTIFY  # one bucket: in turn
        await ask_every_server(c)
        await c.stop()


async def test_two_processes_of_two_shards_answer_forty_servers(tmp_path: Path) -> None:
    async with cluster(tmp_path, {"a": "0-1", "b": "2-3"}, shard_count=4, guilds=40) as c:
        await c.start()
        await c.ready()
        owners = Counter(
            (shard_of(g, 4), name)
            for g in c.guilds
            for name, b in c.bots.items()
            if b is c.holder(g)
        )
        assert owners == {(0, "a"): 10, (1, "a"): 10, (2, "b"): 10, (3, "b"): 10}
        await ask_every_server(c)
        await c.stop()


async def test_forty_digests_due_together_are_posted_once_while_a_process_is_killed(
    tmp_path: Path,
) -> None:
    """40 servers on 4 shards, 2 processes; one is kill -9'd 10 times during the fan-out
    and restarted: every channel gets its digest exactly once, complete."""
    async with cluster(
        tmp_path, {"a": "0-1", "b": "2-3"}, shard_count=4, guilds=40, digests=True
    ) as c:
        await c.start("b")
        victim = c.bots["a"]
        at_kill = await kill_repeatedly(
            victim,
            c.discord,
            lambda: len(c.digests()),
            kills=10,
            most_per_run=6,
            rng=random.Random(15),
        )
        assert at_kill[-1] < len(c.channels) * PARTS, "the kills came too late"
        await victim.start()
        await c.wait_delivered(60)
        await c.stop()
        await c.assert_each_digest_once()


async def test_servers_of_a_dead_process_wait_for_a_process_holding_their_shards(
    tmp_path: Path,
) -> None:
    """b is down (dead for good) when the digests fall due: a posts its own servers' digests
    and none of b's; they wait, and go out once a process holding b's shards starts."""
    async with cluster(
        tmp_path, {"a": "0-1", "b": "2-3"}, shard_count=4, guilds=8, digests=True
    ) as c:
        mine = {c.channels[g] for g in c.guilds if shard_of(g, 4) < 2}
        await c.start("a")
        sql = "SELECT count(*) FROM digest_deliveries WHERE state = 'sent'"
        await wait_count(c.db, sql, len(mine), 30)
        posted = {int(m.channel_id) for m in c.digests()}
        async with open_store(c.db) as store:
            assert c.day is not None
            started = {ch for ch in c.channels.values() if await store.get_delivery(ch, c.day)}
        assert posted == mine and started == mine, "a touched b's servers"
        await c.bots["b"].start()  # b is back (or another process with its shards)
        await c.wait_delivered(30)
        await c.stop()
        await c.assert_each_digest_once()

"""Several real `python -m bot run` processes sharing one PostgreSQL store, each holding some
shards, against the fake gateway speaking shards (identify concurrency checked)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeDiscord, shard_of
from tests.fakes.fake_hf import FakeHF
from tests.support.faults import BotProcess, write_config
from tests.support.harness import store_location

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("pg_server")]

IDENTIFY = 0.3  # seconds between IDENTIFYs of one bucket: the bots' setting and the fake's rule


@dataclass
class Cluster:
    discord: FakeDiscord
    hf: FakeHF
    db: str
    bots: dict[str, BotProcess]
    guilds: list[str]

    async def ready(self, timeout: float = 30) -> None:
        """Wait until every process's shards hold a session."""

        def up() -> bool:
            for bot in self.bots.values():
                assert bot.running, bot.tail()
            return all(
                self.discord.sessions_of((s, self.count)) for s in range(self.count)
            ) and all(self.discord.sync_count.values())

        await self.discord.wait_for(up, timeout, "every shard's session")

    @property
    def count(self) -> int:
        return self.shard_count

    shard_count: int = 2


@contextlib.asynccontextmanager
async def cluster(
    tmp_path: Path, shards: dict[str, str], *, shard_count: int, guilds: int
) -> AsyncIterator[Cluster]:
    """The fakes, a PostgreSQL store, `guilds` servers spread over the shards, and one
    process per entry of `shards` (name -> $PAPERBOY_SHARD_IDS), not yet started."""
    async with (
        FakeDiscord() as discord,
        FakeHF(copy.deepcopy(seed_items())) as hf,
        store_location(tmp_path, "postgresql") as db,
    ):
        assert isinstance(db, str)
        discord.identify_window = IDENTIFY
        made = [
            discord.add_guild(f"server {n}", shard=(n % shard_count, shard_count))
            for n in range(guilds)
        ]
        config = write_config(
            tmp_path / "config.toml",
            discord,
            hf,
            db,
            discord={"shard_count": shard_count, "identify_seconds": IDENTIFY},
        )
        bots = {
            name: BotProcess(
                config, tmp_path / f"{name}.log", discord.token, env={"PAPERBOY_SHARD_IDS": ids}
            )
            for name, ids in shards.items()
        }
        try:
            yield Cluster(discord, hf, db, bots, made, shard_count)
        finally:
            for bot in bots.values():
                if bot.running:
                    await bot.kill()
        discord.assert_clean()


async def test_two_processes_each_answer_the_servers_on_their_shard(tmp_path: Path) -> None:
    async with cluster(tmp_path, {"a": "0", "b": "1"}, shard_count=2, guilds=6) as c:
        await asyncio.gather(*(bot.start() for bot in c.bots.values()))  # together: turns
        await c.ready()
        holder = {0: c.bots["a"], 1: c.bots["b"]}
        for shard, bot in holder.items():
            assert f"identifying shard {shard} of 2" in bot.log.read_text()
            assert f"identifying shard {1 - shard} of 2" not in bot.log.read_text()
        accepted = [r for r in c.discord.identifies if r.accepted]
        assert sorted(r.shard for r in accepted) == [(0, 2), (1, 2)]
        assert abs(accepted[1].at - accepted[0].at) >= IDENTIFY  # one bucket: in turn
        for guild in c.guilds:
            channel = c.discord.add_text_channel(guild, "general")
            member = c.discord.add_member(guild, f"reader in {guild}")
            inter = await c.discord.invoke(
                "search", {"query": "diffusion"}, user=member, channel=channel
            )
            await inter.response(timeout=10)
            shard = shard_of(guild, 2)
            assert [s for _, s in inter.sessions] == [(shard, 2)]
            assert len(inter.callbacks) == 1
        for bot in c.bots.values():
            assert await bot.stop() == 0, bot.tail()

"""One bot process over several shards, against the fake gateway speaking shards.

The bot runs as discord.py's AutoShardedBot over `[discord] shard_ids`; Discord (the fake)
sends each server's interactions to the session holding its shard, and the process posts
digests only for the servers on its own shards.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from bot.client import ShardedPaperboy
from bot.delivery.digests import DigestDelivery
from bot.models import Subscription
from tests.conftest import seed_papers
from tests.fakes.fake_discord import FakeDiscord, shard_of
from tests.fakes.fake_hf import FakeHF
from tests.support.faults import BotProcess, write_config
from tests.support.harness import Harness, running_bot
from tests.support.process import spawn

IDENTIFY = 0.3  # seconds between IDENTIFYs of one bucket, bot and fake alike
GUILDS = 6
JAN7 = date(2025, 1, 7)  # the newest complete list on 2025-01-09 09:00


def sharded(count: int, ids: list[int] | None = None) -> dict[str, Any]:
    section: dict[str, Any] = {"shard_count": count, "identify_seconds": IDENTIFY}
    if ids is not None:
        section["shard_ids"] = ids
    return section


def servers(fake: FakeDiscord, count: int) -> list[tuple[str, str]]:
    """GUILDS servers spread over the shards, each with a #digest channel: (guild, channel)."""
    made = []
    for n in range(GUILDS):
        guild = fake.add_guild(f"server {n}", shard=(n % count, count))
        made.append((guild, fake.add_text_channel(guild, "digest")))
    return made


def engine(h: Harness) -> DigestDelivery:
    cog = h.bot.get_cog("Digest")
    assert cog is not None
    return cast(DigestDelivery, cog.engine)  # type: ignore[attr-defined]


async def start(h: Harness) -> None:
    h.discord.identify_window = IDENTIFY  # Discord's identify rule, checked
    await h.start_bot()
    assert isinstance(h.bot, ShardedPaperboy)


async def test_one_process_holding_both_shards_answers_every_server(tmp_path: Path) -> None:
    async with running_bot(tmp_path, start=False, discord=sharded(2)) as h:
        made = servers(h.discord, 2)
        await start(h)
        assert sorted(r.shard for r in h.discord.identifies if r.accepted) == [(0, 2), (1, 2)]
        first, second = (r.at for r in h.discord.identifies)
        assert second - first >= IDENTIFY
        assert {g.shard_id for g in h.bot.guilds} == {0, 1}
        for guild, channel in made:
            member = h.discord.add_member(guild, f"reader of {guild}")
            inter = await h.discord.invoke(
                "search", {"query": "diffusion"}, user=member, channel=channel
            )
            await inter.response()
            assert [shard for _, shard in inter.sessions] == [(shard_of(guild, 2), 2)]


async def test_shards_in_different_identify_buckets_identify_together(tmp_path: Path) -> None:
    """max_concurrency 2 (read from /gateway/bot): shards 0 and 1 are in buckets 0 and 1 and
    need not wait for each other, while Discord's window per bucket is long."""
    section = sharded(2) | {"identify_seconds": 3.0}
    async with running_bot(tmp_path, start=False, discord=section) as h:
        h.discord.max_concurrency = 2
        h.discord.identify_window = 30.0
        await h.start_bot()
        first, second = h.discord.identifies
        assert {(r.shard, r.bucket, r.accepted) for r in (first, second)} == {
            ((0, 2), 0, True),
            ((1, 2), 1, True),
        }
        assert second.at - first.at < 3.0  # the second did not wait for the first's bucket


async def test_a_process_holding_shard_0_posts_only_its_servers_digests(tmp_path: Path) -> None:
    async with running_bot(
        tmp_path, start=False, now=datetime(2025, 1, 8, 10, tzinfo=UTC), discord=sharded(2, [0])
    ) as h:
        made = servers(h.discord, 2)
        for day, papers in seed_papers().items():
            await h.store.ingest_day(day, papers)
        for guild, channel in made:
            await h.store.save_subscription(
                Subscription(int(channel), int(guild), "09:00", "UTC", 5)
            )
        h.clock.now = datetime(2025, 1, 9, 9, tzinfo=UTC)  # the next 09:00: all are due
        await start(h)
        assert [r.shard for r in h.discord.identifies] == [(0, 2)]
        assert {shard_of(g.id, 2) for g in h.bot.guilds} == {0}
        owned = [(g, c) for g, c in made if shard_of(g, 2) == 0]

        async def delivered() -> bool:
            states = await h.store.delivery_states(JAN7)
            return all(states.get(int(c)) == "sent" for _, c in owned)

        for _ in range(200):  # the start-up catch-up posts what is due
            if await delivered():
                break
            await asyncio.sleep(0.05)
        assert await delivered()
        assert await engine(h).run_due() == []  # and nothing is left for this process
        for guild, channel in made:
            posted = h.discord.messages_in(channel)
            assert bool(posted) == (shard_of(guild, 2) == 0), guild


@pytest.mark.slow
async def test_a_bot_in_too_many_servers_for_one_connection_says_to_shard(tmp_path: Path) -> None:
    """Discord closes an unsharded session of a bot past its guild limit with 4011: the
    process exits with one line naming the fix."""
    async with FakeDiscord() as discord, FakeHF() as hf:
        discord.max_guilds_per_session = 1
        discord.add_guild("a second server")
        config = write_config(tmp_path / "config.toml", discord, hf, tmp_path / "paperboy.db")
        proc = await spawn("--config", str(config), "run", token=discord.token)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert err.decode().strip().splitlines()[-1] == (
        "paperboy: Discord requires sharding (4011): the bot is in too many servers for one"
        " connection; set [discord] shard_count"
    )
    assert "Traceback" not in err.decode()


@pytest.mark.slow
async def test_sigterm_while_a_shard_waits_for_its_identify_turn_stops_cleanly(
    tmp_path: Path,
) -> None:
    """discord.py retries a shard's launch after close; the sharded bot ends the launch, so
    a SIGTERM between two shards' IDENTIFYs stops the process at once, status 0."""
    async with FakeDiscord() as discord, FakeHF() as hf:
        config = write_config(
            tmp_path / "config.toml",
            discord,
            hf,
            tmp_path / "paperboy.db",
            discord={"shard_count": 2, "identify_seconds": 10},
        )
        async with BotProcess(config, tmp_path / "bot.log", discord.token) as bot:
            await bot.start()
            await discord.wait_for(lambda: discord.identifies, 30, "shard 0's IDENTIFY")
            assert await bot.stop(timeout=8) == 0, bot.tail()
            assert len(discord.identifies) == 1  # shard 1 was still waiting for its turn
            assert "Traceback" not in bot.log.read_text()

"""The fake gateway speaks shards as Discord does: routing by `(guild_id >> 22) % count`, DMs
to shard 0, identify concurrency per bucket, and the close codes of bad shards.

The protocol cases talk to the gateway over a raw websocket (exact opcodes and close codes);
the routing cases run discord.py's AutoShardedBot, which is what paperboy runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from . import fake_discord as fake_module
from .fake_discord import FakeDiscord, Intent, shard_of
from .test_fake_discord import FAST, search, start_bot, stop_bot

fake_discord = fake_module.fake_discord

JSON = dict[str, Any]


@pytest.fixture
def fake(fake_discord: FakeDiscord) -> FakeDiscord:
    return fake_discord


class Gateway:
    """One raw gateway connection: read HELLO, send IDENTIFY, read what comes back."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def identify(self, fake: FakeDiscord, shard: Any = None) -> None:
        data: JSON = {"token": fake.token, "intents": int(Intent.GUILDS), "properties": {}}
        if shard is not None:
            data["shard"] = shard
        await self.ws.send_str(json.dumps({"op": 2, "d": data}))

    async def receive(self, timeout: float = 2) -> JSON | int:
        """The next payload, or the close code once the fake closed the connection."""
        msg = await self.ws.receive(timeout)
        if msg.type is aiohttp.WSMsgType.TEXT:
            return dict(json.loads(msg.data))
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        return int(self.ws.close_code or 0)

    async def events(self, n: int) -> list[str]:
        """The names of the next `n` dispatch events."""
        names = []
        while len(names) < n:
            payload = await self.receive()
            assert isinstance(payload, dict), payload
            if payload["op"] == 0:
                names.append(payload["t"])
        return names


@pytest.fixture
async def connect(fake: FakeDiscord) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        opened: list[aiohttp.ClientWebSocketResponse] = []

        async def open_one() -> Gateway:
            ws = await session.ws_connect(fake.gateway_url)
            opened.append(ws)
            gateway = Gateway(ws)
            hello = await gateway.receive()
            assert isinstance(hello, dict) and hello["op"] == 10
            return gateway

        yield open_one
        for ws in opened:
            await ws.close()


def test_guild_ids_can_be_placed_on_a_shard(fake: FakeDiscord) -> None:
    for shard in range(4):
        assert shard_of(fake.add_guild(f"g{shard}", shard=(shard, 4)), 4) == shard
    # consecutive ids spread over the shards by themselves
    ids = [fake.add_guild(f"spread {n}") for n in range(8)]
    assert {shard_of(g, 4) for g in ids} == {0, 1, 2, 3}


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], ["0", 2], [0], [True, 2]])
async def test_an_invalid_shard_is_closed_with_4010(
    fake: FakeDiscord, connect: Any, shard: Any
) -> None:
    gateway = await connect()
    await gateway.identify(fake, shard)
    assert await gateway.receive() == 4010
    assert fake.sessions_of(None) == [] and not fake.identifies


async def test_too_many_guilds_for_one_session_is_closed_with_4011(
    fake: FakeDiscord, connect: Any
) -> None:
    fake.max_guilds_per_session = 3
    for n in range(4):
        fake.add_guild(f"g{n}", shard=(n % 2, 2))  # with Paper Club: 5 guilds, at most 3 a shard
    unsharded = await connect()
    await unsharded.identify(fake)
    assert await unsharded.receive() == 4011
    for shard_id in (0, 1):
        sharded = await connect()
        await sharded.identify(fake, [shard_id, 2])
        assert (await sharded.events(1)) == ["READY"]


async def test_identify_concurrency_is_enforced_per_bucket(fake: FakeDiscord, connect: Any) -> None:
    """max_concurrency 1: a second IDENTIFY within the window gets op 9 (not resumable) and
    is recorded as a violation; after the window it is accepted."""
    fake.identify_window = 0.3
    first = await connect()
    await first.identify(fake, [0, 2])
    assert (await first.events(1)) == ["READY"]
    second = await connect()
    await second.identify(fake, [1, 2])
    assert await second.receive() == {"op": 9, "d": False}
    assert len(fake.violations) == 1 and "bucket 0" in str(fake.violations[0])
    assert [r.accepted for r in fake.identifies] == [True, False]
    fake.violations.clear()
    await asyncio.sleep(0.3)
    third = await connect()
    await third.identify(fake, [1, 2])
    assert (await third.events(1)) == ["READY"]
    fake.assert_clean()


async def test_max_concurrency_gives_each_bucket_its_own_turn(
    fake: FakeDiscord, connect: Any
) -> None:
    """max_concurrency 2: shards 0 and 1 (buckets 0 and 1) start together; shard 2 shares
    bucket 0 with shard 0 and must wait. /gateway/bot reports the limit."""
    fake.identify_window, fake.max_concurrency = 5.0, 2
    for shard in ([0, 4], [1, 4]):
        gateway = await connect()
        await gateway.identify(fake, shard)
        assert (await gateway.events(1)) == ["READY"]
    late = await connect()
    await late.identify(fake, [2, 4])
    assert await late.receive() == {"op": 9, "d": False}
    assert [(r.shard, r.bucket, r.accepted) for r in fake.identifies] == [
        ((0, 4), 0, True),
        ((1, 4), 1, True),
        ((2, 4), 0, False),
    ]
    fake.violations.clear()
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {fake.token}"}
        async with session.get(fake.api_base_url + "/gateway/bot", headers=headers) as resp:
            body = await resp.json(content_type=None)
    assert body["session_start_limit"]["max_concurrency"] == 2
    assert body["shards"] == fake.recommended_shards


async def test_guild_events_go_to_their_shard_and_dms_to_shard_0(
    fake: FakeDiscord, connect: Any
) -> None:
    on_1 = fake.add_guild("on shard 1", shard=(1, 2))
    on_0 = fake.add_guild("on shard 0", shard=(0, 2))
    sessions = {}
    for shard_id in (0, 1):
        gateway = await connect()
        await gateway.identify(fake, [shard_id, 2])
        held = [g for g in fake.guilds if shard_of(g, 2) == shard_id]
        assert (await gateway.events(1 + len(held))) == ["READY"] + ["GUILD_CREATE"] * len(held)
        sessions[shard_id] = gateway
    assert fake.dispatch("TYPING_START", {"guild_id": on_1}, guild_id=on_1) == 1
    assert (await sessions[1].events(1)) == ["TYPING_START"]
    assert fake.dispatch("TYPING_START", {"guild_id": on_0}, guild_id=on_0) == 1
    assert fake.dispatch("CHANNEL_PINS_UPDATE", {}, guild_id=None) == 1  # a DM event
    assert (await sessions[0].events(2)) == ["TYPING_START", "CHANNEL_PINS_UPDATE"]
    fake.add_guild("joined later", shard=(1, 2))
    assert (await sessions[1].events(1)) == ["GUILD_CREATE"]


class OneShardBot(commands.AutoShardedBot):
    """An AutoShardedBot holding some shards of a count, with /search."""

    def __init__(self, shard_ids: list[int], shard_count: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            guild_ready_timeout=FAST,
            help_command=None,
            shard_ids=shard_ids,
            shard_count=shard_count,
        )
        self.ready = asyncio.Event()
        self.answered: list[int] = []

    async def setup_hook(self) -> None:
        self.tree.add_command(search)
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No pause: the test starts the bots one after the other."""

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.answered.append(interaction.id)


async def test_each_guilds_interactions_reach_only_the_bot_holding_its_shard(
    fake: FakeDiscord,
) -> None:
    guilds = [fake.add_guild(f"g{n}", shard=(n % 2, 2)) for n in range(4)]
    bots = {0: OneShardBot([0], 2), 1: OneShardBot([1], 2)}
    tasks = [await start_bot(bot, fake, bot.ready) for bot in bots.values()]
    try:
        for guild in guilds:
            channel = fake.add_text_channel(guild, "general")
            user = fake.add_member(guild, f"member of {guild}")
            inter = await fake.invoke("search", {"query": "x"}, user=user, channel=channel)
            assert (await inter.response()).content == "results for x (limit 3)"
            shard = shard_of(guild, 2)
            assert [s for _, s in inter.sessions] == [(shard, 2)]
            assert int(inter.id) in bots[shard].answered
            assert int(inter.id) not in bots[1 - shard].answered
        in_dm = await fake.invoke("search", {"query": "y"}, user=fake.alice, dm=True)
        assert (await in_dm.response()).content == "results for y (limit 3)"
        assert [s for _, s in in_dm.sessions] == [(0, 2)]
        assert int(in_dm.id) in bots[0].answered and int(in_dm.id) not in bots[1].answered
    finally:
        for bot, task in zip(bots.values(), tasks, strict=True):
            await stop_bot(bot, task)
    fake.assert_clean()

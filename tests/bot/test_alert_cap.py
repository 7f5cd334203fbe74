"""The 25-alert cap holds however many adds run at once; /alert commands have a cooldown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from bot.errors import AlertLimitError
from bot.store import SQLiteStore
from bot.store.base import MAX_ALERTS
from tests.fakes.fake_discord import FakeUser
from tests.support.harness import Harness, running_bot

CONCURRENT = 20
BEFORE = 20  # alerts the person already has: 20 more at once would make 40 without a cap


async def test_concurrent_adds_in_the_store_stop_at_the_cap(store: SQLiteStore) -> None:
    for n in range(BEFORE):
        await store.add_alert(1, f"topic{n}")
    results = await asyncio.gather(
        *(store.add_alert(1, f"more{n}") for n in range(CONCURRENT)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, AlertLimitError) for r in refused), refused
    assert len(refused) == BEFORE + CONCURRENT - MAX_ALERTS
    assert len(await store.user_alerts(1)) == MAX_ALERTS
    await store.add_alert(2, "someone else")  # the cap is per person
    assert len(await store.user_alerts(2)) == 1


async def test_a_removed_alert_frees_a_place(store: SQLiteStore) -> None:
    alerts = [await store.add_alert(1, f"topic{n}", max_alerts=3) for n in range(3)]
    with pytest.raises(AlertLimitError, match="already have 3 alerts"):
        await store.add_alert(1, "one more", max_alerts=3)
    assert await store.remove_alert(1, alerts[0].id)
    await store.add_alert(1, "one more", max_alerts=3)
    assert len(await store.user_alerts(1)) == 3


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        yield harness


def cog(h: Harness) -> Any:
    found = h.bot.get_cog("Alerts")
    assert found is not None
    return cast(Any, found)


async def add_at_once(h: Harness, user: FakeUser, n: int) -> list[str]:
    """`n` /alert adds by one person, all in flight together; their private replies."""
    inters = [
        await h.discord.invoke("alert add", {"query": f"grokking{i}"}, user=user, channel="general")
        for i in range(n)
    ]
    messages = await asyncio.gather(*(i.final_message() for i in inters))
    assert all(m.ephemeral for m in messages)
    return [m.content for m in messages]


async def test_concurrent_adds_through_discord_stop_at_the_cap(h: Harness) -> None:
    cog(h).rate = None  # the cap, not the cooldown, is under test here
    alice = h.discord.alice
    for n in range(BEFORE):
        await h.store.add_alert(int(alice.id), f"topic{n}")
    replies = await add_at_once(h, alice, CONCURRENT)
    assert len(await h.store.user_alerts(int(alice.id))) == MAX_ALERTS
    saved = [r for r in replies if "saved" in r]
    refused = [r for r in replies if "already have 25 alerts; remove one" in r]
    assert len(saved) == MAX_ALERTS - BEFORE
    assert len(refused) == CONCURRENT - len(saved)


async def test_alert_commands_have_a_cooldown(h: Harness) -> None:
    alice = h.discord.alice
    replies = await add_at_once(h, alice, 8)
    slowed = [r for r in replies if r.startswith("Slow down")]
    assert len(slowed) == 3  # 5 uses per 10 s
    assert len(await h.store.user_alerts(int(alice.id))) == 5
    # Per person and per command: bob and alice's other commands are not held up.
    assert "saved" in (await add_at_once(h, h.discord.bob, 1))[0]
    inter = await h.discord.invoke("alert list", user=alice, channel="general")
    assert "Your alerts (5/25)" in (await inter.final_message()).content

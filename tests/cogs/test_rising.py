"""/rising end to end: the fake Hugging Face (whose upvotes change between polls), the fake
Discord and the store. A paper is posted once, the first time it reaches the threshold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from bot.delivery.rising import RisingDelivery
from cogs.rising import check_keywords
from tests.fakes.fake_discord import FakeDiscordError
from tests.support.harness import Harness, running_bot

SHEAF = "2202.01607"  # "Neural Sheaf Diffusion", 0 upvotes on 2025-01-07


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        yield harness


def engine(h: Harness) -> RisingDelivery:
    cog = h.bot.get_cog("Rising")
    assert cog is not None
    return cast(Any, cog).engine


async def rising(h: Harness, name: str, **options: object) -> str:
    inter = await h.discord.invoke(f"rising {name}", options, user=h.discord.admin)
    message = await inter.final_message()
    assert message.ephemeral, f"/rising {name} answered publicly"
    return message.content


async def refresh(h: Harness) -> None:
    """One refresh two hours after the last, and the rising run it starts (runs take turns:
    the second one waits for the refresh's)."""
    h.clock.advance(hours=2)
    assert await h.bot.refresh.run() is not None
    await engine(h).run()
    await engine(h).run()


async def test_a_rising_paper_is_posted_once_when_it_crosses_the_threshold(h: Harness) -> None:
    await refresh(h)  # the first upvote point of each paper
    reply = await rising(h, "set", channel="papers", threshold=50)
    assert reply.startswith("Saved. <#") and "▲ 50" in reply
    assert "already have that many upvotes; they are not posted" in reply
    h.hf.update_paper(SHEAF, upvotes=49)
    await refresh(h)
    assert h.discord.messages_in("papers") == []  # not before
    h.hf.update_paper(SHEAF, upvotes=61)
    await refresh(h)
    (post,) = h.discord.messages_in("papers")
    assert "▲ 61, +61 since its list day" in post.content
    assert post.embeds[0]["title"].startswith("Neural Sheaf Diffusion")
    assert f"paper:code:{SHEAF}" in post.custom_ids  # the paper controls, as on digest cards
    assert post.allowed_mentions == {"parse": []}  # a title never pings anyone
    h.hf.update_paper(SHEAF, upvotes=300)
    await refresh(h)
    await refresh(h)
    assert len(h.discord.messages_in("papers")) == 1  # once, ever


async def test_keywords_list_and_remove(h: Harness) -> None:
    reply = await rising(h, "set", channel="papers", threshold=5, keywords="sheaf")
    assert "that match `sheaf`" in reply
    assert "<#" in await rising(h, "list") and "sheaf" in await rising(h, "list")
    h.hf.update_paper(SHEAF, upvotes=6)
    h.hf.update_paper("2505.17719", upvotes=900)  # does not match the keywords
    await refresh(h)
    (post,) = h.discord.messages_in("papers")
    assert "Sheaf" in post.embeds[0]["title"]
    assert "no longer gets rising papers" in await rising(h, "remove", channel="papers")
    assert "No channel gets rising papers" in await rising(h, "list")
    assert "was not getting rising papers" in await rising(h, "remove", channel="papers")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"channel": "readonly", "threshold": 5}, "I can't post rising papers in"),
        ({"channel": "papers", "threshold": 5, "keywords": '" - "'}, '`" - "` contains no word'),
    ],
)
async def test_bad_settings_are_named_and_nothing_is_saved(
    h: Harness, options: dict[str, object], message: str
) -> None:
    assert message in await rising(h, "set", **options)
    assert await h.store.rising_channels() == []


async def test_thresholds_out_of_range_and_members_without_manage_server(h: Harness) -> None:
    for threshold in (0, 100_001):  # Discord itself refuses a value out of range
        with pytest.raises(FakeDiscordError):
            await h.discord.invoke(
                "rising set", {"channel": "papers", "threshold": threshold}, user=h.discord.admin
            )
    with pytest.raises(FakeDiscordError):
        await h.discord.invoke("rising list", {}, user=h.discord.alice)
    assert check_keywords("  diffusion  ") == "diffusion"

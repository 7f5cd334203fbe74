"""A paper's life end to end, through the fake Hugging Face (whose upvotes, keywords and
repositories change between polls) and the fake Discord: refreshes, late text, rising alerts,
code watches and /trending rising. A second refresh never sends anything again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from bot.config import parse_config
from bot.delivery.alerts import AlertDelivery
from bot.errors import ConfigError, UserError
from cogs.alerts import check_threshold
from cogs.watch import paper_id_from
from tests.fakes.fake_discord import FakeDiscordError, FakeUser
from tests.support.harness import Harness, running_bot

pytestmark = pytest.mark.usefixtures("store_backend")

SHEAF = "2202.01607"  # "Neural Sheaf Diffusion", 0 upvotes on 2025-01-07
TOKENS = "2410.02251"  # no AI keywords yet
GROKKING = "2310.06371"  # no GitHub repository yet
KDE = "2408.04200"  # has a repository


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        await engine(harness).run()
        yield harness


def engine(h: Harness) -> AlertDelivery:
    cog = h.bot.get_cog("Alerts")
    assert cog is not None
    return cast(Any, cog).engine


async def command(h: Harness, name: str, user: FakeUser, **options: object) -> str:
    inter = await h.discord.invoke(name, options, user=user, channel="general")
    message = await inter.final_message()
    assert message.ephemeral, f"/{name} answered publicly"
    return message.content


async def refresh(h: Harness) -> None:
    """One refresh, then the alert run it starts (waited for: runs take turns)."""
    assert await h.bot.refresh.run() is not None
    await engine(h).run()


async def test_a_refresh_reads_each_list_once_and_clears_what_hf_removed(h: Harness) -> None:
    before = len(h.hf.requests_to("/api/daily_papers"))
    h.hf.update_paper(KDE, githubRepo=None, ai_summary=None, upvotes=500)
    await refresh(h)
    asked = h.hf.requests_to("/api/daily_papers")[before:]
    assert len(asked) == h.config.huggingface.refresh_days == 7  # one request per list page
    assert h.hf.requests_to("/papers/") == []  # the API only: no HTML page
    paper = (await h.store.get_paper(KDE)).paper  # type: ignore[union-attr]
    assert (paper.upvotes, paper.github_repo, paper.ai_summary) == (500, None, None)


async def test_a_failed_refresh_changes_nothing_and_the_next_one_works(h: Harness) -> None:
    h.hf.update_paper(SHEAF, upvotes=99)
    h.hf.inject("/api/daily_papers", 503, headers={"Retry-After": "0"}, count=2)
    assert await h.bot.refresh.run() is None
    assert (await h.store.get_paper(SHEAF)).paper.upvotes == 0  # type: ignore[union-attr]
    await refresh(h)
    assert (await h.store.get_paper(SHEAF)).paper.upvotes == 99  # type: ignore[union-attr]


async def test_a_rising_alert_fires_once_when_the_threshold_is_crossed(h: Harness) -> None:
    alice = h.discord.alice
    reply = await command(h, "alert add", alice, query="sheaf", min_upvotes=50)
    assert "once they have 50 upvotes" in reply
    assert "`sheaf` at ▲ 50+" in await command(h, "alert list", alice)
    # New text makes it matched again, but 49 upvotes are not enough: not before.
    h.hf.update_paper(SHEAF, upvotes=49, ai_keywords=["sheaf", "graphs"])
    await refresh(h)
    assert h.discord.dms_to(alice) == []
    h.hf.update_paper(SHEAF, upvotes=61)
    await refresh(h)
    (dm,) = h.discord.dms_to(alice)
    assert "Neural Sheaf Diffusion" in dm.embeds[0]["description"]
    assert "▲ 61" in dm.embeds[0]["description"]
    h.hf.update_paper(SHEAF, upvotes=200)
    await refresh(h)
    await refresh(h)
    assert len(h.discord.dms_to(alice)) == 1  # once, ever


async def test_late_keywords_fire_an_alert_once(h: Harness) -> None:
    bob = h.discord.bob
    await command(h, "alert add", bob, query="zorblax")
    await refresh(h)
    assert h.discord.dms_to(bob) == []
    h.hf.update_paper(TOKENS, ai_keywords=["zorblax", "state space"])
    await refresh(h)
    (dm,) = h.discord.dms_to(bob)
    assert "Token Dynamics" in dm.embeds[0]["description"]
    assert "matched `zorblax`" in dm.embeds[0]["description"]
    # More late text, and a second refresh: nothing again.
    h.hf.update_paper(TOKENS, ai_summary="zorblax all the way down", upvotes=300)
    await refresh(h)
    await refresh(h)
    assert len(h.discord.dms_to(bob)) == 1


async def test_a_watched_papers_code_arrives_once(h: Harness) -> None:
    alice = h.discord.alice
    reply = await command(h, "watch add", alice, paper=f"https://huggingface.co/papers/{GROKKING}")
    assert "I'll DM you when code for" in reply and "Grokking" in reply
    assert GROKKING in await command(h, "watch list", alice)
    await refresh(h)
    assert h.discord.dms_to(alice) == []
    h.hf.update_paper(GROKKING, githubRepo="https://github.com/example/grokking")
    await refresh(h)
    (dm,) = h.discord.dms_to(alice)
    embed = dm.embeds[0]
    assert (
        "Code is out" in embed["description"]
        and "github.com/example/grokking" in embed["description"]
    )
    assert embed["title"] == "Code is out for 1 paper you watch"
    await refresh(h)
    assert len(h.discord.dms_to(alice)) == 1
    assert "watch no papers" in await command(h, "watch list", alice)


async def test_the_code_control_on_a_paper_card_watches_in_two_clicks(h: Harness) -> None:
    bob = h.discord.bob
    shown = await h.discord.invoke("paper", {"id": GROKKING}, user=bob, channel="general")
    card = await shown.final_message()
    button = next(
        item
        for row in card.components
        for item in row["components"]
        if item.get("custom_id") == f"paper:code:{GROKKING}"
    )
    assert "code" in button["label"].lower()
    clicked = await h.discord.click(card, f"paper:code:{GROKKING}", user=bob)
    answer = await clicked.final_message()
    assert answer.ephemeral and "I'll DM you when code" in answer.content
    assert [w.paper_id for w in await h.store.user_watches(int(bob.id), h.clock())] == [GROKKING]
    # A paper that already has code: the reply links it, nothing is watched.
    shown = await h.discord.invoke("paper", {"id": KDE}, user=bob, channel="general")
    clicked = await h.discord.click(await shown.final_message(), f"paper:code:{KDE}", user=bob)
    answer = await clicked.final_message()
    assert "already has code" in answer.content and "github.com" in answer.content


async def test_trending_rising_shows_the_biggest_gains_of_24_hours(h: Harness) -> None:
    await refresh(h)
    h.hf.update_paper("2505.17719", upvotes=104)  # +100
    h.hf.update_paper("2102.02671", upvotes=8)  # +5
    h.clock.advance(hours=25)
    await refresh(h)
    inter = await h.discord.invoke(
        "trending", {"period": "rising"}, user=h.discord.alice, channel="general"
    )
    message = await inter.final_message()
    (embed,) = message.embeds
    text = embed["description"]
    assert "rising" in embed["title"]
    assert text.index("+100") < text.index("+5")
    assert "Beyond the Mean" in text.split("\n\n")[0]


async def test_bad_values_are_named(h: Harness) -> None:
    with pytest.raises(UserError, match="100,001 given"):
        check_threshold(100_001)
    with pytest.raises(UserError, match="0 given"):
        check_threshold(0)
    with pytest.raises(FakeDiscordError):  # Discord itself refuses a value out of range
        await h.discord.invoke(
            "alert add", {"query": "sheaf", "min_upvotes": 0}, user=h.discord.alice
        )
    with pytest.raises(UserError, match="`hello` is not an arXiv id"):
        paper_id_from("hello")
    reply = await command(h, "watch add", h.discord.alice, paper="not-a-paper")
    assert "`not-a-paper` is not an arXiv id" in reply
    for days in (0, 31):
        with pytest.raises(ConfigError, match=f"refresh_days must be between 1 and 30, not {days}"):
            parse_config({"huggingface": {"refresh_days": days}})

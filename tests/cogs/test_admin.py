"""Health reports: one message when a problem starts and one when it clears, never per poll."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from bot.models import Subscription
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeDiscordError
from tests.support.harness import Harness, running_bot

# Everything here runs on both store backends.
pytestmark = pytest.mark.usefixtures("store_backend")


def reports(h: Harness) -> list[str]:
    return [m.content for m in h.discord.messages_in("vision")]


async def set_health_channel(h: Harness) -> None:
    await h.store.set_health_channel(int(h.discord.guild_id), int(h.discord.channel_id("vision")))


async def test_admins_choose_the_health_channel(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        inter = await h.discord.invoke(
            "admin health_channel", {"channel": "vision"}, user=h.discord.admin
        )
        assert "report problems in" in (await inter.response()).content
        assert await h.store.health_channels() == {
            int(h.discord.guild_id): int(h.discord.channel_id("vision"))
        }
        with pytest.raises(FakeDiscordError):
            await h.discord.invoke("admin health_channel", {}, user=h.discord.alice)
        refused = await h.discord.invoke(
            "admin health_channel", {}, user=h.discord.alice, check_permissions=False
        )
        assert "manage guild" in (await refused.response()).content
        off = await h.discord.invoke("admin health_channel", {}, user=h.discord.admin)
        assert "off" in (await off.response()).content
        assert await h.store.health_channels() == {}


async def test_a_failing_scraper_is_reported_once_and_its_recovery_once(tmp_path: Path) -> None:
    config = {"poll_seconds": 1, "max_retries": 0}
    async with running_bot(tmp_path, start=False, huggingface=config) as h:
        await set_health_channel(h)
        # Backfill (7 dates) and two polls (2 dates each) fail, API and HTML alike.
        h.hf.inject("/", 503, count=7 * 2 + 2 * 2 + 2 * 2)
        await h.start_bot()
        await h.discord.wait_for(lambda: len(reports(h)) >= 1, 15, "the problem report")
        (problem,) = reports(h)
        assert problem.startswith("⚠️ **Problem:** Scraping Hugging Face fails")
        assert "Hugging Face is unreachable" in problem  # the details stay in the log
        status = await (await h.discord.invoke("status", {}, user=h.discord.admin)).response()
        fields = {f["name"]: f["value"] for f in status.embeds[0]["fields"]}
        assert "Scraping Hugging Face fails" in fields["Problems"]
        assert "(leader): every shard" in fields["Processes"]  # one process, leading
        await h.discord.wait_for(lambda: len(reports(h)) >= 2, 15, "the recovery report")
        assert reports(h)[1].startswith("✅ **Resolved**")
        await h.wait_for_scrape(runs=2)
        assert len(reports(h)) == 2  # nothing more while all is well


async def test_a_failing_digest_channel_is_reported_in_its_server(tmp_path: Path) -> None:
    async with running_bot(tmp_path, now=datetime(2025, 1, 9, 9, tzinfo=UTC)) as h:
        await set_health_channel(h)
        await h.backfill_done()
        channel_id = int(h.discord.channel_id("readonly"))
        await h.store.save_subscription(
            Subscription(
                channel_id,
                int(h.discord.guild_id),
                "09:00",
                "UTC",
                10,
                created_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
        engine = cast(Any, h.bot.get_cog("Digest")).engine
        await engine.run_due()
        await h.discord.wait_for(lambda: reports(h), 10, "the digest problem report")
        (problem,) = reports(h)
        assert f"<#{channel_id}>" in problem and "permission" in problem
        h.discord.violations.clear()  # the refused post was the point


async def test_dm_refusals_in_bulk_are_reported(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        await set_health_channel(h)
        await h.backfill_done()
        users = [h.discord.add_member(h.discord.guild_id, f"reader{n}") for n in range(5)]
        for user in users:
            await h.store.add_alert(int(user.id), "grokking")
            h.discord.dm_refusing.add(user.id)
        h.hf.set_day("2025-01-08", copy.deepcopy(seed_items()["2025-11-28"]))
        await h.bot.scrape_job()
        engine = cast(Any, h.bot.get_cog("Alerts")).engine
        await engine.run()
        await h.discord.wait_for(lambda: reports(h), 10, "the DM problem report")
        (problem,) = reports(h)
        assert "5 people refused alert DMs" in problem
        h.discord.violations.clear()

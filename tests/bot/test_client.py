"""The bot runtime end to end: real discord.py against the fake Discord and fake HF servers."""

from __future__ import annotations

import asyncio
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import discord
import pytest

import cogs
from bot.app import EXTENSIONS
from bot.client import SYNC_HASH_KEY, intents
from bot.scraper import ScrapeReport
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeDiscordError
from tests.support.harness import Harness, running_bot

WITH_FAULTY = ["cogs.status", "tests.support.faulty_cog"]


async def test_logs_in_with_only_the_guilds_intent(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        (identify,) = h.discord.identify_payloads
        assert identify["intents"] == intents().value == discord.Intents(guilds=True).value
        guild = h.bot.get_guild(int(h.discord.guild_id))
        assert guild is not None and guild.me is not None
        papers = guild.get_channel(int(h.discord.channel_id("papers")))
        readonly = guild.get_channel(int(h.discord.channel_id("readonly")))
        assert isinstance(papers, discord.TextChannel) and isinstance(readonly, discord.TextChannel)
        assert papers.permissions_for(guild.me).send_messages
        assert not readonly.permissions_for(guild.me).send_messages


async def test_commands_sync_once_and_not_again_on_an_unchanged_restart(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        assert h.discord.sync_count["global"] == 1
        assert "status" in [c["name"] for c in h.discord.commands["global"]]
        assert await h.store.get_meta(SYNC_HASH_KEY)
        await h.restart()
        assert h.discord.sync_count["global"] == 1
        # A changed tree is synced again.
        h.extensions = WITH_FAULTY
        await h.restart()
        assert h.discord.sync_count["global"] == 2
        assert {"status", "oops", "boom"} <= {c["name"] for c in h.discord.commands["global"]}


async def test_dev_guild_sync(tmp_path: Path) -> None:
    async with running_bot(tmp_path, start=False) as h:
        h.config = replace(
            h.config, discord=replace(h.config.discord, dev_guild_id=int(h.discord.guild_id))
        )
        await h.start_bot()
        assert h.discord.sync_count[h.discord.guild_id] == 1
        assert "global" not in h.discord.sync_count


async def test_a_user_error_gets_its_message_privately(tmp_path: Path) -> None:
    async with running_bot(tmp_path, extensions=WITH_FAULTY) as h:
        inter = await h.discord.invoke("oops", {}, user=h.discord.alice, channel="general")
        response = await inter.response()
        assert response.ephemeral
        assert response.content == "That paper id does not look like an arXiv id."


@pytest.mark.parametrize("command", ["boom", "late"])
async def test_an_unexpected_error_gets_an_apology_and_a_logged_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, command: str
) -> None:
    async with running_bot(tmp_path, extensions=WITH_FAULTY) as h:
        with caplog.at_level(logging.ERROR, logger="bot.tree"):
            inter = await h.discord.invoke(command, {}, user=h.discord.alice, channel="general")
            message = await inter.final_message()
            assert message.ephemeral
            assert "Sorry, something went wrong" in message.content
        (record,) = [r for r in caplog.records if r.name == "bot.tree"]
        assert f"/{command}" in record.getMessage()
        assert str(h.discord.alice.id) in record.getMessage()
        assert h.discord.guild_id in record.getMessage()
        assert record.exc_info is not None


async def test_nothing_the_bot_posts_can_ping(tmp_path: Path) -> None:
    async with running_bot(tmp_path, extensions=WITH_FAULTY) as h:
        inter = await h.discord.invoke("echo", {}, user=h.discord.alice, channel="papers")
        await inter.response()
        await h.discord.wait_for(lambda: h.discord.messages_in("papers"), what="the echo")
        (posted,) = h.discord.messages_in("papers")
        assert "@everyone" in posted.content
        assert posted.allowed_mentions == {"parse": []}


async def test_a_broken_cog_is_logged_and_the_others_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.client"):
        async with running_bot(
            tmp_path, extensions=["tests.support.broken_cog", "cogs.status"]
        ) as h:
            assert "tests.support.broken_cog" in h.bot.failed_extensions
            assert "status" in [c["name"] for c in h.discord.commands["global"]]
    assert any("broken_cog" in r.getMessage() for r in caplog.records)


async def test_status_for_admins(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        await wait_until(h, lambda: h.bot.last_scrape is not None)
        inter = await h.discord.invoke("status", {}, user=h.discord.admin, channel="general")
        response = await inter.response()
        assert response.ephemeral
        fields = {f["name"]: f["value"] for f in response.embeds[0]["fields"]}
        assert fields["Papers stored"] == str(len(seed_items()["2025-01-07"]))
        assert fields["Newest list"] == "2025-01-07"
        assert "ok" in fields["Last scrape"] and "scrape Hugging Face" in fields["Next jobs"]
        with pytest.raises(FakeDiscordError):  # hidden from members without manage_guild
            await h.discord.invoke("status", {}, user=h.discord.alice, channel="general")


async def wait_until(h: Harness, condition: Callable[[], object], timeout: float = 10) -> None:
    await h.discord.wait_for(condition, timeout, what="the scraper")


async def test_the_scraper_backfills_then_polls_and_publishes_new_papers(tmp_path: Path) -> None:
    async with running_bot(tmp_path, start=False, huggingface={"poll_seconds": 1}) as h:
        published: list[list[str]] = []
        await h.start_bot()

        async def on_scrape(report: ScrapeReport) -> None:
            if report.new_ids:
                published.append(report.new_ids)

        h.bot.scrape.add_hook(on_scrape)
        await wait_until(h, lambda: h.bot.last_scrape is not None)
        asked = [r.query["date"] for r in h.hf.requests_to("/api/daily_papers")]
        assert asked[:7] == [f"2025-01-{d:02d}" for d in range(2, 9)]  # backfill, oldest first
        assert (await h.store.stats()).papers == 26
        # A new list appears for "today": the next poll stores it and tells listeners.
        new_items = seed_items()["2025-08-05"]
        expected = sorted(i["paper"]["id"] for i in new_items)
        h.hf.set_day("2025-01-08", [dict(i) for i in new_items])
        # (The hook may also have seen the backfill's report, if that finished after it
        # was added: wait for the report of this list.)
        await wait_until(h, lambda: any(sorted(ids) == expected for ids in published))
        polled = [r.query["date"] for r in h.hf.requests_to("/api/daily_papers")][7:]
        assert set(polled) == {"2025-01-07", "2025-01-08"}  # yesterday and today


async def test_a_failing_run_never_stops_later_runs(tmp_path: Path) -> None:
    hf_config = {"poll_seconds": 1, "max_retries": 0}
    async with running_bot(tmp_path, start=False, huggingface=hf_config) as h:
        h.hf.inject("/", 500, count=14)  # the whole first run: 7 dates, API then HTML
        await h.start_bot()
        await wait_until(h, lambda: h.bot.last_scrape is not None)
        assert h.bot.last_scrape is not None and not h.bot.last_scrape.ok
        await wait_until(h, lambda: h.bot.last_scrape is not None and h.bot.last_scrape.ok)
        assert (await h.store.stats()).papers == 26


async def test_two_runs_never_overlap(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        await wait_until(h, lambda: h.bot.last_scrape is not None)
        before = len(h.hf.requests)
        h.hf.inject_delay("/api/daily_papers", 0.3, count=2)
        await asyncio.gather(h.bot.scrape_job(), h.bot.scrape_job())
        assert len(h.hf.requests) - before == 2  # one run: yesterday and today
        assert h.bot.last_scrape is not None and h.bot.last_scrape.outcomes[-1].list_date == date(
            2025, 1, 8
        )


async def test_close_stops_the_scheduler(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        scheduler = h.bot.scheduler
        assert scheduler is not None and scheduler.running
        await h.stop_bot()
        assert not scheduler.running
        assert h.bot.is_closed()


def test_every_cog_module_is_a_listed_extension() -> None:
    modules = pkgutil.iter_modules(cogs.__path__)
    found = {f"cogs.{m.name}" for m in modules if not m.ispkg and not m.name.startswith("_")}
    assert set(EXTENSIONS) == found


async def test_an_answer_after_the_deadline_is_a_warning_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path, extensions=WITH_FAULTY) as h:
        h.discord.ack_deadline = 0.1
        with caplog.at_level(logging.WARNING, logger="bot.tree"):
            inter = await h.discord.invoke("sleepy", {}, user=h.discord.alice, channel="general")
            await h.discord.wait_for(lambda: inter.expired, 5, "Discord's deadline to pass")
            cog = h.bot.get_cog("Faulty")
            assert cog is not None  # (loaded as an extension: a module of its own)
            cog.release_sleepy.set()  # type: ignore[attr-defined]
            await h.discord.wait_for(lambda: inter.rejected, 5, "the late answer")
            await h.discord.wait_for(
                lambda: any(r.name == "bot.tree" for r in caplog.records), 5, "the log line"
            )
        (record,) = [r for r in caplog.records if r.name == "bot.tree"]
        assert record.levelno == logging.WARNING and "too late" in record.getMessage()
        assert {v.code for v in h.discord.violations} <= {10062}
        h.discord.violations.clear()

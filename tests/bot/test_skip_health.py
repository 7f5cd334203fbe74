"""An item HF lists but the bot cannot read is skipped and counted; run after run, it is a
health problem (reported once in the health channel), cleared when the list reads again."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

from bot.scraper import SKIPPED_HEALTH
from tests.conftest import seed_items
from tests.support.harness import running_bot

JAN7 = date(2025, 1, 7)


async def test_items_skipped_run_after_run_are_a_health_problem_until_they_read(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, start=False) as h:
        good = copy.deepcopy(seed_items()[JAN7.isoformat()])
        bad = copy.deepcopy(good[0])
        del bad["paper"]["id"]
        h.hf.set_day(JAN7.isoformat(), [bad, *good[1:]])
        await h.start_bot()
        await h.backfill_done()
        assert [p.key for p in h.bot.health.active()] == []  # once is only logged
        assert len(await h.store.day_listing(JAN7)) == len(good) - 1  # the rest stored
        vision = int(h.discord.channel_id("vision"))
        await h.store.set_health_channel(int(h.discord.guild_id), vision)

        await h.bot.scrape_job()
        await h.discord.wait_for(lambda: h.bot.health.active(), 10, "the problem")
        (problem,) = h.bot.health.active()
        assert problem.key == SKIPPED_HEALTH and "1 skipped" in problem.message
        await h.discord.wait_for(
            lambda: any("cannot read" in m.content for m in h.discord.messages_in("vision")),
            10,
            "the health report",
        )

        h.hf.set_day(JAN7.isoformat(), good)
        await h.bot.scrape_job()
        await h.bot.scrape.drain(10)  # a scheduled run started before the fix may still end
        await h.bot.scrape_job()
        assert h.bot.health.active() == []
        await h.discord.wait_for(
            lambda: len(h.discord.messages_in("vision")) == 2, 10, "the all-clear"
        )

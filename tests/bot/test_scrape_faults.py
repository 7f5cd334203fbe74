"""F3: one bad item, or one date that cannot be stored, fails only itself, and is reported.

End to end: the real bot scrapes the fake Hugging Face into a real store and reports to the
fake Discord's health channel (#vision) and /status.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import parse_config
from bot.hf.parse import MAX_COUNT
from bot.hf.source import HFSource
from bot.scraper import NOT_STORED
from tests.conftest import seed_items
from tests.fakes.fake_hf import FakeHF
from tests.support.harness import Harness, running_bot

JAN6, JAN7, JAN8 = date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8)


def items(day: str, count: int) -> list[dict[str, Any]]:
    return copy.deepcopy(seed_items()[day][:count])


def reports(h: Harness) -> list[str]:
    return [m.content for m in h.discord.messages_in("vision")]


async def status_fields(h: Harness) -> dict[str, str]:
    status = await (await h.discord.invoke("status", {}, user=h.discord.admin)).response()
    return {f["name"]: f["value"] for f in status.embeds[0]["fields"]}


async def test_poisoned_items_cost_only_themselves_and_later_dates_are_stored(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, start=False) as h:
        jan6 = items("2025-11-28", 6)
        jan6[0]["paper"]["upvotes"] = "²"  # str.isdigit() accepts it, int() does not
        jan6[1]["paper"]["authors"] = 7
        jan6[2]["paper"]["upvotes"] = 2**63  # past SQLite's INTEGER
        jan6[3]["paper"]["publishedAt"] = "9999-12-31T23:00:00-05:00"
        h.hf.set_day(JAN6.isoformat(), jan6)
        await h.start_bot()  # the backfill: 2025-01-02 .. 2025-01-08
        await h.backfill_done()
        report = h.bot.last_scrape
        assert report is not None and report.ok
        stored = {listing.paper.id: listing.paper for listing in await h.store.day_listing(JAN6)}
        assert list(stored) == [item["paper"]["id"] for item in jan6[2:]]
        assert stored[jan6[2]["paper"]["id"]].upvotes == MAX_COUNT
        assert stored[jan6[3]["paper"]["id"]].published_at is None
        # The later date, fetched after the poisoned one, is all there.
        assert len(await h.store.day_listing(JAN7)) == len(seed_items()[JAN7.isoformat()])
        assert [o.skipped for o in report.outcomes if o.list_date == JAN6] == [2]
        assert "2 invalid items skipped" in (await status_fields(h))["Last scrape"]
        assert h.bot.health.active() == []


async def test_a_date_that_cannot_be_stored_fails_alone_is_recorded_and_reported(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as h:
        await h.backfill_done()
        await h.store.set_health_channel(
            int(h.discord.guild_id), int(h.discord.channel_id("vision"))
        )
        h.hf.set_day(JAN8.isoformat(), items("2025-11-28", 43))
        # A full disk: the store's writer may not grow the file past its present size.
        writer = h.store._db  # the one write connection; the limit is per connection
        assert writer is not None
        ((pages,),) = await writer.execute_fetchall("PRAGMA page_count")
        await writer.execute(f"PRAGMA max_page_count = {pages}")

        h.clock.now = datetime(2025, 1, 8, 11, tzinfo=UTC)
        await h.bot.scrape_job()
        report = h.bot.last_scrape
        assert report is not None and [(o.list_date, o.ok) for o in report.outcomes] == [
            (JAN7, True),
            (JAN8, False),
        ]
        failed = report.outcomes[1]
        assert failed.problem == NOT_STORED and "full" in (failed.error or "")
        stats = await h.store.stats()
        assert stats.last_scrape is not None
        assert (stats.last_scrape.list_date, stats.last_scrape.ok) == (JAN8, False)
        assert "full" in (stats.last_scrape.error or "")
        assert h.bot.health.active() == []  # one failed run is not a problem yet

        h.clock.now = datetime(2025, 1, 8, 12, tzinfo=UTC)
        await h.bot.scrape_job()
        await h.discord.wait_for(lambda: reports(h), 10, "the problem report")
        (problem,) = reports(h)
        assert problem.startswith("⚠️ **Problem:** Scraping Hugging Face fails (2 runs in a row)")
        assert f"{JAN8}: {NOT_STORED}" in problem
        fields = await status_fields(h)
        assert NOT_STORED in fields["Problems"] and NOT_STORED in fields["Last scrape"]

        await writer.execute("PRAGMA max_page_count = 1073741823")  # space again
        await h.bot.scrape_job()
        await h.discord.wait_for(lambda: len(reports(h)) == 2, 10, "the recovery report")
        assert reports(h)[1].startswith("✅ **Resolved**")
        assert len(await h.store.day_listing(JAN8)) == 43


async def test_a_skipped_item_does_not_end_the_paging_early(tmp_path: Path) -> None:
    template = items("2025-01-07", 1)[0]
    listing = []
    for n in range(150):  # two API pages of 100
        item = copy.deepcopy(template)
        item["paper"]["id"] = f"2501.{n + 1:05d}"
        listing.append(item)
    listing[0]["paper"]["upvotes"] = "²"
    async with FakeHF({JAN7.isoformat(): listing}) as hf, aiohttp.ClientSession() as session:
        config = parse_config({"huggingface": {"base_url": hf.base_url, "max_retries": 0}})
        day = await HFSource(session, config.huggingface).fetch_day(JAN7)
    assert len(day.papers) == 149 and day.skipped == 1

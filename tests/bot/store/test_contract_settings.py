"""Bookkeeping and server settings: scrape records and stats, meta values, health channels."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.models import ScrapeRun
from bot.store import Store
from tests.bot.store.support import DAY, NEXT_DAY, paper

AT = datetime(2025, 1, 7, 12, 0, 0, tzinfo=UTC)


def run(finished_at: datetime, ok: bool, **fields: object) -> ScrapeRun:
    return ScrapeRun(DAY, finished_at, ok, **fields)  # type: ignore[arg-type]


async def test_an_empty_store_has_empty_stats(store: Store) -> None:
    stats = await store.stats()
    assert (stats.papers, stats.list_dates, stats.first_date, stats.newest_date) == (
        0,
        0,
        None,
        None,
    )
    assert stats.last_scrape is None and stats.last_success is None
    assert stats.location


async def test_stats_count_papers_and_lists(store: Store) -> None:
    await store.ingest_day(NEXT_DAY, [paper("2401.00001"), paper("2401.00002")])
    await store.ingest_day(DAY, [paper("2401.00002")])
    await store.ingest_day(date(2025, 1, 9), [paper("2401.00003")])
    await store.upsert_paper(paper("2401.00004"))  # a paper on no list still counts
    stats = await store.stats()
    assert (stats.papers, stats.list_dates) == (4, 3)
    assert (stats.first_date, stats.newest_date) == (DAY, date(2025, 1, 9))


async def test_seed_stats(seeded: Store) -> None:
    stats = await seeded.stats()
    assert (stats.papers, stats.list_dates) == (147, 4)
    assert (stats.first_date, stats.newest_date) == (date(2025, 1, 7), date(2025, 11, 28))


async def test_a_scrape_record_comes_back_whole(store: Store) -> None:
    recorded = ScrapeRun(NEXT_DAY, AT, True, found=30, new=4, updated=7)
    await store.record_scrape(recorded)
    stats = await store.stats()
    assert stats.last_scrape == recorded and stats.last_success == recorded


async def test_the_last_scrape_may_have_failed_the_last_success_did_not(store: Store) -> None:
    good = run(AT, True, found=30)
    bad = run(AT.replace(hour=13), False, error="HTTP 503")
    await store.record_scrape(good)
    await store.record_scrape(bad)
    stats = await store.stats()
    assert stats.last_scrape == bad and stats.last_success == good


async def test_the_last_scrape_is_the_latest_finished_not_the_latest_recorded(
    store: Store,
) -> None:
    later = run(AT.replace(hour=13), True, found=2)
    await store.record_scrape(later)
    await store.record_scrape(run(AT, True, found=1))
    stats = await store.stats()
    assert stats.last_scrape == later and stats.last_success == later


async def test_only_failures_leave_no_last_success(store: Store) -> None:
    await store.record_scrape(run(AT, False, error="timeout"))
    stats = await store.stats()
    assert stats.last_scrape is not None and stats.last_scrape.error == "timeout"
    assert stats.last_success is None


async def test_meta_values(store: Store) -> None:
    assert await store.get_meta("sync") is None
    await store.set_meta("sync", "abc")
    await store.set_meta("other", "x")
    await store.set_meta("sync", "def")
    assert await store.get_meta("sync") == "def"
    assert await store.get_meta("other") == "x"


async def test_health_channels_by_server(store: Store) -> None:
    assert await store.health_channels() == {}
    await store.set_health_channel(1, 100)
    await store.set_health_channel(2, 200)
    await store.set_health_channel(1, 101)
    assert await store.health_channels() == {1: 101, 2: 200}


async def test_a_cleared_health_channel_is_gone(store: Store) -> None:
    await store.set_health_channel(1, 100)
    await store.set_health_channel(2, 200)
    await store.set_health_channel(1, None)
    assert await store.health_channels() == {2: 200}


async def test_a_healthy_store_passes_its_integrity_check(store: Store) -> None:
    assert await store.integrity_check() == []


async def test_a_busy_store_passes_its_integrity_check(seeded: Store) -> None:
    await seeded.ingest_day(DAY, [paper("2401.00001", "Renamed", abstract="Changed.")])
    await seeded.upsert_paper(paper("2401.00002", "By id"))
    assert await seeded.integrity_check() == []

"""Scraper.scrape_dates fetches the next date while the store writes the current one."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, cast

from bot.models import DayList, IngestResult, ScrapeRun
from bot.scraper import Scraper

DAYS = [date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8)]


class _Source:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.fetched = {day: asyncio.Event() for day in DAYS}

    async def fetch_day(self, day: date) -> DayList:
        self.events.append(f"fetch {day}")
        self.fetched[day].set()
        await asyncio.sleep(0)
        return DayList(day, day, ())


class _Store:
    """Writes a day only once the next date's fetch has begun (else fails the day)."""

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.runs: list[ScrapeRun] = []

    async def ingest_day(self, day: date, papers: Any) -> IngestResult:
        self.source.events.append(f"store {day}")
        following = [d for d in DAYS if d > day]
        if following:
            await asyncio.wait_for(self.source.fetched[following[0]].wait(), 5)
        return IngestResult(day, 0, (), 0)

    async def record_scrape(self, run: ScrapeRun) -> None:
        self.runs.append(run)


async def test_the_next_date_is_fetched_while_this_one_is_stored() -> None:
    source = _Source()
    store = _Store(source)
    scraper = Scraper(cast(Any, source), cast(Any, store))
    outcomes = await scraper.scrape_dates(DAYS)
    assert [o.list_date for o in outcomes] == DAYS
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert [r.list_date for r in store.runs] == DAYS
    assert source.events == [
        f"fetch {DAYS[0]}",
        f"store {DAYS[0]}",
        f"fetch {DAYS[1]}",  # fetched while day 0 is being written
        f"store {DAYS[1]}",
        f"fetch {DAYS[2]}",
        f"store {DAYS[2]}",
    ]


async def test_a_cancelled_run_cancels_the_fetch_ahead() -> None:
    source = _Source()
    store = _Store(source)
    started = asyncio.Event()

    async def slow_fetch(day: date) -> DayList:
        source.events.append(f"fetch {day}")
        if day == DAYS[1]:
            started.set()
            await asyncio.Event().wait()  # never answers
        return DayList(day, day, ())

    source.fetch_day = slow_fetch  # type: ignore[method-assign]
    scraper = Scraper(cast(Any, source), cast(Any, store))
    task = asyncio.create_task(scraper.scrape_dates(DAYS))
    await asyncio.wait_for(started.wait(), 5)
    before = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert all(t.done() for t in before)


async def test_each_list_is_prepared_as_soon_as_it_is_fetched() -> None:
    source = _Source()
    store = _Store(source)

    async def prepare(papers: Any) -> None:
        source.events.append(f"prepare {len(source.events)}")

    scraper = Scraper(cast(Any, source), cast(Any, store), prepare=prepare)
    outcomes = await scraper.scrape_dates(DAYS)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert source.events == [
        f"fetch {DAYS[0]}",
        "prepare 1",
        f"store {DAYS[0]}",
        f"fetch {DAYS[1]}",
        "prepare 4",  # ahead of its write, while day 0 is being written
        f"store {DAYS[1]}",
        f"fetch {DAYS[2]}",
        "prepare 7",
        f"store {DAYS[2]}",
    ]

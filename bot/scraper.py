"""Fetch lists from the source into the store, one date at a time, recording each outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.errors import ScrapeError, SourceUnavailable
from bot.hf.source import HFSource
from bot.models import IngestResult, ScrapeRun
from bot.store import Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class DateOutcome:
    """How scraping one date went: a result, or an error message."""

    list_date: date
    result: IngestResult | None = None
    error: str | None = None
    served: date | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Scraper:
    """Keeps the store in step with Hugging Face."""

    def __init__(self, source: HFSource, store: Store, clock: Clock | None = None) -> None:
        self.source = source
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    def recent_dates(self, days: int) -> list[date]:
        """The last `days` UTC dates up to and including today, oldest first."""
        today = self.today()
        return [today - timedelta(days=n) for n in range(max(days, 1) - 1, -1, -1)]

    async def scrape_dates(
        self,
        dates: Iterable[date],
        on_outcome: Callable[[DateOutcome], None] | None = None,
    ) -> list[DateOutcome]:
        """Scrape each date; one failing date never stops the others."""
        outcomes = []
        for day in dates:
            outcome = await self.scrape_date(day)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return outcomes

    async def scrape_date(self, day: date) -> DateOutcome:
        """Fetch one date and store it; errors become an outcome, not an exception."""
        try:
            listing = await self.source.fetch_day(day)
            result = await self.store.ingest_day(day, listing.papers)
        except (ScrapeError, SourceUnavailable) as e:
            log.warning("scraping %s failed: %s", day, e)
            outcome = DateOutcome(day, error=str(e))
        else:
            if result.new:
                log.info("%s: %d papers, %d new", day, result.found, len(result.new))
            outcome = DateOutcome(day, result=result, served=listing.served)
        await self.store.record_scrape(
            ScrapeRun(
                list_date=day,
                finished_at=self.clock(),
                ok=outcome.ok,
                found=outcome.result.found if outcome.result else 0,
                new=len(outcome.result.new) if outcome.result else 0,
                updated=outcome.result.updated if outcome.result else 0,
                error=outcome.error,
            )
        )
        return outcome

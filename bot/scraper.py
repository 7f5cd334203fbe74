"""Fetch lists from the source into the store, one date at a time, recording each outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.errors import ScrapeError, SourceUnavailable, without_userinfo
from bot.hf.source import HFSource
from bot.models import IngestResult, ScrapeRun
from bot.store import Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]

# What every server may see of a failure (its details, which may hold the configured URL, stay in
# the log and the store's scrape record).
UNREACHABLE = "Hugging Face is unreachable"
UNEXPECTED_DATA = "Hugging Face returned unexpected data"
NOT_STORED = "the papers could not be stored"
INTERNAL = "an internal error"


@dataclass(frozen=True, slots=True)
class DateOutcome:
    """How scraping one date went: a result, or an error (details) and a problem (public)."""

    list_date: date
    result: IngestResult | None = None
    error: str | None = None
    served: date | None = None
    problem: str | None = None  # one of the generic lines above, fit for every server
    skipped: int = 0  # invalid items HF listed that were left out

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
        """Fetch one date and store it; any error becomes this date's outcome, never raises."""
        outcome = await self._fetch_and_store(day)
        try:
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
        except Exception:
            log.exception("could not record the scrape of %s", day)
        return outcome

    async def _fetch_and_store(self, day: date) -> DateOutcome:
        try:
            listing = await self.source.fetch_day(day)
        except (ScrapeError, SourceUnavailable) as e:
            error = without_userinfo(str(e))
            log.warning("scraping %s failed: %s", day, error)
            problem = UNREACHABLE if isinstance(e, SourceUnavailable) else UNEXPECTED_DATA
            return DateOutcome(day, error=error, problem=problem)
        except Exception as e:
            log.exception("scraping %s failed unexpectedly", day)
            return DateOutcome(day, error=_describe(e), problem=INTERNAL)
        if listing.skipped:
            log.warning("%s: skipped %d invalid items (see above)", day, listing.skipped)
        try:
            result = await self.store.ingest_day(day, listing.papers)
        except Exception as e:  # a full disk, a locked or damaged store
            log.exception("storing the list of %s failed", day)
            return DateOutcome(day, error=_describe(e), problem=NOT_STORED)
        if result.new:
            log.info("%s: %d papers, %d new", day, result.found, len(result.new))
        return DateOutcome(day, result=result, served=listing.served, skipped=listing.skipped)


def _describe(error: Exception) -> str:
    """An unexpected error in one line, for the log and the scrape record."""
    return without_userinfo(f"{type(error).__name__}: {error}".rstrip(": "))

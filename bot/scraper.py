"""Fetch lists from the source into the store, one date at a time, recording each outcome;
and the scheduled scrape run, with its failure streak and completion hooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.errors import ScrapeError, SourceUnavailable, without_userinfo
from bot.health import ReportHealth
from bot.hf.source import HFSource
from bot.models import DayList, IngestResult, Paper, ScrapeRun
from bot.store import Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Prepare = Callable[[Sequence[Paper]], Awaitable[None]]
SCRAPER_HEALTH = "scraper"
SCRAPE_FAILURES_TO_REPORT = 2
SKIPPED_HEALTH = "scraper:skipped"  # HF lists items the parser cannot read, run after run

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

    def __init__(
        self,
        source: HFSource,
        store: Store,
        clock: Clock | None = None,
        *,
        prepare: Prepare | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        # Work on a fetched list that may run ahead of its write (while the date before is
        # stored): the store's search rows analysed in another process, for a long range.
        self.prepare = prepare

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
        """Scrape each date in order; one failing date never stops the others.

        The next date is fetched while this one is stored (the store works in its own
        thread), so a long range takes about the longer of the two, not their sum; requests
        still go out one date after another.
        """
        outcomes = []
        todo = list(dates)
        fetching: asyncio.Task[DayList | DateOutcome] | None = None
        try:
            for n, day in enumerate(todo):
                fetched = await (fetching or self._fetch(day))
                fetching = None
                if n + 1 < len(todo):
                    fetching = asyncio.create_task(self._fetch(todo[n + 1]))
                outcome = await self._store_and_record(day, fetched)
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        finally:
            if fetching is not None:
                fetching.cancel()
        return outcomes

    async def refresh(self, day: date) -> bool:
        """Scrape one date again (fresh upvotes before a digest); False if that failed."""
        return (await self.scrape_date(day)).ok

    async def scrape_date(self, day: date) -> DateOutcome:
        """Fetch one date and store it; any error becomes this date's outcome, never raises."""
        return await self._store_and_record(day, await self._fetch(day))

    async def _store_and_record(self, day: date, fetched: DayList | DateOutcome) -> DateOutcome:
        outcome = fetched if isinstance(fetched, DateOutcome) else await self._store(day, fetched)
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

    async def _fetch(self, day: date) -> DayList | DateOutcome:
        """The date's list, or its failed outcome."""
        try:
            listing = await self.source.fetch_day(day)
            if self.prepare is not None:
                await self.prepare(listing.papers)  # (never raises but when cancelled)
            return listing
        except (ScrapeError, SourceUnavailable) as e:
            error = without_userinfo(str(e))
            log.warning("scraping %s failed: %s", day, error)
            problem = UNREACHABLE if isinstance(e, SourceUnavailable) else UNEXPECTED_DATA
            return DateOutcome(day, error=error, problem=problem)
        except Exception as e:
            log.exception("scraping %s failed unexpectedly", day)
            return DateOutcome(day, error=_describe(e), problem=INTERNAL)

    async def _store(self, day: date, listing: DayList) -> DateOutcome:
        """Store a fetched list; a failure becomes the date's outcome."""
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


@dataclass(frozen=True, slots=True)
class ScrapeReport:
    """The last scraper run, for /status."""

    started_at: datetime
    finished_at: datetime
    outcomes: tuple[DateOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def new_ids(self) -> list[str]:
        return [i for o in self.outcomes if o.result for i in o.result.new]


ScrapeHook = Callable[[ScrapeReport], Awaitable[None]]


class ScrapeJob:
    """The scheduled scrape: a backfill on the first run, then yesterday and today.

    Two failing runs in a row are a health problem, one good run clears it. After every run
    each hook (e.g. alert matching) starts as its own task, so a long delivery never holds
    up the next scrape.
    """

    def __init__(
        self, scraper: Scraper, *, backfill_days: int, report_health: ReportHealth
    ) -> None:
        self.scraper = scraper
        self.backfill_days = backfill_days
        self.report_health = report_health
        self.last: ScrapeReport | None = None
        self._hooks: list[ScrapeHook] = []
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[object] | None = None
        self._backfilled = False
        self._failed_runs = 0
        self._skipping_runs = 0

    def add_hook(self, hook: ScrapeHook) -> None:
        """Call `hook` with the report after every run."""
        self._hooks.append(hook)

    def remove_hook(self, hook: ScrapeHook) -> None:
        self._hooks.remove(hook)

    async def run(self) -> None:
        """One scraper run; a run while another is going is skipped. Never raises."""
        if self._lock.locked():
            log.info("previous scrape still running; skipping this one")
            return
        async with self._lock:
            self._task = asyncio.current_task()
            try:
                report = await self._scrape_once()
            except Exception:
                log.exception("scrape run failed; the next run is still scheduled")
                return
            finally:
                self._task = None
        for hook in list(self._hooks):
            task = asyncio.create_task(self._call(hook, report))
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_tasks.discard)

    async def drain(self, seconds: float) -> None:
        """Let a run in flight finish (up to `seconds`), else cancel it: nothing is lost, the
        next start scrapes again."""
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), seconds)
        except TimeoutError:
            task.cancel()

    async def _scrape_once(self) -> ScrapeReport:
        clock = self.scraper.clock
        started = clock()
        days = self.backfill_days if not self._backfilled else 2
        outcomes = await self.scraper.scrape_dates(self.scraper.recent_dates(days))
        self._backfilled = True
        report = ScrapeReport(started, clock(), tuple(outcomes))
        self.last = report
        failed = [o.list_date.isoformat() for o in outcomes if not o.ok]
        log.info(
            "scrape done: %d dates, %d new papers%s",
            len(outcomes),
            len(report.new_ids),
            f", failed: {', '.join(failed)}" if failed else "",
        )
        self._scrape_health(report)
        return report

    def _scrape_health(self, report: ScrapeReport) -> None:
        """Two failing runs in a row make a problem; one good run clears it. The same for
        runs that skipped invalid items: one odd item is logged, a lasting one is news."""
        skipped = sum(o.skipped for o in report.outcomes)
        self._skipping_runs = self._skipping_runs + 1 if skipped else 0
        if not skipped:
            self.report_health(SKIPPED_HEALTH, None, None)
        elif self._skipping_runs >= SCRAPE_FAILURES_TO_REPORT:
            self.report_health(
                SKIPPED_HEALTH,
                f"Hugging Face lists papers the bot cannot read ({skipped} skipped in the last "
                f"run, {self._skipping_runs} runs in a row; details in the bot's log)",
                None,
            )
        if report.ok:
            self._failed_runs = 0
            self.report_health(SCRAPER_HEALTH, None, None)
            return
        self._failed_runs += 1
        if self._failed_runs >= SCRAPE_FAILURES_TO_REPORT:
            # Every server sees this: the generic problem only; the details are in the log.
            first = next(o for o in report.outcomes if not o.ok)
            self.report_health(
                SCRAPER_HEALTH,
                f"Scraping Hugging Face fails ({self._failed_runs} runs in a row): "
                f"{first.list_date}: {first.problem} (details in the bot's log)",
                None,
            )

    @staticmethod
    async def _call(hook: ScrapeHook, report: ScrapeReport) -> None:
        try:
            await hook(report)
        except Exception:
            log.exception("a hook after the scrape failed")

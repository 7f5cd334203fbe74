"""The refresh: the lists of the last days read again at a slow cadence, because a paper keeps
changing after its list day (upvotes, AI summary and keywords, code, project page).

A refresh is all or nothing: every list is fetched first (through the API only, whose items
carry every field, so a field missing from them really was removed), then stored in one
transaction. A failing refresh changes nothing and the next one tries again. After a refresh
that stored something, each hook (alert matching) starts as its own task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from bot.errors import ScrapeError, SourceUnavailable, without_userinfo
from bot.health import ReportHealth
from bot.hf.source import HFSource
from bot.models import Paper, RefreshResult
from bot.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
RefreshHook = Callable[[RefreshResult], Awaitable[None]]
REFRESH_HEALTH = "refresh"
FAILURES_TO_REPORT = 2


class RefreshJob:
    """Re-reads the last `days` lists (today included) and stores them in one go."""

    def __init__(
        self,
        source: HFSource,
        store: Store,
        *,
        days: int,
        clock: Clock | None = None,
        report_health: ReportHealth | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.days = days
        self.clock = clock or (lambda: datetime.now(UTC))
        self.report_health = report_health
        self.last: RefreshResult | None = None
        self._hooks: list[RefreshHook] = []
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._failures = 0

    def add_hook(self, hook: RefreshHook) -> None:
        """Call `hook` with the result after every refresh that stored its lists."""
        self._hooks.append(hook)

    def remove_hook(self, hook: RefreshHook) -> None:
        self._hooks.remove(hook)

    def dates(self) -> list[date]:
        """The dates one refresh reads, oldest first."""
        today = self.clock().astimezone(UTC).date()
        return [today - timedelta(days=n) for n in range(self.days - 1, -1, -1)]

    async def run(self) -> RefreshResult | None:
        """One refresh; skipped while another runs. None when it failed. Never raises."""
        if self._lock.locked():
            log.info("previous refresh still running; skipping this one")
            return None
        async with self._lock:
            try:
                result = await self._refresh_once()
            except (ScrapeError, SourceUnavailable) as e:
                self._failed(without_userinfo(str(e)))
                return None
            except Exception:
                log.exception("refresh failed unexpectedly; nothing was changed")
                self._failed("an internal error")
                return None
        self._failures = 0
        if self.report_health is not None:
            self.report_health(REFRESH_HEALTH, None, None)
        self.last = result
        for hook in list(self._hooks):
            task = asyncio.create_task(self._call(hook, result))
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_tasks.discard)
        return result

    async def _refresh_once(self) -> RefreshResult:
        at = self.clock()
        lists: list[tuple[date, Sequence[Paper]]] = []
        for day in self.dates():
            listing = await self.source.fetch_day_api(day)
            lists.append((day, listing.papers))
        result = await self.store.refresh_lists(lists, at=at)
        log.info(
            "refresh done: %d lists, %d papers, %d changed, %d to match again, %d new",
            len(lists),
            result.papers,
            result.changed,
            result.rematch,
            len(result.new),
        )
        return result

    def _failed(self, error: str) -> None:
        self._failures += 1
        log.warning("refresh failed (%s); nothing changed, the next one tries again", error)
        if self.report_health is not None and self._failures >= FAILURES_TO_REPORT:
            self.report_health(
                REFRESH_HEALTH,
                f"Refreshing recent papers fails ({self._failures} runs in a row); "
                "details in the bot's log",
                None,
            )

    async def drain(self, seconds: float) -> None:
        """Wait (up to `seconds`) for a refresh in flight: its transaction is all or nothing,
        so one cut short loses nothing."""
        try:
            await asyncio.wait_for(self._lock.acquire(), seconds)
        except TimeoutError:
            return
        self._lock.release()

    @staticmethod
    async def _call(hook: RefreshHook, result: RefreshResult) -> None:
        try:
            await hook(result)
        except Exception:
            log.exception("a hook after the refresh failed")

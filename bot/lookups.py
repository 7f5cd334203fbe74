"""Papers people look up by id (/paper): fetched within a budget everyone shares."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.errors import UserError
from bot.hf.source import HFSource
from bot.models import Listing
from bot.ratelimit import TokenBucket
from bot.store.base import PaperStore

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
FORGET_UNKNOWN_AFTER = timedelta(minutes=10)


class TooManyLookups(UserError):
    """The bot-wide lookup budget is spent for now."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Too many paper lookups right now: try again in {math.ceil(retry_after)} s."
        )


class PaperLookups:
    """A paper by id for people: from the store, or else fetched from Hugging Face and stored.

    Fetching stays within one token bucket shared by every member (the scraper needs HF's
    request quota more than a lookup does). A fetch is tried once (no retries), the same id
    asked for by several people at once is looked up once, and ids HF does not know are
    remembered for a while, so asking again costs no request.
    """

    def __init__(
        self,
        source: HFSource,
        store: PaperStore,
        *,
        per_minute: float,
        burst: int,
        clock: Clock,
        forget_unknown_after: timedelta = FORGET_UNKNOWN_AFTER,
    ) -> None:
        self._source = source
        self._store = store
        self._clock = clock
        self._bucket = TokenBucket(per_minute, burst, clock=lambda: clock().timestamp())
        self._forget_after = forget_unknown_after
        self._unknown: dict[str, datetime] = {}  # id -> when to ask HF about it again
        self._pending: dict[str, asyncio.Task[Listing | None]] = {}

    def known_unknown(self, paper_id: str) -> bool:
        """Whether HF said lately that it does not know this id."""
        now = self._clock()
        self._unknown = {k: until for k, until in self._unknown.items() if until > now}
        return paper_id in self._unknown

    async def get(self, paper_id: str) -> Listing | None:
        """The paper, or None if HF does not know it; TooManyLookups when over budget.

        SourceUnavailable and ScrapeError pass through, as from HFSource.fetch_paper.
        """
        # Registered before any await: whoever asks next either joins this lookup or comes
        # after it, when the paper is already stored.
        task = self._pending.get(paper_id)
        if task is None:
            task = asyncio.ensure_future(self._get(paper_id))
            self._pending[paper_id] = task
            task.add_done_callback(lambda _: self._pending.pop(paper_id, None))
        # Shielded: one person giving up must not cancel the lookup others wait for too.
        return await asyncio.shield(task)

    async def _get(self, paper_id: str) -> Listing | None:
        listing = await self._store.get_paper(paper_id)
        if listing is not None or self.known_unknown(paper_id):
            return listing
        wait = self._bucket.take()
        if wait > 0:
            raise TooManyLookups(wait)
        paper = await self._source.fetch_paper(paper_id, retry=False)
        if paper is None:
            self._unknown[paper_id] = self._clock() + self._forget_after
            return None
        await self._store.upsert_paper(paper)
        log.info("stored paper %s fetched from Hugging Face for a lookup", paper.id)
        stored = await self._store.get_paper(paper.id)
        return stored or Listing(paper, None, 0)

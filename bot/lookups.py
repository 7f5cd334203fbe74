"""Papers people look up by id (/paper): fetched within a budget everyone shares."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.errors import UserError
from bot.hf.source import HFSource
from bot.models import Paper
from bot.ratelimit import TokenBucket

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
    """Fetches single papers from Hugging Face for people, never more than the budget allows.

    Every member shares one token bucket (the scraper needs HF's request quota more than a
    lookup does), a lookup is tried once (no retries), the same id asked for twice at once is
    fetched once, and ids HF does not know are remembered for a while, so asking again
    costs no request.
    """

    def __init__(
        self,
        source: HFSource,
        *,
        per_minute: float,
        burst: int,
        clock: Clock,
        forget_unknown_after: timedelta = FORGET_UNKNOWN_AFTER,
    ) -> None:
        self._source = source
        self._clock = clock
        self._bucket = TokenBucket(per_minute, burst, clock=lambda: clock().timestamp())
        self._forget_after = forget_unknown_after
        self._unknown: dict[str, datetime] = {}  # id -> when to ask HF about it again
        self._pending: dict[str, asyncio.Task[Paper | None]] = {}

    def known_unknown(self, paper_id: str) -> bool:
        """Whether HF said lately that it does not know this id."""
        now = self._clock()
        self._unknown = {k: until for k, until in self._unknown.items() if until > now}
        return paper_id in self._unknown

    async def fetch(self, paper_id: str) -> Paper | None:
        """The paper, or None if HF does not know it; TooManyLookups when over budget.

        SourceUnavailable and ScrapeError pass through, as from HFSource.fetch_paper.
        """
        if self.known_unknown(paper_id):
            return None
        task = self._pending.get(paper_id)
        if task is None:
            wait = self._bucket.take()
            if wait > 0:
                raise TooManyLookups(wait)
            task = asyncio.ensure_future(self._fetch(paper_id))
            self._pending[paper_id] = task
            task.add_done_callback(lambda _: self._pending.pop(paper_id, None))
        # Shielded: one person giving up must not cancel the fetch others wait for too.
        return await asyncio.shield(task)

    async def _fetch(self, paper_id: str) -> Paper | None:
        paper = await self._source.fetch_paper(paper_id, retry=False)
        if paper is None:
            self._unknown[paper_id] = self._clock() + self._forget_after
        return paper

"""Fetching from Hugging Face: one shared aiohttp session, polite retries, API then HTML."""

from __future__ import annotations

import asyncio
import codecs
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date

import aiohttp

from bot.arxiv import is_valid_id, normalise_id
from bot.config import HuggingFaceConfig
from bot.errors import ScrapeError, SourceUnavailable, without_userinfo
from bot.hf.parse import parse_api_list, parse_api_paper, parse_list_html, served_date_from_url
from bot.models import DayList, Paper

log = logging.getLogger(__name__)

PAGE_LIMIT = 100
MAX_PAGES = 20  # 2,000 papers in a day is far beyond anything HF has listed
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_WAIT = 300.0  # never sleep longer than one rate-limit window
# A daily list is ~1 MB; anything far larger is not a list we want to hold in memory.
MAX_BODY_BYTES = 20 * 1024 * 1024
_LIMIT = f"{MAX_BODY_BYTES // 2**20} MB"
_READ_CHUNK = 256 * 1024
_RATELIMIT_RESET = re.compile(r"\br\s*=\s*(\d+)\s*;\s*t\s*=\s*(\d+)")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    text: str
    url: str


class HFSource:
    """Reads Daily Papers from Hugging Face: the JSON API first, the HTML page as fallback."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: HuggingFaceConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._session = session
        self._config = config
        self._base = config.base_url.rstrip("/")
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        self._headers = {"User-Agent": config.user_agent}

    async def fetch_day(self, day: date) -> DayList:
        """The list for one date; papers HF served for another date are never returned."""
        try:
            return await self._fetch_day_api(day)
        except (SourceUnavailable, ScrapeError) as api_error:
            log.warning("daily_papers API failed for %s (%s); trying the HTML page", day, api_error)
            try:
                return await self._fetch_day_html(day)
            except (SourceUnavailable, ScrapeError) as html_error:
                raise type(html_error)(f"API: {api_error}; HTML: {html_error}") from html_error

    async def fetch_day_api(self, day: date) -> DayList:
        """The list for one date through the API only, one request per page: its items carry
        every field, so a refresh may take a missing field as removed."""
        return await self._fetch_day_api(day)

    async def fetch_paper(self, paper_id: str, *, retry: bool = True) -> Paper | None:
        """One paper by arXiv id, or None if HF does not know it. Never probes non-ids.

        `retry=False` makes one attempt only: a person waiting on a lookup is better told
        "try again later" than kept waiting while retries spend the scraper's request quota.
        """
        normalised = normalise_id(paper_id)
        if normalised is None or not is_valid_id(normalised):
            raise ValueError(f"not an arXiv id: {paper_id!r}")
        response = await self._get(
            f"{self._base}/api/papers/{normalised}", ok_statuses={404}, retry=retry
        )
        if response.status == 404:
            return None
        return parse_api_paper(response.text)

    async def _fetch_day_api(self, day: date) -> DayList:
        papers: dict[str, Paper] = {}
        skipped = other_day = 0
        served: set[date] = set()
        for page in range(MAX_PAGES):
            params = {"date": day.isoformat(), "limit": str(PAGE_LIMIT), "p": str(page)}
            response = await self._get(f"{self._base}/api/daily_papers", params=params)
            batch = parse_api_list(response.text, day)
            for paper in batch.papers:
                papers.setdefault(paper.id, paper)
            skipped += batch.skipped
            other_day += batch.other_day
            served.add(batch.served or day)
            if len(batch.papers) + batch.skipped + batch.other_day < PAGE_LIMIT:
                break
        # Only another day's papers (HF ignoring `date`): say which day it served instead.
        others = served - {day}
        if not papers and others:
            other = min(others)
            log.info("the API served %s when asked for %s: no list for %s", other, day, day)
            return DayList(day, other, (), skipped, other_day)
        return DayList(day, day, tuple(papers.values()), skipped, other_day)

    async def _fetch_day_html(self, day: date) -> DayList:
        response = await self._get(f"{self._base}/papers/date/{day.isoformat()}")
        parsed = parse_list_html(response.text, day)
        # A redirect (final URL) or the page's own date may both reveal another day.
        others = {served_date_from_url(response.url), parsed.served} - {None, day}
        served = others.pop() if others else day
        if served != day:
            log.info("HF served %s when asked for %s: no list for %s", served, day, day)
            return DayList(day, served, ())
        if not parsed.papers and day.weekday() < 5 and response.text.strip():
            raise ScrapeError(f"the page for {day} parsed to zero papers: the page layout changed")
        return DayList(day, day, parsed.papers, parsed.skipped)

    async def _get(
        self,
        url: str,
        params: dict[str, str] | None = None,
        ok_statuses: frozenset[int] | set[int] = frozenset(),
        retry: bool = True,
    ) -> Response:
        """GET with bounded retries on 408/429/5xx and connection errors (unless not `retry`)."""
        attempts = self._config.max_retries + 1 if retry else 1
        last_error = ""
        for attempt in range(attempts):
            wait: float | None = None
            try:
                async with self._session.get(
                    url, params=params, headers=self._headers, timeout=self._timeout
                ) as resp:
                    if 200 <= resp.status < 300 or resp.status in ok_statuses:
                        text = await _read_capped(resp)
                        return Response(resp.status, text, str(resp.url))
                    last_error = f"HTTP {resp.status} from {resp.url.path}"
                    if resp.status not in RETRY_STATUSES:
                        raise SourceUnavailable(last_error)
                    wait = retry_delay(resp.headers)
            except (aiohttp.ClientError, TimeoutError) as e:
                last_error = without_userinfo(f"{type(e).__name__} for {url}: {e}".rstrip(": "))
            if attempt + 1 < attempts:
                delay = wait if wait is not None else self._backoff(attempt)
                log.info("retrying %s in %.1fs (%s)", without_userinfo(url), delay, last_error)
                await self._sleep(delay)
        raise SourceUnavailable(f"{last_error} (after {attempts} attempts)")

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff (1, 2, 4, 8 s) with full jitter on top."""
        base = min(8.0, 2.0**attempt)
        return base + self._rng.uniform(0, base / 2)


async def _read_capped(resp: aiohttp.ClientResponse) -> str:
    """The body as text, refused (ScrapeError) as soon as it is known to pass MAX_BODY_BYTES."""
    where = resp.url.path
    if resp.content_length is not None and resp.content_length > MAX_BODY_BYTES:
        raise ScrapeError(f"{where} announced {resp.content_length:,} bytes, over {_LIMIT}")
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_READ_CHUNK):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            # Leaving the `async with` unread closes the connection: the rest is never read.
            raise ScrapeError(f"{where} sent more than {_LIMIT}; refused")
    return body.decode(_charset(resp), errors="replace")


def _charset(resp: aiohttp.ClientResponse) -> str:
    """The declared charset if Python knows it, else UTF-8 (what HF serves)."""
    try:
        return codecs.lookup(resp.charset or "utf-8").name
    except LookupError:
        return "utf-8"


def retry_delay(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `RateLimit: "api";r=0;t=N` (N+1) or an integer Retry-After."""
    get = headers.get
    ratelimit = get("RateLimit") or ""
    m = _RATELIMIT_RESET.search(str(ratelimit))
    if m and int(m.group(1)) == 0:
        return min(MAX_WAIT, float(m.group(2)) + 1)
    retry_after = str(get("Retry-After") or "").strip()
    if retry_after.isdigit():
        return min(MAX_WAIT, float(retry_after))
    return None

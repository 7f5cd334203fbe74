"""The Hugging Face source, through real HTTP against the fake Hugging Face server."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date

import aiohttp
import pytest

from bot.config import HuggingFaceConfig
from bot.errors import ScrapeError, SourceUnavailable
from bot.hf.source import HFSource
from bot.scraper import Scraper
from bot.store import SQLiteStore
from tests.conftest import seed_items
from tests.fakes.fake_hf import FakeHF

SEED_DAY = "2025-01-07"
DAY = date.fromisoformat(SEED_DAY)


@dataclass
class Sleeps:
    """Records backoff waits instead of waiting."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF(copy.deepcopy(seed_items())) as fake:
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def source(hf: FakeHF, sleeps: Sleeps) -> AsyncIterator[HFSource]:
    config = HuggingFaceConfig(base_url=hf.base_url, timeout_seconds=0.5, max_retries=3)
    async with aiohttp.ClientSession() as session:
        yield HFSource(session, config, sleep=sleeps)


async def test_api_day_with_an_honest_user_agent(hf: FakeHF, source: HFSource) -> None:
    day = await source.fetch_day(DAY)
    assert len(day.papers) == len(seed_items()[SEED_DAY]) and day.served == DAY
    assert day.papers[0].title == "Asymptotics of Language Model Alignment"
    (request,) = hf.requests
    assert request.path == "/api/daily_papers"
    assert request.query == {"date": SEED_DAY, "limit": "100", "p": "0"}
    assert request.headers["User-Agent"].startswith("paperboy/")


async def test_pages_while_a_full_page_returns(hf: FakeHF, source: HFSource) -> None:
    items = []
    for n in range(230):
        item = copy.deepcopy(seed_items()[SEED_DAY][n % 20])
        item["paper"]["id"] = f"2501.{n:05d}"
        items.append(item)
    hf.set_day("2025-01-06", items)
    day = await source.fetch_day(date(2025, 1, 6))
    assert len(day.papers) == 230
    assert [r.query["p"] for r in hf.requests] == ["0", "1", "2"]


async def test_429_waits_as_the_ratelimit_header_says(
    hf: FakeHF, source: HFSource, sleeps: Sleeps
) -> None:
    hf.inject_rate_limit("/api/daily_papers", reset=7, retry_after=False)
    assert len((await source.fetch_day(DAY)).papers) == 26
    assert sleeps.waits == [8.0]  # t + 1, as huggingface_hub does


async def test_429_with_only_retry_after(hf: FakeHF, source: HFSource, sleeps: Sleeps) -> None:
    hf.inject("/api/daily_papers", 429, headers={"Retry-After": "3"}, count=2)
    assert (await source.fetch_day(DAY)).papers
    assert sleeps.waits == [3.0, 3.0]


async def test_5xx_and_timeouts_back_off_then_succeed(
    hf: FakeHF, source: HFSource, sleeps: Sleeps
) -> None:
    hf.inject("/api/daily_papers", 503)
    hf.inject_delay("/api/daily_papers", 2.0)
    assert (await source.fetch_day(DAY)).papers
    assert len(sleeps.waits) == 2
    assert 1 <= sleeps.waits[0] <= 1.5 and 2 <= sleeps.waits[1] <= 3  # exponential, jittered


async def test_api_down_falls_back_to_the_html_page(hf: FakeHF, source: HFSource) -> None:
    hf.inject("/api/daily_papers", 500, count=10)
    day = await source.fetch_day(DAY)
    assert len(day.papers) == 26 and day.served == DAY
    assert len(hf.requests_to("/api/daily_papers")) == 4  # bounded: 1 + max_retries
    assert len(hf.requests_to("/papers/date/")) == 1


@pytest.mark.parametrize("variant", ["wrong_shape", "missing_keys"])
async def test_api_of_the_wrong_shape_falls_back_to_html(
    hf: FakeHF, source: HFSource, variant: str
) -> None:
    hf.api_variant = variant  # type: ignore[assignment]
    day = await source.fetch_day(DAY)
    assert len(day.papers) == 26
    assert hf.requests_to("/papers/date/")


async def test_html_cards_are_the_last_resort(hf: FakeHF, source: HFSource) -> None:
    hf.api_variant = "wrong_shape"
    hf.html_variant = "cards_only"
    day = await source.fetch_day(DAY)
    assert len(day.papers) == 26 and all(p.title for p in day.papers)


async def test_a_changed_layout_is_a_scrape_error(hf: FakeHF, source: HFSource) -> None:
    hf.api_variant = "wrong_shape"
    hf.html_variant = "changed"
    with pytest.raises(ScrapeError, match="layout changed"):
        await source.fetch_day(DAY)


async def test_papers_of_another_date_are_not_filed_under_the_requested_one(
    hf: FakeHF, source: HFSource
) -> None:
    hf.api_variant = "wrong_shape"
    hf.redirect_html(SEED_DAY, "2025-03-11")
    day = await source.fetch_day(DAY)
    assert day.papers == () and day.served == date(2025, 3, 11)
    hf.served_date_override["2025-08-05"] = "2025-08-04"
    day = await source.fetch_day(date(2025, 8, 5))
    assert day.papers == () and day.served == date(2025, 8, 4)


async def test_everything_down_is_source_unavailable(hf: FakeHF, source: HFSource) -> None:
    hf.inject("/", 502, count=100)
    with pytest.raises(SourceUnavailable, match="502"):
        await source.fetch_day(DAY)
    assert len(hf.requests) == 8


async def test_single_paper(hf: FakeHF, source: HFSource) -> None:
    first_id = seed_items()[SEED_DAY][0]["paper"]["id"]
    paper = await source.fetch_paper(f"{first_id}v3")
    assert paper is not None and paper.id == first_id
    assert await source.fetch_paper("2501.99999") is None
    before = len(hf.requests)
    with pytest.raises(ValueError):
        await source.fetch_paper("grokking")
    assert len(hf.requests) == before  # never probes a non-id


async def test_one_failing_date_never_aborts_the_others(
    hf: FakeHF, source: HFSource, store: SQLiteStore
) -> None:
    hf.inject("/api/daily_papers", 500, count=4)  # every attempt for the first date
    hf.inject("/papers/date/2025-03-11", 500, count=4)
    scraper = Scraper(source, store)
    outcomes = await scraper.scrape_dates([date(2025, 3, 11), DAY])
    assert [o.ok for o in outcomes] == [False, True]
    assert outcomes[1].result is not None and len(outcomes[1].result.new) == 26
    stats = await store.stats()
    assert stats.last_scrape is not None and stats.last_scrape.ok
    assert stats.last_success is not None and stats.last_success.list_date == DAY

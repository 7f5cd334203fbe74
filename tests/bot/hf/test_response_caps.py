"""F16: Hugging Face responses have a size limit, and every parsed field a length limit."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import parse_config
from bot.errors import ScrapeError
from bot.hf.parse import (
    MAX_ABSTRACT,
    MAX_AUTHORS,
    MAX_KEYWORD,
    MAX_KEYWORDS,
    MAX_NAME,
    MAX_SUMMARY,
    MAX_TITLE,
    MAX_URL,
    parse_item,
    parse_list_html,
)
from bot.hf.source import MAX_BODY_BYTES, HFSource
from bot.models import thumbnail_url
from bot.scraper import UNEXPECTED_DATA, Scraper
from bot.store import SQLiteStore
from tests.conftest import seed_items
from tests.fakes.fake_hf import FakeHF, render_list_page

JAN6, JAN7 = date(2025, 1, 6), date(2025, 1, 7)
HUGE = 64 * 1024 * 1024  # over three times the limit


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF(copy.deepcopy(seed_items())) as fake:
        yield fake


@pytest.fixture
async def source(hf: FakeHF) -> AsyncIterator[HFSource]:
    config = parse_config(
        {"huggingface": {"base_url": hf.base_url, "max_retries": 0, "timeout_seconds": 30}}
    )
    async with aiohttp.ClientSession() as session:
        yield HFSource(session, config.huggingface)


async def test_a_chunked_body_over_the_limit_is_refused_without_reading_it_all(
    hf: FakeHF, source: HFSource
) -> None:
    hf.inject_large_body("/api/daily_papers", HUGE)
    hf.inject_large_body("/papers/date/", HUGE)  # the fallback page too
    with pytest.raises(ScrapeError, match="more than 20 MB"):
        await source.fetch_day(JAN7)
    # Each body was cut off near the limit (plus what socket buffers took), not read to its end.
    for sent in await hf.wait_for_streams(2):
        assert MAX_BODY_BYTES < sent < HUGE * 3 // 4


async def test_an_announced_body_over_the_limit_is_refused_before_reading(
    hf: FakeHF, source: HFSource
) -> None:
    hf.inject_large_body("/api/daily_papers", HUGE, content_length=True)
    hf.inject_large_body("/papers/date/", HUGE, content_length=True)
    with pytest.raises(ScrapeError, match="announced 67,108,864 bytes"):
        await source.fetch_day(JAN7)
    for sent in await hf.wait_for_streams(2):
        assert sent < MAX_BODY_BYTES


async def test_a_body_just_under_the_limit_is_read(hf: FakeHF, source: HFSource) -> None:
    # A real list padded with white space to just under the limit parses as before.
    page = render_list_page(JAN7.isoformat(), hf.days[JAN7.isoformat()])
    padded = page.replace("</html>", " " * (MAX_BODY_BYTES - len(page.encode()) - 10) + "</html>")
    hf.inject("/api/daily_papers", 500)
    hf.inject("/papers/date/", 200, headers={"Content-Type": "text/html"}, body=padded)
    day = await source.fetch_day(JAN7)
    assert len(day.papers) == len(hf.days[JAN7.isoformat()])


async def test_an_oversized_day_fails_alone_and_the_next_date_is_stored(
    hf: FakeHF, source: HFSource, tmp_path: Path
) -> None:
    hf.set_day(JAN6.isoformat(), copy.deepcopy(seed_items()["2025-11-28"]))
    hf.inject_large_body("/api/daily_papers", HUGE)  # Jan 6, the first date asked
    hf.inject_large_body("/papers/date/", HUGE)
    async with SQLiteStore(tmp_path / "paperboy.db") as store:
        outcomes = await Scraper(source, store).scrape_dates([JAN6, JAN7])
        assert [o.ok for o in outcomes] == [False, True]
        assert outcomes[0].problem == UNEXPECTED_DATA and "20 MB" in (outcomes[0].error or "")
        assert len(await store.day_listing(JAN7)) == len(hf.days[JAN7.isoformat()])
        assert await store.day_listing(JAN6) == []


# ------------------------------------------------------------------------- clipping fields


def item(**paper: Any) -> dict[str, Any]:
    return {"paper": {"id": "2501.00001", "title": "A title", **paper}}


def test_title_and_abstract_are_clipped() -> None:
    paper = parse_item(item(title="word " * 1_000, summary="x" * 100_000))
    assert len(paper.title) == MAX_TITLE and paper.title.endswith("…")
    assert paper.title.startswith("word word")
    assert len(paper.abstract) == MAX_ABSTRACT and paper.abstract.endswith("…")


def test_at_most_500_authors_each_of_a_sane_length() -> None:
    authors = [{"name": f"Author {i}"} for i in range(5_000)] + [{"name": "y" * 10_000}]
    paper = parse_item(item(authors=[{"name": "z" * 10_000}, *authors]))
    assert len(paper.authors) == MAX_AUTHORS
    assert len(paper.authors[0]) == MAX_NAME and paper.authors[1] == "Author 0"


def test_ai_summary_and_keywords_are_clipped() -> None:
    paper = parse_item(item(ai_summary="s" * 50_000, ai_keywords=["k" * 1_000] * 1_000))
    assert paper.ai_summary is not None and len(paper.ai_summary) == MAX_SUMMARY
    assert len(paper.ai_keywords) == MAX_KEYWORDS
    assert all(len(k) == MAX_KEYWORD for k in paper.ai_keywords)


def test_overlong_urls_are_dropped_not_cut_into_broken_links() -> None:
    long_url = "https://example.org/" + "a" * 5_000
    raw = item(githubRepo=long_url, projectPage=long_url)
    raw["thumbnail"] = long_url
    paper = parse_item(raw)
    assert paper.github_repo is None and paper.project_page is None
    assert paper.thumbnail == thumbnail_url(paper.id)  # HF's own, not the overlong one
    fine = "https://example.org/" + "a" * (MAX_URL - 20)
    assert parse_item(item(githubRepo=fine)).github_repo == fine


def test_organization_names_are_clipped() -> None:
    raw = item()
    raw["organization"] = {"fullname": "o" * (MAX_NAME * 2)}
    organization = parse_item(raw).organization
    assert organization is not None and len(organization) == MAX_NAME


def test_card_titles_are_clipped() -> None:
    raw = copy.deepcopy(seed_items()["2025-01-07"][:1])
    raw[0]["paper"]["title"] = "long " * 2_000
    page = render_list_page("2025-01-07", raw, hydrater=False)
    (paper,) = parse_list_html(page, JAN7).papers
    assert len(paper.title) == MAX_TITLE

"""Hugging Face's real response shapes (reproduced in tests/data/hf_shapes with made-up data):
list days, the 2024 page's date, thumbnails, submitters, media and LaTeX."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from selectolax.lexbor import LexborHTMLParser

from bot.config import HuggingFaceConfig
from bot.hf.parse import parse_api_list, parse_api_paper, parse_cards_counted, parse_list_html
from bot.hf.source import HFSource
from bot.models import thumbnail_url
from bot.scraper import Scraper
from bot.store import SQLiteStore
from tests.fakes.fake_hf import FakeHF

SHAPES = Path(__file__).resolve().parents[2] / "data" / "hf_shapes"
JUL13, JUL10 = date(2026, 7, 13), date(2026, 7, 10)
AUG1 = date(2024, 8, 1)


def text(name: str) -> str:
    return (SHAPES / name).read_text(encoding="utf-8")


def two_days() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(text("api_list_two_days.synthetic.json"))
    return items


def ids_of(items: list[dict[str, Any]], day: date) -> list[str]:
    return [
        i["paper"]["id"] for i in items if i["paper"]["submittedOnDailyAt"][:10] == day.isoformat()
    ]


# -- list days ------------------------------------------------------------------------------


def test_a_list_spanning_two_days_files_each_paper_under_its_own_day() -> None:
    items = two_days()
    on13 = parse_api_list(text("api_list_two_days.synthetic.json"), JUL13)
    assert [p.id for p in on13.papers] == ids_of(items, JUL13) and len(on13.papers) == 14
    assert on13.other_day == 11 and on13.served == JUL13
    on10 = parse_api_list(text("api_list_two_days.synthetic.json"), JUL10)
    assert [p.id for p in on10.papers] == ids_of(items, JUL10) and len(on10.papers) == 11


def test_a_list_of_only_another_day_serves_that_day() -> None:
    day = parse_api_list(text("api_list_two_days.synthetic.json"), date(2026, 7, 14))
    assert day.papers == () and day.served == JUL13 and day.other_day == 25


def test_the_items_own_published_at_is_the_arxiv_time_not_the_list_day() -> None:
    item = two_days()[0]
    del item["paper"]["submittedOnDailyAt"]  # what is left says nothing of the list day
    day = parse_api_list(json.dumps([item]), JUL13)
    assert [p.submitted_at for p in day.papers] == [None]


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF({}) as fake:
        yield fake


@pytest.fixture
async def source(hf: FakeHF) -> AsyncIterator[HFSource]:
    config = HuggingFaceConfig(base_url=hf.base_url, timeout_seconds=0.5, max_retries=0)
    async with aiohttp.ClientSession() as session:
        yield HFSource(session, config)


async def test_the_scraper_never_files_a_paper_under_another_day(
    hf: FakeHF, source: HFSource, tmp_path: Path
) -> None:
    items = two_days()
    hf.set_day(JUL13.isoformat(), items, keep_dates=True)  # HF answering with both days
    hf.set_day(date(2026, 7, 14).isoformat(), items[14:], keep_dates=True)  # only another day
    async with SQLiteStore(tmp_path / "s.db") as store:
        scraper = Scraper(source, store)
        await scraper.scrape_date(JUL13)
        outcome = await scraper.scrape_date(date(2026, 7, 14))
        stored = [listing.paper.id for listing in await store.day_listing(JUL13)]
        assert stored == ids_of(items, JUL13)
        assert await store.day_listing(date(2026, 7, 14)) == []
        assert outcome.served == JUL10


async def test_a_full_page_of_other_days_still_pages_on(hf: FakeHF, source: HFSource) -> None:
    base = two_days()[20]
    items = []
    for n in range(130):
        item = copy.deepcopy(base)
        item["paper"]["id"] = f"2607.{20000 + n:05d}"
        when = "2026-07-10" if n < 100 else "2026-07-13"
        item["paper"]["submittedOnDailyAt"] = f"{when}T00:00:00.000Z"
        items.append(item)
    hf.set_day(JUL13.isoformat(), items, keep_dates=True)
    day = await source.fetch_day(JUL13)
    assert len(day.papers) == 30 and day.other_day == 100 and day.served == JUL13


# -- the 2024 page ----------------------------------------------------------------------------


def test_the_2024_page_dates_itself_by_props_date() -> None:
    page = parse_list_html(text("daily_page_2024.synthetic.html"), AUG1)
    assert page.served == AUG1 and len(page.papers) == 4


def test_a_2024_page_of_another_day_is_not_filed_under_the_requested_one() -> None:
    page = parse_list_html(text("daily_page_2024.synthetic.html"), date(2024, 8, 2))
    assert page.served == AUG1 and page.papers == ()


async def test_a_2024_page_served_for_another_day_stores_nothing(
    hf: FakeHF, source: HFSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hf.api_variant = "wrong_shape"  # the API fails: the page is the fallback
    hf.set_day("2024-08-02", [{"paper": {"id": "2408.00001", "title": "x"}}])
    monkeypatch.setattr(
        "tests.fakes.fake_hf.render_list_page",
        lambda day, items, hydrater=True: text("daily_page_2024.synthetic.html"),
    )
    day = await source.fetch_day(date(2024, 8, 2))
    assert day.papers == () and day.served == AUG1


def test_cards_alone_date_the_page_by_its_time_element() -> None:
    page = text("daily_page_2024.synthetic.html")
    tree = LexborHTMLParser(page)
    hydrater = tree.css_first('div[data-target="DailyPapers"]')
    assert hydrater is not None
    hydrater.attrs["data-props"] = ""  # a page without hydration data: cards only
    parsed = parse_list_html(tree.html or "", date(2024, 8, 2))
    assert parsed.served == AUG1 and parsed.papers == ()


# -- thumbnails, submitters, media ------------------------------------------------------------


def cards() -> LexborHTMLParser:
    return LexborHTMLParser(text("daily_page_2024.synthetic.html"))


def test_a_card_with_a_teaser_video_gets_hfs_thumbnail_not_the_submitters_avatar() -> None:
    papers, skipped = parse_cards_counted(cards())
    assert skipped == 0 and len(papers) == 4
    video = papers[2]
    assert video.thumbnail == thumbnail_url(video.id)
    assert all(p.thumbnail == thumbnail_url(p.id) for p in papers)


def test_a_cards_submitter_is_read_from_submitted_by() -> None:
    papers, _ = parse_cards_counted(cards())
    assert [p.submitter for p in papers] == [f"person{n}" for n in range(4)]


def test_a_card_without_id_or_title_is_skipped_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = text("daily_page_2024.synthetic.html").replace(">Old Paper 1</a>", "></a>", 1)
    page = page.replace('data-target="DailyPapers"', 'data-target="Other"')
    parsed = parse_list_html(page, AUG1)
    assert len(parsed.papers) == 3 and parsed.skipped == 1
    assert "<article> card 1 has no paper id or title" in caplog.text


def test_a_paper_fetched_by_id_gets_hfs_thumbnail_submitter_org_and_media() -> None:
    paper = parse_api_paper(text("api_paper_detail.synthetic.json"))
    assert paper.thumbnail == thumbnail_url(paper.id)
    assert paper.submitter == "person40" and paper.organization == "Example Lab 40"
    assert paper.media_urls == ("https://cdn-uploads.huggingface.co/production/uploads/40/a.jpeg",)


def test_list_items_give_the_submitters_username_and_the_organisation() -> None:
    day = parse_api_list(text("api_list_two_days.synthetic.json"), JUL13)
    assert [p.submitter for p in day.papers[:2]] == ["person0", "person1"]
    assert [p.organization for p in day.papers[:2]] == [None, "Example Lab 1"]
    assert day.papers[5].media_urls and not day.papers[4].media_urls


def test_latex_in_abstracts_and_ai_summaries_is_stored_as_plain_text() -> None:
    paper = parse_api_paper(text("api_paper_detail.synthetic.json"))
    assert paper.abstract == (
        "The resulting pipeline, ours, beats the frame-wise 2-step setting and recovers"
        " 58–75% of the gap, cutting latency by 50% at ×3 speed."
    )
    assert paper.ai_summary == "Looms weave 50% faster."
    assert paper.title == "Synthetic Paper 40: Looms and Engines"

"""Tests for the seed data and the fake Hugging Face server."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from selectolax.lexbor import LexborHTMLParser

from .fake_hf import FakeHF, load_seed_days

DATA = Path(__file__).resolve().parent.parent / "data"
HYDRATER = 'main > div.SVELTE_HYDRATER.contents[data-target="DailyPapers"]'
BUSY_DAY = "2025-03-11"  # 55 papers: more than one default page
SATURDAY = "2025-01-11"


@pytest.fixture
async def fake() -> AsyncIterator[FakeHF]:
    """Run a fake HF server over the seed data."""
    async with FakeHF() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Open a client session that does not follow redirects unless asked."""
    async with aiohttp.ClientSession(headers={"User-Agent": "paperboy-tests/0.1"}) as client:
        yield client


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    """GET a URL and return its status and decoded JSON body."""
    async with session.get(url) as response:
        return response.status, await response.json()


async def get_text(session: aiohttp.ClientSession, url: str) -> str:
    """GET a URL (following redirects) and return its body text."""
    async with session.get(url) as response:
        assert response.status == 200
        return await response.text()


def daily_props(page: str) -> dict[str, Any]:
    """Read the DailyPapers hydration JSON from a list page."""
    node = LexborHTMLParser(page).css_first(HYDRATER)
    assert node is not None
    props: dict[str, Any] = json.loads(node.attributes["data-props"] or "")
    return props


# ---------------------------------------------------------------- seed data


def test_seed_days_are_realistic() -> None:
    days = load_seed_days()
    items = [item for day_items in days.values() for item in day_items]
    ids = [item["paper"]["id"] for item in items]
    assert 120 <= len(items) <= 160
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, str) and re.fullmatch(r"\d{4}\.\d{4,5}", i) for i in ids)
    assert sum(i.endswith("0") for i in ids) >= 5
    assert all(date.fromisoformat(day).weekday() < 5 for day in days)
    titles = {" ".join(item["paper"]["title"].split()) for item in items}
    assert "Grokking as the Transition from Lazy to Rich Training Dynamics" in titles


def test_seed_items_have_the_api_shape() -> None:
    items = [item for day_items in load_seed_days().values() for item in day_items]
    top = {"paper", "publishedAt", "title", "summary", "thumbnail", "numComments", "submittedBy"}
    inner = {"id", "authors", "publishedAt", "submittedOnDailyAt", "title", "summary", "upvotes"}
    for item in items:
        assert top <= item.keys() and "isAuthorParticipating" in item
        assert inner | {"discussionId"} <= item["paper"].keys()
        assert item["title"] == item["paper"]["title"]
    assert any(item["paper"]["upvotes"] == 0 for item in items)
    assert any(a["hidden"] for item in items for a in item["paper"]["authors"])
    assert any("\n  " in item["title"] for item in items)
    assert any("ai_summary" not in item["paper"] for item in items)
    pehlevan = [
        i for i in items if any(a["name"] == "Cengiz Pehlevan" for a in i["paper"]["authors"])
    ]
    assert len(pehlevan) >= 2


def test_seed_script_output_is_up_to_date() -> None:
    script = DATA / "make_seed_data.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


# ---------------------------------------------------------------- API


async def test_daily_papers_pages(fake: FakeHF, session: aiohttp.ClientSession) -> None:
    url = f"{fake.base_url}/api/daily_papers?date={BUSY_DAY}"
    expected = [item["paper"]["id"] for item in fake.days[BUSY_DAY]]
    _, first = await get_json(session, url)
    _, second = await get_json(session, f"{url}&p=1")
    _, past_end = await get_json(session, f"{url}&p=2")
    _, capped = await get_json(session, f"{url}&limit=500")
    assert [i["paper"]["id"] for i in first + second] == expected
    assert len(first) == 50 and past_end == []
    assert len(capped) == len(expected)


async def test_daily_papers_bad_and_empty_dates(
    fake: FakeHF, session: aiohttp.ClientSession
) -> None:
    status, body = await get_json(session, f"{fake.base_url}/api/daily_papers?date=2025-13-40")
    assert status == 400 and "error" in body
    status, body = await get_json(session, f"{fake.base_url}/api/daily_papers?date={SATURDAY}")
    assert status == 200 and body == []


async def test_paper_detail_and_404(fake: FakeHF, session: aiohttp.ClientSession) -> None:
    item = fake.days[BUSY_DAY][0]
    status, paper = await get_json(session, f"{fake.base_url}/api/papers/{item['paper']['id']}")
    assert status == 200
    assert paper["id"] == item["paper"]["id"] and paper["linkedModels"] == []
    status, body = await get_json(session, f"{fake.base_url}/api/papers/1234.56789")
    assert status == 404 and body == {"error": "Paper not found"}


async def test_api_variants(fake: FakeHF, session: aiohttp.ClientSession) -> None:
    url = f"{fake.base_url}/api/daily_papers?date={BUSY_DAY}&limit=4"
    fake.api_variant = "wrong_shape"
    assert isinstance((await get_json(session, url))[1], dict)
    fake.api_variant = "missing_keys"
    _, items = await get_json(session, url)
    assert all("paper" not in i or "id" not in i["paper"] for i in items)


async def test_new_day_added_mid_test(fake: FakeHF, session: aiohttp.ClientSession) -> None:
    item = fake.days[BUSY_DAY][0]
    fake.set_day("2025-12-01", [item])
    _, items = await get_json(session, f"{fake.base_url}/api/daily_papers?date=2025-12-01")
    dated = {
        **item["paper"],
        "submittedOnDailyAt": "2025-12-01" + item["paper"]["submittedOnDailyAt"][10:],
    }
    assert items == [{**item, "paper": dated}]  # listed that day, as on HF
    fake.set_day("2025-12-02", [item], keep_dates=True)
    _, items = await get_json(session, f"{fake.base_url}/api/daily_papers?date=2025-12-02")
    assert items == [item]
    assert fake.latest_day() == "2025-12-02"


# ---------------------------------------------------------------- HTML


async def test_html_props_round_trip(fake: FakeHF, session: aiohttp.ClientSession) -> None:
    synthetic = json.loads((DATA / "api_daily_papers_2025-10-01.synthetic.json").read_text())
    fake.set_day("2025-10-01", synthetic)
    for day in ("2025-10-01", BUSY_DAY):
        page = await get_text(session, f"{fake.base_url}/papers/date/{day}")
        props = daily_props(page)
        assert props["dailyPapers"] == fake.days[day]
        assert props["dateString"] == day and props["periodType"] == "day"
        tree = LexborHTMLParser(page)
        assert len(tree.css("article")) == len(fake.days[day])
        link = tree.css_first("h3 > a.line-clamp-3.cursor-pointer.text-balance")
        assert link is not None
        assert link.attributes["href"] == f"/papers/{fake.days[day][0]['paper']['id']}"


async def test_html_empty_date_redirects_to_latest(
    fake: FakeHF, session: aiohttp.ClientSession
) -> None:
    url = f"{fake.base_url}/papers/date/{SATURDAY}"
    async with session.get(url, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == f"/papers/date/{fake.latest_day()}"
    async with session.get(url) as response:
        assert response.url.path == f"/papers/date/{fake.latest_day()}"


async def test_html_wrong_date_redirect_and_served_date(
    fake: FakeHF, session: aiohttp.ClientSession
) -> None:
    fake.redirect_html(BUSY_DAY, "2025-01-07")
    async with session.get(f"{fake.base_url}/papers/date/{BUSY_DAY}") as response:
        assert response.url.path == "/papers/date/2025-01-07"
    fake.served_date_override["2025-08-05"] = "2025-08-04"
    page = await get_text(session, f"{fake.base_url}/papers/date/2025-08-05")
    assert daily_props(page)["dateString"] == "2025-08-04"


async def test_html_variants(fake: FakeHF, session: aiohttp.ClientSession) -> None:
    url = f"{fake.base_url}/papers/date/{BUSY_DAY}"
    fake.html_variant = "cards_only"
    tree = LexborHTMLParser(await get_text(session, url))
    assert tree.css_first(HYDRATER) is None and len(tree.css("article")) == 55
    fake.html_variant = "changed"
    tree = LexborHTMLParser(await get_text(session, url))
    assert tree.css_first("[data-target=DailyPapers]") is None and not tree.css("article")
    assert tree.css("a[href^='/papers/']")


# ---------------------------------------------------------------- faults and records


async def test_injected_429_then_service_resumes(
    fake: FakeHF, session: aiohttp.ClientSession
) -> None:
    headers = {"RateLimit": '"api";r=0;t=1', "Retry-After": "1"}
    fake.inject("/api/daily_papers", 429, headers=headers)
    url = f"{fake.base_url}/api/daily_papers?date={BUSY_DAY}"
    async with session.get(url) as response:
        assert response.status == 429
        assert response.headers["RateLimit"] == '"api";r=0;t=1'
        assert response.headers["Retry-After"] == "1"
    status, items = await get_json(session, url)
    assert status == 200 and len(items) == 50


async def test_injected_delay_trips_client_timeout(
    fake: FakeHF, session: aiohttp.ClientSession
) -> None:
    fake.inject_delay("/api/", 5)
    timeout = aiohttp.ClientTimeout(total=0.2)
    url = f"{fake.base_url}/api/daily_papers?date={BUSY_DAY}"
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(url, timeout=timeout):
            pass
    status, _ = await get_json(session, url)
    assert status == 200


async def test_requests_are_recorded(fake: FakeHF, session: aiohttp.ClientSession) -> None:
    await get_json(session, f"{fake.base_url}/api/daily_papers?date={BUSY_DAY}&limit=100")
    [request] = fake.requests
    assert request.method == "GET" and request.path == "/api/daily_papers"
    assert request.query == {"date": BUSY_DAY, "limit": "100"}
    assert request.headers["user-agent"] == "paperboy-tests/0.1"

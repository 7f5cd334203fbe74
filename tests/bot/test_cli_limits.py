"""Every --limit `paperboy search` accepts works; the others are refused as usage errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.models import Paper
from bot.query import parse_query
from bot.store import SQLiteStore
from bot.store.sqlite import RANK_WINDOW
from tests.support.process import paperboy

MATCHING = 1_200  # more hits than SQLite allows terms in one compound SELECT (500)
FIRST_DAY = date(2025, 1, 6)


def widget_papers() -> dict[date, list[Paper]]:
    """Twelve daily lists of a hundred papers, each about widgets."""
    days: dict[date, list[Paper]] = {}
    for n in range(MATCHING):
        day = FIRST_DAY + timedelta(days=n // 100)
        days.setdefault(day, []).append(
            Paper(
                id=f"2501.{n:05d}",
                title=f"Widget study number {n}",
                abstract=f"We study widget {n} and find that widgets scale.",
                authors=(f"Author {n}",),
                upvotes=n % 97,
            )
        )
    return days


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "p.db", search_budget=30) as store:
        for day, papers in widget_papers().items():
            await store.ingest_day(day, papers)
        yield store


@pytest.fixture
def config(tmp_path: Path, store: SQLiteStore) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "p.db"}"\n')
    return path


@pytest.mark.parametrize("limit", [600, 1000])
async def test_search_lists_as_many_papers_as_asked(config: Path, limit: int) -> None:
    result = await paperboy("--config", str(config), "search", "widget", "--limit", str(limit))
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    lines = result.out.splitlines()
    assert lines[0] == f"{MATCHING:,} papers match; showing {limit}"
    assert len(lines) == 2 + limit


async def test_search_json_has_a_snippet_for_every_hit(config: Path) -> None:
    result = await paperboy(
        "--config", str(config), "search", "widget", "--limit", "700", "--sort", "upvotes", "--json"
    )
    assert result.code == 0, result.err
    records = [json.loads(line) for line in result.out.splitlines()]
    assert len(records) == 700 and len({r["id"] for r in records}) == 700
    assert all(
        any(r["snippet"][a:b].lower() == "widget" for a, b in r["highlights"]) for r in records
    )
    assert [r["upvotes"] for r in records] == sorted((r["upvotes"] for r in records), reverse=True)


@pytest.mark.parametrize(
    ("limit", "why"),
    [
        ("0", "must be between 1 and 1000 (got 0)"),
        ("1001", "must be between 1 and 1000 (got 1001)"),
        ("-5", "must be between 1 and 1000 (got -5)"),
        ("ten", "not a whole number: 'ten'"),
    ],
)
async def test_out_of_range_limits_are_usage_errors(config: Path, limit: str, why: str) -> None:
    result = await paperboy("--config", str(config), "search", "widget", f"--limit={limit}")
    assert result.code == 2
    assert "Traceback" not in result.err and result.out == ""
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("usage: paperboy search")
    assert lines[-1] == f"paperboy search: error: argument --limit: {why}"


@pytest.mark.parametrize("sort", ["relevance", "upvotes", "newest"])
async def test_the_store_returns_pages_larger_than_a_compound_select(
    store: SQLiteStore, sort: str
) -> None:
    page = await store.search(parse_query("widget"), sort=sort, limit=RANK_WINDOW)
    assert page.total == MATCHING and not page.capped
    assert len(page.hits) == MATCHING
    assert len({h.listing.paper.id for h in page.hits}) == MATCHING
    assert all(
        any(h.snippet.text[a:b].lower() == "widget" for a, b in h.snippet.spans) for h in page.hits
    )

    rest = await store.search(parse_query("widget"), sort=sort, limit=900, offset=600)
    assert [h.listing.paper.id for h in rest.hits] == [
        h.listing.paper.id for h in page.hits[600:1200]
    ]

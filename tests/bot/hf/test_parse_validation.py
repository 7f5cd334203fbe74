"""F3: a bad field costs only its own item; a day with nothing valid is a ScrapeError."""

from __future__ import annotations

import copy
import html
import json
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.errors import ScrapeError
from bot.hf.parse import MAX_COUNT, parse_api_list, parse_item, parse_list_html
from tests.conftest import seed_items

DAY = date(2025, 1, 7)


def good_items() -> list[dict[str, Any]]:
    return copy.deepcopy(seed_items()[DAY.isoformat()][:3])


def poisoned(path: str, value: Any) -> list[dict[str, Any]]:
    """Three good items with one field of the middle one set to `value` ("paper.x" or "x")."""
    items = good_items()
    where, _, key = path.rpartition(".")
    target = items[1]["paper"] if where == "paper" else items[1]
    target[key] = value
    return items


BAD_FIELDS = [
    ("paper.upvotes", "²"),  # str.isdigit() says yes, int() says no
    ("paper.upvotes", "12a"),
    ("paper.upvotes", 1.5),
    ("paper.upvotes", [1]),
    ("paper.authors", 7),
    ("paper.authors", "Ada Lovelace"),
    ("paper.authors", [{"name": "Ada"}, 3]),
    ("paper.authors", [{"name": {"first": "Ada"}}]),
    ("paper.summary", 12),
    ("paper.publishedAt", 20250107),
    ("paper.submittedOnDailyAt", {"date": "2025-01-07"}),
    ("paper.ai_summary", ["a", "b"]),
    ("paper.ai_keywords", "llm, agents"),
    ("paper.ai_keywords", ["llm", None]),
    ("paper.githubRepo", {"url": "https://github.com/x/y"}),
    ("paper.projectPage", 42),
    ("paper.githubStars", "many"),
    ("numComments", "²"),
    ("paper.id", 2501.0001),
    ("paper.title", None),
    ("paper", "2501.00001"),
]


@pytest.mark.parametrize(("path", "value"), BAD_FIELDS, ids=[f"{p}={v!r}" for p, v in BAD_FIELDS])
def test_one_bad_field_skips_its_item_only(
    path: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    items = poisoned(path, value)
    good = [items[0]["paper"]["id"], items[2]["paper"]["id"]]
    day = parse_api_list(json.dumps(items), DAY)
    assert [p.id for p in day.papers] == good and day.skipped == 1
    assert "skipped an invalid item: daily_papers: item 1" in caplog.text


def test_an_item_that_is_not_an_object_is_skipped() -> None:
    items: list[Any] = [*good_items(), "2501.00001", None]
    day = parse_api_list(json.dumps(items), DAY)
    assert len(day.papers) == 3 and day.skipped == 2


def test_a_day_with_nothing_valid_is_a_scrape_error() -> None:
    items = good_items()
    for item in items:
        item["paper"]["authors"] = 7
    with pytest.raises(ScrapeError, match=r"none of 3 items is valid.*'authors' is a int"):
        parse_api_list(json.dumps(items), DAY)


def test_the_page_skips_bad_items_too() -> None:
    items = poisoned("paper.upvotes", "²")
    props = html.escape(json.dumps({"dailyPapers": items, "dateString": DAY.isoformat()}))
    page = f'<div class="SVELTE_HYDRATER" data-target="DailyPapers" data-props="{props}"></div>'
    day = parse_list_html(page, DAY)
    assert len(day.papers) == 2 and day.skipped == 1


@pytest.mark.parametrize("count", [2**63, 2**64 + 5, 10**30, "9" * 5_000, str(2**63)])
def test_counts_are_clamped_to_what_the_store_holds(count: int | str) -> None:
    paper = parse_item({"paper": {"id": "2501.00001", "title": "t", "upvotes": count}})
    assert paper.upvotes == MAX_COUNT
    paper = parse_item({"paper": {"id": "2501.00001", "title": "t", "githubStars": count}})
    assert paper.github_stars == MAX_COUNT


def test_negative_counts_are_zero() -> None:
    item = {"paper": {"id": "2501.00001", "title": "t", "upvotes": -5}, "numComments": -1}
    paper = parse_item(item)
    assert paper.upvotes == 0 and paper.num_comments == 0


@pytest.mark.parametrize(
    "when",
    [
        "9999-12-31T23:59:59.999Z",
        "9999-12-31T23:00:00-05:00",  # past datetime.max once in UTC
        "0001-01-01T00:30:00+01:00",  # before datetime.min once in UTC
        "1900-01-01T00:00:00Z",
        "2200-01-01T00:00:00Z",
        "yesterday",
        "2025-01-07",  # no time zone: not an aware time
    ],
)
def test_impossible_dates_are_dropped_and_the_paper_kept(when: str) -> None:
    item = {"paper": {"id": "2501.00001", "title": "t", "publishedAt": when}}
    item["paper"]["submittedOnDailyAt"] = when
    paper = parse_item(item)
    assert paper.published_at is None and paper.submitted_at is None


def test_sane_dates_are_kept_in_utc() -> None:
    item = {"paper": {"id": "2501.00001", "title": "t", "publishedAt": "2025-01-06T20:00:00-05:00"}}
    assert parse_item(item).published_at == datetime(2025, 1, 7, 1, tzinfo=UTC)


def test_authors_may_be_names_or_objects() -> None:
    authors = ["Ada Lovelace", {"name": "Alan Turing"}, {"name": "Hidden", "hidden": True}, {}]
    paper = parse_item({"paper": {"id": "2501.00001", "title": "t", "authors": authors}})
    assert paper.authors == ("Ada Lovelace", "Alan Turing")
    assert paper.author_users == ()  # nobody claimed the paper: no usernames at all


def test_each_visible_author_keeps_the_account_that_claimed_it() -> None:
    authors = [
        {"name": "Ada  Lovelace", "user": {"user": "ada"}},
        {"name": "Hidden", "hidden": True, "user": {"user": "hidden"}},
        "Alan Turing",
        {"name": "Grace Hopper", "user": {"user": "not a username!"}},
        {"name": "   ", "user": {"user": "blank"}},
        {"name": "Edsger Dijkstra", "user": {"user": "ewd"}},
    ]
    paper = parse_item({"paper": {"id": "2501.00001", "title": "t", "authors": authors}})
    assert paper.authors == ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra")
    assert paper.author_users == ("ada", None, None, "ewd")


def test_the_seed_lists_parse_without_skipping_anything(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        for day, items in seed_items().items():
            parsed = parse_api_list(json.dumps(items), date.fromisoformat(day))
            assert parsed.skipped == 0 and len(parsed.papers) == len(items)
    assert caplog.text == ""


@pytest.mark.parametrize("literal", ["9223372036854775808", "1" + "0" * 30, "9" * 5_000])
def test_huge_counts_in_the_json_text_are_clamped_not_fatal(literal: str) -> None:
    # orjson reads 10**30 as a float and refuses 5,000 digits outright; neither sinks the page.
    items = [{"paper": {"id": "2501.00001", "title": "t", "upvotes": 0}}, *good_items()]
    text = json.dumps(items).replace('"upvotes": 0', f'"upvotes": {literal}', 1)
    day = parse_api_list(text, DAY)
    assert len(day.papers) == 4 and day.skipped == 0
    assert day.papers[0].upvotes == MAX_COUNT

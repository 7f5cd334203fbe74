"""The parsers over real Hugging Face responses (../shared/fixtures/hf/realdata, beside the
repository; its README gives their provenance). They are read in place, never copied: where
that folder is absent every test here is skipped, saying so."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from bot.hf.parse import parse_api_list, parse_api_paper, parse_cards_counted, parse_list_html
from bot.models import thumbnail_url

REALDATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "hf" / "realdata"
pytestmark = pytest.mark.skipif(
    not REALDATA.is_dir(),
    reason="../shared/fixtures/hf/realdata not found: real-data conformance skipped",
)
# What is left of LaTeX if a parser let it through.
LATEX = re.compile(r"\\[A-Za-z]+|\\[%&_#$]|\$[^$\s][^$]*\$")


def files(kind: str, suffix: str) -> list[Path]:
    return sorted((REALDATA / kind).glob(f"*{suffix}")) if REALDATA.is_dir() else []


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def list_days(items: list[dict[str, Any]]) -> Counter[date]:
    return Counter(date.fromisoformat(i["paper"]["submittedOnDailyAt"][:10]) for i in items)


@pytest.mark.parametrize("path", files("api_list", ".json"), ids=lambda p: p.name)
def test_each_list_day_gets_exactly_its_own_papers(path: Path) -> None:
    items = load(path)
    for day, count in list_days(items).items():
        parsed = parse_api_list(path.read_text(encoding="utf-8"), day)
        want = [
            i["paper"]["id"] for i in items if i["paper"]["submittedOnDailyAt"][:10] == str(day)
        ]
        assert [p.id for p in parsed.papers] == want and len(want) == count
        assert parsed.served == day and parsed.skipped == 0
        assert parsed.other_day == len(items) - count


def test_the_two_day_list_is_split_14_and_11() -> None:
    (path,) = [p for p in files("api_list", ".json") if "limit25" in p.name]
    on13 = parse_api_list(path.read_text(encoding="utf-8"), date(2026, 7, 13))
    on10 = parse_api_list(path.read_text(encoding="utf-8"), date(2026, 7, 10))
    assert (len(on13.papers), len(on10.papers)) == (14, 11)
    assert not {p.id for p in on13.papers} & {p.id for p in on10.papers}


@pytest.mark.parametrize("path", files("api_list", ".json"), ids=lambda p: p.name)
def test_list_items_keep_thumbnail_submitter_organisation_and_media(path: Path) -> None:
    items = {i["paper"]["id"]: i for i in load(path)}
    day = next(iter(list_days(list(items.values()))))
    for paper in parse_api_list(path.read_text(encoding="utf-8"), day).papers:
        item = items[paper.id]
        assert paper.thumbnail == item["thumbnail"] == thumbnail_url(paper.id)
        assert paper.submitter == item["paper"]["submittedOnDailyBy"]["user"]
        org = item.get("organization") or item["paper"].get("organization")
        assert paper.organization == (org["fullname"] if org else None)
        assert paper.media_urls == tuple(item["paper"].get("mediaUrls") or ())
        for text in (paper.title, paper.abstract, paper.ai_summary or ""):
            assert not LATEX.search(text), text


@pytest.mark.parametrize("path", files("api_paper", ".json"), ids=lambda p: p.name)
def test_papers_fetched_by_id_get_hfs_thumbnail_and_plain_text(path: Path) -> None:
    raw = load(path)
    paper = parse_api_paper(path.read_text(encoding="utf-8"))
    assert paper.id == raw["id"] and paper.thumbnail == thumbnail_url(paper.id)
    assert paper.submitter == raw["submittedOnDailyBy"]["user"]
    org = raw.get("organization")
    assert paper.organization == (org["fullname"] if org else None)
    assert paper.media_urls == tuple(raw.get("mediaUrls") or ())
    for text in (paper.title, paper.abstract, paper.ai_summary or ""):
        assert not LATEX.search(text), text


def test_the_latex_of_2605_15141_reads_as_plain_text() -> None:
    (path,) = [p for p in files("api_paper", ".json") if "2605.15141" in p.name]
    abstract = parse_api_paper(path.read_text(encoding="utf-8")).abstract
    assert "\\ours" in load(path)["summary"] and "\\" not in abstract


def page() -> str:
    (path,) = files("html", ".html")
    return path.read_text(encoding="utf-8")


def test_the_2024_page_is_dated_by_its_own_props() -> None:
    parsed = parse_list_html(page(), date(2024, 8, 1))
    assert parsed.served == date(2024, 8, 1) and len(parsed.papers) == 13
    assert parsed.skipped == 0 and parsed.other_day == 0


def test_the_2024_page_is_never_filed_under_another_day() -> None:
    parsed = parse_list_html(page(), date(2024, 8, 2))
    assert parsed.served == date(2024, 8, 1) and parsed.papers == ()


def test_the_2024_cards_give_hfs_thumbnails_and_submitters() -> None:
    papers, skipped = parse_cards_counted(LexborHTMLParser(page()))
    assert skipped == 0 and len(papers) == 13
    assert all(p.thumbnail == thumbnail_url(p.id) for p in papers)
    by_id = {p.id: p for p in papers}
    assert "avatars" not in (by_id["2407.20229"].thumbnail or "")  # the teaser-video card
    assert by_id["2407.20229"].submitter == "yuanwenyue"
    hydrated = {p.id: p.submitter for p in parse_list_html(page(), date(2024, 8, 1)).papers}
    assert {p.id: p.submitter for p in papers} == hydrated

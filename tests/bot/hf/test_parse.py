import json
from datetime import UTC, date, datetime

import pytest
from selectolax.lexbor import LexborHTMLParser

from bot.arxiv import is_valid_id, normalise_id
from bot.errors import ScrapeError
from bot.hf.parse import (
    parse_api_list,
    parse_api_paper,
    parse_cards,
    parse_item,
    parse_list_html,
    served_date_from_url,
)
from tests.conftest import data_text

DAY = date(2025, 10, 1)


def test_api_list_normalises_every_field() -> None:
    papers = {
        p.id: p
        for p in parse_api_list(data_text("api_daily_papers_2025-10-01.synthetic.json"), DAY).papers
    }
    assert list(papers) == ["2509.24002", "2509.26661", "2510.00120"]
    mcp = papers["2509.24002"]
    assert (
        mcp.title == "MCPMark: A Benchmark for Stress-Testing Realistic and Comprehensive MCP Use"
    )
    assert "\n" not in mcp.abstract and "  " not in mcp.abstract
    assert mcp.upvotes == 118 and mcp.num_comments == 2
    assert mcp.github_repo == "https://github.com/eval-sys/mcpmark" and mcp.github_stars == 182
    assert mcp.project_page == "https://mcpmark.ai/"
    assert mcp.ai_keywords[0] == "MCP" and mcp.ai_summary
    assert mcp.organization == "National University of Singapore"
    assert mcp.published_at == datetime(2025, 9, 28, 17, 53, 27, tzinfo=UTC)
    assert mcp.thumbnail and mcp.thumbnail.endswith("2509.24002.png")
    edge = papers["2510.00120"]  # trailing zero, zero upvotes, hidden author, no optionals
    assert edge.upvotes == 0
    assert edge.github_repo is None and edge.ai_summary is None and edge.ai_keywords == ()
    assert "Hidden" not in " ".join(edge.authors)
    assert "&" in edge.title and "<" in edge.title and "\n" not in edge.title
    uni = papers["2509.26661"]
    assert "🚀" in uni.title and uni.authors[0] == "Zoë Müller" and uni.github_stars is None


def test_html_hydration_gives_the_same_papers_as_the_api() -> None:
    api = parse_api_list(data_text("api_daily_papers_2025-10-01.synthetic.json"), DAY)
    html = parse_list_html(data_text("daily_list_2025-10-01.synthetic.html"), DAY)
    assert html.served == DAY
    assert [p.id for p in html.papers] == [p.id for p in api.papers]
    assert html.papers[0].title == api.papers[0].title


def test_cards_are_the_last_resort() -> None:
    papers = parse_cards(LexborHTMLParser(data_text("daily_list_2025-10-01.synthetic.html")))
    assert [(p.id, p.upvotes, p.num_comments) for p in papers] == [
        ("2509.24002", 118, 2),
        ("2509.26661", 7, 1),
        ("2510.00120", 0, 0),
    ]
    assert papers[0].title.startswith("MCPMark")


def test_real_paper_page_capture() -> None:
    # The real capture uses single-quoted attributes with raw JSON inside.
    tree = LexborHTMLParser(data_text("paper_page_2509.24002.html"))
    node = tree.css_first('div.SVELTE_HYDRATER[data-target="PaperContent"]')
    assert node is not None
    paper = parse_item(json.loads(node.attributes["data-props"] or "")["paper"])
    assert paper.id == "2509.24002" and paper.upvotes == 118 and len(paper.authors) == 15
    assert paper.title.endswith("MCP Use")


def test_single_paper_api() -> None:
    paper = parse_api_paper(data_text("api_paper_2509.24002.synthetic.json"))
    assert paper.id == "2509.24002" and paper.upvotes == 118


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"error": "x"}', "expected a list"),
        ('[{"paper": {"title": "t"}}]', "'id'"),
        ('[{"paper": {"id": 2503.0213, "title": "t"}}]', "non-string"),
        ('[{"paper": {"id": "2503.02130"}}]', "no 'title'"),
        ("<html>", "not valid JSON"),
        ('[{"paper": {"id": "hello", "title": "t"}}]', "not an arXiv id"),
    ],
)
def test_wrong_json_is_a_scrape_error(body: str, message: str) -> None:
    with pytest.raises(ScrapeError, match=message):
        parse_api_list(body, DAY)


def test_ids_are_strings_with_their_zeros_and_no_version() -> None:
    paper = parse_item({"paper": {"id": "2503.02130v2", "title": "t"}})
    assert paper.id == "2503.02130"


def test_changed_layout_is_an_error_not_an_empty_day() -> None:
    with pytest.raises(ScrapeError, match="layout changed"):
        parse_list_html("<html><body><main><div>redesigned</div></main></body></html>", DAY)


def test_served_date() -> None:
    assert served_date_from_url("https://huggingface.co/papers/date/2025-08-08") == date(2025, 8, 8)
    assert served_date_from_url("https://huggingface.co/papers") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2509.24002", "2509.24002"),
        ("2509.24002v2", "2509.24002"),
        ("https://huggingface.co/papers/2509.24002", "2509.24002"),
        ("https://arxiv.org/abs/2509.24002v1", "2509.24002"),
        ("arxiv.org/pdf/2509.24002", "2509.24002"),
        ("https://arxiv.org/pdf/2509.24002v3.pdf", "2509.24002"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("2503.02130", "2503.02130"),
        ("1234.5678901", None),
        ("2513.00001", None),
        ("grokking", None),
        ("../etc/passwd", None),
        ("", None),
    ],
)
def test_arxiv_ids(text: str, expected: str | None) -> None:
    assert normalise_id(text) == expected
    if expected:
        assert is_valid_id(expected)

from datetime import UTC, date, datetime

import pytest

from bot.digest import (
    authors_line,
    cut_at_sentence,
    is_complete,
    newest_complete,
    render_text,
    select,
    summary_of,
)
from bot.models import Listing, Paper
from bot.query import parse_query

FRI, SAT, MON = date(2025, 1, 10), date(2025, 1, 11), date(2025, 1, 13)


def listing(pid: str, upvotes: int, rank: int, title: str = "Title") -> Listing:
    return Listing(Paper(id=pid, title=title, abstract="Abstract.", upvotes=upvotes), FRI, rank)


@pytest.mark.parametrize(
    ("now", "complete"),
    [
        (datetime(2025, 1, 10, 23, 59, tzinfo=UTC), False),
        (datetime(2025, 1, 11, 2, 59, tzinfo=UTC), False),
        (datetime(2025, 1, 11, 3, 0, tzinfo=UTC), True),
    ],
)
def test_a_list_is_complete_three_hours_after_its_day(now: datetime, complete: bool) -> None:
    assert is_complete(FRI, now, 3) is complete


def test_monday_morning_gets_fridays_list() -> None:
    monday_9am = datetime(2025, 1, 13, 9, 0, tzinfo=UTC)
    assert newest_complete([date(2025, 1, 9), FRI, MON], monday_9am, 3) == FRI
    assert newest_complete([MON], monday_9am, 3) is None


def test_ranked_by_upvotes_then_hf_rank_and_filtered() -> None:
    items = [
        listing("2401.00001", 5, 1),
        listing("2401.00002", 9, 2, "Video diffusion"),
        listing("2401.00003", 9, 3),
        listing("2401.00004", 0, 4, "Diffusion"),
    ]
    picked = select(items, top=3)
    assert picked is not None
    assert [i.paper.id for i in picked.papers] == ["2401.00002", "2401.00003", "2401.00001"]
    assert picked.total == 4
    filtered = select(items, top=10, min_upvotes=1, keywords=parse_query("diffusion"))
    assert filtered is not None and [i.paper.id for i in filtered.papers] == ["2401.00002"]
    assert select([], top=3) is None


def test_summary_prefers_ai_summary_and_cuts_at_a_sentence() -> None:
    text = "First sentence here. Second sentence is longer than the first. Third."
    assert cut_at_sentence(text, 40) == "First sentence here."
    assert cut_at_sentence(text, 1000) == text
    assert len(cut_at_sentence("x" * 500, 100)) <= 100
    paper = Paper(id="2401.00001", title="t", abstract=text, ai_summary="Short.")
    assert summary_of(paper) == "Short."


def test_authors_line() -> None:
    assert authors_line(["A", "B", "C", "D", "E"]) == "A, B, C +2 more"
    assert authors_line(["A"]) == "A"
    assert authors_line([]) == ""


def test_render_text_has_header_and_links() -> None:
    selection = select([listing("2401.00001", 5, 1, "Hello")], top=10)
    assert selection is not None
    text = render_text(selection)
    assert text.startswith("Daily Papers 2025-01-10: top 1 of 1 papers")
    assert "https://huggingface.co/papers/date/2025-01-10" in text
    assert "https://huggingface.co/papers/2401.00001" in text

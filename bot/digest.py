"""Which papers a digest carries: the newest complete list, ranked and filtered."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.matching import matches
from bot.models import HF_BASE, DigestStyle, Listing, Paper, PeriodKind
from bot.query import Query

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


WEEK_DAYS = 7


@dataclass(frozen=True, slots=True)
class DigestSelection:
    list_date: date  # the list's date, or the first day of the week
    papers: tuple[Listing, ...]  # what is posted, best first
    total: int  # papers on that day's list (or that week's lists) before filters
    kind: PeriodKind = "day"
    style: DigestStyle = "cards"  # how the courier renders it

    @property
    def end(self) -> date:
        """The last list date it covers."""
        return self.list_date + timedelta(days=WEEK_DAYS - 1 if self.kind == "week" else 0)

    @property
    def list_url(self) -> str:
        """HF's page of that day's list, or of the ISO week the digest ends in."""
        if self.kind == "week":
            year, week, _ = self.end.isocalendar()
            return f"{HF_BASE}/papers/week/{year}-W{week:02d}"
        return f"{HF_BASE}/papers/date/{self.list_date.isoformat()}"

    @property
    def title(self) -> str:
        """ "Daily Papers 2025-01-07", or "Weekly Papers 2025-01-06 to 2025-01-12"."""
        if self.kind == "week":
            return f"Weekly Papers {self.list_date.isoformat()} to {self.end.isoformat()}"
        return f"Daily Papers {self.list_date.isoformat()}"


def is_complete(list_date: date, now: datetime, complete_after_hours: float) -> bool:
    """A list is complete once its UTC day is over plus the settling time (HF adds late papers)."""
    end_of_day = datetime.combine(list_date + timedelta(days=1), time(0), tzinfo=UTC)
    return now >= end_of_day + timedelta(hours=complete_after_hours)


def newest_complete(
    dates: Iterable[date], now: datetime, complete_after_hours: float
) -> date | None:
    """The newest list date that is complete at `now`."""
    complete = [d for d in dates if is_complete(d, now, complete_after_hours)]
    return max(complete, default=None)


def select(
    listings: Sequence[Listing],
    *,
    top: int,
    min_upvotes: int = 0,
    keywords: Query | None = None,
) -> DigestSelection | None:
    """Rank one day's list by upvotes (then HF's rank) and keep the `top` that pass the filters."""
    if not listings:
        return None
    day = listings[0].list_date
    if day is None:
        raise ValueError("a digest is made from one day's list (day_listing)")
    ranked = sorted(listings, key=lambda item: (-item.paper.upvotes, item.rank))
    kept = [
        item
        for item in ranked
        if item.paper.upvotes >= min_upvotes
        and (keywords is None or keywords.is_empty or matches(keywords, item.paper))
    ]
    return DigestSelection(day, tuple(kept[:top]), len(listings))


def select_week(
    start: date,
    listings: Sequence[Listing],
    *,
    top: int,
    min_upvotes: int = 0,
    keywords: Query | None = None,
) -> DigestSelection:
    """The week's papers (the lists of the 7 days from `start`) ranked by upvotes now; a
    paper on several lists counts once, at its first."""
    first: dict[str, Listing] = {}
    for item in sorted(listings, key=lambda i: (i.list_date or start, i.rank)):
        first.setdefault(item.paper.id, item)
    ranked = sorted(first.values(), key=lambda i: (-i.paper.upvotes, i.list_date or start, i.rank))
    kept = [
        item
        for item in ranked
        if item.paper.upvotes >= min_upvotes
        and (keywords is None or keywords.is_empty or matches(keywords, item.paper))
    ]
    return DigestSelection(start, tuple(kept[:top]), len(first), kind="week")


def summary_of(paper: Paper, limit: int = 350) -> str:
    """The AI summary when there is one, else the abstract cut cleanly at a sentence."""
    text = paper.ai_summary or paper.abstract
    return cut_at_sentence(text, limit)


def cut_at_sentence(text: str, limit: int) -> str:
    """Shorten to at most `limit` characters, ending at a sentence when one fits."""
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > limit:
            break
        kept = candidate
    if kept:
        return kept
    return textwrap.shorten(text, width=limit, placeholder="…")


def authors_line(authors: Sequence[str], shown: int = 3) -> str:
    """The first few authors and "+N more"."""
    if not authors:
        return ""
    line = ", ".join(authors[:shown])
    return f"{line} +{len(authors) - shown} more" if len(authors) > shown else line


def render_text(selection: DigestSelection) -> str:
    """The digest as plain text, for the command line."""
    lines = [
        f"{selection.title}: top {len(selection.papers)} of {selection.total} papers",
        selection.list_url,
        "",
    ]
    for n, item in enumerate(selection.papers, start=1):
        p = item.paper
        comments = f", {p.num_comments} comments" if p.num_comments else ""
        lines.append(f"{n}. {p.title}")
        lines.append(f"   {p.upvotes} upvotes{comments} | {authors_line(p.authors)}")
        lines.append(textwrap.indent(textwrap.fill(summary_of(p), 96), "   "))
        links = [p.hf_url, p.arxiv_url]
        if p.github_repo:
            stars = f" ({p.github_stars} stars)" if p.github_stars is not None else ""
            links.append(p.github_repo + stars)
        if p.project_page:
            links.append(p.project_page)
        lines.append("   " + " | ".join(links))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"

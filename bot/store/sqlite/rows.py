"""Column lists and row mappers: how papers, subscriptions and alerts sit in rows."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any

from bot.models import (
    Alert,
    AlertTarget,
    DeliveryPart,
    Listing,
    Paper,
    QueuedAlert,
    Subscription,
)
from bot.store.fts import head_weights, index_row
from bot.store.rules import REFRESHED, SEARCHED

# A paper's own columns (what _listing reads first), then a list date and the rank there.
_PAPER_FIELDS = (
    "p.id, p.title, p.abstract, p.authors, p.keywords, p.published_at, p.submitted_at, "
    "p.upvotes, p.num_comments, p.ai_summary, p.github_repo, p.github_stars, p.project_page, "
    "p.thumbnail, p.organization, p.submitter, p.media_urls"
)
# ... with its first list date and its rank there.
_PAPER_COLUMNS = (
    f"{_PAPER_FIELDS}, p.list_date,"
    " (SELECT rank FROM listings l WHERE l.paper_pk = p.pk AND l.list_date = p.list_date)"
)
# Fields a re-scrape refreshes; None or empty in the new data keeps the old value.
_REFRESHED = REFRESHED

_SEARCHED = SEARCHED  # the fields papers_fts holds
_FTS_COLUMNS = "title, abstract, keywords, authors, title_words"


_HEADS_ADD = "INSERT INTO papers_fts_heads (stem, weight, pk, freq, length) VALUES (?, ?, ?, ?, ?)"


def head_rows(
    rows: Sequence[tuple[int, Sequence[str]]], average: float, words: Collection[str]
) -> list[tuple[str, float, int, float, int]]:
    """papers_fts_heads rows of `words` for papers as (pk, papers_fts values)."""
    out = []
    for pk, row in rows:
        length = sum(c.count(" ") + 1 for c in row if c)
        for stem, (weight, freq) in head_weights(row, average, words).items():
            out.append((stem, weight, pk, freq, length))
    return out


# A paper's searched columns as stored: title, abstract, keywords and authors (one a line).
SearchedFields = tuple[str, str, str, str]
# papers_fts values analysed ahead (ahead.IndexAhead) by the fields they were analysed from,
# each taken by the first _index_row of those fields; bounded (emptied when full: a day's
# list holds at most 2,000 papers, and the next date's are analysed while it is written).
_prepared: dict[SearchedFields, tuple[str, ...]] = {}
_PREPARED_LIMIT = 5_000


def searched_fields(paper: Paper) -> SearchedFields:
    """The paper's searched columns as _paper_row gives them."""
    return (paper.title, paper.abstract, "\n".join(paper.ai_keywords), "\n".join(paper.authors))


def searched_rows(fields: Sequence[SearchedFields]) -> list[tuple[str, ...]]:
    """The papers_fts values of each paper's searched columns."""
    return [_analysed(*f) for f in fields]


def prepare(fields: Sequence[SearchedFields], rows: Sequence[tuple[str, ...]]) -> None:
    """Keep papers_fts values (searched_rows of `fields`) for the next _index_row of each."""
    if len(_prepared) + len(fields) > _PREPARED_LIMIT:
        _prepared.clear()
    _prepared.update(zip(fields, rows, strict=True))


def _index_row(row: dict[str, Any]) -> tuple[str, ...]:
    """A paper's papers_fts values, from its stored (or about to be stored) columns."""
    fields = (row["title"], row["abstract"], row["keywords"], row["authors"])
    found = _prepared.pop(fields, None) if _prepared else None
    return found if found is not None else _analysed(*fields)


def _analysed(title: str, abstract: str, keywords: str, authors: str) -> tuple[str, ...]:
    return index_row(
        title,
        abstract,
        tuple(filter(None, keywords.split("\n"))),
        tuple(filter(None, authors.split("\n"))),
    )


def _paper_row(paper: Paper) -> dict[str, Any]:
    """The paper as column values, in _REFRESHED order."""
    return {
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": "\n".join(paper.authors),
        "keywords": "\n".join(paper.ai_keywords),
        "published_at": _iso(paper.published_at),
        "submitted_at": _iso(paper.submitted_at),
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "ai_summary": paper.ai_summary,
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "thumbnail": paper.thumbnail,
        "organization": paper.organization,
        "submitter": paper.submitter,
        "media_urls": "\n".join(paper.media_urls),
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _listing(row: Sequence[Any]) -> Listing:
    """Build a Listing from a _PAPER_FIELDS row followed by a list date and a rank."""
    paper = Paper(
        id=row[0],
        title=row[1],
        abstract=row[2],
        authors=tuple(filter(None, row[3].split("\n"))),
        ai_keywords=tuple(filter(None, row[4].split("\n"))),
        published_at=_dt(row[5]),
        submitted_at=_dt(row[6]),
        upvotes=row[7],
        num_comments=row[8],
        ai_summary=row[9],
        github_repo=row[10],
        github_stars=row[11],
        project_page=row[12],
        thumbnail=row[13],
        organization=row[14],
        submitter=row[15],
        media_urls=tuple(filter(None, row[16].split("\n"))),
    )
    list_date = date.fromisoformat(row[17]) if row[17] else None
    return Listing(paper, list_date, row[18] or 0)


_SUBSCRIPTION_SELECT = (
    "SELECT channel_id, guild_id, post_time, timezone, top, min_upvotes, keywords, threads,"
    " created_at, failing_reason, frequency, weekday, style, frequency_since"
    " FROM digest_subscriptions"
)


def _subscription(row: Sequence[Any]) -> Subscription:
    return Subscription(
        channel_id=row[0],
        guild_id=row[1],
        post_time=row[2],
        timezone=row[3],
        top=row[4],
        min_upvotes=row[5],
        keywords=row[6],
        threads=bool(row[7]),
        created_at=_dt(row[8]),
        failing_reason=row[9],
        frequency=row[10],
        weekday=row[11],
        style=row[12],
        frequency_since=_dt(row[13]),
    )


_ALERT_SELECT = (
    "SELECT id, user_id, query, deliver, channel_id, guild_id, muted, created_at, min_upvotes"
    " FROM alerts"
)
_ALERT_COLUMNS = (
    "a.id, a.user_id, a.query, a.deliver, a.channel_id, a.guild_id, a.muted, a.created_at,"
    " a.min_upvotes"
)


def _alert(row: Sequence[Any]) -> Alert:
    return Alert(
        id=row[0],
        user_id=row[1],
        query=row[2],
        deliver=row[3],
        channel_id=row[4],
        guild_id=row[5],
        muted=bool(row[6]),
        created_at=_dt(row[7]),
        min_upvotes=row[8],
    )


def _queued(row: Sequence[Any]) -> QueuedAlert:
    """An alert outbox row from _QUEUED_COLUMNS."""
    return QueuedAlert(
        user_id=row[0],
        paper_id=row[1],
        alert_id=row[2],
        reason=row[3],
        target=AlertTarget(row[4]),
        state=row[5],
        batch=row[6],
        attempts=row[7],
    )


_QUEUED_COLUMNS = "user_id, paper_id, alert_id, reason, target, state, batch, attempts"
REFUSED_ID = 0  # the message id stored for a digest part Discord refused


def _part(row: Sequence[Any]) -> DeliveryPart:
    """A digest part from (part, payload, nonce, message_id)."""
    refused = row[3] == REFUSED_ID
    return DeliveryPart(row[0], row[1], row[2], None if refused else row[3], refused)

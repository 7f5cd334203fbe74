"""Saving a person's alert and previewing what it would have matched: /alert add and test.

The preview asks the store's full-text index (`matching_papers`), which answers exactly as
matching the alert against every recent paper in Python would, without reading any paper's
text here: an add costs the event loop a few store round trips, however many papers and
alerts there are. Nothing on this path reads or rebuilds the alert index: the delivery
engine reads only the changed alert at its next run (`AlertDelivery.sync_index`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.alert_policy import validate_alert
from bot.delivery import Clock
from bot.errors import AlertLimitError, UserError
from bot.models import Alert, AlertDeliver, Listing
from bot.query import Query, parse_query
from bot.store import Store

MAX_QUERY = 200  # characters of an alert
PREVIEW_DAYS = 7
PREVIEW_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Preview:
    """How many recent papers a query matches, and the most upvoted of them."""

    total: int
    shown: tuple[Listing, ...]


@dataclass(frozen=True, slots=True)
class Added:
    """A saved alert and its preview."""

    alert: Alert
    preview: Preview


def parse_alert(text: str) -> Query:
    """The query of an alert as typed, or a UserError saying why it cannot be one."""
    text = text.strip()
    if len(text) > MAX_QUERY:
        raise UserError(f"An alert can be at most {MAX_QUERY} characters ({len(text)} given).")
    query = parse_query(text)
    validate_alert(query)
    return query


class AlertBook:
    """Adds alerts and previews queries; the /alert cog's core."""

    def __init__(self, store: Store, *, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def add(
        self,
        user_id: int,
        text: str,
        query: Query,
        *,
        deliver: AlertDeliver = "dm",
        channel_id: int | None = None,
        guild_id: int | None = None,
        min_upvotes: int = 0,
    ) -> Added:
        """Save `text` (parsed by parse_alert as `query`) as the person's alert and preview
        it; UserError when they already have as many alerts as they may."""
        try:  # the store counts and inserts in one transaction: adds at once can't pass the cap
            alert = await self.store.add_alert(
                user_id,
                text.strip(),
                deliver=deliver,
                channel_id=channel_id,
                guild_id=guild_id,
                min_upvotes=min_upvotes,
            )
        except AlertLimitError as e:
            raise UserError(f"{e}; remove one with /alert remove.") from None
        return Added(alert, await self.preview(query, min_upvotes=min_upvotes))

    async def preview(self, query: Query, *, min_upvotes: int = 0) -> Preview:
        """What the query would have matched in the last PREVIEW_DAYS days (with at least
        `min_upvotes`, as a rising alert would), most upvoted first."""
        today = self.clock().date()
        total, shown = await self.store.matching_papers(
            query,
            today - timedelta(days=PREVIEW_DAYS),
            today,
            min_upvotes=min_upvotes,
            limit=PREVIEW_SHOWN,
        )
        return Preview(total, tuple(shown))

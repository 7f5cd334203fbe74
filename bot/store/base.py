"""The store's whole public surface. A new backend implements this and nothing else changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal, Protocol

from bot.models import (
    Alert,
    AlertUser,
    Delivery,
    IngestResult,
    Listing,
    Paper,
    QueuedAlert,
    ScrapeRun,
    SearchPage,
    StoreStats,
    Subscription,
)
from bot.query import Query

Sort = Literal["relevance", "upvotes", "newest"]
SORTS: tuple[Sort, ...] = ("relevance", "upvotes", "newest")


class Store(Protocol):
    """Where every paper lives. All methods are safe to call from one event loop."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Close every connection; safe to call twice."""

    async def ingest_day(self, list_date: date, papers: Sequence[Paper]) -> IngestResult:
        """Upsert one day's list in one transaction; say which papers are new."""

    async def upsert_paper(self, paper: Paper) -> bool:
        """Store a single paper (not on any list yet); True if it was new."""

    async def get_paper(self, paper_id: str) -> Listing | None:
        """A paper with its first list date and rank there, if stored."""

    async def day_listing(self, list_date: date) -> list[Listing]:
        """One day's list in HF's order."""

    async def list_dates(self, since: date | None = None, until: date | None = None) -> list[date]:
        """Dates that have a list, oldest first."""

    async def search(
        self,
        query: Query,
        *,
        since: date | None = None,
        until: date | None = None,
        min_upvotes: int | None = None,
        sort: Sort = "relevance",
        limit: int = 10,
        offset: int = 0,
    ) -> SearchPage:
        """Full-text search; raises QueryError for an empty or too broad query."""

    async def top_papers(self, since: date, until: date, limit: int = 10) -> list[Listing]:
        """The most upvoted papers first listed within [since, until]."""

    async def titles_starting(self, prefix: str, limit: int = 25) -> list[Listing]:
        """Papers whose title has a word starting with `prefix` (for autocomplete)."""

    async def record_scrape(self, run: ScrapeRun) -> None:
        """Remember how a scrape of one date went."""

    async def stats(self) -> StoreStats:
        """Counts for status reports."""

    async def get_meta(self, key: str) -> str | None:
        """A small named value (e.g. the hash of the last command sync)."""

    async def set_meta(self, key: str, value: str) -> None:
        """Set a small named value."""

    async def integrity_check(self) -> list[str]:
        """Problems found by the database's own check; empty when healthy."""

    def backup_target(self, destination: str) -> str:
        """The real path a backup to `destination` writes; BackupError if it is the store."""

    async def backup(self, destination: str) -> None:
        """An online, consistent copy of the store, put in place only once it is complete."""

    # -- digests ----------------------------------------------------------------------------

    async def save_subscription(self, sub: Subscription) -> None:
        """Create or update a channel's digest settings (clears a failing mark)."""

    async def remove_subscription(self, channel_id: int) -> bool:
        """Unsubscribe a channel; False if it was not subscribed."""

    async def get_subscription(self, channel_id: int) -> Subscription | None:
        """One channel's settings."""

    async def subscriptions(self, guild_id: int | None = None) -> list[Subscription]:
        """Every subscription, or one server's."""

    async def set_subscription_failing(self, channel_id: int, reason: str | None) -> None:
        """Mark a channel as failing (deleted, forbidden), or clear the mark."""

    async def delivery_states(self, list_date: date) -> dict[int, str]:
        """The outbox state of every channel's digest of one list."""

    async def get_delivery(self, channel_id: int, list_date: date) -> Delivery | None:
        """The outbox record of one digest."""

    async def start_delivery(
        self, channel_id: int, list_date: date, payloads: Sequence[str]
    ) -> Delivery:
        """Record the planned messages before sending; an existing record wins (resume)."""

    async def record_part_sent(
        self, channel_id: int, list_date: date, part: int, message_id: int
    ) -> None:
        """Remember that one planned message reached Discord."""

    async def finish_delivery(
        self, channel_id: int, list_date: date, state: str, error: str | None = None
    ) -> None:
        """Close a delivery as sent or failed."""

    # -- alerts -----------------------------------------------------------------------------

    async def add_alert(
        self,
        user_id: int,
        query: str,
        *,
        deliver: str = "dm",
        channel_id: int | None = None,
        guild_id: int | None = None,
    ) -> Alert:
        """Save an alert for a person."""

    def alerts_version(self) -> int:
        """Changes whenever the set of active alerts may have changed."""

    async def get_alert(self, alert_id: int) -> Alert | None:
        """One alert by id."""

    async def user_alerts(self, user_id: int) -> list[Alert]:
        """A person's alerts, oldest first."""

    async def remove_alert(self, user_id: int, alert_id: int) -> bool:
        """Delete one of a person's alerts; False if they have no such alert."""

    async def set_alert_muted(self, user_id: int, alert_id: int, muted: bool) -> bool:
        """Mute or unmute one of a person's alerts."""

    async def active_alerts(self) -> list[Alert]:
        """Alerts that can deliver now: not muted, owner not paused, DMs not refused."""

    async def alert_user(self, user_id: int) -> AlertUser:
        """A person's alert-wide state."""

    async def set_alerts_paused(self, user_id: int, paused: bool) -> None:
        """Pause or resume all of a person's alerts."""

    async def set_dm_blocked(self, user_id: int, reason: str | None) -> None:
        """Record that Discord refused a DM (pausing DM alerts), or clear it."""

    async def mark_dm_block_notified(self, user_id: int) -> None:
        """The person has been told why their DM alerts stopped."""

    async def set_channel_alerts_allowed(self, guild_id: int, allowed: bool) -> None:
        """Whether alerts may post (with a mention) in this server's channels."""

    async def channel_alerts_allowed(self, guild_id: int) -> bool:
        """Whether alerts may post in this server's channels."""

    async def unmatched_papers(self, limit: int = 1000) -> list[Paper]:
        """Papers that arrived but have not been matched against the alerts yet."""

    async def queue_alert_matches(
        self, paper_ids: Sequence[str], matches: Sequence[QueuedAlert]
    ) -> int:
        """Queue matches and mark the papers matched, in one transaction."""

    async def alert_outbox(self, now: datetime | None = None) -> list[QueuedAlert]:
        """Matches waiting to be delivered."""

    async def mark_alerts(
        self,
        user_id: int,
        paper_ids: Sequence[str],
        state: str,
        *,
        batch: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Move outbox rows to a new state."""

    # -- server settings ----------------------------------------------------------------------

    async def set_health_channel(self, guild_id: int, channel_id: int | None) -> None:
        """Where this server's health reports go (None: nowhere)."""

    async def health_channels(self) -> dict[int, int]:
        """Every server's health channel, by server."""

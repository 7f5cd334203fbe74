"""The store's whole public surface, one protocol per role; `Store` is all of them.

A new backend implements `Store` and nothing else changes. The rules a backend must keep
are in the docstrings below (the contract suite, tests/bot/store/, checks them):
- Times are stored as aware UTC; dates as calendar dates.
- Every method that writes does so in one transaction: all of it or none of it.
- "Merge" means: a field that is None or empty in the new data keeps the stored value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal, Protocol

from bot.models import (
    Alert,
    AlertChanges,
    AlertDeliver,
    AlertUser,
    Delivery,
    DeliveryState,
    Fence,
    IngestResult,
    Listing,
    OutboxRow,
    OutboxState,
    Paper,
    PeriodKind,
    QueuedAlert,
    ReadingEntry,
    SavedPaper,
    ScrapeRun,
    SearchPage,
    Sort,
    StoreStats,
    Subscription,
)
from bot.query import Query
from bot.store.cluster_roles import (
    PROCESS_GONE_SECONDS as PROCESS_GONE_SECONDS,
)
from bot.store.cluster_roles import (
    PROCESS_PRUNE_SECONDS as PROCESS_PRUNE_SECONDS,
)
from bot.store.cluster_roles import ClusterStore as ClusterStore
from bot.store.cluster_roles import GatewayStore as GatewayStore
from bot.store.deferred import DeferredPart
from bot.store.life_roles import HISTORY_DAYS as HISTORY_DAYS
from bot.store.life_roles import MAX_FOLLOWS as MAX_FOLLOWS
from bot.store.life_roles import MAX_WATCHES as MAX_WATCHES
from bot.store.life_roles import RISING_WATCH_DAYS as RISING_WATCH_DAYS
from bot.store.life_roles import WATCH_DAYS as WATCH_DAYS
from bot.store.life_roles import CorpusStore as CorpusStore
from bot.store.life_roles import FollowStore as FollowStore
from bot.store.life_roles import LifecycleStore as LifecycleStore

SORTS: tuple[Sort, ...] = ("relevance", "upvotes", "newest")
MAX_ALERTS = 25  # per person, enforced by add_alert
MAX_SAVED = 1_000  # papers in one person's library, enforced by save_paper
MAX_READING = 2_000  # entries on one server's reading list, enforced by add_reading


class PaperStore(Protocol):
    """Papers, the daily lists they were on, search and autocomplete."""

    async def ingest_day(self, list_date: date, papers: Sequence[Paper]) -> IngestResult:
        """Store one day's list in HF's order (rank = position, from 1), in one transaction.

        A paper listed twice counts once (the last copy). A stored paper is merged (None or
        empty keeps the old value); its first list date is the earliest date it was listed
        on; its rank on this day is replaced. `new` holds the ids never stored before (not
        even by upsert_paper), `updated` the stored papers whose fields or first date changed.
        A stored paper is marked to be matched against the alerts again (unmatched_papers)
        when its searchable text (title, abstract, keywords, authors) changed, or when it was
        first listed within the last 14 days and its upvotes rose past some alert's
        `min_upvotes` (old < min_upvotes <= new).
        """

    async def upsert_paper(self, paper: Paper) -> bool:
        """Store one paper looked up by id, on no list: merged like ingest_day, its first list
        date untouched. It is not new for alerts until a daily list has it. True if new."""

    async def get_paper(self, paper_id: str) -> Listing | None:
        """A stored paper with its first list date and its rank there (None and 0 when it was
        on no list); None if not stored."""

    async def day_listing(self, list_date: date) -> list[Listing]:
        """One day's list in rank order; each Listing carries that day and that day's rank."""

    async def list_dates(self, since: date | None = None, until: date | None = None) -> list[date]:
        """Dates with a stored list within [since, until] (open ends when None), oldest first."""

    async def search(
        self,
        query: Query,
        *,
        since: date | None = None,
        until: date | None = None,
        sort: Sort = "relevance",
        limit: int = 10,
        offset: int = 0,
    ) -> SearchPage:
        """One page of the papers matching `query` (as bot.text analyses words), filtered by
        first list date within [since, until].

        At least the newest RANK_WINDOW matches (by when stored) are ranked; by relevance a
        backend may rank older matches too (SQLite ranks every match by bm25 where it can
        afford to: see its `search`). `total` counts matches up to RANK_WINDOW, `capped`
        says there may be more (then a page may hold matches past `total`). Orders:
        relevance (title > keywords > authors > abstract), upvotes (then newest), newest (by
        first list date, then upvotes); papers on no list come last. Raises QueryError for
        an empty query or one that runs past the store's time budget ("too broad").
        """

    async def top_papers(self, since: date, until: date, limit: int = 10) -> list[Listing]:
        """The most upvoted papers whose first list date is within [since, until] (ties: the
        newer first), each with that date and its rank there."""

    async def titles_starting(
        self, prefix: str, limit: int = 25, *, within: float | None = None
    ) -> list[Listing]:
        """Papers with a title word starting with `prefix`, most upvoted first (autocomplete).
        Never raises for the input: [] for a prefix too short or too broad, or when the
        answer cannot come within `within` seconds."""

    async def matching_papers(
        self,
        query: Query,
        since: date,
        until: date,
        *,
        min_upvotes: int = 0,
        limit: int = 10,
    ) -> tuple[int, list[Listing]]:
        """How many papers whose first list date is within [since, until] and that have at
        least `min_upvotes` upvotes `query` matches, and the first `limit` of them: most
        upvoted first, then the newer list date, then the later stored (what /alert add and
        /alert test preview).

        The answer is exactly bot.matching.matches over those papers (the same analysed
        words; a phrase within one field, title, abstract, one keyword or one author name;
        OR groups, -excluded terms, author:), with no window and no time budget: it is
        found through the full-text index, never by reading every paper's text in Python.
        Raises QueryError for an empty query.
        """


class DigestStore(Protocol):
    """Channels' digest subscriptions and the digest outbox."""

    async def save_subscription(self, sub: Subscription) -> None:
        """Create or replace a channel's settings; `created_at` is set on creation only (the
        stored time is kept), and a failing mark is cleared. `frequency_since` is set on
        creation and whenever the frequency or the weekday changes (otherwise kept); the
        value passed in is ignored."""

    async def remove_subscription(self, channel_id: int) -> bool:
        """Unsubscribe a channel (its delivery records stay); False if it was not subscribed."""

    async def get_subscription(self, channel_id: int) -> Subscription | None:
        """One channel's settings, or None."""

    async def subscriptions(self, guild_id: int | None = None) -> list[Subscription]:
        """Every subscription, or one server's, by channel id."""

    async def set_subscription_failing(self, channel_id: int, reason: str | None) -> None:
        """Mark a channel as failing (deleted, forbidden) with why, or clear it with None.
        Nothing happens for a channel that is not subscribed."""

    # The outbox: one delivery per (channel, kind, list_date). `kind` 'day' is the digest of
    # one day's list, 'week' the weekly digest of the 7 days starting at `list_date`; the two
    # kinds never share a record, whatever the dates.
    # Fenced writes: every outbox write below takes an optional `fence` (a lease from
    # ClusterStore.claim_lease). With one, the write happens only if the fence's token is
    # still the lease's current token, checked and the lease extended in the write's own
    # transaction (the lease row stays locked to its end, so a takeover waits); otherwise
    # LeaseLost and nothing is written.

    async def delivery_states(
        self, list_date: date, *, kind: PeriodKind = "day"
    ) -> dict[int, DeliveryState]:
        """The state of every channel's delivery of one period, by channel (none: not
        started)."""

    async def get_delivery(
        self, channel_id: int, list_date: date, *, kind: PeriodKind = "day"
    ) -> Delivery | None:
        """The record of one channel's digest of one period, with its planned parts in
        order."""

    async def start_delivery(
        self,
        channel_id: int,
        list_date: date,
        parts: Sequence[tuple[str, str]],
        *,
        kind: PeriodKind = "day",
        fence: Fence | None = None,
    ) -> Delivery:
        """Record the planned (payload, nonce) messages, state 'sending', before any is sent.

        At most one delivery per (channel, kind, date): if one exists, in any state, it wins
        and is returned unchanged (a resume sends its stored parts with their stored nonces).
        """

    async def record_part_sent(
        self,
        channel_id: int,
        list_date: date,
        part: int,
        message_id: int,
        *,
        kind: PeriodKind = "day",
        fence: Fence | None = None,
    ) -> None:
        """One planned message reached Discord as `message_id`: it is done, never sent again."""

    async def record_part_refused(
        self,
        channel_id: int,
        list_date: date,
        part: int,
        *,
        kind: PeriodKind = "day",
        fence: Fence | None = None,
    ) -> None:
        """Discord refused this one message: it is done (`refused`), never sent again."""

    async def finish_delivery(
        self,
        channel_id: int,
        list_date: date,
        state: Literal["sent", "failed"],
        error: str | None = None,
        *,
        kind: PeriodKind = "day",
        fence: Fence | None = None,
    ) -> None:
        """Close a delivery: 'sending' moves to 'sent' (`error` may say what was left out) or
        'failed' (`error` says why). A closed delivery is never sent again."""


class AlertStore(Protocol):
    """Keyword alerts, their owners and servers, change tracking and the alert outbox.

    Every change that can change which alerts are active (adding, removing, muting an alert;
    pausing, a refused DM; a server's channel delivery) counts one alert change, in its own
    transaction: any process reading alerts_version() after it sees it.

    Matching again. A paper is matched against the active alerts once when first listed,
    and again when its matchable text (title, abstract, authors, AI keywords) changes or its
    upvotes cross a rising alert's threshold. The write that does either to a paper already
    matched (ingest_day, refresh_lists; upsert_paper changes text without marking) first
    keeps, in the same transaction, the text the paper was last matched with (matched_text;
    a second change before the re-match keeps the first kept text), and queue_alert_matches
    deletes it when it marks the paper matched. A re-match queues only the alerts the new
    text matches and the kept text does not, and the rising alerts the new text matches
    (they may have waited for upvotes). So:
    - a person gets a paper at most once, ever: the outbox keeps one row per (person, paper);
    - an alert gets a paper when the paper is first matched while the alert is active, or
      when a change makes the alert match a paper it did not match before. An alert added
      or unmuted after a paper's first match is not given that paper for a change the old
      text already matched (the /alert add path does not backfill either);
    - a crash after the write (kill -9 before or during the re-match) loses nothing: the
      paper stays unmatched with its kept text, and the re-match done again queues the same
      rows (those already queued are ignored).
    """

    async def add_alert(
        self,
        user_id: int,
        query: str,
        *,
        deliver: AlertDeliver = "dm",
        channel_id: int | None = None,
        guild_id: int | None = None,
        max_alerts: int = MAX_ALERTS,
        min_upvotes: int = 0,
    ) -> Alert:
        """Save an alert; AlertLimitError if the person already has `max_alerts` (checked in
        the same transaction, so concurrent adds never pass the cap together). With
        `min_upvotes` it is a rising alert: see LifecycleStore."""

    async def alerts_version(self) -> int:
        """A number that grows with every alert change (0 before any), seen by every process."""

    async def alert_changes(self, since: int) -> AlertChanges | None:
        """The alerts, people and servers changed after version `since`, up to the version it
        returns. None when the changes kept do not reach back that far (or `since` is not a
        version this store gave): read all active alerts again."""

    async def alerts_in(self, changes: AlertChanges) -> list[tuple[Alert, bool]]:
        """The existing alerts those changes touch (by id, owner or server), each with whether
        it is active; a removed alert is simply missing."""

    async def get_alert(self, alert_id: int) -> Alert | None:
        """One alert by id."""

    async def user_alerts(self, user_id: int) -> list[Alert]:
        """A person's alerts, oldest first."""

    async def remove_alert(self, user_id: int, alert_id: int) -> bool:
        """Delete one of a person's alerts; False if they have no such alert. Its queued
        matches are dropped when next claimed."""

    async def set_alert_muted(self, user_id: int, alert_id: int, muted: bool) -> bool:
        """Mute or unmute one of a person's alerts; False if they have no such alert."""

    async def active_alerts(self, *, after: int = 0, limit: int | None = None) -> list[Alert]:
        """Alerts that can deliver now, by id: not muted, owner not paused, a DM alert's owner
        not refusing DMs, a channel alert's server allowing channel delivery.

        A page of them: only ids above `after`, at most `limit` (None: all). Reading every
        alert a page at a time (`after` = the last id read) gives the same alerts as one read,
        as long as nothing changes meanwhile."""

    async def alert_user(self, user_id: int) -> AlertUser:
        """A person's alert-wide state (the defaults for someone never seen)."""

    async def set_alerts_paused(self, user_id: int, paused: bool) -> None:
        """Pause or resume all of a person's alerts."""

    async def set_dm_blocked(self, user_id: int, reason: str | None) -> None:
        """Record that Discord refused a DM (their DM alerts stop), or clear it with None;
        either way they are due a new notice (`dm_block_notified` back to False)."""

    async def mark_dm_block_notified(self, user_id: int) -> None:
        """The person has been told why their DM alerts stopped (not an alert change)."""

    async def set_channel_alerts_allowed(self, guild_id: int, allowed: bool) -> None:
        """Whether alerts may post (with a mention) in this server's channels."""

    async def channel_alerts_allowed(self, guild_id: int) -> bool:
        """Whether alerts may post in this server's channels (True unless turned off)."""

    async def unmatched_papers(self, limit: int = 1000) -> list[Paper]:
        """Papers on a daily list not yet matched against the alerts, oldest stored first. A
        paper only looked up by id waits until it first appears on a daily list."""

    async def queue_alert_matches(
        self, paper_ids: Sequence[str], matches: Sequence[QueuedAlert | OutboxRow]
    ) -> int:
        """In one transaction: queue `matches` and mark `paper_ids` matched (their kept
        matched_text is deleted: the stored text is now the one matched). One row per
        (person, paper) ever: a match for a pair already in the outbox, in any state, is
        ignored (the first queued wins; a row still kept by defer_alert_matches is not in
        the outbox yet). Returns how many rows were queued."""

    async def defer_alert_matches(
        self, paper_ids: Sequence[str], parts: Sequence[DeferredPart]
    ) -> int:
        """queue_alert_matches for many rows at once, packed (bot/store/deferred.py): in one
        transaction, keep `parts` and mark `paper_ids` matched. The rows reach alert_outbox
        only through expand_alert_matches. Returns how many rows were kept."""

    async def deferred_buckets(self) -> set[int]:
        """The buckets of people (deferred.bucket_of) that have kept rows."""

    async def expand_alert_matches(self) -> tuple[int, int] | None:
        """In one transaction: queue the kept rows of one bucket of people (the bucket of the
        oldest part kept), every part of that bucket in the order kept, as
        queue_alert_matches would (a pair already in the outbox is ignored: the first wins),
        and forget those parts. Each person's rows kept so far arrive in one call (a part
        committed by another process while the call runs waits for the next). Returns the
        bucket (deferred.bucket_of a person) and how many rows were queued, or None when
        nothing is kept."""

    async def alert_recipients(self, paper_ids: Sequence[str]) -> dict[str, set[int]]:
        """For each of these papers, the people who already have a row for it in the alert
        outbox, in any state (a paper nobody has is left out; rows still kept packed are not
        counted). A paper matched again queues only the people not in it
        (queue_alert_matches still ignores a pair already there)."""

    async def matched_text(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """Of these papers, each one with a kept text (see the class: a paper matched before
        whose text changed, or that is marked for its upvotes, since): the paper as stored,
        but with the title, abstract, authors and AI keywords it was last matched with. A
        paper left out is matched in full (its first match)."""

    async def alert_outbox(self, now: datetime | None = None) -> list[QueuedAlert]:
        """Rows to deliver at `now` (default: the store's clock): 'queued' or 'sending' (a run
        cut short), whose `retry_at` is unset or past; by person, target, queue time, paper."""

    async def claim_alerts(
        self, user_id: int, paper_ids: Sequence[str], batch: str, *, by_dm: bool
    ) -> list[QueuedAlert]:
        """Just before sending, in one transaction: rows that may no longer be sent move to
        'dropped' (alert removed or muted, owner paused, channel delivery off; for a row
        from a follow, whose alert_id is minus the follow's id: follow removed, owner
        paused); the rest of
        these 'queued'/'sending' rows move to 'sending' with nonce `batch` and are returned.
        When `by_dm` and the person refuses DMs, rows stay 'queued' and none are returned."""

    async def drop_unsendable_alerts(self) -> int:
        """Move every waiting row that may no longer be sent to 'dropped' (as claim_alerts
        would); returns how many."""

    async def mark_alerts(
        self,
        user_id: int,
        paper_ids: Sequence[str],
        state: OutboxState,
        *,
        batch: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Move outbox rows to `state`. `batch` None keeps the stored nonce. `retry_at` is
        when the row may be tried again (None: at once) and counts one failed attempt; a row
        moved without it does not count an attempt. Moving to 'sent' records when."""


class LibraryStore(Protocol):
    """People's libraries of saved papers and servers' shared reading lists.

    Both hold stored papers only (look a paper up and store it first), each paper at most
    once per person or server; lists come newest first (the order of adding, not the clock).
    """

    async def save_paper(self, user_id: int, paper_id: str, *, max_saved: int = MAX_SAVED) -> bool:
        """Save a stored paper to a person's library: True if saved now, False if it was
        already there. NotFoundError if the paper is not stored; LibraryLimitError if the
        library already holds `max_saved` papers (checked in the same transaction, so
        concurrent saves never pass the cap together)."""

    async def unsave_paper(self, user_id: int, paper_id: str) -> bool:
        """Take a paper out of a person's library; False if it was not in it."""

    async def library(self, user_id: int) -> list[SavedPaper]:
        """A person's saved papers, the latest saved first."""

    async def add_reading(
        self,
        guild_id: int,
        paper_id: str,
        added_by: int,
        note: str = "",
        *,
        max_entries: int = MAX_READING,
    ) -> bool:
        """Put a stored paper on a server's reading list: True if added now, False if it was
        already on it (its entry, note and adder are kept). NotFoundError if the paper is not
        stored; LibraryLimitError if the list already holds `max_entries` (checked in the
        same transaction)."""

    async def reading_entry(self, guild_id: int, paper_id: str) -> ReadingEntry | None:
        """One paper's entry on a server's reading list, or None."""

    async def remove_reading(
        self, guild_id: int, paper_id: str, *, added_by: int | None = None
    ) -> bool:
        """Take a paper off a server's reading list; with `added_by`, only if that person
        added it (checked in the same statement). False if nothing was removed."""

    async def reading_list(self, guild_id: int) -> list[ReadingEntry]:
        """A server's reading list, the latest added first."""


class SettingsStore(Protocol):
    """Bookkeeping and settings: scrape records, counts, named values, health channels."""

    async def record_scrape(self, run: ScrapeRun) -> None:
        """Remember how a scrape of one date went."""

    async def stats(self) -> StoreStats:
        """Counts for status reports; the last scrape and last success are the latest by
        finish time."""

    async def get_meta(self, key: str) -> str | None:
        """A small named value (e.g. the hash of the last command sync), or None."""

    async def set_meta(self, key: str, value: str) -> None:
        """Set a small named value, replacing the old one."""

    async def integrity_check(self) -> list[str]:
        """Problems found by the database's own checks; empty when healthy."""

    def backup_target(self, destination: str) -> str:
        """The real path a backup to `destination` writes (symlinks, relative paths and `..`
        resolved); BackupError if that is the store itself or one of its files."""

    async def backup(self, destination: str) -> None:
        """An online, consistent copy of the store, taken while it is in use, and put in place
        only once it is complete (a failed backup leaves the last good one as it was)."""

    async def set_health_channel(self, guild_id: int, channel_id: int | None) -> None:
        """Where this server's health reports go (None: nowhere)."""

    async def health_channels(self) -> dict[int, int]:
        """Every server's health channel, by server."""


class Store(
    PaperStore,
    DigestStore,
    AlertStore,
    LibraryStore,
    LifecycleStore,
    CorpusStore,
    FollowStore,
    SettingsStore,
    GatewayStore,
    ClusterStore,
    Protocol,
):
    """Where every paper lives. All methods are safe to call from one event loop."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Close every connection; safe to call twice."""


__all__ = [
    "HISTORY_DAYS",
    "MAX_ALERTS",
    "MAX_FOLLOWS",
    "MAX_READING",
    "MAX_SAVED",
    "MAX_WATCHES",
    "PROCESS_GONE_SECONDS",
    "PROCESS_PRUNE_SECONDS",
    "RISING_WATCH_DAYS",
    "SORTS",
    "WATCH_DAYS",
    "AlertStore",
    "ClusterStore",
    "CorpusStore",
    "DigestStore",
    "FollowStore",
    "LibraryStore",
    "LifecycleStore",
    "PaperStore",
    "SettingsStore",
    "Sort",
    "Store",
]

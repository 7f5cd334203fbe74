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
    Author,
    Climb,
    ClusterProcess,
    Delivery,
    DeliveryState,
    Fence,
    Follow,
    FollowMatch,
    IngestResult,
    Listing,
    OutboxRow,
    OutboxState,
    Paper,
    PeriodKind,
    QueuedAlert,
    ReadingEntry,
    RefreshResult,
    RisingChannel,
    RisingPost,
    SavedPaper,
    ScrapeRun,
    SearchPage,
    Sort,
    StoredProblem,
    StoreStats,
    Subscription,
    Watch,
)
from bot.query import Query

SORTS: tuple[Sort, ...] = ("relevance", "upvotes", "newest")
MAX_ALERTS = 25  # per person, enforced by add_alert
MAX_SAVED = 1_000  # papers in one person's library, enforced by save_paper
MAX_READING = 2_000  # entries on one server's reading list, enforced by add_reading
MAX_FOLLOWS = 50  # per person, enforced by add_follow


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

    async def active_alerts(self) -> list[Alert]:
        """Alerts that can deliver now, by id: not muted, owner not paused, a DM alert's owner
        not refusing DMs, a channel alert's server allowing channel delivery."""

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
        ignored (the first wins). Returns how many rows were queued."""

    async def alert_recipients(self, paper_ids: Sequence[str]) -> dict[str, set[int]]:
        """For each of these papers, the people who already have a row for it in the alert
        outbox, in any state (a paper nobody has is left out). A paper matched again queues
        only the people not in it (queue_alert_matches still ignores a pair already there)."""

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


MAX_WATCHES = 100  # code watches per person, enforced by add_watch
WATCH_DAYS = 90  # a code watch ends this long after it was made
HISTORY_DAYS = 30  # upvote history kept
RISING_WATCH_DAYS = 14  # a rising alert waits this long after a paper's first list date


class LifecycleStore(Protocol):
    """A paper's life after its list day: refreshes, upvote history, code watches and
    rising-paper channels with their outbox.

    A rising alert (`min_upvotes` > 0) queues a match only once the paper has that many
    upvotes and at most 14 days after its first list date; a paper crossing a threshold is
    marked unmatched again by the write that raised its upvotes (ingest_day, refresh_lists).
    """

    async def refresh_lists(
        self, lists: Sequence[tuple[date, Sequence[Paper]]], *, at: datetime
    ) -> RefreshResult:
        """Store lists read again, all of them in one transaction (all or nothing).

        Like ingest_day (first sight, ranks, first list dates, re-match marks), except that a
        stored paper's upvotes, comments, AI summary, AI keywords, GitHub repository and stars
        and project page take the new value even when it is None or empty: what Hugging Face
        removed is cleared. Records one upvote point per paper at `at` (a second point at the
        same time replaces the first) and deletes points older than HISTORY_DAYS before `at`.
        """

    async def upvote_gains(
        self, since: datetime, *, listed_since: date, limit: int = 10
    ) -> list[Climb]:
        """Papers first listed on or after `listed_since` by upvotes gained since `since`
        (most first, then most upvoted; only gains above 0): the gain is the upvotes now less
        the newest point at or before `since`, or, for a paper with none, its oldest point."""

    async def first_listed(self, paper_ids: Sequence[str]) -> dict[str, date]:
        """The first list date of each of these papers that was on a list."""

    async def climbs(self, paper_ids: Sequence[str]) -> dict[str, int]:
        """Each paper's upvotes now less its oldest recorded point (0 without points)."""

    async def add_watch(
        self, user_id: int, paper_id: str, *, max_watches: int = MAX_WATCHES
    ) -> bool:
        """Watch a paper for its code; False if this person already watches it (the old
        watch is kept). WatchLimitError when they already have `max_watches` active ones."""

    async def remove_watch(self, user_id: int, paper_id: str) -> bool:
        """Stop watching; False if they did not watch it."""

    async def user_watches(self, user_id: int, now: datetime) -> list[Watch]:
        """A person's active watches (not notified, made within WATCH_DAYS of `now`), oldest
        first."""

    async def queue_code_notices(self, now: datetime) -> int:
        """In one transaction: for each active watch whose paper now has a GitHub repository,
        queue one alert outbox row (paper_id `code_key(id)`, alert_id CODE_ALERT_ID, by DM)
        and mark the watch notified; delete watches older than WATCH_DAYS. A person gets the
        news of one paper's code once, ever. Returns how many rows were queued."""

    async def save_rising(self, channel: RisingChannel) -> None:
        """Create or replace a channel's rising-paper settings (`created_at` kept)."""

    async def remove_rising(self, channel_id: int) -> bool:
        """Stop a channel's rising posts (its post records stay); False if it had none."""

    async def rising_channels(self, guild_id: int | None = None) -> list[RisingChannel]:
        """Every rising channel, or one server's, by channel id."""

    async def rising_candidates(
        self, channel_id: int, threshold: int, listed_since: date, limit: int = 100
    ) -> list[Listing]:
        """Papers first listed on or after `listed_since` with at least `threshold` upvotes
        that have no post record in this channel, most upvoted first."""

    async def start_rising_post(
        self, channel_id: int, paper_id: str, payload: str, nonce: str
    ) -> RisingPost:
        """Record a planned post ('sending') before it is sent. One per (channel, paper),
        ever: an existing record, in any state, wins and is returned unchanged."""

    async def rising_outbox(self) -> list[RisingPost]:
        """Planned posts not yet done ('sending'), oldest first: resend them as recorded."""

    async def finish_rising_post(
        self, channel_id: int, paper_id: str, message_id: int | None, *, fence: Fence | None = None
    ) -> None:
        """A planned post is done: 'sent' as `message_id`, or 'dropped' (None: refused, or the
        channel is gone). Never sent again. With `fence`: only while its token is current, as
        the digest outbox's fenced writes (LeaseLost otherwise, nothing written)."""


class CorpusStore(Protocol):
    """Every stored paper in the order it was stored: what indexes built beside the store
    (More like this) read, and then read again from where they stopped."""

    async def stored_since(self, position: int, limit: int = 1000) -> list[tuple[int, Paper]]:
        """Up to `limit` papers stored after `position` (0: from the first), in the order
        they were first stored, each with its position (a number that only grows: a paper
        keeps its position when updated, a new paper gets a higher one)."""


class FollowStore(Protocol):
    """Who wrote each paper (with the HF accounts that claimed the credits) and the
    authors each person follows.

    ingest_day and upsert_paper keep the credits: a paper's authors in order, each with its
    HF username where the paper's `author_users` gives one. A paper stored again with
    authors replaces them (a credit keeps its account when the new data has none for the
    same name); one stored again without authors keeps them.
    An author is a name with an account, or a name without (the credits nobody claimed):
    two people of one name are told apart by their accounts. Names compare case-insensitively.
    A paper read back from the store has an empty `author_users`: the accounts live in the
    credits, read through the methods below.
    """

    async def authors_starting(self, prefix: str, limit: int = 25) -> list[Author]:
        """Authors whose name, or its last word, starts with `prefix` (case-insensitive),
        each with how many stored papers credit them, most papers first (then by name).
        [] for a blank prefix."""

    async def find_author(self, name: str, hf_user: str | None = None) -> Author | None:
        """The stored author of that name and account (None: the unclaimed credits of that
        name), with the number of papers; None if no stored paper credits them. With an
        account, the name only picks how it is shown: the account is the identity."""

    async def add_follow(
        self, user_id: int, author: Author, *, max_follows: int = MAX_FOLLOWS
    ) -> tuple[Follow, bool]:
        """Follow an author (by account when `author.hf_user` is set, else by name); returns
        the follow and False when the person already followed them (nothing changes).
        FollowLimitError if they already follow `max_follows` (checked in the same
        transaction)."""

    async def user_follows(self, user_id: int) -> list[Follow]:
        """A person's followed authors, oldest first (`papers` not counted: 0)."""

    async def remove_follow(self, user_id: int, follow_id: int) -> bool:
        """Stop following; False if the person has no such follow. Its queued papers are
        dropped when next claimed."""

    async def follow_matches(self, paper_ids: Sequence[str]) -> list[FollowMatch]:
        """Every (follow, paper) where a followed author is credited on one of these stored
        papers: an account follow matches the credits that account claimed, a name follow
        the unclaimed credits of that name. Leaves out people whose alerts are paused or
        whose DMs were refused. By person, paper, follow."""


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


class GatewayStore(Protocol):
    """Discord gateway bookkeeping every process of the bot shares."""

    async def identify_turn(self, bucket: int, interval: float) -> None:
        """Wait for this identify bucket's turn (Discord lets each bucket, `shard_id %
        max_concurrency`, start one session per few seconds, counted for the whole bot):
        return no sooner than `interval` seconds after the last turn of `bucket` returned,
        in any process sharing the store; turns of one bucket are taken one at a time.
        SQLite serves one process, so its turns are kept in memory."""


PROCESS_GONE_SECONDS = 30.0  # a process not seen for this long is shown as gone
PROCESS_PRUNE_SECONDS = 24 * 3600.0  # and its row is deleted after this long


class ClusterStore(Protocol):
    """The bot processes sharing this store, which one leads, delivery leases, and the health
    problems they report.

    Times that decide liveness and expiry are read on the store's clock (PostgreSQL's `now()`,
    the SQLite store's clock), so processes on hosts with different clocks agree.
    """

    async def register_process(self, process: ClusterProcess, *, live_within: float) -> None:
        """Record a starting process (a row of the same id is replaced; started_at and
        last_seen are the store's now). ClusterConfigError, nothing written, if a process
        seen within `live_within` seconds has another shard_count (checked in the same
        transaction, so two processes starting at once cannot both pass)."""

    async def process_heartbeat(self, process_id: str, *, leader: bool) -> bool:
        """The process is alive now and does (not) lead; False if its row is gone (pruned,
        or removed by `paperboy`): the caller registers again."""

    async def cluster_processes(self) -> list[ClusterProcess]:
        """Every registered process with its `age` (seconds since last seen), oldest start
        first. A process older than PROCESS_GONE_SECONDS is gone (its `leader` is stale)."""

    async def remove_process(self, process_id: str) -> None:
        """A process stops cleanly: forget it."""

    async def prune_processes(self, older_than: float) -> int:
        """Forget processes not seen for `older_than` seconds; returns how many."""

    async def lead(self, process_id: str) -> bool:
        """Become or stay the leader; True while this process leads (cheap enough to ask
        before each piece of leader-only work).

        PostgreSQL: a session-level advisory lock held on a connection of its own, never
        one of the pool's (the pool's reset would release it); each call checks that
        connection, and if it dropped, leadership is lost at once (False), and the next call
        tries again on a new connection. One process leads at a time; a killed leader's lock
        goes with its connection. SQLite (one process): always True. Never raises for a
        lost connection: False.
        """

    async def resign(self) -> None:
        """Stop leading (release the lock, close its connection); safe when not leading."""

    async def claim_lease(
        self, key: str, owner: str, seconds: float, *, take_from: str | None = None
    ) -> Fence | None:
        """Take the lease on `key` (e.g. one digest delivery) for `seconds`, or None if
        another owner holds it unexpired. Granted when there is none, when it expired, when
        `owner` already holds it, or when `take_from` (an owner known to be dead) holds it;
        each grant's token is greater than every token any lease had before, so a write
        fenced by an older grant fails (LeaseLost)."""

    async def lease_holder(self, key: str) -> str | None:
        """The owner of the unexpired lease on `key`, or None."""

    async def renew_lease(self, fence: Fence) -> bool:
        """Extend the lease by fence.seconds if fence.token is still current (even if it
        expired meanwhile: nobody took it); False if it was taken over or released."""

    async def release_lease(self, fence: Fence) -> None:
        """Give the lease up if fence.token is still current (others may claim it at once)."""

    async def report_problem(
        self, key: str, message: str, guild_id: int | None, since: datetime
    ) -> bool:
        """Record an ongoing problem; True only for the call that started it (the one that
        reports it), False while the same key is already recorded (its message is kept)."""

    async def clear_problem(self, key: str) -> StoredProblem | None:
        """End a problem: the one this call removed (the one call that reports it cleared),
        or None if it was not recorded."""

    async def health_problems(self) -> list[StoredProblem]:
        """Ongoing problems, oldest first."""


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

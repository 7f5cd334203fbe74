"""Store roles for a paper's life after its list day (refreshes, upvote history, code
watches, rising posts), the corpus in stored order, and followed authors; re-exported by
bot.store.base."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from bot.models import (
    Author,
    Climb,
    Fence,
    Follow,
    FollowMatch,
    Listing,
    Paper,
    RefreshResult,
    RisingChannel,
    RisingPost,
    Watch,
)

MAX_FOLLOWS = 50  # per person, enforced by add_follow
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

    def corpus_file(self) -> str | None:
        """The database file another process of this host may read the stored papers from
        (read-only, in `stored_since`'s order; bot.store.sqlite.corpus.read_stored_since),
        or None: a server's (read them through `stored_since`), or held in memory."""


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

"""A paper's life after its list day: refreshes, upvote history, code watches, rising posts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from bot.errors import WatchLimitError
from bot.models import (
    CODE_ALERT_ID,
    CODE_SUFFIX,
    DM,
    Climb,
    Fence,
    Listing,
    Paper,
    RefreshResult,
    RisingChannel,
    RisingPost,
    Watch,
)
from bot.store.base import HISTORY_DAYS, MAX_WATCHES, WATCH_DAYS
from bot.store.postgres.cluster import hold_fence
from bot.store.postgres.connection import (
    LOCK_NAMESPACE,
    PAPERS_LOCK,
    WATCH_LOCK,
    PostgresBase,
    keyed_lock,
    row_count,
)
from bot.store.postgres.papers import mark_rematch, write_day
from bot.store.postgres.rows import _PAPER_COLUMNS, _listing
from bot.store.rules import CLEARED

log = logging.getLogger(__name__)

_RISING_SELECT = "SELECT channel_id, guild_id, threshold, keywords, created_at FROM rising_channels"
_POST_SELECT = "SELECT channel_id, paper_id, payload, nonce, state, message_id FROM rising_posts"


def _seconds(value: datetime) -> datetime:
    """UTC, to the second, as the SQLite store keeps these times."""
    return value.astimezone(UTC).replace(microsecond=0)


class Lifecycle(PostgresBase):
    """Refreshes, upvote history, code watches, rising channels and their outbox."""

    async def refresh_lists(
        self, lists: Sequence[tuple[date, Sequence[Paper]]], *, at: datetime
    ) -> RefreshResult:
        """Store lists read again in one transaction, clearing what HF removed."""
        now, when = self._now(), _seconds(at)
        changed = rematch = found = 0
        new: list[str] = []
        points: dict[str, int] = {}
        async with self._transaction() as con:
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, PAPERS_LOCK)
            for day, papers in lists:
                written = await write_day(con, day, papers, now, clear=CLEARED)
                rematch += await mark_rematch(con, written, at)
                changed += written.result.updated
                found += written.result.found
                new += written.result.new
                points.update({p.id: p.upvotes for p in papers})
            await con.executemany(
                "INSERT INTO upvote_history (paper_id, at, upvotes) VALUES ($1, $2, $3)"
                " ON CONFLICT (paper_id, at) DO UPDATE SET upvotes = excluded.upvotes",
                [(paper_id, when, upvotes) for paper_id, upvotes in points.items()],
            )
            await con.execute(
                "DELETE FROM upvote_history WHERE at < $1", when - timedelta(days=HISTORY_DAYS)
            )
        return RefreshResult(found, changed, rematch, tuple(new))

    async def upvote_gains(
        self, since: datetime, *, listed_since: date, limit: int = 10
    ) -> list[Climb]:
        """The papers that gained the most upvotes since `since`."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS}, g.gain FROM papers p CROSS JOIN LATERAL"
            " (SELECT p.upvotes - coalesce("
            " (SELECT h.upvotes FROM upvote_history h WHERE h.paper_id = p.id AND h.at <= $1"
            "  ORDER BY h.at DESC LIMIT 1),"
            " (SELECT h.upvotes FROM upvote_history h WHERE h.paper_id = p.id"
            "  ORDER BY h.at LIMIT 1), p.upvotes) AS gain) g"
            " WHERE p.list_date >= $2 AND g.gain > 0"
            ' ORDER BY g.gain DESC, p.upvotes DESC, p.id COLLATE "C" LIMIT $3',
            (_seconds(since), listed_since, limit),
        )
        return [Climb(_listing(r), r[-1]) for r in rows]

    async def first_listed(self, paper_ids: Sequence[str]) -> dict[str, date]:
        """First list dates, by paper (papers on no list left out)."""
        rows = await self._all(
            "SELECT id, list_date FROM papers WHERE list_date IS NOT NULL AND id = ANY($1::text[])",
            (list(paper_ids),),
        )
        return {r[0]: r[1] for r in rows}

    async def climbs(self, paper_ids: Sequence[str]) -> dict[str, int]:
        """Upvotes now less the oldest recorded point, by paper."""
        found = dict.fromkeys(paper_ids, 0)
        rows = await self._all(
            "SELECT p.id, p.upvotes - (SELECT h.upvotes FROM upvote_history h"
            " WHERE h.paper_id = p.id ORDER BY h.at LIMIT 1)"
            " FROM papers p WHERE p.id = ANY($1::text[])",
            (list(paper_ids),),
        )
        found.update({r[0]: r[1] or 0 for r in rows})
        return found

    # -- code watches -------------------------------------------------------------------

    async def add_watch(
        self, user_id: int, paper_id: str, *, max_watches: int = MAX_WATCHES
    ) -> bool:
        """Watch a paper for its code; False if already watched. The cap is checked under a
        lock per person, so watches added at the same time never pass it together."""
        now = self._now()
        oldest = now - timedelta(days=WATCH_DAYS)
        async with self._transaction() as con:
            await keyed_lock(con, WATCH_LOCK, user_id)
            if await con.fetchval(
                "SELECT 1 FROM code_watches WHERE user_id = $1 AND paper_id = $2"
                " AND notified_at IS NULL AND created_at >= $3",
                user_id,
                paper_id,
                oldest,
            ):
                return False
            count = await con.fetchval(
                "SELECT count(*) FROM code_watches WHERE user_id = $1 AND notified_at IS NULL"
                " AND created_at >= $2",
                user_id,
                oldest,
            )
            if count >= max_watches:
                raise WatchLimitError(f"You already watch {max_watches} papers")
            # A watch that ended (notified or expired) may start again.
            await con.execute(
                "INSERT INTO code_watches (user_id, paper_id, created_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (user_id, paper_id)"
                " DO UPDATE SET created_at = excluded.created_at, notified_at = NULL",
                user_id,
                paper_id,
                now,
            )
        return True

    async def remove_watch(self, user_id: int, paper_id: str) -> bool:
        """Stop watching a paper; False if not watched."""
        status = await self.pool.execute(
            "DELETE FROM code_watches WHERE user_id = $1 AND paper_id = $2 AND notified_at IS NULL",
            user_id,
            paper_id,
        )
        return row_count(status) > 0

    async def user_watches(self, user_id: int, now: datetime) -> list[Watch]:
        """A person's active watches, oldest first."""
        rows = await self._all(
            "SELECT user_id, paper_id, created_at, notified_at FROM code_watches"
            " WHERE user_id = $1 AND notified_at IS NULL AND created_at >= $2"
            ' ORDER BY created_at, paper_id COLLATE "C"',
            (user_id, _seconds(now) - timedelta(days=WATCH_DAYS)),
        )
        return [Watch(*r) for r in rows]

    async def queue_code_notices(self, now: datetime) -> int:
        """Queue one DM per watcher of each watched paper that now has code."""
        at = _seconds(now)
        async with self._transaction() as con:
            await con.execute(
                "DELETE FROM code_watches WHERE created_at < $1", at - timedelta(days=WATCH_DAYS)
            )
            # Locked: a second process doing the same waits, then finds them notified.
            due = await con.fetch(
                "SELECT w.user_id, w.paper_id, p.github_repo FROM code_watches w"
                " JOIN papers p ON p.id = w.paper_id"
                " WHERE w.notified_at IS NULL AND coalesce(p.github_repo, '') <> ''"
                " ORDER BY w.user_id, w.paper_id FOR UPDATE OF w"
            )
            status = await con.execute(
                "INSERT INTO alert_outbox (user_id, paper_id, alert_id, reason, target,"
                " queued_at) SELECT u, p, $3, r, $4, $5"
                " FROM unnest($1::bigint[], $2::text[], $6::text[]) AS m (u, p, r)"
                " ON CONFLICT (user_id, paper_id) DO NOTHING",
                [r[0] for r in due],
                [r[1] + CODE_SUFFIX for r in due],
                CODE_ALERT_ID,
                str(DM),
                at,
                [f"💻 code is out: {r[2]}" for r in due],
            )
            queued = row_count(status)
            await con.executemany(
                "UPDATE code_watches SET notified_at = $1 WHERE user_id = $2 AND paper_id = $3",
                [(at, r[0], r[1]) for r in due],
            )
        if queued:
            log.info("queued %d code-released notices", queued)
        return queued

    # -- rising channels ----------------------------------------------------------------

    async def save_rising(self, channel: RisingChannel) -> None:
        """Create or replace a channel's rising settings."""
        await self.pool.execute(
            "INSERT INTO rising_channels (channel_id, guild_id, threshold, keywords,"
            " created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id) DO UPDATE SET"
            " guild_id = excluded.guild_id, threshold = excluded.threshold,"
            " keywords = excluded.keywords",
            channel.channel_id,
            channel.guild_id,
            channel.threshold,
            channel.keywords,
            self._now(),
        )

    async def remove_rising(self, channel_id: int) -> bool:
        """Stop a channel's rising posts."""
        status = await self.pool.execute(
            "DELETE FROM rising_channels WHERE channel_id = $1", channel_id
        )
        return row_count(status) > 0

    async def rising_channels(self, guild_id: int | None = None) -> list[RisingChannel]:
        """Every rising channel, or one server's."""
        if guild_id is None:
            rows = await self._all(f"{_RISING_SELECT} ORDER BY channel_id")
        else:
            rows = await self._all(
                f"{_RISING_SELECT} WHERE guild_id = $1 ORDER BY channel_id", (guild_id,)
            )
        return [RisingChannel(*r) for r in rows]

    async def rising_candidates(
        self, channel_id: int, threshold: int, listed_since: date, limit: int = 100
    ) -> list[Listing]:
        """Recent papers at or above the threshold not yet planned for this channel."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.list_date >= $1 AND p.upvotes >= $2"
            " AND NOT EXISTS (SELECT 1 FROM rising_posts r WHERE r.channel_id = $3"
            ' AND r.paper_id = p.id) ORDER BY p.upvotes DESC, p.id COLLATE "C" LIMIT $4',
            (listed_since, threshold, channel_id, limit),
        )
        return [_listing(r) for r in rows]

    async def start_rising_post(
        self, channel_id: int, paper_id: str, payload: str, nonce: str
    ) -> RisingPost:
        """Record a planned post; an existing record wins."""
        async with self._transaction() as con:
            await con.execute(
                "INSERT INTO rising_posts (channel_id, paper_id, payload, nonce, planned_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id, paper_id) DO NOTHING",
                channel_id,
                paper_id,
                payload,
                nonce,
                self._now(),
            )
            row = await con.fetchrow(
                f"{_POST_SELECT} WHERE channel_id = $1 AND paper_id = $2", channel_id, paper_id
            )
        return RisingPost(*row)

    async def rising_outbox(self) -> list[RisingPost]:
        """Planned posts not yet done, oldest first."""
        rows = await self._all(
            f"{_POST_SELECT} WHERE state = 'sending'"
            ' ORDER BY planned_at, channel_id, paper_id COLLATE "C"'
        )
        return [RisingPost(*r) for r in rows]

    async def finish_rising_post(
        self, channel_id: int, paper_id: str, message_id: int | None, *, fence: Fence | None = None
    ) -> None:
        """Close a planned post: sent, or dropped."""
        async with self._transaction() as con:
            if fence is not None:
                await hold_fence(con, fence)
            await con.execute(
                "UPDATE rising_posts SET state = $1, message_id = $2"
                " WHERE channel_id = $3 AND paper_id = $4 AND state = 'sending'",
                "sent" if message_id is not None else "dropped",
                message_id,
                channel_id,
                paper_id,
            )

"""A paper's life after its list day: refreshes, upvote history, code watches, rising posts."""

from __future__ import annotations

import json
import logging
import sqlite3
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
from bot.store.rules import CLEARED
from bot.store.sqlite.cluster import hold_fence
from bot.store.sqlite.connection import SQLiteBase
from bot.store.sqlite.day_write import mark_rematch, write_day
from bot.store.sqlite.rows import _PAPER_COLUMNS, _dt, _listing

log = logging.getLogger(__name__)

_RISING_SELECT = "SELECT channel_id, guild_id, threshold, keywords, created_at FROM rising_channels"
_POST_SELECT = "SELECT channel_id, paper_id, payload, nonce, state, message_id FROM rising_posts"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


class Lifecycle(SQLiteBase):
    """Refreshes, upvote history, code watches, rising channels and their outbox."""

    async def refresh_lists(
        self, lists: Sequence[tuple[date, Sequence[Paper]]], *, at: datetime
    ) -> RefreshResult:
        """Store lists read again in one transaction, clearing what HF removed."""
        now, when = self._now(), _iso(at)

        def refresh(db: sqlite3.Connection) -> RefreshResult:
            heads = frozenset(self._heads_words)  # as now, under the write lock
            changed = rematch = found = 0
            new: list[str] = []
            points: dict[str, int] = {}
            for day, papers in lists:
                written = write_day(db, day, papers, now, clear=CLEARED, heads=heads)
                rematch += mark_rematch(db, written, at)
                changed += written.result.updated
                found += written.result.found
                new += written.result.new
                points.update({p.id: p.upvotes for p in papers})
            db.executemany(
                "INSERT INTO upvote_history (paper_id, at, upvotes) VALUES (?, ?, ?)"
                " ON CONFLICT (paper_id, at) DO UPDATE SET upvotes = excluded.upvotes",
                [(paper_id, when, upvotes) for paper_id, upvotes in points.items()],
            )
            db.execute(
                "DELETE FROM upvote_history WHERE at < ?",
                (_iso(at - timedelta(days=HISTORY_DAYS)),),
            )
            return RefreshResult(found, changed, rematch, tuple(new))

        return await self._write(refresh)

    async def upvote_gains(
        self, since: datetime, *, listed_since: date, limit: int = 10
    ) -> list[Climb]:
        """The papers that gained the most upvotes since `since`."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS}, p.upvotes - coalesce("
            " (SELECT h.upvotes FROM upvote_history h WHERE h.paper_id = p.id AND h.at <= ?"
            "  ORDER BY h.at DESC LIMIT 1),"
            " (SELECT h.upvotes FROM upvote_history h WHERE h.paper_id = p.id"
            "  ORDER BY h.at LIMIT 1), p.upvotes) AS gain"
            " FROM papers p WHERE p.list_date >= ? AND gain > 0"
            " ORDER BY gain DESC, p.upvotes DESC, p.id LIMIT ?",
            (_iso(since), listed_since.isoformat(), limit),
        )
        return [Climb(_listing(r), r[-1]) for r in rows]

    async def first_listed(self, paper_ids: Sequence[str]) -> dict[str, date]:
        """First list dates, by paper (papers on no list left out)."""
        rows = await self._all(
            "SELECT id, list_date FROM papers WHERE list_date IS NOT NULL"
            " AND id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(paper_ids)),),
        )
        return {r[0]: date.fromisoformat(r[1]) for r in rows}

    async def climbs(self, paper_ids: Sequence[str]) -> dict[str, int]:
        """Upvotes now less the oldest recorded point, by paper."""
        found = dict.fromkeys(paper_ids, 0)
        for start in range(0, len(paper_ids), 500):
            chunk = list(paper_ids[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            rows = await self._all(
                "SELECT p.id, p.upvotes - (SELECT h.upvotes FROM upvote_history h"
                " WHERE h.paper_id = p.id ORDER BY h.at LIMIT 1)"
                f" FROM papers p WHERE p.id IN ({marks})",
                chunk,
            )
            found.update({r[0]: r[1] or 0 for r in rows})
        return found

    # -- code watches -------------------------------------------------------------------

    async def add_watch(
        self, user_id: int, paper_id: str, *, max_watches: int = MAX_WATCHES
    ) -> bool:
        """Watch a paper for its code; False if already watched."""
        now = self._clock()
        async with self._transaction() as db:
            exists = await self._one(
                "SELECT 1 FROM code_watches WHERE user_id = ? AND paper_id = ?"
                " AND notified_at IS NULL AND created_at >= ?",
                (user_id, paper_id, _iso(now - timedelta(days=WATCH_DAYS))),
                db,
            )
            if exists:
                return False
            (count,) = await self._one(
                "SELECT count(*) FROM code_watches WHERE user_id = ? AND notified_at IS NULL"
                " AND created_at >= ?",
                (user_id, _iso(now - timedelta(days=WATCH_DAYS))),
                db,
            )
            if count >= max_watches:
                raise WatchLimitError(f"You already watch {max_watches} papers")
            # A watch that ended (notified or expired) may start again.
            await db.execute(
                "INSERT INTO code_watches (user_id, paper_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id, paper_id)"
                " DO UPDATE SET created_at = excluded.created_at, notified_at = NULL",
                (user_id, paper_id, _iso(now)),
            )
        return True

    async def remove_watch(self, user_id: int, paper_id: str) -> bool:
        """Stop watching a paper; False if not watched."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM code_watches WHERE user_id = ? AND paper_id = ?"
                " AND notified_at IS NULL",
                (user_id, paper_id),
            )
        return cursor.rowcount > 0

    async def user_watches(self, user_id: int, now: datetime) -> list[Watch]:
        """A person's active watches, oldest first."""
        rows = await self._all(
            "SELECT user_id, paper_id, created_at, notified_at FROM code_watches"
            " WHERE user_id = ? AND notified_at IS NULL AND created_at >= ?"
            " ORDER BY created_at, paper_id",
            (user_id, _iso(now - timedelta(days=WATCH_DAYS))),
        )
        return [Watch(r[0], r[1], datetime.fromisoformat(r[2]), _dt(r[3])) for r in rows]

    async def queue_code_notices(self, now: datetime) -> int:
        """Queue one DM per watcher of each watched paper that now has code."""
        at = _iso(now)
        oldest = _iso(now - timedelta(days=WATCH_DAYS))
        async with self._transaction() as db:
            await db.execute("DELETE FROM code_watches WHERE created_at < ?", (oldest,))
            due = await db.execute_fetchall(
                "SELECT w.user_id, w.paper_id, p.github_repo FROM code_watches w"
                " JOIN papers p ON p.id = w.paper_id"
                " WHERE w.notified_at IS NULL AND coalesce(p.github_repo, '') <> ''"
            )
            before = db.total_changes
            await db.executemany(
                "INSERT INTO alert_outbox (user_id, paper_id, alert_id, reason, target,"
                " queued_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, paper_id) DO NOTHING",
                [
                    (u, p + CODE_SUFFIX, CODE_ALERT_ID, f"💻 code is out: {repo}", DM, at)
                    for u, p, repo in due
                ],
            )
            queued = db.total_changes - before
            await db.executemany(
                "UPDATE code_watches SET notified_at = ? WHERE user_id = ? AND paper_id = ?",
                [(at, u, p) for u, p, _ in due],
            )
        if queued:
            log.info("queued %d code-released notices", queued)
        return queued

    # -- rising channels ----------------------------------------------------------------

    async def save_rising(self, channel: RisingChannel) -> None:
        """Create or replace a channel's rising settings."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO rising_channels (channel_id, guild_id, threshold, keywords,"
                " created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET"
                " guild_id = excluded.guild_id, threshold = excluded.threshold,"
                " keywords = excluded.keywords",
                (
                    channel.channel_id,
                    channel.guild_id,
                    channel.threshold,
                    channel.keywords,
                    self._now(),
                ),
            )

    async def remove_rising(self, channel_id: int) -> bool:
        """Stop a channel's rising posts."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM rising_channels WHERE channel_id = ?", (channel_id,)
            )
        return cursor.rowcount > 0

    async def rising_channels(self, guild_id: int | None = None) -> list[RisingChannel]:
        """Every rising channel, or one server's."""
        if guild_id is None:
            rows = await self._all(f"{_RISING_SELECT} ORDER BY channel_id")
        else:
            rows = await self._all(
                f"{_RISING_SELECT} WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
            )
        return [RisingChannel(r[0], r[1], r[2], r[3], _dt(r[4])) for r in rows]

    async def rising_candidates(
        self, channel_id: int, threshold: int, listed_since: date, limit: int = 100
    ) -> list[Listing]:
        """Recent papers at or above the threshold not yet planned for this channel."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.list_date >= ? AND p.upvotes >= ?"
            " AND NOT EXISTS (SELECT 1 FROM rising_posts r WHERE r.channel_id = ?"
            " AND r.paper_id = p.id) ORDER BY p.upvotes DESC, p.id LIMIT ?",
            (listed_since.isoformat(), threshold, channel_id, limit),
        )
        return [_listing(r) for r in rows]

    async def start_rising_post(
        self, channel_id: int, paper_id: str, payload: str, nonce: str
    ) -> RisingPost:
        """Record a planned post; an existing record wins."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO rising_posts (channel_id, paper_id, payload, nonce, planned_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, paper_id) DO NOTHING",
                (channel_id, paper_id, payload, nonce, self._now()),
            )
            row = await self._one(
                f"{_POST_SELECT} WHERE channel_id = ? AND paper_id = ?",
                (channel_id, paper_id),
                db,
            )
        return RisingPost(*row)

    async def rising_outbox(self) -> list[RisingPost]:
        """Planned posts not yet done, oldest first."""
        rows = await self._all(
            f"{_POST_SELECT} WHERE state = 'sending' ORDER BY planned_at, channel_id, paper_id"
        )
        return [RisingPost(*r) for r in rows]

    async def finish_rising_post(
        self, channel_id: int, paper_id: str, message_id: int | None, *, fence: Fence | None = None
    ) -> None:
        """Close a planned post: sent, or dropped."""
        async with self._transaction() as db:
            if fence is not None:
                await hold_fence(db, fence, self._clock())
            await db.execute(
                "UPDATE rising_posts SET state = ?, message_id = ?"
                " WHERE channel_id = ? AND paper_id = ? AND state = 'sending'",
                ("sent" if message_id is not None else "dropped", message_id, channel_id, paper_id),
            )

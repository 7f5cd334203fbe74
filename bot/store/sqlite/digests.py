"""Digest subscriptions and the digest outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

from aiosqlite import Connection

from bot.models import (
    Delivery,
    DeliveryState,
    Fence,
    PeriodKind,
    Subscription,
)
from bot.store.sqlite.cluster import hold_fence
from bot.store.sqlite.connection import SQLiteBase
from bot.store.sqlite.rows import _SUBSCRIPTION_SELECT, REFUSED_ID, _part, _subscription


class Digests(SQLiteBase):
    """Digest subscriptions and the digest outbox."""

    async def save_subscription(self, sub: Subscription) -> None:
        """Create or update a channel's digest settings (clears a failing mark)."""
        now = self._now()
        async with self._transaction() as db:
            # Every SET expression reads the row as it was: frequency_since moves only when
            # the frequency or weekday changes.
            await db.execute(
                "INSERT INTO digest_subscriptions (channel_id, guild_id, post_time, timezone, top,"
                " min_upvotes, keywords, threads, created_at, frequency, weekday, style,"
                " frequency_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel_id) DO UPDATE SET guild_id = excluded.guild_id,"
                " post_time = excluded.post_time, timezone = excluded.timezone,"
                " top = excluded.top, min_upvotes = excluded.min_upvotes,"
                " keywords = excluded.keywords, threads = excluded.threads,"
                " failing_reason = NULL, failing_since = NULL,"
                " frequency = excluded.frequency, weekday = excluded.weekday,"
                " style = excluded.style,"
                " frequency_since = CASE WHEN frequency = excluded.frequency"
                " AND weekday = excluded.weekday THEN frequency_since"
                " ELSE excluded.frequency_since END",
                (
                    sub.channel_id,
                    sub.guild_id,
                    sub.post_time,
                    sub.timezone,
                    sub.top,
                    sub.min_upvotes,
                    sub.keywords,
                    int(sub.threads),
                    now,
                    sub.frequency,
                    sub.weekday,
                    sub.style,
                    now,
                ),
            )

    async def remove_subscription(self, channel_id: int) -> bool:
        """Unsubscribe a channel; False if it was not subscribed."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM digest_subscriptions WHERE channel_id = ?", (channel_id,)
            )
            return cursor.rowcount > 0

    async def get_subscription(self, channel_id: int) -> Subscription | None:
        """One channel's settings."""
        row = await self._one(f"{_SUBSCRIPTION_SELECT} WHERE channel_id = ?", (channel_id,))
        return _subscription(row) if row else None

    async def subscriptions(self, guild_id: int | None = None) -> list[Subscription]:
        """Every subscription, or one server's, in channel order."""
        if guild_id is None:
            rows = await self._all(f"{_SUBSCRIPTION_SELECT} ORDER BY channel_id")
        else:
            rows = await self._all(
                f"{_SUBSCRIPTION_SELECT} WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
            )
        return [_subscription(r) for r in rows]

    async def set_subscription_failing(self, channel_id: int, reason: str | None) -> None:
        """Mark a channel as failing (deleted, forbidden), or clear the mark."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digest_subscriptions SET failing_reason = ?,"
                " failing_since = CASE WHEN ? IS NULL THEN NULL"
                " ELSE coalesce(failing_since, ?) END WHERE channel_id = ?",
                (reason, reason, self._now(), channel_id),
            )

    async def delivery_states(
        self, list_date: date, *, kind: PeriodKind = "day"
    ) -> dict[int, DeliveryState]:
        """The outbox state of every channel's digest of one period, in one query."""
        rows = await self._all(
            "SELECT channel_id, state FROM digest_deliveries WHERE kind = ? AND list_date = ?",
            (kind, list_date.isoformat()),
        )
        return {r[0]: r[1] for r in rows}

    async def get_delivery(
        self,
        channel_id: int,
        list_date: date,
        *,
        kind: PeriodKind = "day",
        _db: Connection | None = None,
    ) -> Delivery | None:
        """The outbox record of one digest, with its planned parts."""
        key = (channel_id, kind, list_date.isoformat())
        row = await self._one(
            "SELECT state, error FROM digest_deliveries"
            " WHERE channel_id = ? AND kind = ? AND list_date = ?",
            key,
            _db,
        )
        if row is None:
            return None
        parts = await self._all(
            "SELECT part, payload, nonce, message_id FROM digest_parts"
            " WHERE channel_id = ? AND kind = ? AND list_date = ? ORDER BY part",
            key,
            _db,
        )
        return Delivery(channel_id, list_date, row[0], tuple(_part(p) for p in parts), row[1], kind)

    async def start_delivery(
        self,
        channel_id: int,
        list_date: date,
        parts: Sequence[tuple[str, str]],
        *,
        kind: PeriodKind = "day",
        fence: Fence | None = None,
    ) -> Delivery:
        """Record the planned (payload, nonce) messages before sending; an existing record
        wins (resume, with its stored nonces)."""
        day = list_date.isoformat()
        async with self._transaction() as db:
            if fence is not None:
                await hold_fence(db, fence, self._clock())
            cursor = await db.execute(
                "INSERT INTO digest_deliveries (channel_id, kind, list_date, state, started_at)"
                " VALUES (?, ?, ?, 'sending', ?) ON CONFLICT DO NOTHING",
                (channel_id, kind, day, self._now()),
            )
            if cursor.rowcount:
                await db.executemany(
                    "INSERT INTO digest_parts (channel_id, kind, list_date, part, payload, nonce)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (channel_id, kind, day, n, payload, nonce)
                        for n, (payload, nonce) in enumerate(parts)
                    ],
                )
            # Read back inside the transaction, on the writer: what was just written.
            delivery = await self.get_delivery(channel_id, list_date, kind=kind, _db=db)
        assert delivery is not None
        return delivery

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
        """Remember that one planned message reached Discord."""
        async with self._transaction() as db:
            if fence is not None:
                await hold_fence(db, fence, self._clock())
            await db.execute(
                "UPDATE digest_parts SET message_id = ?"
                " WHERE channel_id = ? AND kind = ? AND list_date = ? AND part = ?",
                (message_id, channel_id, kind, list_date.isoformat(), part),
            )

    async def record_part_refused(
        self,
        channel_id: int,
        list_date: date,
        part: int,
        *,
        kind: PeriodKind = "day",
        fence: Fence | None = None,
    ) -> None:
        """Discord refused this one message: stored as message id REFUSED_ID, not sent again."""
        await self.record_part_sent(channel_id, list_date, part, REFUSED_ID, kind=kind, fence=fence)

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
        """Close a delivery as sent or failed."""
        async with self._transaction() as db:
            if fence is not None:
                await hold_fence(db, fence, self._clock())
            await db.execute(
                "UPDATE digest_deliveries SET state = ?, error = ?, finished_at = ?"
                " WHERE channel_id = ? AND kind = ? AND list_date = ?",
                (state, error, self._now(), channel_id, kind, list_date.isoformat()),
            )

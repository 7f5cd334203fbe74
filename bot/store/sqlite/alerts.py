"""Alerts, their owners' and servers' settings, change tracking and the alert outbox."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiosqlite import Connection

from bot.errors import AlertLimitError
from bot.models import (
    Alert,
    AlertChanges,
    AlertDeliver,
    AlertUser,
    OutboxRow,
    OutboxState,
    Paper,
    QueuedAlert,
)
from bot.store.base import MAX_ALERTS
from bot.store.deferred import DeferredPart, queued_rows
from bot.store.rules import changes_since
from bot.store.sqlite.connection import SQLiteBase
from bot.store.sqlite.rows import (
    _ALERT_COLUMNS,
    _ALERT_SELECT,
    _PAPER_COLUMNS,
    _QUEUED_COLUMNS,
    _alert,
    _listing,
    _queued,
)

_ALERT_JOINS = (
    " FROM alerts a LEFT JOIN alert_users u ON u.user_id = a.user_id"
    " LEFT JOIN alert_guilds g ON g.guild_id = a.guild_id"
)
# Queued rows that may no longer be sent: their alert was removed or muted, its owner paused,
# or its server turned channel delivery off.
# A followed author's paper (alert_id: minus the follow's id): the follow was removed, or
# its owner paused.
_DROP_UNSENDABLE = (
    "UPDATE alert_outbox SET state = 'dropped' WHERE state IN ('queued', 'sending')"
    " AND alert_id <> 0"  # a watched paper's code news (alert 0) belongs to no alert
    " AND CASE WHEN alert_outbox.alert_id < 0 THEN NOT EXISTS (SELECT 1 FROM follows f"
    " LEFT JOIN alert_users u ON u.user_id = f.user_id WHERE f.id = -alert_outbox.alert_id"
    " AND coalesce(u.paused, 0) = 0)"
    f" ELSE NOT EXISTS (SELECT 1{_ALERT_JOINS} WHERE a.id = alert_outbox.alert_id"
    " AND a.muted = 0 AND coalesce(u.paused, 0) = 0"
    " AND NOT (a.deliver = 'here' AND coalesce(g.channel_delivery, 1) = 0)) END"
)
# An alert is active (matched and delivered) unless muted, its owner paused, its DM target
# refused, or its server turned channel delivery off.
_ACTIVE = (
    "(a.muted = 0 AND coalesce(u.paused, 0) = 0"
    " AND NOT (a.deliver = 'dm' AND u.dm_blocked IS NOT NULL)"
    " AND NOT (a.deliver = 'here' AND coalesce(g.channel_delivery, 1) = 0))"
)

log = logging.getLogger(__name__)

ALERT_LOG_SIZE = 10_000  # alert changes kept (in alert_changes) for incremental re-reads


class Alerts(SQLiteBase):
    """Alerts, the people who own them, change tracking and the alert outbox."""

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
        """Save an alert for a person; AlertLimitError if they already have `max_alerts`.

        The count and the insert are one statement in the write transaction, so adds that
        run at the same time can never pass the cap together.
        """
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT INTO alerts (user_id, query, deliver, channel_id, guild_id, created_at,"
                " min_upvotes) SELECT ?, ?, ?, ?, ?, ?, ?"
                " WHERE (SELECT count(*) FROM alerts WHERE user_id = ?) < ?",
                (
                    user_id,
                    query,
                    deliver,
                    channel_id,
                    guild_id,
                    self._now(),
                    min_upvotes,
                    user_id,
                    max_alerts,
                ),
            )
            if cursor.rowcount == 0:
                raise AlertLimitError(f"You already have {max_alerts} alerts")
            alert_id = cursor.lastrowid
            row = await self._one(f"{_ALERT_SELECT} WHERE id = ?", (alert_id,), db)
            await self._alert_changed(db, "alert", row[0])
        return _alert(row)

    async def _alert_changed(self, db: Connection, kind: str, key: int) -> None:
        """Count a change, in the transaction that makes it: a process that reads the new
        version then also reads the new rows. Only the latest ALERT_LOG_SIZE are kept."""
        await db.execute(
            "INSERT INTO alert_changes (kind, key, changed_at) VALUES (?, ?, ?)",
            (kind, key, self._now()),
        )
        await db.execute(
            "DELETE FROM alert_changes WHERE seq <= last_insert_rowid() - ?", (ALERT_LOG_SIZE,)
        )

    async def alerts_version(self) -> int:
        """The number of the latest alert change (0 before any), from the database."""
        (version,) = await self._one("SELECT coalesce(max(seq), 0) FROM alert_changes")
        return int(version)

    async def alert_changes(self, since: int) -> AlertChanges | None:
        """What changed after version `since`; None when the kept changes no longer reach
        back to it, or it is not a version of this store (such as -1, before a first load)."""
        # One statement, so one snapshot: the bounds and the rows agree.
        rows = await self._all(
            "SELECT b.oldest, b.newest, c.kind, c.key FROM (SELECT min(seq) AS oldest,"
            " coalesce(max(seq), 0) AS newest FROM alert_changes) AS b"
            " LEFT JOIN alert_changes c ON c.seq > ?",
            (since,),
        )
        oldest, version = rows[0][0], rows[0][1]
        touched = [(kind, key) for *_, kind, key in rows if kind is not None]
        return changes_since(since, oldest, version, touched)

    async def alerts_in(self, changes: AlertChanges) -> list[tuple[Alert, bool]]:
        """The alerts those changes touch (by id, owner or server), each with whether it is
        active; a removed alert is simply missing."""
        parts, params = [], []
        for column, ids in (
            ("a.id", changes.alert_ids),
            ("a.user_id", changes.user_ids),
            ("a.guild_id", changes.guild_ids),
        ):
            if ids:
                parts.append(
                    f"SELECT {_ALERT_COLUMNS}, {_ACTIVE}{_ALERT_JOINS}"
                    f" WHERE {column} IN (SELECT value FROM json_each(?))"
                )
                params.append(json.dumps(sorted(ids)))
        if not parts:
            return []
        rows = await self._all(" UNION ".join(parts), params)
        return [(_alert(r), bool(r[9])) for r in rows]

    async def get_alert(self, alert_id: int) -> Alert | None:
        """One alert by id."""
        row = await self._one(f"{_ALERT_SELECT} WHERE id = ?", (alert_id,))
        return _alert(row) if row else None

    async def user_alerts(self, user_id: int) -> list[Alert]:
        """A person's alerts, oldest first."""
        rows = await self._all(f"{_ALERT_SELECT} WHERE user_id = ? ORDER BY id", (user_id,))
        return [_alert(r) for r in rows]

    async def remove_alert(self, user_id: int, alert_id: int) -> bool:
        """Delete one of a person's alerts; False if they have no such alert."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM alerts WHERE id = ? AND user_id = ?", (alert_id, user_id)
            )
            if cursor.rowcount > 0:
                await self._alert_changed(db, "alert", alert_id)
        return cursor.rowcount > 0

    async def set_alert_muted(self, user_id: int, alert_id: int, muted: bool) -> bool:
        """Mute or unmute one of a person's alerts; False if they have no such alert."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE alerts SET muted = ? WHERE id = ? AND user_id = ?",
                (int(muted), alert_id, user_id),
            )
            if cursor.rowcount > 0:
                await self._alert_changed(db, "alert", alert_id)
        return cursor.rowcount > 0

    async def active_alerts(self, *, after: int = 0, limit: int | None = None) -> list[Alert]:
        """Alerts that can deliver now: not muted, owner not paused, DMs not refused."""
        rows = await self._all(
            f"SELECT {_ALERT_COLUMNS}{_ALERT_JOINS} WHERE {_ACTIVE} AND a.id > ?"
            " ORDER BY a.id LIMIT ?",
            (after, -1 if limit is None else limit),
        )
        return [_alert(r) for r in rows]

    async def alert_user(self, user_id: int) -> AlertUser:
        """A person's alert-wide state (defaults if they never had any)."""
        row = await self._one(
            "SELECT paused, dm_blocked, dm_block_notified FROM alert_users WHERE user_id = ?",
            (user_id,),
        )
        if row is None:
            return AlertUser(user_id)
        return AlertUser(user_id, bool(row[0]), row[1], bool(row[2]))

    async def _set_user(
        self, user_id: int, assignments: str, params: Sequence[Any], *, change: bool = True
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO alert_users (user_id) VALUES (?) ON CONFLICT DO NOTHING", (user_id,)
            )
            await db.execute(
                f"UPDATE alert_users SET {assignments} WHERE user_id = ?", (*params, user_id)
            )
            if change:
                await self._alert_changed(db, "user", user_id)

    async def set_alerts_paused(self, user_id: int, paused: bool) -> None:
        """Pause or resume all of a person's alerts."""
        await self._set_user(user_id, "paused = ?", (int(paused),))

    async def set_dm_blocked(self, user_id: int, reason: str | None) -> None:
        """Record that Discord refused a DM (pausing DM alerts), or clear it."""
        await self._set_user(user_id, "dm_blocked = ?, dm_block_notified = 0", (reason,))

    async def mark_dm_block_notified(self, user_id: int) -> None:
        """The person has been told why their DM alerts stopped (not an alert change)."""
        await self._set_user(user_id, "dm_block_notified = 1", (), change=False)

    async def set_channel_alerts_allowed(self, guild_id: int, allowed: bool) -> None:
        """Whether alerts may post (with a mention) in this server's channels."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO alert_guilds (guild_id, channel_delivery) VALUES (?, ?)"
                " ON CONFLICT (guild_id)"
                " DO UPDATE SET channel_delivery = excluded.channel_delivery",
                (guild_id, int(allowed)),
            )
            await self._alert_changed(db, "guild", guild_id)

    async def channel_alerts_allowed(self, guild_id: int) -> bool:
        """Whether alerts may post in this server's channels (yes unless turned off)."""
        row = await self._one(
            "SELECT channel_delivery FROM alert_guilds WHERE guild_id = ?", (guild_id,)
        )
        return bool(row[0]) if row else True

    async def unmatched_papers(self, limit: int = 1000) -> list[Paper]:
        """Papers on a daily list that have not been matched against the alerts yet.

        Only a daily list makes a paper new: one stored because someone looked it up
        (/paper) waits, unmatched, until it first appears on a list, if it ever does.
        """
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.alerts_matched = 0"
            " AND p.list_date IS NOT NULL ORDER BY p.pk LIMIT ?",
            (limit,),
        )
        return [_listing(r).paper for r in rows]

    async def queue_alert_matches(
        self, paper_ids: Sequence[str], matches: Sequence[QueuedAlert | OutboxRow]
    ) -> int:
        """Queue matches and mark the papers matched, in one transaction; returns rows queued."""
        now = self._now()
        async with self._transaction() as db:
            before = db.total_changes
            await db.executemany(
                "INSERT INTO alert_outbox (user_id, paper_id, alert_id, reason, target, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, paper_id) DO NOTHING",
                # A generator: each row's parameters are made (and freed) in the connection's
                # thread as SQLite takes them, not all at once on the event loop.
                ((m.user_id, m.paper_id, m.alert_id, m.reason, m.target, now) for m in matches),
            )
            queued = db.total_changes - before
            await _mark_matched(db, paper_ids)
        return queued

    async def defer_alert_matches(
        self, paper_ids: Sequence[str], parts: Sequence[DeferredPart]
    ) -> int:
        """Keep packed rows for expand_alert_matches and mark the papers matched, in one
        transaction; returns the rows kept."""
        now = self._now()
        async with self._transaction() as db:
            await db.executemany(
                "INSERT INTO alert_outbox_deferred (bucket, queued_at, names, packed, row_count)"
                " VALUES (?, ?, ?, ?, ?)",
                [(p.bucket, now, p.names, p.packed, p.row_count) for p in parts],
            )
            await _mark_matched(db, paper_ids)
        return sum(p.row_count for p in parts)

    async def deferred_buckets(self) -> set[int]:
        """The buckets of people with kept rows."""
        rows = await self._all("SELECT DISTINCT bucket FROM alert_outbox_deferred")
        return {int(r[0]) for r in rows}

    async def expand_alert_matches(self) -> tuple[int, int] | None:
        """Queue the kept rows of the bucket of people whose part is oldest, every part of
        that bucket in the order kept, and forget them, in one transaction; returns the
        bucket and the rows queued."""
        async with self._transaction() as db:
            oldest = list(
                await db.execute_fetchall(
                    "SELECT bucket FROM alert_outbox_deferred ORDER BY id LIMIT 1"
                )
            )
            if not oldest:
                return None
            bucket = oldest[0][0]
            parts = list(
                await db.execute_fetchall(
                    "SELECT id, queued_at, names, packed FROM alert_outbox_deferred"
                    " WHERE bucket = ? ORDER BY id",
                    (bucket,),
                )
            )
            before = db.total_changes
            await db.executemany(
                "INSERT INTO alert_outbox (user_id, paper_id, alert_id, reason, target, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, paper_id) DO NOTHING",
                # Made in the connection's thread as SQLite takes them.
                queued_rows(parts),
            )
            queued = db.total_changes - before
            await db.execute(  # the parts read, by id
                "DELETE FROM alert_outbox_deferred WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps([part[0] for part in parts]),),
            )
        return bucket, queued

    async def alert_outbox(self, now: datetime | None = None) -> list[QueuedAlert]:
        """Matches waiting to be delivered (queued, or sending when a run was cut short)."""
        at = (now or self._clock()).astimezone(UTC).isoformat(timespec="seconds")
        rows = await self._all(
            f"SELECT {_QUEUED_COLUMNS} FROM alert_outbox WHERE state IN ('queued', 'sending')"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            " ORDER BY user_id, target, queued_at, paper_id",
            (at,),
        )
        return [_queued(r) for r in rows]

    async def claim_alerts(
        self, user_id: int, paper_ids: Sequence[str], batch: str, *, by_dm: bool
    ) -> list[QueuedAlert]:
        """Just before sending, in one transaction: drop the rows that may no longer be sent,
        mark the others sending with `batch`, and return those.

        Dropped for good: rows whose alert was removed or muted, whose owner paused their
        alerts, or whose server turned channel delivery off. Rows going by DM (`by_dm`) to
        someone whose DMs were refused are neither: they stay queued until /alert resume.
        """
        ids = json.dumps(list(paper_ids))
        async with self._transaction() as db:
            dropped = await db.execute(
                f"{_DROP_UNSENDABLE} AND user_id = ?"
                " AND paper_id IN (SELECT value FROM json_each(?))",
                (user_id, ids),
            )
            rows = await db.execute_fetchall(
                "UPDATE alert_outbox SET state = 'sending', batch = ? WHERE user_id = ?"
                " AND paper_id IN (SELECT value FROM json_each(?))"
                " AND state IN ('queued', 'sending')"
                " AND NOT (? AND EXISTS (SELECT 1 FROM alert_users"
                " WHERE user_id = ? AND dm_blocked IS NOT NULL))"
                f" RETURNING {_QUEUED_COLUMNS}",
                (batch, user_id, ids, int(by_dm), user_id),
            )
        if dropped.rowcount > 0:
            log.info(
                "dropped %d queued alert matches of user %s (alert removed or muted, alerts "
                "paused, or channel delivery off)",
                dropped.rowcount,
                user_id,
            )
        return [_queued(r) for r in rows]

    async def drop_unsendable_alerts(self) -> int:
        """Drop every waiting row that may no longer be sent (as claim_alerts would)."""
        async with self._transaction() as db:
            cursor = await db.execute(_DROP_UNSENDABLE)
        if cursor.rowcount > 0:
            log.info("dropped %d queued alert matches that may no longer be sent", cursor.rowcount)
        return cursor.rowcount

    async def mark_alerts(
        self,
        user_id: int,
        paper_ids: Sequence[str],
        state: OutboxState,
        *,
        batch: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Move outbox rows to `state` (sending with its batch nonce, sent, queued to retry)."""
        now = self._now()
        retry = retry_at.astimezone(UTC).isoformat(timespec="seconds") if retry_at else None
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE alert_outbox SET state = ?, batch = coalesce(?, batch),"
                " attempts = attempts + (? IS NOT NULL), next_attempt_at = ?,"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END"
                " WHERE user_id = ? AND paper_id = ?",
                [(state, batch, retry, retry, state, now, user_id, p) for p in paper_ids],
            )


async def _mark_matched(db: Connection, paper_ids: Sequence[str]) -> None:
    """Mark papers matched; their text as matched is now the one stored."""
    await db.executemany(
        "UPDATE papers SET alerts_matched = 1 WHERE id = ?", [(i,) for i in paper_ids]
    )
    await db.executemany(
        "DELETE FROM matched_text WHERE paper_pk = (SELECT pk FROM papers WHERE id = ?)",
        [(i,) for i in paper_ids],
    )

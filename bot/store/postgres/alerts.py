"""Alerts, their owners' and servers' settings, change tracking and the alert outbox."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

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
from bot.store.postgres.connection import (
    ALERT_CAP_LOCK,
    ALERT_CHANGES_LOCK,
    LOCK_NAMESPACE,
    PostgresBase,
    row_count,
)
from bot.store.postgres.rows import (
    _ALERT_COLUMNS,
    _ALERT_SELECT,
    _PAPER_COLUMNS,
    _QUEUED_COLUMNS,
    _alert,
    _listing,
    _queued,
)
from bot.store.rules import changes_since

_ALERT_JOINS = (
    " FROM alerts a LEFT JOIN alert_users u ON u.user_id = a.user_id"
    " LEFT JOIN alert_guilds g ON g.guild_id = a.guild_id"
)
# Queued rows that may no longer be sent: their alert was removed or muted, its owner paused,
# or its server turned channel delivery off. A followed author's paper (alert_id: minus the
# follow's id): the follow was removed, or its owner paused.
_DROP_UNSENDABLE = (
    "UPDATE alert_outbox SET state = 'dropped' WHERE state IN ('queued', 'sending')"
    " AND alert_id <> 0"  # a watched paper's code news (alert 0) belongs to no alert
    " AND CASE WHEN alert_outbox.alert_id < 0 THEN NOT EXISTS (SELECT 1 FROM follows f"
    " LEFT JOIN alert_users u ON u.user_id = f.user_id WHERE f.id = -alert_outbox.alert_id"
    " AND NOT coalesce(u.paused, false))"
    f" ELSE NOT EXISTS (SELECT 1{_ALERT_JOINS} WHERE a.id = alert_outbox.alert_id"
    " AND NOT a.muted AND NOT coalesce(u.paused, false)"
    " AND NOT (a.deliver = 'here' AND NOT coalesce(g.channel_delivery, true))) END"
)
_ACTIVE = (
    "(NOT a.muted AND NOT coalesce(u.paused, false)"
    " AND NOT (a.deliver = 'dm' AND u.dm_blocked IS NOT NULL)"
    " AND NOT (a.deliver = 'here' AND NOT coalesce(g.channel_delivery, true)))"
)

log = logging.getLogger(__name__)

ALERT_LOG_SIZE = 10_000  # alert changes kept (in alert_changes) for incremental re-reads


class Alerts(PostgresBase):
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

        A lock per person, held to the end of the transaction, makes the count and the
        insert one step: adds that run at the same time can never pass the cap together.

        Retried here, not by the store's wrapper: a connection lost after the server took
        the COMMIT (its answer never came) must not add the alert twice. Every try carries
        the same creation time, and a try after the first that finds the person's alert with
        that time and query returns it instead of adding another. (Only a retry looks: times
        are whole seconds, and two adds of one query within a second are two alerts.)
        """
        created = self._now()
        tries = 0

        async def add() -> Alert:
            nonlocal tries
            tries += 1
            async with self._transaction() as con:
                await con.execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                    LOCK_NAMESPACE + ALERT_CAP_LOCK,
                    str(user_id),
                )
                row = None
                if tries > 1:
                    row = await con.fetchrow(
                        f"{_ALERT_SELECT} WHERE user_id = $1 AND created_at = $2 AND query = $3",
                        user_id,
                        created,
                        query,
                    )
                if row is not None:  # an earlier try was committed
                    return _alert(row)
                row = await con.fetchrow(
                    "INSERT INTO alerts (user_id, query, deliver, channel_id, guild_id,"
                    " created_at, min_upvotes) SELECT $1, $2, $3, $4, $5, $6, $8"
                    " WHERE (SELECT count(*) FROM alerts WHERE user_id = $1) < $7"
                    " RETURNING id, user_id, query, deliver, channel_id, guild_id, muted,"
                    " created_at, min_upvotes",
                    user_id,
                    query,
                    deliver,
                    channel_id,
                    guild_id,
                    created,
                    max_alerts,
                    min_upvotes,
                )
                if row is None:
                    raise AlertLimitError(f"You already have {max_alerts} alerts")
                await self._alert_changed(con, "alert", row[0])
            return _alert(row)

        return await self._retrying(add)

    async def _alert_changed(self, con: asyncpg.Connection, kind: str, key: int) -> None:
        """Count a change, in the transaction that makes it. The lock, held until commit,
        numbers changes in commit order: whoever reads version N sees every change up to N."""
        await con.execute(
            "SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, ALERT_CHANGES_LOCK
        )
        seq = await con.fetchval(
            "INSERT INTO alert_changes (kind, key, changed_at) VALUES ($1, $2, $3) RETURNING seq",
            kind,
            key,
            self._now(),
        )
        await con.execute("DELETE FROM alert_changes WHERE seq <= $1", seq - ALERT_LOG_SIZE)

    async def alerts_version(self) -> int:
        """The number of the latest alert change (0 before any), from the database."""
        return int(await self.pool.fetchval("SELECT coalesce(max(seq), 0) FROM alert_changes"))

    async def alert_changes(self, since: int) -> AlertChanges | None:
        """What changed after version `since`; None when the kept changes no longer reach
        back to it, or it is not a version of this store."""
        rows = await self._all(
            "SELECT b.oldest, b.newest, c.kind, c.key FROM (SELECT min(seq) AS oldest,"
            " coalesce(max(seq), 0) AS newest FROM alert_changes) AS b"
            " LEFT JOIN alert_changes c ON c.seq > $1",
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
                params.append(sorted(ids))
                parts.append(
                    f"SELECT {_ALERT_COLUMNS}, {_ACTIVE}{_ALERT_JOINS}"
                    f" WHERE {column} = ANY(${len(params)}::bigint[])"
                )
        if not parts:
            return []
        rows = await self._all(" UNION ".join(parts), params)
        return [(_alert(r), bool(r[9])) for r in rows]

    async def get_alert(self, alert_id: int) -> Alert | None:
        """One alert by id."""
        row = await self._one(f"{_ALERT_SELECT} WHERE id = $1", (alert_id,))
        return _alert(row) if row else None

    async def user_alerts(self, user_id: int) -> list[Alert]:
        """A person's alerts, oldest first."""
        rows = await self._all(f"{_ALERT_SELECT} WHERE user_id = $1 ORDER BY id", (user_id,))
        return [_alert(r) for r in rows]

    async def remove_alert(self, user_id: int, alert_id: int) -> bool:
        """Delete one of a person's alerts; False if they have no such alert."""
        async with self._transaction() as con:
            status = await con.execute(
                "DELETE FROM alerts WHERE id = $1 AND user_id = $2", alert_id, user_id
            )
            if row_count(status):
                await self._alert_changed(con, "alert", alert_id)
        return row_count(status) > 0

    async def set_alert_muted(self, user_id: int, alert_id: int, muted: bool) -> bool:
        """Mute or unmute one of a person's alerts; False if they have no such alert."""
        async with self._transaction() as con:
            status = await con.execute(
                "UPDATE alerts SET muted = $1 WHERE id = $2 AND user_id = $3",
                muted,
                alert_id,
                user_id,
            )
            if row_count(status):
                await self._alert_changed(con, "alert", alert_id)
        return row_count(status) > 0

    async def active_alerts(self, *, after: int = 0, limit: int | None = None) -> list[Alert]:
        """Alerts that can deliver now: not muted, owner not paused, DMs not refused."""
        rows = await self._all(
            f"SELECT {_ALERT_COLUMNS}{_ALERT_JOINS} WHERE {_ACTIVE} AND a.id > $1"
            " ORDER BY a.id LIMIT $2",
            (after, limit),
        )
        return [_alert(r) for r in rows]

    async def alert_user(self, user_id: int) -> AlertUser:
        """A person's alert-wide state (defaults if they never had any)."""
        row = await self._one(
            "SELECT paused, dm_blocked, dm_block_notified FROM alert_users WHERE user_id = $1",
            (user_id,),
        )
        if row is None:
            return AlertUser(user_id)
        return AlertUser(user_id, row[0], row[1], row[2])

    async def _set_user(
        self, user_id: int, assignments: str, params: Sequence[Any], *, change: bool = True
    ) -> None:
        async with self._transaction() as con:
            await con.execute(
                "INSERT INTO alert_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING", user_id
            )
            await con.execute(
                f"UPDATE alert_users SET {assignments} WHERE user_id = ${len(params) + 1}",
                *params,
                user_id,
            )
            if change:
                await self._alert_changed(con, "user", user_id)

    async def set_alerts_paused(self, user_id: int, paused: bool) -> None:
        """Pause or resume all of a person's alerts."""
        await self._set_user(user_id, "paused = $1", (paused,))

    async def set_dm_blocked(self, user_id: int, reason: str | None) -> None:
        """Record that Discord refused a DM (pausing DM alerts), or clear it."""
        await self._set_user(user_id, "dm_blocked = $1, dm_block_notified = false", (reason,))

    async def mark_dm_block_notified(self, user_id: int) -> None:
        """The person has been told why their DM alerts stopped (not an alert change)."""
        await self._set_user(user_id, "dm_block_notified = true", (), change=False)

    async def set_channel_alerts_allowed(self, guild_id: int, allowed: bool) -> None:
        """Whether alerts may post (with a mention) in this server's channels."""
        async with self._transaction() as con:
            await con.execute(
                "INSERT INTO alert_guilds (guild_id, channel_delivery) VALUES ($1, $2)"
                " ON CONFLICT (guild_id)"
                " DO UPDATE SET channel_delivery = excluded.channel_delivery",
                guild_id,
                allowed,
            )
            await self._alert_changed(con, "guild", guild_id)

    async def channel_alerts_allowed(self, guild_id: int) -> bool:
        """Whether alerts may post in this server's channels (yes unless turned off)."""
        allowed = await self.pool.fetchval(
            "SELECT channel_delivery FROM alert_guilds WHERE guild_id = $1", guild_id
        )
        return True if allowed is None else bool(allowed)

    async def unmatched_papers(self, limit: int = 1000) -> list[Paper]:
        """Papers on a daily list that have not been matched against the alerts yet."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE NOT p.alerts_matched"
            " AND p.list_date IS NOT NULL ORDER BY p.pk LIMIT $1",
            (limit,),
        )
        return [_listing(r).paper for r in rows]

    async def queue_alert_matches(
        self, paper_ids: Sequence[str], matches: Sequence[QueuedAlert | OutboxRow]
    ) -> int:
        """Queue matches and mark the papers matched, in one transaction; returns rows queued."""
        now = self._now()
        async with self._transaction() as con:
            # One statement, in the order given: of two matches for one pair, the first wins.
            status = await con.execute(
                "INSERT INTO alert_outbox (user_id, paper_id, alert_id, reason, target, queued_at)"
                " SELECT u, p, a, r, t, $6 FROM unnest($1::bigint[], $2::text[], $3::bigint[],"
                " $4::text[], $5::text[]) WITH ORDINALITY AS m (u, p, a, r, t, n) ORDER BY n"
                " ON CONFLICT (user_id, paper_id) DO NOTHING",
                [m.user_id for m in matches],
                [m.paper_id for m in matches],
                [m.alert_id for m in matches],
                [m.reason for m in matches],
                [str(m.target) for m in matches],
                now,
            )
            await _mark_matched(con, paper_ids)
        return row_count(status)

    async def defer_alert_matches(
        self, paper_ids: Sequence[str], parts: Sequence[DeferredPart]
    ) -> int:
        """Keep packed rows for expand_alert_matches and mark the papers matched, in one
        transaction; returns the rows kept."""
        now = self._now()
        async with self._transaction() as con:
            await con.executemany(
                "INSERT INTO alert_outbox_deferred (bucket, queued_at, names, packed, row_count)"
                " VALUES ($1, $2, $3, $4, $5)",
                [(p.bucket, now, p.names, p.packed, p.row_count) for p in parts],
            )
            await _mark_matched(con, paper_ids)
        return sum(p.row_count for p in parts)

    async def deferred_buckets(self) -> set[int]:
        """The buckets of people with kept rows."""
        rows = await self._all("SELECT DISTINCT bucket FROM alert_outbox_deferred")
        return {int(r[0]) for r in rows}

    async def expand_alert_matches(self) -> tuple[int, int] | None:
        """Queue the kept rows of the bucket of people whose part is oldest, every part of
        that bucket in the order kept, and forget them, in one transaction; returns the
        bucket and the rows queued."""
        async with self._transaction() as con:
            bucket = await con.fetchval(
                "SELECT bucket FROM alert_outbox_deferred ORDER BY id LIMIT 1"
            )
            if bucket is None:
                return None
            # Locked: a second process expanding the same bucket waits, then finds it gone.
            parts = await con.fetch(
                "SELECT id, queued_at, names, packed FROM alert_outbox_deferred"
                " WHERE bucket = $1 ORDER BY id FOR UPDATE",
                bucket,
            )
            rows = list(queued_rows(parts))
            columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * 6
            status = await con.execute(
                "INSERT INTO alert_outbox (user_id, paper_id, alert_id, reason, target, queued_at)"
                " SELECT u, p, a, r, t, q FROM unnest($1::bigint[], $2::text[], $3::bigint[],"
                " $4::text[], $5::text[], $6::timestamptz[]) WITH ORDINALITY"
                " AS m (u, p, a, r, t, q, n) ORDER BY n"
                " ON CONFLICT (user_id, paper_id) DO NOTHING",
                *columns,
            )
            # The parts read, by id: a part committed meanwhile (ids are taken at insert,
            # seen at commit, so not in order) waits for the next call.
            await con.execute(
                "DELETE FROM alert_outbox_deferred WHERE id = ANY($1::bigint[])",
                [part[0] for part in parts],
            )
        return bucket, row_count(status)

    async def alert_outbox(self, now: datetime | None = None) -> list[QueuedAlert]:
        """Matches waiting to be delivered (queued, or sending when a run was cut short)."""
        at = (now or self._clock()).astimezone(UTC).replace(microsecond=0)
        rows = await self._all(
            f"SELECT {_QUEUED_COLUMNS} FROM alert_outbox WHERE state IN ('queued', 'sending')"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= $1)"
            " ORDER BY user_id, target, queued_at, paper_id",
            (at,),
        )
        return [_queued(r) for r in rows]

    async def claim_alerts(
        self, user_id: int, paper_ids: Sequence[str], batch: str, *, by_dm: bool
    ) -> list[QueuedAlert]:
        """Just before sending, in one transaction: drop the rows that may no longer be sent,
        mark the others sending with `batch`, and return those (none by DM to someone whose
        DMs were refused: those stay queued)."""
        ids = list(paper_ids)
        async with self._transaction() as con:
            dropped = row_count(
                await con.execute(
                    f"{_DROP_UNSENDABLE} AND user_id = $1 AND paper_id = ANY($2::text[])",
                    user_id,
                    ids,
                )
            )
            rows = await con.fetch(
                "UPDATE alert_outbox SET state = 'sending', batch = $1 WHERE user_id = $2"
                " AND paper_id = ANY($3::text[]) AND state IN ('queued', 'sending')"
                " AND NOT ($4 AND EXISTS (SELECT 1 FROM alert_users"
                " WHERE user_id = $2 AND dm_blocked IS NOT NULL))"
                f" RETURNING {_QUEUED_COLUMNS}",
                batch,
                user_id,
                ids,
                by_dm,
            )
        if dropped:
            log.info(
                "dropped %d queued alert matches of user %s (alert removed or muted, alerts "
                "paused, or channel delivery off)",
                dropped,
                user_id,
            )
        return [_queued(r) for r in rows]

    async def drop_unsendable_alerts(self) -> int:
        """Drop every waiting row that may no longer be sent (as claim_alerts would)."""
        dropped = row_count(await self.pool.execute(_DROP_UNSENDABLE))
        if dropped:
            log.info("dropped %d queued alert matches that may no longer be sent", dropped)
        return dropped

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
        retry = retry_at.astimezone(UTC).replace(microsecond=0) if retry_at else None
        await self.pool.execute(
            "UPDATE alert_outbox SET state = $1, batch = coalesce($2, batch),"
            " attempts = attempts + CASE WHEN $3::timestamptz IS NULL THEN 0 ELSE 1 END,"
            " next_attempt_at = $3,"
            " sent_at = CASE WHEN $1 = 'sent' THEN $4 ELSE sent_at END"
            " WHERE user_id = $5 AND paper_id = ANY($6::text[])",
            state,
            batch,
            retry,
            self._now(),
            user_id,
            list(paper_ids),
        )


async def _mark_matched(con: asyncpg.Connection, paper_ids: Sequence[str]) -> None:
    """Mark papers matched; their text as matched is now the one stored."""
    await con.execute(
        "UPDATE papers SET alerts_matched = true WHERE id = ANY($1::text[])", list(paper_ids)
    )
    if paper_ids:
        await con.execute(
            "DELETE FROM matched_text m USING papers p"
            " WHERE p.pk = m.paper_pk AND p.id = ANY($1::text[])",
            list(paper_ids),
        )

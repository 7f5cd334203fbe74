"""The processes sharing the store, leadership, delivery leases and stored health problems.

SQLite serves one process: it always leads, and its leases are granted through the same
tables and code the PostgreSQL store uses, so one code path delivers on both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiosqlite import Connection

from bot.errors import LeaseLost
from bot.models import ClusterProcess, Fence, StoredProblem
from bot.store.rules import check_shard_agreement, shard_text, shard_tuple
from bot.store.sqlite.connection import SQLiteBase


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def hold_fence(db: Connection, fence: Fence, now: datetime) -> None:
    """Inside a write transaction: extend the fence's lease, or LeaseLost if its token is no
    longer current (the caller's transaction then rolls back: nothing written)."""
    cursor = await db.execute(
        "UPDATE leases SET expires_at = ? WHERE key = ? AND token = ?",
        (_iso(now + timedelta(seconds=fence.seconds)), fence.key, fence.token),
    )
    if cursor.rowcount == 0:
        raise LeaseLost(f"the lease on {fence.key} was taken over")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class Cluster(SQLiteBase):
    """Processes, leadership, leases and stored health problems."""

    async def register_process(self, process: ClusterProcess, *, live_within: float) -> None:
        """Record a starting process; ClusterConfigError if a live one disagrees."""
        now = self._clock()
        async with self._transaction() as db:
            rows = await self._all(
                "SELECT id, host, pid, shard_count FROM cluster_processes"
                " WHERE id != ? AND last_seen >= ?",
                (process.id, _iso(now - timedelta(seconds=live_within))),
                db,
            )
            check_shard_agreement(process, rows)
            await db.execute(
                "INSERT INTO cluster_processes (id, host, pid, shard_count, shard_ids,"
                " started_at, last_seen, leader) VALUES (?, ?, ?, ?, ?, ?, ?, 0)"
                " ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
                " shard_count = excluded.shard_count, shard_ids = excluded.shard_ids,"
                " started_at = excluded.started_at, last_seen = excluded.last_seen, leader = 0",
                (
                    process.id,
                    process.host,
                    process.pid,
                    process.shard_count,
                    shard_text(process.shard_ids),
                    _iso(now),
                    _iso(now),
                ),
            )

    async def process_heartbeat(self, process_id: str, *, leader: bool) -> bool:
        """The process is alive now; False if its row is gone."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE cluster_processes SET last_seen = ?, leader = ? WHERE id = ?",
                (self._now(), int(leader), process_id),
            )
            return cursor.rowcount > 0

    async def cluster_processes(self) -> list[ClusterProcess]:
        """Every registered process, oldest start first, with its age."""
        rows = await self._all(
            "SELECT id, host, pid, shard_count, shard_ids, started_at, last_seen, leader"
            " FROM cluster_processes ORDER BY started_at, id"
        )
        now = self._clock()
        return [
            ClusterProcess(
                r[0],
                r[1],
                r[2],
                r[3],
                shard_tuple(r[4]),
                _at(r[5]),
                _at(r[6]),
                bool(r[7]),
                max(0.0, (now - _at(r[6])).total_seconds()),
            )
            for r in rows
        ]

    async def remove_process(self, process_id: str) -> None:
        """Forget a process that stopped cleanly."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM cluster_processes WHERE id = ?", (process_id,))

    async def prune_processes(self, older_than: float) -> int:
        """Forget processes not seen for `older_than` seconds (and leases long expired)."""
        cutoff = _iso(self._clock() - timedelta(seconds=older_than))
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM cluster_processes WHERE last_seen < ?", (cutoff,)
            )
            await db.execute("DELETE FROM leases WHERE expires_at < ?", (cutoff,))
            return cursor.rowcount

    async def lead(self, process_id: str) -> bool:
        """One process per SQLite store: it always leads."""
        return True

    async def resign(self) -> None:
        """Nothing to release on SQLite."""

    async def claim_lease(
        self, key: str, owner: str, seconds: float, *, take_from: str | None = None
    ) -> Fence | None:
        """Take the lease on `key` unless another (live) owner holds it unexpired."""
        now = self._clock()
        async with self._transaction() as db:
            row = await self._one("SELECT owner, expires_at FROM leases WHERE key = ?", (key,), db)
            if row is not None and row[0] not in (owner, take_from) and row[1] > _iso(now):
                return None
            await db.execute("UPDATE lease_tokens SET last = last + 1 WHERE id = 1")
            token = (await self._one("SELECT last FROM lease_tokens WHERE id = 1", (), db))[0]
            await db.execute(
                "INSERT INTO leases (key, owner, token, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET owner = excluded.owner,"
                " token = excluded.token, expires_at = excluded.expires_at",
                (key, owner, token, _iso(now + timedelta(seconds=seconds))),
            )
        return Fence(key, int(token), seconds)

    async def lease_holder(self, key: str) -> str | None:
        """The owner of the unexpired lease on `key`."""
        row = await self._one(
            "SELECT owner FROM leases WHERE key = ? AND expires_at > ?", (key, self._now())
        )
        return str(row[0]) if row else None

    async def renew_lease(self, fence: Fence) -> bool:
        """Extend the lease while its token is current."""
        try:
            async with self._transaction() as db:
                await hold_fence(db, fence, self._clock())
        except LeaseLost:
            return False
        return True

    async def release_lease(self, fence: Fence) -> None:
        """Give the lease up if the token is still current."""
        async with self._transaction() as db:
            await db.execute(
                "DELETE FROM leases WHERE key = ? AND token = ?", (fence.key, fence.token)
            )

    async def report_problem(
        self, key: str, message: str, guild_id: int | None, since: datetime
    ) -> bool:
        """Record a problem; True for the call that started it."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT INTO health_problems (key, message, guild_id, since) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (key, message, guild_id, _iso(since)),
            )
            return cursor.rowcount > 0

    async def clear_problem(self, key: str) -> StoredProblem | None:
        """End a problem; the removed one, or None."""
        async with self._transaction() as db:
            rows = await self._all(
                "DELETE FROM health_problems WHERE key = ? RETURNING key, message, since, guild_id",
                (key,),
                db,
            )
        return _problem(rows[0]) if rows else None

    async def health_problems(self) -> list[StoredProblem]:
        """Ongoing problems, oldest first."""
        rows = await self._all(
            "SELECT key, message, since, guild_id FROM health_problems ORDER BY since, key"
        )
        return [_problem(r) for r in rows]


def _problem(row: tuple[object, ...]) -> StoredProblem:
    since = row[2]
    return StoredProblem(
        str(row[0]),
        str(row[1]),
        since if isinstance(since, datetime) else _at(str(since)),
        row[3] if isinstance(row[3], int) else None,
    )

"""The processes sharing the store, leadership, delivery leases and stored health problems.

Leadership is a session-level advisory lock held on a connection of its own, opened with
asyncpg.connect and never returned to the pool: the pool's reset on release runs
`pg_advisory_unlock_all()`, which would drop it silently. PostgreSQL releases a session lock
when its session ends, even on an ungraceful disconnect, so a leader killed with -9 loses the
lead as soon as the server sees its socket close (TCP keepalives bound a silent host death).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import asyncpg

from bot.errors import LeaseLost
from bot.models import ClusterProcess, Fence, StoredProblem
from bot.store.postgres.connection import (
    CONNECT_TIMEOUT_SECONDS,
    LEADER_LOCK,
    LOCK_NAMESPACE,
    REGISTRY_LOCK,
    PostgresBase,
    row_count,
)
from bot.store.rules import check_shard_agreement, shard_text, shard_tuple

log = logging.getLogger(__name__)

LEADER_PING_SECONDS = 5.0  # a leader connection that does not answer this fast is lost
# The leader's connection notices a silent peer in about 10 + 5 x 3 = 25 s.
LEADER_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
}


async def hold_fence(con: asyncpg.Connection, fence: Fence) -> None:
    """Inside a transaction: extend the fence's lease (locking its row to the end of the
    transaction, so a takeover waits for this write), or LeaseLost if its token is no longer
    current (the caller's transaction then rolls back: nothing written)."""
    status = await con.execute(
        "UPDATE leases SET expires_at = now() + make_interval(secs => $3)"
        " WHERE key = $1 AND token = $2",
        fence.key,
        fence.token,
        float(fence.seconds),
    )
    if row_count(status) == 0:
        raise LeaseLost(f"the lease on {fence.key} was taken over")


class Cluster(PostgresBase):
    """Processes, leadership, leases and stored health problems."""

    _leader_con: asyncpg.Connection | None = None
    _leading = False
    _leader_lock: asyncio.Lock | None = None

    async def close(self) -> None:
        """Give up the lead (closing its connection), then close the pool."""
        await self.resign()
        await super().close()

    async def register_process(self, process: ClusterProcess, *, live_within: float) -> None:
        """Record a starting process; ClusterConfigError if a live one disagrees."""
        async with self._transaction() as con:
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, REGISTRY_LOCK)
            rows = await con.fetch(
                "SELECT id, host, pid, shard_count FROM cluster_processes"
                " WHERE id != $1 AND last_seen >= now() - make_interval(secs => $2)",
                process.id,
                float(live_within),
            )
            check_shard_agreement(process, rows)
            await con.execute(
                "INSERT INTO cluster_processes (id, host, pid, shard_count, shard_ids,"
                " started_at, last_seen, leader) VALUES ($1, $2, $3, $4, $5, now(), now(), FALSE)"
                " ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
                " shard_count = excluded.shard_count, shard_ids = excluded.shard_ids,"
                " started_at = now(), last_seen = now(), leader = FALSE",
                process.id,
                process.host,
                process.pid,
                process.shard_count,
                shard_text(process.shard_ids),
            )

    async def process_heartbeat(self, process_id: str, *, leader: bool) -> bool:
        """The process is alive now; False if its row is gone."""
        status = await self.pool.execute(
            "UPDATE cluster_processes SET last_seen = now(), leader = $2 WHERE id = $1",
            process_id,
            leader,
        )
        return row_count(status) > 0

    async def cluster_processes(self) -> list[ClusterProcess]:
        """Every registered process, oldest start first, with its age."""
        rows = await self.pool.fetch(
            "SELECT id, host, pid, shard_count, shard_ids, started_at, last_seen, leader,"
            " greatest(0, extract(epoch FROM now() - last_seen))::float8"
            " FROM cluster_processes ORDER BY started_at, id"
        )
        return [
            ClusterProcess(
                r[0], r[1], r[2], r[3], shard_tuple(r[4]), r[5], r[6], bool(r[7]), float(r[8])
            )
            for r in rows
        ]

    async def remove_process(self, process_id: str) -> None:
        """Forget a process that stopped cleanly."""
        await self.pool.execute("DELETE FROM cluster_processes WHERE id = $1", process_id)

    async def prune_processes(self, older_than: float) -> int:
        """Forget processes not seen for `older_than` seconds (and leases long expired)."""
        async with self._transaction() as con:
            status = await con.execute(
                "DELETE FROM cluster_processes WHERE last_seen < now() - make_interval(secs => $1)",
                float(older_than),
            )
            await con.execute(
                "DELETE FROM leases WHERE expires_at < now() - make_interval(secs => $1)",
                float(older_than),
            )
        return row_count(status)

    async def lead(self, process_id: str) -> bool:
        """Become or stay the leader (see the protocol); never raises for a lost server."""
        if self._leader_lock is None:
            self._leader_lock = asyncio.Lock()
        async with self._leader_lock:
            try:
                con = self._leader_con
                if con is None or con.is_closed():
                    self._leading = False
                    con = self._leader_con = await asyncpg.connect(
                        self.url,
                        timeout=CONNECT_TIMEOUT_SECONDS,
                        server_settings={
                            "application_name": f"paperboy leader {process_id}"[:63],
                            **LEADER_KEEPALIVES,
                        },
                    )
                    con.add_termination_listener(self._leader_connection_lost)
                if self._leading:
                    await con.fetchval("SELECT 1", timeout=LEADER_PING_SECONDS)
                    return True
                self._leading = bool(
                    await con.fetchval(
                        "SELECT pg_try_advisory_lock($1, $2)",
                        LOCK_NAMESPACE,
                        LEADER_LOCK,
                        timeout=LEADER_PING_SECONDS,
                    )
                )
                return self._leading
            except (
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                # asyncpg's protocol in a state it cannot leave, e.g. a query sent just as
                # the server's notice that it ends the session arrived: the connection is
                # of no more use.
                asyncpg.InternalClientError,
                OSError,
                TimeoutError,
            ) as e:
                if self._leading:
                    log.warning("lost the leader's connection to PostgreSQL: %s", e)
                await self._drop_leader_connection()
                return False

    def _leader_connection_lost(self, _con: asyncpg.Connection) -> None:
        """The server closed the leader's connection: its lock is gone with it."""
        self._leading = False

    async def _drop_leader_connection(self) -> None:
        self._leading = False
        con, self._leader_con = self._leader_con, None
        if con is not None and not con.is_closed():
            con.terminate()

    async def resign(self) -> None:
        """Stop leading: closing the connection ends the session, and its lock."""
        self._leading = False
        con, self._leader_con = self._leader_con, None
        if con is not None and not con.is_closed():
            try:
                await asyncio.wait_for(con.close(), timeout=LEADER_PING_SECONDS)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
                con.terminate()

    async def claim_lease(
        self, key: str, owner: str, seconds: float, *, take_from: str | None = None
    ) -> Fence | None:
        """Take the lease on `key` unless another owner holds it unexpired: one statement,
        so two claims at once cannot both win (the row lock orders them)."""
        token = await self.pool.fetchval(
            "INSERT INTO leases AS l (key, owner, token, expires_at)"
            " VALUES ($1, $2, nextval('lease_tokens'), now() + make_interval(secs => $3))"
            " ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, token = excluded.token,"
            " expires_at = excluded.expires_at"
            " WHERE l.owner = excluded.owner OR l.owner = $4 OR l.expires_at <= now()"
            " RETURNING token",
            key,
            owner,
            float(seconds),
            take_from,
        )
        return None if token is None else Fence(key, int(token), seconds)

    async def lease_holder(self, key: str) -> str | None:
        """The owner of the unexpired lease on `key`."""
        owner = await self.pool.fetchval(
            "SELECT owner FROM leases WHERE key = $1 AND expires_at > now()", key
        )
        return None if owner is None else str(owner)

    async def renew_lease(self, fence: Fence) -> bool:
        """Extend the lease while its token is current."""
        try:
            async with self._transaction() as con:
                await hold_fence(con, fence)
        except LeaseLost:
            return False
        return True

    async def release_lease(self, fence: Fence) -> None:
        """Give the lease up if the token is still current."""
        await self.pool.execute(
            "DELETE FROM leases WHERE key = $1 AND token = $2", fence.key, fence.token
        )

    async def report_problem(
        self, key: str, message: str, guild_id: int | None, since: datetime
    ) -> bool:
        """Record a problem; True for the call that started it."""
        status = await self.pool.execute(
            "INSERT INTO health_problems (key, message, guild_id, since) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (key) DO NOTHING",
            key,
            message,
            guild_id,
            since,
        )
        return row_count(status) > 0

    async def clear_problem(self, key: str) -> StoredProblem | None:
        """End a problem; the removed one, or None."""
        row = await self.pool.fetchrow(
            "DELETE FROM health_problems WHERE key = $1 RETURNING key, message, since, guild_id",
            key,
        )
        return StoredProblem(row[0], row[1], row[2], row[3]) if row else None

    async def health_problems(self) -> list[StoredProblem]:
        """Ongoing problems, oldest first."""
        rows = await self.pool.fetch(
            "SELECT key, message, since, guild_id FROM health_problems ORDER BY since, key"
        )
        return [StoredProblem(r[0], r[1], r[2], r[3]) for r in rows]

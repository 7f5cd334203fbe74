"""Store roles for several processes sharing one store: identify turns, the process
registry, leadership, leases and stored health problems; re-exported by bot.store.base."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.models import (
    ClusterProcess,
    Fence,
    StoredProblem,
)


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

"""Delivery leases: before a process sends a delivery (a digest to one channel, a rising
post) it claims the delivery's lease in the store, and every outbox write for it is fenced by
the lease's token.

Why this keeps "nothing posted twice" across processes: a lease is granted to one owner at a
time, with a token greater than any before. The holder checks (and extends) the lease right
before each message it sends, and records each message in the same transaction that checks
the token, so a process paused past its lease (SIGSTOP, a long GC, a lost network) and then
resumed finds its token stale: it sends nothing more and records nothing for that delivery.
The one gap left, a pause between that check and the HTTP request itself, is closed by the
per-part nonce Discord enforces (a resend within minutes returns the first message). On
SQLite there is one process: the lease is always granted, through the same code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from datetime import date

from bot.errors import LeaseLost, StoreError
from bot.models import Fence, PeriodKind
from bot.store.base import ClusterStore

log = logging.getLogger(__name__)

# Long enough for one message's send (Discord's own 429 waits included), short enough that a
# delivery left by a dead process is taken over by the next retry run.
LEASE_SECONDS = 60.0


def process_name() -> str:
    """This process's id in the store: host and pid (a restart is a new process)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def digest_key(channel_id: int, day: date, kind: PeriodKind = "day") -> str:
    """The lease key of one digest delivery."""
    return f"digest:{kind}:{day.isoformat()}:{channel_id}"


def rising_key(channel_id: int, paper_id: str) -> str:
    """The lease key of one rising post."""
    return f"rising:{channel_id}:{paper_id}"


class Leases:
    """Claims, renews and releases delivery leases for one owner (this process)."""

    def __init__(
        self, store: ClusterStore, owner: str | None = None, *, seconds: float = LEASE_SECONDS
    ) -> None:
        self.store = store
        self.owner = owner or process_name()
        self.seconds = seconds

    @contextlib.asynccontextmanager
    async def held(self, key: str) -> AsyncIterator[Fence | None]:
        """The lease on `key` for the block (None: another process holds it), released after
        (a lease left behind by a crash simply expires)."""
        fence = await self.store.claim_lease(key, self.owner, self.seconds)
        try:
            yield fence
        finally:
            if fence is not None:
                try:
                    await self.store.release_lease(fence)
                except StoreError as e:
                    log.warning("could not release the lease on %s (it expires): %s", key, e)

    async def check(self, fence: Fence) -> None:
        """Right before sending: extend the lease, or LeaseLost if another process took it."""
        if not await self.store.renew_lease(fence):
            raise LeaseLost(f"the lease on {fence.key} was taken over")

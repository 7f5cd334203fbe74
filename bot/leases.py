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
import time
from collections.abc import AsyncIterator
from datetime import date

from bot.errors import LeaseLost, StoreError
from bot.models import Fence, PeriodKind
from bot.store.base import ClusterStore

log = logging.getLogger(__name__)

# Long enough for one message's send (Discord's own 429 waits included), short enough that a
# delivery left by a dead process is taken over by the next retry run.
LEASE_SECONDS = 60.0
# A check within this share of the lease after the last confirmation needs no round trip:
# nobody can take a lease over before it expires. The clock is monotonic, so a process
# paused (SIGSTOP) for longer finds the time passed and asks the store again.
FRESH_SHARE = 1 / 3


def process_name() -> str:
    """This process's id in the store: host and pid (a restart is a new process)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead(owner: str) -> bool:
    """Whether a lease owner is a process of this host that no longer runs (its pid is
    gone). Another host's process, or a pid now in use (maybe reused), counts as alive:
    its leases are waited out."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


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
        self._confirmed: dict[tuple[str, int], float] = {}  # (key, token) -> monotonic

    @contextlib.asynccontextmanager
    async def held(self, key: str) -> AsyncIterator[Fence | None]:
        """The lease on `key` for the block (None: another process holds it), released after
        (a lease left behind by a crash simply expires)."""
        asked = time.monotonic()
        fence = await self.store.claim_lease(key, self.owner, self.seconds)
        if fence is None:
            holder = await self.store.lease_holder(key)
            if holder is None:
                # The holder's lease ran out between the claim and this read: it is free now.
                # (Reading "pending" here left the delivery to the next retry run, minutes
                # later.)
                fence = await self.store.claim_lease(key, self.owner, self.seconds)
            elif is_dead(holder):
                # A process of this host that is gone (killed, then restarted as this one):
                # it can write nothing more, so its deliveries resume now, not at expiry.
                log.info("taking over the lease on %s from %s, which is gone", key, holder)
                fence = await self.store.claim_lease(
                    key, self.owner, self.seconds, take_from=holder
                )
        if fence is not None:
            self._confirmed[(fence.key, fence.token)] = asked
        try:
            yield fence
        finally:
            if fence is not None:
                self._confirmed.pop((fence.key, fence.token), None)
                try:
                    await self.store.release_lease(fence)
                except StoreError as e:
                    log.warning("could not release the lease on %s (it expires): %s", key, e)

    async def check(self, fence: Fence) -> None:
        """Right before sending: make sure the lease is still ours (extending it), or
        LeaseLost if another process took it. Free within FRESH_SHARE of the lease after the
        last confirmation (measured from before it was asked for)."""
        key = (fence.key, fence.token)
        confirmed = self._confirmed.get(key)
        asked = time.monotonic()
        if confirmed is not None and asked - confirmed < fence.seconds * FRESH_SHARE:
            return
        if not await self.store.renew_lease(fence):
            raise LeaseLost(f"the lease on {fence.key} was taken over")
        self._confirmed[key] = asked

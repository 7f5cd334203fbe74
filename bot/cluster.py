"""This process among the processes sharing one store: it registers, heartbeats, leads or
follows, and takes its share of Discord's global rate limit.

Leadership (ClusterStore.lead: an advisory lock on a dedicated connection on PostgreSQL,
always on SQLite) only decides who does the once-for-the-bot work: scraping and refreshing
Hugging Face, matching and sending alerts, syncing commands. It saves work, it does not carry
correctness: every one of those tasks resumes from the store and is idempotent, and deliveries
are fenced by leases (bot/leases.py), so two leaders for a moment cost a request, never a
duplicate message.

The shared rate limit. Discord allows 50 requests/s per bot token, whatever the number of
processes. Each process paces its bulk sends at its share of BULK: all of it alone, else
(BULK + 1 - 4) / N - 1 (see `share`; 21/s each for two), N being the processes seen alive
in the registry (this one included). That keeps the sum under the limit without a store
round trip per message, which a shared token bucket in PostgreSQL would need (and a hot
row updated 47 times a second). It is conservative on changes: a process counts as alive
for PROCESS_GONE_SECONDS after its last heartbeat, so N is overcounted (slower, never
faster) while a process dies, except one of this host whose pid is gone: a dead process
sends nothing more, so a process restarted after a crash (or a crash loop) gets the whole
share at once instead of sharing with its dead predecessors for half a minute. A new
process would be undercounted by the others until
their next heartbeat, so it holds its own bulk sends for 1.5 heartbeats after joining.
Discord's global 429, which discord.py honours, stays the backstop. The price: an idle
process's share is unused while another is busy; guilds spread evenly over shards keep the
shares busy together at a digest slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from bot.leases import is_dead, process_name
from bot.models import ClusterProcess
from bot.ratelimit import Pacer
from bot.store.base import PROCESS_GONE_SECONDS, PROCESS_PRUNE_SECONDS, ClusterStore

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0  # heartbeat, and a follower's next try to lead
PRUNE_EVERY = 60  # heartbeats between prunes of long-gone processes
SHARED_RESERVE = 4.0  # requests/s kept free when several processes share the limit
NEWCOMER_WAIT = 1.5  # heartbeats a joining process waits before bulk sends (others adjust)

Transition = Callable[[bool], Awaitable[None]]


def share(rate: float, processes: int) -> float:
    """One process's bulk rate when `processes` share `rate`. A Pacer at rate r lets at most
    r + 1 requests through in any second (its grid, plus one a late wake-up catches up), so
    N pacers at (rate + 1 - SHARED_RESERVE) / N - 1 let through at most rate + 1 together,
    less SHARED_RESERVE: room for what several processes add that no pacer sees (the others'
    start-up and command-sync calls, their requests bunching up on the way to Discord)."""
    if processes <= 1:
        return rate
    return max(1.0, (rate + 1 - SHARED_RESERVE) / processes - 1)


class Member:
    """This process's membership: `leading` says whether it leads now (as last checked),
    `live` how many processes are alive. `on_change(leading)` runs on every change of lead,
    after the store confirmed it."""

    def __init__(
        self,
        store: ClusterStore,
        *,
        shard_count: int | None = None,
        shard_ids: Sequence[int] = (),
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        pacer: Pacer | None = None,
        bulk_rate: float | None = None,
        process_id: str | None = None,
    ) -> None:
        self.store = store
        self.id = process_id or process_name()
        self.shard_count = shard_count
        self.shard_ids = tuple(shard_ids)
        self.heartbeat_seconds = heartbeat_seconds
        self.pacer = pacer
        self.bulk_rate = bulk_rate or (pacer.rate if pacer else 1.0)
        self.leading = False
        self.joined = False
        self.live = 1  # processes sharing the bot: seen lately, not known to be dead
        self._listeners: list[Transition] = []
        self._task: asyncio.Task[None] | None = None
        self._beats = 0
        self._change_lock = asyncio.Lock()

    def on_change(self, listener: Transition) -> None:
        """Call `listener(leading)` whenever this process gains or loses the lead."""
        self._listeners.append(listener)

    def _process(self) -> ClusterProcess:
        now = datetime.now(UTC)
        return ClusterProcess(
            self.id,
            socket.gethostname(),
            os.getpid(),
            self.shard_count,
            self.shard_ids,
            now,
            now,
        )

    async def join(self) -> None:
        """Register (ClusterConfigError if a live process disagrees on shard_count) and try
        to lead once, before any job starts; once only."""
        if self.joined:
            return
        await self.store.register_process(self._process(), live_within=PROCESS_GONE_SECONDS)
        self.joined = True
        await self.beat()
        if self.live > 1 and self.pacer is not None:
            # The others learn of this process at their next heartbeat; until then they
            # still pace at their old share, so this one waits before its first bulk send.
            self.pacer.hold(self.heartbeat_seconds * NEWCOMER_WAIT)

    async def join_before_login(self) -> None:
        """Join before any request to Discord: with other processes alive, wait until they
        have seen this one (and lowered their share), so even its start-up calls, which no
        pacer sees, find the room."""
        await self.join()
        if self.live > 1:
            await asyncio.sleep(self.heartbeat_seconds * NEWCOMER_WAIT)

    def start(self) -> None:
        """Heartbeat (and try to lead) every few seconds until stop()."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cluster")

    async def stop(self) -> None:
        """Stop the heartbeat, give up the lead and leave the registry."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.resign()
        self.leading = False
        try:
            await self.store.remove_process(self.id)
        except Exception:
            log.warning("could not leave the process registry (it ages out)", exc_info=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self.beat()
            except Exception:
                log.exception("cluster heartbeat failed; trying again")

    async def beat(self) -> None:
        """One heartbeat: check or take the lead, record it, count the live processes."""
        leads = await self.leads()
        if not await self.store.process_heartbeat(self.id, leader=leads):
            log.warning("this process was missing from the registry; registering again")
            await self.store.register_process(self._process(), live_within=PROCESS_GONE_SECONDS)
            await self.store.process_heartbeat(self.id, leader=leads)
        processes = await self.store.cluster_processes()
        # Every process seen lately, but one of this host whose pid is gone (it sends nothing).
        live = max(1, sum(1 for p in processes if is_live(p)))
        if live != self.live:
            log.info("%d processes share the bot now", live)
        self.live = live
        if self.pacer is not None:
            self.pacer.set_rate(share(self.bulk_rate, live))
        self._beats += 1
        if self._beats % PRUNE_EVERY == 0:
            await self.store.prune_processes(PROCESS_PRUNE_SECONDS)

    async def leads(self) -> bool:
        """Whether this process leads, asked of the store now (takes the lead if free)."""
        leads = await self.store.lead(self.id)
        if leads != self.leading:
            async with self._change_lock:
                if leads != self.leading:
                    self.leading = leads
                    log.info("this process %s the leader", "is now" if leads else "is no longer")
                    for listener in self._listeners:
                        try:
                            await listener(leads)
                        except Exception:
                            log.exception("a leadership listener failed")
        return leads


def is_live(process: ClusterProcess) -> bool:
    """Seen within PROCESS_GONE_SECONDS and not a process of this host whose pid is gone
    (one killed and restarted here is not waited for, nor given a share of the limit)."""
    return process.age < PROCESS_GONE_SECONDS and not is_dead(process.id)


def shards_text(process: ClusterProcess) -> str:
    if process.shard_count is None:
        return "every shard"
    held = process.shard_ids or tuple(range(process.shard_count))
    return (
        f"shard{'s' if len(held) > 1 else ''} {', '.join(map(str, held))} of {process.shard_count}"
    )


def seen_text(age: float) -> str:
    if age < 1:
        return "just now"
    if age < 120:
        return f"{age:.0f} s ago"
    if age < 7200:
        return f"{age / 60:.0f} min ago"
    return f"{age / 3600:.0f} h ago"


def process_lines(processes: Sequence[ClusterProcess]) -> list[str]:
    """One line per process (its shards, whether it leads, when last seen; gone ones marked),
    then a warning naming the shards no live process holds: those servers' digests wait."""
    lines = []
    for p in processes:
        live = is_live(p)
        role = "leader" if live and p.leader else ("gone" if not live else "follower")
        lines.append(
            f"{p.id} ({role}): {shards_text(p)}, started {p.started_at:%Y-%m-%d %H:%M} UTC,"
            f" last seen {seen_text(p.age)}"
        )
    running = [p for p in processes if is_live(p)]
    if running and not any(p.leader for p in running):
        lines.append("no live process leads right now (one takes over within seconds)")
    missing = orphan_shards(processes)
    if missing:
        lines.append(
            f"no live process holds shard{'s' if len(missing) > 1 else ''} "
            + ", ".join(map(str, missing))
            + ": digests of those servers wait until a process holding them runs"
        )
    return lines


def orphan_shards(processes: Sequence[ClusterProcess]) -> list[int]:
    """Shards of the configured shard_count that no live process holds."""
    counts = {p.shard_count for p in processes if is_live(p) and p.shard_count}
    if len(counts) != 1:
        return []
    (count,) = counts
    held: set[int] = set()
    for p in processes:
        if is_live(p):
            held |= set(p.shard_ids or range(count))
    return sorted(set(range(count)) - held)

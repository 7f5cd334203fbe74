"""Rising papers in a channel: each paper of the last days posted once, the first time it
reaches the channel's upvote threshold, exactly once through the store's outbox.

A run first plans (one record per channel and paper, with its rendered payload and a stable
nonce, before anything is sent), then sends what is planned and not yet done. A run cut short
(kill -9 mid-send) is resumed by the next one with the same payloads and nonces, so Discord
posts each message once. Papers already at the threshold when a channel is set up are
recorded as not to be posted: a channel gets the papers that reach it from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, timedelta

from bot.delivery import Clock, Owns, owns_every_server
from bot.delivery.courier import Courier, Gone, Refused, Rejected, TryLater, stable_nonce
from bot.errors import LeaseLost
from bot.health import ReportHealth
from bot.leases import Leases, rising_key
from bot.matching import matches
from bot.models import Fence, Listing, RisingChannel, RisingPost
from bot.query import parse_query
from bot.store import Store

log = logging.getLogger(__name__)

RISING_DAYS = 7  # a paper is followed for this many list days, its own included
CANDIDATES = 5_000  # more than the papers of RISING_DAYS lists


def health_key(channel_id: int) -> str:
    """The health problem key of one rising channel."""
    return f"rising:{channel_id}"


def rising_nonce(channel_id: int, paper_id: str) -> str:
    """The nonce of one rising post: the same for every resend of it."""
    return stable_nonce(f"rising:{channel_id}:{paper_id}")


class RisingDelivery:
    """Plans and posts rising papers; runs take turns (a lock), so nothing is planned twice.
    `owns` says which servers' channels this process posts in (those on its shards)."""

    def __init__(
        self,
        store: Store,
        courier: Courier,
        *,
        clock: Clock,
        report_health: ReportHealth,
        owns: Owns = owns_every_server,
        leases: Leases | None = None,
    ) -> None:
        self.store = store
        self.leases = leases or Leases(store)
        self.courier = courier
        self.clock = clock
        self.owns = owns
        self.report_health = report_health
        self._lock = asyncio.Lock()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def listed_since(self) -> date:
        """The oldest list day whose papers are still followed."""
        return self.clock().astimezone(UTC).date() - timedelta(days=RISING_DAYS - 1)

    @contextlib.asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        self._busy += 1
        self._idle.clear()
        try:
            async with self._lock:
                yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def drain(self, seconds: float) -> None:
        """Wait (up to `seconds`) for a run in flight, before the store closes."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            log.warning("rising papers were still being posted at shutdown; they resume on start")

    async def set_channel(self, channel: RisingChannel) -> int:
        """Save a channel's settings; papers already at its threshold are not posted there.
        Returns how many such papers there are."""
        async with self._working():
            await self.store.save_rising(channel)
            already = await self._due(channel)
            for listing in already:
                await self.store.start_rising_post(channel.channel_id, listing.paper.id, "", "")
                await self.store.finish_rising_post(channel.channel_id, listing.paper.id, None)
        self.report_health(health_key(channel.channel_id), None, channel.guild_id)
        return len(already)

    async def run(self) -> int:
        """Plan the posts due in every rising channel of the servers this process owns, then
        send every planned one there (those left by an earlier run first). Returns how many
        were posted."""
        async with self._working():
            channels = {c.channel_id: c for c in await self.store.rising_channels()}
            for channel in channels.values():
                if self.owns(channel.guild_id):
                    await self._plan(channel)
            return await self._send(channels)

    async def _due(self, channel: RisingChannel) -> list[Listing]:
        """Papers at the channel's threshold, matching its keywords, not yet recorded there."""
        found = await self.store.rising_candidates(
            channel.channel_id, channel.threshold, self.listed_since(), CANDIDATES
        )
        if channel.keywords:
            query = parse_query(channel.keywords)
            found = [item for item in found if matches(query, item.paper)]
        return found

    async def _plan(self, channel: RisingChannel) -> None:
        due = await self._due(channel)
        if not due:
            return
        climbs = await self.store.climbs([item.paper.id for item in due])
        for item in due:
            paper_id = item.paper.id
            payload = self.courier.render_rising(item, climbs.get(paper_id, 0))
            nonce = rising_nonce(channel.channel_id, paper_id)
            await self.store.start_rising_post(channel.channel_id, paper_id, payload, nonce)
        log.info("planned %d rising papers for channel %s", len(due), channel.channel_id)

    async def _send(self, channels: dict[int, RisingChannel]) -> int:
        posted = 0
        gone: set[int] = set()
        for post in await self.store.rising_outbox():
            channel = channels.get(post.channel_id)
            if channel is not None and not self.owns(channel.guild_id):
                continue  # the process holding its server's shard posts it
            if post.channel_id in gone:
                await self.store.finish_rising_post(post.channel_id, post.paper_id, None)
                continue
            # Each post under its lease: another process holding it posts it, not this one.
            async with self.leases.held(rising_key(post.channel_id, post.paper_id)) as fence:
                if fence is None:
                    continue
                try:
                    outcome = await self._send_one(post, channel, fence)
                except LeaseLost:
                    log.warning("another process took over rising post %s", post.paper_id)
                    continue
            if outcome == "posted":
                posted += 1
            elif outcome == "gone":
                gone.add(post.channel_id)
            elif outcome == "later":
                break
        if posted:
            log.info("posted %d rising papers", posted)
        return posted

    async def _send_one(self, post: RisingPost, channel: RisingChannel | None, fence: Fence) -> str:
        """Send one planned post under its lease: posted, dropped, gone, done or later."""
        store = self.store
        if channel is None:
            # The channel was removed (or is gone) after the post was planned.
            await store.finish_rising_post(post.channel_id, post.paper_id, None, fence=fence)
            return "dropped"
        if not any(
            p.paper_id == post.paper_id for p in await store.rising_outbox()
        ):  # another process finished it before this one took the lease
            return "done"
        await self.leases.check(fence)
        try:
            sent = await self.courier.post(
                post.channel_id, post.payload, post.nonce, guild_id=channel.guild_id
            )
        except (Rejected, Refused) as e:
            log.warning(
                "Discord refused rising paper %s in %s: %s", post.paper_id, post.channel_id, e
            )
            await store.finish_rising_post(post.channel_id, post.paper_id, None, fence=fence)
            return "dropped"
        except Gone as e:
            await self._gone(post, channel, e.reason, fence)
            return "gone"
        except TryLater as e:
            log.warning("rising posts will be retried: %s", e)
            return "later"
        await store.finish_rising_post(post.channel_id, post.paper_id, sent.message_id, fence=fence)
        return "posted"

    async def _gone(
        self, post: RisingPost, channel: RisingChannel, reason: str, fence: Fence
    ) -> None:
        """The channel cannot be posted in: stop its rising posts and tell the server."""
        log.warning("rising posts in channel %s stop: %s", post.channel_id, reason)
        await self.store.finish_rising_post(post.channel_id, post.paper_id, None, fence=fence)
        await self.store.remove_rising(post.channel_id)
        self.report_health(
            health_key(post.channel_id),
            f"Rising papers are no longer posted in <#{post.channel_id}>: {reason}."
            " Fix it, then run /rising set again.",
            channel.guild_id,
        )

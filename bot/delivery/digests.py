"""Digest delivery: due lists, the outbox, resumable sends, failing channels."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.digest import DigestSelection, newest_complete, select
from bot.models import Delivery, Subscription
from bot.query import parse_query
from bot.schedule import slot_due
from cogs.ui.render import MessagePayload, digest_messages

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

REFRESH_AFTER = timedelta(minutes=15)  # upvotes are refreshed shortly before posting
PERMANENT_CODES = {
    10003: "the channel was deleted",
    50001: "I lost access to the channel",
    50013: "I lost permission to post there",
}
CONCURRENCY = 8
RENDER_CACHE = 256  # rendered digests kept: channels with the same settings share one


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one delivery attempt did: `state` is sent, already, empty, failed or pending."""

    channel_id: int
    list_date: date | None
    state: str
    detail: str = ""
    messages: int = 0


def health_key(channel_id: int) -> str:
    """The health problem key of one digest channel."""
    return f"digest:{channel_id}"


class DigestEngine:
    """Posts each (channel, list) once: planned in the store first, then sent part by part."""

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._refreshed: dict[date, datetime] = {}
        self._limit = asyncio.Semaphore(CONCURRENCY)
        self._rendered: dict[tuple[object, ...], list[str]] = {}
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, seconds: float) -> None:
        """Wait (up to `seconds`) for deliveries in flight, before the store closes."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            log.warning("digests were still being posted at shutdown; they resume on start")

    @contextlib.asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    @property
    def hours(self) -> float:
        return self.bot.config.digest.complete_after_hours

    async def newest_complete(self) -> date | None:
        """The newest list that is complete now."""
        return newest_complete(await self.bot.store.list_dates(), self.bot.clock(), self.hours)

    async def run_due(self, slot: tuple[str, str] | None = None) -> list[Outcome]:
        """Deliver every due digest (all channels, or those posting at one (time, zone) slot);
        resumes half-sent ones."""
        now = self.bot.clock()
        dates = await self.bot.store.list_dates()
        due: defaultdict[date, list[Subscription]] = defaultdict(list)
        slots: dict[tuple[str, str], tuple[datetime, date] | None] = {}
        for sub in await self.bot.store.subscriptions():
            key = (sub.post_time, sub.timezone)
            if sub.failing_reason or (slot is not None and key != slot):
                continue
            if key not in slots:  # the schedule maths once per slot, not once per channel
                slots[key] = slot_due(*key, now, dates, self.hours)
            found = slots[key]
            if found is None or (sub.created_at is not None and found[0] < sub.created_at):
                continue
            due[found[1]].append(sub)
        todo: list[tuple[Subscription, date]] = []
        for day, subs in due.items():
            states = await self.bot.store.delivery_states(day)
            todo += [(s, day) for s in subs if states.get(s.channel_id, "sending") == "sending"]
        if not todo:
            return []
        log.info("posting %d due digests", len(todo))
        results = await asyncio.gather(
            *(self._limited(sub, day) for sub, day in todo), return_exceptions=True
        )
        outcomes: list[Outcome] = []
        for (sub, day), result in zip(todo, results, strict=True):
            if isinstance(result, BaseException):
                # One channel's surprise never stops the others; the retry job tries again.
                log.error("digest for %s in %s failed", day, sub.channel_id, exc_info=result)
                result = Outcome(sub.channel_id, day, "pending", repr(result))
            outcomes.append(result)
        sent = sum(1 for o in outcomes if o.state == "sent")
        log.info("digests: %d posted, %d not (see earlier lines)", sent, len(outcomes) - sent)
        return outcomes

    async def _limited(self, sub: Subscription, day: date) -> Outcome:
        async with self._limit:
            return await self.deliver(sub.channel_id, day, sub, guild_id=sub.guild_id)

    async def selection(self, day: date, settings: Subscription | None) -> DigestSelection | None:
        """What a channel with these settings gets from one list (refreshing upvotes first)."""
        await self._refresh(day)
        top = settings.top if settings else self.bot.config.digest.top
        keywords = parse_query(settings.keywords) if settings and settings.keywords else None
        return select(
            await self.bot.store.day_listing(day),
            top=top,
            min_upvotes=settings.min_upvotes if settings else 0,
            keywords=keywords,
        )

    async def _payloads(self, day: date, settings: Subscription | None) -> list[str]:
        """The digest's messages as JSON, rendered once per (list, settings) and refresh."""
        await self._refresh(day)
        key = (
            day,
            self._refreshed.get(day),
            *(
                (settings.top, settings.min_upvotes, settings.keywords)
                if settings
                else (None, 0, "")
            ),
        )
        cached = self._rendered.get(key)
        if cached is None:
            selection = await self.selection(day, settings)
            messages = digest_messages(selection) if selection and selection.papers else []
            cached = self._rendered[key] = [json.dumps(m.to_json()) for m in messages]
            if len(self._rendered) > RENDER_CACHE:
                self._rendered.pop(next(iter(self._rendered)))  # the oldest
        return cached

    async def _refresh(self, day: date) -> None:
        now = self.bot.clock()
        last = self._refreshed.get(day)
        if last is not None and now - last < REFRESH_AFTER:
            return
        self._refreshed[day] = now
        outcome = await self.bot.scraper.scrape_date(day)
        if not outcome.ok:
            log.warning("could not refresh upvotes for %s; posting stored counts", day)

    async def deliver(
        self,
        channel_id: int,
        day: date,
        settings: Subscription | None,
        *,
        guild_id: int | None = None,
    ) -> Outcome:
        """Deliver one list to one channel at most once; resume it if it was half sent."""
        async with self._working(), self._locks[channel_id]:
            delivery = await self.bot.store.get_delivery(channel_id, day)
            if delivery is not None and delivery.state != "sending":
                return Outcome(channel_id, day, "already", delivery.error or "")
            if delivery is None:
                payloads = await self._payloads(day, settings)
                delivery = await self.bot.store.start_delivery(channel_id, day, payloads)
                if not payloads:
                    await self.bot.store.finish_delivery(channel_id, day, "sent", "no papers")
                    return Outcome(channel_id, day, "empty", "no papers passed the filters")
            return await self._send(delivery, settings, guild_id)

    async def _send(
        self, delivery: Delivery, settings: Subscription | None, guild_id: int | None
    ) -> Outcome:
        store, channel_id, day = self.bot.store, delivery.channel_id, delivery.list_date
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            for part in delivery.pending:
                payload = MessagePayload.from_json(json.loads(part.payload))
                await self.bot.pacer.wait()
                message = await channel.send(
                    content=payload.content or None,
                    embeds=payload.discord_embeds(),
                    nonce=part.nonce,
                )
                await store.record_part_sent(channel_id, day, part.part, message.id)
                if part.part == 0 and settings is not None and settings.threads:
                    await self._open_thread(message, day)
        except discord.HTTPException as e:
            reason = PERMANENT_CODES.get(e.code)
            # 401 is our token, not the channel: leave the digest pending for a fixed token.
            if reason is None and 400 <= e.status < 500 and e.status not in (401, 429):
                reason = f"Discord refused the digest ({e.status} {e.code}: {e.text})"
            if reason is None:
                log.warning("digest for %s in %s will be retried: %s", day, channel_id, e)
                return Outcome(channel_id, day, "pending", str(e))
            return await self._fail(
                delivery, reason, mark_channel=e.code in PERMANENT_CODES, guild_id=guild_id
            )
        except (aiohttp.ClientError, TimeoutError) as e:
            log.warning("digest for %s in %s will be retried: %s", day, channel_id, e)
            return Outcome(channel_id, day, "pending", str(e))
        await store.finish_delivery(channel_id, day, "sent")
        self.bot.report_health(health_key(channel_id), None, guild_id)
        log.info("posted the %s digest to channel %s", day, channel_id)
        return Outcome(channel_id, day, "sent", messages=len(delivery.parts))

    async def _open_thread(self, message: discord.Message, day: date) -> None:
        try:
            await message.create_thread(name=f"Daily Papers {day.isoformat()}")
        except (discord.HTTPException, ValueError) as e:
            log.warning("could not open a discussion thread in %s: %s", message.channel.id, e)

    async def _fail(
        self, delivery: Delivery, reason: str, *, mark_channel: bool, guild_id: int | None
    ) -> Outcome:
        channel_id, day = delivery.channel_id, delivery.list_date
        log.warning("digest for %s in channel %s failed: %s", day, channel_id, reason)
        await self.bot.store.finish_delivery(channel_id, day, "failed", reason)
        if mark_channel:
            await self.bot.store.set_subscription_failing(channel_id, reason)
            self.bot.report_health(
                health_key(channel_id), f"The digest in <#{channel_id}> fails: {reason}.", guild_id
            )
        return Outcome(channel_id, day, "failed", reason)

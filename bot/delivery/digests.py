"""Digest delivery: due lists, the outbox, resumable sends, failing channels."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from bot.config import DigestConfig
from bot.delivery import Clock, Owns, owns_every_server
from bot.delivery.courier import (
    Courier,
    DeliveryError,
    Gone,
    Refused,
    Rejected,
    TryLater,
    part_nonce,
)
from bot.digest import WEEK_DAYS, DigestSelection, is_complete, newest_complete, select, select_week
from bot.errors import LeaseLost
from bot.health import ReportHealth
from bot.leases import Leases, digest_key
from bot.models import Delivery, Fence, Listing, PeriodKind, Subscription
from bot.query import parse_query
from bot.schedule import Slot, due_lists, due_weeks, slot_of, week_starting
from bot.store import Store

log = logging.getLogger(__name__)

REFRESH_AFTER = timedelta(minutes=15)  # upvotes are refreshed shortly before posting
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
    kind: PeriodKind = "day"


def health_key(channel_id: int) -> str:
    """The health problem key of one digest channel."""
    return f"digest:{channel_id}"


def planned_parts(
    channel_id: int, day: date, payloads: list[str], kind: PeriodKind = "day"
) -> list[tuple[str, str]]:
    """The digest's messages as the outbox records them: (payload, nonce), in order."""
    return [(payload, part_nonce(channel_id, day, n, kind)) for n, payload in enumerate(payloads)]


class DigestDelivery:
    """Posts each (channel, list) once: planned in the store first, then sent part by part.

    `refresh(day)` re-scrapes a list shortly before it is posted (False: it failed, and the
    stored counts are posted); `report_health` sets or clears a channel's problem; `owns`
    says which servers' digests this process posts (those on its shards). Each delivery is
    made under its lease (`leases`, bot.leases): another process holding it means "pending
    here", and a lease lost mid-send stops this process's sending.
    """

    def __init__(
        self,
        store: Store,
        courier: Courier,
        *,
        clock: Clock,
        settings: DigestConfig,
        refresh: Callable[[date], Awaitable[bool]],
        report_health: ReportHealth,
        owns: Owns = owns_every_server,
        leases: Leases | None = None,
    ) -> None:
        self.store = store
        self.courier = courier
        self.clock = clock
        self.owns = owns
        self.leases = leases or Leases(store)
        self.settings = settings
        self.refresh = refresh
        self.report_health = report_health
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
        return self.settings.complete_after_hours

    async def newest_complete(self) -> date | None:
        """The newest list that is complete now."""
        return newest_complete(await self.store.list_dates(), self.clock(), self.hours)

    def week_of(self, sub: Subscription) -> date:
        """The week a weekly channel's digest posted now covers: the 7 days before today
        (the channel's today)."""
        return week_starting(self.clock(), sub.timezone)

    async def run_due(self, slot: Slot | None = None) -> list[Outcome]:
        """Deliver every due digest (all channels of the servers this process owns, or those
        posting at one slot); resumes half-sent ones."""
        subs = [s for s in await self.store.subscriptions() if self.owns(s.guild_id)]
        if slot is not None:
            subs = [s for s in subs if slot_of(s) == slot]
        now = self.clock()
        todo: list[tuple[Subscription, date, PeriodKind]] = []
        periods: list[tuple[PeriodKind, dict[date, list[Subscription]]]] = [
            ("day", due_lists(subs, now, await self.store.list_dates(), self.hours)),
            ("week", due_weeks(subs, now)),
        ]
        for kind, due in periods:
            for day, channels in due.items():
                states = await self.store.delivery_states(day, kind=kind)
                todo += [
                    (s, day, kind)
                    for s in channels
                    if states.get(s.channel_id, "sending") == "sending"
                ]
        if not todo:
            return []
        log.info("posting %d due digests", len(todo))
        results = await asyncio.gather(
            *(self._limited(sub, day, kind) for sub, day, kind in todo), return_exceptions=True
        )
        outcomes: list[Outcome] = []
        for (sub, day, kind), result in zip(todo, results, strict=True):
            if isinstance(result, BaseException):
                # One channel's surprise never stops the others; the retry job tries again.
                log.error("digest for %s in %s failed", day, sub.channel_id, exc_info=result)
                result = Outcome(sub.channel_id, day, "pending", repr(result), kind=kind)
            outcomes.append(result)
        sent = sum(1 for o in outcomes if o.state == "sent")
        log.info("digests: %d posted, %d not (see earlier lines)", sent, len(outcomes) - sent)
        return outcomes

    async def _limited(self, sub: Subscription, day: date, kind: PeriodKind) -> Outcome:
        async with self._limit:
            return await self.deliver(sub.channel_id, day, sub, guild_id=sub.guild_id, kind=kind)

    async def selection(
        self, day: date, settings: Subscription | None, kind: PeriodKind = "day"
    ) -> DigestSelection | None:
        """What a channel with these settings gets from one list, or from the week starting
        on `day` (refreshing upvotes first)."""
        top = settings.top if settings else self.settings.top
        keywords = parse_query(settings.keywords) if settings and settings.keywords else None
        min_upvotes = settings.min_upvotes if settings else 0
        if kind == "week":
            listings: list[Listing] = []
            for list_date in await self._week_lists(day):
                await self._refresh(list_date)
                listings += await self.store.day_listing(list_date)
            found: DigestSelection | None = select_week(
                day, listings, top=top, min_upvotes=min_upvotes, keywords=keywords
            )
        else:
            await self._refresh(day)
            found = select(
                await self.store.day_listing(day),
                top=top,
                min_upvotes=min_upvotes,
                keywords=keywords,
            )
        if found is not None and settings is not None:
            found = replace(found, style=settings.style)
        return found

    async def _week_lists(self, start: date) -> list[date]:
        """The lists of the week starting at `start` that are complete now."""
        end = start + timedelta(days=WEEK_DAYS - 1)
        now = self.clock()
        return [
            d for d in await self.store.list_dates(start, end) if is_complete(d, now, self.hours)
        ]

    async def _payloads(
        self, day: date, settings: Subscription | None, kind: PeriodKind = "day"
    ) -> list[str]:
        """The digest's messages as payloads, rendered once per (period, settings) and
        refresh."""
        days = await self._week_lists(day) if kind == "week" else [day]
        for list_date in days:
            await self._refresh(list_date)
        key = (
            kind,
            day,
            tuple(self._refreshed.get(d) for d in days),
            *(
                (settings.top, settings.min_upvotes, settings.keywords, settings.style)
                if settings
                else (None, 0, "", "cards")
            ),
        )
        cached = self._rendered.get(key)
        if cached is None:
            selection = await self.selection(day, settings, kind)
            payloads = (
                self.courier.render_digest(selection) if selection and selection.papers else []
            )
            cached = self._rendered[key] = payloads
            if len(self._rendered) > RENDER_CACHE:
                self._rendered.pop(next(iter(self._rendered)))  # the oldest
        return cached

    async def _refresh(self, day: date) -> None:
        now = self.clock()
        last = self._refreshed.get(day)
        if last is not None and now - last < REFRESH_AFTER:
            return
        self._refreshed[day] = now
        if not await self.refresh(day):
            log.warning("could not refresh upvotes for %s; posting stored counts", day)

    async def deliver(
        self,
        channel_id: int,
        day: date,
        settings: Subscription | None,
        *,
        guild_id: int | None = None,
        kind: PeriodKind = "day",
    ) -> Outcome:
        """Deliver one list (or the week starting at `day`) to one channel at most once;
        resume it if it was half sent."""
        async with self._working(), self._locks[channel_id]:
            delivery = await self.store.get_delivery(channel_id, day, kind=kind)
            if delivery is not None and delivery.state != "sending":
                return Outcome(channel_id, day, "already", delivery.error or "", kind=kind)
            async with self.leases.held(digest_key(channel_id, day, kind)) as fence:
                if fence is None:
                    return Outcome(
                        channel_id, day, "pending", "another process is posting it", kind=kind
                    )
                try:
                    return await self._deliver_held(
                        channel_id, day, settings, guild_id, kind, fence, delivery is not None
                    )
                except LeaseLost:
                    log.warning(
                        "another process took over the %s %s digest in %s; this one stops",
                        kind,
                        day,
                        channel_id,
                    )
                    return Outcome(
                        channel_id, day, "pending", "another process took it over", kind=kind
                    )

    async def _deliver_held(
        self,
        channel_id: int,
        day: date,
        settings: Subscription | None,
        guild_id: int | None,
        kind: PeriodKind,
        fence: Fence,
        resuming: bool,
    ) -> Outcome:
        if resuming:  # read again under the lease: another process may have finished it
            delivery = await self.store.get_delivery(channel_id, day, kind=kind)
        else:  # a record another process made meanwhile wins (and comes back)
            payloads = await self._payloads(day, settings, kind)
            delivery = await self.store.start_delivery(
                channel_id,
                day,
                planned_parts(channel_id, day, payloads, kind),
                kind=kind,
                fence=fence,
            )
            if delivery.state == "sending" and not delivery.parts:
                await self.store.finish_delivery(
                    channel_id, day, "sent", "no papers", kind=kind, fence=fence
                )
                return Outcome(channel_id, day, "empty", "no papers passed the filters", kind=kind)
        if delivery is None or delivery.state != "sending":
            error = delivery.error or "" if delivery else ""
            return Outcome(channel_id, day, "already", error, kind=kind)
        return await self._send(delivery, settings, guild_id, fence)

    async def _send(
        self, delivery: Delivery, settings: Subscription | None, guild_id: int | None, fence: Fence
    ) -> Outcome:
        store, channel_id, day = self.store, delivery.channel_id, delivery.list_date
        kind = delivery.kind
        refused: list[str] = []
        posted = sum(1 for p in delivery.parts if p.message_id is not None)
        try:
            for part in delivery.pending:
                await self.leases.check(fence)  # taken over: LeaseLost, nothing sent
                try:
                    sent = await self.courier.post(
                        channel_id, part.payload, part.nonce, guild_id=guild_id
                    )
                except Rejected as e:
                    # This message only: it is left out (never sent again), the rest goes out.
                    refused.append(f"message {part.part + 1} was refused ({e.reason})")
                    await store.record_part_refused(
                        channel_id, day, part.part, kind=kind, fence=fence
                    )
                    continue
                await store.record_part_sent(
                    channel_id, day, part.part, sent.message_id, kind=kind, fence=fence
                )
                posted += 1
                if sent.left_out:
                    refused.append(f"message {part.part + 1}: {sent.left_out}")
                if part.part == 0 and settings is not None and settings.threads:
                    await self._open_thread(channel_id, sent.message_id, day, kind, guild_id)
        except Gone as e:
            return await self._fail(
                delivery, e.reason, mark_channel=True, guild_id=guild_id, fence=fence
            )
        except Refused as e:
            reason = f"Discord refused the digest ({e.reason})"
            return await self._fail(
                delivery, reason, mark_channel=False, guild_id=guild_id, fence=fence
            )
        except TryLater as e:
            # Our token, rate limits, Discord's servers, the network: the retry job resumes it.
            log.warning("digest for %s in %s will be retried: %s", day, channel_id, e)
            return Outcome(channel_id, day, "pending", e.reason, kind=kind)
        if not posted:
            reason = "Discord refused every message of it: " + ("; ".join(refused) or "see the log")
            return await self._fail(
                delivery, reason, mark_channel=False, guild_id=guild_id, fence=fence
            )
        problem = None
        if refused:
            problem = (
                f"Part of the {day} digest in <#{channel_id}> was left out: " + "; ".join(refused)
            )[:900]
        await store.finish_delivery(channel_id, day, "sent", problem, kind=kind, fence=fence)
        self.report_health(health_key(channel_id), problem, guild_id)
        log.info("posted the %s %s digest to channel %s", kind, day, channel_id)
        return Outcome(
            channel_id, day, "sent", problem or "", messages=len(delivery.parts), kind=kind
        )

    async def _open_thread(
        self, channel_id: int, message_id: int, day: date, kind: PeriodKind, guild_id: int | None
    ) -> None:
        name = DigestSelection(day, (), 0, kind=kind).title
        try:
            await self.courier.open_thread(channel_id, message_id, name, guild_id=guild_id)
        except DeliveryError as e:
            log.warning("could not open a discussion thread in %s: %s", channel_id, e)

    async def _fail(
        self,
        delivery: Delivery,
        reason: str,
        *,
        mark_channel: bool,
        guild_id: int | None,
        fence: Fence,
    ) -> Outcome:
        channel_id, day = delivery.channel_id, delivery.list_date
        log.warning("digest for %s in channel %s failed: %s", day, channel_id, reason)
        await self.store.finish_delivery(
            channel_id, day, "failed", reason, kind=delivery.kind, fence=fence
        )
        if mark_channel:
            await self.store.set_subscription_failing(channel_id, reason)
            self.report_health(
                health_key(channel_id), f"The digest in <#{channel_id}> fails: {reason}.", guild_id
            )
        else:  # this list only: the channel's next digests are still posted
            self.report_health(
                health_key(channel_id),
                f"The {day} digest in <#{channel_id}> was not posted: {reason}."[:900],
                guild_id,
            )
        return Outcome(channel_id, day, "failed", reason, kind=delivery.kind)

"""Alert matching and delivery: new papers -> outbox (in the store) -> one message per person.

Papers whose text changed, or whose upvotes passed a rising alert's threshold, come back as
unmatched with the text they were last matched with, and are matched again: only the alerts
that the new text matches and the old one did not (and the rising alerts) can queue anything
(the store's AlertStore states the rule). The outbox keeps one row per (person, paper) ever,
so a paper reaches a person once. A watched paper's code news rides in the same outbox and
the same message."""

from __future__ import annotations

import asyncio
import gc
import logging
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from operator import attrgetter
from typing import NamedTuple, ParamSpec, TypeVar

import numpy as np

from bot.delivery import Clock
from bot.delivery.alert_rows import Routes, outbox_rows
from bot.delivery.courier import Courier, DeliveryError, Gone, Refused, batch_nonce
from bot.errors import LeaseLost
from bot.health import ReportHealth
from bot.leases import Leases
from bot.memory import release_freed_memory
from bot.models import (
    Alert,
    AlertTarget,
    Fence,
    Listing,
    Paper,
    QueuedAlert,
    target_channel,
)
from bot.percolator import AlertIndex, Matches, SharedQueries
from bot.query import parse_query
from bot.store import Store
from bot.store.base import RISING_WATCH_DAYS
from bot.store.deferred import bucket_of

log = logging.getLogger(__name__)

ALERTS_LEASE = "alerts:deliver"  # the lease whoever sends the alert outbox holds

MAX_BACKOFF = timedelta(hours=1)
BULK_DM_REFUSALS = 5  # refusals in one run that make a health problem
DM_HEALTH = "alerts:dm"
QUEUE_CHUNK = 20_000  # rows queued in one transaction
DEFER_ROWS = 20_000  # a batch with more rows is kept packed (store.defer_alert_matches)
P = ParamSpec("P")
T = TypeVar("T")
_text = attrgetter("title", "abstract", "authors", "ai_keywords")  # what alerts match


_CATCH_UP_ON_LOOP = 200  # changed alerts applied on the loop; more go to a worker thread
LOAD_PAGE = 5000  # active alerts read at a time by a full load


class Route(NamedTuple):
    """What matching and the outbox rows need of an active alert (its query is in the index;
    the rest is read from the store when a message is sent)."""

    user_id: int
    target: AlertTarget
    min_upvotes: int  # a rising alert: matches wait until the paper has this many

    @classmethod
    def of(cls, alert: Alert) -> Route:
        return cls(alert.user_id, alert.target, alert.min_upvotes)


class ActiveRoutes(Mapping[int, Route]):
    """Active alert id -> its Route: those of the last full load (or of the last `arrays()`)
    as sorted arrays, the changes since in a dict. As a dict of 100,000 ids (with a shared
    Route tuple each) they weighed ~6 MB, beside the same arrays matching reads."""

    def __init__(self, routes: Routes | None = None) -> None:
        self._routes = routes if routes is not None else Routes({})
        self._changed: dict[int, Route | None] = {}  # None: no longer active

    def __getitem__(self, alert_id: int) -> Route:
        if alert_id in self._changed:
            route = self._changed[alert_id]
        else:
            at = int(self._routes.find(np.array([alert_id], dtype=np.int64))[0])
            route = Route(*self._routes.route(at)) if at >= 0 else None
        if route is None:
            raise KeyError(alert_id)
        return route

    def __iter__(self) -> Iterator[int]:
        changed = self._changed
        yield from (i for i in self._routes.ids.tolist() if i not in changed)
        yield from (i for i, route in changed.items() if route is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def set(self, alert_id: int, route: Route) -> None:
        self._changed[alert_id] = route

    def forget(self, alert_id: int) -> None:
        self._changed[alert_id] = None

    def arrays(self) -> Routes:
        """Every route as arrays sorted by id (made again only after a change)."""
        if self._changed:
            self._routes, self._changed = self._routes.merged(self._changed), {}
        return self._routes


class AlertDelivery:
    """Matches every new paper against every active alert, then delivers the outbox."""

    def __init__(
        self,
        store: Store,
        courier: Courier,
        *,
        clock: Clock,
        report_health: ReportHealth,
        leases: Leases | None = None,
    ) -> None:
        self.store = store
        self.leases = leases or Leases(store)
        self.courier = courier
        self.clock = clock
        self.report_health = report_health
        self.index = AlertIndex()
        # Active alert id -> its Route (100,000 `Alert`s as the store returns them weighed
        # about 35 MB; as a dict of shared Routes, 6 MB).
        self._alerts = ActiveRoutes()
        self._lock = asyncio.Lock()
        self._refused = self._delivered = 0
        self._synced_version = -1

    async def run(self) -> None:
        """Match what is new and deliver what is queued; one run at a time, never raises."""
        async with self._lock:
            try:
                await self.match_new()
                await self.store.queue_code_notices(self.clock())
                await self.deliver()
            except Exception:
                log.exception("alert run failed; queued alerts stay queued")

    async def drain(self, seconds: float) -> None:
        """Wait (up to `seconds`) for a run in flight to finish, before the store closes."""
        try:
            await asyncio.wait_for(self._lock.acquire(), seconds)
        except TimeoutError:
            log.warning("an alert run was still going at shutdown; its rows stay queued")
            return
        self._lock.release()

    async def sync_index(self) -> None:
        """Bring the index in line with the store's active alerts (added, removed, muted...),
        re-reading only the alerts that the changes since the last sync touched."""
        store = self.store
        if await store.alerts_version() == self._synced_version:
            return  # nothing changed since the last sync
        changes = await store.alert_changes(self._synced_version)
        if changes is None:  # the first load, or more changed than the store remembers
            await self._load_all()
            return
        touched = await store.alerts_in(changes)
        self._synced_version = changes.version
        if len(touched) > _CATCH_UP_ON_LOOP:  # thousands of adds would stall the loop
            await asyncio.to_thread(_gc_paused(self._apply), touched, changes.alert_ids)
        else:
            self._apply(touched, changes.alert_ids)

    def _apply(self, touched: list[tuple[Alert, bool]], changed: Iterable[int]) -> None:
        """Apply changed alerts to the index (on the loop, or in a worker thread while the
        run lock keeps every other reader and writer of the index out)."""
        gone = set(changed)  # removed alerts are not read back
        for alert, active in touched:
            gone.discard(alert.id)
            if not active:
                self._forget(alert.id)
                continue
            self.index.add(alert.id, parse_query(alert.query))  # (an equal query: no change)
            self._alerts.set(alert.id, Route.of(alert))
        for alert_id in gone:
            self._forget(alert_id)

    async def _load_all(self) -> None:
        """Build the index from every active alert: one bulk build is faster than many adds."""
        version = await self.store.alerts_version()
        # A page at a time: 100,000 `Alert`s read at once took ~55 MB, and the memory they
        # leave behind when freed is scattered among what is kept, so it stayed resident.
        alerts = _Loaded()
        while page := await self.store.active_alerts(after=alerts.last_id, limit=LOAD_PAGE):
            alerts.add(page)  # the Alerts are freed in there
        self._synced_version = version
        # A build over 100,000 alerts takes about half a second of CPU: off the event loop.
        self.index, routes = await asyncio.to_thread(_gc_paused(alerts.build))
        self._alerts = ActiveRoutes(routes)

    def _forget(self, alert_id: int) -> None:
        self.index.remove(alert_id)
        self._alerts.forget(alert_id)

    async def match_new(self) -> int:
        """Queue a match for every (person, new paper): the alerts' matches, then the papers
        of followed authors (one row per person and paper, its reasons joined); returns how
        many were queued (or kept: a batch of more than DEFER_ROWS rows is kept packed, in
        the transaction that marks its papers matched, and deliver() queues it a bucket of
        people at a time).

        A paper matched again (its text changed, its upvotes rose) is also matched as it was
        last matched: only the alerts its new text adds, and the rising alerts, are looked
        at (the thousands it matched before were queued then). The matching and the rows
        are made in a worker thread (thousands of matches a paper would stall the event
        loop), and queued in chunks."""
        await self.sync_index()
        queued = 0
        store = self.store
        while papers := await store.unmatched_papers(1000):
            paper_ids = [p.id for p in papers]
            before = await store.matched_text(paper_ids)
            # Nothing else changes the index or the alerts meanwhile: only sync_index does,
            # and it runs here, between two batches.
            found, wanted, routes = await asyncio.to_thread(_gc_paused(self._match), papers, before)
            rising = await self._rising_ok(wanted)
            # The people who have a paper: what a first match (or one whose old text was not
            # kept) may skip. A re-match's few new rows are left to the outbox's key.
            have = await store.alert_recipients([i for i in paper_ids if i not in before])
            follows = await store.follow_matches(paper_ids)
            rows = await asyncio.to_thread(
                _gc_paused(outbox_rows), routes, papers, found, rising, have, follows
            )
            if len(rows) > DEFER_ROWS:
                # Too many to write one by one now: kept packed, they enter the outbox a
                # bucket of people at a time as deliver() sends them.
                parts = await asyncio.to_thread(rows.packed)
                queued += await store.defer_alert_matches(paper_ids, parts)
                continue
            # In chunks, the papers marked matched with the last: a crash in between leaves
            # them unmatched, and matching them again skips the rows already queued.
            for start in range(0, len(rows), QUEUE_CHUNK):
                queued += await store.queue_alert_matches([], rows[start : start + QUEUE_CHUNK])
            queued += await store.queue_alert_matches(paper_ids, [])
        if queued:
            log.info("queued or kept %d alert matches", queued)
        return queued

    def _match(
        self, papers: list[Paper], before: Mapping[str, Paper]
    ) -> tuple[dict[str, Matches], list[str], Routes]:
        """(In a worker thread.) Each paper's matches that may queue something: for a paper
        matched before (`before` holds its text then), those its old text did not have and
        the rising alerts'; the papers a rising alert matched; and the alerts' routes."""
        index = self.index
        routes = self._alerts.arrays()  # made again only after the alerts changed
        rising = routes.ids[routes.min_upvotes > 0]
        # Marked for its upvotes alone, a paper kept its text: only rising alerts may add.
        # A changed paper's new and old texts share most of their words: matched at once.
        changed = [(before[p.id], p) for p in papers if p.id in before]
        changed = [(then, now) for then, now in changed if _text(then) != _text(now)]
        found = index.match_again(changed, rising.tolist())
        found.update(index.match_many([p for p in papers if p.id not in found]))
        for paper_id in before.keys() - {now.id for _, now in changed}:
            hits = found[paper_id]
            found[paper_id] = hits.only(routes.is_rising[routes.find(hits.ids())])
        wanted = [p for p, hits in found.items() if len(rising) and routes.rising(hits.ids()).any()]
        return found, wanted, routes

    async def _rising_ok(self, wanted: list[str]) -> set[str]:
        """Of the papers a rising alert matched, those it still watches: first listed within
        RISING_WATCH_DAYS."""
        if not wanted:
            return set()
        since = self.clock().date() - timedelta(days=RISING_WATCH_DAYS)
        return {i for i, day in (await self.store.first_listed(wanted)).items() if day >= since}

    async def deliver(self) -> None:
        """One message per (person, target) for everything queued; sending ones are resent.
        Rows kept packed (a large match) are queued a bucket of people at a time, each
        bucket sent before the next is queued; a person whose bucket has kept rows waits
        for them, so that everything of theirs goes in one message."""
        # What may no longer be sent is dropped now (also what waits on refused DMs), and
        # again at each send, for what changes during the run.
        await self.store.drop_unsendable_alerts()
        self._refused = self._delivered = 0
        kept = await self.store.deferred_buckets()
        groups = await self._groups(lambda bucket: bucket not in kept)
        if groups or kept:
            # One sender at a time for the whole bot (the leader; a paused leader that wakes
            # up after another took over finds the lease gone and sends nothing more).
            async with self.leases.held(ALERTS_LEASE) as fence:
                if fence is None:
                    log.info("another process is sending the alerts")
                    return
                try:
                    await self._send_all(groups, fence)
                    while True:
                        await self.leases.check(fence)
                        expanded = await self.store.expand_alert_matches()
                        if expanded is None:
                            break
                        # The people just queued (the others' rows were sent above).
                        groups = await self._groups({expanded[0]}.__contains__)
                        await self._send_all(groups, fence)
                except LeaseLost:
                    log.warning("another process took over sending the alerts; this one stops")
                    return
        if self._refused >= BULK_DM_REFUSALS:
            self.report_health(
                DM_HEALTH,
                f"{self._refused} people refused alert DMs in one run: Discord may be "
                "limiting the bot, or members changed their privacy settings.",
                None,
            )
        elif self._delivered and not self._refused:
            self.report_health(DM_HEALTH, None, None)

    async def _groups(
        self, in_bucket: Callable[[int], bool]
    ) -> dict[tuple[int, str, str | None], list[QueuedAlert]]:
        """What the outbox holds now for the people whose bucket passes, by (person,
        target, nonce of a batch cut short by a crash: resent as it was)."""
        groups: defaultdict[tuple[int, str, str | None], list[QueuedAlert]] = defaultdict(list)
        for row in await self.store.alert_outbox(self.clock()):
            if in_bucket(bucket_of(row.user_id)):
                batch = row.batch if row.state == "sending" else None
                groups[(row.user_id, row.target, batch)].append(row)
        return groups

    async def _send_all(
        self, groups: dict[tuple[int, str, str | None], list[QueuedAlert]], fence: Fence
    ) -> None:
        for (user_id, target, batch), rows in groups.items():
            await self.leases.check(fence)
            await self._send(user_id, target, batch, rows)

    async def _send(
        self, user_id: int, target: str, batch: str | None, rows: list[QueuedAlert]
    ) -> None:
        store = self.store
        paper_ids = [r.paper_id for r in rows]
        nonce = batch or batch_nonce(user_id, target, paper_ids)
        # Read what the message needs first: no await may come between the store's last
        # word on these rows (the claim) and the send.
        listings: dict[str, Listing] = {}
        for row in rows:
            listing = await store.get_paper(row.listed_id)
            if listing is not None:
                listings[row.paper_id] = listing
        alerts = await store.user_alerts(user_id)
        sent_to = target
        try:
            channel_id = target_channel(target)
            moved = None
            if channel_id is not None:
                moved = await self.courier.moved_to_dm(user_id, channel_id)
                if moved is not None:
                    sent_to = "dm"
            if sent_to == "dm" and (await store.alert_user(user_id)).dm_blocked is not None:
                return  # kept queued until the person fixes their DM settings
            await self.courier.prepare_alerts(user_id, target_channel(sent_to))
            # Paused, muted, removed or no longer allowed in that server: decided here, right
            # before the send, by the store in one transaction.
            claimed = await store.claim_alerts(user_id, paper_ids, nonce, by_dm=sent_to == "dm")
            if not claimed:
                return
            paper_ids = [r.paper_id for r in claimed]
            items = [(r, listings[r.paper_id]) for r in claimed if r.paper_id in listings]
            items.sort(key=lambda item: -item[1].paper.upvotes)
            behind = {r.alert_id for r in claimed}
            await self.courier.send_alerts(
                user_id,
                target_channel(sent_to),
                items,
                [a for a in alerts if a.id in behind],
                nonce,
                note=moved,
            )
        except Refused as e:
            log.info("user %s refuses DMs; pausing their DM alerts", user_id)
            self._refused += 1
            await store.set_dm_blocked(user_id, e.reason)
            await store.mark_alerts(user_id, paper_ids, "queued")
        except Gone as e:
            await self._give_up_or_retry(user_id, sent_to, paper_ids, rows, e)
        except DeliveryError as e:  # Rejected or TryLater: try again later
            await self._retry(user_id, paper_ids, rows, e)
        else:
            await store.mark_alerts(user_id, paper_ids, "sent")
            self._delivered += 1
            log.info("delivered %d alert matches to user %s (%s)", len(paper_ids), user_id, sent_to)

    async def _give_up_or_retry(
        self,
        user_id: int,
        target: str,
        paper_ids: list[str],
        rows: list[QueuedAlert],
        error: Gone,
    ) -> None:
        if target != "dm":
            log.warning("alert channel %s is gone for user %s: %s", target, user_id, error)
            await self.store.mark_alerts(user_id, paper_ids, "dropped")
            return
        await self._retry(user_id, paper_ids, rows, error)

    async def _retry(
        self, user_id: int, paper_ids: list[str], rows: list[QueuedAlert], error: Exception
    ) -> None:
        attempts = max(r.attempts for r in rows) + 1
        wait = min(MAX_BACKOFF, timedelta(minutes=2 ** min(attempts - 1, 6)))
        log.warning("alert delivery to %s failed (%s); retrying in %s", user_id, error, wait)
        await self.store.mark_alerts(user_id, paper_ids, "queued", retry_at=self.clock() + wait)


class _Loaded:
    """Every active alert in a compact form, made from the store's `Alert`s a page at a time,
    which are then freed: nothing kept (ids, query texts, routes) points into the memory they
    took, so it can be reused, whereas a kept object amid 100,000 freed ones would keep it
    all resident (CPython gives memory back only by whole arenas)."""

    def __init__(self, active: list[Alert] | None = None) -> None:
        self.ids = array("q")
        self.users = array("q")
        self.min_upvotes = array("q")
        self.query_of = array("q")
        self.target_of = array("q")
        self._texts: dict[str, int] = {}  # query text (a copy) -> its number
        self._targets: dict[str, int] = {}
        if active is not None:
            self.add(active)

    @property
    def last_id(self) -> int:
        """The id of the last alert added (0 before any)."""
        return self.ids[-1] if self.ids else 0

    def add(self, active: list[Alert]) -> None:
        """Take in the next alerts (by id); empties the caller's list."""
        self.ids.extend(a.id for a in active)
        self.users.extend(a.user_id for a in active)
        self.min_upvotes.extend(a.min_upvotes for a in active)
        self.query_of.extend(_number(self._texts, a.query) for a in active)
        self.target_of.extend(_number(self._targets, a.target) for a in active)
        del active[:]  # (the caller's list: the Alerts go now)

    @property
    def texts(self) -> list[str]:
        return list(self._texts)

    @property
    def targets(self) -> list[AlertTarget]:
        return [AlertTarget(t) for t in self._targets]

    def build(self) -> tuple[AlertIndex, Routes]:
        """(In a worker thread.) The index and the routes."""
        ids = self.ids.tolist()
        # Each distinct query parsed once, and made of shared terms and groups as it is
        # parsed: the parsed copy is freed at once, and its memory used for the next.
        share = SharedQueries()
        queries = [share(parse_query(t)) for t in self.texts]
        pairs = zip(ids, map(queries.__getitem__, self.query_of), strict=True)
        index = AlertIndex.build(pairs, share=share)
        routes = Routes.of_columns(
            np.array(self.ids, dtype=np.int64),
            np.array(self.users, dtype=np.int64),
            np.array(self.min_upvotes, dtype=np.int64),
            np.array(self.target_of, dtype=np.int64),
            self.targets,
        )
        del ids, queries
        release_freed_memory()  # the parse's and the build's scratch, the Alerts read
        return index, routes


def _number(numbers: dict[str, int], text: str) -> int:
    """`text`'s number in `numbers`, a new one for a text not seen; a new text is kept as a
    copy, not the `Alert`'s own string (which is freed with it)."""
    found = numbers.get(text)
    if found is None:
        found = numbers[text.encode().decode()] = len(numbers)
    return found


def _gc_paused(work: Callable[P, T]) -> Callable[P, T]:
    """`work` run with the cycle collector paused: matching and making rows create hundreds
    of thousands of acyclic objects, and the collections they set off (each walking what the
    alert index holds) took half of the time."""

    def paused(*args: P.args, **kwargs: P.kwargs) -> T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return work(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused

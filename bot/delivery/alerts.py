"""Alert matching and delivery: new papers -> outbox (in the store) -> one message per person."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
from collections import defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.models import Alert, Listing, QueuedAlert
from bot.percolator import AlertIndex
from bot.query import parse_query
from cogs.ui.alert_views import alert_buttons, alert_message

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

DM_REFUSED = 50007
GONE_CODES = {10003, 50001, 50013}  # a channel alert target that is gone or forbidden
MAX_BACKOFF = timedelta(hours=1)
BULK_DM_REFUSALS = 5  # refusals in one run that make a health problem
DM_HEALTH = "alerts:dm"


def batch_nonce(user_id: int, target: str, paper_ids: list[str]) -> str:
    """A stable nonce for one message, so a resend after a crash is deduplicated by Discord."""
    digest = hashlib.sha256(f"{user_id}|{target}|{','.join(paper_ids)}".encode()).hexdigest()
    return str(int(digest[:16], 16) % 10**19)


class AlertEngine:
    """Matches every new paper against every active alert, then delivers the outbox."""

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot
        self.index = AlertIndex()
        self._alerts: dict[int, Alert] = {}
        self._lock = asyncio.Lock()
        self._refused = self._delivered = 0
        self._synced_version = -1
        self._dm_channels: dict[int, int] = {}  # user -> DM channel id, to skip re-creating it

    async def run(self) -> None:
        """Match what is new and deliver what is queued; one run at a time, never raises."""
        async with self._lock:
            try:
                await self.match_new()
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
        """Bring the index in line with the store's active alerts (added, removed, muted...)."""
        version = self.bot.store.alerts_version()
        if version == self._synced_version:
            return  # nothing changed since the last sync: skip reloading every alert
        active = {a.id: a for a in await self.bot.store.active_alerts()}
        self._synced_version = version
        if not self._alerts:  # the first load: one bulk build is faster than many adds
            self.index = AlertIndex.build((i, parse_query(a.query)) for i, a in active.items())
            self._alerts = active
            gc.freeze()  # the index is long-lived: keep full collections from walking it
            return
        for alert_id in self._alerts.keys() - active.keys():
            self.index.remove(alert_id)
        for alert_id, alert in active.items():
            old = self._alerts.get(alert_id)
            if old is None or old.query != alert.query:
                self.index.add(alert_id, parse_query(alert.query))
        self._alerts = active

    async def match_new(self) -> int:
        """Queue a match for every (person, new paper); returns how many were queued."""
        await self.sync_index()
        queued = 0
        while papers := await self.bot.store.unmatched_papers(1000):
            found = self.index.match_many(papers)
            rows: dict[tuple[int, str], QueuedAlert] = {}
            for paper in papers:
                for alert_id, match in sorted(found.get(paper.id, {}).items()):
                    alert = self._alerts[alert_id]
                    key = (alert.user_id, paper.id)
                    first = rows.get(key)
                    if first is None:
                        rows[key] = QueuedAlert(
                            alert.user_id, paper.id, alert_id, match.reason, alert.target
                        )
                    elif match.reason not in first.reason:
                        rows[key] = QueuedAlert(
                            first.user_id,
                            first.paper_id,
                            first.alert_id,
                            f"{first.reason}; {match.reason}",
                            first.target,
                        )
            queued += await self.bot.store.queue_alert_matches(
                [p.id for p in papers], list(rows.values())
            )
        if queued:
            log.info("queued %d alert matches", queued)
        return queued

    async def deliver(self) -> None:
        """One message per (person, target) for everything queued; sending ones are resent."""
        groups: defaultdict[tuple[int, str, str | None], list[QueuedAlert]] = defaultdict(list)
        for row in await self.bot.store.alert_outbox(self.bot.clock()):
            # A batch cut short by a crash is resent as it was, with its nonce.
            groups[(row.user_id, row.target, row.batch if row.state == "sending" else None)].append(
                row
            )
        blocked: dict[int, bool] = {}
        self._refused = self._delivered = 0
        for (user_id, target, batch), rows in groups.items():
            if target == "dm":
                if user_id not in blocked:
                    blocked[user_id] = (
                        await self.bot.store.alert_user(user_id)
                    ).dm_blocked is not None
                if blocked[user_id]:
                    continue  # kept queued until the person fixes their DM settings
            await self._send(user_id, target, batch, rows)
        if self._refused >= BULK_DM_REFUSALS:
            self.bot.report_health(
                DM_HEALTH,
                f"{self._refused} people refused alert DMs in one run: Discord may be "
                "limiting the bot, or members changed their privacy settings.",
            )
        elif self._delivered and not self._refused:
            self.bot.report_health(DM_HEALTH, None)

    async def _send(
        self, user_id: int, target: str, batch: str | None, rows: list[QueuedAlert]
    ) -> None:
        store = self.bot.store
        paper_ids = [r.paper_id for r in rows]
        nonce = batch or batch_nonce(user_id, target, paper_ids)
        await store.mark_alerts(user_id, paper_ids, "sending", batch=nonce)
        items: list[tuple[QueuedAlert, Listing]] = []
        for row in rows:
            listing = await store.get_paper(row.paper_id)
            if listing is not None:
                items.append((row, listing))
        items.sort(key=lambda item: -item[1].paper.upvotes)
        alerts = [
            a for a in (await store.user_alerts(user_id)) if a.id in {r.alert_id for r in rows}
        ]
        embed = alert_message(items, total=len(items))
        view = alert_buttons(alerts, user_id)
        try:
            if target == "dm":
                channel: discord.abc.Messageable = await self._dm_channel(user_id)
                await self.bot.pacer.wait()
                await channel.send(embed=embed, view=view, nonce=nonce)
            else:
                await self.bot.pacer.wait()
                channel = self.bot.get_partial_messageable(int(target.split(":", 1)[1]))
                await channel.send(
                    content=f"<@{user_id}>",
                    embed=embed,
                    view=view,
                    nonce=nonce,
                    allowed_mentions=discord.AllowedMentions(
                        everyone=False,
                        roles=False,
                        replied_user=False,
                        users=[discord.Object(user_id)],
                    ),
                )
        except discord.Forbidden as e:
            if e.code == DM_REFUSED:
                log.info("user %s refuses DMs; pausing their DM alerts", user_id)
                self._refused += 1
                await store.set_dm_blocked(user_id, e.text or "Cannot send messages to this user")
                await store.mark_alerts(user_id, paper_ids, "queued")
                return
            await self._give_up_or_retry(user_id, target, paper_ids, rows, e)
        except discord.NotFound as e:
            await self._give_up_or_retry(user_id, target, paper_ids, rows, e)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as e:
            await self._retry(user_id, paper_ids, rows, e)
        else:
            await store.mark_alerts(user_id, paper_ids, "sent")
            self._delivered += 1
            log.info("delivered %d alert matches to user %s (%s)", len(rows), user_id, target)

    async def _dm_channel(self, user_id: int) -> discord.abc.Messageable:
        """The person's DM channel: created once (a paced request), then reused."""
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            await self.bot.pacer.wait()
            channel_id = (await self.bot.create_dm(discord.Object(user_id))).id
            self._dm_channels[user_id] = channel_id
        return self.bot.get_partial_messageable(channel_id, type=discord.ChannelType.private)

    async def _give_up_or_retry(
        self,
        user_id: int,
        target: str,
        paper_ids: list[str],
        rows: list[QueuedAlert],
        error: discord.HTTPException,
    ) -> None:
        if target != "dm" and error.code in GONE_CODES:
            log.warning("alert channel %s is gone for user %s: %s", target, user_id, error)
            await self.bot.store.mark_alerts(user_id, paper_ids, "dropped")
            return
        await self._retry(user_id, paper_ids, rows, error)

    async def _retry(
        self, user_id: int, paper_ids: list[str], rows: list[QueuedAlert], error: Exception
    ) -> None:
        attempts = max(r.attempts for r in rows) + 1
        wait = min(MAX_BACKOFF, timedelta(minutes=2 ** min(attempts - 1, 6)))
        log.warning("alert delivery to %s failed (%s); retrying in %s", user_id, error, wait)
        await self.bot.store.mark_alerts(
            user_id, paper_ids, "queued", retry_at=self.bot.clock() + wait
        )

"""Queued alert matches are checked again when they are sent: a pause, a mute, a removal or
channel alerts turned off after matching means nothing is sent, then or later."""

from __future__ import annotations

import asyncio
import copy
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

from bot.delivery.alerts import AlertDelivery
from bot.models import Alert
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeDiscord, FakeUser, RecordedMessage
from tests.support.harness import Harness, running_bot

NEW_DAY = "2025-01-08"  # "today" for the harness clock
SOURCE_DAY = "2025-11-28"  # seed list with two "grokking" papers
LATE_PAPER = "2501.17548"  # one of them


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        yield harness


def engine(h: Harness) -> AlertDelivery:
    cog = h.bot.get_cog("Alerts")
    assert cog is not None
    return cast(Any, cog).engine


async def alert(h: Harness, user: FakeUser, command: str, **options: object) -> str:
    inter = await h.discord.invoke(f"alert {command}", options, user=user, channel="general")
    message = await inter.final_message()
    assert message.ephemeral
    return message.content


async def start_up_scrape_done(h: Harness) -> None:
    """Wait until the bot's start-up scrape and the alert run after it are over: one still
    going would read the list set next and match (and send) it before the test does."""
    scrape, alerts = h.bot.scrape, engine(h)
    await h.discord.wait_for(
        lambda: (
            scrape.last is not None
            and not scrape._lock.locked()
            and not scrape._hook_tasks
            and not alerts._lock.locked()
        ),
        10,
    )


async def queue_new_day(h: Harness, *, without: str | None = None) -> int:
    """A new list is scraped and matched; nothing is delivered yet. Returns rows queued."""
    await start_up_scrape_done(h)
    items = [i for i in copy.deepcopy(seed_items()[SOURCE_DAY]) if i["paper"]["id"] != without]
    h.hf.set_day(NEW_DAY, items)
    await h.bot.scraper.scrape_date(date.fromisoformat(NEW_DAY))
    return await engine(h).match_new()


def outbox_states(h: Harness) -> dict[str, int]:
    with sqlite3.connect(h.config.store.path) as db:
        rows = db.execute("SELECT state, count(*) FROM alert_outbox GROUP BY state").fetchall()
    db.close()
    return dict(rows)


def alert_dms(h: Harness, user: FakeUser) -> list[RecordedMessage]:
    """What the bot sent to the person's DMs (not its private answers to their clicks)."""
    return [m for m in h.discord.dms_to(user) if not m.ephemeral]


async def only_alert(h: Harness, user: FakeUser) -> Alert:
    (saved,) = await h.store.user_alerts(int(user.id))
    return saved


async def test_a_pause_after_matching_stops_queued_dms_for_good(h: Harness) -> None:
    alice = h.discord.alice
    await alert(h, alice, "add", query="grokking")
    assert await queue_new_day(h) == 2
    await alert(h, alice, "pause")
    await engine(h).run()
    assert alert_dms(h, alice) == []
    assert outbox_states(h) == {"dropped": 2}
    await alert(h, alice, "resume")  # resuming does not bring back what came while paused
    await engine(h).run()
    assert alert_dms(h, alice) == []


async def test_a_mute_after_matching_stops_that_alerts_queued_dms(h: Harness) -> None:
    alice = h.discord.alice
    await alert(h, alice, "add", query="grokking")
    await queue_new_day(h, without=LATE_PAPER)
    await engine(h).run()
    (dm,) = alert_dms(h, alice)  # the first paper, with the alert's Mute button
    assert await queue_new_day(h) == 1  # the other paper arrives later the same day
    saved = await only_alert(h, alice)
    click = await h.discord.click(dm, f"alert:mute:{saved.id}", user=alice)
    assert "Muted alert" in (await click.response()).content
    await engine(h).run()
    assert len(alert_dms(h, alice)) == 1
    assert outbox_states(h) == {"sent": 1, "dropped": 1}
    await alert(h, alice, "resume")  # unmutes; what was dropped stays dropped
    await engine(h).run()
    assert len(alert_dms(h, alice)) == 1


async def test_removing_an_alert_after_matching_stops_its_queued_dms(h: Harness) -> None:
    alice = h.discord.alice
    await alert(h, alice, "add", query="grokking")
    assert await queue_new_day(h) == 2
    saved = await only_alert(h, alice)
    assert "deleted" in await alert(h, alice, "remove", id=saved.id)
    await engine(h).run()
    assert alert_dms(h, alice) == []
    assert outbox_states(h) == {"dropped": 2}


async def test_channel_alerts_turned_off_after_matching_post_nothing(h: Harness) -> None:
    alice = h.discord.alice
    await alert(h, alice, "add", query="grokking", deliver="here")
    assert await queue_new_day(h) == 2
    assert "no longer" in await alert(h, h.discord.admin, "channels", allowed=False)
    await engine(h).run()
    assert h.discord.messages_in("general") == []
    assert alert_dms(h, alice) == []
    assert outbox_states(h) == {"dropped": 2}
    assert "may now" in await alert(h, h.discord.admin, "channels", allowed=True)
    await engine(h).run()
    assert h.discord.messages_in("general") == []


class HeldRoute:
    """Holds the fake's answer to one REST route until released: a slow Discord."""

    def __init__(self, fake: FakeDiscord, route: str) -> None:
        self.route = route
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self._answer = fake._answer
        fake._answer = self._intercept  # type: ignore[method-assign]

    async def _intercept(self, request: web.Request, record: Any, files: Any) -> web.Response:
        if self.route in f"{record.method} {record.path}":
            self.arrived.set()
            await self.release.wait()
        return await self._answer(request, record, files)


CREATE_DM = "POST /users/@me/channels"  # the first alert DM opens the DM channel
FETCH_MEMBER = "/members/"  # a channel alert asks for the person's roles first


async def pause(h: Harness, user: FakeUser) -> None:
    await alert(h, user, "pause")


async def remove(h: Harness, user: FakeUser) -> None:
    await alert(h, user, "remove", id=(await only_alert(h, user)).id)


async def channels_off(h: Harness, user: FakeUser) -> None:
    await alert(h, h.discord.admin, "channels", allowed=False)


@pytest.mark.parametrize(
    ("deliver", "route", "change"),
    [("dm", CREATE_DM, pause), ("dm", CREATE_DM, remove), ("here", FETCH_MEMBER, channels_off)],
)
async def test_a_change_while_delivery_waits_on_discord_stops_the_message(
    h: Harness, deliver: str, route: str, change: Callable[[Harness, FakeUser], Awaitable[None]]
) -> None:
    alice = h.discord.alice
    await alert(h, alice, "add", query="grokking", deliver=deliver)
    assert await queue_new_day(h) == 2
    held = HeldRoute(h.discord, route)
    run = asyncio.create_task(engine(h).run())
    await asyncio.wait_for(held.arrived.wait(), 5)
    await change(h, alice)  # while the delivery is under way
    held.release.set()
    await asyncio.wait_for(run, 10)
    assert alert_dms(h, alice) == []
    assert h.discord.messages_in("general") == []
    assert outbox_states(h) == {"dropped": 2}


async def test_a_mute_while_delivery_waits_on_discord_stops_the_dm(h: Harness) -> None:
    alice = h.discord.alice
    await alert(h, alice, "add", query="grokking")
    await queue_new_day(h, without=LATE_PAPER)
    await engine(h).run()
    (dm,) = alert_dms(h, alice)
    await h.restart()  # a fresh engine opens the DM channel again
    scheduler = h.bot.scheduler
    assert scheduler is not None
    await h.discord.wait_for(lambda: scheduler.get_job("alerts:catch-up") is None, 5)
    await engine(h).run()  # (after the start-up catch-up run, which found nothing to do)
    assert await queue_new_day(h) == 1
    held = HeldRoute(h.discord, CREATE_DM)
    run = asyncio.create_task(engine(h).run())
    await asyncio.wait_for(held.arrived.wait(), 5)
    click = await h.discord.click(dm, f"alert:mute:{(await only_alert(h, alice)).id}", user=alice)
    assert "Muted alert" in (await click.response()).content
    held.release.set()
    await asyncio.wait_for(run, 10)
    assert len(alert_dms(h, alice)) == 1
    assert outbox_states(h) == {"sent": 1, "dropped": 1}

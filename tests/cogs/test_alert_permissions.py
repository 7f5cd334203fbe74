"""deliver:here posts only where the person may post themselves: checked when the alert is
added, and again at every delivery, when a lost channel means the alert comes by DM."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import discord
import pytest

from bot.delivery.alerts import AlertDelivery
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeUser, Perm, RecordedMessage
from tests.support.harness import Harness, running_bot

NEW_DAY = "2025-01-08"  # "today" for the harness clock; HF gets a new list for it
POST = int(Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES | Perm.EMBED_LINKS)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """The bot in Paper Club, which also has #announcements (only the bot may post there)
    and #lab (only the bot and the Lab role may see it; alice has that role)."""
    async with running_bot(tmp_path, start=False) as harness:
        fake = harness.discord
        guild = fake.guild
        bot_role = guild.bot_role_id
        assert bot_role is not None
        fake.add_text_channel(fake.guild_id, "announcements")
        fake.set_overwrite("announcements", guild.id, deny=int(Perm.SEND_MESSAGES), member=False)
        fake.set_overwrite("announcements", bot_role, allow=POST, member=False)
        lab_role = fake.add_role(fake.guild_id, "Lab")
        fake.add_text_channel(fake.guild_id, "lab")
        fake.set_overwrite("lab", guild.id, deny=int(Perm.VIEW_CHANNEL), member=False)
        fake.set_overwrite("lab", lab_role, allow=POST, member=False)
        fake.set_overwrite("lab", bot_role, allow=POST, member=False)
        fake.set_roles(fake.guild_id, fake.alice, [lab_role])
        await harness.start_bot()
        await harness.backfill_done()
        yield harness


def engine(h: Harness) -> AlertDelivery:
    cog = h.bot.get_cog("Alerts")
    assert cog is not None
    return cast(Any, cog).engine


async def add_here(h: Harness, user: FakeUser, channel: str) -> str:
    options = {"query": "grokking", "deliver": "here"}
    inter = await h.discord.invoke("alert add", options, user=user, channel=channel)
    message = await inter.final_message()
    assert message.ephemeral
    return message.content


async def new_day(h: Harness) -> None:
    """A new list appears on Hugging Face; the bot scrapes it and runs the alert engine."""
    h.hf.set_day(NEW_DAY, copy.deepcopy(seed_items()["2025-11-28"]))
    await h.bot.scrape_job()
    await engine(h).run()


def alert_dms(h: Harness, user: FakeUser) -> list[RecordedMessage]:
    return [m for m in h.discord.dms_to(user) if not m.ephemeral]


async def test_here_is_refused_where_the_member_cannot_post(h: Harness) -> None:
    # The bot may post in #announcements; bob may only read it.
    reply = await add_here(h, h.discord.bob, "announcements")
    assert "You can't post in" in reply and "deliver:dm" in reply
    assert await h.store.user_alerts(int(h.discord.bob.id)) == []


async def test_a_member_who_may_post_still_gets_the_channel_alert(h: Harness) -> None:
    assert "saved" in await add_here(h, h.discord.alice, "lab")
    await new_day(h)
    (posted,) = h.discord.messages_in("lab")
    assert posted.content == f"<@{h.discord.alice.id}>"
    assert alert_dms(h, h.discord.alice) == []


async def test_a_channel_closed_to_the_member_sends_the_alert_by_dm(h: Harness) -> None:
    alice = h.discord.alice
    assert "saved" in await add_here(h, alice, "general")
    general = h.discord.channel("general")
    h.discord.set_overwrite("general", alice.id, deny=int(Perm.VIEW_CHANNEL), member=True)
    cached = h.bot.get_channel(int(general.id))
    assert isinstance(cached, discord.TextChannel)
    await h.discord.wait_for(
        lambda: cached.overwrites_for(discord.Object(int(alice.id))).view_channel is False,
        5,
        "the channel update",
    )
    await new_day(h)
    assert h.discord.messages_in("general") == []
    (dm,) = alert_dms(h, alice)
    assert dm.content == (
        "You can no longer post in #general (Paper Club), so this alert came by DM."
    )
    assert "Grokking at the Edge" in dm.embeds[0]["description"]


async def test_a_role_taken_away_without_an_event_sends_the_alert_by_dm(h: Harness) -> None:
    alice = h.discord.alice
    assert "saved" in await add_here(h, alice, "lab")
    h.discord.set_roles(h.discord.guild_id, alice, [])  # the bot gets no event for this
    await new_day(h)
    assert h.discord.messages_in("lab") == []
    (dm,) = alert_dms(h, alice)
    assert dm.content.startswith("You can no longer post in #lab (Paper Club)")


async def test_a_member_who_left_gets_the_alert_by_dm(h: Harness) -> None:
    alice = h.discord.alice
    assert "saved" in await add_here(h, alice, "general")
    h.discord.remove_member(h.discord.guild_id, alice)
    await new_day(h)
    assert h.discord.messages_in("general") == []
    (dm,) = alert_dms(h, alice)
    assert dm.content.startswith("You can no longer post in #general")
    assert [v.code for v in h.discord.violations] == [10007]  # Unknown Member: expected
    h.discord.violations.clear()


async def test_a_moved_alert_waits_while_dms_are_refused(h: Harness) -> None:
    alice = h.discord.alice
    assert "saved" in await add_here(h, alice, "lab")
    h.discord.set_roles(h.discord.guild_id, alice, [])
    h.discord.dm_refusing.add(alice.id)
    await new_day(h)
    assert h.discord.messages_in("lab") == []
    assert alert_dms(h, alice) == []
    assert [v.code for v in h.discord.violations] == [50007]
    h.discord.violations.clear()
    with sqlite3.connect(h.config.store.path) as db:
        states = db.execute("SELECT DISTINCT state FROM alert_outbox").fetchall()
    db.close()
    assert states == [("queued",)]  # nothing lost: kept until /alert resume

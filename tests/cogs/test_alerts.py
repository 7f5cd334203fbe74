"""/alert end to end: commands, matching new papers from the fake HF server, DMs, buttons."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any, cast

import discord
import pytest

from bot.delivery.alerts import AlertDelivery
from bot.delivery.courier import batch_nonce
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeUser
from tests.support.harness import Harness, running_bot

# Everything here runs on both store backends.
pytestmark = pytest.mark.usefixtures("store_backend")

NEW_DAY = "2025-01-08"  # "today" for the harness clock; HF gets a new list for it


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
    assert message.ephemeral, f"/alert {command} answered publicly"
    return message.content


async def new_day(h: Harness, source_day: str = "2025-11-28") -> None:
    """A new list appears on Hugging Face; the bot scrapes it and runs the alert engine."""
    h.hf.set_day(NEW_DAY, copy.deepcopy(seed_items()[source_day]))
    await h.bot.scrape_job()
    await engine(h).run()


async def test_add_list_remove_and_preview(h: Harness) -> None:
    reply = await alert(h, h.discord.alice, "add", query="grokking")
    assert "saved: `grokking`" in reply and "by DM" in reply
    assert "would have matched 1" in reply and "Lazy to Rich" in reply
    listed = await alert(h, h.discord.alice, "list")
    assert "`grokking` → DM" in listed
    assert "no alerts" in await alert(h, h.discord.bob, "list")  # private to each person
    (saved,) = await h.store.user_alerts(int(h.discord.alice.id))
    choices = await h.discord.autocomplete(
        "alert remove", {"id": ""}, focused="id", user=h.discord.alice
    )
    assert [c["value"] for c in choices] == [saved.id]
    assert "You have no alert" in await alert(h, h.discord.bob, "remove", id=saved.id)
    assert await h.store.user_alerts(int(h.discord.alice.id))  # bob cannot delete alice's alert
    assert "deleted" in await alert(h, h.discord.alice, "remove", id=saved.id)
    assert await h.store.user_alerts(int(h.discord.alice.id)) == []


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("the", "too broad"),
        ("a OR of", "too broad"),
        ("diffusion -diffusion", "can never match"),
        ("-mnist", "only excludes"),
        ('"', "empty"),
        ("x" * 201, "at most 200 characters"),
    ],
)
async def test_bad_alerts_are_refused_with_a_reason(h: Harness, query: str, reason: str) -> None:
    assert reason in await alert(h, h.discord.alice, "add", query=query)
    assert await h.store.user_alerts(int(h.discord.alice.id)) == []


async def test_at_most_25_alerts(h: Harness) -> None:
    for n in range(25):
        await h.store.add_alert(int(h.discord.alice.id), f"topic{n}")
    assert "already have 25 alerts" in await alert(h, h.discord.alice, "add", query="grokking")


async def test_test_does_not_save(h: Harness) -> None:
    reply = await alert(h, h.discord.alice, "test", query='"scaling laws"')
    assert "not saved" in reply and "would have matched" in reply
    assert await h.store.user_alerts(int(h.discord.alice.id)) == []


async def test_a_new_day_sends_one_dm_per_matching_person(h: Harness) -> None:
    await alert(h, h.discord.alice, "add", query="grokking")
    await alert(h, h.discord.alice, "add", query='"scaling laws" author:Pehlevan')
    await alert(h, h.discord.bob, "add", query="zebrafish")
    await new_day(h)
    (dm,) = h.discord.dms_to(h.discord.alice)
    assert h.discord.dms_to(h.discord.bob) == []
    (embed,) = dm.embeds
    text = embed["description"]
    assert "Grokking at the Edge of Numerical Stability" in text
    assert "matched `grokking`" in text
    # The paper both alerts match is listed once, with both reasons.
    assert text.count("Provable Scaling Laws of Feature Emergence") == 1
    assert 'matched `grokking`; matched `"scaling laws"` + `author:pehlevan`' in text
    labels = [b["label"] for b in dm.buttons]
    assert "Pause all" in labels and any(label.startswith("Mute") for label in labels)
    # A second scrape of the same day sends nothing.
    await h.bot.scrape_job()
    await engine(h).run()
    assert len(h.discord.dms_to(h.discord.alice)) == 1


async def test_more_than_ten_papers_are_summed_up(h: Harness) -> None:
    await alert(h, h.discord.alice, "add", query="scaling")
    await new_day(h)
    (dm,) = h.discord.dms_to(h.discord.alice)
    (embed,) = dm.embeds
    total = int(embed["title"].split()[0])
    assert total > 10
    assert f"…and {total - 10} more. Use /search" in embed["description"]


async def test_refused_dms_pause_and_are_explained_once(h: Harness) -> None:
    await alert(h, h.discord.bob, "add", query="grokking")
    h.discord.dm_refusing.add(h.discord.bob.id)
    await new_day(h)
    assert h.discord.dms_to(h.discord.bob) == []
    assert (await h.store.alert_user(int(h.discord.bob.id))).dm_blocked
    (refused,) = h.discord.violations
    assert refused.code == 50007
    h.discord.violations.clear()
    first = await alert(h, h.discord.bob, "list")
    assert "could not DM you" in first and "/alert resume" in first
    assert "could not DM you" not in await alert(h, h.discord.bob, "list")
    # Nothing was lost: once DMs are allowed again, resume delivers what was kept.
    h.discord.dm_refusing.discard(h.discord.bob.id)
    await alert(h, h.discord.bob, "resume")
    await engine(h).run()  # waits for the run /alert resume started
    (dm,) = h.discord.dms_to(h.discord.bob)
    assert "Grokking at the Edge" in dm.embeds[0]["description"]


async def test_a_restart_between_match_and_delivery_loses_and_repeats_nothing(
    h: Harness,
) -> None:
    await alert(h, h.discord.alice, "add", query="grokking")
    h.hf.set_day(NEW_DAY, copy.deepcopy(seed_items()["2025-11-28"]))
    await h.bot.scraper.scrape_date(date(2025, 1, 8))
    assert await engine(h).match_new() == 2
    # Crash after the DM left but before it was recorded: the resend carries the same nonce.
    rows = await h.store.alert_outbox()
    ids = [r.paper_id for r in rows]
    nonce = batch_nonce(h.discord.alice.id, "dm", ids)
    await h.store.mark_alerts(int(h.discord.alice.id), ids, "sending", batch=nonce)
    dm = await h.bot.create_dm(discord.Object(h.discord.alice.id))
    await dm.send("first copy", nonce=nonce)
    await h.restart()
    await engine(h).run()
    assert len(h.discord.dms_to(h.discord.alice)) == 1
    assert await h.store.alert_outbox() == []


async def test_channel_delivery_pings_only_that_person(h: Harness) -> None:
    reply = await alert(h, h.discord.alice, "add", query="grokking", deliver="here")
    assert "in <#" in reply
    await new_day(h)
    (posted,) = h.discord.messages_in("general")
    assert posted.content == f"<@{h.discord.alice.id}>"
    assert posted.allowed_mentions == {"parse": [], "users": [int(h.discord.alice.id)]}
    # Someone else clicking its buttons is turned away; the owner's click works.
    refused = await h.discord.click(posted, f"alert:pause:{h.discord.alice.id}", user=h.discord.bob)
    assert "belong to the person" in (await refused.response()).content
    assert not (await h.store.alert_user(int(h.discord.alice.id))).paused


async def test_admins_can_turn_channel_delivery_off(h: Harness) -> None:
    await alert(h, h.discord.alice, "add", query="grokking", deliver="here")
    assert "manage guild" in await alert(h, h.discord.alice, "channels", allowed=False)
    assert "no longer" in await alert(h, h.discord.admin, "channels", allowed=False)
    assert "turned channel delivery off" in await alert(
        h, h.discord.bob, "add", query="grokking", deliver="here"
    )
    await new_day(h)
    assert h.discord.messages_in("general") == []


async def test_buttons_act_at_once_and_survive_a_restart(h: Harness) -> None:
    await alert(h, h.discord.alice, "add", query="grokking")
    await new_day(h)
    (dm,) = h.discord.dms_to(h.discord.alice)
    assert list(h.bot.persistent_views) == []  # not kept per DM: the dynamic items answer
    await h.restart()
    (saved,) = await h.store.user_alerts(int(h.discord.alice.id))
    mute = await h.discord.click(dm, f"alert:mute:{saved.id}", user=h.discord.alice)
    assert "Muted alert" in (await mute.response()).content
    assert (await h.store.get_alert(saved.id)).muted  # type: ignore[union-attr]
    pause = await h.discord.click(dm, f"alert:pause:{h.discord.alice.id}", user=h.discord.alice)
    assert "Paused all" in (await pause.response()).content
    assert (await h.store.alert_user(int(h.discord.alice.id))).paused


async def test_paused_alerts_do_not_deliver(h: Harness) -> None:
    await alert(h, h.discord.alice, "add", query="grokking")
    await alert(h, h.discord.alice, "pause")
    await new_day(h)
    assert h.discord.dms_to(h.discord.alice) == []


async def test_the_index_is_never_reloaded_whole_after_a_change(h: Harness) -> None:
    await alert(h, h.discord.alice, "add", query="grokking")
    await engine(h).run()
    loads = 0
    real = h.store.active_alerts

    async def counting(**page: Any) -> list:
        nonlocal loads
        loads += 1
        return await real(**page)

    h.store.active_alerts = counting  # type: ignore[method-assign]
    await engine(h).run()
    await engine(h).run()
    assert loads == 0  # nothing changed: no reload of every alert
    await alert(h, h.discord.bob, "add", query="scaling")
    await engine(h).run()
    assert loads == 0  # only the added alert is read and indexed
    assert len(engine(h).index) == 2

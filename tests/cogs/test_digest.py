"""/digest end to end, with an injected clock: the fake Discord, the fake HF server, the store."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

import discord
import pytest

from bot.delivery.digests import DigestDelivery, planned_parts
from bot.models import Subscription
from cogs.ui.render import digest_messages
from tests.conftest import seed_items, seed_papers
from tests.fakes.fake_discord import FakeDiscordError
from tests.support.harness import Harness, running_bot

# Everything here runs on both store backends.
pytestmark = pytest.mark.usefixtures("store_backend")

JAN7, FRI = date(2025, 1, 7), date(2025, 1, 10)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, now=at(2025, 1, 8, 10)) as harness:
        for day, papers in seed_papers().items():
            await harness.store.ingest_day(day, papers)
        yield harness


def engine(h: Harness) -> DigestDelivery:
    # discord.py loads extensions as fresh module objects: compare by name, not isinstance.
    cog = h.bot.get_cog("Digest")
    assert cog is not None and type(cog).__name__ == "Digest"
    return cast(DigestDelivery, cog.engine)  # type: ignore[attr-defined]


async def subscribe(h: Harness, channel: str = "papers", **options: object) -> str:
    inter = await h.discord.invoke(
        "digest set", {"channel": channel, **options}, user=h.discord.admin, channel="general"
    )
    response = await inter.response()
    assert response.ephemeral
    return response.content


def posted(h: Harness, channel: str = "papers") -> list:
    return h.discord.messages_in(channel)


def embeds_in(h: Harness, channel: str = "papers") -> list[dict]:
    return [e for m in posted(h, channel) for e in m.embeds]


async def test_set_list_and_remove(h: Harness) -> None:
    reply = await subscribe(h, time="7:30", timezone="Europe/Berlin", top=5, keywords="diffusion")
    assert reply.startswith("Saved.") and "07:30 Europe/Berlin" in reply and "top 5" in reply
    sub = await h.store.get_subscription(int(h.discord.channel_id("papers")))
    assert sub is not None and (sub.post_time, sub.top, sub.keywords) == ("07:30", 5, "diffusion")
    listed = await (await h.discord.invoke("digest list", {}, user=h.discord.admin)).response()
    assert (
        listed.ephemeral
        and "07:30 Europe/Berlin" in listed.content
        and "next post" in listed.content
    )
    await subscribe(h, channel="vision", top=3)
    listed = await (await h.discord.invoke("digest list", {}, user=h.discord.admin)).response()
    assert listed.content.count("<#") == 2
    removed = await h.discord.invoke("digest remove", {"channel": "papers"}, user=h.discord.admin)
    assert "no longer gets the digest" in (await removed.response()).content
    assert await h.store.get_subscription(int(h.discord.channel_id("papers"))) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time": "25:99"}, "not a time"),
        ({"timezone": "Mars/Olympus_Mons"}, "not a time zone"),
        ({"channel": "readonly"}, "I can't post digests in"),
        ({"keywords": '" - "'}, "no word to look for"),
    ],
)
async def test_bad_settings_are_refused_and_nothing_is_saved(
    h: Harness, options: dict, message: str
) -> None:
    reply = await subscribe(h, **{"channel": "papers", **options})
    assert message in reply
    assert await h.store.subscriptions() == []


async def test_timezone_autocomplete(h: Harness) -> None:
    choices = await h.discord.autocomplete(
        "digest set", {"channel": "papers"}, focused="timezone", user=h.discord.admin
    )
    assert choices[0]["value"] == "UTC"
    found = await h.discord.autocomplete(
        "digest set",
        {"channel": "papers", "timezone": "berl"},
        focused="timezone",
        user=h.discord.admin,
    )
    assert [c["value"] for c in found] == ["Europe/Berlin"]


async def test_members_without_manage_guild_cannot_use_it(h: Harness) -> None:
    with pytest.raises(FakeDiscordError):
        await h.discord.invoke("digest set", {"channel": "papers"}, user=h.discord.alice)
    # Checked again at run time, whatever Discord shows.
    inter = await h.discord.invoke("digest list", {}, user=h.discord.alice, check_permissions=False)
    assert "manage guild permission" in (await inter.response()).content


async def test_posted_once_at_the_scheduled_time(h: Harness) -> None:
    await subscribe(h)
    assert await engine(h).run_due() == []  # subscribed after today's 09:00: wait for tomorrow
    h.clock.now = at(2025, 1, 9, 9, 0)
    (outcome,) = await engine(h).run_due()
    assert outcome.state == "sent" and outcome.list_date == JAN7
    first, *_ = posted(h)
    assert first.content.startswith("📰 **Daily Papers 2025-01-07**: top 10 of 26 papers")
    assert len(embeds_in(h)) == 10
    votes = [int(e["fields"][0]["value"].split()[1].replace(",", "")) for e in embeds_in(h)]
    assert votes == sorted(votes, reverse=True)
    assert all(m.allowed_mentions == {"parse": []} for m in posted(h))
    # Later runs and later days with no new list post nothing.
    assert await engine(h).run_due() == []
    h.clock.now = at(2025, 1, 10, 9, 0)
    assert await engine(h).run_due() == []
    assert len(posted(h)) == 1


async def test_monday_carries_fridays_list(h: Harness) -> None:
    friday = copy.deepcopy(seed_items()["2025-08-05"])
    h.hf.set_day(FRI.isoformat(), friday)
    await h.store.ingest_day(FRI, seed_papers()[date(2025, 8, 5)])
    await subscribe(h)
    h.clock.now = at(2025, 1, 13, 9, 0)
    (outcome,) = await engine(h).run_due()
    assert outcome.list_date == FRI
    assert "2025-01-10" in posted(h)[0].content


async def test_the_channels_time_zone_decides(h: Harness) -> None:
    h.clock.now = at(2025, 1, 8, 15, 0)  # after 09:00 New York time that day
    await subscribe(h, time="09:00", timezone="America/New_York")
    h.clock.now = at(2025, 1, 9, 13, 59)
    assert await engine(h).run_due() == []
    h.clock.now = at(2025, 1, 9, 14, 0)  # 09:00 EST
    assert [o.state for o in await engine(h).run_due()] == ["sent"]


async def test_top_min_upvotes_and_keywords(h: Harness) -> None:
    await subscribe(h, channel="papers", top=3)
    await subscribe(h, channel="vision", min_upvotes=150, keywords="model OR learning")
    await subscribe(h, channel="general", keywords="zzzqqq")
    h.clock.now = at(2025, 1, 9, 9, 0)
    states = {o.channel_id: o.state for o in await engine(h).run_due()}
    assert states[int(h.discord.channel_id("general"))] == "empty"
    assert len(embeds_in(h, "papers")) == 3
    vision = embeds_in(h, "vision")
    assert vision and all(
        int(e["fields"][0]["value"].split()[1].replace(",", "")) >= 150 for e in vision
    )
    assert posted(h, "general") == []  # no "no papers" spam


async def test_mentions_in_titles_never_ping_and_huge_papers_fit(h: Harness) -> None:
    paper = seed_papers()[JAN7][0]
    monster = replace(
        paper,
        id="2501.99990",
        title="@everyone <@&123> " + "Very long title " * 40,
        abstract="A sentence that goes on. " * 800,
        authors=tuple(f"Author Number {n}" for n in range(600)),
        ai_summary=None,
        ai_keywords=tuple(f"keyword {n}" for n in range(300)),
        upvotes=10_000,
    )
    await h.store.ingest_day(JAN7, [monster])
    reply = await h.discord.invoke("digest now", {"channel": "papers"}, user=h.discord.admin)
    assert "Posted the 2025-01-07 digest" in (await reply.final_message()).content
    top = embeds_in(h)[0]
    assert top["title"].startswith("@everyone") and len(top["title"]) <= 256
    assert all(m.allowed_mentions == {"parse": []} for m in posted(h))


async def test_now_counts_as_the_delivery(h: Harness) -> None:
    await subscribe(h)
    now = await h.discord.invoke("digest now", {"channel": "papers"}, user=h.discord.admin)
    assert (await now.final_message()).ephemeral
    assert len(posted(h)) == 1
    h.clock.now = at(2025, 1, 9, 9, 0)
    assert await engine(h).run_due() == []
    again = await h.discord.invoke("digest now", {"channel": "papers"}, user=h.discord.admin)
    assert "already posted" in (await again.final_message()).content
    assert len(posted(h)) == 1


async def test_preview_is_private_and_posts_nothing(h: Harness) -> None:
    await subscribe(h, top=4)
    inter = await h.discord.invoke("digest preview", {"channel": "papers"}, user=h.discord.admin)
    message = await inter.final_message()
    assert message.ephemeral and len(message.embeds) == 4
    assert "2025-01-07" in message.content
    assert posted(h) == []


async def test_threads(h: Harness) -> None:
    await subscribe(h, threads=True)
    h.clock.now = at(2025, 1, 9, 9, 0)
    await engine(h).run_due()
    threads = [r for r in h.discord.requests if r.path.endswith("/threads")]
    assert len(threads) == 1 and threads[0].json["name"] == "Daily Papers 2025-01-07"


@pytest.mark.parametrize(
    ("channel", "reason"), [("deleted", "deleted"), ("readonly", "permission")]
)
async def test_a_channel_that_fails_for_good_is_marked_and_skipped(
    h: Harness, channel: str, reason: str
) -> None:
    channel_id = 987654321012345678 if channel == "deleted" else int(h.discord.channel_id(channel))
    await h.store.save_subscription(
        Subscription(
            channel_id, int(h.discord.guild_id), "09:00", "UTC", 10, created_at=at(2025, 1, 1)
        )
    )
    h.clock.now = at(2025, 1, 9, 9, 0)
    (outcome,) = await engine(h).run_due()
    assert outcome.state == "failed" and reason in outcome.detail
    sub = await h.store.get_subscription(channel_id)
    assert sub is not None and sub.failing_reason
    before = len(h.discord.requests)
    assert await engine(h).run_due() == []  # no retry loop
    assert len(h.discord.requests) == before
    listed = await (await h.discord.invoke("digest list", {}, user=h.discord.admin)).response()
    assert "failing" in listed.content
    status = await (await h.discord.invoke("status", {}, user=h.discord.admin)).response()
    digest_field = next(f for f in status.embeds[0]["fields"] if f["name"] == "Digest")
    assert "1 failing" in digest_field["value"]
    # Discord's refusal was the point of this test: take it off the fake's list of problems.
    (refused,) = h.discord.violations
    assert refused.code == (10003 if channel == "deleted" else 50013)
    h.discord.violations.clear()


async def test_a_half_sent_digest_resumes_without_repeats(h: Harness) -> None:
    await subscribe(h, top=25)
    channel_id = int(h.discord.channel_id("papers"))
    # The bot planned three messages and sent the first, then died before recording it.
    selection = await engine(h).selection(JAN7, await h.store.get_subscription(channel_id))
    assert selection is not None
    messages = digest_messages(selection)
    assert len(messages) == 3
    delivery = await h.store.start_delivery(
        channel_id,
        JAN7,
        planned_parts(channel_id, JAN7, [json.dumps(m.to_json()) for m in messages]),
    )
    channel = h.bot.get_partial_messageable(channel_id)
    await channel.send(
        content=messages[0].content,
        embeds=messages[0].discord_embeds(),
        nonce=delivery.parts[0].nonce,
    )
    await h.restart()
    h.clock.now = at(2025, 1, 9, 9, 0)
    await engine(h).run_due()
    assert len(posted(h)) == 3  # the resend of part 0 was deduplicated by its nonce
    assert len(embeds_in(h)) == 25
    done = await h.store.get_delivery(channel_id, JAN7)
    assert done is not None and done.state == "sent" and not done.pending
    await h.restart()
    await engine(h).run_due()
    assert len(posted(h)) == 3


async def test_down_at_post_time_posts_on_start_once(h: Harness) -> None:
    await subscribe(h)
    await h.stop_bot()
    h.clock.now = at(2025, 1, 9, 15, 0)  # missed 09:00
    await h.start_bot()
    await h.discord.wait_for(lambda: posted(h), 10, "the catch-up digest")
    await h.restart()
    await engine(h).run_due()
    assert len(posted(h)) == 1
    assert isinstance(h.bot.get_channel(int(h.discord.channel_id("papers"))), discord.TextChannel)


async def test_one_job_per_post_time_and_zone(h: Harness) -> None:
    await subscribe(h, channel="papers")
    await subscribe(h, channel="vision")
    await subscribe(h, channel="general", time="07:30", timezone="Europe/Berlin")
    assert h.bot.scheduler is not None
    slots = sorted(j.id for j in h.bot.scheduler.get_jobs() if j.id.startswith("digest:at:"))
    assert slots == ["digest:at:07:30:Europe/Berlin", "digest:at:09:00:UTC"]
    await h.discord.invoke("digest remove", {"channel": "general"}, user=h.discord.admin)
    await h.discord.wait_for(
        lambda: (
            h.bot.scheduler is not None
            and h.bot.scheduler.get_job("digest:at:07:30:Europe/Berlin") is None
        ),
        5,
        "the Berlin slot to go",
    )

"""/digest set frequency and style, end to end: the fake Discord, the fake HF server, the store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

import pytest

from bot.delivery.digests import DigestDelivery, planned_parts
from cogs.ui.render import MessagePayload, digest_messages, limit_problems
from tests.conftest import seed_papers
from tests.fakes.fake_discord import FakeDiscordError
from tests.support.harness import Harness, running_bot

pytestmark = pytest.mark.usefixtures("store_backend")

JAN7 = date(2025, 1, 7)  # a Tuesday
WEEK = date(2025, 1, 6)  # the week a digest posted on Monday 2025-01-13 covers


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, now=at(2025, 1, 8, 10)) as harness:
        await harness.store.ingest_day(JAN7, seed_papers()[JAN7])
        yield harness


def engine(h: Harness) -> DigestDelivery:
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


async def test_weekly_posts_once_on_its_weekday_at_its_time(h: Harness) -> None:
    friday = [replace(p, id=f"2501.8{n:04d}") for n, p in enumerate(seed_papers()[JAN7][:5])]
    await h.store.ingest_day(date(2025, 1, 10), friday)
    reply = await subscribe(h, frequency="weekly", top=5)
    assert "weekly on Monday at 09:00 UTC" in reply
    for now in (at(2025, 1, 9, 9), at(2025, 1, 12, 9), at(2025, 1, 13, 8, 59)):
        h.clock.now = now
        assert await engine(h).run_due() == []  # not Monday 09:00 yet
    h.clock.now = at(2025, 1, 13, 9, 0)
    (outcome,) = await engine(h).run_due()
    assert (outcome.state, outcome.kind, outcome.list_date) == ("sent", "week", WEEK)
    first = posted(h)[0]
    assert first.content.startswith(
        "📰 **Weekly Papers 2025-01-06 to 2025-01-12**: top 5 of 31 papers"
    )
    assert "<https://huggingface.co/papers/week/2025-W02>" in first.content
    votes = [int(e["fields"][0]["value"].split()[1].replace(",", "")) for e in first.embeds]
    week = [*seed_papers()[JAN7], *friday]
    assert votes == sorted((p.upvotes for p in week), reverse=True)[:5]
    # Once: later runs, a restart, and the rest of the week post nothing more.
    assert await engine(h).run_due() == []
    await h.restart()
    h.clock.now = at(2025, 1, 15, 9, 0)
    assert await engine(h).run_due() == []
    assert len(posted(h)) == 1


async def test_weekly_resumes_after_a_kill_mid_post_without_repeats(h: Harness) -> None:
    await subscribe(h, frequency="weekly", weekday="wednesday", top=25)
    channel_id = int(h.discord.channel_id("papers"))
    sub = await h.store.get_subscription(channel_id)
    assert sub is not None and sub.weekday == 2
    await h.store.ingest_day(
        date(2025, 1, 9),
        [replace(p, id=f"2501.7{n:04d}") for n, p in enumerate(seed_papers()[JAN7])],
    )
    h.clock.now = at(2025, 1, 15, 9, 0)
    start = engine(h).week_of(sub)
    assert start == date(2025, 1, 8)  # Wednesday to Tuesday: Jan 7's list is not in it
    # The bot planned the weekly digest, sent its first message, then died (kill -9)
    # before recording it.
    selection = await engine(h).selection(start, sub, "week")
    assert selection is not None and len(selection.papers) == 25
    messages = digest_messages(selection)
    assert len(messages) == 3
    payloads = [json.dumps(m.to_json()) for m in messages]
    delivery = await h.store.start_delivery(
        channel_id, start, planned_parts(channel_id, start, payloads, "week"), kind="week"
    )
    channel = h.bot.get_partial_messageable(channel_id)
    await channel.send(
        content=messages[0].content,
        embeds=messages[0].discord_embeds(),
        nonce=delivery.parts[0].nonce,
    )
    await h.restart()
    await engine(h).run_due()
    assert len(posted(h)) == 3  # the resend of part 0 was deduplicated by its nonce
    done = await h.store.get_delivery(channel_id, start, kind="week")
    assert done is not None and done.state == "sent" and not done.pending
    assert await h.store.get_delivery(channel_id, start) is None  # never a daily record
    await h.restart()
    await engine(h).run_due()
    assert len(posted(h)) == 3


async def test_compact_is_one_message_within_limits_and_pings_no_one(h: Harness) -> None:
    seeds = seed_papers()[JAN7]
    loud = [
        replace(
            p,
            id=f"2501.9{n:04d}",
            title="@everyone <@&123> @here [click](https://evil.example) " + "Long title " * 30,
            ai_summary=None,
            abstract="First sentence @everyone of a long abstract. " + "More words. " * 300,
            upvotes=5000 + n,
        )
        for n, p in enumerate(seeds[:25])
    ]
    await h.store.ingest_day(JAN7, [*seeds, *loud])
    await subscribe(h, style="compact", top=25)
    h.clock.now = at(2025, 1, 9, 9, 0)
    (outcome,) = await engine(h).run_due()
    assert outcome.state == "sent" and outcome.messages == 1
    (message,) = posted(h)
    assert message.allowed_mentions == {"parse": []}
    (embed,) = message.embeds
    lines = embed["description"].split("\n")
    assert len(lines) == 25 and lines[0].startswith("**1.** [")
    assert "▲ 5,024" in lines[0] and "First sentence" in lines[0]
    assert "https://huggingface.co/papers/2501.90024" in lines[0]
    assert "evil.example)" not in embed["description"].replace("\\", "")  # no live link
    assert limit_problems(MessagePayload(message.content, message.embeds)) == []
    assert len(embed["description"]) <= 4096


async def test_switching_frequency_and_style_never_reposts(h: Harness) -> None:
    await subscribe(h)
    h.clock.now = at(2025, 1, 9, 9, 0)
    (daily,) = await engine(h).run_due()
    assert daily.state == "sent" and daily.kind == "day"
    assert len(posted(h)) == 1
    # Monday, after the daily post: switch to weekly (Monday). Today's 09:00 came before the
    # switch: it takes effect from next Monday, and never re-posts the week already sent.
    h.clock.now = at(2025, 1, 13, 10, 0)
    reply = await subscribe(h, frequency="weekly", style="compact")
    assert "weekly on Monday" in reply and "compact" in reply
    assert await engine(h).run_due() == []
    await h.restart()
    assert await engine(h).run_due() == []
    later = [replace(p, id=f"2501.6{n:04d}") for n, p in enumerate(seed_papers()[JAN7])]
    await h.store.ingest_day(date(2025, 1, 14), later)
    h.clock.now = at(2025, 1, 20, 9, 0)
    (weekly,) = await engine(h).run_due()
    assert weekly.kind == "week" and weekly.list_date == date(2025, 1, 13)
    assert weekly.state == "sent" and weekly.messages == 1  # compact from this one on
    assert "Weekly Papers 2025-01-13 to 2025-01-19" in posted(h)[-1].content
    # Back to daily cards: the week already posted stays posted; the daily digest of a list
    # that completed before the switch is not posted either.
    h.clock.now = at(2025, 1, 20, 10, 0)
    await subscribe(h, frequency="daily", style="cards")
    assert await engine(h).run_due() == []
    listed = await (await h.discord.invoke("digest list", {}, user=h.discord.admin)).response()
    assert "daily at 09:00 UTC" in listed.content and "cards" in listed.content
    assert len(posted(h)) == 2


async def test_changing_style_keeps_a_delivered_digest(h: Harness) -> None:
    await subscribe(h)
    h.clock.now = at(2025, 1, 9, 9, 0)
    await engine(h).run_due()
    before = len(posted(h))
    await subscribe(h, style="compact")
    assert await engine(h).run_due() == []
    now = await h.discord.invoke("digest now", {"channel": "papers"}, user=h.discord.admin)
    assert "already posted" in (await now.final_message()).content
    assert len(posted(h)) == before


async def test_list_and_preview_show_the_frequency(h: Harness) -> None:
    await subscribe(h, frequency="weekly", weekday="Friday", style="compact", top=3)
    listed = await (await h.discord.invoke("digest list", {}, user=h.discord.admin)).response()
    assert "weekly on Friday at 09:00 UTC" in listed.content and "compact" in listed.content
    h.clock.now = at(2025, 1, 10, 10, 0)
    inter = await h.discord.invoke("digest preview", {"channel": "papers"}, user=h.discord.admin)
    message = await inter.final_message()
    assert message.ephemeral and "weekly on Friday" in message.content
    assert "Weekly Papers 2025-01-03 to 2025-01-09" in message.content
    assert len(message.embeds) == 1  # compact: one list
    assert posted(h) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"frequency": "weekly", "weekday": "funday"}, "`funday` is not a weekday"),
        ({"frequency": "hourly"}, "`hourly` is not a frequency"),
        ({"style": "fancy"}, "`fancy` is not a style"),
    ],
)
async def test_bad_choices_are_refused_and_nothing_is_saved(
    h: Harness, options: dict, message: str
) -> None:
    reply = await subscribe(h, **options)
    assert message in reply
    assert await h.store.subscriptions() == []


async def test_a_weekly_top_above_25_is_refused(h: Harness) -> None:
    with pytest.raises(FakeDiscordError):  # Discord checks the option's range itself
        await subscribe(h, frequency="weekly", top=26)
    assert await h.store.subscriptions() == []


async def test_choice_autocomplete(h: Harness) -> None:
    found = await h.discord.autocomplete(
        "digest set",
        {"channel": "papers", "weekday": "t"},
        focused="weekday",
        user=h.discord.admin,
    )
    assert [c["value"] for c in found] == ["tuesday", "thursday"]

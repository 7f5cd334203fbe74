"""Issue 10 F2 end to end: one paper, or one message Discord refuses, never costs the digest
of a day in every channel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from bot.delivery.courier import part_nonce
from bot.models import Subscription
from cogs.ui.render import FIELD_VALUE_MAX, digest_messages
from tests.support.faults import RestFaults
from tests.support.harness import Harness, running_bot

JAN7 = date(2025, 1, 7)
POST_TIME = datetime(2025, 1, 9, 9, 0, tzinfo=UTC)
CHANNELS = ("papers", "vision", "general")
# Just under the parser's 1,000-character URL cap, so it is stored, yet with the other links it
# overflows the 1,024-character Links field.
LONG_REPO = "https://github.com/huge/" + "a" * 970
PROJECT = "https://example.org/project"
# What Discord answers for a field over 1,024 characters in the fourth embed of a message.
FIELD_TOO_LONG = {
    "message": "Invalid Form Body",
    "code": 50035,
    "errors": {
        "embeds": {
            "3": {
                "fields": {
                    "2": {
                        "value": {
                            "_errors": [
                                {
                                    "code": "BASE_TYPE_MAX_LENGTH",
                                    "message": "Must be 1024 or fewer in length.",
                                }
                            ]
                        }
                    }
                }
            }
        }
    },
}


def engine(h: Harness) -> Any:
    """The digest engine (cogs are loaded as fresh modules: no isinstance, no import)."""
    return cast(Any, h.bot.get_cog("Digest")).engine


async def subscribe(h: Harness, top: int) -> list[int]:
    """Every channel of CHANNELS gets the 09:00 UTC digest."""
    ids = [int(h.discord.channel_id(name)) for name in CHANNELS]
    for channel in ids:
        await h.store.save_subscription(
            Subscription(channel, int(h.discord.guild_id), "09:00", "UTC", top)
        )
    return ids


async def assert_nothing_failed(h: Harness, channels: list[int]) -> None:
    for channel in channels:
        delivery = await h.store.get_delivery(channel, JAN7)
        assert delivery is not None and delivery.state == "sent" and not delivery.pending
        sub = await h.store.get_subscription(channel)
        assert sub is not None and sub.failing_reason is None


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """The bot after its start-up scrape of the seed lists, at the 2025-01-09 09:00 post time."""
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        harness.clock.now = POST_TIME
        yield harness


async def test_a_paper_with_a_1000_character_link_is_posted_everywhere(tmp_path: Path) -> None:
    async with running_bot(tmp_path, start=False) as h:
        item = h.hf.days[JAN7.isoformat()][0]
        item["paper"].update(githubRepo=LONG_REPO, projectPage=PROJECT, upvotes=99_999)
        paper_id = item["paper"]["id"]
        await h.start_bot()
        await h.backfill_done()
        stored = await h.store.get_paper(paper_id)
        assert stored is not None and stored.paper.github_repo == LONG_REPO
        channels = await subscribe(h, top=10)
        h.clock.now = POST_TIME

        outcomes = await engine(h).run_due()

        assert [o.state for o in outcomes] == ["sent"] * 3
        for channel in channels:
            (message,) = h.discord.messages_in(channel)
            assert len(message.embeds) == 10  # the whole digest, that paper first
            top = message.embeds[0]
            assert top["url"] == f"https://huggingface.co/papers/{paper_id}"
            links = next(f["value"] for f in top["fields"] if f["name"] == "Links")
            assert len(links) <= FIELD_VALUE_MAX
            assert f"https://arxiv.org/abs/{paper_id}" in links and PROJECT in links
            assert LONG_REPO not in links  # too long to fit: left out
        await assert_nothing_failed(h, channels)
        assert h.bot.health.active(int(h.discord.guild_id)) == []
        # /paper shows the same paper in full.
        inter = await h.discord.invoke("paper", {"id": paper_id}, user=h.discord.alice)
        (embed,) = (await inter.final_message()).embeds
        assert embed["url"].endswith(paper_id)
        links = next(f["value"] for f in embed["fields"] if f["name"] == "Links")
        assert len(links) <= FIELD_VALUE_MAX and PROJECT in links


async def test_a_stored_part_over_the_limits_is_clipped_and_sent_once(h: Harness) -> None:
    """Parts planned by an older version are checked on the way out, not refused by Discord."""
    (channel, *_) = await subscribe(h, top=10)
    selection = await engine(h).selection(JAN7, await h.store.get_subscription(channel))
    (planned,) = digest_messages(selection)
    bloated = planned.embeds[0]
    bloated["fields"][-1]["value"] = "[Project page](https://example.org/" + "x" * 1_500 + ")"
    bloated["description"] = "y" * 5_000
    bloated["thumbnail"] = {"url": "/relative/thumbnail.png"}
    payload = json.dumps(planned.to_json())
    delivery = await h.store.start_delivery(
        channel, JAN7, [(payload, part_nonce(channel, JAN7, 0))]
    )

    outcomes = await engine(h).run_due()

    assert {o.channel_id: o.state for o in outcomes}[channel] == "sent"
    (message,) = h.discord.messages_in(channel)
    assert message.nonce == delivery.parts[0].nonce and len(message.embeds) == 10
    first = message.embeds[0]
    assert len(first["description"]) <= 4096 and "thumbnail" not in first
    assert all(len(f["value"]) <= FIELD_VALUE_MAX for f in first["fields"])
    await assert_nothing_failed(h, [channel])
    assert await engine(h).run_due() == []
    assert len(h.discord.messages_in(channel)) == 1


async def test_a_400_naming_a_paper_drops_that_paper_in_every_channel(h: Harness) -> None:
    channels = await subscribe(h, top=25)  # three messages: header + 10, 10, 5
    rest = RestFaults(h.discord)
    for channel in channels:  # Discord refuses the second message everywhere
        rest.fail(f"POST /channels/{channel}/messages", 400, skip=1, body=FIELD_TOO_LONG)

    outcomes = await engine(h).run_due()

    assert len(rest.injected) == 3
    assert [o.state for o in outcomes] == ["sent"] * 3
    for channel in channels:
        delivery = await h.store.get_delivery(channel, JAN7)
        assert delivery is not None
        planned = json.loads(delivery.parts[1].payload)["embeds"]
        got = h.discord.messages_in(channel)
        assert [m.nonce for m in got] == [p.nonce for p in delivery.parts]
        assert [len(m.embeds) for m in got] == [10, 9, 5]  # 24 of 25 papers
        assert [e["url"] for e in got[1].embeds] == [
            e["url"] for n, e in enumerate(planned) if n != 3
        ]
    await assert_nothing_failed(h, channels)
    problems = h.bot.health.active(int(h.discord.guild_id))
    assert len(problems) == 3 and all("left out" in p.message for p in problems)
    assert await engine(h).run_due() == []  # nothing is sent twice
    assert sum(len(h.discord.messages_in(c)) for c in channels) == 9


async def test_an_unexpected_400_skips_one_part_in_one_channel_only(h: Harness) -> None:
    channels = await subscribe(h, top=25)
    papers = channels[0]
    rest = RestFaults(h.discord)
    rest.fail(f"POST /channels/{papers}/messages", 400, skip=1)  # no field named

    outcomes = await engine(h).run_due()

    assert rest.injected == [f"POST /channels/{papers}/messages -> 400"]
    assert {o.channel_id: o.state for o in outcomes} == dict.fromkeys(channels, "sent")
    delivery = await h.store.get_delivery(papers, JAN7)
    assert delivery is not None
    assert [m.nonce for m in h.discord.messages_in(papers)] == [
        delivery.parts[0].nonce,
        delivery.parts[2].nonce,
    ]
    for other in channels[1:]:
        assert [len(m.embeds) for m in h.discord.messages_in(other)] == [10, 10, 5]
    await assert_nothing_failed(h, channels)
    (problem,) = h.bot.health.active(int(h.discord.guild_id))
    assert f"<#{papers}>" in problem.message and "left out" in problem.message
    # Neither a retry nor a restart sends the refused part, or any other, again.
    assert await engine(h).run_due() == []
    await h.restart()
    assert await engine(h).run_due() == []
    assert [len(h.discord.messages_in(c)) for c in channels] == [2, 3, 3]

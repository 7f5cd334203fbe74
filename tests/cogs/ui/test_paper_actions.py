"""Paper controls end to end: every card a person sees offers the actions cogs register, they
survive a restart, and they always act for whoever clicks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from bot.app import EXTENSIONS
from bot.delivery.digests import DigestDelivery
from cogs.ui.search_views import NOT_YOURS
from tests.conftest import seed_papers
from tests.support.harness import Harness, running_bot

WITH_PROBE = [*EXTENSIONS, "tests.support.card_cog"]
JAN7 = date(2025, 1, 7)


def probe(h: Harness) -> Any:
    cog = h.bot.get_cog("Probe")
    assert cog is not None
    return cog


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    now = datetime(2025, 1, 8, 10, tzinfo=UTC)
    async with running_bot(tmp_path, now=now, extensions=WITH_PROBE) as harness:
        for day, papers in seed_papers().items():
            await harness.store.ingest_day(day, papers)
        yield harness


def digest(h: Harness) -> DigestDelivery:
    cog = h.bot.get_cog("Digest")
    assert cog is not None
    return cast(DigestDelivery, cog.engine)  # type: ignore[attr-defined]


def component(message: Any, custom_id: str) -> dict[str, Any]:
    for row in message.components:
        for item in row["components"]:
            if item.get("custom_id") == custom_id:
                return cast(dict[str, Any], item)
    raise AssertionError(f"{custom_id} not on the message: {message.components}")


async def test_a_digest_card_offers_the_action_and_it_works_after_a_restart(h: Harness) -> None:
    channel = int(h.discord.channel_id("papers"))
    sub = await h.discord.invoke(
        "digest set", {"channel": "papers"}, user=h.discord.admin, channel="general"
    )
    await sub.response()
    outcome = await digest(h).deliver(channel, JAN7, await h.store.get_subscription(channel))
    assert outcome.state == "sent"
    first = h.discord.messages_in("papers")[0]
    select = component(first, "papers:probe")
    shown = [e["url"].rsplit("/", 1)[1] for e in first.embeds]
    assert [o["value"] for o in select["options"]] == shown  # one option per card, in order
    delivery = await h.store.get_delivery(channel, JAN7)
    assert delivery is not None
    stored = json.loads(delivery.parts[0].payload)["controls"]
    assert "probe" in [c["action"] for c in stored]  # stored with the digest
    assert list(h.bot.persistent_views) == []  # not kept per message: dynamic items answer

    await h.restart()
    picked = await h.discord.select(first, "papers:probe", [shown[2]], user=h.discord.bob)
    answer = await picked.response()
    assert answer.ephemeral and answer.content == f"probed {shown[2]}"
    assert probe(h).calls == [(int(h.discord.bob.id), shown[2])]  # for whoever picks


async def test_paper_has_a_button_and_a_crafted_id_is_refused(h: Harness) -> None:
    inter = await h.discord.invoke("paper", {"id": "2404.19129"}, user=h.discord.alice)
    await inter.response()
    (message,) = [m for m in h.discord.messages_in("general") if m.embeds]
    assert component(message, "paper:probe:2404.19129")["label"] == "Probe"
    assert list(h.bot.persistent_views) == []
    click = await h.discord.click(message, "paper:probe:2404.19129", user=h.discord.bob)
    assert (await click.response()).content == "probed 2404.19129"
    assert probe(h).calls == [(int(h.discord.bob.id), "2404.19129")]

    message.components[0]["components"][0]["custom_id"] = "paper:probe:../etc"  # crafted
    crafted = await h.discord.click(message, "paper:probe:../etc", user=h.discord.bob)
    reply = await crafted.response()
    assert reply.ephemeral and "names no paper" in reply.content
    message.components[0]["components"][0]["custom_id"] = "paper:probe:2401.99999"
    refused = await h.discord.click(message, "paper:probe:2401.99999", user=h.discord.bob)
    assert (await refused.response()).content == "No such paper here."  # a UserError
    assert len(probe(h).calls) == 1


async def test_others_may_use_the_controls_on_search_results_but_not_turn_pages(
    h: Harness,
) -> None:
    inter = await h.discord.invoke("search", {"query": "model"}, user=h.discord.alice)
    await inter.response()
    (message,) = [m for m in h.discord.messages_in("general") if m.embeds]
    options = component(message, "papers:probe")["options"]
    assert len(options) == 5  # the page's papers
    picked = await h.discord.select(
        message, "papers:probe", [options[0]["value"]], user=h.discord.bob
    )
    assert (await picked.response()).content == f"probed {options[0]['value']}"
    turn = await h.discord.click(message, "search:next", user=h.discord.bob)
    refused = await turn.response()
    assert refused.ephemeral and refused.content == NOT_YOURS
    mine = await h.discord.click(message, "search:next", user=h.discord.alice)
    await mine.response()
    after = [o["value"] for o in component(message, "papers:probe")["options"]]
    assert after and set(after).isdisjoint(o["value"] for o in options)  # the next page's


async def test_the_controls_keep_answering_after_a_search_pager_ends(h: Harness) -> None:
    """A pager's paper controls are dynamic items; discord.py forgets them for the whole bot
    when a view holding them ends. After a search's pager times out, the controls on its
    message and on every other message still answer."""
    search = h.bot.get_cog("Search")
    assert search is not None
    search.view_timeout = 0.2  # type: ignore[attr-defined]
    inter = await h.discord.invoke("search", {"query": "model"}, user=h.discord.alice)
    await inter.response()
    (message,) = [m for m in h.discord.messages_in("general") if m.embeds]
    await h.discord.wait_for(
        lambda: component(message, "search:next").get("disabled") is True, 10, "the timeout"
    )
    options = component(message, "papers:probe")["options"]
    picked = await h.discord.select(
        message, "papers:probe", [options[0]["value"]], user=h.discord.bob
    )
    assert (await picked.response()).content == f"probed {options[0]['value']}"
    paper = await h.discord.invoke("paper", {"id": "2404.19129"}, user=h.discord.alice)
    await paper.response()
    card = [m for m in h.discord.messages_in("general") if m.embeds][-1]
    click = await h.discord.click(card, "paper:probe:2404.19129", user=h.discord.bob)
    assert (await click.response()).content == "probed 2404.19129"

"""/similar and the More like this control, end to end through the fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from bot.similar import SimilarPapers
from tests.conftest import seed_papers
from tests.support.harness import Harness, running_bot

pytestmark = pytest.mark.usefixtures("store_backend")

GROKKING = ["2501.17548", "2509.01411", "2310.06371", "2507.14285"]


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        for day, papers in seed_papers().items():
            await harness.store.ingest_day(day, papers)
        await service(harness).refresh()  # as the next scrape's hook would
        yield harness


def service(h: Harness) -> SimilarPapers:
    cog = h.bot.get_cog("Similar")
    assert cog is not None
    return cast(Any, cog).similar


def component(message: Any, custom_id: str) -> dict[str, Any]:
    for row in message.components:
        for item in row["components"]:
            if item.get("custom_id") == custom_id:
                return cast(dict[str, Any], item)
    raise AssertionError(f"{custom_id} not on the message: {message.components}")


def linked_ids(message: Any) -> list[str]:
    text = message.embeds[0]["description"]
    return [i for i in GROKKING if f"/papers/{i})" in text]


async def test_similar_lists_the_other_grokking_papers(h: Harness) -> None:
    inter = await h.discord.invoke("similar", {"paper": "2501.17548"}, user=h.discord.alice)
    message = await inter.final_message()
    assert message.embeds[0]["title"].startswith("More like this: Grokking at the Edge")
    assert set(linked_ids(message)) == set(GROKKING) - {"2501.17548"}
    assert message.embeds[0]["description"].count("**") >= 10  # five numbered papers
    assert len(component(message, "papers:similar")["options"]) == 5  # and so on
    assert h.hf.requests_to("/api/papers/") == []  # stored: no need to ask HF


async def test_the_card_control_answers_only_the_clicker(h: Harness) -> None:
    inter = await h.discord.invoke("paper", {"id": "2310.06371"}, user=h.discord.alice)
    await inter.response()
    (card,) = [m for m in h.discord.messages_in("general") if m.embeds]
    button = component(card, "paper:similar:2310.06371")
    assert button["label"] == "More like this"
    await h.restart()  # the control still works; the new process builds its own index
    click = await h.discord.click(card, "paper:similar:2310.06371", user=h.discord.bob)
    answer = await click.final_message()
    assert answer.ephemeral
    assert set(linked_ids(answer)) == set(GROKKING) - {"2310.06371"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [("grokking paper", "is not an arXiv id"), ("2401.00000", "is not on Hugging Face")],
)
async def test_bad_or_unknown_ids_get_a_private_error(h: Harness, value: str, reason: str) -> None:
    inter = await h.discord.invoke("similar", {"paper": value}, user=h.discord.alice)
    message = await inter.final_message()
    assert message.ephemeral and reason in message.content
    asked = len(h.hf.requests_to("/api/papers/"))
    assert asked == (0 if "not an arXiv id" in reason else 1)  # an unknown id: fetched once

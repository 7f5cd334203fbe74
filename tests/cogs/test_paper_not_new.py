"""A paper someone looks up with /paper is not news for alerts (issue 10, F6), end to end.

The rule: alerts fire for a paper when it first appears on a daily list. A paper stored
because someone fetched it by id waits; if it later appears on a list, it is new then.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from bot.delivery.alerts import AlertDelivery
from tests.conftest import seed_items
from tests.support.harness import Harness, running_bot

# Everything here runs on both store backends.
pytestmark = pytest.mark.usefixtures("store_backend")

NEW_DAY = "2025-01-08"  # "today" for the harness clock
OLD_ID = "2310.09999"
OLD_TITLE = "Grokking Beyond Algorithmic Data, a 2023 Study"
NEW_TITLE = "Grokking at the Edge of Numerical Stability"  # on the 2025-11-28 seed list


def old_paper_item() -> dict[str, Any]:
    """A 2023 paper about grokking, on a 2023 list of HF's the bot never scraped."""
    (item,) = [
        copy.deepcopy(i) for i in seed_items()["2025-01-07"] if i["paper"]["id"] == "2310.06371"
    ]
    item["paper"].update(id=OLD_ID, title=OLD_TITLE, publishedAt="2023-10-10T00:00:00.000Z")
    item["title"] = OLD_TITLE
    return item


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        harness.hf.set_day("2023-10-10", [old_paper_item()])
        inter = await harness.discord.invoke(
            "alert add", {"query": "grokking"}, user=harness.discord.alice, channel="general"
        )
        assert "saved: `grokking`" in (await inter.final_message()).content
        yield harness


def engine(h: Harness) -> AlertDelivery:
    return cast(Any, h.bot.get_cog("Alerts")).engine


async def look_up_old_paper(h: Harness) -> None:
    """Bob runs /paper for the old paper; the bot fetches it from HF and stores it."""
    inter = await h.discord.invoke("paper", {"id": OLD_ID}, user=h.discord.bob)
    assert (await inter.final_message()).embeds[0]["title"] == OLD_TITLE
    assert len(h.hf.requests_to(f"/api/papers/{OLD_ID}")) == 1
    assert await h.store.get_paper(OLD_ID) is not None


async def new_list(h: Harness, items: list[dict[str, Any]]) -> None:
    """Today's list appears on HF; the bot scrapes it and runs the alerts."""
    h.hf.set_day(NEW_DAY, items)
    await h.bot.scrape_job()
    await engine(h).run()


def dm_text(h: Harness) -> str:
    return "\n".join(str(m.embeds[0]["description"]) for m in h.discord.dms_to(h.discord.alice))


async def test_a_looked_up_old_paper_is_not_sent_as_new(h: Harness) -> None:
    await look_up_old_paper(h)
    await new_list(h, copy.deepcopy(seed_items()["2025-11-28"]))
    text = dm_text(h)
    assert NEW_TITLE in text  # the alert works: today's grokking papers arrived
    assert OLD_TITLE not in text and OLD_ID not in text


async def test_a_looked_up_paper_is_new_when_it_first_appears_on_a_list(h: Harness) -> None:
    await look_up_old_paper(h)
    await engine(h).run()  # a periodic alert run between the lookup and the list
    assert h.discord.dms_to(h.discord.alice) == []
    await new_list(h, [old_paper_item()])
    assert OLD_TITLE in dm_text(h)
    await new_list(h, [old_paper_item()])  # listed again: not news again
    assert len(h.discord.dms_to(h.discord.alice)) == 1

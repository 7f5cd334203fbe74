"""/paper cannot spend Hugging Face's request quota (issue 10, F8), end to end.

The fake HF counts every request. The harness clock is frozen unless a test moves it, so the
bot-wide lookup budget (10 a minute, 5 at once by default) refills only when a test says so.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.errors import ConfigError
from tests.fakes.fake_discord import FakeUser, RecordedMessage
from tests.support.harness import Harness, running_bot

LISTED_LATER = "2509.01411"  # on HF's 2025-11-28 list: not stored by the harness's backfill
NOT_ON_HF = "is not on Hugging Face Papers"
TOO_MANY = re.compile(r"Too many paper lookups right now: try again in \d+ s\.")


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, extensions=["cogs.search"]) as harness:
        yield harness


def members(h: Harness, n: int) -> list[FakeUser]:
    return [h.discord.add_member(h.discord.guild_id, f"member{i}") for i in range(n)]


async def paper(h: Harness, paper_id: str, user: FakeUser | None = None) -> RecordedMessage:
    inter = await h.discord.invoke("paper", {"id": paper_id}, user=user or h.discord.alice)
    return await inter.final_message()


def lookups(h: Harness) -> int:
    return len(h.hf.requests_to("/api/papers/"))


async def test_many_members_looking_up_unknown_ids_stay_within_the_budget(h: Harness) -> None:
    people = members(h, 6)
    asked = [
        await h.discord.invoke("paper", {"id": f"2501.{n:05d}"}, user=people[n % 6])
        for n in range(30)
    ]
    answers = [await inter.final_message() for inter in asked]
    assert lookups(h) == 5  # the burst; the frozen clock refills nothing
    refused = [a for a in answers if TOO_MANY.fullmatch(a.content)]
    assert len(refused) == 25 and all(a.ephemeral for a in refused)
    assert sum(NOT_ON_HF in a.content for a in answers) == 5
    h.clock.advance(seconds=6)  # 10 a minute: one more lookup
    assert NOT_ON_HF in (await paper(h, "2501.00100", members(h, 1)[0])).content
    assert lookups(h) == 6
    assert TOO_MANY.fullmatch((await paper(h, "2501.00101", members(h, 1)[0])).content)
    assert lookups(h) == 6


async def test_an_unknown_id_is_not_asked_about_again_for_ten_minutes(h: Harness) -> None:
    first = await paper(h, "2501.00001")
    assert first.ephemeral and first.content.startswith(f"2501.00001 {NOT_ON_HF}")
    again = await paper(h, "https://huggingface.co/papers/2501.00001", h.discord.bob)
    assert again.content == first.content
    assert lookups(h) == 1
    h.clock.advance(minutes=10, seconds=1)
    assert NOT_ON_HF in (await paper(h, "2501.00001")).content
    assert lookups(h) == 2


async def test_the_same_id_asked_by_several_at_once_is_fetched_once(h: Harness) -> None:
    asked = [
        await h.discord.invoke("paper", {"id": LISTED_LATER}, user=user) for user in members(h, 5)
    ]
    for inter in asked:
        message = await inter.final_message()
        assert message.embeds[0]["title"].startswith("Provable Scaling Laws")
    assert lookups(h) == 1


@pytest.mark.parametrize(
    "typed", ["2401.٠٠٠٠١", "２４01.０００１２", "https://arxiv.org/abs/2401.٠٠٠٠١", "2401.00001v٢"]
)
async def test_ids_with_non_ascii_digits_are_refused_without_asking_hf(
    h: Harness, typed: str
) -> None:
    message = await paper(h, typed)
    assert message.ephemeral and "is not an arXiv id or paper link" in message.content
    assert lookups(h) == 0


async def test_a_lookup_is_not_retried(h: Harness) -> None:
    h.hf.inject("/api/papers", 503)  # the harness allows the scraper one retry
    message = await paper(h, LISTED_LATER)
    assert message.ephemeral and message.content.startswith("Hugging Face did not answer")
    assert lookups(h) == 1


def test_the_lookup_budget_is_configurable_and_checked() -> None:
    hf = parse_config({}).huggingface
    assert (hf.lookups_per_minute, hf.lookup_burst) == (10, 5)
    custom = parse_config({"huggingface": {"lookups_per_minute": 2.5, "lookup_burst": 1}})
    assert (custom.huggingface.lookups_per_minute, custom.huggingface.lookup_burst) == (2.5, 1)
    for bad in ({"lookups_per_minute": 0}, {"lookup_burst": 0}, {"lookups_per_minute": 601}):
        with pytest.raises(ConfigError, match=r"huggingface\.lookup"):
            parse_config({"huggingface": bad})

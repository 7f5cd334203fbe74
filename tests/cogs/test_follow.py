"""/follow end to end: autocomplete from stored authors, limits, and a followed author's new
papers arriving once with the alerts, by HF account where one claimed the paper."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from bot.delivery.alerts import AlertDelivery
from bot.models import Author, Paper
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeUser
from tests.support.harness import Harness, running_bot

pytestmark = pytest.mark.usefixtures("store_backend")

NEW_DAY = "2025-01-08"


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        yield harness


def engine(h: Harness) -> AlertDelivery:
    cog = h.bot.get_cog("Alerts")
    assert cog is not None
    return cast(Any, cog).engine


async def follow(h: Harness, user: FakeUser, command: str, **options: object) -> str:
    inter = await h.discord.invoke(f"follow {command}", options, user=user, channel="general")
    message = await inter.final_message()
    assert message.ephemeral, f"/follow {command} answered publicly"
    return message.content


def new_list() -> tuple[list[dict[str, Any]], str]:
    """The next list: its first paper claimed by `ada-hf` as its first author; its second
    credits another person of the same name, claimed by someone else."""
    items = copy.deepcopy(seed_items()["2025-11-28"])
    first, second = items[0]["paper"], items[1]["paper"]
    name = first["authors"][0]["name"]
    first["authors"][0]["user"] = {"user": "ada-hf", "fullname": name}
    second["authors"][0] = {"name": name, "hidden": False, "user": {"user": "other-hf"}}
    return items, name


async def new_day(h: Harness, items: list[dict[str, Any]]) -> None:
    h.hf.set_day(NEW_DAY, copy.deepcopy(items))
    await h.bot.scrape_job()
    await engine(h).run()


async def known(h: Harness, name: str, user: str | None) -> None:
    """An older paper (looked up, so never new for alerts) that credits the author."""
    await h.store.upsert_paper(
        Paper("2412.00001", "An earlier paper", "x", authors=(name,), author_users=(user,))
    )


async def test_a_followed_account_gets_its_new_paper_once_across_a_restart(h: Harness) -> None:
    items, name = new_list()
    await known(h, name, "ada-hf")
    choices = await h.discord.autocomplete(
        "follow add", {"author": name[:4]}, focused="author", user=h.discord.alice
    )
    assert {"name": f"{name} (@ada-hf) · 1 paper", "value": f"{name} (@ada-hf)"} in choices
    reply = await follow(h, h.discord.alice, "add", author=f"{name} (@ada-hf)")
    assert "Following" in reply and "@ada-hf" in reply
    assert "already follow" in await follow(h, h.discord.alice, "add", author=f"{name} (@ada-hf)")

    await new_day(h, items)
    (dm,) = h.discord.dms_to(h.discord.alice)
    text = dm.embeds[0]["description"]
    assert items[0]["paper"]["title"][:30] in text and f"new paper by `{name}`" in text
    assert items[1]["paper"]["title"][:30] not in text  # the other person of that name

    await h.restart()
    await new_day(h, items)  # the same list again, after a restart: nothing new
    await engine(h).run()
    assert len(h.discord.dms_to(h.discord.alice)) == 1
    assert await h.store.alert_outbox() == []


async def test_an_alert_and_a_follow_on_one_paper_make_one_entry(h: Harness) -> None:
    items, name = new_list()
    await known(h, name, "ada-hf")
    await follow(h, h.discord.alice, "add", author=f"{name} (@ada-hf)")
    word = items[0]["paper"]["title"].split()[0]
    inter = await h.discord.invoke(
        "alert add", {"query": f'"{word}"'}, user=h.discord.alice, channel="general"
    )
    await inter.final_message()
    await new_day(h, items)
    (dm,) = h.discord.dms_to(h.discord.alice)
    text = dm.embeds[0]["description"]
    assert text.count(items[0]["paper"]["title"][:30]) == 1
    assert f"new paper by `{name}`" in text


async def test_list_and_remove(h: Harness) -> None:
    await known(h, "Grace Hopper", None)
    assert "follow no authors" in await follow(h, h.discord.alice, "list")
    await follow(h, h.discord.alice, "add", author="grace hopper")
    assert "**Grace Hopper**" in await follow(h, h.discord.alice, "list")
    assert "follow no authors" in await follow(h, h.discord.bob, "list")  # private to each
    choices = await h.discord.autocomplete(
        "follow remove", {"author": "gra"}, focused="author", user=h.discord.alice
    )
    assert [c["value"] for c in choices] == ["Grace Hopper"]
    others = await h.discord.autocomplete(
        "follow remove", {"author": ""}, focused="author", user=h.discord.bob
    )
    assert others == []  # only one's own follows are suggested
    assert "not one of them" in await follow(h, h.discord.bob, "remove", author="Grace Hopper")
    assert "no longer follow" in await follow(h, h.discord.alice, "remove", author="Grace Hopper")
    assert "follow no authors" in await follow(h, h.discord.alice, "list")


async def test_an_unknown_author_is_refused_by_name(h: Harness) -> None:
    reply = await follow(h, h.discord.alice, "add", author="Nobody *Atall*")
    assert "No stored paper is by **Nobody \\*Atall\\***" in reply
    assert await h.store.user_follows(int(h.discord.alice.id)) == []


async def test_at_most_50_authors(h: Harness) -> None:
    await known(h, "Grace Hopper", None)
    for n in range(50):
        await h.store.add_follow(int(h.discord.alice.id), Author(f"Author {n}"))
    reply = await follow(h, h.discord.alice, "add", author="Grace Hopper")
    assert "already follow 50 authors" in reply
    assert len(await h.store.user_follows(int(h.discord.alice.id))) == 50

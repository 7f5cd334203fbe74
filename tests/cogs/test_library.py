"""/library and the Save control end to end: saving from a digest card and an alert DM, by
command, listing, searching, removing, exporting, and nobody reaching anyone else's library."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any, cast

import bibtexparser
import pytest

from bot.delivery.alerts import AlertDelivery
from bot.delivery.digests import DigestDelivery
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeUser, RecordedMessage
from tests.support.harness import Harness, running_bot

pytestmark = pytest.mark.usefixtures("store_backend")

JAN7 = date(2025, 1, 7)
NEW_DAY = "2025-01-08"
LISTED_LATER = "2509.01411"  # on HF's 2025-11-28 list: not stored by the harness's backfill


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        yield harness


def cog(h: Harness, name: str) -> Any:
    found = h.bot.get_cog(name)
    assert found is not None
    return found


async def library(h: Harness, command: str, user: FakeUser, **options: object) -> RecordedMessage:
    inter = await h.discord.invoke(f"library {command}", options, user=user, channel="general")
    message = await inter.final_message()
    assert message.ephemeral, f"/library {command} answered publicly"
    return message


async def saved(h: Harness, user: FakeUser) -> list[str]:
    return [s.listing.paper.id for s in await h.store.library(int(user.id))]


def component(message: RecordedMessage, prefix: str) -> dict[str, Any]:
    for row in message.components:
        for item in row["components"]:
            if str(item.get("custom_id", "")).startswith(prefix):
                return cast(dict[str, Any], item)
    raise AssertionError(f"no {prefix} control on the message: {message.components}")


async def stored_ids(h: Harness) -> list[str]:
    return [listing.paper.id for listing in await h.store.day_listing(JAN7)]


async def test_save_from_a_digest_card_is_for_whoever_picks(h: Harness) -> None:
    channel = int(h.discord.channel_id("papers"))
    sub = await h.discord.invoke(
        "digest set", {"channel": "papers"}, user=h.discord.admin, channel="general"
    )
    await sub.response()
    digest = cast(DigestDelivery, cog(h, "Digest").engine)
    assert (await digest.deliver(channel, JAN7, await h.store.get_subscription(channel))).state
    first = h.discord.messages_in("papers")[0]
    select = component(first, "papers:save")
    assert "Save" in select["placeholder"]
    shown = [o["value"] for o in select["options"]]

    await h.restart()  # the control is persistent
    picked = await h.discord.select(first, "papers:save", [shown[1]], user=h.discord.bob)
    reply = await picked.final_message()
    assert reply.ephemeral and "Saved" in reply.content
    again = await h.discord.select(first, "papers:save", [shown[1]], user=h.discord.bob)
    assert "Already saved" in (await again.final_message()).content
    assert await saved(h, h.discord.bob) == [shown[1]]
    assert await saved(h, h.discord.alice) == []  # no one else's library changes
    assert await saved(h, h.discord.admin) == []


async def test_save_from_an_alert_dm(h: Harness) -> None:
    inter = await h.discord.invoke("alert add", {"query": "grokking"}, user=h.discord.alice)
    await inter.final_message()
    h.hf.set_day(NEW_DAY, copy.deepcopy(seed_items()["2025-11-28"]))
    await h.bot.scrape_job()
    await cast(AlertDelivery, cog(h, "Alerts").engine).run()
    (dm,) = h.discord.dms_to(h.discord.alice)
    control = component(dm, "paper")
    if control["type"] == 2:  # one paper: a button
        paper_id = control["custom_id"].rsplit(":", 1)[1]
        used = await h.discord.click(dm, control["custom_id"], user=h.discord.alice)
    else:
        paper_id = control["options"][0]["value"]
        used = await h.discord.select(dm, control["custom_id"], [paper_id], user=h.discord.alice)
    reply = await used.final_message()
    assert reply.ephemeral and "Saved" in reply.content
    assert await saved(h, h.discord.alice) == [paper_id]


async def test_a_crafted_custom_id_is_refused(h: Harness) -> None:
    (paper_id, *_) = await stored_ids(h)
    inter = await h.discord.invoke("paper", {"id": paper_id}, user=h.discord.alice)
    await inter.final_message()
    (message,) = [m for m in h.discord.messages_in("general") if m.embeds]
    button = component(message, "paper:save:")
    assert button["label"] == "Save"
    for crafted in ("paper:save:../etc", f"paper:save:{paper_id}v2", "paper:save:2501.99999"):
        button["custom_id"] = crafted
        click = await h.discord.click(message, crafted, user=h.discord.bob)
        reply = await click.final_message()
        assert reply.ephemeral and "Saved" not in reply.content, crafted
    assert await saved(h, h.discord.bob) == []
    assert await saved(h, h.discord.alice) == []
    # The id names a paper, never a person: a replayed click saves for whoever clicks.
    button["custom_id"] = f"paper:save:{paper_id}"
    click = await h.discord.click(message, f"paper:save:{paper_id}", user=h.discord.bob)
    assert "Saved" in (await click.final_message()).content
    assert await saved(h, h.discord.bob) == [paper_id] and await saved(h, h.discord.alice) == []


async def test_add_by_id_or_link_fetches_an_unknown_paper_once(h: Harness) -> None:
    before = len(h.hf.requests_to("/api/papers/"))
    link = f"https://huggingface.co/papers/{LISTED_LATER}"
    reply = await library(h, "add", h.discord.alice, paper=link)
    assert "Saved" in reply.content
    again = await library(h, "add", h.discord.alice, paper=LISTED_LATER)
    assert "Already saved" in again.content
    assert len(h.hf.requests_to("/api/papers/")) == before + 1
    assert await saved(h, h.discord.alice) == [LISTED_LATER]


async def test_bad_or_unknown_ids_are_refused_without_asking_hf_for_nonsense(h: Harness) -> None:
    before = len(h.hf.requests_to("/api/papers/"))
    reply = await library(h, "add", h.discord.alice, paper="attention is all you need")
    assert "is not an arXiv id or paper link" in reply.content
    assert len(h.hf.requests_to("/api/papers/")) == before  # no request for a non-id
    reply = await library(h, "add", h.discord.alice, paper="2501.00100")
    assert "is not on Hugging Face Papers" in reply.content
    assert await saved(h, h.discord.alice) == []


async def test_list_pages_and_searches_the_library(h: Harness) -> None:
    ids = await stored_ids(h)
    for pid in ids[:7]:
        await h.store.save_paper(int(h.discord.alice.id), pid)
    listed = await library(h, "list", h.discord.alice)
    (embed,) = listed.embeds
    assert "7 papers" in embed["footer"]["text"] and embed["description"].count("**") == 10
    assert ids[6] in embed["description"]  # newest saved first
    turn = await h.discord.click(listed, "library:next", user=h.discord.alice)
    await turn.response()
    assert (
        ids[0] in listed.embeds[0]["description"]
        and "page 2/2" in listed.embeds[0]["footer"]["text"]
    )
    # Searching with the query language, over the saved papers only.
    title = (await h.store.get_paper(ids[2])).paper.title  # type: ignore[union-attr]
    word = max(title.split(), key=len).strip(":,.()")
    found = await library(h, "list", h.discord.alice, query=f'"{word}"')
    assert ids[2] in found.embeds[0]["description"]
    none = await library(h, "list", h.discord.alice, query="zebrafishxyz")
    assert "No saved paper matches" in none.content
    empty = await library(h, "list", h.discord.bob)
    assert "Your library is empty" in empty.content


async def test_remove_autocompletes_only_ones_own_and_removes_only_ones_own(h: Harness) -> None:
    ids = await stored_ids(h)
    await h.store.save_paper(int(h.discord.alice.id), ids[0])
    await h.store.save_paper(int(h.discord.bob.id), ids[1])
    offered = await h.discord.autocomplete(
        "library remove", {"paper": ""}, focused="paper", user=h.discord.alice
    )
    assert [c["value"] for c in offered] == [ids[0]]
    refused = await library(h, "remove", h.discord.bob, paper=ids[0])
    assert "not in your library" in refused.content
    assert await saved(h, h.discord.alice) == [ids[0]]
    removed = await library(h, "remove", h.discord.alice, paper=ids[0])
    assert "Removed" in removed.content
    assert await saved(h, h.discord.alice) == [] and await saved(h, h.discord.bob) == [ids[1]]


async def test_export_bibtex_parses_and_holds_the_right_ids(h: Harness) -> None:
    ids = await stored_ids(h)
    for pid in ids[:4]:
        await h.store.save_paper(int(h.discord.alice.id), pid)
    await h.store.save_paper(int(h.discord.bob.id), ids[5])
    reply = await library(h, "export", h.discord.alice, format="bibtex")
    (attachment,) = reply.attachments
    assert attachment["filename"] == "library.bib"
    parsed = bibtexparser.parse_string(h.discord.attachment_bytes(attachment).decode())
    assert parsed.failed_blocks == []
    assert sorted(e["eprint"] for e in parsed.entries) == sorted(ids[:4])
    assert len({e.key for e in parsed.entries}) == 4
    assert all(e.entry_type == "misc" and e["archivePrefix"] == "arXiv" for e in parsed.entries)
    for fmt, name in (("markdown", "library.md"), ("csv", "library.csv")):
        (file,) = (await library(h, "export", h.discord.alice, format=fmt)).attachments
        assert file["filename"] == name
        assert all(pid in h.discord.attachment_bytes(file).decode() for pid in ids[:4])


async def test_an_empty_library_exports_no_file(h: Harness) -> None:
    reply = await library(h, "export", h.discord.alice, format="bibtex")
    assert reply.attachments == [] and "library is empty" in reply.content


async def test_the_library_limit_is_clear(h: Harness) -> None:
    ids = await stored_ids(h)
    cog(h, "Library").library.max_saved = 2
    for pid in ids[:2]:
        await library(h, "add", h.discord.alice, paper=pid)
    full = await library(h, "add", h.discord.alice, paper=ids[2])
    assert "Your library is full: it holds 2 papers" in full.content
    assert "Already saved" in (await library(h, "add", h.discord.alice, paper=ids[0])).content
    assert len(await saved(h, h.discord.alice)) == 2

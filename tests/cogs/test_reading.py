"""/reading end to end: one list per server that anyone adds to, notes shown as inert text,
removing others' entries only with Manage Messages, exports, and the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import bibtexparser
import pytest

from bot.errors import UserError
from bot.library import NOTE_MAX, clean_note
from tests.fakes.fake_discord import FakeUser, Perm, RecordedMessage
from tests.support.harness import Harness, running_bot

pytestmark = pytest.mark.usefixtures("store_backend")

JAN7 = date(2025, 1, 7)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        yield harness


async def reading(
    h: Harness, command: str, user: FakeUser, guild: str | None = None, **options: object
) -> RecordedMessage:
    inter = await h.discord.invoke(f"reading {command}", options, user=user, guild=guild)
    message = await inter.final_message()
    assert message.ephemeral, f"/reading {command} answered publicly"
    return message


async def ids(h: Harness) -> list[str]:
    return [listing.paper.id for listing in await h.store.day_listing(JAN7)]


def on_list(entries: Any) -> list[str]:
    return [e.listing.paper.id for e in entries]


async def test_anyone_adds_and_the_list_is_shared_with_inert_notes(h: Harness) -> None:
    pid, other, *_ = await ids(h)
    guild = int(h.discord.guild_id)
    note = "@everyone read **this** <@123> [x](https://evil.example) first"
    added = await reading(h, "add", h.discord.alice, paper=pid, note=note)
    assert "Added" in added.content
    again = await reading(h, "add", h.discord.bob, paper=pid, note="mine")
    assert "Already on this server's reading list" in again.content
    await reading(h, "add", h.discord.bob, paper=other)
    assert on_list(await h.store.reading_list(guild)) == [other, pid]
    listed = await reading(h, "list", h.discord.bob)  # the same list for everyone
    text = listed.embeds[0]["description"]
    assert text.index(other) < text.index(pid)
    assert f"added by <@{h.discord.alice.id}>" in text
    assert "@\u200beveryone" in text and r"\*\*this\*\*" in text and r"\<@123>" in text
    assert "https\\://evil.example" in text  # no link of its own
    assert listed.allowed_mentions is not None and listed.allowed_mentions.get("parse") == []


async def test_removing_someone_elses_entry_needs_manage_messages(h: Harness) -> None:
    pid, other, *_ = await ids(h)
    guild = int(h.discord.guild_id)
    await reading(h, "add", h.discord.alice, paper=pid)
    await reading(h, "add", h.discord.bob, paper=other)
    offered = await h.discord.autocomplete(
        "reading remove", {"paper": ""}, focused="paper", user=h.discord.bob
    )
    assert [c["value"] for c in offered] == [other]  # only bob's own, for a member
    refused = await reading(h, "remove", h.discord.bob, paper=pid)
    assert "needs the Manage Messages permission" in refused.content
    assert on_list(await h.store.reading_list(guild)) == [other, pid]
    assert "Removed" in (await reading(h, "remove", h.discord.bob, paper=other)).content
    mod_role = h.discord.add_role(h.discord.guild_id, "Mods", Perm.MANAGE_MESSAGES)
    carol = h.discord.add_member(h.discord.guild_id, "carol")
    h.discord.set_roles(h.discord.guild_id, carol, [mod_role])
    offered = await h.discord.autocomplete(
        "reading remove", {"paper": ""}, focused="paper", user=carol
    )
    assert [c["value"] for c in offered] == [pid]  # everyone's, for a moderator
    assert "Removed" in (await reading(h, "remove", carol, paper=pid)).content
    assert await h.store.reading_list(guild) == []
    gone = await reading(h, "remove", carol, paper=pid)
    assert "is not on this server's reading list" in gone.content


async def test_each_server_has_its_own_list(h: Harness) -> None:
    pid, *_ = await ids(h)
    other_guild = h.discord.add_guild("Other Lab")
    h.discord.add_text_channel(other_guild, "general")
    dave = h.discord.add_member(other_guild, "dave")
    await h.discord.wait_for(lambda: h.bot.get_guild(int(other_guild)), 5, "the new guild")
    await reading(h, "add", h.discord.alice, paper=pid)
    empty = await reading(h, "list", dave, guild=other_guild)
    assert "reading list is empty" in empty.content
    refused = await reading(h, "remove", dave, guild=other_guild, paper=pid)
    assert "is not on this server's reading list" in refused.content
    assert on_list(await h.store.reading_list(int(h.discord.guild_id))) == [pid]


async def test_export_the_reading_list(h: Harness) -> None:
    empty = await reading(h, "export", h.discord.alice, format="bibtex")
    assert empty.attachments == [] and "reading list is empty" in empty.content
    chosen = (await ids(h))[:3]
    for pid in chosen:
        await reading(h, "add", h.discord.alice, paper=pid, note="100% worth it & more")
    reply = await reading(h, "export", h.discord.bob, format="bibtex")
    (attachment,) = reply.attachments
    assert attachment["filename"] == "reading-list.bib"
    parsed = bibtexparser.parse_string(h.discord.attachment_bytes(attachment).decode())
    assert parsed.failed_blocks == [] and sorted(e["eprint"] for e in parsed.entries) == sorted(
        chosen
    )
    (md,) = (await reading(h, "export", h.discord.bob, format="markdown")).attachments
    assert "> 100% worth it & more" in h.discord.attachment_bytes(md).decode()


async def test_the_reading_list_limit_is_clear(h: Harness) -> None:
    first, second, *_ = await ids(h)
    h.bot.get_cog("Reading").library.max_reading = 1  # type: ignore[union-attr]
    await reading(h, "add", h.discord.alice, paper=first)
    full = await reading(h, "add", h.discord.bob, paper=second)
    assert "reading list is full: it holds 1 papers" in full.content


def test_notes_are_one_line_of_plain_text_within_the_limit() -> None:
    assert clean_note("  read\n\nthis\u200e\x00 first ") == "read this first"
    assert clean_note(None) == ""
    assert len(clean_note("x" * NOTE_MAX)) == NOTE_MAX
    with pytest.raises(UserError, match="at most 500 characters"):
        clean_note("x" * (NOTE_MAX + 1))

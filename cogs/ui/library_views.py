"""Libraries and reading lists on screen: entries, a private pager, and private answers."""

from __future__ import annotations

import asyncio
import io
import logging
import math
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.digest import authors_line
from bot.export import ExportFile
from bot.models import Listing, ReadingEntry, SavedPaper
from bot.tree import APOLOGY, send_ephemeral
from cogs.ui.links import escape_text, masked_link
from cogs.ui.render import COLOUR, DESCRIPTION_MAX, TITLE_MAX, clip, fit

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_SIZE = 5  # five entries with 500-character notes stay inside one embed
VIEW_TIMEOUT = 600.0
DEFER_AFTER = 1.0  # seconds; Discord drops answers after 3 s
ENTRY_TITLE_MAX = 180
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100


def note_text(note: str) -> str:
    """A member's note, shown as text: no markdown, no mention, no link of its own."""
    escaped = discord.utils.escape_mentions(escape_text(note))
    return escaped.replace("<", "\\<").replace("://", "\\://")


def _entry(n: int, listing: Listing, facts: list[str]) -> str:
    paper = listing.paper
    title = masked_link(clip(" ".join(paper.title.split()), ENTRY_TITLE_MAX), paper.hf_url)
    line = [f"▲ {paper.upvotes:,}", f"arXiv {paper.id}"]
    if paper.authors:
        line.append(escape_text(clip(authors_line(paper.authors, 3), 120)))
    return f"**{n}.** {title}\n{' · '.join(line + facts)}"


def saved_entries(saved: Sequence[SavedPaper]) -> list[str]:
    """One entry per saved paper: linked title, facts, when saved."""
    return [
        _entry(n, s.listing, [f"saved {s.saved_at.date().isoformat()}"])
        for n, s in enumerate(saved, start=1)
    ]


def reading_entries(entries: Sequence[ReadingEntry]) -> list[str]:
    """One entry per reading-list paper: linked title, who added it, and their note."""
    shown = []
    for n, e in enumerate(entries, start=1):
        text = _entry(n, e.listing, [f"added by <@{e.added_by}>"])  # embeds never ping
        if e.note:
            text += f"\n> {note_text(e.note)}"
        shown.append(text)
    return shown


def page_embed(title: str, entries: Sequence[str], offset: int, page_size: int) -> discord.Embed:
    """One page of a list, with where it is in the list."""
    embed = discord.Embed(
        title=clip(title, TITLE_MAX),
        description=clip("\n\n".join(entries[offset : offset + page_size]), DESCRIPTION_MAX),
        colour=COLOUR,
    )
    pages = max(1, math.ceil(len(entries) / page_size))
    embed.set_footer(text=f"{len(entries):,} papers · page {offset // page_size + 1}/{pages}")
    return fit(embed)


class ListPager(discord.ui.View):
    """Previous/Next over entries already rendered; the message is private to its owner."""

    def __init__(
        self,
        title: str,
        entries: Sequence[str],
        *,
        page_size: int = PAGE_SIZE,
        timeout: float | None = VIEW_TIMEOUT,
    ) -> None:
        super().__init__(timeout=timeout)
        self.title = title
        self.entries = list(entries)
        self.page_size = page_size
        self.offset = 0
        self.anchor: discord.Interaction | None = None
        self._update_buttons()

    def embed(self) -> discord.Embed:
        return page_embed(self.title, self.entries, self.offset, self.page_size)

    def _update_buttons(self) -> None:
        self.previous_page.disabled = self.offset <= 0
        self.next_page.disabled = self.offset + self.page_size >= len(self.entries)

    @discord.ui.button(label="Previous", emoji="◀️", custom_id="library:previous")
    async def previous_page(
        self, interaction: discord.Interaction, button: discord.ui.Button[ListPager]
    ) -> None:
        await self._turn(interaction, self.offset - self.page_size)

    @discord.ui.button(label="Next", emoji="▶️", custom_id="library:next")
    async def next_page(
        self, interaction: discord.Interaction, button: discord.ui.Button[ListPager]
    ) -> None:
        await self._turn(interaction, self.offset + self.page_size)

    async def _turn(self, interaction: discord.Interaction, offset: int) -> None:
        last = max(0, (len(self.entries) - 1) // self.page_size * self.page_size)
        self.offset = min(max(0, offset), last)
        self._update_buttons()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    async def on_timeout(self) -> None:
        """Grey the buttons out; a message that is gone or too old is left alone."""
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.anchor is not None:
            try:
                await self.anchor.edit_original_response(view=self)
            except discord.HTTPException as e:
                log.debug("could not disable the buttons of an expired list: %s", e)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        log.error("turning a list page failed (user %s)", interaction.user.id, exc_info=error)
        await send_ephemeral(interaction, APOLOGY)


async def privately_in_time(interaction: discord.Interaction, work: Awaitable[T]) -> T:
    """Await the work; if it runs past DEFER_AFTER s, defer (privately) so Discord waits."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER)
    if not done:
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except BaseException:
            task.cancel()
            raise
    return await task


async def answer(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    file: ExportFile | None = None,
) -> None:
    """Answer privately (or fill in the deferred answer), with an embed, a view or a file."""
    message: dict[str, Any] = {"content": content, "ephemeral": True}
    if embed is not None:
        message["embed"] = fit(embed)
    if view is not None:
        message["view"] = view
    if file is not None:
        message["file"] = discord.File(io.BytesIO(file.data), filename=file.filename)
    if interaction.response.is_done():
        await interaction.followup.send(**message)
    else:
        await interaction.response.send_message(**message)


def choices(items: Sequence[Listing], typed: str) -> list[app_commands.Choice[str]]:
    """Papers whose id or title contains what was typed, as autocomplete choices."""
    wanted = " ".join(typed.lower().split())
    found = []
    for listing in items:
        paper = listing.paper
        if wanted in paper.id or wanted in " ".join(paper.title.lower().split()):
            suffix = f" · {paper.id}"
            name = clip(" ".join(paper.title.split()), CHOICE_NAME_MAX - len(suffix)) + suffix
            found.append(app_commands.Choice(name=name, value=paper.id))
            if len(found) == CHOICES_MAX:
                break
    return found

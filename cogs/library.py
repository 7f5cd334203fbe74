"""/library and the Save control on every paper card: a person's own library, private."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.export import ExportFormat
from bot.library import Added, Library
from cogs.ui.library_views import (
    ListPager,
    answer,
    choices,
    privately_in_time,
    saved_entries,
)
from cogs.ui.links import masked_link
from cogs.ui.paper_actions import PaperAction
from cogs.ui.render import clip

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

SAVE = PaperAction("save", "Save", "Save a paper to your library…", "📌")
PAPER_HELP = "arXiv id (2509.24002), or a huggingface.co or arxiv.org link"
FORMAT_HELP = "bibtex (arXiv's e-print entries), markdown or csv"


def saved_message(added: Added) -> str:
    """What a person is told after saving: saved, or already saved."""
    paper = added.listing.paper
    title = masked_link(clip(" ".join(paper.title.split()), 200), paper.hf_url, no_preview=True)
    if added.new:
        return f"📌 Saved {title} to your library."
    return f"Already saved: {title} is in your library."


class LibraryCog(commands.Cog, name="Library"):
    """Save papers from any card or by id; list, search, remove and export them."""

    paper_actions = (SAVE,)

    def __init__(self, bot: Paperboy, library: Library) -> None:
        self.bot = bot
        self.library = library

    async def paper_action(
        self, interaction: discord.Interaction, action: str, paper_id: str
    ) -> None:
        """The Save control: save for whoever clicked, whoever's message it is on."""
        added = await privately_in_time(
            interaction, self.library.save(interaction.user.id, paper_id)
        )
        log.debug("user %s saved %s from a card", interaction.user.id, paper_id)
        await answer(interaction, saved_message(added))

    group = app_commands.Group(name="library", description="Your own library of saved papers")

    @group.command(name="add", description="Save a paper to your library")
    @app_commands.describe(paper=PAPER_HELP)
    async def add(
        self, interaction: discord.Interaction, paper: app_commands.Range[str, 1, 200]
    ) -> None:
        added = await privately_in_time(interaction, self.library.save(interaction.user.id, paper))
        await answer(interaction, saved_message(added))

    @group.command(name="list", description="Your saved papers, newest first")
    @app_commands.describe(
        query='Only papers matching this, as in /search: "exact phrase", a OR b, -word, author:Name'
    )
    async def list_(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        saved = await privately_in_time(interaction, self.library.saved(interaction.user.id, query))
        if not saved:
            empty = "Your library is empty: save papers with the 📌 Save control or /library add."
            shown = discord.utils.escape_markdown(clip(query, 80)) if query else ""
            await answer(interaction, f"No saved paper matches “{shown}”." if query else empty)
            return
        title = "My library" + (f" · matching {query}" if query else "")
        pager = ListPager(title, saved_entries(saved))
        pager.anchor = interaction
        await answer(interaction, embed=pager.embed(), view=pager)

    @group.command(name="remove", description="Take a paper out of your library")
    @app_commands.describe(paper="The paper to remove: pick one of yours")
    async def remove(
        self, interaction: discord.Interaction, paper: app_commands.Range[str, 1, 200]
    ) -> None:
        removed = await self.library.unsave(interaction.user.id, paper)
        await answer(interaction, f"Removed {removed} from your library.")

    @remove.autocomplete("paper")
    async def remove_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Only the person's own saved papers."""
        saved = await self.bot.store.library(interaction.user.id)
        return choices([s.listing for s in saved], current)

    @group.command(name="export", description="Your library as a file (only you see it)")
    @app_commands.describe(format=FORMAT_HELP)
    async def export(self, interaction: discord.Interaction, format: ExportFormat) -> None:
        file = await privately_in_time(
            interaction, self.library.export_saved(interaction.user.id, format)
        )
        await answer(interaction, f"Your library as {format}:", file=file)


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(LibraryCog(bot, Library(bot.store, bot.lookups)))

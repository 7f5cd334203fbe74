"""/reading: one shared reading list per server; anyone adds, removing others' needs Manage
Messages."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.export import ExportFormat
from bot.library import NOTE_MAX, Library
from cogs.library import FORMAT_HELP, PAPER_HELP
from cogs.ui.library_views import (
    ListPager,
    answer,
    choices,
    privately_in_time,
    reading_entries,
)
from cogs.ui.links import masked_link
from cogs.ui.render import clip

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)


def _guild(interaction: discord.Interaction) -> int:
    assert interaction.guild_id is not None  # the group is guild_only
    return interaction.guild_id


class Reading(commands.Cog):
    """A server's shared reading list, with notes and exports."""

    def __init__(self, bot: Paperboy, library: Library) -> None:
        self.bot = bot
        self.library = library

    group = app_commands.Group(
        name="reading", description="This server's shared reading list", guild_only=True
    )

    @group.command(name="add", description="Put a paper on this server's reading list")
    @app_commands.describe(paper=PAPER_HELP, note=f"Why read it (plain text, {NOTE_MAX} at most)")
    async def add(
        self,
        interaction: discord.Interaction,
        paper: app_commands.Range[str, 1, 200],
        note: app_commands.Range[str, 1, NOTE_MAX] | None = None,
    ) -> None:
        added = await privately_in_time(
            interaction,
            self.library.add_reading(_guild(interaction), interaction.user.id, paper, note),
        )
        item = added.listing.paper
        title = masked_link(clip(" ".join(item.title.split()), 200), item.hf_url, no_preview=True)
        if added.new:
            log.info("paper %s put on the reading list of guild %s", item.id, interaction.guild_id)
            await answer(interaction, f"Added {title} to this server's reading list.")
        else:
            await answer(interaction, f"Already on this server's reading list: {title}.")

    @group.command(name="list", description="This server's reading list, newest first")
    async def list_(self, interaction: discord.Interaction) -> None:
        entries = await self.library.reading(_guild(interaction))
        if not entries:
            await answer(interaction, "This server's reading list is empty: /reading add.")
            return
        pager = ListPager("Reading list", reading_entries(entries))
        pager.anchor = interaction
        await answer(interaction, embed=pager.embed(), view=pager)

    @group.command(name="remove", description="Take a paper off this server's reading list")
    @app_commands.describe(paper="The paper to remove (others' entries need Manage Messages)")
    async def remove(
        self, interaction: discord.Interaction, paper: app_commands.Range[str, 1, 200]
    ) -> None:
        removed = await self.library.remove_reading(
            _guild(interaction),
            interaction.user.id,
            paper,
            may_remove_any=interaction.permissions.manage_messages,
        )
        await answer(interaction, f"Removed {removed} from this server's reading list.")

    @remove.autocomplete("paper")
    async def remove_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The server's entries: all of them for moderators, else one's own."""
        if interaction.guild_id is None:
            return []
        entries = await self.bot.store.reading_list(interaction.guild_id)
        if not interaction.permissions.manage_messages:
            entries = [e for e in entries if e.added_by == interaction.user.id]
        return choices([e.listing for e in entries], current)

    @group.command(name="export", description="This server's reading list as a file")
    @app_commands.describe(format=FORMAT_HELP)
    async def export(self, interaction: discord.Interaction, format: ExportFormat) -> None:
        file = await privately_in_time(
            interaction, self.library.export_reading(_guild(interaction), format)
        )
        await answer(interaction, f"This server's reading list as {format}:", file=file)


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Reading(bot, Library(bot.store, bot.lookups)))

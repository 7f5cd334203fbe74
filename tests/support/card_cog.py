"""A test-only cog offering one paper action, "probe": it records who used it on which paper."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.errors import UserError
from cogs.ui.paper_actions import PaperAction


class Probe(commands.Cog):
    paper_actions = (PaperAction("probe", "Probe", "Probe a paper…"),)

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    async def paper_action(
        self, interaction: discord.Interaction, action: str, paper_id: str
    ) -> None:
        if paper_id == "2401.99999":
            raise UserError("No such paper here.")
        self.calls.append((interaction.user.id, paper_id))
        await interaction.response.send_message(f"probed {paper_id}", ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Probe())

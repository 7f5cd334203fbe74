"""The controls on paper cards (Save, code alerts, More like this): registered once here so
that they answer after a restart; the cogs that offer actions answer them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord.ext import commands

from cogs.ui.paper_actions import ActionButton, ActionSelect

if TYPE_CHECKING:
    from bot.client import Paperboy


class Cards(commands.Cog):
    """Holds no commands: it keeps the card controls' dynamic items registered."""

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ActionButton, ActionSelect)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ActionButton, ActionSelect)


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Cards(bot))

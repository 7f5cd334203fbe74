"""A test-only cog that fails to load."""

from discord.ext import commands


async def setup(bot: commands.Bot) -> None:
    raise RuntimeError("this cog is broken on purpose")

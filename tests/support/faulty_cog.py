"""A test-only cog: commands that fail in each way the error handler must cover."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError


class Faulty(commands.Cog):
    def __init__(self) -> None:
        self.release_sleepy = asyncio.Event()  # the test sets it once the deadline has passed

    @app_commands.command(description="Fails with a message for the user")
    async def oops(self, interaction: discord.Interaction) -> None:
        raise UserError("That paper id does not look like an arXiv id.")

    @app_commands.command(description="Fails unexpectedly")
    async def boom(self, interaction: discord.Interaction) -> None:
        raise RuntimeError("kaboom")

    @app_commands.command(description="Defers, then fails unexpectedly")
    async def late(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        raise RuntimeError("after defer")

    @app_commands.command(description="Answers after Discord's deadline")
    async def sleepy(self, interaction: discord.Interaction) -> None:
        await self.release_sleepy.wait()
        await interaction.response.send_message("too late")

    @app_commands.command(description="Posts a title containing mentions to this channel")
    async def echo(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("posting", ephemeral=True)
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.channel.send("@everyone look: <@&123> and <@456> wrote this")


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Faulty())

"""/admin: where this server hears about problems, and the messages that go there."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.health import Change

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)


def health_message(change: Change) -> str:
    """One line per transition: a problem starting, or clearing."""
    problem = change.problem
    if change.started:
        return f"⚠️ **Problem:** {problem.message}"
    since = discord.utils.format_dt(problem.since, "R")
    return f"✅ **Resolved** (started {since}): {problem.message}"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(commands.GroupCog, group_name="admin", group_description="Server settings"):
    """Server settings, and health reports to the channel they choose."""

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    @app_commands.command(name="health_channel", description="Where I report problems")
    @app_commands.describe(channel="The channel for problem reports (leave out to stop them)")
    async def health_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        assert interaction.guild is not None
        if channel is not None:
            perms = channel.permissions_for(interaction.guild.me)
            if not (perms.view_channel and perms.send_messages):
                raise UserError(f"I can't post in {channel.mention}; pick another channel.")
        await self.bot.store.set_health_channel(
            interaction.guild.id, channel.id if channel else None
        )
        if channel is None:
            text = "Health reports are off for this server."
        else:
            text = f"I will report problems in {channel.mention}: one message when a problem "
            text += "starts and one when it clears."
        await interaction.response.send_message(text, ephemeral=True)

    @commands.Cog.listener()
    async def on_health_change(self, change: Change) -> None:
        """Tell each concerned server's health channel, once per transition."""
        channels = await self.bot.store.health_channels()
        guild = change.problem.guild_id
        targets = (
            channels.values() if guild is None else [channels[guild]] if guild in channels else []
        )
        text = health_message(change)
        for channel_id in targets:
            try:
                await self.bot.pacer.wait()
                await self.bot.get_partial_messageable(channel_id).send(text)
            except discord.HTTPException as e:
                log.warning("could not post a health report to %s: %s", channel_id, e)


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Admin(bot))

"""/status: what the bot holds and when it next works, for server admins."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.cluster import process_lines
from cogs.ui.render import fit

if TYPE_CHECKING:
    from bot.client import Paperboy


def _when(moment: datetime | None) -> str:
    return discord.utils.format_dt(moment, "R") if moment else "not scheduled"


class Status(commands.Cog):
    """The runtime's own command."""

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot

    @app_commands.command(name="status", description="What paperboy has stored and is doing")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def status(self, interaction: discord.Interaction) -> None:
        stats = await self.bot.store.stats()
        embed = discord.Embed(title="paperboy status", colour=discord.Colour.blurple())
        embed.add_field(name="Papers stored", value=f"{stats.papers:,}")
        embed.add_field(
            name="Newest list",
            value=stats.newest_date.isoformat() if stats.newest_date else "none yet",
        )
        report = self.bot.last_scrape
        if report is None:
            scrape = "not yet run since start"
        else:
            result = (
                "ok"
                if report.ok
                else "failed: "
                + "; ".join(f"{o.list_date}: {o.problem}" for o in report.outcomes if not o.ok)
            )
            scrape = (
                f"{discord.utils.format_dt(report.finished_at, 'R')}: {result[:900]}, "
                f"{len(report.new_ids)} new papers"
            )
            skipped = sum(o.skipped for o in report.outcomes)
            if skipped:
                scrape += f", {skipped} invalid items skipped"
        embed.add_field(name="Last scrape", value=scrape, inline=False)
        if interaction.guild_id is not None:
            subs = await self.bot.store.subscriptions(interaction.guild_id)
            failing = [s for s in subs if s.failing_reason]
            digest = f"{len(subs)} channel{'s' if len(subs) != 1 else ''}"
            if failing:
                digest += f", {len(failing)} failing: " + ", ".join(
                    f"<#{s.channel_id}> ({s.failing_reason})" for s in failing
                )
            embed.add_field(name="Digest", value=digest[:1024], inline=False)
        problems = await self.bot.active_problems(interaction.guild_id)
        embed.add_field(
            name="Problems",
            value="\n".join(f"⚠️ {p.message}" for p in problems)[:1024] or "none",
            inline=False,
        )
        processes = await self.bot.store.cluster_processes()
        if processes:
            embed.add_field(
                name="Processes", value="\n".join(process_lines(processes))[:1024], inline=False
            )
        jobs = "\n".join(f"{name}: {_when(when)}" for name, when in self.bot.next_runs())
        embed.add_field(name="Next jobs", value=jobs or "none", inline=False)
        if self.bot.failed_extensions:
            embed.add_field(
                name="Features that failed to load",
                value=", ".join(sorted(self.bot.failed_extensions))[:1024],
                inline=False,
            )
        await interaction.response.send_message(embed=fit(embed), ephemeral=True)


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Status(bot))

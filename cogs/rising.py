"""/rising: channels that get each recent paper once it reaches an upvote threshold.

The posting service (bot/delivery/rising.py) runs after every scrape and refresh, and at
start (resuming posts cut short)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.alert_book import MAX_QUERY
from bot.config import SHUTDOWN_GRACE_SECONDS
from bot.delivery.rising import RISING_DAYS, RisingDelivery, health_key
from bot.errors import UserError
from bot.models import RefreshResult, RisingChannel
from bot.query import parse_query
from bot.scraper import ScrapeReport
from cogs.alerts import MAX_THRESHOLD, check_threshold
from cogs.ui.courier import DiscordCourier
from cogs.ui.render import clip

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

NEEDED = ("view_channel", "send_messages", "embed_links")
RETRY_MINUTES = 5


def check_keywords(keywords: str) -> str:
    """Keywords a rising channel may filter by (stripped), or a UserError naming them."""
    keywords = keywords.strip()
    if not keywords:
        return ""
    shown = discord.utils.escape_markdown(clip(" ".join(keywords.split()), 60))
    if len(keywords) > MAX_QUERY:
        raise UserError(
            f"Keywords can be at most {MAX_QUERY} characters (`{shown}` has {len(keywords)})."
        )
    if parse_query(keywords).is_empty:
        raise UserError(f"`{shown}` contains no word to look for.")
    return keywords


def _check_can_post(channel: discord.abc.GuildChannel, me: discord.Member) -> None:
    perms = channel.permissions_for(me)
    missing = [p.replace("_", " ") for p in NEEDED if not getattr(perms, p)]
    if missing:
        raise UserError(
            f"I can't post rising papers in {channel.mention}: I need {', '.join(missing)}."
        )


def _describe(channel: RisingChannel) -> str:
    line = f"<#{channel.channel_id}>: papers reaching ▲ {channel.threshold:,}"
    if channel.keywords:
        line += f" that match `{discord.utils.escape_markdown(channel.keywords)}`"
    return line


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Rising(commands.GroupCog, group_name="rising", group_description="Rising papers"):
    """Server admins choose where and from how many upvotes; the service posts."""

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot
        self.engine = RisingDelivery(
            bot.store,
            DiscordCourier(bot, bot.pacer),
            clock=bot.clock,
            report_health=bot.report_health,
            owns=bot.sharding.owns,
            leases=bot.leases,
        )

    async def cog_load(self) -> None:
        self.bot.scrape.add_hook(self._after_scrape)
        self.bot.refresh.add_hook(self._after_refresh)
        # On start: send posts planned before a crash, and what became due while down.
        self.bot.schedule_catch_up(
            self.engine.run, "rising", "rising papers", timedelta(minutes=RETRY_MINUTES)
        )

    async def cog_unload(self) -> None:
        self.bot.scrape.remove_hook(self._after_scrape)
        self.bot.refresh.remove_hook(self._after_refresh)
        await self.engine.drain(SHUTDOWN_GRACE_SECONDS)

    async def _after_scrape(self, report: ScrapeReport) -> None:
        await self.engine.run()

    async def _after_refresh(self, result: RefreshResult) -> None:
        await self.engine.run()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    @app_commands.command(name="set", description="Post rising papers in a channel (or change it)")
    @app_commands.describe(
        channel="Where to post",
        threshold=f"Post a paper of the last {RISING_DAYS} days once it has this many upvotes",
        keywords='Only papers matching this query: words, "phrases", OR, -exclude, author:Name',
    )
    async def set_(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        threshold: app_commands.Range[int, 1, MAX_THRESHOLD],
        keywords: str = "",
    ) -> None:
        check_threshold(threshold)
        words = check_keywords(keywords)
        assert interaction.guild is not None
        _check_can_post(channel, interaction.guild.me)
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = RisingChannel(channel.id, interaction.guild.id, threshold, words)
        already = await self.engine.set_channel(settings)
        log.info("rising channel %s saved in guild %s", channel.id, settings.guild_id)
        text = f"Saved. {_describe(settings)} are posted there once each."
        if already:
            text += (
                f" {already} paper(s) of the last {RISING_DAYS} days already have that many"
                " upvotes; they are not posted, the next ones to get there are."
            )
        await interaction.followup.send(text, ephemeral=True)

    @app_commands.command(name="list", description="This server's rising-paper channels")
    async def list_(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        channels = await self.bot.store.rising_channels(interaction.guild_id)
        if not channels:
            text = "No channel gets rising papers yet. Add one with /rising set."
        else:
            text = "\n".join(_describe(c) for c in channels)
        await interaction.response.send_message(text[:2000], ephemeral=True)

    @app_commands.command(name="remove", description="Stop posting rising papers in a channel")
    @app_commands.describe(channel="The channel to stop posting in")
    async def remove(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        removed = await self.bot.store.remove_rising(channel.id)
        self.bot.report_health(health_key(channel.id), None, channel.guild.id)
        text = (
            f"{channel.mention} no longer gets rising papers."
            if removed
            else f"{channel.mention} was not getting rising papers."
        )
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Rising(bot))

"""/alert: personal keyword alerts. Every reply is ephemeral: a person's alerts are private."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.alert_book import PREVIEW_DAYS, PREVIEW_SHOWN, AlertBook, Preview, parse_alert
from bot.config import SHUTDOWN_GRACE_SECONDS
from bot.delivery.alerts import AlertDelivery
from bot.errors import UserError
from bot.models import RefreshResult
from bot.scraper import ScrapeReport
from bot.store.base import MAX_ALERTS, RISING_WATCH_DAYS
from cogs.ui.alert_views import MuteButton, PauseButton
from cogs.ui.courier import DiscordCourier
from cogs.ui.links import masked_link
from cogs.ui.render import clip

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

Rate = tuple[int, float]  # uses per seconds, per person and command

RATE: Rate = (5, 10.0)
RETRY_SECONDS = 60
MAX_THRESHOLD = 100_000  # upvotes: the highest threshold a rising alert or channel may ask
QUERY_HELP = 'words, "phrases", OR, -exclude, author:Name'
DM_FIX = (
    "⚠️ I could not DM you your last alerts (Discord said: {reason}), so your DM alerts are "
    "paused and nothing was lost. Allow direct messages from this server's members "
    "(Server menu → Privacy Settings), then run /alert resume."
)


def _per_user_rate(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """The cog's rate for this command; None (no cooldown) when the cog switched it off."""
    cog = getattr(interaction.command, "binding", None)
    rate = cog.rate if isinstance(cog, Alerts) else None
    return app_commands.Cooldown(*rate) if rate else None


def check_threshold(value: int) -> int:
    """An upvote threshold within 1..MAX_THRESHOLD, or a UserError naming the value."""
    if not 1 <= value <= MAX_THRESHOLD:
        raise UserError(
            f"An upvote threshold must be between 1 and {MAX_THRESHOLD:,} ({value:,} given)."
        )
    return value


class Alerts(commands.GroupCog, group_name="alert", group_description="Your keyword alerts"):
    """Add, list, remove, pause and test alerts; matching and delivery run in the service."""

    def __init__(self, bot: Paperboy, *, rate: Rate | None = RATE) -> None:
        self.bot = bot
        self.rate = rate
        self.engine = AlertDelivery(
            bot.store,
            DiscordCourier(bot, bot.pacer),
            clock=bot.clock,
            report_health=bot.report_health,
            leases=bot.leases,
        )
        self.book = AlertBook(bot.store, clock=bot.clock)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(MuteButton, PauseButton)
        self.bot.scrape.add_hook(self._after_scrape)
        self.bot.refresh.add_hook(self._after_refresh)
        # Start-up: match papers that arrived before a crash, resend what was queued.
        # Matching and sending run on the leader only (one index, one sender for the bot).
        self.bot.schedule_catch_up(
            self.engine.run,
            "alerts",
            "alert",
            timedelta(seconds=RETRY_SECONDS),
            leader_only=True,
        )

    async def cog_unload(self) -> None:
        self.bot.scrape.remove_hook(self._after_scrape)
        self.bot.refresh.remove_hook(self._after_refresh)
        self.bot.remove_dynamic_items(MuteButton, PauseButton)
        await self.engine.drain(SHUTDOWN_GRACE_SECONDS)

    @commands.Cog.listener()
    async def on_lead_change(self, leading: bool) -> None:
        """A new leader resumes from the store: match what is unmatched, send what is queued
        (the index reads every alert change made meanwhile, by any process)."""
        if leading:
            await self.engine.run()

    async def _after_scrape(self, _report: ScrapeReport) -> None:
        """After every scrape: new papers are matched and the matches delivered."""
        await self.engine.run()

    async def _after_refresh(self, _result: RefreshResult) -> None:
        """After every refresh: late text and crossed thresholds are matched, code news and
        matches delivered."""
        await self.engine.run()

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        """Answer privately, telling the person once if their DMs were refused."""
        user = await self.bot.store.alert_user(interaction.user.id)
        if user.dm_blocked and not user.dm_block_notified:
            text = DM_FIX.format(reason=user.dm_blocked) + "\n\n" + text
            await self.bot.store.mark_dm_block_notified(interaction.user.id)
        if interaction.response.is_done():
            await interaction.followup.send(text[:2000], ephemeral=True)
        else:
            await interaction.response.send_message(text[:2000], ephemeral=True)

    def _preview(self, found: Preview) -> str:
        if not found.total:
            return f"Nothing in the last {PREVIEW_DAYS} days would have matched."
        lines = [f"In the last {PREVIEW_DAYS} days it would have matched {found.total}:"]
        lines += [
            "• " + masked_link(clip(i.paper.title, 150), i.paper.hf_url, no_preview=True)
            for i in found.shown[:PREVIEW_SHOWN]
        ]
        if found.total > PREVIEW_SHOWN:
            lines.append(f"…and {found.total - PREVIEW_SHOWN} more.")
        return "\n".join(lines)

    @app_commands.command(name="add", description=f"Get new papers matching a query: {QUERY_HELP}")
    @app_commands.describe(
        query=f"What to look for: {QUERY_HELP}",
        deliver="dm (default): a direct message; here: this channel, mentioning you",
        min_upvotes="Only once a paper has this many upvotes (watched 14 days after its list day)",
    )
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    async def add(
        self,
        interaction: discord.Interaction,
        query: str,
        deliver: Literal["dm", "here"] = "dm",
        min_upvotes: app_commands.Range[int, 1, MAX_THRESHOLD] | None = None,
    ) -> None:
        threshold = check_threshold(min_upvotes) if min_upvotes is not None else 0
        parsed = parse_alert(query)
        user_id = interaction.user.id
        channel_id = guild_id = None
        if deliver == "here":
            channel_id, guild_id = self._channel_target(interaction)
            if not await self.bot.store.channel_alerts_allowed(guild_id):
                raise UserError("This server has turned channel delivery off; use deliver:dm.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        added = await self.book.add(
            user_id,
            query,
            parsed,
            deliver=deliver,
            channel_id=channel_id,
            guild_id=guild_id,
            min_upvotes=threshold,
        )
        where = "by DM" if deliver == "dm" else f"in <#{channel_id}>, mentioning you"
        once = (
            f" once they have {threshold:,} upvotes (watched for {RISING_WATCH_DAYS} days after"
            " their list day)"
            if threshold
            else ""
        )
        await self._reply(
            interaction,
            f"Alert #{added.alert.id} saved: `{parsed}`. New matching papers will reach you "
            f"{where}{once}.\n" + self._preview(added.preview),
        )

    def _channel_target(self, interaction: discord.Interaction) -> tuple[int, int]:
        channel = interaction.channel
        if interaction.guild is None or not isinstance(channel, discord.TextChannel):
            raise UserError("deliver:here works in a server's text channel; use deliver:dm here.")
        perms = channel.permissions_for(interaction.guild.me)
        if not (perms.send_messages and perms.embed_links):
            raise UserError(f"I can't post in {channel.mention}; use deliver:dm.")
        mine = interaction.permissions  # the member's own permissions in this channel
        if not (mine.view_channel and mine.send_messages):
            raise UserError(
                f"You can't post in {channel.mention}, so your alerts can't either; use deliver:dm."
            )
        return channel.id, interaction.guild.id

    @app_commands.command(name="list", description="Your alerts")
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    async def list_(self, interaction: discord.Interaction) -> None:
        alerts = await self.bot.store.user_alerts(interaction.user.id)
        state = await self.bot.store.alert_user(interaction.user.id)
        if not alerts:
            await self._reply(interaction, "You have no alerts. Add one with /alert add.")
            return
        lines = [
            f"Your alerts ({len(alerts)}/{MAX_ALERTS}){' — all paused' if state.paused else ''}:"
        ]
        for a in alerts:
            where = "DM" if a.deliver == "dm" else f"<#{a.channel_id}>"
            muted = " (muted)" if a.muted else ""
            rising = f" at ▲ {a.min_upvotes:,}+" if a.min_upvotes else ""
            lines.append(f"#{a.id} `{a.query}`{rising} → {where}{muted}")
        await self._reply(interaction, "\n".join(lines))

    @app_commands.command(name="remove", description="Delete one of your alerts")
    @app_commands.describe(id="The alert to delete")
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    async def remove(self, interaction: discord.Interaction, id: int) -> None:
        removed = await self.bot.store.remove_alert(interaction.user.id, id)
        text = f"Alert #{id} deleted." if removed else f"You have no alert #{id} (see /alert list)."
        await self._reply(interaction, text)

    @remove.autocomplete("id")
    async def remove_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        alerts = await self.bot.store.user_alerts(interaction.user.id)
        needle = current.strip().lower()
        return [
            app_commands.Choice(name=f"#{a.id} {a.query}"[:100], value=a.id)
            for a in alerts
            if needle in f"#{a.id} {a.query}".lower()
        ][:25]

    @app_commands.command(name="pause", description="Pause all your alerts")
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    async def pause(self, interaction: discord.Interaction) -> None:
        await self.bot.store.set_alerts_paused(interaction.user.id, True)
        await self._reply(interaction, "All your alerts are paused. /alert resume turns them on.")

    @app_commands.command(name="resume", description="Turn all your alerts back on")
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    async def resume(self, interaction: discord.Interaction) -> None:
        user_id = interaction.user.id
        await self.bot.store.set_alerts_paused(user_id, False)
        await self.bot.store.set_dm_blocked(user_id, None)
        await self.bot.store.mark_dm_block_notified(user_id)
        for alert in await self.bot.store.user_alerts(user_id):
            if alert.muted:
                await self.bot.store.set_alert_muted(user_id, alert.id, False)
        await self._reply(interaction, "Your alerts are on again (muted ones too).")
        await self.engine.run()  # deliver what was kept while paused

    @app_commands.command(name="test", description="What a query would have matched lately")
    @app_commands.describe(query=f"What to look for: {QUERY_HELP}")
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    async def test(self, interaction: discord.Interaction, query: str) -> None:
        parsed = parse_alert(query)
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.book.preview(parsed)
        await self._reply(interaction, f"`{parsed}` (not saved). " + self._preview(found))

    @app_commands.command(
        name="channels", description="Admins: allow alerts in this server's channels"
    )
    @app_commands.describe(allowed="Whether members may have alerts posted in channels here")
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    @app_commands.guild_only()
    async def channels(self, interaction: discord.Interaction, allowed: bool) -> None:
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        assert interaction.guild_id is not None
        await self.bot.store.set_channel_alerts_allowed(interaction.guild_id, allowed)
        state = "may now" if allowed else "may no longer"
        await self._reply(interaction, f"Alerts {state} be posted in this server's channels.")


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Alerts(bot))

"""/digest: subscribe channels to the daily or weekly digest, and the jobs that post it."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import SHUTDOWN_GRACE_SECONDS, parse_hhmm
from bot.delivery.digests import DigestDelivery, Outcome, health_key
from bot.errors import UserError
from bot.models import WEEKDAYS, DigestStyle, Frequency, PeriodKind, Subscription
from bot.query import parse_query
from bot.schedule import Slot, describe_schedule, next_fire, slot_of, slot_trigger
from cogs.ui.courier import DiscordCourier
from cogs.ui.render import CONTENT_MAX, checked, clip, digest_messages

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

NEEDED = ("view_channel", "send_messages", "embed_links")
SLOT_PREFIX = "digest:at:"


def slot_job_id(post_time: str, zone: str, weekday: int | None = None) -> str:
    """The scheduler job id of everyone posting at one local time in one zone (and, weekly,
    on one weekday)."""
    day = "" if weekday is None else f":w{weekday}"
    return f"{SLOT_PREFIX}{post_time}:{zone}{day}"


RETRY_MINUTES = 5
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly")
STYLES: tuple[DigestStyle, ...] = ("cards", "compact")
MAX_TOP = 25


def _one_of(value: str | None, offered: tuple[str, ...], what: str, default: str) -> str:
    """A choice from `offered` (case and blanks ignored); UserError naming the value."""
    if value is None or not value.strip():
        return default
    found = value.strip().lower()
    if found not in offered:
        shown = discord.utils.escape_markdown(value.strip()[:40])
        raise UserError(f"`{shown}` is not a {what}: choose {', '.join(offered)}.")
    return found


def _choices(offered: tuple[str, ...], current: str) -> list[app_commands.Choice[str]]:
    needle = current.strip().lower()
    return [app_commands.Choice(name=o, value=o) for o in offered if o.startswith(needle)]


@cache
def _zones() -> list[str]:
    return sorted(available_timezones())


def _check_can_post(channel: discord.abc.GuildChannel, me: discord.Member, threads: bool) -> None:
    perms = channel.permissions_for(me)
    needed = (*NEEDED, "create_public_threads") if threads else NEEDED
    missing = [p.replace("_", " ") for p in needed if not getattr(perms, p)]
    if missing:
        raise UserError(f"I can't post digests in {channel.mention}: I need {', '.join(missing)}.")


def _describe(sub: Subscription, now: datetime) -> str:
    parts = [describe_schedule(sub), f"top {sub.top}", sub.style]
    if sub.min_upvotes:
        parts.append(f"≥{sub.min_upvotes} upvotes")
    if sub.keywords:
        parts.append(f"keywords `{discord.utils.escape_markdown(sub.keywords)}`")
    if sub.threads:
        parts.append("threads")
    line = f"<#{sub.channel_id}>: " + ", ".join(parts)
    if sub.failing_reason:
        return line + f"\n⚠️ failing: {sub.failing_reason}. Fix it, then run /digest set again."
    return line + f"\nnext post {discord.utils.format_dt(next_fire(sub, now), 'R')}"


def _outcome_text(outcome: Outcome, channel: str) -> str:
    day = outcome.list_date.isoformat() if outcome.list_date else "?"
    if outcome.kind == "week":
        day = f"weekly {day}"
    return {
        "sent": f"Posted the {day} digest to {channel}.",
        "already": f"The {day} digest was already posted in {channel}; nothing was posted twice.",
        "empty": f"No paper of the {day} list passes {channel}'s filters; nothing was posted.",
        "pending": f"Discord had trouble; the {day} digest will be retried shortly.",
    }.get(outcome.state, f"Could not post the {day} digest: {outcome.detail}")


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Digest(commands.GroupCog, group_name="digest", group_description="The papers digest"):
    """Server admins choose where, when and what; the delivery service posts it."""

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot
        self.engine = DigestDelivery(
            bot.store,
            DiscordCourier(bot, bot.pacer),
            clock=bot.clock,
            settings=bot.config.digest,
            refresh=bot.refresh_list,
            report_health=bot.report_health,
            owns=bot.sharding.owns,
            leases=bot.leases,
        )

    async def cog_load(self) -> None:
        await self._reschedule()
        # On start: post what was missed while down (if still newest) and resume half-sent ones.
        self.bot.schedule_catch_up(
            self.engine.run_due, "digest", "digest", timedelta(minutes=RETRY_MINUTES)
        )

    async def cog_unload(self) -> None:
        await self.engine.drain(SHUTDOWN_GRACE_SECONDS)

    async def _reschedule(self) -> None:
        """One cron job per (time, zone) that some channel posts at: a thousand channels
        at 09:00 UTC are one job and one pass over the subscriptions, not a thousand."""
        scheduler = self.bot.scheduler
        if scheduler is None:
            return
        subs = await self.bot.store.subscriptions()
        slots = {slot_of(s) for s in subs if self.bot.sharding.owns(s.guild_id)}
        wanted: dict[str, Slot] = {slot_job_id(*slot): slot for slot in slots}
        for job in scheduler.get_jobs():
            if job.id.startswith(SLOT_PREFIX) and job.id not in wanted:
                job.remove()
        for job_id, slot in wanted.items():
            if scheduler.get_job(job_id) is None:
                scheduler.add_job(
                    self.engine.run_due,
                    slot_trigger(slot),
                    args=[slot],
                    id=job_id,
                    name="digest posts",
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=3600,
                )

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    @app_commands.command(name="set", description="Post the digest in a channel (or change it)")
    @app_commands.describe(
        channel="Where to post",
        time="Local time of day, HH:MM (24-hour)",
        timezone="IANA time zone, e.g. Europe/Berlin",
        top="How many papers (1-25)",
        min_upvotes="Leave out papers with fewer upvotes",
        keywords='Only papers matching this query: words, "phrases", OR, -exclude, author:Name',
        threads="Open a discussion thread under each digest",
        frequency="daily (the newest list) or weekly (the past 7 days' lists)",
        weekday="The day a weekly digest is posted (default monday)",
        style="cards (an embed per paper) or compact (one numbered list)",
    )
    async def set_(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        time: str | None = None,
        timezone: str | None = None,
        top: app_commands.Range[int, 1, 25] | None = None,
        min_upvotes: app_commands.Range[int, 0, 100_000] = 0,
        keywords: str = "",
        threads: bool = False,
        frequency: str | None = None,
        weekday: str | None = None,
        style: str | None = None,
    ) -> None:
        defaults = self.bot.config.digest
        how_often = cast(Frequency, _one_of(frequency, FREQUENCIES, "frequency", "daily"))
        day = _one_of(weekday, WEEKDAYS, "weekday", "monday")
        look = cast(DigestStyle, _one_of(style, STYLES, "style", "cards"))
        if top is not None and not 1 <= top <= MAX_TOP:
            raise UserError(f"`{top}` papers is too many: a digest has 1 to {MAX_TOP}.")
        post_time = (time or defaults.time).strip()
        zone = (timezone or defaults.timezone).strip()
        try:
            at = parse_hhmm(post_time)
        except ValueError:
            raise UserError(f"`{post_time}` is not a time: use HH:MM, e.g. 09:00.") from None
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserError(f"`{zone}` is not a time zone I know, e.g. Europe/Berlin.") from None
        if keywords and parse_query(keywords).is_empty:
            raise UserError("Those keywords contain no word to look for.")
        assert interaction.guild is not None
        _check_can_post(channel, interaction.guild.me, threads)
        sub = Subscription(
            channel_id=channel.id,
            guild_id=interaction.guild.id,
            post_time=f"{at.hour:02d}:{at.minute:02d}",
            timezone=zone,
            top=top or defaults.top,
            min_upvotes=min_upvotes,
            keywords=keywords.strip(),
            threads=threads,
            frequency=how_often,
            weekday=WEEKDAYS.index(day) if how_often == "weekly" else 0,
            style=look,
        )
        await self.bot.store.save_subscription(sub)
        self.bot.report_health(health_key(channel.id), None, sub.guild_id)
        await self._reschedule()
        log.info("digest subscription saved for channel %s in guild %s", channel.id, sub.guild_id)
        await interaction.response.send_message(
            "Saved. " + _describe(sub, self.bot.clock()), ephemeral=True
        )

    @set_.autocomplete("timezone")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.strip().lower().replace(" ", "_")
        found = [z for z in _zones() if needle in z.lower()] if needle else ["UTC", *_zones()]
        return [app_commands.Choice(name=z, value=z) for z in found[:25]]

    @set_.autocomplete("frequency")
    async def frequency_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return _choices(FREQUENCIES, current)

    @set_.autocomplete("weekday")
    async def weekday_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return _choices(WEEKDAYS, current)

    @set_.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return _choices(STYLES, current)

    @app_commands.command(name="list", description="This server's digest channels")
    async def list_(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        subs = await self.bot.store.subscriptions(interaction.guild_id)
        if not subs:
            text = "No channel gets the digest yet. Add one with /digest set."
        else:
            text = "\n".join(_describe(s, self.bot.clock()) for s in subs)
        await interaction.response.send_message(text[:2000], ephemeral=True)

    @app_commands.command(name="remove", description="Stop posting the digest in a channel")
    @app_commands.describe(channel="The channel to stop posting in")
    async def remove(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        removed = await self.bot.store.remove_subscription(channel.id)
        self.bot.report_health(health_key(channel.id), None, channel.guild.id)
        await self._reschedule()
        text = (
            f"{channel.mention} no longer gets the digest."
            if removed
            else (f"{channel.mention} was not getting the digest.")
        )
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="preview", description="See what a channel would get next")
    @app_commands.describe(channel="A subscribed channel (default: server defaults)")
    async def preview(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self.bot.store.get_subscription(channel.id) if channel else None
        day, kind = await self._period(settings)
        selection = await self.engine.selection(day, settings, kind)
        if selection is None or not selection.papers:
            what = f"week from {day}" if kind == "week" else f"{day} list"
            await interaction.followup.send(
                f"No paper of the {what} passes these filters.", ephemeral=True
            )
            return
        messages = [checked(m) for m in digest_messages(selection)]
        how = describe_schedule(settings) if settings else "server defaults"
        top = settings.top if settings else self.bot.config.digest.top
        style = settings.style if settings else "cards"
        note = f"Preview ({how}, top {top}, {style}):\n"
        messages[0] = replace(messages[0], content=clip(note + messages[0].content, CONTENT_MAX))
        for message in messages:
            await interaction.followup.send(
                content=message.content, embeds=message.discord_embeds(), ephemeral=True
            )

    @app_commands.command(name="now", description="Post the newest complete list now")
    @app_commands.describe(channel="Where to post it")
    async def now(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        assert interaction.guild is not None
        settings = await self.bot.store.get_subscription(channel.id)
        _check_can_post(channel, interaction.guild.me, bool(settings and settings.threads))
        await interaction.response.defer(ephemeral=True, thinking=True)
        day, kind = await self._period(settings)
        outcome = await self.engine.deliver(
            channel.id, day, settings, guild_id=channel.guild.id, kind=kind
        )
        await interaction.followup.send(_outcome_text(outcome, channel.mention), ephemeral=True)

    async def _period(self, settings: Subscription | None) -> tuple[date, PeriodKind]:
        """What a digest of this channel posted now covers: the newest complete list, or
        (weekly) the week before today."""
        if settings is not None and settings.frequency == "weekly":
            return self.engine.week_of(settings), "week"
        return await self._newest(), "day"

    async def _newest(self) -> date:
        day = await self.engine.newest_complete()
        if day is None:
            raise UserError("There is no complete daily list yet; try again after the next scrape.")
        return day


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Digest(bot))

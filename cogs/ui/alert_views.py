"""Alert messages and their buttons. Buttons are dynamic items: they work after a restart."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.digest import summary_of
from bot.models import Alert, Listing, QueuedAlert
from cogs.ui.links import escape_text, masked_link
from cogs.ui.render import COLOUR, DESCRIPTION_MAX, clip

if TYPE_CHECKING:
    from bot.client import Paperboy

SHOWN = 10  # papers listed in one alert message; the rest are counted


def alert_message(items: Sequence[tuple[QueuedAlert, Listing]], *, total: int) -> discord.Embed:
    """One message listing a batch of matched papers, each with why it matched."""
    lines = []
    for queued, listing in items[:SHOWN]:
        p = listing.paper
        title = masked_link(clip(p.title, 200), p.hf_url)
        teaser = escape_text(summary_of(p, 160))
        why = (
            "💻 " + masked_link("Code is out", p.github_repo, no_preview=True)
            if queued.is_code
            else f"*{queued.reason}*"
        )
        lines.append(f"**{title}** · ▲ {p.upvotes:,}\n{teaser}\n{why}")
    more = total - min(total, SHOWN)
    if more:
        lines.append(f"…and {more} more. Use /search to see them all.")
    embed = discord.Embed(
        title=_title(items, total),
        description=clip("\n\n".join(lines), DESCRIPTION_MAX),
        colour=COLOUR,
    )
    embed.set_footer(text="Manage your alerts with /alert list")
    return embed


def _title(items: Sequence[tuple[QueuedAlert, Listing]], total: int) -> str:
    """What the message brings: new papers for alerts, code of watched papers, or both."""
    code = sum(1 for queued, _ in items if queued.is_code)
    matched = total - code
    parts = []
    if matched:
        parts.append(f"{matched} new paper{'s' if matched != 1 else ''} for your alerts")
    if code:
        parts.append(f"code is out for {code} paper{'s' if code != 1 else ''} you watch")
    text = " · ".join(parts)
    return text[:1].upper() + text[1:]


def alert_buttons(alerts: Sequence[Alert], user_id: int) -> discord.ui.View:
    """Mute buttons for the alerts behind this message (at most four), and Pause all."""
    view = discord.ui.View(timeout=None)
    for alert in alerts[:4]:
        view.add_item(MuteButton(alert.id, alert.query))
    view.add_item(PauseButton(user_id))
    return view


async def _refuse_others(interaction: discord.Interaction, owner: int) -> bool:
    if interaction.user.id == owner:
        return False
    await interaction.response.send_message(
        "These buttons belong to the person the alert is for. Set up your own with /alert add.",
        ephemeral=True,
    )
    return True


class MuteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"alert:mute:(?P<id>\d+)"
):
    """Mutes one alert at once."""

    def __init__(self, alert_id: int, query: str = "") -> None:
        label = clip(f"Mute “{query}”", 80) if query else "Mute this alert"
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"alert:mute:{alert_id}"
            )
        )
        self.alert_id = alert_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MuteButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: Paperboy = interaction.client  # type: ignore[assignment]
        alert = await bot.store.get_alert(self.alert_id)
        if alert is None:
            await interaction.response.send_message("That alert no longer exists.", ephemeral=True)
            return
        if await _refuse_others(interaction, alert.user_id):
            return
        await bot.store.set_alert_muted(alert.user_id, alert.id, True)
        await interaction.response.send_message(
            f"Muted alert #{alert.id} `{alert.query}`. Unmute it with /alert resume.",
            ephemeral=True,
        )


class PauseButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"alert:pause:(?P<user>\d+)"
):
    """Pauses all of a person's alerts at once."""

    def __init__(self, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Pause all",
                style=discord.ButtonStyle.danger,
                custom_id=f"alert:pause:{user_id}",
            )
        )
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PauseButton:
        return cls(int(match["user"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: Paperboy = interaction.client  # type: ignore[assignment]
        if await _refuse_others(interaction, self.user_id):
            return
        await bot.store.set_alerts_paused(self.user_id, True)
        await interaction.response.send_message(
            "Paused all your alerts. Turn them back on with /alert resume.", ephemeral=True
        )

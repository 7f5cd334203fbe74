"""/watch and the "code" control on every paper card: a DM when a paper's code is out.

Every reply is ephemeral (what a person watches is theirs). The refresh finds the code; the
alert service sends the news in the person's next alert message (see bot/delivery/alerts.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.arxiv import normalise_id
from bot.errors import ScrapeError, SourceUnavailable, UserError, WatchLimitError
from bot.models import Listing
from bot.store.base import MAX_WATCHES, WATCH_DAYS
from bot.tree import send_ephemeral
from cogs.ui.links import masked_link
from cogs.ui.paper_actions import PaperAction
from cogs.ui.render import clip

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

CODE_ACTION = PaperAction("code", "Tell me when code is out", "Tell me when code is out…", "💻")


def paper_id_from(text: str) -> str:
    """The arXiv id in an id or a Hugging Face / arXiv link; UserError naming the value."""
    found = normalise_id(text)
    if found is None:
        shown = clip(" ".join(text.split()), 60) or "(nothing)"
        raise UserError(
            f"`{discord.utils.escape_markdown(shown)}` is not an arXiv id (like 2501.01234) "
            "or a Hugging Face or arXiv paper link."
        )
    return found


class Watch(commands.GroupCog, group_name="watch", group_description="Papers whose code you await"):
    """Watch papers for their code, by command or from any paper card."""

    paper_actions = (CODE_ACTION,)

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot

    async def paper_action(
        self, interaction: discord.Interaction, action: str, paper_id: str
    ) -> None:
        """The "code" control: watch this paper for whoever clicked."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_ephemeral(interaction, await self._watch(interaction.user.id, paper_id))

    async def _watch(self, user_id: int, paper_id: str) -> str:
        """Start watching (or link the code that is already out); the reply to show."""
        listing = await self._load(paper_id)
        paper = listing.paper
        title = masked_link(clip(paper.title, 150), paper.hf_url, no_preview=True)
        if paper.github_repo:
            code = masked_link("its code", paper.github_repo, no_preview=True)
            return f"{title} already has code: {code}."
        try:
            added = await self.bot.store.add_watch(user_id, paper.id)
        except WatchLimitError as e:
            raise UserError(f"{e}; stop one with /watch remove.") from None
        if not added:
            return f"You already watch {title}; I'll DM you when its code is out."
        return (
            f"I'll DM you when code for {title} is out (I keep watching for {WATCH_DAYS} days)."
            " /watch list shows what you watch."
        )

    async def _load(self, paper_id: str) -> Listing:
        try:
            listing = await self.bot.lookups.get(paper_id)
        except (SourceUnavailable, ScrapeError) as e:
            log.warning("could not fetch paper %s from Hugging Face: %s", paper_id, e)
            raise UserError(
                f"Hugging Face did not answer, so I can't look up {paper_id} right now."
                " Please try again in a few minutes."
            ) from e
        if listing is None:
            raise UserError(f"{paper_id} is not on Hugging Face Papers.")
        return listing

    @app_commands.command(name="add", description="Get a DM when a paper's code is out")
    @app_commands.describe(paper="An arXiv id (2501.01234) or a Hugging Face / arXiv link")
    async def add(
        self, interaction: discord.Interaction, paper: app_commands.Range[str, 1, 200]
    ) -> None:
        paper_id = paper_id_from(paper)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_ephemeral(interaction, await self._watch(interaction.user.id, paper_id))

    @app_commands.command(name="list", description="The papers whose code you await")
    async def list_(self, interaction: discord.Interaction) -> None:
        now = self.bot.clock()
        watches = await self.bot.store.user_watches(interaction.user.id, now)
        if not watches:
            await send_ephemeral(
                interaction,
                "You watch no papers. Use /watch add or the 💻 control on any paper.",
            )
            return
        lines = [f"You watch {len(watches)}/{MAX_WATCHES} papers for their code:"]
        for watch in watches[:30]:
            listing = await self.bot.store.get_paper(watch.paper_id)
            title = listing.paper.title if listing else watch.paper_id
            ends = (watch.created_at + timedelta(days=WATCH_DAYS)).date()
            link = masked_link(clip(title, 120), f"https://huggingface.co/papers/{watch.paper_id}")
            lines.append(f"• `{watch.paper_id}` {link} (until {ends})")
        if len(watches) > 30:
            lines.append(f"…and {len(watches) - 30} more.")
        await send_ephemeral(interaction, "\n".join(lines)[:2000])

    @app_commands.command(name="remove", description="Stop watching a paper")
    @app_commands.describe(paper="The paper's arXiv id")
    async def remove(
        self, interaction: discord.Interaction, paper: app_commands.Range[str, 1, 200]
    ) -> None:
        paper_id = paper_id_from(paper)
        removed = await self.bot.store.remove_watch(interaction.user.id, paper_id)
        text = (
            f"You no longer watch {paper_id}."
            if removed
            else f"You don't watch {paper_id} (see /watch list)."
        )
        await send_ephemeral(interaction, text)

    @remove.autocomplete("paper")
    async def remove_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        watches = await self.bot.store.user_watches(interaction.user.id, self.bot.clock())
        needle = current.strip().lower()
        return [
            app_commands.Choice(name=w.paper_id, value=w.paper_id)
            for w in watches
            if needle in w.paper_id
        ][:25]


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Watch(bot))

"""/similar and the "More like this" control on paper cards: the stored papers most alike."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.arxiv import normalise_id
from bot.errors import NotFoundError, ScrapeError, SourceUnavailable, UserError
from bot.models import Listing
from bot.scraper import ScrapeReport
from bot.similar import SimilarPapers
from cogs.ui.paper_actions import PaperAction, controls, controls_view, offered
from cogs.ui.render import clip, fit
from cogs.ui.search_views import in_time, reply, trending_embed

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

READY_WAIT = 20.0  # seconds a request waits for the first build before giving up
DEFER_AFTER = 1.0
NOT_READY = (
    "I am still reading the stored papers to compare them: try More like this again in a minute."
)


def _quote(text: str) -> str:
    return "`" + clip(text.replace("`", "'"), 60) + "`"


class Similar(commands.Cog):
    """More like this: tf-idf over the store's own papers (bot.similar)."""

    paper_actions = (PaperAction("similar", "More like this", "More like this…", "🔎"),)

    def __init__(self, bot: Paperboy) -> None:
        self.bot = bot
        self.similar = SimilarPapers(bot.store)
        self._refreshing: asyncio.Task[int] | None = None

    async def cog_load(self) -> None:
        self.bot.scrape.add_hook(self._after_scrape)

    async def cog_unload(self) -> None:
        self.bot.scrape.remove_hook(self._after_scrape)
        if self._refreshing is not None:
            self._refreshing.cancel()

    async def _after_scrape(self, _report: ScrapeReport) -> None:
        """New papers join the index (the first scrape builds it)."""
        await self._refresh()

    def _refresh(self) -> asyncio.Task[int]:
        """One refresh at a time; whoever asks during one shares it."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._logged_refresh())
        return self._refreshing

    async def _logged_refresh(self) -> int:
        try:
            return await self.similar.refresh()
        except Exception:
            log.exception("building the similarity index failed; the next scrape tries again")
            return 0

    @app_commands.command(name="similar", description="The 5 stored papers most like one paper")
    @app_commands.rename(paper_id="paper")
    @app_commands.describe(paper_id="arXiv id (2509.24002), or a huggingface.co or arxiv.org link")
    async def similar_command(
        self, interaction: discord.Interaction, paper_id: app_commands.Range[str, 1, 200]
    ) -> None:
        normalised = normalise_id(paper_id)
        if normalised is None:  # no HF request for what is not an id
            raise UserError(
                f"{_quote(paper_id)} is not an arXiv id or paper link. Use an id like"
                " 2509.24002, or a huggingface.co/papers/… or arxiv.org/abs/… link."
            )
        listing, alike = await in_time(
            interaction, self._alike(normalised), defer_after=DEFER_AFTER, ephemeral=False
        )
        await self._answer(interaction, listing, alike)

    async def paper_action(
        self, interaction: discord.Interaction, action: str, paper_id: str
    ) -> None:
        """More like this on a card: the answer is for the clicker only."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        listing, alike = await self._alike(paper_id)
        await self._answer(interaction, listing, alike)

    async def _alike(self, paper_id: str) -> tuple[Listing, list[Listing]]:
        listing = await self._load(paper_id)
        self._refresh()
        if not await self.similar.wait_ready(READY_WAIT):
            raise UserError(NOT_READY)
        found = []
        for other in await self.similar.similar(listing.paper):
            item = await self.bot.store.get_paper(other)
            if item is not None:
                found.append(item)
        return listing, found

    async def _load(self, paper_id: str) -> Listing:
        """The stored paper, or else fetched once from Hugging Face and stored (as /paper)."""
        try:
            listing = await self.bot.lookups.get(paper_id)
        except (SourceUnavailable, ScrapeError) as e:
            log.warning("could not fetch paper %s from Hugging Face: %s", paper_id, e)
            raise UserError(
                f"Hugging Face did not answer properly, so I can't look up {paper_id} right"
                " now. Please try again in a few minutes."
            ) from e
        if listing is None:
            raise NotFoundError(f"{paper_id} is not on Hugging Face Papers.")
        return listing

    async def _answer(
        self, interaction: discord.Interaction, listing: Listing, alike: list[Listing]
    ) -> None:
        title = f"More like this: {listing.paper.title}"
        if not alike:
            text = f"No stored paper is like {listing.paper.id} yet."
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
            return
        papers = [(item.paper.id, item.paper.title) for item in alike]
        view = controls_view(controls(offered(self.bot), papers))
        embed = trending_embed(title, alike)
        if interaction.type is discord.InteractionType.component:
            await interaction.followup.send(
                embed=fit(embed), view=view or discord.utils.MISSING, ephemeral=True
            )
            return
        await reply(interaction, embed=embed, view=view)


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Similar(bot))

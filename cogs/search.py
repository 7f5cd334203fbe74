"""/search, /paper and /trending: find stored papers from the chat box.

/trending's "day" is the newest Daily Papers list stored (looking back a month), not the last
24 hours: Hugging Face publishes no lists at weekends, so "the last day" would often be empty.
"week" and "month" are the lists of the last 7 and 30 days, counting today (`bot.clock`, UTC).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.arxiv import normalise_id
from bot.errors import NotFoundError, QueryError, ScrapeError, SourceUnavailable, UserError
from bot.models import Listing, SearchPage, Sort
from bot.query import Query, author_query, combine, parse_query
from bot.ratelimit import Buckets, OnePerKey, StillRunning
from bot.text import words
from cogs.ui.paper_actions import controls, controls_view, forget, offered
from cogs.ui.render import clip, paper_embed
from cogs.ui.search_views import (
    DEFER_AFTER,
    PAGE_SIZE,
    VIEW_TIMEOUT,
    LivePagers,
    PageTurn,
    SearchPager,
    SearchRequest,
    in_time,
    no_results_message,
    paper_choice,
    reply,
    results_embed,
    trending_embed,
)

if TYPE_CHECKING:
    from bot.client import Paperboy

log = logging.getLogger(__name__)

T = TypeVar("T")
Rate = tuple[int, float]  # uses per seconds, per user and command
Period = Literal["day", "week", "month", "rising"]

RATE: Rate = (5, 10.0)
# Page turns that need the store, per person across all their results: 5 at once, then one
# every 2 s. Pages already seen come from the pager's memory and cost nothing.
PAGE_TURNS: tuple[float, int] = (30.0, 5)
SUGGEST_BUDGET = 1.5  # seconds; Discord drops an autocomplete answer after 3 s
STILL_RUNNING = "Your previous search is still running: try again in a moment."
TRENDING_TOP = 10
PERIOD_DAYS = {"week": 7, "month": 30}
RISING_LISTED_DAYS = 30  # /trending rising looks at papers first listed this recently
DAY_LOOKBACK = 30  # "day" is the newest list stored in the last month (no lists on weekends)
MIN_PREFIX = 3  # shorter title prefixes match too much of a large store to answer in time
CHOICES_MAX = 25
SEARCH_HELP = 'Search stored papers. Try: "exact phrase", a OR b, -exclude, author:Name'
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _per_user_rate(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """The cog's rate for this command; None (no cooldown) when the cog switched it off."""
    cog = getattr(interaction.command, "binding", None)
    rate = cog.rate if isinstance(cog, Search) else None
    return app_commands.Cooldown(*rate) if rate else None


def _quote(text: str) -> str:
    """A person's input, short, quoted and inert, to show back to them."""
    return f"“{discord.utils.escape_markdown(clip(' '.join(text.split()), 80))}”"


def parse_day(text: str | None, option: str) -> date | None:
    """A strict YYYY-MM-DD date, or None when the option was left empty."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if _ISO_DAY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise UserError(
        f"`{option}` needs a date written YYYY-MM-DD, like 2025-01-07, not {_quote(text)}."
    )


def build_query(text: str, author: str | None) -> Query:
    """The person's query, ANDed with the author filter; QueryError if nothing is left to find."""
    query = parse_query(text)
    if author and author.strip():
        by = author_query(author)
        if by.is_empty:
            raise QueryError(f"The author name {_quote(author)} has no letters to search for.")
        query = combine(query, by)
    if query.is_empty:
        raise QueryError(
            "Nothing to search for: type at least one word of letters or digits (a `-word`"
            ' only excludes), e.g. `grokking` or `"diffusion model" -video`.'
        )
    return query


class Search(commands.Cog):
    """Search, look up and rank the stored papers."""

    def __init__(
        self,
        bot: Paperboy,
        *,
        rate: Rate | None = RATE,
        page_size: int = PAGE_SIZE,
        view_timeout: float | None = VIEW_TIMEOUT,
        defer_after: float = DEFER_AFTER,
        page_turns: tuple[float, int] = PAGE_TURNS,
        suggest_budget: float = SUGGEST_BUDGET,
    ) -> None:
        self.bot = bot
        self.rate = rate
        self.page_size = page_size
        self.view_timeout = view_timeout
        self.defer_after = defer_after
        self.suggest_budget = suggest_budget
        # Searches share one store connection, first come first served. One search in flight
        # per person keeps anyone from queueing several ahead of everyone else.
        self.searching = OnePerKey(STILL_RUNNING)
        self.page_turns = Buckets(*page_turns)
        self.pagers = LivePagers()  # the Previous/Next buttons of results messages

    async def cog_load(self) -> None:
        self.pagers.attach(self.bot)
        self.bot.add_dynamic_items(PageTurn)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PageTurn)
        self.pagers.detach(self.bot)

    async def _soon(
        self, interaction: discord.Interaction, work: Awaitable[T], *, ephemeral: bool = False
    ) -> T:
        """The work's result, deferring first if it takes longer than `defer_after`."""
        return await in_time(interaction, work, defer_after=self.defer_after, ephemeral=ephemeral)

    # -- /search --------------------------------------------------------------------------

    @app_commands.command(name="search", description=SEARCH_HELP)
    @app_commands.describe(
        query='Words to find. "exact phrase", a OR b, -exclude, author:Name',
        author="Only papers by this author (part of the name is enough)",
        since="Only papers listed on or after this day, YYYY-MM-DD",
        until="Only papers listed on or before this day, YYYY-MM-DD",
        sort="Best match first (default), most upvoted first, or newest list first",
        private="Show the results only to you",
    )
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    async def search(
        self,
        interaction: discord.Interaction,
        query: str,
        author: app_commands.Range[str, 1, 100] | None = None,
        since: app_commands.Range[str, 1, 10] | None = None,
        until: app_commands.Range[str, 1, 10] | None = None,
        sort: Sort = "relevance",
        private: bool = False,
    ) -> None:
        request = SearchRequest(
            build_query(query, author), parse_day(since, "since"), parse_day(until, "until"), sort
        )
        if request.since and request.until and request.since > request.until:
            raise UserError("`since` is after `until`: no day is in between.")
        fetch = functools.partial(self._fetch, request, interaction.user.id)
        page = await self._soon(interaction, fetch(0), ephemeral=private)
        log.debug("search %s: %d hits", request.describe(), page.total)
        if not page.hits:
            await reply(interaction, content=no_results_message(request), ephemeral=True)
            return
        actions = offered(self.bot)
        embed = results_embed(request, page, 0, self.page_size)
        if page.total <= self.page_size:
            papers = [(h.listing.paper.id, h.listing.paper.title) for h in page.hits]
            view = controls_view(controls(actions, papers))
            await reply(interaction, embed=embed, view=view, ephemeral=private)
            forget(view)
            return
        pager = SearchPager(
            owner_id=interaction.user.id,
            request=request,
            fetch=fetch,
            total=page.total,
            page_size=self.page_size,
            timeout=self.view_timeout,
            defer_after=self.defer_after,
            first_page=page,
            turns=self.page_turns,
            actions=actions,
            on_end=self.bot.keep_dynamic_items,
        )
        pager.anchor_to(interaction)
        view = pager.view()
        try:
            message_id = await reply(interaction, embed=embed, view=view, ephemeral=private)
        finally:
            pager.sent(view)
        if message_id is not None:
            self.pagers.add(message_id, pager)

    async def _fetch(self, request: SearchRequest, user_id: int, offset: int) -> SearchPage:
        """One page of results; StillRunning while this person's last search is."""
        async with self.searching.slot(user_id):
            return await self.bot.store.search(
                request.query,
                since=request.since,
                until=request.until,
                sort=request.sort,
                limit=self.page_size,
                offset=offset,
            )

    # -- /paper ---------------------------------------------------------------------------

    @app_commands.command(name="paper", description="One paper in full, by arXiv id or link")
    @app_commands.rename(paper_id="id")
    @app_commands.describe(
        paper_id="arXiv id (2509.24002), huggingface.co or arxiv.org link; or type a title and pick"
    )
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    async def paper(
        self, interaction: discord.Interaction, paper_id: app_commands.Range[str, 1, 200]
    ) -> None:
        normalised = normalise_id(paper_id)
        if normalised is None:
            raise UserError(
                f"{_quote(paper_id)} is not an arXiv id or paper link. Use an id like"
                " 2509.24002, a huggingface.co/papers/… or arxiv.org/abs/… link, or pick a"
                " title from the suggestions."
            )
        listing = await self._soon(interaction, self._load(normalised))
        paper = listing.paper
        view = controls_view(controls(offered(self.bot), [(paper.id, paper.title)]))
        await reply(interaction, embed=paper_embed(listing, full=True), view=view)
        forget(view)

    async def _load(self, paper_id: str) -> Listing:
        """The stored paper, or else fetched once from Hugging Face and stored."""
        try:
            listing = await self.bot.lookups.get(paper_id)
        except (SourceUnavailable, ScrapeError) as e:
            log.warning("could not fetch paper %s from Hugging Face: %s", paper_id, e)
            raise UserError(
                f"Hugging Face did not answer properly, so I can't look up {paper_id} right"
                " now. Please try again in a few minutes."
            ) from e
        if listing is None:
            raise NotFoundError(
                f"{paper_id} is not on Hugging Face Papers. It may still be on arXiv:"
                f" <https://arxiv.org/abs/{paper_id}>"
            )
        return listing

    @paper.autocomplete("paper_id")
    async def paper_suggestions(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """A typed id or link, or else stored papers whose title words start as typed.

        Answers within `suggest_budget` seconds, with no suggestions if the store is busy:
        a late answer is no answer at all (Discord's 3 s deadline).
        """
        typed = normalise_id(current)
        if typed is not None:
            try:
                known = await asyncio.wait_for(self.bot.store.get_paper(typed), self.suggest_budget)
            except TimeoutError:
                known = None
            return [paper_choice(typed, known.paper.title if known else "look up this id")]
        tokens = words(current[:100])
        if not tokens or len(tokens[-1]) < MIN_PREFIX:
            return []
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.suggest_budget
        try:
            async with self.searching.slot(interaction.user.id, wait=self.suggest_budget):
                left = max(0.0, give_up - loop.time())
                found = await self.bot.store.titles_starting(
                    current[:100], CHOICES_MAX, within=left
                )
        except StillRunning:
            return []
        return [paper_choice(item.paper.id, item.paper.title) for item in found][:CHOICES_MAX]

    # -- /trending ------------------------------------------------------------------------

    @app_commands.command(name="trending", description="The most upvoted papers lately")
    @app_commands.describe(
        period="day: the newest daily list; week or month: lists of the last 7 or 30 days; "
        "rising: most upvotes gained in the last 24 hours"
    )
    @app_commands.checks.dynamic_cooldown(_per_user_rate)
    async def trending(self, interaction: discord.Interaction, period: Period = "day") -> None:
        found = await self._soon(interaction, self._trending(period))
        if found is None:
            message = f"No Daily Papers list stored in the last {DAY_LOOKBACK} days."
            await reply(interaction, content=message, ephemeral=True)
            return
        title, listings, gains = found
        if not listings:
            empty = (
                "No paper gained upvotes in the last 24 hours (yet)."
                if period == "rising"
                else f"No papers stored for {title}."
            )
            await reply(interaction, content=empty, ephemeral=True)
            return
        papers = [(item.paper.id, item.paper.title) for item in listings]
        view = controls_view(controls(offered(self.bot), papers))
        embed = trending_embed(f"Trending: {title}", listings, gains)
        await reply(interaction, embed=embed, view=view)
        forget(view)

    async def _trending(self, period: Period) -> tuple[str, list[Listing], list[int] | None] | None:
        """A title for the period, its most upvoted papers (or, rising, those that gained the
        most upvotes in 24 hours, with the gains); None if no recent list."""
        store = self.bot.store
        today = self.bot.clock().date()
        if period == "rising":
            now = self.bot.clock()
            climbs = await store.upvote_gains(
                now - timedelta(hours=24),
                listed_since=today - timedelta(days=RISING_LISTED_DAYS),
                limit=TRENDING_TOP,
            )
            title = "rising in the last 24 hours"
            return title, [c.listing for c in climbs], [c.gain for c in climbs]
        if period == "day":
            dates = await store.list_dates(today - timedelta(days=DAY_LOOKBACK), today)
            if not dates:
                return None
            since = until = dates[-1]
            title = f"Daily Papers {until.isoformat()}"
        else:
            since, until = today - timedelta(days=PERIOD_DAYS[period] - 1), today
            title = f"the last {PERIOD_DAYS[period]} days ({since} – {until})"
        return title, await store.top_papers(since, until, TRENDING_TOP), None


async def setup(bot: Paperboy) -> None:
    await bot.add_cog(Search(bot))

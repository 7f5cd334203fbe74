"""Search results and trending lists as embeds, how to reply with them, and the search pager."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import math
import re
import weakref
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, TypeVar, cast

import discord
from discord import app_commands

from bot.digest import authors_line
from bot.errors import UserError
from bot.models import Listing, SearchHit, SearchPage, Sort
from bot.query import Query
from bot.ratelimit import Buckets
from bot.tree import APOLOGY, send_ephemeral
from cogs.ui.links import escape_text, masked_link
from cogs.ui.paper_actions import PaperAction, add_controls, controls
from cogs.ui.render import COLOUR, DESCRIPTION_MAX, TITLE_MAX, clip, fit, one_line

log = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE = 5
VIEW_TIMEOUT = 600.0  # under the 15 minutes an interaction token can still edit its message
# How the interaction webhook's routes name an interaction's first response (a message id's place).
ORIGINAL_RESPONSE = cast(int, "@original")
DEFER_AFTER = 1.0  # seconds of work before deferring; Discord drops answers after 3 s
NOT_YOURS = "These are someone else's results: run your own /search to turn pages."
PAGES_KEPT = 20  # pages a pager remembers, so going back costs the store nothing
# Per-entry caps keep a page of five (or a trending list of ten) inside DESCRIPTION_MAX.
ENTRY_TITLE_MAX = 180
ENTRY_AUTHORS_MAX = 120
ENTRY_SNIPPET_MAX = 220
CHOICE_NAME_MAX = 100

PageFetcher = Callable[[int], Awaitable[SearchPage]]


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What a person searched for: enough to fetch any page again."""

    query: Query
    since: date | None = None
    until: date | None = None
    sort: Sort = "relevance"

    def describe(self) -> str:
        """The query as understood, with its filters, for titles and empty results."""
        parts = [f"`{self.query}`"]
        if self.since:
            parts.append(f"since {self.since.isoformat()}")
        if self.until:
            parts.append(f"until {self.until.isoformat()}")
        return " ".join(parts)


def _md(text: str) -> str:
    """Markdown-escaped text in which no bracket can start or end a masked link."""
    escaped = escape_text(text)
    return re.sub(r"(?<!\\)([\[\]])", r"\\\1", escaped)


def _linked_title(listing: Listing) -> str:
    paper = listing.paper
    return masked_link(clip(" ".join(paper.title.split()), ENTRY_TITLE_MAX), paper.hf_url)


def _facts(listing: Listing) -> str:
    """▲ upvotes · list date · first authors."""
    paper = listing.paper
    facts = [f"▲ {paper.upvotes:,}"]
    facts.append(listing.list_date.isoformat() if listing.list_date else "not on a daily list")
    if paper.authors:
        facts.append(_md(clip(authors_line(paper.authors, 3), ENTRY_AUTHORS_MAX)))
    return " · ".join(facts)


def snippet_line(hit: SearchHit) -> str:
    """The store's snippet on one line, escaped, its matched words in **bold**."""
    text, spans = hit.snippet.text, hit.snippet.spans
    if not text:
        paper = hit.listing.paper
        return _md(one_line(paper.ai_summary or paper.abstract, ENTRY_SNIPPET_MAX))
    # Plain and bold parts by turns; clipping part by part keeps every ** paired.
    cuts = [0, *(i for span in spans for i in span), len(text)]
    line, budget = [], ENTRY_SNIPPET_MAX
    for n, (start, end) in enumerate(itertools.pairwise(cuts)):
        part = text[start:end]
        kept = clip(part, budget) if len(part) > budget else part
        line.append(f"**{_md(kept)}**" if n % 2 and kept else _md(kept))
        budget -= len(kept)
        if budget <= 0:
            break
    return "".join(line)


def results_embed(
    request: SearchRequest, page: SearchPage, offset: int, page_size: int = PAGE_SIZE
) -> discord.Embed:
    """One page of search results: linked titles, counts, authors and snippets."""
    entries = [
        f"**{n}.** {_linked_title(hit.listing)}\n{_facts(hit.listing)}\n{snippet_line(hit)}"
        for n, hit in enumerate(page.hits, start=offset + 1)
    ]
    embed = discord.Embed(
        title=clip(f"Search: {request.query}", TITLE_MAX),
        description=clip("\n\n".join(entries), DESCRIPTION_MAX),
        colour=COLOUR,
    )
    pages = max(1, math.ceil(page.total / page_size))
    shown = f"{offset + 1}–{offset + len(page.hits)}" if page.hits else "none"
    # A capped total is a floor: the store ranked only the newest matches of a broad query
    # (unless it could rank them all).
    of = f"{page.total:,}" + ("+" if page.capped else "")
    if page.capped and page.newest_only:
        of += " (the newest matches)"
    footer = [f"Results {shown} of {of}", f"page {offset // page_size + 1}/{pages}"]
    footer.append(f"sorted by {request.sort}")
    if request.since:
        footer.append(f"since {request.since}")
    if request.until:
        footer.append(f"until {request.until}")
    embed.set_footer(text=" · ".join(footer))
    return embed


def no_results_message(request: SearchRequest) -> str:
    """What was searched, and how to loosen it."""
    hints = ["use fewer or more general words"]
    if request.query.excluded:
        hints.append("drop a `-exclusion`")
    if any(t.field == "author" for t in request.query.terms()):
        hints.append("check the author's spelling or drop `author:`")
    if request.since or request.until:
        hints.append("widen the dates")
    if any(len(t.tokens) > 1 for t in request.query.terms()):
        hints.append('try `a OR b` instead of a "phrase"')
    tips = ", ".join(hints)
    return f"No stored papers match {request.describe()}. To find more, {tips}."


def trending_embed(
    title: str, listings: Sequence[Listing], gains: Sequence[int] | None = None
) -> discord.Embed:
    """The most upvoted papers of a period, numbered; with `gains`, each paper's gain too."""
    entries = [
        f"**{n}.** {_linked_title(item)}\n"
        + (f"**+{gains[n - 1]:,}** in 24 h · " if gains is not None else "")
        + _facts(item)
        for n, item in enumerate(listings, start=1)
    ]
    return discord.Embed(
        title=clip(title, TITLE_MAX),
        description=clip("\n\n".join(entries), DESCRIPTION_MAX),
        colour=COLOUR,
    )


def paper_choice(paper_id: str, title: str) -> app_commands.Choice[str]:
    """An autocomplete choice: the title, clipped to Discord's 100 characters, then the id."""
    suffix = f" · {paper_id}"
    name = clip(" ".join(title.split()), CHOICE_NAME_MAX - len(suffix)) + suffix
    return app_commands.Choice(name=name, value=paper_id)


async def in_time(
    interaction: discord.Interaction, work: Awaitable[T], *, defer_after: float, ephemeral: bool
) -> T:
    """Await the work; if it runs past `defer_after` s, defer first so Discord keeps waiting."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=defer_after)
    if not done:
        try:
            if interaction.type is discord.InteractionType.component:
                await interaction.response.defer()  # the message itself is updated later
            else:
                await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        except BaseException:
            task.cancel()
            raise
    return await task


async def reply(
    interaction: discord.Interaction,
    *,
    content: str | None = None,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    ephemeral: bool = False,
) -> int | None:
    """Answer, or fill in the deferred answer if the work took long enough to defer; the
    embed is checked against Discord's limits first. The answer's message id, if known."""
    if embed is not None:
        embed = fit(embed)
    if interaction.response.is_done():
        sent = await interaction.edit_original_response(content=content, embed=embed, view=view)
        return sent.id
    message: dict[str, Any] = {"content": content, "ephemeral": ephemeral}
    if embed is not None:
        message["embed"] = embed
    if view is not None:
        message["view"] = view
    response = await interaction.response.send_message(**message)
    return response.message_id


def _papers(page: SearchPage) -> list[tuple[str, str]]:
    """The (id, title) of a page's papers: what its controls offer."""
    return [(h.listing.paper.id, h.listing.paper.title) for h in page.hits]


@dataclass(frozen=True, slots=True)
class _SeenPage:
    """A page of results as shown: its embed and its papers' (id, title), zlib-compressed."""

    total: int
    packed: bytes

    @classmethod
    def of(cls, embed: discord.Embed, page: SearchPage) -> _SeenPage:
        shown = {"embed": fit(embed).to_dict(), "papers": _papers(page)}
        return cls(page.total, zlib.compress(json.dumps(shown).encode(), 6))

    def open(self) -> tuple[discord.Embed, list[tuple[str, str]]]:
        """The embed (a fresh object each time) and the papers."""
        shown = json.loads(zlib.decompress(self.packed))
        return discord.Embed.from_dict(shown["embed"]), [(p[0], p[1]) for p in shown["papers"]]


class PageTurn(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"search:(?P<way>previous|next)"
):
    """Previous or Next on a results message. A dynamic item: one registration answers every
    results message, and the message's pager is found by its id (LivePagers)."""

    def __init__(self, way: str, *, disabled: bool = False) -> None:
        previous = way == "previous"
        super().__init__(
            discord.ui.Button(
                label="Previous" if previous else "Next",
                emoji="◀️" if previous else "▶️",
                custom_id=f"search:{way}",
                disabled=disabled,
            )
        )
        self.way = way

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageTurn:
        return cls(match["way"])

    async def callback(self, interaction: discord.Interaction) -> None:
        live = LivePagers.of(interaction.client)
        message = interaction.message
        if live is None or message is None:
            return
        pager = live.get(message.id)
        if pager is None:  # ended (its buttons are off), or from before a restart: as with a
            return  # discord.py view that ended, the click goes unanswered
        await pager.click(interaction, self.way, live)


class SearchPager:
    """The state of one results message's Previous/Next buttons; only the searcher may click.

    A page seen before is shown again from memory; a new page is fetched from the store,
    within the searcher's page-turn budget (`turns`, shared by all their results).

    Not a discord.py View: at ten searches a second thousands of pagers live at once, and a
    View each (its items, its timeout task, its view-store entries) weighed ~6 KB. The
    buttons are PageTurn dynamic items, the views sent are made for the sending only, and one
    timer (LivePagers) ends every pager `timeout` s after its last page turn, as a View's did.
    """

    def __init__(
        self,
        *,
        owner_id: int,
        request: SearchRequest,
        fetch: PageFetcher,
        total: int,
        page_size: int = PAGE_SIZE,
        timeout: float | None = VIEW_TIMEOUT,
        defer_after: float = DEFER_AFTER,
        first_page: SearchPage | None = None,
        turns: Buckets | None = None,
        actions: Sequence[PaperAction] = (),
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.actions = actions
        # Called after a view this pager made was sent (Paperboy.keep_dynamic_items): should
        # discord.py forget a dynamic item's pattern when that view is stopped, it comes back.
        self.on_end = on_end
        self.owner_id = owner_id
        self.request = request
        self.fetch = fetch
        self.total = total
        self.page_size = page_size
        self.timeout = timeout
        self.expires: float | None = None  # loop time; set by LivePagers
        self.defer_after = defer_after
        self.offset = 0
        self.turns = turns
        # Pages seen, as rendered (compressed): the store's SearchPage (five papers with their
        # abstracts) is ~20 KB, its compressed rendering ~1.5 KB.
        self._pages: dict[int, _SeenPage] = {}
        # The page shown: its paper controls (one select menu per action, with an option per
        # paper) are made from it only to render the message.
        self._shown: _SeenPage | None = None
        if first_page is not None:
            self._shown = self._remember(0, first_page)
        # The webhook of the latest interaction whose original response is the results
        # message: it can still edit the message when the pager ends. Not the interaction
        # itself: that holds its payload, member and message (~2.5 KB).
        self._anchor: discord.Webhook | None = None

    def anchor_to(self, interaction: discord.Interaction) -> None:
        """The message this pager greys out when it ends: `interaction`'s first response."""
        self._anchor = interaction.followup

    def view(self, *, ended: bool = False) -> discord.ui.View:
        """A view to send with the message, made for this sending: the buttons, then the paper
        controls (Save...) for the papers of the page shown. Only dynamic items, so discord.py
        keeps nothing of it once sent (`sent`)."""
        view = discord.ui.View(timeout=None)
        view.add_item(PageTurn("previous", disabled=ended or self.offset <= 0))
        view.add_item(
            PageTurn("next", disabled=ended or self.offset + self.page_size >= self.total)
        )
        if self._shown is not None and self.actions:
            _, papers = self._shown.open()
            add_controls(view, controls(self.actions, papers))
        return view

    def sent(self, view: discord.ui.View) -> None:
        """After sending `view`: discord.py gives an ephemeral message's timeout-less view a
        15-minute timeout task; stopping it ends that (the items answer without the view)."""
        view.stop()
        if self.on_end is not None:
            self.on_end()

    def to_components(self) -> list[dict[str, Any]]:
        """The message's components, as sent."""
        view = self.view()
        components = view.to_components()
        view.stop()
        return components

    async def click(self, interaction: discord.Interaction, way: str, live: LivePagers) -> None:
        """Previous or Next clicked on this pager's message."""
        try:
            if interaction.user.id != self.owner_id:
                await interaction.response.send_message(NOT_YOURS, ephemeral=True)
                return
            live.touch(self)
            step = -self.page_size if way == "previous" else self.page_size
            await self._turn(interaction, self.offset + step)
        except Exception as error:
            await self.on_error(interaction, error)

    async def _turn(self, interaction: discord.Interaction, offset: int) -> None:
        offset = max(0, offset)
        seen = self._pages.get(offset)
        if seen is None:  # not seen yet: from the store, within the person's page budget
            wait = self.turns.take(interaction.user.id) if self.turns is not None else 0.0
            if wait > 0:
                raise UserError(f"Slow down a little: try again in {math.ceil(wait)} s.")
            offset, fetched = await in_time(
                interaction, self._page(offset), defer_after=self.defer_after, ephemeral=False
            )
            seen = fetched
        embed, _ = seen.open()
        self.offset, self.total = offset, seen.total
        self._shown = seen
        self.anchor_to(interaction)
        view = self.view()
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(embed=embed, view=view)
            else:
                await interaction.response.edit_message(embed=embed, view=view)
        finally:
            self.sent(view)

    async def _page(self, offset: int) -> tuple[int, _SeenPage]:
        page = await self.fetch(offset)
        if not page.hits and offset > 0:  # the results shrank since the search: show the last
            offset = max(0, (page.total - 1) // self.page_size * self.page_size)
            page = await self.fetch(offset)
        return offset, self._remember(offset, page)

    def _remember(self, offset: int, page: SearchPage) -> _SeenPage:
        """Keep a fetched page as rendered, forgetting the oldest beyond PAGES_KEPT."""
        seen = _SeenPage.of(results_embed(self.request, page, offset, self.page_size), page)
        self._pages.pop(offset, None)
        self._pages[offset] = seen
        while len(self._pages) > PAGES_KEPT:
            del self._pages[next(iter(self._pages))]
        return seen

    async def on_timeout(self) -> None:
        """Grey the buttons out; a message that is gone or too old is simply left alone."""
        if self._anchor is None:
            return
        view = self.view(ended=True)
        try:
            await self._anchor.edit_message(ORIGINAL_RESPONSE, view=view)
        except discord.HTTPException as e:
            log.debug("could not disable the buttons of an expired search: %s", e)
        finally:
            self.sent(view)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        if isinstance(error, UserError):
            log.debug("user error turning a search page: %s", error)
            await send_ephemeral(interaction, str(error))
            return
        log.error(
            "turning a search page failed (user %s, guild %s)",
            interaction.user.id,
            interaction.guild_id,
            exc_info=error,
        )
        await send_ephemeral(interaction, APOLOGY)


class LivePagers:
    """The live pagers of a client, by results message id, and the one timer that ends them
    (greys their buttons out) `timeout` s after their last page turn."""

    _of: ClassVar[weakref.WeakKeyDictionary[Any, LivePagers]] = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self._live: dict[int, SearchPager] = {}
        # (expiry, message id), one entry per live pager with a timeout: a heap. A page turn
        # only moves the pager's own expiry later; its entry is pushed again when it comes due.
        self._due: list[tuple[float, int]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._ending: set[asyncio.Task[None]] = set()

    @classmethod
    def of(cls, client: Any) -> LivePagers | None:
        return cls._of.get(client)

    def attach(self, client: Any) -> None:
        """Answer this client's PageTurn clicks from these pagers."""
        LivePagers._of[client] = self

    def detach(self, client: Any) -> None:
        """Stop: the pagers end without an edit, as discord.py's views do when it closes."""
        if LivePagers._of.get(client) is self:
            del LivePagers._of[client]
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._live.clear()
        self._due.clear()

    def __len__(self) -> int:
        return len(self._live)

    def get(self, message_id: int) -> SearchPager | None:
        return self._live.get(message_id)

    def add(self, message_id: int, pager: SearchPager) -> None:
        """A pager for the message just sent with its buttons."""
        self._live[message_id] = pager
        if pager.timeout is not None:
            pager.expires = asyncio.get_running_loop().time() + pager.timeout
            heapq.heappush(self._due, (pager.expires, message_id))
            self._arm()

    def touch(self, pager: SearchPager) -> None:
        """A page turn: the pager ends `timeout` s from now."""
        if pager.timeout is not None:
            pager.expires = asyncio.get_running_loop().time() + pager.timeout

    def _arm(self) -> None:
        if not self._due:
            return
        when = self._due[0][0]
        if self._timer is not None:
            if self._timer.when() <= when:
                return
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(when, self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        while self._due and self._due[0][0] <= now:
            _, message_id = heapq.heappop(self._due)
            pager = self._live.get(message_id)
            if pager is None or pager.expires is None:
                continue
            if pager.expires > now:  # turned since: due later
                heapq.heappush(self._due, (pager.expires, message_id))
                continue
            del self._live[message_id]
            task = asyncio.create_task(pager.on_timeout())
            self._ending.add(task)
            task.add_done_callback(self._ending.discard)
        self._arm()

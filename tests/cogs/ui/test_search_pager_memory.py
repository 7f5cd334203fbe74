"""A search pager lives 10 minutes and thousands live at once: it keeps its pages small."""

from __future__ import annotations

import asyncio
import gc
from datetime import date
from typing import cast

import discord

from bot.models import Listing, Paper, SearchHit, SearchPage, Snippet
from bot.query import parse_query
from cogs.ui.paper_actions import PaperAction
from cogs.ui.render import fit
from cogs.ui.search_views import LivePagers, SearchPager, SearchRequest, results_embed


def page_of(start: int, total: int) -> SearchPage:
    """Five papers with long abstracts and many authors, as the store returns them."""
    hits = tuple(
        SearchHit(
            Listing(
                Paper(
                    f"2401.{n:05d}",
                    f"Paper number {n} on scaling laws of grokking",
                    f"abstract {n} " + "words about models and data " * 400,
                    tuple(f"Author {n}-{a}" for a in range(40)),
                    upvotes=n,
                ),
                date(2025, 1, 7),
                n,
            ),
            Snippet(f"about grokking {n}", ((6, 14),)),
        )
        for n in range(start, start + 5)
    )
    return SearchPage(hits, total)


async def fetch_none(offset: int) -> SearchPage:
    raise AssertionError("a page already seen is not fetched")


async def test_a_pager_keeps_its_pages_as_shown_in_a_few_kilobytes() -> None:
    request = SearchRequest(parse_query("grokking"))
    first = page_of(1, 12)
    pager = SearchPager(
        owner_id=1, request=request, fetch=fetch_none, total=12, first_page=first, timeout=None
    )
    kept = pager._pages[0]
    # The page's papers hold ~60 KB of text; what the pager keeps is the rendered page.
    assert not isinstance(kept, SearchPage)
    assert len(kept.packed) < 3000
    embed, papers = kept.open()
    assert embed.to_dict() == fit(results_embed(request, first, 0)).to_dict()
    assert papers == [(h.listing.paper.id, h.listing.paper.title) for h in first.hits]


ITEMS = (discord.ui.Item, discord.ui.View)
ACTIONS = (
    PaperAction("save", "Save", "Save a paper…"),
    PaperAction("similar", "More like this", "More like this…"),
)


async def test_a_live_pager_makes_its_buttons_and_paper_controls_only_to_render_them() -> None:
    # A discord.py View per pager (its items, its timeout task, its view-store entries)
    # weighed ~6 KB; the buttons and controls are dynamic items, answered without a view, so
    # a pager keeps only its page and what it needs to turn it.
    first = page_of(1, 12)
    pager = SearchPager(
        owner_id=1,
        request=SearchRequest(parse_query("grokking")),
        fetch=fetch_none,
        total=12,
        first_page=first,
        timeout=None,
        actions=ACTIONS,
    )
    buttons = ["search:previous", "search:next"]
    kept = list(vars(pager).values())
    assert not [o for o in kept + gc.get_referents(*kept) if isinstance(o, ITEMS)]
    rows = pager.to_components()
    assert [c["custom_id"] for c in rows[0]["components"]] == buttons
    selects = [row["components"] for row in rows[1:]]
    assert [[c["custom_id"] for c in row] for row in selects] == [
        ["papers:save"],
        ["papers:similar"],
    ]
    for (select,), action in zip(selects, ACTIONS, strict=True):
        assert select["placeholder"] == action.placeholder
        assert [o["value"] for o in select["options"]] == [h.listing.paper.id for h in first.hits]
        assert [o["label"] for o in select["options"]] == [
            h.listing.paper.title for h in first.hits
        ]
    assert pager.to_components() == rows


class Ending:
    """What LivePagers needs of a pager: its timeout, its expiry, and what ends it."""

    def __init__(self, name: str, timeout: float | None, ended: list[str]) -> None:
        self.name, self.timeout, self.expires, self.ended = name, timeout, None, ended

    async def on_timeout(self) -> None:
        self.ended.append(self.name)


async def test_one_timer_ends_each_pager_its_timeout_after_its_last_turn() -> None:
    ended: list[str] = []
    live = LivePagers()
    pagers = {
        name: Ending(name, timeout, ended)
        for name, timeout in [("a", 3.0), ("b", 1.0), ("c", 2.0), ("forever", None)]
    }
    for n, pager in enumerate(pagers.values()):
        live.add(n, cast(SearchPager, pager))
    await asyncio.sleep(0.5)
    live.touch(cast(SearchPager, pagers["b"]))  # a page turn: b ends at 1.5 s, not 1 s
    await asyncio.sleep(0.7)
    assert ended == []
    await asyncio.sleep(2.3)
    assert ended == ["b", "c", "a"]
    assert len(live) == 1 and live.get(3) is pagers["forever"]
    live.detach(Ending)  # (any client: this one was never attached) the timer stops

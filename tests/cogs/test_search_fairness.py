"""One member cannot hold up everyone's searches (issue 10, F5), end to end.

How the store is made slow: `costly_searches` is a test hook around the store's search
connection lock. Every search, once it holds the connection, keeps holding it for a while before
its query runs, as a costly query on a large store does; like a real query, the hold ends when
the store's time budget runs out. The seed store itself answers in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.ratelimit import Buckets
from bot.store import SQLiteStore
from tests.cogs.test_search import STORED, cog, footer, ids, run, search_bot
from tests.fakes.fake_discord import FakeUser
from tests.support.harness import Harness

COSTLY = 0.8  # seconds a costly search holds the connection (the store's budget is 1 s)
STILL_RUNNING = "Your previous search is still running"
SLOW_DOWN = re.compile(r"Slow down a little: try again in \d+ s\.")


@dataclass
class Searches:
    """Searches that asked for the store's search connection, and those that got it."""

    asked: int = 0
    got: int = 0


def costly_searches(store: SQLiteStore, seconds: float) -> Searches:
    """Make every search hold the search connection `seconds` longer (never past its budget);
    returns running counts of the searches that reached the store."""
    seen = Searches()
    searching = store._searching

    @contextlib.asynccontextmanager
    async def costly(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        seen.asked += 1
        async with searching(*args, **kwargs) as db:
            seen.got += 1
            await asyncio.sleep(max(0.0, min(seconds, store._deadline_at - time.monotonic())))
            yield db

    store._searching = costly  # type: ignore[method-assign]
    return seen


async def member_elsewhere(h: Harness, name: str) -> tuple[FakeUser, str]:
    """A member of another server the bot is in."""
    guild = h.discord.add_guild(f"{name}'s server")
    h.discord.add_text_channel(guild, "general")
    user = h.discord.add_member(guild, name)
    await h.discord.wait_for(lambda: h.bot.get_guild(int(guild)), 5, "the bot to see the server")
    return user, guild


async def test_hammering_next_does_not_hold_up_another_servers_search(tmp_path: Path) -> None:
    async with search_bot(tmp_path) as h:
        carol, elsewhere = await member_elsewhere(h, "carol")
        results = await run(h, "search", query="diffusion")  # 12 results: Next is enabled
        searches = costly_searches(h.store, COSTLY)
        clicks = [
            await h.discord.click(results, "search:next", user=h.discord.alice) for _ in range(20)
        ]
        # Carol comes once Alice's clicks have been handled (refused, or queued before the fix).
        await h.discord.wait_for(
            lambda: sum(c.acknowledged for c in clicks) >= 19, 10, "Alice's clicks answered"
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        inter = await h.discord.invoke("search", {"query": "grokking"}, user=carol, guild=elsewhere)
        message = await inter.final_message(timeout=30)
        waited = loop.time() - started
        assert len(ids(message)) == 4
        # Carol waits at most for the one page of Alice's already running, then her own.
        assert waited < 2 * COSTLY + 0.8, f"/search took {waited:.1f} s"
        refusals = [(await c.response()) for c in clicks]
        refused = [r for r in refusals if r.type == 4]
        assert len(refused) == 19
        for r in refused:  # refused at once: still running, or out of page turns
            assert r.ephemeral and (STILL_RUNNING in r.content or SLOW_DOWN.fullmatch(r.content))
        assert searches.asked == 2  # one page turn of Alice's, Carol's search
        await h.discord.wait_for(lambda: footer(results).startswith("Results 6–10"), 5, "page 2")


async def test_a_second_search_while_ones_own_is_running_is_refused(tmp_path: Path) -> None:
    async with search_bot(tmp_path) as h:
        costly_searches(h.store, COSTLY)
        first = await h.discord.invoke("search", {"query": "diffusion"})
        second = await run(h, "search", query="grokking")
        assert second.ephemeral and second.content.startswith(STILL_RUNNING)
        assert len(ids(await first.final_message())) == 5
        assert len(ids(await run(h, "search", query="grokking"))) == 4  # and then it works


async def test_autocomplete_answers_in_time_while_the_search_connection_is_busy(
    tmp_path: Path,
) -> None:
    async with search_bot(tmp_path) as h:
        searches = costly_searches(h.store, 0.9)
        members = [h.discord.alice, h.discord.bob, h.discord.add_member(h.discord.guild_id, "d")]
        running = [
            await h.discord.invoke("search", {"query": query}, user=member)
            for member, query in zip(members, ("diffusion", "grokking", "training"), strict=True)
        ]
        await h.discord.wait_for(lambda: searches.asked == 3, 5, "2.7 s of searches queued")
        dave = h.discord.add_member(h.discord.guild_id, "dave")
        loop = asyncio.get_running_loop()
        started = loop.time()
        # The fake refuses an answer after Discord's 3 s deadline (and choices() then raises).
        typed = await h.discord.autocomplete("paper", {"id": "grok"}, focused="id", user=dave)
        assert loop.time() - started < 2.0
        assert typed == []  # nothing to suggest in time: an empty answer, not a late one
        # A typed id needs no search: its title is still found while searches are queued.
        (by_id,) = await h.discord.autocomplete("paper", {"id": STORED}, focused="id", user=dave)
        assert by_id["name"].startswith("Provable Scaling Laws")
        for inter in running:
            assert ids(await inter.final_message(timeout=10))
        choices = await h.discord.autocomplete("paper", {"id": "grok"}, focused="id", user=dave)
        assert len(choices) == 4  # with the connection free again, suggestions are back


async def test_pages_already_seen_are_not_fetched_again(tmp_path: Path) -> None:
    async with search_bot(tmp_path) as h:
        searches = costly_searches(h.store, 0.0)
        results = await run(h, "search", query="diffusion")
        first = ids(results)
        for button in ("search:next", "search:previous", "search:next", "search:previous"):
            turn = await h.discord.click(results, button, user=h.discord.alice)
            assert (await turn.response()).type == 7
        assert ids(results) == first
        assert searches.asked == 2  # the search and page 2; the rest came from memory


async def test_page_turns_have_a_cooldown(tmp_path: Path) -> None:
    async with search_bot(tmp_path) as h:
        cog(h).page_turns = Buckets(30.0, 5, clock=lambda: 0.0)  # a frozen clock: no refill
        results = await run(h, "search", query="model")  # 110 results, 22 pages
        for _ in range(5):
            turn = await h.discord.click(results, "search:next", user=h.discord.alice)
            assert (await turn.response()).type == 7
        assert footer(results).startswith("Results 26–30")
        refusal = await (await h.discord.click(results, "search:next")).response()
        assert refusal.ephemeral and SLOW_DOWN.fullmatch(refusal.content)
        assert footer(results).startswith("Results 26–30")
        back = await h.discord.click(results, "search:previous")  # seen before: still allowed
        assert (await back.response()).type == 7
        assert footer(results).startswith("Results 21–25")

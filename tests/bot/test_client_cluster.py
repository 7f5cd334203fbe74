"""The bot among several processes: leader-only work, and health problems kept in the store,
so one problem is reported once and cleared once, whichever processes see it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.client import Paperboy
from bot.config import Config
from bot.health import Change
from bot.hf.source import HFSource
from bot.store import SQLiteStore


async def test_two_processes_report_a_problem_once_and_its_end_once(tmp_path: Path) -> None:
    config = Config()
    async with (
        SQLiteStore(tmp_path / "p.db") as store_a,
        SQLiteStore(tmp_path / "p.db") as store_b,
        aiohttp.ClientSession() as session,
    ):
        heard: list[tuple[str, bool]] = []
        bots = []
        for name, store in (("a", store_a), ("b", store_b)):
            bot = Paperboy(config=config, store=store, source=HFSource(session, config.huggingface))

            async def on_health_change(change: Change, name: str = name) -> None:
                heard.append((name, change.started))

            bot.add_listener(on_health_change, "on_health_change")
            bots.append(bot)
        a, b = bots
        await a.__aenter__()  # the client's loop, without logging in
        await b.__aenter__()

        async def settled() -> None:
            for bot in bots:
                await asyncio.gather(*bot._tasks)  # the store writes
            for _ in range(3):
                await asyncio.sleep(0)  # the listeners run as tasks of their own

        a.report_health("digest:1", "The digest in <#1> fails.", 7)
        await settled()
        b.report_health("digest:1", "The digest in <#1> fails.", 7)
        await settled()
        assert heard == [("a", True)]
        assert [p.message for p in await b.active_problems(7)] == ["The digest in <#1> fails."]
        assert await b.active_problems(8) == []
        b.report_health("digest:1", None, 7)  # b delivered there since: it clears a's problem
        await settled()
        a.report_health("digest:1", None, 7)
        await settled()
        assert heard == [("a", True), ("b", False)]
        assert await a.active_problems(7) == []
        await a.__aexit__(None, None, None)
        await b.__aexit__(None, None, None)


async def test_leader_only_jobs_run_only_while_this_process_leads(tmp_path: Path) -> None:
    config = Config()
    async with SQLiteStore(tmp_path / "p.db") as store, aiohttp.ClientSession() as session:
        bot = Paperboy(config=config, store=store, source=HFSource(session, config.huggingface))
        runs: list[str] = []

        async def scrape() -> None:
            runs.append("scrape")

        job = bot._leader_only(scrape)
        bot.member.leading = False
        await job()
        assert runs == []
        bot.member.leading = True
        await job()
        assert runs == ["scrape"]

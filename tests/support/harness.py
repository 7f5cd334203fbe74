"""The end-to-end test bed: the real bot against the fake Discord and fake Hugging Face servers."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import EXTENSIONS, point_discord_at
from bot.client import Paperboy, ShardedPaperboy
from bot.config import Config, parse_config
from bot.hf.source import HFSource
from bot.scraper import ScrapeReport
from bot.store import SQLiteStore, Store
from bot.store.postgres import PostgresStore
from tests.conftest import seed_items
from tests.fakes import fake_discord as fake_discord_module
from tests.fakes.fake_discord import FakeDiscord, capture_discord_errors
from tests.fakes.fake_hf import FakeHF
from tests.support import postgres

BACKENDS = ("sqlite", "postgresql")
# The store running_bot gives a test that names none (the store_backend fixture sets it).
default_backend = "sqlite"

# The day after the first seed list: a 7-day backfill brings in 2025-01-07.
DEFAULT_NOW = datetime(2025, 1, 8, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    """An injected clock tests move by hand."""

    now: datetime = DEFAULT_NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class BotUnderTest(Paperboy):
    """The real bot, minus discord.py's 5 s pause before re-identifying."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


class ShardedBotUnderTest(ShardedPaperboy):
    """The real sharded bot ([discord] shard_count set), identify turns as shipped: the fake
    checks them when its identify_window is set."""


@dataclass
class Harness:
    """Everything a test needs: the running bot, both fakes, the store and the clock."""

    discord: FakeDiscord
    hf: FakeHF
    store: Store
    config: Config
    clock: Clock
    session: aiohttp.ClientSession
    extensions: Sequence[str] | None = None
    proxy: postgres.CuttableProxy | None = None  # with through_proxy: cut to lose the store
    bot: Paperboy = field(init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    async def start_bot(self, **options: Any) -> Paperboy:
        """Build and log in a fresh bot on the same store; wait until it is ready."""
        cls = ShardedBotUnderTest if self.config.discord.shards.sharded else BotUnderTest
        self.bot = cls(
            config=self.config,
            store=self.store,
            source=HFSource(self.session, self.config.huggingface),
            clock=self.clock,
            extensions=EXTENSIONS if self.extensions is None else self.extensions,
            guild_ready_timeout=0.05,
            **options,
        )
        self._task = asyncio.create_task(self.bot.start(self.config.discord.token or ""))
        ready = asyncio.create_task(self.bot.wait_until_ready())
        done, _ = await asyncio.wait({self._task, ready}, timeout=15, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raise what stopped the bot
            raise TimeoutError("the bot did not become ready")
        return self.bot

    async def stop_bot(self) -> None:
        """Close the bot as SIGTERM would."""
        await self.bot.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, 15)
            self._task = None

    async def restart(self) -> Paperboy:
        await self.stop_bot()
        return await self.start_bot()

    async def backfill_done(self, timeout: float = 10) -> None:
        """Wait until the start-up scrape and what runs after it (alert matching, rising
        posts) are over: a hook still going would match a list the test sets next, or an
        alert it adds, and send before the test does."""
        scrape = self.bot.scrape
        await self.discord.wait_for(
            lambda: (
                scrape.last is not None and not scrape._lock.locked() and not scrape._hook_tasks
            ),
            timeout,
            "the backfill and its hooks",
        )

    async def wait_for_scrape(self, runs: int = 1, timeout: float = 10) -> None:
        """Wait until the scraper job has finished `runs` more runs."""
        done = asyncio.Event()
        seen = 0

        async def finished(_report: ScrapeReport) -> None:
            nonlocal seen
            seen += 1
            if seen >= runs:
                done.set()

        self.bot.scrape.add_hook(finished)
        try:
            await asyncio.wait_for(done.wait(), timeout)
        finally:
            self.bot.scrape.remove_hook(finished)


def make_config(
    discord: FakeDiscord, hf: FakeHF, db: Path | str, /, **sections: dict[str, Any]
) -> Config:
    """A config pointing every base URL at the fakes, and [store] at `db` (a SQLite path or
    a PostgreSQL URL)."""
    raw: dict[str, dict[str, Any]] = {
        "discord": {"api_base_url": discord.api_base_url, "gateway_url": discord.gateway_url},
        "huggingface": {
            "base_url": hf.base_url,
            "poll_seconds": 3600,
            "timeout_seconds": 2,
            "max_retries": 1,
        },
        "store": store_section(db),
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    config = parse_config(raw)
    return replace(config, discord=replace(config.discord, token=discord.token))


def store_section(db: Path | str) -> dict[str, str]:
    """[store] for a SQLite path or a PostgreSQL URL."""
    return (
        {"url": db} if isinstance(db, str) and db.startswith("postgresql:") else {"path": str(db)}
    )


@contextlib.asynccontextmanager
async def store_location(tmp_path: Path, backend: str) -> AsyncIterator[Path | str]:
    """Where a test's store lives: a file in tmp_path, or a fresh PostgreSQL database."""
    if backend == "postgresql":
        async with postgres.server().database() as url:
            yield url
    else:
        yield tmp_path / "paperboy.db"


def open_store(location: Path | str, clock: Clock | None = None) -> Store:
    """The store at a location from store_location (not yet opened)."""
    if isinstance(location, str):
        return PostgresStore(location, clock=clock)
    return SQLiteStore(location, clock=clock)


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    backend: str | None = None,
    through_proxy: bool = False,
    extensions: Sequence[str] | None = None,
    now: datetime = DEFAULT_NOW,
    start: bool = True,
    **sections: dict[str, Any],
) -> AsyncIterator[Harness]:
    """Both fakes, a store (SQLite, or the store_backend fixture's), and the bot logged in;
    everything closed and checked afterwards. `through_proxy` (PostgreSQL): the bot reaches
    its database through `harness.proxy`, which the test can cut."""
    with capture_discord_errors() as discord_errors:
        async with contextlib.AsyncExitStack() as stack:
            discord = await stack.enter_async_context(FakeDiscord())
            hf = await stack.enter_async_context(FakeHF(copy.deepcopy(seed_items())))
            location = await stack.enter_async_context(
                store_location(tmp_path, backend or default_backend)
            )
            proxy = None
            if through_proxy:
                assert isinstance(location, str), "a proxy stands in front of PostgreSQL only"
                proxy = await stack.enter_async_context(postgres.CuttableProxy(location))
                location = proxy.proxied_url
            config = make_config(discord, hf, location, **sections)
            with fake_discord_module.point_discord_at(discord):
                point_discord_at(config.discord)  # the shipped code path sets both URLs
                clock = Clock(now)
                store = open_store(location, clock)
                async with store, aiohttp.ClientSession() as session:
                    harness = Harness(discord, hf, store, config, clock, session, extensions, proxy)
                    if start:
                        await harness.start_bot()
                    try:
                        yield harness
                    finally:
                        if harness._task is not None:
                            await harness.stop_bot()
            discord.assert_clean()
    discord_errors.assert_clean()

"""The composition root: open every resource, build the bot with them, close in reverse."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import aiohttp
import discord
import yarl

from bot.client import Paperboy
from bot.config import Config, DiscordConfig
from bot.errors import StoreError
from bot.hf.source import HFSource
from bot.store import make_store

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
# The bot's features, by module name: the runtime imports no feature itself.
EXTENSIONS = (
    "cogs.cards",
    "cogs.digest",
    "cogs.search",
    "cogs.alerts",
    "cogs.admin",
    "cogs.status",
    "cogs.similar",
    "cogs.follow",
)


def point_discord_at(config: DiscordConfig) -> None:
    """Send discord.py's REST calls and gateway connection to the configured URLs."""
    discord.http.Route.BASE = config.api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)


def run_bot(config: Config, *, sync_only: bool = False) -> int:
    """`paperboy run` / `paperboy sync`: the process's exit status, never a traceback."""
    if not config.discord.token:
        print(
            "paperboy: DISCORD_TOKEN is not set; export your bot token and try again",
            file=sys.stderr,
        )
        return EXIT_USAGE
    point_discord_at(config.discord)
    try:
        return asyncio.run(_main(config, sync_only=sync_only))
    except StoreError as e:
        print(f"paperboy: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except discord.LoginFailure:
        print("paperboy: Discord rejected the token (401 Unauthorized)", file=sys.stderr)
        return EXIT_FAILURE
    except discord.ConnectionClosed as e:
        # discord.py does not reconnect after these codes; 4004: the token was revoked.
        if e.code == 4004:
            print(
                "paperboy: Discord rejected the token (4004 authentication failed)", file=sys.stderr
            )
        else:
            print(
                f"paperboy: Discord closed the connection for good (code {e.code}: "
                f"{e.reason or 'no reason given'})",
                file=sys.stderr,
            )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


async def _main(config: Config, *, sync_only: bool) -> int:
    token = config.discord.token
    assert token is not None
    store = make_store(config.store.path)
    await store.open()
    try:
        async with aiohttp.ClientSession(
            headers={"User-Agent": config.huggingface.user_agent}
        ) as session:
            source = HFSource(session, config.huggingface)
            bot = Paperboy(
                config=config,
                store=store,
                source=source,
                extensions=EXTENSIONS,
                run_jobs=not sync_only,
            )
            async with bot:
                if sync_only:
                    await bot.login(token)
                    await bot.sync_commands(force=True)
                    print("paperboy: slash commands synced")
                    return EXIT_OK
                _close_on_signals(bot)
                await bot.start(token)
    finally:
        await store.close()
    log.info("paperboy stopped")
    return EXIT_OK


def _close_on_signals(bot: Paperboy) -> None:
    """SIGINT and SIGTERM close the bot cleanly; `start` then returns."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, bot, sig)


_closing: set[asyncio.Task[None]] = set()


def _on_signal(bot: Paperboy, sig: signal.Signals) -> None:
    log.info("received %s; shutting down", sig.name)
    task = asyncio.ensure_future(bot.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)

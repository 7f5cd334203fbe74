"""The composition root: open every resource, build the bot with them, close in reverse."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys

import aiohttp
import discord
import yarl

from bot.client import Paperboy, bot_class
from bot.config import Config, DiscordConfig
from bot.errors import ClusterConfigError, StoreError
from bot.hf.source import HFSource
from bot.memory import limit_malloc_arenas
from bot.store import make_store

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
# The bot's features, by module name: the runtime imports no feature itself.
EXTENSIONS = (
    "cogs.cards",
    "cogs.digest",
    "cogs.search",
    "cogs.alerts",
    "cogs.library",
    "cogs.reading",
    "cogs.watch",
    "cogs.rising",
    "cogs.admin",
    "cogs.status",
    "cogs.similar",
    "cogs.follow",
)
LOGIN_TIMEOUT_SECONDS = 30.0


class DiscordUnreachable(Exception):
    """Discord's API did not answer at start: the message names the URL and the cause."""


def network_cause(error: BaseException) -> str:
    """A network failure as a few words an operator can act on (DNS, refused, TLS, timeout)."""
    if isinstance(error, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup failed ({error.os_error.strerror or error.os_error})"
    if isinstance(error, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return f"TLS failed ({error})"
    if isinstance(error, aiohttp.ClientConnectorError):
        inner = error.os_error
        if isinstance(inner, ConnectionRefusedError):
            return "connection refused"
        if isinstance(inner, ssl.SSLError):
            return f"TLS failed ({inner})"
        return inner.strerror or str(inner) or type(inner).__name__
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error})"
    return str(error) or type(error).__name__


async def login(client: discord.Client, token: str, api_base_url: str) -> None:
    """Log in (and run the setup hook); DiscordUnreachable when the API cannot be reached."""
    try:
        async with asyncio.timeout(LOGIN_TIMEOUT_SECONDS):
            await client.login(token)
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        raise DiscordUnreachable(
            f"cannot reach Discord at {api_base_url}: {network_cause(e)}"
        ) from None


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
    limit_malloc_arenas()  # before the first thread
    try:
        return asyncio.run(_main(config, sync_only=sync_only))
    except (StoreError, ClusterConfigError) as e:
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
        elif e.code == 4010:
            print(
                f"paperboy: Discord refused shard {e.shard_id} (4010 invalid shard): check"
                " [discord] shard_count and shard_ids",
                file=sys.stderr,
            )
        elif e.code == 4011:
            print(
                "paperboy: Discord requires sharding (4011): the bot is in too many servers"
                " for one connection; set [discord] shard_count",
                file=sys.stderr,
            )
        else:
            print(
                f"paperboy: Discord closed the connection for good (code {e.code}: "
                f"{e.reason or 'no reason given'})",
                file=sys.stderr,
            )
        return EXIT_FAILURE
    except DiscordUnreachable as e:
        print(f"paperboy: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


async def _main(config: Config, *, sync_only: bool) -> int:
    token = config.discord.token
    assert token is not None
    store = make_store(config.store.location)
    await store.open()
    try:
        async with aiohttp.ClientSession(
            headers={"User-Agent": config.huggingface.user_agent}
        ) as session:
            source = HFSource(session, config.huggingface)
            bot = bot_class(config)(
                config=config,
                store=store,
                source=source,
                extensions=EXTENSIONS,
                run_jobs=not sync_only,
            )
            async with bot:
                if not sync_only:  # refused here if another process disagrees on shards
                    await bot.member.join_before_login()
                await login(bot, token, config.discord.api_base_url)
                if sync_only:
                    await bot.sync_commands(force=True)
                    print("paperboy: slash commands synced")
                    return EXIT_OK
                _close_on_signals(bot)
                # Once logged in, a lost connection is retried (with backoff), not fatal.
                await bot.connect(reconnect=True)
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

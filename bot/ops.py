"""Operations from the command line: doctor checks, the invite link, backups."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import discord

from bot.app import LOGIN_TIMEOUT_SECONDS, DiscordUnreachable, network_cause, point_discord_at
from bot.client import SCOPES, invite_link, needed_permissions
from bot.config import Config
from bot.errors import StoreError
from bot.store import Store, make_store

__all__ = ["SCOPES", "backup", "doctor", "dry_run", "invite_url", "needed_permissions"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name:<12} {self.detail}"


async def invite_url(config: Config) -> str:
    """The OAuth2 link that adds the bot with exactly its scopes and permissions."""
    point_discord_at(config.discord)
    async with discord.Client(intents=discord.Intents.none()) as client:
        await client.login(config.discord.token or "")
        app = await client.application_info()
    return invite_link(app.id)


async def doctor(config: Config) -> list[Check]:
    """Config, token, store integrity, and whether Hugging Face and Discord answer."""
    where = str(config.source) if config.source else "built-in defaults"
    checks = [Check("config", True, f"loaded from {where}")]
    checks.append(await _check_store(config))
    checks.append(await _check_hf(config))
    checks.append(await _check_discord(config))
    return checks


async def _check_store(config: Config) -> Check:
    store = make_store(config.store.location)
    try:
        await store.open()
        problems = await store.integrity_check()
        stats = await store.stats()
        details = await _server_details(store)
    except StoreError as e:
        return Check("store", False, str(e))
    except Exception as e:
        return Check("store", False, f"{config.store.shown}: {e}")
    finally:
        await store.close()
    if problems:
        return Check("store", False, "integrity_check: " + "; ".join(problems[:3]))
    return Check("store", True, f"{stats.location}: integrity ok{details}, {stats.papers:,} papers")


async def _server_details(store: Store) -> str:
    """For PostgreSQL: the server's version, the schema version and whether amcheck ran."""
    from bot.store.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        return ""
    server = await store.pool.fetchval("SHOW server_version")
    schema = await store.pool.fetchval("SELECT max(version) FROM schema_migrations")
    amcheck = await store.pool.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")
    indexes = "indexes checked by amcheck" if amcheck else "amcheck not installed"
    return f" (PostgreSQL {server}, schema {schema}, {indexes})"


async def _check_hf(config: Config) -> Check:
    url = f"{config.huggingface.base_url.rstrip('/')}/api/daily_papers"
    started = time.monotonic()
    try:
        async with (
            aiohttp.ClientSession(headers={"User-Agent": config.huggingface.user_agent}) as s,
            s.get(
                url,
                params={"limit": "1"},
                timeout=aiohttp.ClientTimeout(total=config.huggingface.timeout_seconds),
            ) as resp,
        ):
            await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as e:
        return Check("huggingface", False, f"{url}: {type(e).__name__} {e}".strip())
    ms = (time.monotonic() - started) * 1000
    return Check("huggingface", status == 200, f"{url}: HTTP {status} in {ms:.0f} ms")


async def _check_discord(config: Config) -> Check:
    if not config.discord.token:
        return Check("discord", False, "DISCORD_TOKEN is not set")
    point_discord_at(config.discord)
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(config.discord.token)
        user = client.user
        return Check(
            "discord", True, f"{config.discord.api_base_url}: token ok, logged in as {user}"
        )
    except discord.LoginFailure:
        return Check("discord", False, "the token was rejected (401 Unauthorized)")
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as e:
        return Check("discord", False, f"{config.discord.api_base_url}: {e}")
    finally:
        await client.close()


async def backup(config: Config, destination: str) -> tuple[str, int]:
    """Copy the store while the bot may be running; where the copy went and its size in bytes.

    BackupError, with nothing opened or written, if the destination is the store itself.
    """
    store = make_store(config.store.location)
    target = store.backup_target(destination)
    await store.open()
    try:
        await store.backup(target)
    finally:
        await store.close()
    return target, os.path.getsize(target)


async def dry_run(config: Config) -> list[str]:
    """`paperboy run --dry-run`: what a start would do, without starting anything.

    Opens the store (applying migrations), checks the token with one REST call and lists the
    jobs a start would schedule. LoginFailure: the token was refused; DiscordUnreachable:
    the API did not answer.
    """
    from bot.schedule import describe_schedule, next_post

    where = str(config.source) if config.source else "built-in defaults"
    lines = [f"config:  loaded from {where}"]
    store = make_store(config.store.location)
    await store.open()
    try:
        stats = await store.stats()
        subs = await store.subscriptions()
    finally:
        await store.close()
    newest = stats.newest_date.isoformat() if stats.newest_date else "none yet"
    lines.append(f"store:   {stats.location}: {stats.papers:,} papers, newest list {newest}")
    app = await _application(config)
    lines.append(f"discord: token ok for {app['name']} (application {app['id']})")
    hf = config.huggingface
    lines.append(
        f"would scrape {hf.base_url} every {hf.poll_seconds:g} s"
        f" (first run at start, back-filling {hf.backfill_days} days)"
    )
    now = datetime.now(UTC)
    for sub in subs:
        state = (
            f"failing: {sub.failing_reason}"
            if sub.failing_reason
            else (f"next {next_post(sub, now).isoformat(timespec='minutes')}")
        )
        lines.append(
            f"would post a digest in channel {sub.channel_id} (server {sub.guild_id}):"
            f" {describe_schedule(sub)}, top {sub.top}, {sub.style}; {state}"
        )
    if not subs:
        lines.append(
            "no digest channels yet: invite the bot with "
            f"{invite_link(int(str(app['id'])))}, then run /digest set in a channel"
        )
    lines.append("dry run: nothing was started")
    return lines


async def _application(config: Config) -> dict[str, object]:
    """GET /oauth2/applications/@me with the token: the one REST call a dry run makes."""
    base = config.discord.api_base_url.rstrip("/")
    url = f"{base}/oauth2/applications/@me"
    headers = {"Authorization": f"Bot {config.discord.token}"}
    try:
        async with (
            asyncio.timeout(LOGIN_TIMEOUT_SECONDS),
            aiohttp.ClientSession() as session,
            session.get(url, headers=headers) as resp,
        ):
            if resp.status == 401:
                raise discord.LoginFailure("Improper token has been passed.")
            if resp.status != 200:
                raise DiscordUnreachable(f"Discord answered {url} with HTTP {resp.status}")
            data: dict[str, object] = await resp.json()
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        raise DiscordUnreachable(f"cannot reach Discord at {base}: {network_cause(e)}") from None
    return data

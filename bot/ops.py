"""Operations from the command line: doctor checks, the invite link, backups."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import aiohttp
import discord

from bot.app import point_discord_at
from bot.config import Config
from bot.errors import StoreError
from bot.store import Store, make_store

SCOPES = ("bot", "applications.commands")


def needed_permissions() -> discord.Permissions:
    """Exactly what the features need: read and post in channels, embeds, digest threads."""
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        embed_links=True,
    )


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
    return discord.utils.oauth_url(app.id, permissions=needed_permissions(), scopes=SCOPES)


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

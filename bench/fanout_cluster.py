"""bench.fanout --processes N: the digest fan-out by real bot processes sharing PostgreSQL.

See bench/fanout.py. One process alone, then N, each against a fresh database of one
throwaway PostgreSQL server, the fake Discord enforcing 50 requests/s for the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bot.models import Subscription
from bot.store.postgres import PostgresStore
from tests.conftest import seed_papers
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF
from tests.support.postgres import PgServer

GLOBAL_LIMIT = 50
HEARTBEAT = 2.0  # [cluster] heartbeat_seconds for the bench processes
DEADLINE = 300.0


def _config(path: Path, discord: FakeDiscord, hf: FakeHF, url: str) -> Path:
    path.write_text(
        "[discord]\n"
        f'api_base_url = "{discord.api_base_url}"\n'
        f'gateway_url = "{discord.gateway_url}"\n'
        "[huggingface]\n"
        f'base_url = "{hf.base_url}"\n'
        "backfill_days = 0\n"
        "max_retries = 0\n"
        "[store]\n"
        f'url = "{url}"\n'
        "[cluster]\n"
        f"heartbeat_seconds = {HEARTBEAT}\n"
        "[logging]\n"
        'level = "WARNING"\n',
        encoding="utf-8",
    )
    return path


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def _seed(url: str, fake: FakeDiscord, channels: int) -> None:
    guild_ids = [fake.add_guild(f"guild {n}") for n in range(max(1, channels // 10))]
    channel_ids = [
        fake.add_text_channel(guild_ids[n // 10], f"papers-{n}") for n in range(channels)
    ]
    async with PostgresStore(url) as store:
        for day, papers in seed_papers().items():
            await store.ingest_day(day, papers)
        for n, channel_id in enumerate(channel_ids):
            # Due since midnight: each process's start-up catch-up posts the newest list.
            await store.save_subscription(
                Subscription(
                    int(channel_id),
                    int(guild_ids[n // 10]),
                    "00:00",
                    "UTC",
                    10,
                    created_at=datetime(2025, 1, 1, tzinfo=UTC),
                )
            )
    con = await asyncpg.connect(url)
    try:  # subscribed long ago (the store dates a new subscription's frequency to now)
        await con.execute(
            "UPDATE digest_subscriptions SET created_at = $1, frequency_since = $1",
            datetime(2025, 1, 1, tzinfo=UTC),
        )
    finally:
        await con.close()


async def _run(server: PgServer, channels: int, processes: int, tmp: Path) -> None:
    async with server.database() as url, FakeDiscord() as fake, FakeHF(days={}) as hf:
        await _seed(url, fake, channels)
        fake.global_rate_limit = GLOBAL_LIMIT
        fake.nonce_window = 0.0  # no help from Discord's nonce check: the leases alone
        config = _config(tmp / f"config{processes}.toml", fake, hf, url)
        procs = []
        logs = []
        for n in range(processes):
            log = (tmp / f"bot{processes}-{n}.log").open("wb")
            logs.append(log)
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "--config",
                    str(config),
                    "run",
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env={**os.environ, "DISCORD_TOKEN": fake.token},
                )
            )
        started = time.perf_counter()
        try:
            expected: int | None = None
            rss: dict[int, float] = {}
            while time.perf_counter() - started < DEADLINE:
                await asyncio.sleep(0.5)
                for p in procs:
                    rss[p.pid] = max(rss.get(p.pid, 0.0), _peak_rss_mb(p.pid))
                digest_msgs = [m for m in fake.messages if m.kind == "channel" and m.nonce]
                done = await _delivered(url)
                if done >= channels:
                    expected = len(digest_msgs)
                    break
            else:
                print(f"  TIMED OUT after {DEADLINE:.0f} s ({done}/{channels} digests)")
                for n in range(processes):
                    text = (tmp / f"bot{processes}-{n}.log").read_text(errors="replace")
                    print("\n".join(text.splitlines()[-15:]))
            msgs = [m for m in fake.messages if m.kind == "channel" and m.nonce]
            stamps = sorted(datetime.fromisoformat(m.created_at) for m in msgs)
            span = (stamps[-1] - stamps[0]).total_seconds() if stamps else float("nan")
            per_channel: dict[str, int] = {}
            for m in msgs:
                per_channel[m.channel_id] = per_channel.get(m.channel_id, 0) + 1
            floor = len(msgs) / GLOBAL_LIMIT
            print(f"processes:           {processes}")
            print(f"digests delivered:   {done}/{channels}, messages {expected}")
            twice = sum(1 for n in per_channel.values() if n > 1)
            print(f"channels posted to more than once: {twice}   (nonce check off; target 0)")
            print(f"first to last digest message: {span:.2f} s")
            print(f"floor (msgs / 50/s): {floor:.2f} s")
            print(f"ratio to floor:      {span / max(floor, 1e-9):.2f}x   (target <= 1.5x)")
            print(f"global 429s:         {fake.global_429s}   (target 0)")
            print(f"all 429s:            {len(fake.rate_limited)}")
            for p in procs:
                print(f"peak RSS pid {p.pid}:  {rss.get(p.pid, float('nan')):.1f} MB")
            if processes > 1:
                print(
                    f"leader fail-over:    {await _failover(url, procs):.2f} s   (target <= 30 s)"
                )
        finally:
            for p in procs:
                if p.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    await asyncio.wait_for(p.wait(), 30)
                except TimeoutError:
                    p.kill()
                    await p.wait()
            for log in logs:
                log.close()


async def _delivered(url: str) -> int:
    con = await asyncpg.connect(url)
    try:
        return int(
            await con.fetchval("SELECT count(*) FROM digest_deliveries WHERE state = 'sent'")
        )
    finally:
        await con.close()


async def _failover(url: str, procs: list[asyncio.subprocess.Process]) -> float:
    """kill -9 the leader; seconds until another live process is recorded as the leader."""
    con = await asyncpg.connect(url)
    try:
        leader = None
        deadline = time.perf_counter() + 30
        while leader is None and time.perf_counter() < deadline:
            leader = await con.fetchval("SELECT pid FROM cluster_processes WHERE leader")
            await asyncio.sleep(0.2)
        victim = next(p for p in procs if p.pid == leader)
        victim.kill()
        killed = time.perf_counter()
        await victim.wait()
        while time.perf_counter() - killed < 60:
            row = await con.fetchval(
                "SELECT pid FROM cluster_processes WHERE leader AND pid != $1"
                " AND last_seen > now() - interval '5 seconds'",
                leader,
            )
            if row is not None:
                return time.perf_counter() - killed
            await asyncio.sleep(0.1)
        return float("inf")
    finally:
        await con.close()


async def cluster_fanout(channels: int, processes: int) -> None:
    print(f"load average: {os.getloadavg()}")
    server = await asyncio.to_thread(PgServer.start)  # it runs its own loop to set up
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in sorted({1, processes}):
                print(f"--- {n} process{'es' if n > 1 else ''}, {channels} channels")
                await _run(server, channels, n, Path(tmp))
    finally:
        await asyncio.to_thread(server.stop)
    print(f"load average: {os.getloadavg()}")

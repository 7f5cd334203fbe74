"""Fault injection for tests/test_faults.py: what the fakes cannot do on their own.

- `RestFaults`: Discord REST errors the fake never makes by itself (5xx before or after Discord
  acted on the call, 401 for a token revoked mid-run).
- `BotProcess`: the real `python -m bot run` process against the fakes, to SIGKILL and restart.
- `WriteLock`: another process holding SQLite's write lock on the store file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.models import Listing
from bot.store import SQLiteStore
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF
from tests.support.harness import store_section

# ------------------------------------------------------------------------- Discord REST


@dataclass
class _RestFault:
    route: str
    status: int
    remaining: int
    after_handling: bool
    skip: int
    body: dict[str, Any] | None = None


@dataclass
class RestFaults:
    """Answers chosen REST calls to the fake Discord with an error status.

    `after_handling=True` lets the fake act first (the message exists) and then loses the
    answer, as when Discord's edge returns a 502 for a request the API did process.
    """

    fake: FakeDiscord
    injected: list[str] = field(default_factory=list)
    _pending: list[_RestFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The fake sends every REST call through `_answer`; wrap it on this instance only.
        self._answer = self.fake._answer
        self.fake._answer = self._intercept  # type: ignore[method-assign]

    def fail(
        self,
        route: str,
        status: int,
        *,
        count: int = 1,
        skip: int = 0,
        after_handling: bool = False,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer `count` calls whose "METHOD /path" contains `route` with `status` (and `body`,
        if given), after letting the first `skip` of them through."""
        self._pending.append(_RestFault(route, status, count, after_handling, skip, body))

    async def _intercept(self, request: web.Request, record: Any, files: Any) -> web.Response:
        key = f"{record.method} {record.path}"
        fault = next((f for f in self._pending if f.remaining and f.route in key), None)
        if fault is not None and fault.skip:
            fault.skip -= 1
            fault = None
        if fault is None:
            return await self._answer(request, record, files)
        fault.remaining -= 1
        self.injected.append(f"{key} -> {fault.status}")
        if fault.after_handling:
            await self._answer(request, record, files)
        body = fault.body or {"message": f"{fault.status}: injected by the test", "code": 0}
        return web.Response(
            body=json.dumps(body).encode(),
            status=fault.status,
            headers={"Content-Type": "application/json"},
        )


def revoke_token(fake: FakeDiscord) -> None:
    """The token stops working, as when it is reset in the Developer Portal.

    From now on the fake answers REST calls with the old token with 401, and a RESUME or
    IDENTIFY with it fails (op 9, close 4004).
    """
    fake._token = "revoked-" + fake._token


# ------------------------------------------------------------------------- the process


def write_config(
    path: Path, discord: FakeDiscord, hf: FakeHF, db: Path | str, /, **sections: Any
) -> Path:
    """A config.toml for `python -m bot` pointing at the fakes; `sections` add or override."""
    raw: dict[str, dict[str, Any]] = {
        "discord": {"api_base_url": discord.api_base_url, "gateway_url": discord.gateway_url},
        "huggingface": {"base_url": hf.base_url, "backfill_days": 2, "max_retries": 0},
        "store": store_section(db),
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    lines = []
    for name, values in raw.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class BotProcess:
    """`python -m bot run` as a real process; stderr of every run is appended to `log`."""

    config: Path
    log: Path
    token: str
    env: dict[str, str] = field(default_factory=dict)  # more environment (PAPERBOY_SHARD_IDS)
    runs: int = 0
    proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> BotProcess:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Never leave a bot running after a test, whatever happened."""
        if self.running:
            await self.kill()

    async def start(self) -> asyncio.subprocess.Process:
        """Start the bot (the previous run must be over)."""
        assert self.proc is None or self.proc.returncode is not None, "still running"
        self.runs += 1
        with self.log.open("ab") as log:
            log.write(f"----- run {self.runs}\n".encode())
            log.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(self.config),
                "run",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "DISCORD_TOKEN": self.token, **self.env},
            )
        return self.proc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()

    async def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as systemd or docker stop would; returns the exit status."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def wait(self, timeout: float) -> int:
        """Wait for the process to exit on its own."""
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def tail(self, lines: int = 40) -> str:
        """The end of the log, for failure messages."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


async def kill_repeatedly(
    bot: BotProcess,
    discord: FakeDiscord,
    progress: Callable[[], int],
    *,
    kills: int,
    most_per_run: int,
    rng: random.Random,
) -> list[int]:
    """Start the bot and SIGKILL it `kills` times, each time at a random moment of its work.

    Each run is killed once `k` more messages (as counted by `progress`) reached Discord, k
    drawn from 0..most_per_run (0: during start-up), at once (about half the time: before
    the bot even read Discord's answer) or a few random milliseconds later, so the kill lands
    anywhere between a send and its bookkeeping. Returns the progress at each kill.
    """
    at_kill = []
    for _ in range(kills):
        wanted = rng.randint(0, most_per_run)
        pause = max(0.0, rng.uniform(-0.02, 0.02)) if wanted else rng.uniform(0.05, 0.8)
        await _start_and_kill(bot, discord, progress, wanted, pause)
        at_kill.append(progress())
    return at_kill


async def _start_and_kill(
    bot: BotProcess,
    discord: FakeDiscord,
    progress: Callable[[], int],
    wanted: int,
    pause: float,
) -> None:
    before = progress()
    await bot.start()

    def arrived() -> bool:
        return progress() - before >= wanted or not bot.running

    await discord.wait_for(arrived, 20, f"{wanted} more messages in run {bot.runs}")
    await asyncio.sleep(pause)
    assert bot.running, f"run {bot.runs} exited by itself:\n{bot.tail()}"
    await bot.kill()


# ------------------------------------------------------------------------- the store


LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN " + sys.argv[2])
db.execute("INSERT INTO meta (key, value) VALUES ('lock-holder', 'was here')"
           " ON CONFLICT (key) DO UPDATE SET value = excluded.value")
print("locked", flush=True)
sys.stdin.readline()  # hold the lock until the test says so
db.execute("COMMIT")
print("released", flush=True)
"""


@dataclass
class WriteLock:
    """Another process holding the store's write lock (BEGIN IMMEDIATE or EXCLUSIVE), with
    a write of its own, until `release()`."""

    db: Path
    mode: str = "EXCLUSIVE"
    proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> WriteLock:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LOCK_HOLDER,
            str(self.db),
            self.mode,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        assert line == b"locked\n", line
        return self

    async def release(self) -> None:
        """Commit the holder's transaction and let it exit."""
        assert self.proc is not None and self.proc.stdin is not None
        if self.proc.returncode is None:
            self.proc.stdin.write(b"go\n")
            await self.proc.stdin.drain()
        await asyncio.wait_for(self.proc.wait(), 20)
        assert self.proc.returncode == 0

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def count_rows(db: Path, sql: str) -> int:
    """A count read straight from the store file while the bot process runs (WAL readers
    never block it), e.g. to wait until every delivery is recorded."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return int(conn.execute(sql).fetchone()[0])


async def snapshot(store: SQLiteStore) -> dict[date, tuple[Listing, ...]]:
    """Every stored list, paper by paper (every field), to compare before and after a fault."""
    return {day: tuple(await store.day_listing(day)) for day in await store.list_dates()}

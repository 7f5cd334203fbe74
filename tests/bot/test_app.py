"""`paperboy run` and `paperboy sync` as real processes against the fake servers."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import SQLiteStore
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF
from tests.support.process import spawn

pytestmark = pytest.mark.slow  # every test starts the real process (python -m bot)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeHF]]:
    async with FakeDiscord() as discord, FakeHF() as hf:
        yield discord, hf
        discord.assert_clean()


def write_config(tmp_path: Path, discord: FakeDiscord, hf: FakeHF) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "[discord]\n"
        f'api_base_url = "{discord.api_base_url}"\n'
        f'gateway_url = "{discord.gateway_url}"\n'
        "[huggingface]\n"
        f'base_url = "{hf.base_url}"\n'
        "backfill_days = 2\n"
        "[store]\n"
        f'path = "{tmp_path / "paperboy.db"}"\n'
    )
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_logs_in_stays_up_and_stops_cleanly(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF], sig: signal.Signals
) -> None:
    discord, hf = fakes
    proc = await spawn(
        "--config", str(write_config(tmp_path, discord, hf)), "run", token=discord.token
    )
    try:
        await discord.wait_for(lambda: discord.identify_payloads, 20, "the bot to identify")
        await discord.wait_for(lambda: hf.requests, 20, "the first scrape")
        with pytest.raises(TimeoutError):  # still up: it does not exit on its own
            await asyncio.wait_for(asyncio.shield(proc.wait()), 0.5)
        assert discord.sync_count["global"] == 1
    finally:
        if proc.returncode is None:
            proc.send_signal(sig)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert discord.token not in (out + err).decode()
    async with SQLiteStore(tmp_path / "paperboy.db") as store:
        assert await store.integrity_check() == []


async def test_a_rejected_token_is_one_line_and_status_1(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    proc = await spawn(
        "--config", str(write_config(tmp_path, discord, hf)), "run", token="not-the-token"
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert err.decode().strip().splitlines()[-1] == (
        "paperboy: Discord rejected the token (401 Unauthorized)"
    )
    assert "Traceback" not in err.decode()


async def test_sync_forces_a_sync_and_exits(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    config = write_config(tmp_path, discord, hf)
    for expected in (1, 2):
        proc = await spawn("--config", str(config), "sync", token=discord.token)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, err.decode()
        assert "slash commands synced" in out.decode()
        assert discord.sync_count["global"] == expected
    assert "status" in [c["name"] for c in discord.commands["global"]]
    assert not hf.requests  # sync does no scraping

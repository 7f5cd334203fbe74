"""A first run that explains itself: `paperboy run` as a real process against the fakes."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import Subscription
from bot.store import SQLiteStore
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF
from tests.support.process import paperboy, spawn

pytestmark = pytest.mark.slow  # every test starts the real process (python -m bot)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeHF]]:
    async with FakeDiscord() as discord, FakeHF() as hf:
        yield discord, hf
        discord.assert_clean()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, api: str, gateway: str, hf: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[discord]\napi_base_url = "{api}"\ngateway_url = "{gateway}"\n'
        f'[huggingface]\nbase_url = "{hf}"\nbackfill_days = 1\n'
        f'[store]\npath = "{tmp_path / "paperboy.db"}"\n'
    )
    return path


async def test_discord_unreachable_at_start_is_one_line_and_status_1(tmp_path: Path) -> None:
    port = closed_port()
    api = f"http://127.0.0.1:{port}/api/v10"
    config = write_config(tmp_path, api, f"ws://127.0.0.1:{port}/", f"http://127.0.0.1:{port}")
    result = await paperboy("--config", str(config), "run", token="made.up.token", timeout=60)
    assert result.code == 1
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert lines[-1] == f"paperboy: cannot reach Discord at {api}: connection refused"
    assert not [line for line in lines if "voice" in line]


async def test_first_start_says_what_to_do_once_and_no_voice_warnings(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    config = write_config(tmp_path, discord.api_base_url, discord.gateway_url, hf.base_url)
    errs = []
    for _ in range(2):
        proc = await spawn("--config", str(config), "run", token=discord.token)
        try:
            await discord.wait_for(
                lambda: len(discord.identify_payloads) > len(errs), 20, "the bot to identify"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, err.decode()
        errs.append(err.decode())
    hint = "invite the bot with https://discord.com/oauth2/authorize?client_id="
    assert hint in errs[0] and "then run /digest set in a channel" in errs[0]
    assert hint not in errs[1]  # once
    for err in errs:
        assert "voice" not in err and "PyNaCl" not in err and "davey" not in err


async def test_dry_run_checks_and_lists_the_jobs_then_exits_0(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    config = write_config(tmp_path, discord.api_base_url, discord.gateway_url, hf.base_url)
    async with SQLiteStore(tmp_path / "paperboy.db") as store:
        await store.save_subscription(
            Subscription(111, 222, "08:30", "Europe/Berlin", 7, frequency="weekly", weekday=4)
        )
    before = len(discord.requests)
    result = await paperboy("--config", str(config), "run", "--dry-run", token=discord.token)
    assert result.code == 0, result.err
    assert "token ok" in result.out
    assert "would scrape" in result.out and "every 1800 s" in result.out
    assert "channel 111 (server 222): weekly on Friday at 08:30 Europe/Berlin" in result.out
    assert "nothing was started" in result.out
    assert len(discord.requests) - before == 1  # one REST call, no gateway, no sync
    assert not discord.identify_payloads and not hf.requests
    assert "Traceback" not in result.err and discord.token not in result.out + result.err


async def test_dry_run_with_a_bad_token_or_no_discord_is_one_line(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    config = write_config(tmp_path, discord.api_base_url, discord.gateway_url, hf.base_url)
    bad = await paperboy("--config", str(config), "run", "--dry-run", token="nope")
    assert bad.code == 1
    assert bad.err.strip() == "paperboy: Discord rejected the token (401 Unauthorized)"
    port = closed_port()
    api = f"http://127.0.0.1:{port}/api/v10"
    config = write_config(tmp_path, api, f"ws://127.0.0.1:{port}/", hf.base_url)
    down = await paperboy("--config", str(config), "run", "--dry-run", token="x")
    assert down.code == 1
    assert down.err.strip() == f"paperboy: cannot reach Discord at {api}: connection refused"

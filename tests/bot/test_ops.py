"""`paperboy doctor`, `invite-url` and `backup` as real processes against the fake servers."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from bot.client import heartbeat_key
from bot.ops import needed_permissions
from bot.store import SQLiteStore
from tests.conftest import seed_papers
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF
from tests.support.process import paperboy

pytestmark = pytest.mark.slow  # every test starts the real process (python -m bot)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeHF]]:
    async with FakeDiscord() as discord, FakeHF() as hf:
        yield discord, hf


def config_file(tmp_path: Path, discord: FakeDiscord, hf: FakeHF) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[discord]\napi_base_url = "{discord.api_base_url}"\n'
        f'gateway_url = "{discord.gateway_url}"\n'
        f'[huggingface]\nbase_url = "{hf.base_url}"\ntimeout_seconds = 2\n'
        f'[store]\npath = "{tmp_path / "p.db"}"\n'
    )
    return path


async def run(config: Path, *args: str, token: str) -> tuple[int, str, str]:
    result = await paperboy("--config", str(config), *args, token=token)
    return result.code, result.out, result.err


async def test_doctor_passes_when_all_is_well(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    code, out, err = await run(config_file(tmp_path, discord, hf), "doctor", token=discord.token)
    lines = out.strip().splitlines()
    assert code == 0, out + err
    assert [line.split()[:2] for line in lines] == [
        ["PASS", "config"],
        ["PASS", "store"],
        ["PASS", "huggingface"],
        ["PASS", "discord"],
    ]
    assert hf.requests[0].headers["User-Agent"].startswith("paperboy/")


async def test_doctor_fails_each_broken_thing(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    hf.inject("/api/daily_papers", 503, count=5)
    code, out, _ = await run(config_file(tmp_path, discord, hf), "doctor", token="wrong")
    assert code == 1
    failing = {line.split()[1] for line in out.splitlines() if line.startswith("FAIL")}
    assert failing == {"huggingface", "discord"}
    assert "rejected" in out and "wrong" not in out


async def test_invite_url_has_exactly_the_scopes_and_permissions(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    code, out, err = await run(
        config_file(tmp_path, discord, hf), "invite-url", token=discord.token
    )
    assert code == 0, err
    query = parse_qs(urlparse(out.strip()).query)
    assert query["client_id"] == [str(discord.application_id)]
    assert query["scope"] == ["bot applications.commands"]
    assert query["permissions"] == [str(needed_permissions().value)]


async def test_backup_while_the_store_is_open(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    config = config_file(tmp_path, discord, hf)
    async with SQLiteStore(tmp_path / "p.db") as live:  # the bot holds the store open
        for day, papers in seed_papers().items():
            await live.ingest_day(day, papers)
        code, out, err = await run(config, "backup", str(tmp_path / "copy.db"), token="")
        assert code == 0, err
        assert "backed up" in out
    copy = sqlite3.connect(tmp_path / "copy.db")
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT count(*) FROM papers").fetchone() == (147,)
    finally:
        copy.close()


async def test_healthcheck_follows_the_heartbeat(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    config = config_file(tmp_path, discord, hf)
    code, out, _ = await run(config, "healthcheck", token="")
    assert code == 1 and "no heartbeat" in out
    async with SQLiteStore(tmp_path / "p.db") as store:
        # Another host's process beating (several processes, one store) is not this one's.
        await store.set_meta("heartbeat:elsewhere", datetime.now(UTC).isoformat())
        code, out, _ = await run(config, "healthcheck", token="")
        assert code == 1 and "no heartbeat" in out
        await store.set_meta(heartbeat_key(), datetime.now(UTC).isoformat())
        code, out, _ = await run(config, "healthcheck", token="")
        assert code == 0 and "healthy" in out
        await store.set_meta(
            heartbeat_key(), (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
        )
    code, out, _ = await run(config, "healthcheck", token="")
    assert code == 1 and "unhealthy" in out

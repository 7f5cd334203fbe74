"""Interaction tokens never reach the log, even at DEBUG: the real bot against the fake Discord."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.logs import redact
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeHF]]:
    async with FakeDiscord() as discord, FakeHF() as hf:
        yield discord, hf


async def test_debug_logs_show_requests_but_not_interaction_tokens(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF]
) -> None:
    discord, hf = fakes
    config = tmp_path / "c.toml"
    config.write_text(
        f'[discord]\napi_base_url = "{discord.api_base_url}"\n'
        f'gateway_url = "{discord.gateway_url}"\n'
        f'[huggingface]\nbase_url = "{hf.base_url}"\nbackfill_days = 1\n'
        f'[store]\npath = "{tmp_path / "p.db"}"\n'
    )
    log = tmp_path / "bot.log"
    with log.open("wb") as out:  # a file, not a pipe: DEBUG output would fill a pipe and block
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "--log-level",
            "debug",
            "run",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env={**os.environ, "DISCORD_TOKEN": discord.token},
        )
    try:
        await discord.wait_for(lambda: discord.identify_payloads, 30, "the bot to identify")
        # /status answers in place (an interaction callback); /alert test defers, then
        # answers through the interaction's webhook.
        status = await discord.invoke("status", user=discord.admin)
        assert "paperboy status" in str((await status.final_message(15)).embeds)
        test = await discord.invoke("alert test", {"query": "grokking"}, user=discord.alice)
        assert "(not saved)" in (await test.final_message(15)).content
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    text = log.read_text(encoding="utf-8")

    assert proc.returncode == 0, text[-3000:]
    for inter in (status, test):
        assert inter.token not in text
        assert f"/interactions/{inter.id}/[token]/callback" in text  # the rest of the line stays
    assert f"POST {discord.api_base_url}/webhooks/{discord.application_id}/[token]" in text
    assert "'t': 'INTERACTION_CREATE'" in text and "'token': '[token]'" in text
    assert discord.token not in text


def test_redact_keeps_everything_but_the_tokens() -> None:
    secret = "Bot-SeCrEt"
    line = (
        "POST https://discord.com/api/v10/interactions/123/aW50ZXJhY3Rpb24.abc-_/callback"
        " with {'type': 5} has returned 204; PATCH /webhooks/9/tok.en_-/messages/@original;"
        ' payload {"token": "a\\"b", "id": "1"} and {\'token\': \'xyz\'}; login ' + secret
    )
    assert redact(line, secret) == (
        "POST https://discord.com/api/v10/interactions/123/[token]/callback"
        " with {'type': 5} has returned 204; PATCH /webhooks/9/[token]/messages/@original;"
        ' payload {"token": "[token]", "id": "1"} and {\'token\': \'[token]\'}; login [token]'
    )

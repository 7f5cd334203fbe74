"""F13: a scrape error never shows the configured URL, let alone a password in it.

Every server's health channel and /status say only that Hugging Face is unreachable; the
details stay in the operator's log and scrape record, with any `user:password@` taken out.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from bot.errors import without_userinfo
from bot.hf.source import HFSource
from bot.scraper import UNREACHABLE
from tests.support.harness import Harness, running_bot


def reports(h: Harness) -> list[str]:
    return [m.content for m in h.discord.messages_in("vision")]


def leaks(text: str, h: Harness) -> list[str]:
    port = h.hf.base_url.rsplit(":", 1)[1]
    return [s for s in ("secret", "user:", "127.0.0.1", port, "http") if s in text]


async def test_a_url_with_a_password_never_reaches_any_server_or_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_bot(tmp_path) as h:
        await h.backfill_done()
        await h.store.set_health_channel(
            int(h.discord.guild_id), int(h.discord.channel_id("vision"))
        )

        async def no_sleep(_seconds: float) -> None:
            return None

        # The operator's HF URL carries credentials, and every request to it times out.
        base_url = h.hf.base_url.replace("http://", "http://user:secret@")
        config = replace(
            h.config.huggingface, base_url=base_url, max_retries=1, timeout_seconds=0.2
        )
        h.bot.scraper.source = HFSource(h.session, config, sleep=no_sleep)
        h.hf.inject_delay("/", 5, count=10_000)
        await h.bot.scrape_job()
        await h.bot.scrape_job()
        await h.discord.wait_for(lambda: reports(h), 10, "the problem report")

        (problem,) = reports(h)
        assert UNREACHABLE in problem and leaks(problem, h) == []
        status = await (await h.discord.invoke("status", {}, user=h.discord.admin)).response()
        fields = {f["name"]: f["value"] for f in status.embeds[0]["fields"]}
        assert UNREACHABLE in fields["Problems"] and UNREACHABLE in fields["Last scrape"]
        assert leaks(str(status.embeds), h) == []

        # The operator still learns what happened, minus the password.
        record = (await h.store.stats()).last_scrape
        assert record is not None and "TimeoutError" in (record.error or "")
        assert "secret" not in (record.error or "")
        assert "TimeoutError for http://127.0.0.1:" in caplog.text
        assert "secret" not in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET http://user:secret@host:80/x failed", "GET http://host:80/x failed"),
        ("https://a:p@ss@host/x?q=a@b", "https://host/x?q=a@b"),
        ("HTTPS://token@host", "HTTPS://host"),
        ("http://host/path?mail=a@b.c", "http://host/path?mail=a@b.c"),
        ("mail a@b.c", "mail a@b.c"),
    ],
)
def test_userinfo_is_taken_out_of_urls(text: str, expected: str) -> None:
    assert without_userinfo(text) == expected

"""PostgreSQL lost while the bot runs: commands say "try again shortly", and work again after."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import seed_papers
from tests.support.harness import running_bot

pytestmark = pytest.mark.usefixtures("pg_server")


async def test_a_search_while_the_database_is_gone_says_try_again_shortly(
    tmp_path: Path,
) -> None:
    async with running_bot(
        tmp_path, backend="postgresql", through_proxy=True, extensions=["cogs.search"]
    ) as h:
        for day, papers in seed_papers().items():
            await h.store.ingest_day(day, papers)
        assert h.proxy is not None
        h.proxy.cut()
        inter = await h.discord.invoke("search", {"query": "grokking"}, user=h.discord.alice)
        message = await inter.final_message()
        assert "try again shortly" in message.content and not message.embeds
        h.proxy.restore()
        inter = await h.discord.invoke("search", {"query": "grokking"}, user=h.discord.bob)
        message = await inter.final_message()
        assert "try again" not in message.content and message.embeds

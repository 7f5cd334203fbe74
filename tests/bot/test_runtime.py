"""The runtime's wiring: the scrape job's completion hook, and the start-up gc freeze."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest

from tests.conftest import seed_items
from tests.support.harness import running_bot


async def test_each_scrape_starts_an_alert_run_through_its_completion_hook(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as h:
        await h.backfill_done()
        await h.store.add_alert(h.discord.alice.id, "grokking")
        h.hf.set_day("2025-01-08", copy.deepcopy(seed_items()["2025-11-28"]))
        await h.bot.scrape_job()  # no alert run is called here: the alerts cog's hook runs it
        await h.discord.wait_for(lambda: h.discord.dms_to(h.discord.alice), 10, "the alert DM")


async def test_start_up_work_is_frozen_for_the_collector_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.client"):
        async with running_bot(tmp_path) as h:

            def frozen() -> list[logging.LogRecord]:
                return [r for r in caplog.records if "start-up work done" in r.getMessage()]

            await h.discord.wait_for(frozen, 10, "the catch-up jobs")
            assert h.bot.scheduler is not None
            assert h.bot.scheduler.get_job("alerts:catch-up") is None  # it ran
            await h.bot.scrape_job()
            assert len(frozen()) == 1

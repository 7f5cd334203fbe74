"""`paperboy scrape` of a long range where no child process can be forked: the range is
still stored, analysed in the one process."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import pytest

import bot.store.sqlite.ahead as ahead_module
from bot import cli
from bot.config import load_config
from bot.store import SQLiteStore
from tests.conftest import seed_items
from tests.fakes.fake_hf import FakeHF


async def test_a_range_is_stored_when_no_child_can_be_forked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_fork() -> None:
        raise ValueError("cannot find context for 'fork'")

    monkeypatch.setattr(ahead_module, "IndexAhead", no_fork)
    async with FakeHF(json.loads(json.dumps(seed_items()))) as hf:
        path = tmp_path / "c.toml"
        path.write_text(
            f'[huggingface]\nbase_url = "{hf.base_url}"\n[store]\npath = "{tmp_path / "p.db"}"\n'
        )
        args = argparse.Namespace(date=None, since=date(2025, 3, 5), until=date(2025, 3, 11))
        assert await cli.cmd_scrape(load_config(path), args) == 0
    out = capsys.readouterr()
    assert "analysing in one process" in out.err
    assert "2025-03-11: 55 found, 55 new" in out.out
    async with SQLiteStore(tmp_path / "p.db") as store:
        assert len(await store.day_listing(date(2025, 3, 11))) == 55

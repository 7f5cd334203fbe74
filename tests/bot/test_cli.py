"""The `paperboy` command line, run as a real process against the fake Hugging Face server."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import seed_items
from tests.fakes.fake_hf import FakeHF
from tests.support.process import paperboy

pytestmark = pytest.mark.slow  # every test starts the real process (python -m bot)


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF(json.loads(json.dumps(seed_items()))) as fake:
        yield fake


@pytest.fixture
def config(tmp_path: Path, hf: FakeHF) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[huggingface]\nbase_url = "{hf.base_url}"\ntimeout_seconds = 2\nmax_retries = 1\n'
        f'[store]\npath = "{tmp_path / "p.db"}"\n'
    )
    return path


async def test_scrape_search_digest_status(config: Path) -> None:
    scraped = await paperboy(
        "scrape", "--since", "2025-01-06", "--until", "2025-01-08", "--config", str(config)
    )
    assert scraped.code == 0, scraped.err
    assert "2025-01-07: 26 found, 26 new, 0 updated" in scraped.out
    assert (
        "[3/3]" in scraped.out and "done: 3 dates, 26 papers found, 26 new, 0 failed" in scraped.out
    )

    again = await paperboy("--config", str(config), "scrape", "--date", "2025-01-07")
    assert "2025-01-07: 26 found, 0 new, 0 updated" in again.out

    found = await paperboy("--config", str(config), "search", '"lazy to rich"', "--json")
    first = json.loads(found.out.splitlines()[0])
    assert first["title"] == "Grokking as the Transition from Lazy to Rich Training Dynamics"
    assert first["list_date"] == "2025-01-07"
    assert first["url"] == f"https://huggingface.co/papers/{first['id']}"
    assert isinstance(first["upvotes"], int)

    table = await paperboy("search", "grokking", "--sort", "upvotes", "--config", str(config))
    assert table.code == 0 and "1 papers match" in table.out and "Lazy to Rich" in table.out

    digest = await paperboy("digest", "--top", "3", "--config", str(config))
    assert digest.code == 0, digest.err
    assert digest.out.startswith("Daily Papers 2025-01-07: top 3 of 26 papers")

    status = await paperboy("status", "--config", str(config))
    assert "papers:          26" in status.out
    assert "2025-01-07 .. 2025-01-07 (1 lists)" in status.out


async def test_scrape_exits_nonzero_when_a_date_fails(config: Path, hf: FakeHF) -> None:
    hf.inject("/", 500, count=100)
    result = await paperboy("scrape", "--date", "2025-01-07", "--config", str(config))
    assert result.code == 1
    assert "2025-01-07: ERROR" in result.out and "1 failed" in result.out
    assert "Traceback" not in result.err


async def test_search_errors_are_messages(config: Path) -> None:
    empty = await paperboy("search", '"', "--config", str(config))
    assert empty.code == 2 and "Nothing to search for" in empty.err
    assert "Traceback" not in empty.err
    nothing = await paperboy("search", "zzzqqq", "--config", str(config))
    assert nothing.code == 0 and "No papers match" in nothing.out


async def test_config_errors_stop_before_anything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[huggingface]\npoll_secs = 5\n")
    result = await paperboy("status", "--config", str(bad))
    assert result.code == 2 and "huggingface.poll_secs" in result.err
    assert not (tmp_path / "paperboy.db").exists()


async def test_run_without_a_token_says_so(tmp_path: Path) -> None:
    result = await paperboy("run", cwd=tmp_path)
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "paperboy: DISCORD_TOKEN is not set; export your bot token and try again"
    ]


async def test_status_lists_the_bot_processes(config: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.models import ClusterProcess
    from bot.store import SQLiteStore

    idle = await paperboy("status", "--config", str(config))
    assert "processes:       none running" in idle.out
    now = datetime.now(UTC)
    async with SQLiteStore(tmp_path / "p.db") as store:
        await store.register_process(
            ClusterProcess("host:1", "host", 1, 2, (0,), now, now), live_within=30
        )
        await store.process_heartbeat("host:1", leader=True)
    status = await paperboy("status", "--config", str(config))
    assert status.code == 0, status.err
    assert "processes:       host:1 (leader): shard 0 of 2" in status.out
    assert "no live process holds shard 1" in status.out


async def test_a_long_range_is_stored_as_date_by_date(tmp_path: Path, hf: FakeHF) -> None:
    """A range of a week or more has its search rows analysed ahead in a second process
    (bot.store.sqlite.ahead): the store holds what scraping each date alone stores."""
    stores = {}
    for name, dates in (
        ("range", ["--since", "2025-03-05", "--until", "2025-03-11"]),
        ("date", ["--date", "2025-03-11"]),
    ):
        path = tmp_path / f"{name}.toml"
        stores[name] = tmp_path / f"{name}.db"
        path.write_text(
            f'[huggingface]\nbase_url = "{hf.base_url}"\n[store]\npath = "{stores[name]}"\n'
        )
        scraped = await paperboy("scrape", *dates, "--config", str(path))
        assert scraped.code == 0, scraped.err
        assert "2025-03-11: 55 found, 55 new, 0 updated" in scraped.out
        assert ("[7/7]" in scraped.out) == (name == "range")
    dumps = []
    for db_path in stores.values():
        with sqlite3.connect(db_path) as db:
            db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, papers_fts, instance)")
            dumps.append(
                (
                    db.execute("SELECT * FROM temp.v ORDER BY 1, 2, 3, 4").fetchall(),
                    db.execute(
                        "SELECT id, title, abstract, authors FROM papers ORDER BY id"
                    ).fetchall(),
                )
            )
    assert dumps[0][0] and dumps[0] == dumps[1]

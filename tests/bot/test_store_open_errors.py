"""A store that cannot be opened: one line, a non-zero exit, no hang; and files only we can read."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store import SQLiteStore
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF
from tests.support.process import paperboy

# Each makes the store at `db` (in a folder not yet made) unopenable, and says why.


def not_a_database(db: Path) -> str:
    db.parent.mkdir()
    db.write_text("these are not the pages you are looking for\n" * 100)
    return "file is not a database"


def wal_cannot_be_made(db: Path) -> str:
    """A store SQLite can read but not write next to (as a read-only folder would; root
    ignores file modes, so a folder in the -wal's place stands in for one)."""
    db.parent.mkdir()
    made = sqlite3.connect(db)
    made.execute("PRAGMA journal_mode = WAL")
    made.execute("CREATE TABLE t (x)")
    made.close()
    Path(f"{db}-wal").mkdir()
    return "unable to open database file"


def a_folder(db: Path) -> str:
    db.mkdir(parents=True)
    return "Is a directory"


def under_a_file(db: Path) -> str:
    db.parent.write_text("a file where the store's folder should be")
    return f"{db.parent}: Not a directory"


BROKEN: dict[str, Callable[[Path], str]] = {
    "not a database": not_a_database,
    "-wal cannot be made": wal_cannot_be_made,
    "a folder": a_folder,
    "under a file": under_a_file,
}
COMMANDS = {
    "run": ["run"],
    "status": ["status"],
    "backup": ["backup", "copy.db"],
    "scrape": ["scrape", "--date", "2025-01-07"],
    "search": ["search", "grokking"],
    "digest": ["digest"],
    "healthcheck": ["healthcheck"],
}


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeHF]]:
    async with FakeDiscord() as discord, FakeHF() as hf:
        yield discord, hf


def config_file(tmp_path: Path, db: Path, discord: FakeDiscord, hf: FakeHF) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[discord]\napi_base_url = "{discord.api_base_url}"\n'
        f'gateway_url = "{discord.gateway_url}"\n'
        f'[huggingface]\nbase_url = "{hf.base_url}"\ntimeout_seconds = 2\nmax_retries = 1\n'
        f'[store]\npath = "{db}"\n'
    )
    return path


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("broken", ["not a database", "-wal cannot be made"])
async def test_every_command_says_why_in_one_line_and_exits(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF], broken: str, command: str
) -> None:
    discord, hf = fakes
    db = tmp_path / "store" / "p.db"
    cause = BROKEN[broken](db)
    config = config_file(tmp_path, db, discord, hf)

    # A hang (a connection left open keeps its thread, and the process, alive) is a timeout.
    result = await paperboy(
        "--config", str(config), *COMMANDS[command], token=discord.token, cwd=tmp_path, timeout=30
    )

    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    assert result.err.strip().splitlines() == [f"paperboy: cannot open the store {db}: {cause}"]
    assert not discord.identify_payloads and not hf.requests  # nothing started
    assert not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize("broken", list(BROKEN))
async def test_doctor_reports_the_store_and_exits_1(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeHF], broken: str
) -> None:
    discord, hf = fakes
    db = tmp_path / "store" / "p.db"
    cause = BROKEN[broken](db)

    result = await paperboy(
        "--config", str(config_file(tmp_path, db, discord, hf)), "doctor", token=discord.token
    )

    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.err
    failing = [line for line in result.out.splitlines() if line.startswith("FAIL")]
    assert failing == [f"FAIL  store        cannot open the store {db}: {cause}"]


@pytest.mark.parametrize("broken", ["a folder", "under a file"])
async def test_status_says_why_for_paths_that_cannot_hold_a_store(
    tmp_path: Path, broken: str
) -> None:
    db = tmp_path / "store" / "p.db"
    cause = BROKEN[broken](db)
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{db}"\n')

    result = await paperboy("--config", str(config), "status", timeout=30)

    assert result.code == 1
    assert result.err.strip().splitlines() == [f"paperboy: cannot open the store {db}: {cause}"]


@pytest.mark.parametrize("broken", ["not a database", "-wal cannot be made"])
async def test_a_failed_open_closes_every_connection_it_made(tmp_path: Path, broken: str) -> None:
    db = tmp_path / "store" / "p.db"
    BROKEN[broken](db)
    threads = set(threading.enumerate())
    store = SQLiteStore(db)
    with pytest.raises(StoreError, match=f"cannot open the store {db}"):
        await store.open()
    for thread in set(threading.enumerate()) - threads:  # each connection's (non-daemon) thread
        thread.join(timeout=10)
        assert not thread.is_alive(), thread
    await store.close()  # and closing again is harmless


# -- file modes (F15) ----------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which files are created world-readable unless made private."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_store_and_its_wal_and_shm_are_private(tmp_path: Path, umask_022: None) -> None:
    db = tmp_path / "data" / "p.db"
    async with SQLiteStore(db) as store:
        await store.set_meta("k", "v")
        assert {mode(p) for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"))} == {0o600}


async def test_the_cli_creates_the_store_private(tmp_path: Path, umask_022: None) -> None:
    db = tmp_path / "p.db"
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{db}"\n')
    result = await paperboy("--config", str(config), "status")
    assert result.code == 0, result.err
    assert mode(db) == 0o600


async def test_a_store_others_can_read_is_made_private_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "p.db"
    async with SQLiteStore(db) as store:
        await store.set_meta("k", "v")
    db.chmod(0o644)
    caplog.set_level(logging.WARNING, "bot.store")
    async with SQLiteStore(db) as store:
        assert await store.get_meta("k") == "v"
        assert {mode(p) for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"))} == {0o600}
    assert [r.getMessage() for r in caplog.records] == [
        f"made {db}, {db}-wal, {db}-shm private to its owner: others could read it"
    ]

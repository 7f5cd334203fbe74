"""The SQLite store copies its write-ahead log into the store beside the writer, not in the
commit that fills it (a 15 MB write spent half its time there, holding the write lock)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.models import ScrapeRun
from bot.store import SQLiteStore
from bot.store.sqlite.connection import CHECKPOINT_BYTES, CHECKPOINT_HOLD_BYTES

MIB = 1024 * 1024
RUN = ScrapeRun(date(2025, 1, 7), datetime(2025, 1, 7, 9, tzinfo=UTC), True, 3, 3, 0, None)

BLOB = 6 * 1024 * 1024  # past CHECKPOINT_BYTES


def _big(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS big (b BLOB)")
    conn.execute("INSERT INTO big VALUES (randomblob(?))", (BLOB,))


async def test_a_big_write_returns_before_its_log_is_copied_then_it_is(tmp_path: Path) -> None:
    path = tmp_path / "paperboy.db"
    async with SQLiteStore(path) as store:
        await store._write(_big)
        # The commit did not copy the log into the store (SQLite's automatic checkpoint
        # would have): the store file is still small, the log holds the blob.
        assert os.path.getsize(path) < BLOB
        assert os.path.getsize(f"{path}-wal") > BLOB
        task = store._checkpointing
        assert task is not None  # ... and a checkpoint was started beside the writer
        await task
        assert os.path.getsize(path) > BLOB
        assert store._checkpointing is None
        # The next write starts the log over, cut back to CHECKPOINT_BYTES.
        await store._write(lambda conn: conn.execute("INSERT INTO big VALUES (x'00')"))
        assert os.path.getsize(f"{path}-wal") <= CHECKPOINT_BYTES
        assert store._checkpointing is None  # (a small log: no checkpoint)
        (count,) = await store._one("SELECT count(*) FROM big")
        assert count == 2


async def test_writes_through_the_transaction_start_checkpoints_too(tmp_path: Path) -> None:
    path = tmp_path / "paperboy.db"
    async with SQLiteStore(path) as store:
        async with store._transaction() as db:
            await db.execute("CREATE TABLE big (b BLOB)")
            await db.execute("INSERT INTO big VALUES (randomblob(?))", (BLOB,))
        task = store._checkpointing
        assert task is not None
        await task
        assert os.path.getsize(path) > BLOB
    # Closed while a checkpoint runs: it waits for it, and nothing is lost.
    async with SQLiteStore(path) as store:
        await store._write(_big)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM big").fetchone() == (2,)


def _blob(size: int) -> Callable[[sqlite3.Connection], None]:
    def work(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS big (b BLOB)")
        conn.execute("INSERT INTO big VALUES (randomblob(?))", (size,))

    return work


async def test_a_store_reached_through_a_symlink_is_checkpointed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").mkdir()
    real = tmp_path / "real" / "paperboy.db"
    real.touch()
    (tmp_path / "link" / "paperboy.db").symlink_to(real)
    async with SQLiteStore(tmp_path / "link" / "paperboy.db") as store:
        for _ in range(20):
            await store._write(_blob(MIB))
            await asyncio.sleep(0.05)  # idle: a checkpoint has time to run
        # SQLite names the log after the link's target: real/paperboy.db-wal
        assert os.path.getsize(f"{real}-wal") < 8 * MIB


async def test_back_to_back_writes_keep_the_log_bounded(tmp_path: Path) -> None:
    """Writes landing while a checkpoint runs keep the log from starting over: past
    CHECKPOINT_HOLD_BYTES the writes wait for a checkpoint."""
    path = tmp_path / "paperboy.db"
    async with SQLiteStore(path) as store:
        peak = 0
        for _ in range(300):  # 75 MiB in 256 KiB transactions (like `paperboy store copy`)
            await store._write(_blob(256 * 1024))
            peak = max(peak, os.path.getsize(f"{path}-wal"))
        assert peak < CHECKPOINT_HOLD_BYTES + 4 * MIB
        (count,) = await store._one("SELECT count(*) FROM big")
        assert count == 300


async def test_a_cancelled_write_still_starts_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "paperboy.db"
    async with SQLiteStore(path) as store:
        started = threading.Event()

        def slow(conn: sqlite3.Connection) -> None:
            started.set()
            time.sleep(0.2)
            _big(conn)

        write = asyncio.ensure_future(store._write(slow))
        await asyncio.to_thread(started.wait)
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        assert store._checkpointing is not None  # (the write committed whole)


async def test_past_the_hold_size_writes_wait_for_the_checkpoint(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "paperboy.db") as store:
        gate = asyncio.Event()

        async def checkpoint() -> None:  # a checkpoint that ends when the test says so
            await gate.wait()
            store._checkpointing = None
            store._hold = False

        store._hold = True
        store._checkpointing = asyncio.get_running_loop().create_task(checkpoint())
        writes = [
            asyncio.ensure_future(store._write(lambda conn: conn.execute("CREATE TABLE t (x)"))),
            asyncio.ensure_future(store.record_scrape(RUN)),
        ]
        try:
            await asyncio.sleep(0.2)
            assert not any(w.done() for w in writes)
        finally:
            gate.set()
        await asyncio.gather(*writes)

"""The SQLite store copies its write-ahead log into the store beside the writer, not in the
commit that fills it (a 15 MB write spent half its time there, holding the write lock)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from bot.store import SQLiteStore
from bot.store.sqlite.connection import CHECKPOINT_BYTES

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

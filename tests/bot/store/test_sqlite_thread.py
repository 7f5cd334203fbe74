"""The SQLite store's writes run whole on the writer connection's thread (connection.on_thread,
which reaches into aiosqlite: these tests fail if a new aiosqlite breaks that)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import date

import pytest

from bot.models import Paper
from bot.store import SQLiteStore
from bot.store.sqlite.connection import on_thread

DAY = date(2025, 1, 7)


async def test_on_thread_runs_on_the_connections_thread_in_order(store: SQLiteStore) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def work(conn: sqlite3.Connection) -> int:
        seen.append(threading.get_ident())
        (value,) = conn.execute("SELECT 41 + 1").fetchone()
        return int(value)

    assert await on_thread(store.db, work) == 42
    await store.db.execute("CREATE TEMP TABLE t (x)")  # an ordinary call on the same thread
    assert await on_thread(store.db, lambda c: c.execute("SELECT count(*) FROM t").fetchone())
    assert seen and seen[0] != loop_thread


async def test_on_thread_raises_what_the_work_raises(store: SQLiteStore) -> None:
    def fail(conn: sqlite3.Connection) -> None:
        conn.execute("SELECT * FROM no_such_table")

    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        await on_thread(store.db, fail)


async def test_a_failed_write_is_rolled_back_whole(store: SQLiteStore) -> None:
    await store.ingest_day(DAY, [Paper(id="2401.00010", title="Kept", abstract="A.")])

    def half(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE papers SET title = 'Changed'")
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        await store._write(half)
    assert not store.db.in_transaction
    stored = await store.get_paper("2401.00010")
    assert stored is not None and stored.paper.title == "Kept"
    # The store writes on afterwards.
    await store.ingest_day(DAY, [Paper(id="2401.00011", title="Next", abstract="B.")])
    assert (await store.stats()).papers == 2


async def test_a_cancelled_write_holds_the_write_lock_until_its_work_has_ended(
    store: SQLiteStore,
) -> None:
    # The work is on the writer's thread already and ends whole (here: committed). The
    # caller cancelled used to return at once with the lock free while it still ran, so
    # what the store writes "under the write lock" was not.
    await store.ingest_day(DAY, [Paper(id="2401.00010", title="Kept", abstract="A.")])
    began, ended = asyncio.Event(), threading.Event()
    loop = asyncio.get_running_loop()

    def slow(conn: sqlite3.Connection) -> None:
        loop.call_soon_threadsafe(began.set)
        time.sleep(0.3)
        conn.execute("UPDATE papers SET title = 'Changed'")
        ended.set()

    write = asyncio.create_task(store._write(slow))
    await asyncio.wait_for(began.wait(), 10)
    write.cancel()
    with pytest.raises(asyncio.CancelledError):
        await write
    assert ended.is_set() and not store._write_lock.locked()
    stored = await store.get_paper("2401.00010")
    assert stored is not None and stored.paper.title == "Changed"  # it ended whole

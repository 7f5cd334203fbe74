"""The SQLite migration runner: every file numbered above user_version, gaps allowed."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from bot.models import Author, Paper
from bot.query import parse_query
from bot.store import SQLiteStore
from bot.store.sqlite import connection


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


async def test_files_above_the_version_are_applied_in_order_across_a_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = connection._migrations()
    first_six = [(n, s) for n, s in real if n <= 6]
    monkeypatch.setattr(connection, "_migrations", lambda: first_six)
    async with SQLiteStore(tmp_path / "a.db"):
        pass
    assert user_version(tmp_path / "a.db") == 6
    # A newer program has 0011 but not 0007-0010 (they are merged later): 0011 still applies.
    gap = [*first_six, (11, "CREATE TABLE after_gap (x INTEGER);")]
    monkeypatch.setattr(connection, "_migrations", lambda: gap)
    async with SQLiteStore(tmp_path / "a.db"):
        pass
    assert user_version(tmp_path / "a.db") == 11
    with sqlite3.connect(tmp_path / "a.db") as db:
        assert db.execute("SELECT count(*) FROM after_gap").fetchone() == (0,)


async def test_0007_keeps_existing_deliveries_as_daily_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = connection._migrations()
    monkeypatch.setattr(connection, "_migrations", lambda: [(n, s) for n, s in real if n <= 6])
    async with SQLiteStore(tmp_path / "b.db"):
        pass
    with sqlite3.connect(tmp_path / "b.db") as db:
        db.execute(
            "INSERT INTO digest_subscriptions (channel_id, guild_id, post_time, timezone, top,"
            " created_at) VALUES (10, 1, '09:00', 'UTC', 5, '2025-01-01T00:00:00+00:00')"
        )
        db.execute(
            "INSERT INTO digest_deliveries (channel_id, list_date, state, started_at)"
            " VALUES (10, '2025-01-07', 'sending', '2025-01-08T09:00:00+00:00')"
        )
        db.execute(
            "INSERT INTO digest_parts (channel_id, list_date, part, payload, nonce, message_id)"
            " VALUES (10, '2025-01-07', 0, '{}', '42', 7)"
        )
    monkeypatch.setattr(connection, "_migrations", lambda: real)
    async with SQLiteStore(tmp_path / "b.db") as store:
        delivery = await store.get_delivery(10, date(2025, 1, 7))
        assert delivery is not None and delivery.kind == "day" and delivery.state == "sending"
        assert [(p.nonce, p.message_id) for p in delivery.parts] == [("42", 7)]
        sub = await store.get_subscription(10)
        assert sub is not None and (sub.frequency, sub.style) == ("daily", "cards")
        assert sub.frequency_since == sub.created_at
        assert await store.integrity_check() == []
    assert user_version(tmp_path / "b.db") == max(n for n, _ in real)
    with sqlite3.connect(tmp_path / "b.db") as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        (parts_sql,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'digest_parts'"
        ).fetchone()
        assert '"digest_deliveries"' in parts_sql  # the rename followed the foreign key


async def test_0015_keeps_the_credits_and_finds_stored_authors_without_name_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = connection._migrations()
    monkeypatch.setattr(connection, "_migrations", lambda: [(n, s) for n, s in real if n <= 14])
    async with SQLiteStore(tmp_path / "c.db"):
        pass
    now = "2025-01-01T00:00:00+00:00"
    with sqlite3.connect(tmp_path / "c.db") as db:
        db.executemany(
            "INSERT INTO papers (pk, id, title, authors, first_seen_at, updated_at)"
            " VALUES (?, ?, 'A title', ?, ?, ?)",
            [(1, "2501.00001", "Wei Li\nAda Lovelace", now, now), (2, "2501.00002", "", now, now)],
        )
        db.executemany(
            "INSERT INTO author_credits (paper_pk, position, name, surname, hf_user)"
            " VALUES (1, ?, ?, ?, ?)",
            [(1, "Wei Li", "Li", "weili-a"), (2, "Ada Lovelace", "Lovelace", None)],
        )
    monkeypatch.setattr(connection, "_migrations", lambda: real)
    async with SQLiteStore(tmp_path / "c.db") as store:
        assert await store.authors_starting("love") == [Author("Ada Lovelace", None, 1)]
        assert await store.authors_starting("wei") == [Author("Wei Li", "weili-a", 1)]
        assert await store.find_author("ada lovelace") == Author("Ada Lovelace", None, 1)
        assert await store.find_author("W. Li", "weili-a") == Author("Wei Li", "weili-a", 1)
        assert await store.integrity_check() == []
    with sqlite3.connect(tmp_path / "c.db") as db:
        indexed = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'author_credits'"
            " AND sql IS NOT NULL"
        ).fetchall()
        assert indexed == [("author_credits_user",)]  # no name or surname index to keep up


async def test_the_authors_index_is_written_again_with_the_search_index(tmp_path: Path) -> None:
    """A copied store has neither (`store copy` leaves papers_fts* to the target)."""
    async with SQLiteStore(tmp_path / "d.db") as store:
        await store.ingest_day(
            date(2025, 1, 7),
            [Paper(id="2501.00001", title="A", abstract="", authors=("Ada Lovelace",))],
        )
    with sqlite3.connect(tmp_path / "d.db") as db:
        db.execute("INSERT INTO papers_fts_authors (papers_fts_authors) VALUES ('delete-all')")
        db.execute("DELETE FROM meta WHERE key = 'search_analysis'")
    async with SQLiteStore(tmp_path / "d.db") as store:
        assert await store.authors_starting("ada") == [Author("Ada Lovelace", None, 1)]


def test_shipped_migrations_are_numbered_once_each_without_gaps() -> None:
    """Two branches picking the same number would make one of them never run."""
    numbers = [n for n, _ in connection._migrations()]
    assert numbers == list(range(1, len(numbers) + 1))


async def test_0017_has_papers_fts_merge_eight_segments_at_a_time_and_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = connection._migrations()
    monkeypatch.setattr(connection, "_migrations", lambda: [(n, s) for n, s in real if n <= 16])
    paper = Paper(id="2501.00001", title="Diffusion models", abstract="We diffuse.")
    async with SQLiteStore(tmp_path / "c.db") as store:
        await store.ingest_day(date(2025, 1, 6), [paper])
    monkeypatch.setattr(connection, "_migrations", lambda: real)
    async with SQLiteStore(tmp_path / "c.db") as store:
        page = await store.search(parse_query("diffusion"))
        assert [h.listing.paper.id for h in page.hits] == [paper.id]
    with sqlite3.connect(tmp_path / "c.db") as db:
        found = db.execute("SELECT v FROM papers_fts_config WHERE k = 'automerge'").fetchall()
    assert found == [(8,)]

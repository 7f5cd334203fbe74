"""What only the PostgreSQL store has: migrations under a lock, its server errors, its checks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest

from bot.errors import StoreError, StoreUnavailable
from bot.models import Author, OutboxRow, Paper
from bot.query import parse_query
from bot.store import make_store
from bot.store.postgres import PostgresStore
from bot.store.postgres import papers as pg_papers
from bot.store.postgres.connection import _migrations, connection_lost
from bot.store.postgres.fts import bucket_tsquery
from tests.bot.store.support import ids, migrated_below, paper, store_before
from tests.bot.store.test_contract_deferred import packed
from tests.support.postgres import CuttableProxy, PgServer

pytestmark = pytest.mark.usefixtures("pg_server")


def closed_port() -> int:
    """A local TCP port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_stores_starting_at_once_migrate_once_under_the_lock(pg_server: PgServer) -> None:
    async with pg_server.database(migrated=False) as url:
        stores = [PostgresStore(url) for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            connection = await asyncpg.connect(url)
            try:
                rows = await connection.fetch("SELECT version FROM schema_migrations")
            finally:
                await connection.close()
            assert sorted(r[0] for r in rows) == [n for n, _ in _migrations()]
            assert [await s.integrity_check() for s in stores] == [[]] * 4
        finally:
            await asyncio.gather(*(s.close() for s in stores))


async def test_a_second_open_applies_nothing_and_keeps_the_data(pg_server: PgServer) -> None:
    async with pg_server.database() as url:
        async with PostgresStore(url) as store:
            await store.set_meta("k", "v")
        async with PostgresStore(url) as store:
            assert await store.get_meta("k") == "v"


async def test_an_unreachable_server_is_one_line_naming_host_and_port() -> None:
    port = closed_port()
    store = make_store(f"postgresql://bot:s3cret@127.0.0.1:{port}/paperboy")
    with pytest.raises(StoreError) as raised:
        await store.open()
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message and "s3cret" not in message
    assert "\n" not in message


async def test_a_socket_folder_without_a_server_is_named() -> None:
    store = make_store("postgresql://bot@/paperboy?host=/nonexistent/socket")
    with pytest.raises(StoreError, match="/nonexistent/socket port 5432"):
        await store.open()


async def test_a_wrong_password_names_the_server_not_the_password(pg_server: PgServer) -> None:
    # The test cluster trusts everyone; a missing database stands in for a refusal.
    url = pg_server.url.replace("/postgres?", "/no_such_database?")
    with pytest.raises(StoreError, match="no_such_database") as raised:
        await PostgresStore(url).open()
    assert "\n" not in str(raised.value)


async def test_status_shows_the_url_without_its_password(pg_server: PgServer) -> None:
    async with pg_server.database() as url:
        secret = url.replace("postgresql://paperboy@", "postgresql://paperboy:s3cret@")
        async with PostgresStore(secret) as store:
            stats = await store.stats()
        assert "s3cret" not in stats.location and "paperboy@" in stats.location
        assert stats.size_bytes > 0


async def test_integrity_check_reports_a_schema_newer_than_the_code(pg_server: PgServer) -> None:
    async with pg_server.database() as url, PostgresStore(url) as store:
        assert await store.integrity_check() == []
        await store.pool.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (9999, now())"
        )
        (problem,) = await store.integrity_check()
        assert "9999" in problem


async def test_amcheck_checks_the_indexes_where_installed(pg_server: PgServer) -> None:
    async with pg_server.database() as url, PostgresStore(url) as store:
        await store.pool.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        await store.ingest_day(date(2025, 1, 7), [Paper("2401.00001", "T", "A.")])
        assert await store.integrity_check() == []


async def test_a_dropped_connection_is_retried_and_nothing_is_lost(
    pg_server: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        pg_server.database() as url,
        CuttableProxy(url) as proxy,
        PostgresStore(proxy.proxied_url, retry_seconds=10) as store,
    ):
        await store.set_meta("before", "1")
        proxy.cut()  # every pooled connection is gone; new ones fail for a moment
        asyncio.get_running_loop().call_later(0.5, proxy.restore)
        await store.set_meta("during", "2")  # waits, retries, succeeds
        assert "lost the connection to PostgreSQL" in caplog.text
        assert await store.get_meta("before") == "1" and await store.get_meta("during") == "2"
        alert = await store.add_alert(7, "grokking")
        assert [a.id for a in await store.user_alerts(7)] == [alert.id]  # once


async def test_an_alert_whose_commit_answer_was_lost_is_added_once(
    pg_server: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The server commits the new alert, but the connection drops before its answer: the
    store retries, finds the alert it made, and the person has it once."""
    async with (
        pg_server.database() as url,
        CuttableProxy(url) as proxy,
        PostgresStore(proxy.proxied_url, retry_seconds=10) as store,
    ):
        await store.add_alert(7, "diffusion")
        proxy.cut_after_commit()
        alert = await store.add_alert(7, "grokking")
        assert "lost the connection to PostgreSQL" in caplog.text
        assert [a.query for a in await store.user_alerts(7)] == ["diffusion", "grokking"]
        assert (await store.user_alerts(7))[-1] == alert
        await store.add_alert(7, "grokking")  # a second add of the same query is its own
        assert len(await store.user_alerts(7)) == 3


async def test_a_paused_transaction_frees_its_row_locks(pg_server: PgServer) -> None:
    """A process paused (SIGSTOP) inside a transaction holds its row locks until the server
    ends the transaction: another process can then write the row, and the paused one's work
    is rolled back and retried as a lost connection."""
    async with (
        pg_server.database() as url,
        PostgresStore(url, idle_in_transaction_seconds=0.3) as paused,
        PostgresStore(url) as other,
    ):
        await other.set_meta("lease", "a")
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)) as lost:
            async with paused._transaction() as con:
                await con.execute("UPDATE meta SET value = 'paused' WHERE key = 'lease'")
                # Meanwhile the row is locked: the other process waits, then gets it.
                start = asyncio.get_running_loop().time()
                await asyncio.wait_for(other.set_meta("lease", "b"), 10)
                assert asyncio.get_running_loop().time() - start >= 0.2
                await con.execute("SELECT 1")  # the paused process resumes
        assert connection_lost(lost.value), repr(lost.value)
        assert await other.get_meta("lease") == "b"  # the paused write never landed


async def test_a_server_gone_for_longer_is_try_again_shortly(pg_server: PgServer) -> None:
    async with (
        pg_server.database() as url,
        CuttableProxy(url) as proxy,
        PostgresStore(proxy.proxied_url, retry_seconds=0.5) as store,
    ):
        proxy.cut()
        with pytest.raises(StoreUnavailable, match="try again shortly"):
            await store.search(parse_query("grokking"))
        proxy.restore()
        assert (await store.search(parse_query("grokking"))).total == 0  # back by itself


async def test_migration_3_credits_the_papers_already_stored(pg_server: PgServer) -> None:
    async with pg_server.database(migrated=False) as url:
        connection = await migrated_below(url, 3)
        try:
            await connection.execute(
                "INSERT INTO papers (id, title, authors, first_seen_at, updated_at) VALUES"
                " ('2501.00001', 'T', E'Ada Lovelace\\nAlan Mathison Turing', now(), now()),"
                " ('2501.00002', 'U', '', now(), now())"
            )
        finally:
            await connection.close()
        async with PostgresStore(url) as store:
            assert await store.find_author("alan mathison turing") == Author(
                "Alan Mathison Turing", None, 1
            )
            assert await store.authors_starting("Turi") == [Author("Alan Mathison Turing", None, 1)]
            assert await store.authors_starting("Love") == [Author("Ada Lovelace", None, 1)]


PK_NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


async def _papers_at(store: PostgresStore, starts: list[int], title: str) -> None:
    """Paper n (2501.0000n, "spread pks <PK_NAMES[n]>", listed 2025-01-n+1) at pk starts[n]."""
    for n, start in enumerate(starts):
        await store.pool.execute(f"ALTER TABLE papers ALTER COLUMN pk RESTART WITH {start}")
        await store.ingest_day(
            date(2025, 1, n + 1),
            [paper(f"2501.{n:05d}", f"{title} {n}", abstract=f"spread pks {PK_NAMES[n]}")],
        )


async def test_search_finds_papers_spread_over_many_pk_buckets(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A narrow slice of the window asks GIN for its pk blocks only (8192 or 32768 pks a
    # block): a paper on either side of every slice boundary, in the first or last pk of a
    # block, is found, and newest first. Slices: (40958, 40960] and (32766, 40958] in blocks
    # of 8192, (16382, 32766] in one of 32768, then the rest.
    monkeypatch.setattr(pg_papers, "RANK_WINDOW", 4)
    monkeypatch.setattr(pg_papers, "WINDOW_SLICES", (2, 8194, 24578))
    starts = [1, 16382, 16383, 32766, 32767, 40958, 40959, 40960]
    names = PK_NAMES
    async with pg_server.database() as url, PostgresStore(url) as store:
        await _papers_at(store, starts, "Bucket walk")
        pks = [r[0] for r in await store.pool.fetch("SELECT pk FROM paper_search ORDER BY pk")]
        assert pks == starts
        everything = await store.search(parse_query("spread"), sort="newest", limit=10)
        assert ids(everything.hits) == [f"2501.{n:05d}" for n in (7, 6, 5, 4)]
        assert (everything.total, everything.capped) == (4, True)
        for n in range(len(starts)):  # each paper alone, wherever its pk is
            page = await store.search(parse_query(f"spread {names[n]}"))
            assert ids(page.hits) == [f"2501.{n:05d}"], n
        old = await store.search(
            parse_query("spread -hotel -golf -foxtrot -echo -delta"), sort="newest"
        )
        assert ids(old.hits) == [f"2501.{n:05d}" for n in (2, 1, 0)]


def test_a_wide_window_is_cut_into_slices_of_few_pk_blocks() -> None:
    # Every slice asks GIN for at most two pk blocks that hold it (no slice builds a bitmap
    # of the pk index); the slices run newest first, one after another, down to pk 0.
    for newest in (200_000, 131_072, 131_071, 40_960, 1_000_000):
        ranges = pg_papers._slice_ranges(newest)
        assert ranges[0][1] is None
        assert all(a[0] == b[1] for a, b in itertools.pairwise(ranges)), newest
        assert len(ranges) <= pg_papers.MAX_SLICES
        for low, high in ranges:
            if low is None:  # the rest: past MAX_SLICES, or in at most two blocks anyway
                assert (low, high) == ranges[-1]
                assert newest > 500_000 or bucket_tsquery(0, high or newest) is not None
                continue
            blocks = bucket_tsquery(low, newest if high is None else high)
            assert blocks is not None, (newest, low, high)
    assert pg_papers._slice_ranges(200_000)[-1] == (0, 32767)  # all in blocks, to pk 0


async def test_search_finds_papers_on_either_side_of_a_cut_slice(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The widest slice, (0, 75422], is cut at the 32768-pk blocks: (65535, 75422],
    # (32767, 65535], (0, 32767]; a paper in the first or last pk of each is found.
    monkeypatch.setattr(pg_papers, "RANK_WINDOW", 4)
    monkeypatch.setattr(pg_papers, "WINDOW_SLICES", (2, 8194, 24578))
    starts = [1, 32767, 32768, 65535, 65536, 75422, 75423, 100000]
    names = PK_NAMES
    async with pg_server.database() as url, PostgresStore(url) as store:
        await _papers_at(store, starts, "Cut walk")
        everything = await store.search(parse_query("spread"), sort="newest", limit=10)
        assert ids(everything.hits) == [f"2501.{n:05d}" for n in (7, 6, 5, 4)]
        for n in range(len(starts)):
            page = await store.search(parse_query(f"spread {names[n]}"))
            assert ids(page.hits) == [f"2501.{n:05d}"], n
        old = await store.search(parse_query("spread -hotel -golf -foxtrot -echo"), sort="newest")
        assert ids(old.hits) == [f"2501.{n:05d}" for n in (3, 2, 1, 0)]


async def test_the_rest_of_a_window_is_read_whole_or_in_slices_alike(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first slice is (32766, 40960]; what it holds says how the rest, pk <= 32766, is
    # read: whole where it may hold at most WHOLE_READ times as many matches as still wanted
    # (one match in 8194 pks: about 4 in the rest, 3 wanted), else in its slices, the next
    # cut where it may hold WANTED_MARGIN times the wanted (three matches, one wanted: cut
    # at 32766 - 5463), or left whole where the cut would be past it (two matches, two
    # wanted). Either way: the newest matches, the paper at pk 32766 included, the same
    # rows as one statement over every slice reads.
    monkeypatch.setattr(pg_papers, "RANK_WINDOW", 4)
    monkeypatch.setattr(pg_papers, "WINDOW_SLICES", (8194, 16386, 40000))
    starts = [1, 32765, 32766, 32767, 40000, 40958, 40959, 40960]
    reads: list[str] = []
    statement = pg_papers.window_statement

    def spy(*args: object, **kwargs: object) -> tuple[str, list[object]]:
        ranges = kwargs.get("ranges")
        assert isinstance(ranges, list)
        piece = ranges[0] == (27303, 32766)
        reads.append("whole" if ranges == [(None, 32766)] else "piece" if piece else "slices")
        return statement(*args, **kwargs)  # type: ignore[arg-type]

    cases = {
        "spread": ([7, 6, 5, 4], ["slices"]),
        "spread -hotel -golf": ([5, 4, 3, 2], ["slices", "piece"]),
        "spread -hotel -golf -foxtrot": ([4, 3, 2, 1], ["slices", "slices"]),
        "spread -hotel -golf -foxtrot -echo": ([3, 2, 1, 0], ["slices", "whole"]),
        "spread -hotel -golf -foxtrot -echo -delta": ([2, 1, 0], ["slices", "whole"]),
    }
    async with pg_server.database() as url, PostgresStore(url) as store:
        await _papers_at(store, starts, "Rest walk")
        monkeypatch.setattr(pg_papers, "window_statement", spy)
        for text, (newest_first, path) in cases.items():
            for sort in ("newest", "relevance"):
                reads.clear()
                page = await store.search(parse_query(text), sort=sort, limit=10)
                assert reads == path, (text, sort)
                found = ids(page.hits)
                expected = [f"2501.{n:05d}" for n in newest_first]
                assert (found if sort == "newest" else sorted(found)) == (
                    expected if sort == "newest" else sorted(expected)
                ), (text, sort)
                async with store.pool.acquire() as con, con.transaction():
                    sql, params = statement(parse_query(text), 40960, sort=sort)
                    whole = sorted(map(tuple, await con.fetch(sql, *params)))
                    parts = await pg_papers.read_window(con, parse_query(text), 40960, sort=sort)
                    assert sorted(map(tuple, parts)) == whole, (text, sort)


async def test_paper_search_follows_the_papers(pg_server: PgServer) -> None:
    # Migration 0006 copies the papers already stored; its trigger keeps the copy in step.
    async with pg_server.database(migrated=False) as url:
        await store_before(url, 7, "Grokking stored early", "Before the table.")
        async with PostgresStore(url) as store:
            assert ids((await store.search(parse_query("grokking"))).hits) == ["2501.00001"]
            await store.ingest_day(date(2025, 1, 2), [paper("2501.00001", "Renamed at last")])
            assert (await store.search(parse_query("grokking"))).hits == ()
            assert ids((await store.search(parse_query("renamed"))).hits) == ["2501.00001"]
            await store.ingest_day(date(2025, 1, 1), [paper("2501.00002", "Renamed too")])
            found = await store.search(parse_query("renamed"), sort="newest")
            assert ids(found.hits) == ["2501.00001", "2501.00002"]
            assert ids(
                (await store.search(parse_query("renamed"), until=date(2025, 1, 1))).hits
            ) == ["2501.00002"]
            await store.pool.execute("DELETE FROM papers WHERE id = '2501.00002'")
            assert await store.pool.fetchval("SELECT count(*) FROM paper_search") == 1


async def test_autovacuum_empties_the_search_indexes_pending_lists_after_a_day(
    pg_server: PgServer,
) -> None:
    # Every GIN lookup reads the whole pending list: autovacuum moves it into the index
    # after 100 new rows (a day's list), not after 20% of the table.
    async with pg_server.database() as url, PostgresStore(url) as store:
        for table in ("paper_search", "papers"):
            options = await store.pool.fetchval(
                "SELECT reloptions FROM pg_class WHERE oid = $1::regclass", table
            )
            assert "autovacuum_vacuum_insert_threshold=100" in options, table
            assert "autovacuum_vacuum_insert_scale_factor=0" in options, table


async def test_a_kept_part_committed_during_an_expansion_is_not_lost(pg_server: PgServer) -> None:
    """Identity ids are taken at insert and seen at commit: a part with a lower id that
    commits while an expansion of its bucket runs waits for the next call, not deleted."""
    async with pg_server.database() as url, PostgresStore(url) as store:
        other = await asyncpg.connect(url)
        try:
            late = other.transaction()
            await late.start()  # another process's defer: its id first, its commit last
            (part,) = packed([OutboxRow(64, "2501.00001", 1, "late")])
            await other.execute(
                "INSERT INTO alert_outbox_deferred (bucket, queued_at, names, packed,"
                " row_count) VALUES ($1, now(), $2, $3, $4)",
                part.bucket,
                part.names,
                part.packed,
                part.row_count,
            )
            await store.defer_alert_matches([], packed([OutboxRow(128, "2501.00002", 1, "b")]))
            transaction = store._transaction

            class CommitsTheOtherFirst:
                """The expansion's connection: the other transaction commits right after
                the expansion read its parts, before it queues them."""

                def __init__(self, con: Any) -> None:
                    self.con = con

                def __getattr__(self, name: str) -> Any:
                    return getattr(self.con, name)

                async def execute(self, sql: str, *args: Any) -> str:
                    if sql.startswith("INSERT INTO alert_outbox "):
                        await late.commit()
                    return str(await self.con.execute(sql, *args))

            @contextlib.asynccontextmanager
            async def committing_between() -> AsyncIterator[Any]:
                async with transaction() as con:
                    yield CommitsTheOtherFirst(con)

            store._transaction = committing_between  # type: ignore[method-assign]
            assert await store.expand_alert_matches() == (0, 1)
            store._transaction = transaction  # type: ignore[method-assign]
            assert await store.expand_alert_matches() == (0, 1)
            assert sorted(r.reason for r in await store.alert_outbox()) == ["b", "late"]
        finally:
            await other.close()

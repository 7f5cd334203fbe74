"""The PostgreSQL half of bench/search.py (`--store postgresql://...`).

The same cached corpus is copied into the PostgreSQL database once (`paperboy store copy`'s
code; later runs reuse it while it holds the same number of papers), then:
1. ingest: INGEST_DAYS new 200-paper days through `PostgresStore.ingest_day` on top of the
   corpus (removed again afterwards);
2. search: the same queries through `store.search(parse_query(q), limit=5)` and through the
   store's own statements on a bare asyncpg connection (raw), alternating who goes first.
"""

from __future__ import annotations

import heapq
import math
import operator
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import asyncpg

from bench.corpus import CorpusGenerator, weekdays
from bot.errors import QueryError
from bot.matching import highlights
from bot.query import parse_query
from bot.store import SQLiteStore
from bot.store.copy import copy_store
from bot.store.postgres import PostgresStore
from bot.store.postgres.papers import SEARCH_SETTINGS, read_window
from bot.store.postgres.rows import _PAPER_COLUMNS
from bot.text import snippet

INGEST_DAYS = 10
LIMIT = 5
# The store's statements (bot/store/postgres/papers.py), run on a bare connection.
PAGE_SQL = f"SELECT {_PAPER_COLUMNS}, p.pk FROM papers p WHERE p.pk = ANY($1)"


@dataclass(slots=True)
class Timed:
    text: str
    store_ms: list[float]
    raw_ms: list[float]
    too_broad: int = 0


@dataclass(frozen=True, slots=True)
class Summary:
    backend: str
    p50: float
    p95: float
    p99: float
    raw_p95: float
    ingest_median_ms: float
    too_broad: int


async def raw_search(conn: asyncpg.Connection, text: str) -> None:
    """The store's search in raw asyncpg: the settings (newest pk, estimated count), the
    window (`read_window`: one or two statements), IDF-weighted ranks, the page and its
    snippets, in one read-only transaction."""
    query = parse_query(text)
    async with conn.transaction(readonly=True):
        newest, estimated, *_ = await conn.fetchrow(SEARCH_SETTINGS, "1000")
        rows = await read_window(conn, query, newest)
        if not rows:
            return
        papers = max(estimated or 0, len(rows))
        counts = [sum(r[1][n] > 0 for r in rows) for n in range(len(rows[0][1]))]
        idf = [math.log((papers - df + 0.5) / (df + 0.5) + 1) for df in counts]
        scored = heapq.nsmallest(
            LIMIT, rows, key=lambda r: (-sum(map(operator.mul, idf, r[1])), -r[0])
        )
        pks = [r[0] for r in scored]
        wanted = highlights(query)
        for row in await conn.fetch(PAGE_SQL, pks):
            snippet(row[2], wanted)


async def load(url: str, sqlite_path: Path, papers: int) -> None:
    """The corpus into the PostgreSQL database, unless it already holds it."""
    async with PostgresStore(url) as pg:
        if (await pg.stats()).papers == papers:
            print(f"  PostgreSQL already holds the {papers:,} papers; reusing them")
            return
        print(f"  copying {papers:,} papers into PostgreSQL (once) ...", flush=True)
        started = time.perf_counter()
        async with SQLiteStore(sqlite_path) as lite:
            await copy_store(lite, pg, force=True)
        print(f"  copied in {time.perf_counter() - started:.0f} s", flush=True)
        await pg.pool.execute("VACUUM ANALYZE papers")
        await pg.pool.execute("VACUUM ANALYZE paper_search")


# The server settings that decide how much of the search data stays in PostgreSQL's own cache
# (docs/deploy.md, "Sizing the server"): always printed with the figures.
SETTINGS = ("shared_buffers", "effective_cache_size", "work_mem", "fsync")
SIZES = ("paper_search", "paper_search_text", "papers")


async def server_settings(url: str) -> str:
    """The server's version, SETTINGS and the sizes of the tables search reads."""
    con = await asyncpg.connect(url)
    try:
        version = await con.fetchval("SHOW server_version")
        shown = [f"{name} {await con.fetchval(f'SHOW {name}')}" for name in SETTINGS]
        sizes = [
            f"{name} {await con.fetchval('SELECT pg_size_pretty(pg_relation_size($1))', name)}"
            for name in SIZES
        ]
    finally:
        await con.close()
    return f"PostgreSQL {version}, {', '.join(shown)}; sizes: {', '.join(sizes)}"


async def ingest(url: str, last_day: date, first_id: int, seed: int) -> list[float]:
    """INGEST_DAYS new days on top of the corpus, each timed; then removed again."""
    generator = CorpusGenerator(seed + 1)
    days = list(weekdays(last_day + timedelta(days=1), INGEST_DAYS + 3))[1 : INGEST_DAYS + 1]
    times = []
    async with PostgresStore(url) as pg:
        try:
            for n, day in enumerate(days):
                batch = generator.day(day, first_id + n * 200, 200)
                started = time.perf_counter()
                await pg.ingest_day(day, batch)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            await pg.pool.execute("DELETE FROM papers WHERE list_date > $1", last_day)
            await pg.pool.execute("DELETE FROM listings WHERE list_date > $1", last_day)
    return times


async def search(url: str, queries: Sequence[str], rounds: int, papers: int) -> list[Timed]:
    """Each query through the store and raw, once per round; who goes first alternates."""
    results = [Timed(q, [], []) for q in queries]
    async with PostgresStore(url) as pg:
        raw = await asyncpg.connect(url)
        try:

            async def via_store(r: Timed) -> None:
                started = time.perf_counter()
                try:
                    await pg.search(parse_query(r.text), limit=LIMIT)
                except QueryError:
                    r.too_broad += 1
                r.store_ms.append((time.perf_counter() - started) * 1000)

            async def via_raw(r: Timed) -> None:
                started = time.perf_counter()
                try:
                    await raw_search(raw, r.text)
                except asyncpg.QueryCanceledError:
                    pass
                r.raw_ms.append((time.perf_counter() - started) * 1000)

            for round_ in range(rounds):
                for i, r in enumerate(results):
                    first, second = (
                        (via_raw, via_store) if (i + round_) % 2 else (via_store, via_raw)
                    )
                    await first(r)
                    await second(r)
        finally:
            await raw.close()
    return results


def summarise(
    backend: str, store: list[float], raw: list[float], ingest_ms: list[float], broad: int
) -> Summary:
    from bench.search import percentile

    return Summary(
        backend,
        percentile(store, 50),
        percentile(store, 95),
        percentile(store, 99),
        percentile(raw, 95),
        statistics.median(ingest_ms),
        broad,
    )


def side_by_side(rows: Sequence[Summary]) -> None:
    """The two backends' figures in one table (the issue's closing comparison)."""
    print("\nside by side (search through the store API, ms; ingest of one 200-paper day):")
    print(
        f"  {'backend':<12}{'p50':>8}{'p95':>8}{'p99':>8}{'raw p95':>9}{'store/raw':>11}"
        f"{'ingest':>9}{'too broad':>11}"
    )
    for s in rows:
        print(
            f"  {s.backend:<12}{s.p50:8.2f}{s.p95:8.2f}{s.p99:8.2f}{s.raw_p95:9.2f}"
            f"{s.p95 / s.raw_p95 if s.raw_p95 else 0:10.2f}x"
            f"{s.ingest_median_ms:9.1f}{s.too_broad:>11}"
        )
    print("  targets: p95 <= 30 ms and <= 1.2x raw; ingest <= 200 ms")


async def run_postgres(
    url: str,
    sqlite_path: Path,
    papers: int,
    last_day: date,
    queries: Sequence[str],
    rounds: int,
    seed: int,
    kinds: Sequence[str] = (),
) -> Summary:
    """Load, ingest and search on PostgreSQL; print its figures; return its summary."""
    from bench.search import HEADER, _row, percentile

    print(f"\nPostgreSQL: {url.split('@')[-1]}")
    await load(url, sqlite_path, papers)
    print(f"  server: {await server_settings(url)}")
    ingest_ms = await ingest(url, last_day, papers, seed)
    print(
        f"  ingest_day, one 200-paper day on top of {papers:,}: median"
        f" {statistics.median(ingest_ms):.1f} ms, max {max(ingest_ms):.1f} ms"
        f" ({len(ingest_ms)} days)"
    )
    await search(url, queries[:50], 1, papers)  # untimed warm-up
    results = await search(url, queries, rounds, papers)
    store = [statistics.median(r.store_ms) for r in results]
    raw = [statistics.median(r.raw_ms) for r in results]
    print(f"  search: {len(results)} queries, LIMIT {LIMIT}, median of {rounds} rounds per query")
    print(HEADER)
    print(_row("store.search(parse_query(q))", store))
    print(_row("raw asyncpg, same statements", raw))
    broad = sum(1 for r in results if r.too_broad)
    print(f"  'too broad' QueryError: {broad} queries")
    if kinds:
        print("  by kind of query (ms):")
        print(f"    {'kind':<16}{'n':>5}{'store p50':>11}{'p95':>9}{'raw p50':>10}{'p95':>9}")
        for kind in dict.fromkeys(kinds):
            s = [x for x, k in zip(store, kinds, strict=True) if k == kind]
            w = [x for x, k in zip(raw, kinds, strict=True) if k == kind]
            print(
                f"    {kind:<16}{len(s):>5}{percentile(s, 50):>11.2f}{percentile(s, 95):>9.2f}"
                f"{percentile(w, 50):>10.2f}{percentile(w, 95):>9.2f}"
            )
    print("  slowest 10 through the store:")
    for r in sorted(results, key=lambda r: statistics.median(r.store_ms), reverse=True)[:10]:
        print(
            f"    {statistics.median(r.store_ms):8.1f} ms store"
            f" {statistics.median(r.raw_ms):8.1f} ms raw  {r.text!r}"
        )
    return summarise("postgresql", store, raw, ingest_ms, broad)

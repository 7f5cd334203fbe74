"""Benchmark: ingest and full-text search on a store of N synthetic papers.

1. Builds (or reuses, from bench/out/) a store of N papers made by bench.corpus, ~200 per
   list date over consecutive weekdays, ingested through `SQLiteStore.ingest_day`, one call
   per day; reports the time per 200-paper day and the total build time.
2. Times realistic 1-3 word queries (see `make_queries`) through the real API path,
   `await store.search(parse_query(q), limit=5)`, and the same compiled FTS5 MATCH through
   a minimal raw sqlite3 statement on the same file, alternating which goes first. Each
   query runs once per round; a query's time is its median over the rounds.
3. Times the parts of the store's search separately (raw sqlite3, one round) to show where
   the store's time goes, and one cheaper formulation for comparison.

    .venv/bin/python -m bench.search [--papers 200000] [--queries 1000] [--rounds 3]
        [--store postgresql://...]   (the same on PostgreSQL, both backends side by side)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import random
import re
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from bench.corpus import CorpusGenerator, seed_papers, weekdays
from bot.errors import QueryError
from bot.matching import highlights
from bot.query import Query, parse_query
from bot.store import SQLiteStore
from bot.store.fts import (
    bm25_weight,
    compile_match,
    compile_titled,
    every_term,
    single_word,
    title_groups,
)
from bot.store.sqlite import RANK_WINDOW, _migrations
from bot.store.sqlite.day_write import FTS_TOTALS_SQL, fts_averages
from bot.store.sqlite.papers import _TITLED_SQL, HEADS_READ_LIMIT
from bot.store.sqlite.rows import _PAPER_COLUMNS, _PAPER_FIELDS
from bot.text import snippet, words

OUT = Path(__file__).resolve().parent / "out"
CORPUS_VERSION = 1  # bump when bench.corpus changes what it generates
PER_DAY = 200
FIRST_DAY = date(2022, 1, 3)
LIMIT = 5
TARGETS_MS = {50: 2.0, 95: 30.0, 99: 100.0}
INGEST_TARGET_MS = 200.0

BM25 = "bm25(papers_fts, 10.0, 1.0, 4.0, 2.0, 0.0)"
# The store's own statements, run through plain sqlite3: rank the newest RANK_WINDOW matches,
# then fetch the page's papers and cut their snippets. The difference to the store is its
# overhead.
WINDOW_SQL = (
    f"SELECT rowid, {BM25}, 0, '' FROM papers_fts WHERE papers_fts MATCH ?"
    " ORDER BY rowid DESC LIMIT ?"
)
PAGE_SQL = f"SELECT {_PAPER_COLUMNS}, p.pk FROM papers p WHERE p.pk IN ({{marks}})"
ABSTRACT_AT = _PAPER_FIELDS.split(", ").index("p.abstract")
# What the store did before ranking was windowed: bm25 over every match (for comparison).
RAW_SQL = f"SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? ORDER BY {BM25} LIMIT {LIMIT}"


COUNT_SQL = "SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?)"
HEADS_SQL = (
    "SELECT pk, freq, length, weight FROM papers_fts_heads WHERE stem = ?"
    " ORDER BY weight DESC, pk DESC LIMIT ?"
)
EXCLUDED_SQL = (
    "SELECT c.value FROM json_each(?) c WHERE EXISTS (SELECT 1 FROM papers_fts"
    " WHERE papers_fts MATCH ? AND rowid = c.value)"
)
TITLED_SQL = _TITLED_SQL
# The reference ranking: the same analysis and column weights, bm25 over every match.
REFERENCE_SQL = (
    f"SELECT p.id FROM (SELECT rowid AS pk, {BM25} AS score FROM papers_fts"
    " WHERE papers_fts MATCH ? ORDER BY score, rowid DESC LIMIT ?) AS t"
    " JOIN papers p ON p.pk = t.pk ORDER BY t.score, t.pk DESC"
)
AGREEMENT_K = 10


class RawSearch:
    """The store's search path in plain sqlite3: the same statements in the same order, with
    none of the store's asyncio, dataclasses or locks (SQLiteStore.search, step by step). The
    title counts are kept like the store keeps them; the heads it reads are those the store
    wrote (the store writes a word's the first time it is asked)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.title_counts: dict[str, int] = {}

    def count(self, match: str, cap: int) -> int:
        return int(self.conn.execute(COUNT_SQL, (match, cap)).fetchone()[0])

    def __call__(self, query: Query, match: str, wanted: frozenset[str]) -> None:
        stem = single_word(query)
        groups = title_groups(every_term(query)) if stem is None else []
        pks: list[int] | None = None
        titled: list[tuple] = []
        if (stem is not None or groups) and self.count(match, RANK_WINDOW + 1) > RANK_WINDOW:
            if stem is None:
                titled = self.titled(every_term(query), groups)  # as the store: "a OR b" as "a b"
                if len(titled) >= LIMIT:
                    pks = [r[0] for r in titled]
            else:
                pks = self.heads(stem, query)
        if pks is None:  # the window (with the title matches, when there were too few)
            found = self.conn.execute(WINDOW_SQL, (match, RANK_WINDOW)).fetchall()
            if titled:
                found = list({r[0]: r for r in [*titled, *found]}.values())
            found.sort(key=lambda r: (r[1], -r[0]))
            pks = [r[0] for r in found[:LIMIT]]
        if pks:
            marks = ", ".join("?" * len(pks))
            for row in self.conn.execute(PAGE_SQL.format(marks=marks), pks).fetchall():
                snippet(row[ABSTRACT_AT], wanted)

    def titled(self, query: Query, groups: list[list[list[str]]]) -> list[tuple]:
        counts = self.title_counts
        for test in {test for group in groups for term in group for test in term}:
            if test not in counts:
                counts[test] = self.count(test, 1 << 40)
        tests = min(
            ([min(term, key=counts.__getitem__) for term in group] for group in groups),
            key=lambda chosen: sum(map(counts.__getitem__, chosen)),
        )
        return self.conn.execute(TITLED_SQL, (compile_titled(query, tests), LIMIT)).fetchall()

    def heads(self, stem: str, query: Query) -> list[int] | None:
        excluding = compile_match(Query(groups=(query.excluded,))) if query.excluded else None
        (block,) = self.conn.execute(FTS_TOTALS_SQL).fetchone() or (None,)
        _, average = fts_averages(block)
        read = 2 * LIMIT + 20
        while True:
            rows = self.conn.execute(HEADS_SQL, (stem, read)).fetchall()
            pks = [r[0] for r in rows]
            kept: set[int] = set(pks)
            if excluding is not None:
                kept -= {
                    r[0] for r in self.conn.execute(EXCLUDED_SQL, (json.dumps(pks), excluding))
                }
            if len(kept) >= LIMIT or len(rows) < read:
                break
            if read >= HEADS_READ_LIMIT:
                return None
            read *= 4
        ranked = sorted(
            (r for r in rows if r[0] in kept),
            key=lambda r: (-(bm25_weight(r[1], r[2], average) if r[2] >= 0 else r[3]), -r[0]),
        )
        return [r[0] for r in ranked[:LIMIT]] if len(ranked) >= LIMIT else None


_STOPWORDS_TEXT = """
    a about above after again against all also although among an and any are as at be been
    before being below between both but by can could did do does doing down during each
    either et few for from further had has have having here how however if in into is it its
    itself just may might more most much must no nor not of off on once only or other our out
    over own per same should since so some such than that the their them then there these they
    this those through thus to too under until up upon very via was we were what when where
    whether which while who whom why will with within without would yet you your
    """
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


# -- building the store -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildStats:
    papers: int
    days: int
    first_day: str
    last_day: str
    generate_s: float
    ingest_s: float
    total_s: float
    ingest_ms: list[float]  # one per day, in order


def db_path(papers: int, seed: int) -> Path:
    # Named by the store's schema too: a store built by older code is never reused.
    schema = _migrations()[-1][0]
    return OUT / f"search-{papers}-seed{seed}-v{CORPUS_VERSION}-m{schema}.db"


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def build_store(path: Path, papers: int, seed: int) -> BuildStats:
    """Generate and ingest `papers` papers, one ingest_day call per list date."""
    building = path.with_suffix(".building.db")
    _remove_db(building)
    generator = CorpusGenerator(seed)
    days = math.ceil(papers / PER_DAY)
    ingest_ms: list[float] = []
    generate_s = 0.0
    list_dates = list(weekdays(FIRST_DAY, days))
    start = time.perf_counter()
    async with SQLiteStore(building) as store:
        for n, day in enumerate(list_dates):
            t0 = time.perf_counter()
            batch = generator.day(day, n * PER_DAY, min(PER_DAY, papers - n * PER_DAY))
            t1 = time.perf_counter()
            await store.ingest_day(day, batch)
            ingest_ms.append((time.perf_counter() - t1) * 1000)
            generate_s += t1 - t0
            if (n + 1) % 100 == 0 or n + 1 == days:
                print(
                    f"  built {min(papers, (n + 1) * PER_DAY):>9,} papers"
                    f"  {time.perf_counter() - start:6.1f} s"
                    f"  (last day's ingest {ingest_ms[-1]:.0f} ms)",
                    flush=True,
                )
    total_s = time.perf_counter() - start
    building.rename(path)
    stats = BuildStats(
        papers=papers,
        days=days,
        first_day=list_dates[0].isoformat(),
        last_day=list_dates[-1].isoformat(),
        generate_s=generate_s,
        ingest_s=sum(ingest_ms) / 1000,
        total_s=total_s,
        ingest_ms=ingest_ms,
    )
    path.with_suffix(".json").write_text(json.dumps(asdict(stats)), encoding="utf-8")
    return stats


def load_stats(path: Path) -> BuildStats | None:
    meta = path.with_suffix(".json")
    if not path.exists() or not meta.exists():
        return None
    return BuildStats(**json.loads(meta.read_text(encoding="utf-8")))


def db_size(path: Path) -> int:
    return sum(
        Path(f"{path}{suffix}").stat().st_size
        for suffix in ("", "-wal")
        if Path(f"{path}{suffix}").exists()
    )


# -- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchQuery:
    kind: str
    text: str


# How often each kind of query appears (weights sum to 100).
QUERY_MIX: dict[str, int] = {
    "1 mid word": 30,
    "2 mid words": 20,
    "3 words": 8,
    "1 rare word": 5,
    "1 common word": 10,
    "common + mid": 7,
    '"phrase"': 10,
    "a OR b": 5,
    "a -b": 5,
}


class Vocabulary:
    """Query words from the seed papers, banded by the share of papers that contain them.

    Within a band, a word is drawn in proportion to how often it occurs, so popular topics
    are searched more often, as they are in real use.
    """

    COMMON = 0.15  # in at least 15% of the seed papers
    MID = 0.02  # in 2% to 15%; rarer words are "rare"

    def __init__(self) -> None:
        papers = seed_papers()
        occurrences: Counter[str] = Counter()
        doc_freq: Counter[str] = Counter()
        phrases: Counter[tuple[str, str]] = Counter()
        for p in papers:
            tokens = [w for w in words(f"{p.title} {p.abstract}") if _is_query_word(w)]
            occurrences.update(tokens)
            doc_freq.update(set(tokens))
            for clause in re.split(r"[.,;:()\[\]]", f"{p.title}. {p.abstract}"):
                pairs = itertools.pairwise(words(clause))
                phrases.update(pair for pair in pairs if _is_phrase(*pair))
        n = len(papers)
        self.bands: dict[str, tuple[list[str], list[int]]] = {}
        for band, test in (
            ("common", lambda share: share >= self.COMMON),
            ("mid", lambda share: self.MID <= share < self.COMMON),
            ("rare", lambda share: share < self.MID),
        ):
            chosen = sorted(w for w, d in doc_freq.items() if test(d / n))
            self.bands[band] = (chosen, [occurrences[w] for w in chosen])
        frequent = sorted(p for p, c in phrases.items() if c >= 3)
        self.phrases = ([f"{a} {b}" for a, b in frequent], [phrases[p] for p in frequent])

    def sizes(self) -> dict[str, int]:
        return {band: len(ws) for band, (ws, _) in self.bands.items()} | {
            "phrases": len(self.phrases[0])
        }


def _is_query_word(word: str) -> bool:
    return len(word) >= 3 and word.isalpha() and word not in STOPWORDS


def _is_phrase(a: str, b: str) -> bool:
    return _is_query_word(a) and _is_query_word(b) and a != b


def make_queries(count: int, seed: int) -> list[BenchQuery]:
    """A fixed, seeded mix of the query kinds in QUERY_MIX."""
    rnd = random.Random(seed)
    vocab = Vocabulary()

    def pick(band: str, k: int = 1) -> list[str]:
        ws, weights = vocab.bands[band] if band != "phrase" else vocab.phrases
        out: list[str] = []
        while len(out) < k:  # distinct words
            (w,) = rnd.choices(ws, weights=weights)
            if w not in out:
                out.append(w)
        return out

    makers: dict[str, Callable[[], str]] = {
        "1 mid word": lambda: pick("mid")[0],
        "2 mid words": lambda: " ".join(pick("mid", 2)),
        "3 words": lambda: " ".join(pick("mid", 2) + pick(rnd.choice(["mid", "common"]))),
        "1 rare word": lambda: pick("rare")[0],
        "1 common word": lambda: pick("common")[0],
        "common + mid": lambda: " ".join(pick("common") + pick("mid")),
        '"phrase"': lambda: (
            f'"{pick("phrase")[0]}"' + (f" {pick('mid')[0]}" if rnd.random() < 0.3 else "")
        ),
        "a OR b": lambda: " OR ".join(pick("mid", 2)),
        "a -b": lambda: f"{pick(rnd.choice(['mid', 'common']))[0]} -{pick('mid')[0]}",
    }
    kinds = rnd.choices(list(QUERY_MIX), weights=list(QUERY_MIX.values()), k=count)
    return [BenchQuery(kind, makers[kind]()) for kind in kinds]


# -- timing -----------------------------------------------------------------------------------


@dataclass(slots=True)
class QueryTimes:
    query: BenchQuery
    match: str
    wanted: frozenset[str]  # the words its snippets highlight
    store_ms: list[float]
    raw_ms: list[float]
    total: int | None = None  # the store's total hits (None: too broad)
    too_broad: int = 0  # rounds in which the store gave up

    @property
    def store(self) -> float:
        return statistics.median(self.store_ms)

    @property
    def raw(self) -> float:
        return statistics.median(self.raw_ms)


async def time_queries(
    store: SQLiteStore, raw: sqlite3.Connection, queries: Sequence[BenchQuery], rounds: int
) -> list[QueryTimes]:
    """Each query through the store and raw, once per round; who goes first alternates."""
    raw_search = RawSearch(raw)
    results = []
    for q in queries:
        parsed = parse_query(q.text)
        results.append(QueryTimes(q, compile_match(parsed), highlights(parsed), [], []))

    async def via_store(r: QueryTimes) -> None:
        t0 = time.perf_counter()
        try:
            page = await store.search(parse_query(r.query.text), limit=LIMIT)
        except QueryError:
            r.store_ms.append((time.perf_counter() - t0) * 1000)
            r.too_broad += 1
            return
        r.store_ms.append((time.perf_counter() - t0) * 1000)
        r.total = page.total

    def via_raw(r: QueryTimes) -> None:
        t0 = time.perf_counter()
        raw_search(parse_query(r.query.text), r.match, r.wanted)
        r.raw_ms.append((time.perf_counter() - t0) * 1000)

    for round_ in range(rounds):
        for i, r in enumerate(results):
            if (i + round_) % 2:
                via_raw(r)
                await via_store(r)
            else:
                await via_store(r)
                via_raw(r)
        if rounds > 1:
            print(f"  round {round_ + 1}/{rounds} done", flush=True)
    return results


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _row(label: str, values: Sequence[float]) -> str:
    ps = "".join(f"{percentile(values, p):10.2f}" for p in (50, 95, 99))
    return f"  {label:<36}{ps}{max(values):10.2f}{statistics.fmean(values):10.2f}"


HEADER = f"  {'':<36}{'p50':>10}{'p95':>10}{'p99':>10}{'max':>10}{'mean':>10}   (ms)"


# -- where the store's time goes --------------------------------------------------------------


def breakdown(path: Path, results: Sequence[QueryTimes]) -> None:
    """Time the store's statements one by one, plus cheaper variants, with raw sqlite3.

    The store's SQL is rebuilt from its own fragments; they are private names, so this part
    is skipped if they change.
    """
    try:
        from bot.store.sqlite import _BM25, _PAPER_COLUMNS
    except ImportError:
        print("\nbreakdown skipped: bot.store.sqlite no longer has _BM25/_PAPER_COLUMNS")
        return
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    mapped = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    mapped.execute(f"PRAGMA mmap_size = {1 << 30}")
    mapped.execute("PRAGMA cache_size = -262144")  # 256 MiB

    body = "FROM papers_fts JOIN papers p ON p.pk = papers_fts.rowid WHERE papers_fts MATCH ?"
    order = f"ORDER BY {_BM25}, p.upvotes DESC LIMIT {LIMIT}"
    select = f"SELECT {_PAPER_COLUMNS}, {_BM25} {body} {order}"
    # The alternative: rank rowids inside FTS5 alone, then fetch and snippet just those.
    top = (
        f"SELECT {_PAPER_COLUMNS}, t.score, t.pk FROM (SELECT rowid AS pk, {_BM25} AS score"
        f" FROM papers_fts WHERE papers_fts MATCH ? ORDER BY score LIMIT {LIMIT}) AS t"
        " JOIN papers p ON p.pk = t.pk ORDER BY t.score, p.upvotes DESC"
    )

    # Papers are ingested in date order, so a date window is a rowid window too.
    (recent_pk,) = conn.execute(
        "SELECT min(pk) FROM papers WHERE list_date >= date((SELECT max(list_date) FROM papers),"
        " '-1 year')"
    ).fetchone()

    wanted = {r.match: r.wanted for r in results}

    def two_step(match: str) -> None:
        for row in conn.execute(top, (match,)).fetchall():
            snippet(row[2], wanted[match])

    def run(db: sqlite3.Connection, sql: str) -> Callable[[str], object]:
        return lambda match: db.execute(sql, (match,)).fetchall()

    variants: dict[str, Callable[[str], object]] = {
        "raw: bm25 rowids (baseline)": run(conn, RAW_SQL),
        "store SELECT (as run)": run(conn, select),
        "  selecting only p.pk": run(conn, f"SELECT p.pk {body} {order}"),
        "  with mmap + 256 MiB cache": run(mapped, select),
        "store count(*) (as run)": run(conn, f"SELECT count(*) {body}"),
        "  count(*) without the join": run(
            conn, "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?"
        ),
        "  count capped at 1,000": run(
            conn,
            "SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT 1001)",
        ),
        "alt SELECT: top-5, then 5 snippets": two_step,
        "alt raw: last 12 months (rowid >= N)": lambda match: conn.execute(
            f"{RAW_SQL.split(' ORDER BY')[0]} AND rowid >= ? ORDER BY {BM25} LIMIT {LIMIT}",
            (match, recent_pk),
        ).fetchall(),
        "alt raw: newest first (rowid DESC)": run(
            conn,
            "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?"
            f" ORDER BY rowid DESC LIMIT {LIMIT}",
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for i, r in enumerate(results):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            variants[name](r.match)
            times[name].append((time.perf_counter() - t0) * 1000)
    conn.close()
    mapped.close()
    print(
        f"\nwhere the store's time goes: raw sqlite3, each statement alone, first {len(results)}"
        " queries, one round:"
    )
    print(HEADER)
    for name in names:
        print(_row(name, times[name]))
    full = [i for i, r in enumerate(results) if r.total is not None and r.total >= LIMIT]
    count_s = sum(times["store count(*) (as run)"][i] for i in full) / 1000
    select_s = sum(times["store SELECT (as run)"][i] for i in full) / 1000
    print(
        f"  the store adds its count(*) when a page is full: {len(full)} of {len(results)}"
        f" queries here; for them count(*) took {count_s:.1f} s, the SELECT {select_s:.1f} s"
    )


# -- agreement --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Agreement:
    kind: str
    top1: bool  # the store's first hit is the reference's
    overlap: float  # share of the reference's top AGREEMENT_K on the store's first page


async def agreement(
    store: SQLiteStore, raw: sqlite3.Connection, results: Sequence[QueryTimes]
) -> list[Agreement]:
    """The store's first page against bm25 over every match (REFERENCE_SQL), per query."""
    out = []
    for r in results:
        reference = [row[0] for row in raw.execute(REFERENCE_SQL, (r.match, AGREEMENT_K))]
        if not reference:
            continue
        try:
            page = await store.search(parse_query(r.query.text), limit=AGREEMENT_K)
        except QueryError:
            out.append(Agreement(r.query.kind, False, 0.0))
            continue
        got = [h.listing.paper.id for h in page.hits]
        overlap = len(set(got) & set(reference)) / len(reference)
        out.append(Agreement(r.query.kind, bool(got) and got[0] == reference[0], overlap))
    return out


def report_agreement(found: Sequence[Agreement]) -> None:
    n = len(found)
    top1 = sum(a.top1 for a in found)
    print(
        f"\nagreement with bm25 over every match (same analysis and weights), {n} queries"
        f" with hits: top hit {top1}/{n} ({top1 / n:.1%}, target >= 95%), top-{AGREEMENT_K}"
        f" overlap mean {statistics.mean(a.overlap for a in found):.1%} (target >= 90%)"
    )
    for kind in QUERY_MIX:
        group = [a for a in found if a.kind == kind]
        if group:
            top1 = sum(a.top1 for a in group) / len(group)
            overlap = statistics.mean(a.overlap for a in group)
            print(f"  {kind:<16}{len(group):>5}  top hit {top1:6.1%}  overlap {overlap:6.1%}")


# -- report -----------------------------------------------------------------------------------


def report_build(path: Path, stats: BuildStats, cached: bool) -> None:
    ingest = stats.ingest_ms
    tenth = max(1, len(ingest) // 10)
    median_ingest = statistics.median(ingest)
    state = "cached build, times from when it was built" if cached else "built now"
    print(f"\nstore: {path.relative_to(OUT.parent.parent)} ({state})")
    print(
        f"  {stats.papers:,} papers, {stats.days:,} list dates"
        f" ({stats.first_day} .. {stats.last_day}), {PER_DAY} papers per date"
    )
    print(f"  DB size: {db_size(path) / 1e6:,.1f} MB")
    print(
        f"  build: {stats.total_s:.1f} s total = {stats.generate_s:.1f} s generating text"
        f" + {stats.ingest_s:.1f} s in ingest_day"
    )
    print(
        f"  ingest_day, one {PER_DAY}-paper day: median {median_ingest:.1f} ms,"
        f" p95 {percentile(ingest, 95):.1f} ms, max {max(ingest):.1f} ms;"
        f" first {tenth} days median {statistics.median(ingest[:tenth]):.1f} ms,"
        f" last {tenth} days median {statistics.median(ingest[-tenth:]):.1f} ms"
    )
    print(
        f"  target median <= {INGEST_TARGET_MS:.0f} ms:"
        f" {'PASS' if median_ingest <= INGEST_TARGET_MS else 'MISS'}"
    )


def report_search(results: Sequence[QueryTimes], rounds: int, budget: float, papers: int) -> None:
    store = [r.store for r in results]
    raw = [r.raw for r in results]
    print(f"\nsearch: {len(results)} queries, LIMIT {LIMIT}, median of {rounds} rounds per query")
    print(HEADER)
    print(_row("store.search(parse_query(q))", store))
    print(_row("raw sqlite3, same statements", raw))
    ratios = "".join(f"{percentile(store, p) / percentile(raw, p):9.2f}x" for p in (50, 95, 99))
    print(f"  {'store/raw at percentile':<36}{ratios}")
    per_query = [s / w for s, w in zip(store, raw, strict=True) if w > 0]
    print(f"  per-query store/raw ratio: median {statistics.median(per_query):.2f}x")
    for p, target in TARGETS_MS.items():
        got = percentile(store, p)
        print(f"  target p{p} <= {target:g} ms: {got:.2f} ms {'PASS' if got <= target else 'MISS'}")

    hits = [r.total for r in results if r.total is not None]
    print(
        f"  hits per query: p50 {percentile(hits, 50):,} ({percentile(hits, 50) / papers:.1%}"
        f" of the papers), p95 {percentile(hits, 95):,} ({percentile(hits, 95) / papers:.1%}),"
        f" zero hits: {sum(h == 0 for h in hits)} queries"
    )

    broad = [r for r in results if r.too_broad]
    print(
        f"\n'too broad' QueryError (search_budget {budget:g} s): {len(broad)} queries"
        + "".join(f"\n  {r.query.text!r} ({r.too_broad}/{rounds} rounds)" for r in broad)
    )

    print("\nby kind of query (store / raw, ms; hits = the store's total):")
    print(
        f"  {'kind':<16}{'n':>5}{'hits p50':>10}{'store p50':>11}{'p95':>9}"
        f"{'raw p50':>10}{'p95':>9}"
    )
    for kind in QUERY_MIX:
        group = [r for r in results if r.query.kind == kind]
        if not group:
            continue
        hits = [r.total for r in group if r.total is not None]
        s = [r.store for r in group]
        w = [r.raw for r in group]
        print(
            f"  {kind:<16}{len(group):>5}{statistics.median(hits) if hits else 0:>10,.0f}"
            f"{percentile(s, 50):>11.2f}{percentile(s, 95):>9.2f}"
            f"{percentile(w, 50):>10.2f}{percentile(w, 95):>9.2f}"
        )

    print("\nslowest 12 through the store:")
    for r in sorted(results, key=lambda r: r.store, reverse=True)[:12]:
        hits = f"{r.total:,}" if r.total is not None else "too broad"
        print(
            f"  {r.store:8.1f} ms store {r.raw:8.1f} ms raw  {hits:>9} hits"
            f"  {r.query.text!r} ({r.query.kind})"
        )


async def cached_store(
    papers: int, seed: int, *, rebuild: bool = False
) -> tuple[Path, BuildStats, bool]:
    """The benchmark store (built once, then reused by every script): path, stats, cached?"""
    OUT.mkdir(parents=True, exist_ok=True)
    path = db_path(papers, seed)
    stats = None if rebuild else load_stats(path)
    if stats is not None:
        return path, stats, True
    print(f"building {path.name} (cached for later runs) ...", flush=True)
    return path, await build_store(path, papers, seed), False


async def run(args: argparse.Namespace) -> None:
    path, stats, cached = await cached_store(args.papers, args.seed, rebuild=args.rebuild)
    report_build(path, stats, cached)

    queries = make_queries(args.queries, args.seed)
    vocab_sizes = ", ".join(f"{k} {v}" for k, v in Vocabulary().sizes().items())
    print(f"\nquery vocabulary from the seed: {vocab_sizes}")
    print("query mix: " + ", ".join(f"{k} {v}%" for k, v in QUERY_MIX.items()))
    print("examples: " + " | ".join(q.text for q in queries[:8]))

    async with SQLiteStore(path) as store:
        raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            # Untimed warm-up: the file into the OS page cache, then a few queries each way.
            with path.open("rb") as f:
                while f.read(1 << 24):
                    pass
            await time_queries(store, raw, queries[:50], 1)
            results = await time_queries(store, raw, queries, args.rounds)
            agreed = await agreement(store, raw, results)
        finally:
            raw.close()
        budget = store.search_budget
    report_search(results, args.rounds, budget, stats.papers)
    report_agreement(agreed)
    if args.breakdown:
        breakdown(path, results[: args.breakdown_queries])
    if args.store:
        from bench import search_pg

        lite = search_pg.summarise(
            "sqlite",
            [r.store for r in results],
            [r.raw for r in results],
            stats.ingest_ms,
            sum(1 for r in results if r.too_broad),
        )
        pg = await search_pg.run_postgres(
            args.store,
            path,
            stats.papers,
            date.fromisoformat(stats.last_day),
            [q.text for q in queries],
            args.rounds,
            args.seed,
            [q.kind for q in queries],
        )
        search_pg.side_by_side([lite, pg])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per query")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true", help="ignore a cached store")
    parser.add_argument(
        "--breakdown-queries", type=int, default=300, help="queries timed in the breakdown"
    )
    parser.add_argument(
        "--no-breakdown", dest="breakdown", action="store_false", help="skip the breakdown"
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="also run on PostgreSQL (postgresql://...; the corpus is copied in once) and"
        " print both backends side by side",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

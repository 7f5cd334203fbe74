"""Papers and their daily lists, full-text search (tsvector + GIN) and title autocomplete."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import operator
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from bot.errors import QueryError
from bot.matching import highlights
from bot.models import IngestResult, Listing, Paper, SearchHit, SearchPage
from bot.query import Query
from bot.store.base import RISING_WATCH_DAYS, Sort
from bot.store.postgres.connection import (
    LOCK_NAMESPACE,
    PAPERS_LOCK,
    PostgresBase,
    row_count,
    vectors,
)
from bot.store.postgres.follows import write_credits
from bot.store.postgres.fts import (
    BLOCK_LEVELS,
    BUCKET,
    bucket_tsquery,
    compile_prefix,
    compile_term,
    compile_where,
)
from bot.store.postgres.rows import (
    _PAPER_COLUMNS,
    _PAPER_FIELDS,
    _REFRESHED,
    _SEARCHED,
    _listing,
    _paper_row,
)
from bot.store.rules import DayWrite, merge, seen_again
from bot.text import snippet

RANK_WINDOW = 2000  # a search ranks at most the newest this-many matches (as SQLite's does)
# How far back from the newest paper (in pks) each slice of a search's window reaches.
WINDOW_SLICES = (4 * RANK_WINDOW, 16 * RANK_WINDOW, 64 * RANK_WINDOW)
MAX_SLICES = 16  # a wide slice is cut into slices of one pk block each, up to this many
FIRST_SLICES = 1  # read first; how many matches they hold says how to read the rest
WHOLE_READ = 2  # the rest is read whole where it may hold at most this many times the wanted
WANTED_MARGIN = 2  # the next slice is cut where it may hold this many times the wanted
_TOO_BROAD = "That query is too broad to answer quickly: add a word or a filter."
_NO_DATE = (True, 0)
# A search's statements stop at its budget. JIT compiling would cost more than these short
# statements take. Matches are found by GIN bitmap scans: the planner does not know that
# testing a row's vector means decompressing it, and would otherwise walk the primary key
# newest first testing rows one by one (several times slower for all but common words).
# The window's slices must run one after another, newest first: no parallel plans.
# The same statement reads the newest pk and the planner's estimate of how many papers there
# are (IDF needs only a rough N; count(*) would read the whole table); it is planned before
# its settings apply, so max(pk) is read from the primary key's end.
SEARCH_SETTINGS = (
    "SELECT (SELECT coalesce(max(pk), 0) FROM papers),"
    " (SELECT greatest(reltuples::bigint, 0) FROM pg_class WHERE oid = 'papers'::regclass),"
    " set_config('statement_timeout', $1, true), set_config('jit', 'off', true),"
    " set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true),"
    " set_config('max_parallel_workers_per_gather', '0', true)"
)
_SORT_KEYS: dict[str, Callable[[Sequence[Any]], Any]] = {
    # Candidates are (pk, relevance) for relevance (a higher one is a better match), else
    # (pk, upvotes, list_date), as `window_statement` reads them.
    "relevance": lambda r: (-r[1], -r[0]),
    "upvotes": lambda r: (-r[1], _desc(r[2]), -r[0]),
    "newest": lambda r: (_desc(r[2]), -r[1], -r[0]),
}
_SET = ", ".join(f"{k} = ${n}" for n, k in enumerate(_REFRESHED, start=1))
_AFTER = len(_REFRESHED)  # the parameter number of the last refreshed field
_INSERT_PAPER = (
    f"INSERT INTO papers (id, {', '.join(_REFRESHED)}, list_date, first_seen_at, updated_at,"
    " search, title_words, pairs)"
    f" VALUES ({', '.join(f'${n}' for n in range(1, _AFTER + 5))},"
    f" ${_AFTER + 5}::tsvector, ${_AFTER + 6}::tsvector, ${_AFTER + 7}::tsvector)"
)
_UPDATE_PAPER = (
    f"UPDATE papers SET {_SET}, list_date = ${_AFTER + 1}, updated_at = ${_AFTER + 2},"
    f" search = coalesce(${_AFTER + 3}::tsvector, search),"
    f" title_words = coalesce(${_AFTER + 4}::tsvector, title_words),"
    f" pairs = coalesce(${_AFTER + 5}::tsvector, pairs) WHERE id = ${_AFTER + 6}"
)


class Papers(PostgresBase):
    """Papers, their daily lists, search and autocomplete."""

    async def ingest_day(self, list_date: date, papers: Sequence[Paper]) -> IngestResult:
        """Upsert one day's list in one transaction; say which papers are new."""
        async with self._transaction() as con:
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, PAPERS_LOCK)
            written = await write_day(con, list_date, papers, self._now())
            await mark_rematch(con, written, self._clock())
        return written.result

    async def upsert_paper(self, paper: Paper) -> bool:
        """Store a single paper that is on no list yet (not new for alerts); True if new."""
        now = self._now()
        row = _paper_row(paper)
        async with self._transaction() as con:
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, PAPERS_LOCK)
            old = (await _existing(con, [paper.id])).get(paper.id)
            if old is None:
                fields = (*row.values(), None, now, now, *_vectors(row))
                await con.execute(_INSERT_PAPER, paper.id, *fields)
                await write_credits(con, [paper])
                return True
            merged = merge(old, row)
            searched = any(merged[k] != old[k] for k in _SEARCHED)
            fresh = _vectors(merged) if searched else (None, None, None)
            if searched:  # before the new text overwrites it
                await keep_matched_text(con, [paper.id])
            await con.execute(
                _UPDATE_PAPER, *merged.values(), old["list_date"], now, *fresh, paper.id
            )
            await write_credits(con, [paper])
            return False

    async def get_paper(self, paper_id: str) -> Listing | None:
        """A paper with its first list date and rank there, if stored."""
        row = await self._one(f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.id = $1", (paper_id,))
        return _listing(row) if row else None

    async def day_listing(self, list_date: date) -> list[Listing]:
        """One day's list in HF's order, with that day's rank."""
        rows = await self._all(
            f"SELECT {_PAPER_FIELDS}, l.list_date, l.rank"
            " FROM listings l JOIN papers p ON p.pk = l.paper_pk"
            " WHERE l.list_date = $1 ORDER BY l.rank",
            (list_date,),
        )
        return [_listing(row) for row in rows]

    async def list_dates(self, since: date | None = None, until: date | None = None) -> list[date]:
        """Dates that have a list, oldest first."""
        rows = await self._all(
            "SELECT DISTINCT list_date FROM listings WHERE list_date >= $1 AND list_date <= $2"
            " ORDER BY list_date",
            (since or date.min, until or date.max),
        )
        return [r[0] for r in rows]

    # -- search -------------------------------------------------------------------------

    async def search(
        self,
        query: Query,
        *,
        since: date | None = None,
        until: date | None = None,
        sort: Sort = "relevance",
        limit: int = 10,
        offset: int = 0,
    ) -> SearchPage:
        """Full-text search; QueryError for an empty query or one that runs too long.

        As on SQLite: the newest RANK_WINDOW matches (by when stored) are ranked, in Python,
        by the same keys; `capped` says the window was full.
        """
        if query.is_empty:
            raise QueryError("Nothing to search for: type at least one word.")
        async with self._searching() as (con, newest, papers):
            rows = await read_window(con, query, newest, since, until, sort)
            found = _scored(rows, max(papers or 0, len(rows))) if sort == "relevance" else rows
            # The page of the sorted candidates (nsmallest: as sorted()[:n], without sorting
            # the whole window).
            page = heapq.nsmallest(offset + limit, found, key=_SORT_KEYS[sort])[offset:]
            hits = await _hits(con, query, page)
        return SearchPage(tuple(hits), len(found), capped=len(found) >= RANK_WINDOW)

    @contextlib.asynccontextmanager
    async def _searching(
        self, within: float | None = None
    ) -> AsyncIterator[tuple[asyncpg.Connection, int, int]]:
        """A read-only transaction whose statements stop at the search budget ("too broad"),
        with SEARCH_SETTINGS; yields it with the newest pk and the estimated paper count."""
        budget = self.search_budget if within is None else min(self.search_budget, within)
        async with self.pool.acquire(timeout=within) as con, con.transaction(readonly=True):
            # 0 would mean "no limit" to PostgreSQL: the shortest real budget is 1 ms.
            timeout_ms = max(1, int(budget * 1000))
            started = time.monotonic()
            try:
                facts = await con.fetchrow(SEARCH_SETTINGS, f"{timeout_ms}")
                yield con, facts[0], facts[1]
            except asyncpg.QueryCanceledError:
                raise QueryError(_TOO_BROAD) from None
            if time.monotonic() - started > budget:
                raise QueryError(_TOO_BROAD)

    async def top_papers(self, since: date, until: date, limit: int = 10) -> list[Listing]:
        """The most upvoted papers first listed within [since, until]."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.list_date BETWEEN $1 AND $2"
            " ORDER BY p.upvotes DESC, p.list_date DESC LIMIT $3",
            (since, until, limit),
        )
        return [_listing(r) for r in rows]

    async def titles_starting(
        self, prefix: str, limit: int = 25, *, within: float | None = None
    ) -> list[Listing]:
        """Papers with a title word starting with `prefix`, most upvoted first; [] when too
        broad or not answered within `within` seconds (autocomplete)."""
        match = compile_prefix(prefix)
        if match is None:
            return []
        try:
            async with self._searching(within) as (con, _, _):
                rows = await con.fetch(
                    f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.pk IN (SELECT pk FROM papers"
                    " WHERE title_words @@ $1::tsquery ORDER BY pk DESC LIMIT $2)"
                    " ORDER BY p.upvotes DESC LIMIT $3",
                    match,
                    RANK_WINDOW,
                    limit,
                )
        except (QueryError, TimeoutError):
            return []
        return [_listing(r) for r in rows]


async def read_window(
    con: asyncpg.Connection,
    query: Query,
    newest: int,
    since: date | None = None,
    until: date | None = None,
    sort: Sort = "relevance",
) -> list[Any]:
    """A search's window (`window_statement`'s rows) in one or two statements: the first
    FIRST_SLICES slices (the newest WINDOW_SLICES[FIRST_SLICES - 1] pks), then, if they did
    not fill it, the rest. How many matches they held says how many the rest may hold (as
    many per pk). Where that is at most WHOLE_READ times the matches still wanted, the
    slices would visit most or all of the rest anyway, so it is read whole: one GIN lookup
    with no pk blocks (a few matches spread over many slices cost ~1-2 ms of GIN a slice,
    more than visiting them). Otherwise it is read in its slices, the next one cut where it
    may hold WANTED_MARGIN times the matches wanted (each slice visits and ranks all its
    matches: a word in a fifth of the papers visited ~5x the ~400 it lacked in the next,
    24k-pk slice). The same rows either way (the rest holds only older pks, newest first).
    Never read whole with `until`: the newest pks then say nothing about the older ones."""
    ranges = window_ranges(query, newest)
    first, rest = ranges[:FIRST_SLICES], ranges[FIRST_SLICES:]
    sql, params = window_statement(query, newest, since, until, sort, ranges=first)
    rows = list(await con.fetch(sql, *params))
    wanted = RANK_WINDOW - len(rows)
    top = newest - WINDOW_SLICES[FIRST_SLICES - 1]  # the rest: pk <= top (pks start at 1)
    if wanted <= 0 or not rest or top < 1:
        return rows
    density = len(rows) / (newest - top)
    if until is None and density * top <= WHOLE_READ * wanted:
        rest = [(None, top)]
    elif density > 0:  # the next slice cut where it may fill the window
        low, high = rest[0]
        cut = top - math.ceil(WANTED_MARGIN * wanted / density)
        if low is not None and high == top and cut > low:
            rest = [(cut, high), (low, cut), *rest[1:]]
    sql, params = window_statement(query, newest, since, until, sort, ranges=rest, limit=wanted)
    rows += await con.fetch(sql, *params)
    return rows


def window_ranges(query: Query, newest: int) -> list[tuple[int | None, int | None]]:
    """The slices of a search's window, newest first: `_slice_ranges` where a slice can ask
    GIN for its pk blocks (the query has text words that must match), else `_plain_ranges`."""
    where, _ = compile_where(query, 2)
    return _slice_ranges(newest) if BUCKET in where else _plain_ranges(newest)


def window_statement(
    query: Query,
    newest: int,
    since: date | None = None,
    until: date | None = None,
    sort: Sort = "relevance",
    *,
    ranges: Sequence[tuple[int | None, int | None]] | None = None,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """The statement (and its parameters) that reads a search's window: the newest
    RANK_WINDOW matches: for relevance as (pk, [rank of each positive term]), else as
    (pk, upvotes, list_date).

    Matching runs on `paper_search` (GIN alone decides a plain word). The papers are
    searched in slices, newest first (the WINDOW_SLICES[0] pks up to `newest`, then back to
    WINDOW_SLICES[1], ..., then the rest), and the LIMIT stops at the slice that fills the
    window (the slices cover every pk whatever `newest` is, so the window is exact): a common
    word reads a few thousand rows, not all its matches, and a rare one reads all its few.
    A slice also asks GIN for its pk blocks only (`bucket_tsquery`), so GIN skips a common
    word's older postings instead of collecting them all; a slice too wide for that is cut
    at the blocks' boundaries (`_slice_ranges`), and a cut slice's pk range is tested on
    the rows GIN found, with no bitmap of the pk index (the other slices' blocks may hold
    twice their pks: there a common word's bitmap of the pk index saves visits). For
    relevance a slice ranks the rows it found, where it has them (their sort holds pks and
    ranks, no vectors; a row is not visited again): a term's rank is `ts_rank` on `search`,
    0 where the term is absent. A term that is a group of its own is in every row found, so
    its rank needs no test of `search` first; only an OR group's terms do. The other orders
    read pks only, then upvotes and dates from `papers` by pk, no ranks.

    `ranges` (default: `window_ranges`) and `limit` read part of it (`read_window`): a
    range that is none of the window's slices is read whole, with no pk blocks.
    """
    where, tsqueries = compile_where(query, 2)
    params: list[Any] = [RANK_WINDOW if limit is None else limit, *tsqueries]
    if since:
        params.append(since)
        where += f" AND d.list_date >= ${len(params)}"
    if until:
        params.append(until)
        where += f" AND d.list_date <= ${len(params)}"
    ranks = []
    if sort == "relevance":
        alone = {group[0] for group in query.groups if len(group) == 1}
        for term in query.terms():
            params.append(compile_term(term))
            t = f"${len(params)}::tsquery"
            rank = f"ts_rank(d.search, {t})"
            ranks.append(
                rank if term in alone else f"CASE WHEN d.search @@ {t} THEN {rank} ELSE 0 END"
            )
    read = f"d.pk, ARRAY[{', '.join(ranks)}]::real[]" if sort == "relevance" else "d.pk"
    slices = []
    plain = _plain_ranges(newest)
    known = _slice_ranges(newest) if BUCKET in where else plain  # as window_ranges, no recompile
    for low, high in known if ranges is None else ranges:
        blocks = None if low is None else bucket_tsquery(low, newest if high is None else high)
        bucket, pk = "", "d.pk"
        if low is None and (low, high) not in known:  # read whole: tested on what GIN found
            pk = "(d.pk + 0)"
        elif blocks and BUCKET in where:  # a slice, or a piece of one (read_window)
            params.append(blocks)
            bucket = f" && ${len(params)}::tsquery"
            if (low, high) not in plain and (low, high) in known:  # a cut slice: on its rows
                pk = "(d.pk + 0)"
        within = f" AND {pk} <= {newest if high is None else high}"
        within += f" AND {pk} > {low}" if low is not None else ""
        slices.append(
            f"(SELECT {read} FROM paper_search d WHERE {where.replace(BUCKET, bucket)}"
            f"{within} ORDER BY d.pk DESC)"
        )
    matches = f"FROM ({' UNION ALL '.join(slices)}) m LIMIT $1"
    if sort != "relevance":
        return (
            "SELECT p.pk, p.upvotes, p.list_date FROM papers p"
            f" WHERE p.pk = ANY(ARRAY(SELECT m.pk {matches}))",
            params,
        )
    return f"SELECT m.* {matches}", params


def _plain_ranges(newest: int) -> list[tuple[int | None, int | None]]:
    """The window's slices as (low, high) pk ranges (low < pk <= high, None: unbounded),
    newest first: back WINDOW_SLICES[0] pks from `newest`, then to WINDOW_SLICES[1], ...,
    then the rest."""
    bounds = [None, *WINDOW_SLICES, None]
    return [
        (None if older is None else newest - older, None if newer is None else newest - newer)
        for newer, older in itertools.pairwise(bounds)
    ]


def _slice_ranges(newest: int) -> list[tuple[int | None, int | None]]:
    """_plain_ranges, with each slice that no `bucket_tsquery` covers (the wide ones) cut
    at the boundaries of the coarsest pk blocks, so that every slice asks GIN for its few
    blocks and visits no match of another slice; down to pk 0, or, past MAX_SLICES, the
    rest as one unrestricted slice."""
    step = 1 << BLOCK_LEVELS[-1]
    ranges: list[tuple[int | None, int | None]] = []
    for low, high in _plain_ranges(newest):
        top = newest if high is None else high
        bottom = 0 if low is None else max(low, 0)
        if bucket_tsquery(bottom, top) is not None or top <= bottom:
            ranges.append((low, high))
            continue
        while top > bottom:
            if len(ranges) >= MAX_SLICES - 1:
                ranges.append((low, top))
                break
            cut = max(bottom, top // step * step - 1)  # the block of `top` starts at cut + 1
            ranges.append((cut, top))
            top = cut
    return ranges


async def write_day(
    con: asyncpg.Connection,
    list_date: date,
    papers: Sequence[Paper],
    now: datetime,
    *,
    clear: Collection[str] = (),
) -> DayWrite:
    """Upsert one day's list inside the caller's transaction (which holds PAPERS_LOCK). A
    stored paper is merged (None or empty keeps the old value) except the `clear` columns,
    which take the new value."""
    unique = list({p.id: p for p in papers}.values())
    existing = await _existing(con, [p.id for p in unique])
    new_rows, changed_rows = [], []
    text_changed: list[str] = []
    rises: list[tuple[str, int, int]] = []
    for paper in unique:
        row = _paper_row(paper)
        old = existing.get(paper.id)
        if old is None:
            new_rows.append((paper.id, *row.values(), list_date, now, now, *_vectors(row)))
            continue
        seen = seen_again(paper.id, old, row, list_date, clear)
        if seen.stored:
            fresh = _vectors(seen.merged) if seen.searched else (None, None, None)
            changed_rows.append((*seen.merged.values(), seen.first_date, now, *fresh, paper.id))
        if seen.searched:
            text_changed.append(paper.id)
        if seen.rise:
            rises.append(seen.rise)
    await con.executemany(_INSERT_PAPER, new_rows)
    await keep_matched_text(con, text_changed)  # before the new text overwrites it
    await con.executemany(_UPDATE_PAPER, changed_rows)
    await con.execute(  # one statement for the day's list (not one per paper)
        "INSERT INTO listings (list_date, paper_pk, rank)"
        " SELECT $1, p.pk, r.rank FROM unnest($2::text[], $3::int[]) AS r (id, rank)"
        " JOIN papers p ON p.id = r.id"
        " ON CONFLICT (list_date, paper_pk) DO UPDATE SET rank = excluded.rank",
        list_date,
        [p.id for p in unique],
        list(range(1, len(unique) + 1)),
    )
    await write_credits(con, unique)
    new_ids = tuple(p.id for p in unique if p.id not in existing)
    result = IngestResult(list_date, len(unique), new_ids, len(changed_rows))
    return DayWrite(result, tuple(text_changed), tuple(rises))


async def mark_rematch(con: asyncpg.Connection, written: DayWrite, now: datetime) -> int:
    """Mark papers to be matched against the alerts again, inside the caller's transaction:
    those whose searchable text changed, and those listed in the last RISING_WATCH_DAYS whose
    upvotes rose past some rising alert's threshold. Returns how many were marked."""
    since = now.astimezone(UTC).date() - timedelta(days=RISING_WATCH_DAYS)
    marked = 0
    if written.text_changed:
        marked += row_count(
            await con.execute(
                "UPDATE papers SET alerts_matched = false WHERE id = ANY($1::text[])"
                " AND list_date IS NOT NULL AND alerts_matched",
                list(written.text_changed),
            )
        )
    if written.rises:
        ids, old, new = zip(*written.rises, strict=True)
        crossed = (list(ids), list(old), list(new), since)
        # A paper whose text did not change keeps its text as matched (a changed one's was
        # kept by write_day): matched again, only the rising alerts can add to it.
        await con.execute(
            "INSERT INTO matched_text (paper_pk, title, abstract, authors, keywords)"
            f" SELECT p.pk, p.title, p.abstract, p.authors, p.keywords {_CROSSED}"
            " ON CONFLICT (paper_pk) DO NOTHING",
            *crossed,
        )
        marked += row_count(
            await con.execute(
                f"UPDATE papers SET alerts_matched = false WHERE pk IN (SELECT p.pk {_CROSSED})",
                *crossed,
            )
        )
    return marked


# Matched papers listed since $4 whose upvotes rose (ids $1 from $2 to $3) past a rising
# alert's threshold (`min_upvotes > 0` lets PostgreSQL use the partial index of rising alerts).
_CROSSED = (
    "FROM papers p JOIN unnest($1::text[], $2::int[], $3::int[]) AS r (id, old, new)"
    " ON p.id = r.id WHERE p.list_date >= $4 AND p.alerts_matched"
    " AND EXISTS (SELECT 1 FROM alerts WHERE min_upvotes > 0"
    " AND min_upvotes > r.old AND min_upvotes <= r.new)"
)


async def keep_matched_text(con: asyncpg.Connection, paper_ids: Sequence[str]) -> None:
    """Inside the caller's transaction, before their text changes: keep the text these
    papers were last matched with (matched papers only; the oldest kept text wins)."""
    if paper_ids:
        await con.execute(
            "INSERT INTO matched_text (paper_pk, title, abstract, authors, keywords)"
            " SELECT pk, title, abstract, authors, keywords FROM papers"
            " WHERE id = ANY($1::text[]) AND list_date IS NOT NULL AND alerts_matched"
            " ON CONFLICT (paper_pk) DO NOTHING",
            list(paper_ids),
        )


def _scored(rows: Sequence[Any], papers: int) -> list[tuple[int, float]]:
    """(pk, relevance) per candidate row (pk, [rank of each term]). Relevance is BM25's
    shape: each term's ts_rank (frequency, field weights) times its IDF, so a rare word
    counts more than a common one (ts_rank alone knows no IDF). A term's document frequency
    is read from the candidates: exact unless the window is full, where rankings are rough
    anyway. (The sum of one product is that product: a one-term query skips the sum.)"""
    if not rows:
        return []
    ranks = [row[1] for row in rows]
    counts = [sum(map(_POSITIVE, map(operator.itemgetter(n), ranks))) for n in range(len(ranks[0]))]
    idf = [math.log((papers - df + 0.5) / (df + 0.5) + 1) for df in counts]
    pks = [row[0] for row in rows]
    if len(idf) == 1:
        w = idf[0]
        return [(pk, w * r[0]) for pk, r in zip(pks, ranks, strict=True)]
    return [(pk, sum(map(operator.mul, idf, r))) for pk, r in zip(pks, ranks, strict=True)]


_POSITIVE = (0.0).__lt__  # x > 0


async def _existing(con: asyncpg.Connection, ids: list[str]) -> dict[str, dict]:
    columns = ("id", *_REFRESHED, "list_date")
    rows = await con.fetch(f"SELECT {', '.join(columns)} FROM papers WHERE id = ANY($1)", ids)
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def _vectors(row: dict[str, Any]) -> tuple[str, str, str]:
    return vectors(row["title"], row["abstract"], row["keywords"], row["authors"])


async def _hits(con: asyncpg.Connection, query: Query, page: Sequence[Any]) -> list[SearchHit]:
    """The papers and snippets of one page of (pk, rank, ...) candidates, in order."""
    if not page:
        return []
    pks = [row[0] for row in page]
    papers = {
        r[-1]: tuple(r)[:-1]
        for r in await con.fetch(
            f"SELECT {_PAPER_COLUMNS}, p.pk FROM papers p WHERE p.pk = ANY($1)", pks
        )
    }
    wanted = highlights(query)
    listings = [_listing(papers[pk]) for pk in pks if pk in papers]
    # Snippets are cut in Python from the abstract as stored, as on SQLite.
    return [SearchHit(item, snippet(item.paper.abstract, wanted)) for item in listings]


def _desc(day: date | None) -> tuple[bool, int]:
    """A sort key that orders dates newest first (missing dates last)."""
    return (False, -day.toordinal()) if day else _NO_DATE

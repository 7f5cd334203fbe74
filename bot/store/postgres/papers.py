"""Papers and their daily lists, full-text search (tsvector + GIN) and title autocomplete."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
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
from bot.store.postgres.fts import compile_prefix, compile_term, compile_tsquery
from bot.store.postgres.rows import (
    _PAPER_COLUMNS,
    _PAPER_FIELDS,
    _REFRESHED,
    _SEARCHED,
    _listing,
    _paper_row,
)
from bot.text import snippet

RANK_WINDOW = 2000  # a search ranks at most the newest this-many matches (as SQLite's does)
_TOO_BROAD = "That query is too broad to answer quickly: add a word or a filter."
_NO_DATE = (True, 0)
# The planner's estimate of how many papers there are (IDF needs only a rough N; count(*)
# would read the whole table).
_ESTIMATED_PAPERS = (
    "SELECT greatest(reltuples::bigint, 0) FROM pg_class WHERE oid = 'papers'::regclass"
)
_SORT_KEYS: dict[str, Callable[[Sequence[Any]], Any]] = {
    # Candidate rows are (pk, rank, upvotes, list_date); a higher rank is a better match.
    "relevance": lambda r: (-r[1], -r[0]),
    "upvotes": lambda r: (-r[2], _desc(r[3]), -r[0]),
    "newest": lambda r: (_desc(r[3]), -r[2], -r[0]),
}
_SET = ", ".join(f"{k} = ${n}" for n, k in enumerate(_REFRESHED, start=1))
_AFTER = len(_REFRESHED)  # the parameter number of the last refreshed field
_INSERT_PAPER = (
    f"INSERT INTO papers (id, {', '.join(_REFRESHED)}, list_date, first_seen_at, updated_at,"
    " search, title_words)"
    f" VALUES ({', '.join(f'${n}' for n in range(1, _AFTER + 5))},"
    f" ${_AFTER + 5}::tsvector, ${_AFTER + 6}::tsvector)"
)
_UPDATE_PAPER = (
    f"UPDATE papers SET {_SET}, list_date = ${_AFTER + 1}, updated_at = ${_AFTER + 2},"
    f" search = coalesce(${_AFTER + 3}::tsvector, search),"
    f" title_words = coalesce(${_AFTER + 4}::tsvector, title_words) WHERE id = ${_AFTER + 5}"
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
            merged = {k: (v if v not in (None, "") else old[k]) for k, v in row.items()}
            searched = any(merged[k] != old[k] for k in _SEARCHED)
            fresh = _vectors(merged) if searched else (None, None)
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
        terms = [compile_term(t) for t in query.terms()]
        params: list[Any] = [compile_tsquery(query), RANK_WINDOW, terms]
        filters = ""
        if since:
            params.append(since)
            filters += f" AND p.list_date >= ${len(params)}"
        if until:
            params.append(until)
            filters += f" AND p.list_date <= ${len(params)}"
        # Each candidate with its rank for each positive term (0 where that term is absent).
        sql = (
            "SELECT m.pk, m.upvotes, m.list_date, ARRAY(SELECT CASE WHEN m.search @@ t::tsquery"
            " THEN ts_rank(m.search, t::tsquery) ELSE 0 END"
            " FROM unnest($3::text[]) WITH ORDINALITY AS u (t, n) ORDER BY n) FROM"
            " (SELECT p.pk, p.search, p.upvotes, p.list_date FROM papers p"
            f" WHERE p.search @@ $1::tsquery{filters} ORDER BY p.pk DESC LIMIT $2) m"
        )
        async with self._searching() as con:
            rows = list(await con.fetch(sql, *params))
            papers = await con.fetchval(_ESTIMATED_PAPERS) if sort == "relevance" else 0
            found = _scored(rows, max(papers or 0, len(rows)))
            found.sort(key=_SORT_KEYS[sort])
            page = found[offset : offset + limit]
            hits = await _hits(con, query, page)
        return SearchPage(tuple(hits), len(found), capped=len(found) >= RANK_WINDOW)

    @contextlib.asynccontextmanager
    async def _searching(self, within: float | None = None) -> AsyncIterator[asyncpg.Connection]:
        """A read-only transaction whose statements stop at the search budget ("too broad")."""
        budget = self.search_budget if within is None else min(self.search_budget, within)
        async with self.pool.acquire(timeout=within) as con, con.transaction(readonly=True):
            # 0 would mean "no limit" to PostgreSQL: the shortest real budget is 1 ms.
            timeout_ms = max(1, int(budget * 1000))
            await con.execute("SELECT set_config('statement_timeout', $1, true)", f"{timeout_ms}")
            started = time.monotonic()
            try:
                yield con
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
            async with self._searching(within) as con:
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


@dataclass(frozen=True, slots=True)
class DayWrite:
    """What writing one day's list changed: the result, the papers whose searchable text
    changed, and the (paper, old, new) upvotes of those whose upvotes rose."""

    result: IngestResult
    text_changed: tuple[str, ...] = ()
    rises: tuple[tuple[str, int, int], ...] = ()


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
        merged = {k: (v if v not in (None, "") or k in clear else old[k]) for k, v in row.items()}
        first_date = min(filter(None, (old["list_date"], list_date)))
        searched = any(merged[k] != old[k] for k in _SEARCHED)
        if any(merged[k] != old[k] for k in _REFRESHED) or first_date != old["list_date"]:
            fresh = _vectors(merged) if searched else (None, None)
            changed_rows.append((*merged.values(), first_date, now, *fresh, paper.id))
        if searched:
            text_changed.append(paper.id)
        if (merged["upvotes"] or 0) > (old["upvotes"] or 0):
            rises.append((paper.id, old["upvotes"] or 0, merged["upvotes"]))
    await con.executemany(_INSERT_PAPER, new_rows)
    await con.executemany(_UPDATE_PAPER, changed_rows)
    await con.executemany(
        "INSERT INTO listings (list_date, paper_pk, rank)"
        " SELECT $1, pk, $2 FROM papers WHERE id = $3"
        " ON CONFLICT (list_date, paper_pk) DO UPDATE SET rank = excluded.rank",
        [(list_date, rank, p.id) for rank, p in enumerate(unique, start=1)],
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
        marked += row_count(
            await con.execute(
                "UPDATE papers p SET alerts_matched = false"
                " FROM unnest($1::text[], $2::int[], $3::int[]) AS r (id, old, new)"
                " WHERE p.id = r.id AND p.list_date >= $4 AND p.alerts_matched"
                # `min_upvotes > 0` lets PostgreSQL use the partial index of rising alerts.
                " AND EXISTS (SELECT 1 FROM alerts WHERE min_upvotes > 0"
                " AND min_upvotes > r.old AND min_upvotes <= r.new)",
                list(ids),
                list(old),
                list(new),
                since,
            )
        )
    return marked


def _scored(rows: Sequence[Any], papers: int) -> list[tuple[int, float, int, date | None]]:
    """(pk, relevance, upvotes, list_date) per candidate. Relevance is BM25's shape: each
    term's ts_rank (frequency, field weights) times its IDF, so a rare word counts more
    than a common one (ts_rank alone knows no IDF). A term's document frequency is read
    from the candidates: exact unless the window is full, where rankings are rough anyway."""
    if not rows:
        return []
    counts = [0] * len(rows[0][3])
    for row in rows:
        for n, rank in enumerate(row[3]):
            counts[n] += rank > 0
    idf = [math.log((papers - df + 0.5) / (df + 0.5) + 1) for df in counts]
    return [
        (row[0], sum(w * r for w, r in zip(idf, row[3], strict=True)), row[1], row[2])
        for row in rows
    ]


async def _existing(con: asyncpg.Connection, ids: list[str]) -> dict[str, dict]:
    columns = ("id", *_REFRESHED, "list_date")
    rows = await con.fetch(f"SELECT {', '.join(columns)} FROM papers WHERE id = ANY($1)", ids)
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def _vectors(row: dict[str, Any]) -> tuple[str, str]:
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

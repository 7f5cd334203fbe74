"""Papers and their daily lists, full-text search and title autocomplete."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import date
from functools import partial
from typing import Any, NamedTuple, TypeVar

import aiosqlite

from bot.errors import QueryError
from bot.matching import highlights
from bot.models import (
    IngestResult,
    Listing,
    Paper,
    SearchHit,
    SearchPage,
)
from bot.query import Query
from bot.store.base import Sort
from bot.store.fts import (
    bm25_weight,
    compile_match,
    compile_phrase,
    compile_prefix,
    compile_titled,
    every_term,
    single_word,
    title_groups,
)
from bot.store.rules import merge
from bot.store.sqlite.connection import SQLiteBase, on_thread
from bot.store.sqlite.day_write import (
    _FTS_ADD,
    _FTS_DELETE,
    _INSERT_PAPER,
    FTS_TOTALS_SQL,
    _existing,
    _pks,
    fts_averages,
    fts_totals,
    keep_matched_text,
    mark_rematch,
    write_day,
    write_heads,
)
from bot.store.sqlite.follows import write_author_index, write_credits
from bot.store.sqlite.rows import (
    _HEADS_ADD,
    _PAPER_COLUMNS,
    _PAPER_FIELDS,
    _REFRESHED,
    _SEARCHED,
    _index_row,
    _listing,
    _paper_row,
)
from bot.text import snippet

T = TypeVar("T")

# Title matches count ten times an abstract match; keywords and authors sit between
# (title_words, for title prefixes, is never searched by a query).
_BM25 = "bm25(papers_fts, 10.0, 1.0, 4.0, 2.0, 0.0)"
RANK_WINDOW = 2000  # a search ranks at most the newest this-many matches
# The best matches of a query with one of its words in their title (compile_titled).
_TITLED_SQL = (
    f"SELECT rowid, {_BM25} AS score, 0, '' FROM papers_fts WHERE papers_fts MATCH ?"
    " ORDER BY score, rowid DESC LIMIT ?"
)
TITLE_COUNTS_KEPT = 20_000  # title word counts a store keeps to pick a query's rarest word
HEADS_READ_LIMIT = 2000  # title matches read for a one-word query that excludes words
_SORT_KEYS: dict[str, Callable[[Sequence[Any]], Any]] = {
    # Candidate rows are (pk, bm25, upvotes, list_date); bm25 is lower for better matches.
    "relevance": lambda r: (r[1], -r[0]),
    "upvotes": lambda r: (-r[2], _desc(r[3]), -r[0]),
    "newest": lambda r: (_desc(r[3]), -r[2], -r[0]),
}


class Papers(SQLiteBase):
    """Papers, their daily lists, search and autocomplete."""

    async def ingest_day(self, list_date: date, papers: Sequence[Paper]) -> IngestResult:
        """Upsert one day's list in one transaction; say which papers are new."""
        now, at = self._now(), self._clock()

        def ingest(db: sqlite3.Connection) -> IngestResult:
            # The words of papers_fts_heads as they are now, under the write lock (a search
            # adds a word, and writes its heads, in a write transaction of its own).
            heads = frozenset(self._heads_words)
            written = write_day(db, list_date, papers, now, heads=heads)
            mark_rematch(db, written, at)
            return written.result

        return await self._write(ingest)

    async def upsert_paper(self, paper: Paper) -> bool:
        """Store a single paper that is on no list yet (not new for alerts); True if new."""
        now = self._now()
        return await self._write(
            lambda db: _upsert_paper(db, paper, now, frozenset(self._heads_words))
        )

    async def get_paper(self, paper_id: str) -> Listing | None:
        """A paper with its first list date and rank there, if stored."""
        row = await self._one(f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.id = ?", (paper_id,))
        return _listing(row) if row else None

    async def day_listing(self, list_date: date) -> list[Listing]:
        """One day's list in HF's order, with that day's rank."""
        rows = await self._all(
            f"SELECT {_PAPER_FIELDS}, l.list_date, l.rank"
            " FROM listings l JOIN papers p ON p.pk = l.paper_pk"
            " WHERE l.list_date = ? ORDER BY l.rank",
            (list_date.isoformat(),),
        )
        return [_listing(row) for row in rows]

    async def list_dates(self, since: date | None = None, until: date | None = None) -> list[date]:
        """Dates that have a list, oldest first."""
        rows = await self._all(
            "SELECT DISTINCT list_date FROM listings WHERE list_date >= ? AND list_date <= ?"
            " ORDER BY list_date",
            ((since or date.min).isoformat(), (until or date.max).isoformat()),
        )
        return [date.fromisoformat(r[0]) for r in rows]

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

        By relevance with no date filter, the page is bm25's best over every match: a
        one-word query with more than RANK_WINDOW matches reads the best papers with the
        word in their title from papers_fts_heads (written for the word the first time it
        is asked for so broadly, kept up at ingest from then on); a broad query of single
        words (no phrases; "a OR b" as "a b") ranks its matches with its rarest word in
        their title (_titled). Otherwise the newest RANK_WINDOW matches (in arrival order) are
        ranked: all of them when there are fewer, so a query as broad as "model OR
        learning" costs what a narrow one does. `total`
        counts matches up to RANK_WINDOW; `capped` says there are at least that many.
        """
        if query.is_empty:
            raise QueryError("Nothing to search for: type at least one word.")
        filters, params = _filters(since, until)
        ranked = sort == "relevance" and not filters
        stem = single_word(query) if ranked else None
        # A query with alternatives ranks the title matches of every term at once.
        required = every_term(query)
        plan = _Plan(
            query,
            compile_match(query),
            filters,
            params,
            sort,
            limit,
            offset,
            stem,
            required,
            title_groups(required) if ranked and stem is None else [],
            highlights(query),
        )
        # The whole search runs on the search connection's thread, in one visit: each
        # statement handed over alone cost a round trip to that thread and back.
        async with self._searching() as db:
            page = await self._visit(db, partial(self._search_now, plan))
        if page is not None:
            return page
        # A broad one-word query whose heads are not written yet.
        assert stem is not None
        await self._write_heads_of(stem)
        async with self._searching() as db:
            return await self._visit(db, partial(self._heads_page, plan))

    async def _visit(self, db: aiosqlite.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` on the search connection's thread. A caller cancelled meanwhile (a search
        given up) stops it: its budget is spent at once, so its statements are interrupted,
        and the connection is released only once it has ended, so the next search does not
        wait behind it with the clock of its own budget running."""
        return await on_thread(db, work, on_cancel=self._spend_budget)

    def _spend_budget(self) -> None:
        self._deadline_at = float("-inf")  # (the progress handler interrupts the search)

    def _search_now(self, plan: _Plan, db: sqlite3.Connection) -> SearchPage | None:
        """search() on the search connection's thread; None when a broad one-word query
        needs its word's heads written first."""
        if (plan.stem is None and not plan.groups) or _count_now(
            db, plan.match, RANK_WINDOW + 1
        ) <= RANK_WINDOW:
            return _window(db, plan)
        if plan.stem is None:
            wanted = plan.offset + plan.limit
            titled = self._titled(db, plan.required, plan.groups, wanted)
            if len(titled) >= wanted:
                hits = _hits(db, plan.wanted, titled[plan.offset :])
                return SearchPage(tuple(hits), RANK_WINDOW, capped=True, newest_only=False)
            # Fewer title matches than the page needs: ranked with the window.
            return _window(db, plan, titled)
        if plan.stem not in self._heads_words:
            return None
        return self._heads_page(plan, db)

    def _heads_page(self, plan: _Plan, db: sqlite3.Connection) -> SearchPage:
        """The page of a broad one-word query, from its word's heads (written)."""
        query = plan.query
        # Every paper read holds the word: only the excluded terms are checked.
        excluded = Query(groups=(query.excluded,))
        excluding = compile_match(excluded) if query.excluded else None
        assert plan.stem is not None  # a one-word query
        pks = _best_heads(db, plan.stem, excluding, plan.offset + plan.limit)
        if pks is None:  # fewer heads than the page needs: the window, as before
            return _window(db, plan)
        hits = _hits(db, plan.wanted, [(pk,) for pk in pks[plan.offset :]])
        return SearchPage(tuple(hits), RANK_WINDOW, capped=True, newest_only=False)

    def _titled(
        self,
        db: sqlite3.Connection,
        query: Query,
        groups: list[list[list[str]]],
        wanted: int,
    ) -> list[Any]:
        """bm25's `wanted` best (pk, score, ...) matches of a broad query of several words
        that have, in their title, a word of its group with the fewest titles (each term
        read as its rarest word).

        A title match weighs ten abstract ones: bm25's best papers for a query hold its
        words in their titles, as good as always (bench/search.py measures how often).
        """
        counts = self._title_counts
        missing = {test for group in groups for term in group for test in term} - counts.keys()
        if len(counts) + len(missing) > TITLE_COUNTS_KEPT:  # (emptied before, not while,
            counts.clear()  # this query's counts go in: it reads every one of them)
            missing = {test for group in groups for term in group for test in term}
        for test in missing:
            counts[test] = _count_now(db, test, 1 << 40)
        tests = min(
            ([min(term, key=counts.__getitem__) for term in group] for group in groups),
            key=lambda chosen: sum(map(counts.__getitem__, chosen)),
        )
        return db.execute(_TITLED_SQL, (compile_titled(query, tests), wanted)).fetchall()

    async def _write_heads_of(self, stem: str) -> None:
        """papers_fts_heads for one word, from then on kept up at ingest: one bm25 pass of
        FTS5 over the word's matches, those with it in their title kept."""
        async with self._transaction() as db:
            if stem in self._heads_words:  # another search wrote them meanwhile
                return
            rows_total, _ = await fts_totals(db)
            n = await _count(db, compile_phrase((stem,)), rows_total + 1)
            idf = max(math.log((rows_total - n + 0.5) / (n + 0.5)), 1e-6)
            await on_thread(db, partial(_write_heads_now, stem, idf))
            await db.execute("INSERT INTO papers_fts_heads_words (stem) VALUES (?)", (stem,))
        self._heads_words.add(stem)

    @contextlib.asynccontextmanager
    async def _searching(self, within: float | None = None) -> AsyncIterator[aiosqlite.Connection]:
        """The reader, one search at a time, interrupted past the budget ("too broad").

        `within` (seconds) bounds the whole call, the wait for the reader included: the wait
        raises TimeoutError when it runs out, and the statement is cut off when it is up.
        """
        started = time.monotonic()
        # Waiting can be given up safely; a statement once started is only ever interrupted.
        async with asyncio.timeout(within):
            await self._search_lock.acquire()
        try:
            deadline = time.monotonic() + self.search_budget
            self._deadline_at = deadline if within is None else min(deadline, started + within)
            try:
                yield self.reader
            except sqlite3.OperationalError as e:
                if "interrupted" in str(e):
                    raise QueryError(
                        "That query is too broad to answer quickly: add a word or a filter."
                    ) from None
                raise
            finally:
                self._deadline_at = float("inf")
        finally:
            self._search_lock.release()

    async def top_papers(self, since: date, until: date, limit: int = 10) -> list[Listing]:
        """The most upvoted papers first listed within [since, until]."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.list_date BETWEEN ? AND ?"
            " ORDER BY p.upvotes DESC, p.list_date DESC LIMIT ?",
            (since.isoformat(), until.isoformat(), limit),
        )
        return [_listing(r) for r in rows]

    async def titles_starting(
        self, prefix: str, limit: int = 25, *, within: float | None = None
    ) -> list[Listing]:
        """Papers with a title word starting with `prefix`, most upvoted first; [] when the
        search connection is not free and done within `within` seconds (autocomplete)."""
        match = compile_prefix(prefix)
        if match is None:
            return []
        try:
            async with self._searching(within) as db:
                rows = await db.execute_fetchall(
                    f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.pk IN (SELECT rowid"
                    " FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid DESC LIMIT ?)"
                    " ORDER BY p.upvotes DESC LIMIT ?",
                    (match, RANK_WINDOW, limit),
                )
        except (QueryError, TimeoutError):
            return []  # autocomplete gives up quietly on a prefix like "a", or when busy
        return [_listing(r) for r in rows]


def _upsert_paper(db: sqlite3.Connection, paper: Paper, now: str, heads: frozenset[str]) -> bool:
    """Papers.upsert_paper's transaction, on the store's thread; True if the paper is new."""
    existing = _existing(db, [paper.id])
    row = _paper_row(paper)
    if paper.id in existing:
        old = existing[paper.id]
        merged = merge(old, row)
        searched = any(merged[k] != old[k] for k in _SEARCHED)
        if searched:  # before the new text overwrites it
            keep_matched_text(db, [paper.id])
        db.execute(
            f"UPDATE papers SET {', '.join(f'{k} = ?' for k in _REFRESHED)},"
            " updated_at = ? WHERE id = ?",
            (*merged.values(), now, paper.id),
        )
        if searched:
            db.execute(_FTS_DELETE, (*_index_row(old), paper.id))
            db.execute(_FTS_ADD, (*_index_row(merged), paper.id))
            pk = old["pk"]
            write_heads(db, heads, [(pk, _index_row(merged))], [(pk, _index_row(old))])
            write_author_index(db, [(pk, old["authors"])], [(pk, merged["authors"])])
        write_credits(db, [paper], {paper.id: old["pk"]})
        return False
    db.execute(_INSERT_PAPER, (paper.id, *row.values(), None, now, now))
    indexed = _index_row(row)
    db.execute(_FTS_ADD, (*indexed, paper.id))
    pks = _pks(db, [paper.id])
    write_heads(db, heads, [(pks[paper.id], indexed)])
    write_author_index(db, [], [(pks[paper.id], row["authors"])])
    write_credits(db, [paper], pks, fresh={paper.id})
    return True


class _Plan(NamedTuple):
    """A search as compiled on the event loop, for its visit to the search connection."""

    query: Query
    match: str
    filters: str
    params: Sequence[Any]
    sort: Sort
    limit: int
    offset: int
    stem: str | None  # the word of a one-word relevance search (single_word)
    required: Query  # every_term(query)
    groups: list[list[list[str]]]  # title_groups(required) of a relevance search
    wanted: frozenset[str]  # the words its snippets highlight


def _window(db: sqlite3.Connection, plan: _Plan, titled: Sequence[Any] = ()) -> SearchPage:
    """The newest RANK_WINDOW matches, ranked (all of them when there are fewer), with
    the `titled` rows (older matches, as Papers._titled reads them) among them."""
    if plan.filters or plan.sort != "relevance":
        sql = (
            f"SELECT papers_fts.rowid, {_BM25}, p.upvotes, p.list_date FROM papers_fts"
            f" JOIN papers p ON p.pk = papers_fts.rowid WHERE papers_fts MATCH ? {plan.filters}"
            " ORDER BY papers_fts.rowid DESC LIMIT ?"
        )
    else:
        sql = (
            f"SELECT rowid, {_BM25}, 0, '' FROM papers_fts WHERE papers_fts MATCH ?"
            " ORDER BY rowid DESC LIMIT ?"
        )
    found = db.execute(sql, (plan.match, *plan.params, RANK_WINDOW)).fetchall()
    total = len(found)
    if titled:
        found = list({row[0]: row for row in [*titled, *found]}.values())
    found.sort(key=_SORT_KEYS[plan.sort])
    page = found[plan.offset : plan.offset + plan.limit]
    hits = _hits(db, plan.wanted, page)
    return SearchPage(tuple(hits), total, capped=total >= RANK_WINDOW)


def _hits(db: sqlite3.Connection, wanted: frozenset[str], page: Sequence[Any]) -> list[SearchHit]:
    """The papers and snippets of one page of (pk, score, ...) candidates, in order."""
    if not page:
        return []
    pks = [row[0] for row in page]
    marks = ", ".join("?" * len(pks))
    papers = {
        r[-1]: r[:-1]
        for r in db.execute(
            f"SELECT {_PAPER_COLUMNS}, p.pk FROM papers p WHERE p.pk IN ({marks})", pks
        )
    }
    listings = [_listing(papers[row[0]]) for row in page if row[0] in papers]
    # The snippet is cut from the abstract as stored: the index holds only stems.
    return [SearchHit(item, snippet(item.paper.abstract, wanted)) for item in listings]


def _best_heads(
    db: sqlite3.Connection, stem: str, match: str | None, wanted: int
) -> list[int] | None:
    """The `wanted` papers with `stem` in their title that bm25 ranks best for it, but for
    those that `match` (the words a query excludes); None if there are fewer.

    bm25 ranks a paper with the word in its title (ten times an abstract's weight) above
    those without it, as good as always: bench/search.py counts how often.
    """
    # The weights were written against the average length of their day: the papers read
    # are weighed again against today's, with a margin for those that moved past the last.
    (block,) = db.execute(FTS_TOTALS_SQL).fetchone() or (None,)
    _, average = fts_averages(block)
    read = 2 * wanted + 20
    while True:
        rows = db.execute(
            "SELECT pk, freq, length, weight FROM papers_fts_heads WHERE stem = ?"
            " ORDER BY weight DESC, pk DESC LIMIT ?",
            (stem, read),
        ).fetchall()
        pks = [r[0] for r in rows]
        if match is not None:
            kept = set(pks).difference(
                r[0]
                for r in db.execute(
                    "SELECT c.value FROM json_each(?) c WHERE EXISTS (SELECT 1 FROM papers_fts"
                    " WHERE papers_fts MATCH ? AND rowid = c.value)",
                    (json.dumps(pks), match),
                )
            )
        if len(pks if match is None else kept) >= wanted or len(rows) < read:
            break
        if read >= HEADS_READ_LIMIT:
            return None
        read *= 4
    ranked = sorted(
        (r for r in rows if match is None or r[0] in kept),
        key=lambda r: (-(bm25_weight(r[1], r[2], average) if r[2] >= 0 else r[3]), -r[0]),
    )
    # Fewer than wanted: the rest have the word only outside their titles.
    return [r[0] for r in ranked[:wanted]] if len(ranked) >= wanted else None


_COUNT_SQL = "SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?)"


def _heads_of(stem: str, idf: float, db: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    """The word's papers_fts_heads rows: bm25 over all its matches, those with it in their
    title kept. Both sets of matches are read in rowid order and merged as they come: a
    broad word matches ~85,000 of 200,000 papers (~10 MB as fetched rows), ~40,000 with it
    in their title, and the first searches of such words (writing their heads) set the
    bot's peak memory."""
    titled = db.execute(
        "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid",
        (compile_phrase((stem,), "title"),),
    )
    scored = db.execute(
        f"SELECT rowid, {_BM25} FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid",
        (compile_phrase((stem,)),),
    )
    at, score = -1, 0.0
    for (pk,) in titled:  # (every title match is a match)
        while at < pk:
            row = scored.fetchone()
            if row is None:
                return
            at, score = row
        if at == pk:
            # bm25 of one word is its IDF times the weight head_weights gives; the frequency
            # and length are not known here (-1: read the weight as it is).
            yield stem, -score / idf, pk, -1.0, -1


def _write_heads_now(stem: str, idf: float, db: sqlite3.Connection) -> None:
    """Write the word's heads as they are read (on the writer's thread, in its transaction)."""
    db.executemany(_HEADS_ADD, _heads_of(stem, idf, db))


async def _count(db: aiosqlite.Connection, match: str, cap: int) -> int:
    """How many papers match, counting no further than `cap`."""
    rows = await db.execute_fetchall(_COUNT_SQL, (match, cap))
    return int(next(iter(rows))[0])


def _count_now(db: sqlite3.Connection, match: str, cap: int) -> int:
    """_count on the connection's own thread."""
    return int(db.execute(_COUNT_SQL, (match, cap)).fetchone()[0])


def _desc(day: str | None) -> str:
    """A sort key that orders ISO dates newest first (missing dates last)."""
    return "".join(chr(0x10FFFF - ord(c)) for c in day) if day else "\U0010ffff"


def _filters(since: date | None, until: date | None) -> tuple[str, list[Any]]:
    """SQL conditions on papers p for the search filters, and their parameters."""
    conditions: list[str] = []
    params: list[Any] = []
    if since:
        conditions.append("p.list_date >= ?")
        params.append(since.isoformat())
    if until:
        conditions.append("p.list_date <= ?")
        params.append(until.isoformat())
    return "".join(f" AND {c}" for c in conditions), params

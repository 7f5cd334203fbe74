"""Papers and their daily lists, full-text search and title autocomplete."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

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
from bot.store.base import RISING_WATCH_DAYS, Sort
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
from bot.store.sqlite.connection import SQLiteBase
from bot.store.sqlite.follows import write_credits
from bot.store.sqlite.rows import (
    _FTS_COLUMNS,
    _HEADS_ADD,
    _PAPER_COLUMNS,
    _PAPER_FIELDS,
    _REFRESHED,
    _SEARCHED,
    _index_row,
    _listing,
    _paper_row,
    head_rows,
)
from bot.text import snippet

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
_INSERT_PAPER = (
    f"INSERT INTO papers (id, {', '.join(_REFRESHED)}, list_date, first_seen_at, updated_at)"
    f" VALUES ({', '.join('?' * (len(_REFRESHED) + 4))})"
)
# papers_fts keeps no text: a row is written with its analysed values and deleted by
# giving them again (the 'delete' command), both found by paper id.
_FTS_ADD = (
    f"INSERT INTO papers_fts (rowid, {_FTS_COLUMNS}) SELECT pk, ?, ?, ?, ?, ? FROM papers"
    " WHERE id = ?"
)
_SIX = "?, ?, ?, ?, ?, ?"  # rowid and the five columns
_FTS_ADD_PK = f"INSERT INTO papers_fts (rowid, {_FTS_COLUMNS}) VALUES ({_SIX})"
_FTS_DELETE = (
    f"INSERT INTO papers_fts (papers_fts, rowid, {_FTS_COLUMNS})"
    " SELECT 'delete', pk, ?, ?, ?, ?, ? FROM papers WHERE id = ?"
)
_FTS_DELETE_PK = (
    f"INSERT INTO papers_fts (papers_fts, rowid, {_FTS_COLUMNS}) VALUES ('delete', {_SIX})"
)


class Papers(SQLiteBase):
    """Papers, their daily lists, search and autocomplete."""

    async def ingest_day(self, list_date: date, papers: Sequence[Paper]) -> IngestResult:
        """Upsert one day's list in one transaction; say which papers are new."""
        async with self._transaction() as db:
            written = await write_day(db, list_date, papers, self._now(), heads=self._heads_words)
            await mark_rematch(db, written, self._clock())
        return written.result

    async def upsert_paper(self, paper: Paper) -> bool:
        """Store a single paper that is on no list yet (not new for alerts); True if new."""
        now = self._now()
        async with self._transaction() as db:
            existing = await _existing(db, [paper.id])
            row = _paper_row(paper)
            if paper.id in existing:
                old = existing[paper.id]
                merged = merge(old, row)
                searched = any(merged[k] != old[k] for k in _SEARCHED)
                if searched:  # before the new text overwrites it
                    await keep_matched_text(db, [paper.id])
                await db.execute(
                    f"UPDATE papers SET {', '.join(f'{k} = ?' for k in _REFRESHED)},"
                    " updated_at = ? WHERE id = ?",
                    (*merged.values(), now, paper.id),
                )
                if searched:
                    await db.execute(_FTS_DELETE, (*_index_row(old), paper.id))
                    await db.execute(_FTS_ADD, (*_index_row(merged), paper.id))
                    pk = old["pk"]
                    await write_heads(
                        db, self._heads_words, [(pk, _index_row(merged))], [(pk, _index_row(old))]
                    )
                await write_credits(db, [paper])
                return False
            await db.execute(
                _INSERT_PAPER,
                (paper.id, *row.values(), None, now, now),
            )
            indexed = _index_row(row)
            await db.execute(_FTS_ADD, (*indexed, paper.id))
            pks = await _pks(db, [paper.id])
            await write_heads(db, self._heads_words, [(pks[paper.id], indexed)])
            await write_credits(db, [paper])
            return True

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
        match = compile_match(query)
        filters, params = _filters(since, until)
        ranked = sort == "relevance" and not filters
        stem = single_word(query) if ranked else None
        # A query with alternatives ranks the title matches of every term at once.
        required = every_term(query)
        groups = title_groups(required) if ranked and stem is None else []
        async with self._searching() as db:
            # One visit to the search connection for all but a broad one-word query.
            if (stem is None and not groups) or await _count(
                db, match, RANK_WINDOW + 1
            ) <= RANK_WINDOW:
                return await self._window(db, query, match, filters, params, sort, limit, offset)
            if stem is None:
                titled = await self._titled(db, required, groups, offset + limit)
                if len(titled) >= offset + limit:
                    hits = await self._hits(db, query, titled[offset:])
                    return SearchPage(tuple(hits), RANK_WINDOW, capped=True, newest_only=False)
                # Fewer title matches than the page needs: ranked with the window.
                return await self._window(
                    db, query, match, filters, params, sort, limit, offset, titled
                )
        if stem not in self._heads_words:
            await self._write_heads_of(stem)
        async with self._searching() as db:
            # Every paper read holds the word: only the excluded terms are checked.
            excluded = Query(groups=(query.excluded,))
            excluding = compile_match(excluded) if query.excluded else None
            pks = await _best_heads(db, stem, excluding, offset + limit)
            if pks is None:  # fewer heads than the page needs: the window, as before
                return await self._window(db, query, match, filters, params, sort, limit, offset)
            hits = await self._hits(db, query, [(pk,) for pk in pks[offset:]])
            return SearchPage(tuple(hits), RANK_WINDOW, capped=True, newest_only=False)

    async def _window(
        self,
        db: aiosqlite.Connection,
        query: Query,
        match: str,
        filters: str,
        params: Sequence[Any],
        sort: Sort,
        limit: int,
        offset: int,
        titled: Sequence[Any] = (),
    ) -> SearchPage:
        """The newest RANK_WINDOW matches, ranked (all of them when there are fewer), with
        the `titled` rows (older matches, as _titled reads them) among them."""
        if filters or sort != "relevance":
            sql = (
                f"SELECT papers_fts.rowid, {_BM25}, p.upvotes, p.list_date FROM papers_fts"
                f" JOIN papers p ON p.pk = papers_fts.rowid WHERE papers_fts MATCH ? {filters}"
                " ORDER BY papers_fts.rowid DESC LIMIT ?"
            )
        else:
            sql = (
                f"SELECT rowid, {_BM25}, 0, '' FROM papers_fts WHERE papers_fts MATCH ?"
                " ORDER BY rowid DESC LIMIT ?"
            )
        found = list(await db.execute_fetchall(sql, (match, *params, RANK_WINDOW)))
        total = len(found)
        if titled:
            found = list({row[0]: row for row in [*titled, *found]}.values())
        found.sort(key=_SORT_KEYS[sort])
        page = found[offset : offset + limit]
        hits = await self._hits(db, query, page)
        return SearchPage(tuple(hits), total, capped=total >= RANK_WINDOW)

    async def _titled(
        self,
        db: aiosqlite.Connection,
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
        for test in {test for group in groups for term in group for test in term}:
            if test not in counts:
                if len(counts) >= TITLE_COUNTS_KEPT:
                    counts.clear()
                counts[test] = await _count(db, test, 1 << 40)
        tests = min(
            ([min(term, key=counts.__getitem__) for term in group] for group in groups),
            key=lambda chosen: sum(map(counts.__getitem__, chosen)),
        )
        return list(await db.execute_fetchall(_TITLED_SQL, (compile_titled(query, tests), wanted)))

    async def _write_heads_of(self, stem: str) -> None:
        """papers_fts_heads for one word, from then on kept up at ingest: one bm25 pass of
        FTS5 over the word's matches, those with it in their title kept."""
        async with self._transaction() as db:
            if stem in self._heads_words:  # another search wrote them meanwhile
                return
            rows_total, _ = await fts_totals(db)
            n = await _count(db, compile_phrase((stem,)), rows_total + 1)
            idf = max(math.log((rows_total - n + 0.5) / (n + 0.5)), 1e-6)
            titled = {
                r[0]
                for r in await db.execute_fetchall(
                    "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?",
                    (compile_phrase((stem,), "title"),),
                )
            }
            scored = await db.execute_fetchall(
                f"SELECT rowid, {_BM25} FROM papers_fts WHERE papers_fts MATCH ?",
                (compile_phrase((stem,)),),
            )
            # bm25 of one word is its IDF times the weight head_weights gives; the frequency
            # and length are not known here (-1: read the weight as it is).
            await db.executemany(
                _HEADS_ADD,
                sorted((stem, -score / idf, pk, -1.0, -1) for pk, score in scored if pk in titled),
            )
            await db.execute("INSERT INTO papers_fts_heads_words (stem) VALUES (?)", (stem,))
        self._heads_words.add(stem)

    async def _hits(
        self, db: aiosqlite.Connection, query: Query, page: Sequence[Any]
    ) -> list[SearchHit]:
        """The papers and snippets of one page of (pk, score, ...) candidates, in order."""
        if not page:
            return []
        pks = [row[0] for row in page]
        marks = ", ".join("?" * len(pks))
        papers = {
            r[-1]: r[:-1]
            for r in await db.execute_fetchall(
                f"SELECT {_PAPER_COLUMNS}, p.pk FROM papers p WHERE p.pk IN ({marks})", pks
            )
        }
        wanted = highlights(query)
        listings = [_listing(papers[row[0]]) for row in page if row[0] in papers]
        # The snippet is cut from the abstract as stored: the index holds only stems.
        return [SearchHit(item, snippet(item.paper.abstract, wanted)) for item in listings]

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


async def _best_heads(
    db: aiosqlite.Connection, stem: str, match: str | None, wanted: int
) -> list[int] | None:
    """The `wanted` papers with `stem` in their title that bm25 ranks best for it, but for
    those that `match` (the words a query excludes); None if there are fewer.

    bm25 ranks a paper with the word in its title (ten times an abstract's weight) above
    those without it, as good as always: bench/search.py counts how often.
    """
    # The weights were written against the average length of their day: the papers read
    # are weighed again against today's, with a margin for those that moved past the last.
    _, average = await fts_totals(db)
    read = 2 * wanted + 20
    while True:
        rows = list(
            await db.execute_fetchall(
                "SELECT pk, freq, length, weight FROM papers_fts_heads WHERE stem = ?"
                " ORDER BY weight DESC, pk DESC LIMIT ?",
                (stem, read),
            )
        )
        pks = [r[0] for r in rows]
        if match is not None:
            kept = set(pks).difference(
                r[0]
                for r in await db.execute_fetchall(
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


async def _count(db: aiosqlite.Connection, match: str, cap: int) -> int:
    """How many papers match, counting no further than `cap`."""
    rows = await db.execute_fetchall(
        "SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?)",
        (match, cap),
    )
    return int(next(iter(rows))[0])


@dataclass(frozen=True, slots=True)
class DayWrite:
    """What writing one day's list changed: the result, the papers whose searchable text
    changed, and the (paper, old, new) upvotes of those whose upvotes rose."""

    result: IngestResult
    text_changed: tuple[str, ...] = ()
    rises: tuple[tuple[str, int, int], ...] = ()


async def write_day(
    db: aiosqlite.Connection,
    list_date: date,
    papers: Sequence[Paper],
    now: str,
    *,
    clear: Collection[str] = (),
    heads: Collection[str] = frozenset(),
) -> DayWrite:
    """Upsert one day's list inside the caller's transaction. A stored paper is merged (None
    or empty keeps the old value) except the `clear` columns, which take the new value."""
    day = list_date.isoformat()
    unique = list({p.id: p for p in papers}.values())
    existing = await _existing(db, [p.id for p in unique])
    new_rows, changed_rows = [], []
    indexed, unindexed = [], []  # papers to write in papers_fts, and to delete first
    text_changed: list[str] = []
    rises: list[tuple[str, int, int]] = []
    for paper in unique:
        row = _paper_row(paper)
        old = existing.get(paper.id)
        if old is None:
            new_rows.append((paper.id, *row.values(), day, now, now))
            indexed.append((row, paper.id))
            continue
        merged = merge(old, row, clear)
        first_date = min(filter(None, (old["list_date"], day)))
        if any(merged[k] != old[k] for k in _REFRESHED) or first_date != old["list_date"]:
            changed_rows.append((*merged.values(), first_date, now, paper.id))
        if any(merged[k] != old[k] for k in _SEARCHED):
            unindexed.append((old, paper.id))
            indexed.append((merged, paper.id))
            text_changed.append(paper.id)
        if (merged["upvotes"] or 0) > (old["upvotes"] or 0):
            rises.append((paper.id, old["upvotes"] or 0, merged["upvotes"]))
    await db.executemany(_INSERT_PAPER, new_rows)
    await keep_matched_text(db, text_changed)  # before the new text overwrites it
    # Rows are then written by pk: an INSERT ... SELECT into papers_fts costs twice the plain
    # INSERT (SQLite fills a temporary table for it).
    pks = {paper_id: old["pk"] for paper_id, old in existing.items()}
    if new_rows:
        pks.update(await _pks(db, [r[0] for r in new_rows]))
    await db.executemany(
        f"UPDATE papers SET {', '.join(f'{k} = ?' for k in _REFRESHED)}, list_date = ?,"
        " updated_at = ? WHERE id = ?",
        changed_rows,
    )
    removed = [(pks[i], _index_row(r)) for r, i in unindexed]
    await db.executemany(_FTS_DELETE_PK, [(pk, *row) for pk, row in removed])
    added = [(pks[i], _index_row(r)) for r, i in indexed]
    await db.executemany(_FTS_ADD_PK, [(pk, *row) for pk, row in added])
    await write_heads(db, heads, added, removed)
    await db.executemany(
        "INSERT INTO listings (list_date, paper_pk, rank) VALUES (?, ?, ?)"
        " ON CONFLICT (list_date, paper_pk) DO UPDATE SET rank = excluded.rank",
        [(day, pks[p.id], rank) for rank, p in enumerate(unique, start=1)],
    )
    await write_credits(db, unique, pks)
    new_ids = tuple(p.id for p in unique if p.id not in existing)
    result = IngestResult(list_date, len(unique), new_ids, len(changed_rows))
    return DayWrite(result, tuple(text_changed), tuple(rises))


async def mark_rematch(db: aiosqlite.Connection, written: DayWrite, now: datetime) -> int:
    """Mark papers to be matched against the alerts again, inside the caller's transaction:
    those whose searchable text changed, and those listed in the last RISING_WATCH_DAYS whose
    upvotes rose past some rising alert's threshold. Returns how many were marked."""
    since = (now.astimezone(UTC).date() - timedelta(days=RISING_WATCH_DAYS)).isoformat()
    rising = [(i, since, old, new) for i, old, new in written.rises]
    # A paper whose text did not change keeps its text as matched (a changed one's was kept
    # by write_day): matched again, only the rising alerts can add to it.
    await db.executemany(
        "INSERT OR IGNORE INTO matched_text (paper_pk, title, abstract, authors, keywords)"
        f" SELECT pk, title, abstract, authors, keywords FROM papers WHERE {_CROSSED}",
        rising,
    )
    before = db.total_changes
    await db.executemany(
        "UPDATE papers SET alerts_matched = 0 WHERE id = ? AND list_date IS NOT NULL"
        " AND alerts_matched = 1",
        [(i,) for i in written.text_changed],
    )
    await db.executemany(f"UPDATE papers SET alerts_matched = 0 WHERE {_CROSSED}", rising)
    return db.total_changes - before


# A matched paper listed since ? whose upvotes rose from ? to ? past a rising alert's
# threshold (`min_upvotes > 0` lets SQLite use the partial index of rising alerts).
_CROSSED = (
    "id = ? AND list_date >= ? AND alerts_matched = 1"
    " AND EXISTS (SELECT 1 FROM alerts WHERE min_upvotes > 0 AND min_upvotes > ?"
    " AND min_upvotes <= ?)"
)


async def keep_matched_text(db: aiosqlite.Connection, paper_ids: Sequence[str]) -> None:
    """Inside the caller's transaction, before their text changes: keep the text these
    papers were last matched with (matched papers only; the oldest kept text wins)."""
    await db.executemany(
        "INSERT OR IGNORE INTO matched_text (paper_pk, title, abstract, authors, keywords)"
        " SELECT pk, title, abstract, authors, keywords FROM papers"
        " WHERE id = ? AND list_date IS NOT NULL AND alerts_matched = 1",
        [(i,) for i in paper_ids],
    )


async def write_heads(
    db: aiosqlite.Connection,
    words: Collection[str],
    rows: Sequence[tuple[int, Sequence[str]]],
    removed: Sequence[tuple[int, Sequence[str]]] = (),
) -> None:
    """Write papers_fts_heads of `words` (those it is kept for) for papers just written to
    papers_fts as (pk, its values), after dropping those of `removed` ones (pk, the values
    they were written with), inside the caller's transaction."""
    if not words:
        return
    # By title word and pk: no index by pk to keep up at every ingest for a rare update.
    await db.executemany(
        "DELETE FROM papers_fts_heads WHERE stem = ? AND pk = ?",
        [(stem, pk) for pk, row in removed for stem in set(row[0].split()) if stem in words],
    )
    rows = [(pk, row) for pk, row in rows if any(w in words for w in row[0].split())]
    if not rows:
        return
    _, average = await fts_totals(db)
    if not average:  # an empty index: these papers are the whole table
        average = sum(len(" ".join(row).split()) for _, row in rows) / len(rows)
    # In key order: each B-tree page is then visited once for its rows.
    await db.executemany(_HEADS_ADD, sorted(head_rows(rows, average, words)))


async def fts_totals(db: aiosqlite.Connection) -> tuple[int, float]:
    """papers_fts's rows and tokens per row as FTS5's bm25 reads them (its stored totals)."""
    found = list(await db.execute_fetchall("SELECT block FROM papers_fts_data WHERE id = 1"))
    if not found or not found[0][0]:
        return 0, 0.0
    # The 'averages' record: varints (SQLite's format), the row count, then each column's
    # token count.
    block: bytes = found[0][0]
    values, i = [], 0
    while i < len(block):
        value = 0
        for n in range(9):
            byte = block[i]
            i += 1
            if n == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        values.append(value)
    rows, tokens = values[0], sum(values[1:])
    return rows, (tokens / rows if rows else 0.0)


async def _existing(db: aiosqlite.Connection, ids: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    names = ("id", *_REFRESHED, "list_date", "pk")
    columns = ", ".join(names)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = await db.execute_fetchall(
            f"SELECT {columns} FROM papers WHERE id IN ({marks})", chunk
        )
        for row in rows:
            found[row[0]] = dict(zip(names, row, strict=True))
    return found


async def _pks(db: aiosqlite.Connection, ids: list[str]) -> dict[str, int]:
    """The pk of each stored paper among `ids`."""
    found: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = await db.execute_fetchall(f"SELECT id, pk FROM papers WHERE id IN ({marks})", chunk)
        found.update((row[0], row[1]) for row in rows)
    return found


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

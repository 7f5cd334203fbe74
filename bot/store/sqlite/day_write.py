"""Writing a day's list into the SQLite store: papers, their search rows, credits and search
heads, and what a re-match must know (the text as last matched, rising upvotes).

The writes are plain functions of the writer's sqlite3 connection, run on its thread inside
a transaction (`SQLiteBase._write`): a day's list is then one call to that thread, not one
round trip per statement."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta

import aiosqlite

from bot.models import (
    IngestResult,
    Paper,
)
from bot.store.base import RISING_WATCH_DAYS
from bot.store.rules import DayWrite, seen_again
from bot.store.sqlite.connection import insert_rows, many
from bot.store.sqlite.follows import write_author_index, write_credits
from bot.store.sqlite.rows import (
    _FTS_COLUMNS,
    _HEADS_ADD,
    _REFRESHED,
    _index_row,
    _paper_row,
    head_rows,
)

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


def write_day(
    db: sqlite3.Connection,
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
    existing = _existing(db, [p.id for p in unique])
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
        seen = seen_again(paper.id, old, row, day, clear)
        if seen.stored:
            changed_rows.append((*seen.merged.values(), seen.first_date, now, paper.id))
        if seen.searched:
            unindexed.append((old, paper.id))
            indexed.append((seen.merged, paper.id))
            text_changed.append(paper.id)
        if seen.rise:
            rises.append(seen.rise)
    many(db, _INSERT_PAPER, new_rows)  # (several a statement: slower for rows this long)
    keep_matched_text(db, text_changed)  # before the new text overwrites it
    # Rows are then written by pk: an INSERT ... SELECT into papers_fts costs twice the plain
    # INSERT (SQLite fills a temporary table for it).
    pks = {paper_id: old["pk"] for paper_id, old in existing.items()}
    if new_rows:
        pks.update(_pks(db, [r[0] for r in new_rows]))
    many(
        db,
        f"UPDATE papers SET {', '.join(f'{k} = ?' for k in _REFRESHED)}, list_date = ?,"
        " updated_at = ? WHERE id = ?",
        changed_rows,
    )
    # Several rows a statement before papers_fts is written: such a statement opens a
    # savepoint, at which FTS5 would flush what it holds of this day so far.
    insert_rows(
        db,
        "INSERT INTO listings (list_date, paper_pk, rank)",
        [(day, pks[p.id], rank) for rank, p in enumerate(unique, start=1)],
        " ON CONFLICT (list_date, paper_pk) DO UPDATE SET rank = excluded.rank",
    )
    write_credits(db, unique, pks, fresh={r[0] for r in new_rows})
    removed = [(pks[i], _index_row(r)) for r, i in unindexed]
    many(db, _FTS_DELETE_PK, [(pk, *row) for pk, row in removed])
    added = [(pks[i], _index_row(r)) for r, i in indexed]
    many(db, _FTS_ADD_PK, [(pk, *row) for pk, row in added])
    write_heads(db, heads, added, removed)
    write_author_index(
        db,
        [(pks[i], o["authors"]) for o, i in unindexed],
        [(pks[i], r["authors"]) for r, i in indexed],
    )
    new_ids = tuple(p.id for p in unique if p.id not in existing)
    result = IngestResult(list_date, len(unique), new_ids, len(changed_rows))
    return DayWrite(result, tuple(text_changed), tuple(rises))


def mark_rematch(db: sqlite3.Connection, written: DayWrite, now: datetime) -> int:
    """Mark papers to be matched against the alerts again, inside the caller's transaction:
    those whose searchable text changed, and those listed in the last RISING_WATCH_DAYS whose
    upvotes rose past some rising alert's threshold. Returns how many were marked."""
    since = (now.astimezone(UTC).date() - timedelta(days=RISING_WATCH_DAYS)).isoformat()
    rising = [(i, since, old, new) for i, old, new in written.rises]
    # A paper whose text did not change keeps its text as matched (a changed one's was kept
    # by write_day): matched again, only the rising alerts can add to it.
    many(
        db,
        "INSERT OR IGNORE INTO matched_text (paper_pk, title, abstract, authors, keywords)"
        f" SELECT pk, title, abstract, authors, keywords FROM papers WHERE {_CROSSED}",
        rising,
    )
    before = db.total_changes
    many(
        db,
        "UPDATE papers SET alerts_matched = 0 WHERE id = ? AND list_date IS NOT NULL"
        " AND alerts_matched = 1",
        [(i,) for i in written.text_changed],
    )
    many(db, f"UPDATE papers SET alerts_matched = 0 WHERE {_CROSSED}", rising)
    return db.total_changes - before


# A matched paper listed since ? whose upvotes rose from ? to ? past a rising alert's
# threshold (`min_upvotes > 0` lets SQLite use the partial index of rising alerts).
_CROSSED = (
    "id = ? AND list_date >= ? AND alerts_matched = 1"
    " AND EXISTS (SELECT 1 FROM alerts WHERE min_upvotes > 0 AND min_upvotes > ?"
    " AND min_upvotes <= ?)"
)


def keep_matched_text(db: sqlite3.Connection, paper_ids: Sequence[str]) -> None:
    """Inside the caller's transaction, before their text changes: keep the text these
    papers were last matched with (matched papers only; the oldest kept text wins)."""
    many(
        db,
        "INSERT OR IGNORE INTO matched_text (paper_pk, title, abstract, authors, keywords)"
        " SELECT pk, title, abstract, authors, keywords FROM papers"
        " WHERE id = ? AND list_date IS NOT NULL AND alerts_matched = 1",
        [(i,) for i in paper_ids],
    )


def write_heads(
    db: sqlite3.Connection,
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
    many(
        db,
        "DELETE FROM papers_fts_heads WHERE stem = ? AND pk = ?",
        [(stem, pk) for pk, row in removed for stem in set(row[0].split()) if stem in words],
    )
    rows = [(pk, row) for pk, row in rows if any(w in words for w in row[0].split())]
    if not rows:
        return
    found = db.execute(FTS_TOTALS_SQL).fetchall()
    _, average = fts_averages(found[0][0] if found else None)
    if not average:  # an empty index: these papers are the whole table
        average = sum(len(" ".join(row).split()) for _, row in rows) / len(rows)
    # In key order: each B-tree page is then visited once for its rows.
    many(db, _HEADS_ADD, sorted(head_rows(rows, average, words)))


FTS_TOTALS_SQL = "SELECT block FROM papers_fts_data WHERE id = 1"


async def fts_totals(db: aiosqlite.Connection) -> tuple[int, float]:
    """papers_fts's rows and tokens per row as FTS5's bm25 reads them (its stored totals)."""
    found = list(await db.execute_fetchall(FTS_TOTALS_SQL))
    return fts_averages(found[0][0] if found else None)


def fts_averages(block: bytes | None) -> tuple[int, float]:
    """(rows, tokens per row) from FTS5's 'averages' record (FTS_TOTALS_SQL): varints
    (SQLite's format), the row count, then each column's token count."""
    if not block:
        return 0, 0.0
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


def _existing(db: sqlite3.Connection, ids: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    names = ("id", *_REFRESHED, "list_date", "pk")
    columns = ", ".join(names)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = db.execute(f"SELECT {columns} FROM papers WHERE id IN ({marks})", chunk)
        for row in rows:
            found[row[0]] = dict(zip(names, row, strict=True))
    return found


def _pks(db: sqlite3.Connection, ids: list[str]) -> dict[str, int]:
    """The pk of each stored paper among `ids`."""
    found: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = db.execute(f"SELECT id, pk FROM papers WHERE id IN ({marks})", chunk)
        found.update((row[0], row[1]) for row in rows)
    return found

"""Search rows analysed ahead in a child process (bot.store.sqlite.ahead): the store then
holds exactly what it holds when its writer analyses every paper itself."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.store.sqlite.rows as rows_module
from bot.models import Paper
from bot.store import SQLiteStore
from bot.store.sqlite.ahead import IndexAhead
from tests.conftest import seed_papers

TABLES = ("papers", "listings", "author_credits")


@pytest.fixture(autouse=True)
def _nothing_prepared() -> Iterator[None]:
    rows_module._prepared.clear()
    yield
    rows_module._prepared.clear()


@pytest.fixture
def ahead() -> Iterator[IndexAhead]:
    made = IndexAhead()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def analysed_here(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The fields the store's own thread analysed (not taken from rows made ahead)."""
    calls: list[tuple[str, ...]] = []
    analysed = rows_module._analysed

    def counted(*fields: str) -> tuple[str, ...]:
        calls.append(fields)
        return analysed(*fields)

    monkeypatch.setattr(rows_module, "_analysed", counted)
    return calls


def _changed(paper: Paper, n: int) -> Paper:
    """A new text for some seed papers; an empty abstract (kept as stored) for others."""
    if n % 3 == 0:
        return dataclasses.replace(paper, abstract=paper.abstract + " Revised — naïve LLMs.")
    if n % 3 == 1:
        return dataclasses.replace(paper, abstract="", authors=(*paper.authors, "Zoë Ünal"))
    return paper


async def _ingest(path: Path, ahead: IndexAhead | None) -> None:
    days = seed_papers()
    async with SQLiteStore(path) as store:
        for rounds in range(2):  # the second time with changed texts: merged rows
            for day, papers in days.items():
                if rounds:
                    papers = [_changed(p, n) for n, p in enumerate(papers)]
                if ahead is not None:
                    await ahead.prepare(papers)
                await store.ingest_day(day, papers)


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    found: dict[str, list[tuple[object, ...]]] = {}
    with sqlite3.connect(path) as db:
        for table in TABLES:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            kept = [c for c in columns if c not in ("first_seen_at", "updated_at")]
            select = f"SELECT {', '.join(kept)} FROM {table} ORDER BY 1, 2"
            found[table] = db.execute(select).fetchall()
        for fts in ("papers_fts", "papers_fts_authors"):
            db.execute(f"CREATE VIRTUAL TABLE temp.v_{fts} USING fts5vocab(main, {fts}, instance)")
            found[fts] = db.execute(f"SELECT * FROM temp.v_{fts} ORDER BY 1, 2, 3, 4").fetchall()
    return found


async def test_rows_analysed_ahead_are_what_the_store_would_write(
    tmp_path: Path, ahead: IndexAhead, analysed_here: list[tuple[str, ...]]
) -> None:
    await _ingest(tmp_path / "ahead.db", ahead)
    # Only papers whose merged text is not what was fetched (an empty abstract keeps the
    # stored one), and their old rows, were analysed by the store itself.
    used_ahead = len(analysed_here)
    analysed_here.clear()
    await _ingest(tmp_path / "plain.db", None)
    assert used_ahead < len(analysed_here) / 2
    # Every row made ahead was taken but those of a text the store did not take as it came.
    assert {fields[1] for fields in rows_module._prepared} == {""}
    ahead_tables, plain_tables = _dump(tmp_path / "ahead.db"), _dump(tmp_path / "plain.db")
    assert ahead_tables["papers_fts"]  # (the comparison compares something)
    for table in (*TABLES, "papers_fts", "papers_fts_authors"):
        assert ahead_tables[table] == plain_tables[table], table


async def test_new_papers_are_not_analysed_again_when_their_rows_were_made_ahead(
    store: SQLiteStore, ahead: IndexAhead, analysed_here: list[tuple[str, ...]]
) -> None:
    day, papers = next(iter(seed_papers().items()))
    await ahead.prepare(papers)
    await store.ingest_day(day, papers)
    assert analysed_here == []


async def test_a_failed_child_leaves_the_analysis_to_the_store(
    tmp_path: Path, ahead: IndexAhead, caplog: pytest.LogCaptureFixture
) -> None:
    pool = ahead._pool
    assert pool is not None
    for process in list(pool._processes.values()):  # the child dies
        process.kill()
        process.join()
    day, papers = next(iter(seed_papers().items()))
    await ahead.prepare(papers)  # logs, never raises
    assert "analysing papers ahead failed" in caplog.text
    await ahead.prepare(papers)  # (closed: does nothing)
    async with SQLiteStore(tmp_path / "p.db") as store:
        result = await store.ingest_day(day, papers)
    assert len(result.new) == len(papers)


def test_the_rows_kept_ahead_are_bounded() -> None:
    fields = [(f"t{n}", "a", "", "") for n in range(rows_module._PREPARED_LIMIT)]
    rows_module.prepare(fields, [("x",)] * len(fields))
    rows_module.prepare([("t", "a", "", "")], [("y",)])
    assert len(rows_module._prepared) == 1

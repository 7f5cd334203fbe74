"""SQLite ranks a relevance search by bm25 over every match: FTS5 for a narrow query, the
title heads (papers_fts_heads) for a broad one-word query, the newest window otherwise."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from bot.query import parse_query
from bot.store import SQLiteStore
from bot.store.fts import compile_in_titles, compile_match, head_weights
from bot.store.sqlite import papers as sqlite_papers
from bot.store.sqlite.papers import _BM25, fts_totals
from bot.store.sqlite.rows import _index_row
from bot.text import analyze
from tests.bot.store.support import ids, paper


async def by_bm25(store: SQLiteStore, text: str, limit: int = 200) -> list[str]:
    """The reference: bm25 over every match, ties newest first."""
    rows = await store._all(
        f"SELECT p.id FROM (SELECT rowid AS pk, {_BM25} AS score FROM papers_fts"
        " WHERE papers_fts MATCH ? ORDER BY score, rowid DESC LIMIT ?) AS t"
        " JOIN papers p ON p.pk = t.pk ORDER BY t.score, t.pk DESC",
        (compile_match(parse_query(text)), limit),
    )
    return [r[0] for r in rows]


async def test_relevance_ranks_every_match_not_only_the_newest(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)
    page = await seeded_store.search(parse_query("language model"), limit=200)
    expected = await by_bm25(seeded_store, "language model")
    assert len(expected) > 10
    assert ids(page.hits) == expected
    assert (page.total, page.capped) == (10, True)  # counted as far as the window


async def test_a_broad_one_word_query_reads_the_title_heads(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)  # "model" has 110 matches
    page = await seeded_store.search(parse_query("model"), limit=8)
    assert ids(page.hits) == (await by_bm25(seeded_store, "model"))[:8]
    assert (page.total, page.capped) == (10, True)
    # The heads decide: a paper made the best for "model" there (read first, and weighed
    # again from its frequency and length) comes first.
    last = await seeded_store._one(
        "SELECT pk, p.id FROM papers_fts_heads JOIN papers p USING (pk) WHERE stem = 'model'"
        " ORDER BY weight LIMIT 1"
    )
    await seeded_store.db.execute(
        "UPDATE papers_fts_heads SET weight = 99, freq = 1000, length = 1"
        " WHERE stem = 'model' AND pk = ?",
        (last[0],),
    )
    await seeded_store.db.commit()
    assert ids((await seeded_store.search(parse_query("model"), limit=8)).hits)[0] == last[1]


async def test_a_broad_word_excluding_another_skips_its_papers_in_the_heads(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)
    page = await seeded_store.search(parse_query("model -language"), limit=8)
    assert ids(page.hits) == (await by_bm25(seeded_store, "model -language"))[:8]


async def count(store: SQLiteStore, match: str) -> int:
    (n,) = await store._one("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?", (match,))
    return int(n)


@pytest.mark.parametrize("text", ["model OR learning", '"language model" -video', "model data"])
async def test_a_broad_query_ranks_the_matches_with_a_term_in_their_title(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    query = parse_query(text)
    in_titles = await count(seeded_store, compile_in_titles(query) or "")
    assert 10 <= in_titles < await count(seeded_store, compile_match(query))
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 5)
    monkeypatch.setattr(sqlite_papers, "FULL_RANK_LIMIT", in_titles)  # all: too many
    page = await seeded_store.search(query, limit=5)
    assert ids(page.hits) == (await by_bm25(seeded_store, text))[:5]
    assert (page.total, page.capped) == (5, True)


async def test_a_broad_query_of_several_words_ranks_the_newest_window(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)
    monkeypatch.setattr(sqlite_papers, "FULL_RANK_LIMIT", 5)  # with a title term: more
    assert await count(seeded_store, compile_in_titles(parse_query("model OR learning")) or "") > 5
    page = await seeded_store.search(parse_query("model OR learning"), limit=200)
    newest = await seeded_store._all(
        "SELECT p.id FROM papers_fts JOIN papers p ON p.pk = papers_fts.rowid"
        " WHERE papers_fts MATCH ? ORDER BY papers_fts.rowid DESC LIMIT 10",
        (compile_match(parse_query("model OR learning")),),
    )
    assert set(ids(page.hits)) == {r[0] for r in newest}
    assert (page.total, page.capped) == (10, True)


async def test_head_weights_are_what_fts5_bm25_gives_one_word(seeded_store: SQLiteStore) -> None:
    (n,) = await seeded_store._one("SELECT count(*) FROM papers")
    match = compile_match(parse_query("diffusion"))
    rows = await seeded_store._all(
        f"SELECT rowid, {_BM25} FROM papers_fts WHERE papers_fts MATCH ?", (match,)
    )
    idf = math.log((n - len(rows) + 0.5) / (len(rows) + 0.5))
    heads = dict(
        await seeded_store._all(
            "SELECT pk, weight FROM papers_fts_heads WHERE stem = ?", (analyze("diffusion")[0],)
        )
    )
    assert len(heads) >= 3
    _, average = await fts_totals(seeded_store.db)
    for pk, score in rows:
        if pk in heads:  # written as the days came; the average has moved a little since
            assert heads[pk] == pytest.approx(-score / idf, rel=0.05)
            row = await seeded_store._one(
                "SELECT title, abstract, keywords, authors FROM papers WHERE pk = ?", (pk,)
            )
            fields = dict(zip(("title", "abstract", "keywords", "authors"), row, strict=True))
            weights = head_weights(_index_row(fields), average)
            assert weights[analyze("diffusion")[0]][0] == pytest.approx(-score / idf, rel=1e-9)


async def heads_of(store: SQLiteStore, pk: int) -> set[str]:
    return {r[0] for r in await store._all("SELECT stem FROM papers_fts_heads WHERE pk = ?", (pk,))}


async def test_heads_follow_a_changed_title(store: SQLiteStore) -> None:
    await store.upsert_paper(paper("2401.00001", title="Sparse attention kernels"))
    (pk,) = await store._one("SELECT pk FROM papers WHERE id = '2401.00001'")
    assert await heads_of(store, pk) == set(analyze("Sparse attention kernels"))
    await store.upsert_paper(paper("2401.00001", title="Dense retrieval"))
    assert await heads_of(store, pk) == set(analyze("Dense retrieval"))
    await store.ingest_day(date(2024, 1, 2), [paper("2401.00001", title="Graph networks")])
    assert await heads_of(store, pk) == set(analyze("Graph networks"))


async def test_opening_a_store_without_heads_writes_them(
    seeded_store: SQLiteStore, tmp_path: Path
) -> None:
    written = set(await seeded_store._all("SELECT stem, pk FROM papers_fts_heads"))
    assert written
    async with seeded_store._transaction() as db:
        await db.execute("DELETE FROM papers_fts_heads")
        await db.execute("DELETE FROM meta WHERE key = 'search_analysis'")
    await seeded_store._index_search()
    assert set(await seeded_store._all("SELECT stem, pk FROM papers_fts_heads")) == written

"""SQLite ranks a relevance search by bm25 over every match when the window holds them all,
by the title heads (papers_fts_heads) for a broad one-word query, over the matches with a
query word in their title for a broad query of several words, the newest window else."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from datetime import date
from pathlib import Path

import pytest

from bot.query import parse_query
from bot.store import SQLiteStore
from bot.store.fts import compile_match, compile_phrase, every_term, head_weights, title_groups
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


async def test_relevance_ranks_every_match_when_the_window_holds_them(
    seeded_store: SQLiteStore,
) -> None:
    page = await seeded_store.search(parse_query("language model"), limit=200)
    expected = await by_bm25(seeded_store, "language model")
    assert len(expected) > 10
    assert ids(page.hits) == expected
    assert (page.total, page.capped) == (len(expected), False)


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


async def test_a_broad_query_of_several_words_ranks_its_title_matches(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)
    for text in ("language model", "model learning", "model -vision", "model OR learning"):
        match = compile_match(parse_query(text))
        assert await count(seeded_store, match) > 10, text
        page = await seeded_store.search(parse_query(text), limit=5)
        assert ids(page.hits) == (await by_bm25(seeded_store, text))[:5], text
        assert (page.total, page.capped, page.newest_only) == (10, True, False)
        later = await seeded_store.search(parse_query(text), limit=5, offset=5)
        assert ids(later.hits) == (await by_bm25(seeded_store, text))[5:10], text


async def test_a_broad_query_with_a_phrase_ranks_the_newest_window(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)
    for text in ('"language model" learning', '"language model" OR learning'):
        assert await count(seeded_store, compile_match(parse_query(text))) > 10
        page = await seeded_store.search(parse_query(text), limit=200)
        newest = await seeded_store._all(
            "SELECT p.id FROM papers_fts JOIN papers p ON p.pk = papers_fts.rowid"
            " WHERE papers_fts MATCH ? ORDER BY papers_fts.rowid DESC LIMIT 10",
            (compile_match(parse_query(text)),),
        )
        assert set(ids(page.hits)) == {r[0] for r in newest}
        assert (page.total, page.capped, page.newest_only) == (10, True, True)


async def test_an_old_paper_with_the_words_in_its_title_comes_first(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 20)
    old = paper("2301.00001", title="Sparse kernels", abstract="Sparse kernels for graphs.")
    await store.ingest_day(date(2023, 1, 2), [old])
    newer = [
        paper(f"2401.{n:05}", title=f"Study {n}", abstract="Sparse methods and kernels.")
        for n in range(30)
    ]
    await store.ingest_day(date(2024, 1, 2), newer)
    for text in ("sparse kernels", "kernel sparse", "kernels OR sparse"):
        page = await store.search(parse_query(text), limit=3)
        assert ids(page.hits)[0] == "2301.00001", text  # past the window of the newest 20
        assert ids(page.hits) == (await by_bm25(store, text))[:3], text


async def test_too_few_title_matches_rank_the_newest_window(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 4)
    papers = [
        paper(f"2401.{n:05}", title=f"Study {n}", abstract="Sparse methods and kernels.")
        for n in range(8)
    ]
    await store.ingest_day(date(2024, 1, 2), papers)
    page = await store.search(parse_query("sparse kernels"), limit=10)
    newest = await store._all(
        "SELECT p.id FROM papers_fts JOIN papers p ON p.pk = papers_fts.rowid"
        " WHERE papers_fts MATCH ? ORDER BY papers_fts.rowid DESC LIMIT 4",
        (compile_match(parse_query("sparse kernels")),),
    )
    assert set(ids(page.hits)) == {r[0] for r in newest}
    assert (page.total, page.capped, page.newest_only) == (4, True, True)


def test_title_tests_read_each_word_as_a_prefix_of_the_plain_title_words() -> None:
    tests = title_groups(parse_query("studies 3d author:Smith -vision"))
    # "studi", the stem of "study" and "studies"; a word under 3 letters as typed
    assert tests == [[['title_words : "stud" *']], [['title_words : "3d"']]]
    assert title_groups(parse_query("author:Smith")) == []
    assert title_groups(parse_query("graph OR kernel sparse")) == []
    assert every_term(parse_query("graph OR kernel sparse -dense")) == parse_query(
        "graph kernel sparse -dense"
    )
    assert title_groups(parse_query('"sparse kernel" graph')) == []


async def test_head_weights_are_what_fts5_bm25_gives_one_word(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    stem = analyze("diffusion")[0]
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 3)
    await seeded_store.search(parse_query("diffusion"))  # broad: writes the word's heads
    (n,) = await seeded_store._one("SELECT count(*) FROM papers")
    match = compile_match(parse_query("diffusion"))
    rows = await seeded_store._all(
        f"SELECT rowid, {_BM25} FROM papers_fts WHERE papers_fts MATCH ?", (match,)
    )
    idf = math.log((n - len(rows) + 0.5) / (len(rows) + 0.5))
    heads = dict(
        await seeded_store._all("SELECT pk, weight FROM papers_fts_heads WHERE stem = ?", (stem,))
    )
    assert len(heads) >= 3
    _, average = await fts_totals(seeded_store.db)
    for pk, score in rows:
        if pk in heads:
            assert heads[pk] == pytest.approx(-score / idf, rel=1e-9)
            row = await seeded_store._one(
                "SELECT title, abstract, keywords, authors FROM papers WHERE pk = ?", (pk,)
            )
            fields = dict(zip(("title", "abstract", "keywords", "authors"), row, strict=True))
            weights = head_weights(_index_row(fields), average, {stem})
            assert weights[stem][0] == pytest.approx(-score / idf, rel=1e-9)


async def heads_of(store: SQLiteStore, pk: int) -> set[str]:
    return {r[0] for r in await store._all("SELECT stem FROM papers_fts_heads WHERE pk = ?", (pk,))}


async def test_heads_are_kept_only_for_the_words_searched_broadly(store: SQLiteStore) -> None:
    for stem in analyze("Sparse attention kernels dense"):
        await store._write_heads_of(stem)
    await store.upsert_paper(paper("2401.00001", title="Sparse attention kernels"))
    (pk,) = await store._one("SELECT pk FROM papers WHERE id = '2401.00001'")
    assert await heads_of(store, pk) == set(analyze("Sparse attention kernels"))
    await store.upsert_paper(paper("2401.00001", title="Dense retrieval"))
    assert await heads_of(store, pk) == set(analyze("dense"))
    await store.ingest_day(date(2024, 1, 2), [paper("2401.00001", title="Graph networks")])
    assert await heads_of(store, pk) == set()


async def test_a_broad_search_writes_its_word_heads_once_and_they_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 1)
    path = str(tmp_path / "s.db")
    titles = ["Graph model", "Model kernels", "Sparse model"]
    async with SQLiteStore(path) as store:
        await store.ingest_day(
            date(2024, 1, 1), [paper(f"2401.0000{i}", title=t) for i, t in enumerate(titles)]
        )
        assert await store._all("SELECT * FROM papers_fts_heads") == []  # none at ingest
        page = await store.search(parse_query("model"), limit=2)
        assert ids(page.hits) == (await by_bm25(store, "model"))[:2]
        assert await store._all("SELECT stem FROM papers_fts_heads_words") == [("model",)]
        assert len(await store._all("SELECT * FROM papers_fts_heads")) == 3
    async with SQLiteStore(path) as store:
        assert store._heads_words == {"model"}
        await store.ingest_day(date(2024, 1, 2), [paper("2401.00009", title="Model graph")])
        assert len(await store._all("SELECT * FROM papers_fts_heads")) == 4  # kept up
        ranked = ids((await store.search(parse_query("model"), limit=3)).hits)
        assert ranked == (await by_bm25(store, "model"))[:3]


async def test_writing_the_index_again_empties_the_heads(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)
    first = ids((await seeded_store.search(parse_query("model"), limit=8)).hits)
    written = set(await seeded_store._all("SELECT stem, pk FROM papers_fts_heads"))
    assert written
    async with seeded_store._transaction() as db:
        await db.execute("DELETE FROM meta WHERE key = 'search_analysis'")
    await seeded_store._index_search()
    assert await seeded_store._all("SELECT * FROM papers_fts_heads_words") == []
    assert await seeded_store._all("SELECT * FROM papers_fts_heads") == []
    seeded_store._heads_words.clear()  # as on open
    assert ids((await seeded_store.search(parse_query("model"), limit=8)).hits) == first
    assert set(await seeded_store._all("SELECT stem, pk FROM papers_fts_heads")) == written


async def test_a_search_visits_the_search_connection_once(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each visit is a round trip to the connection's thread and back (bench/README.md)."""
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)
    texts = ("model", "language model", "model -language", "model OR graph", '"language model"')
    expected = [await seeded_store.search(parse_query(t), limit=8) for t in texts]
    reader = seeded_store.reader
    run = reader._execute
    visits: list[object] = []

    async def counted(fn: object, *args: object, **kwargs: object) -> object:
        visits.append(fn)
        return await run(fn, *args, **kwargs)

    monkeypatch.setattr(reader, "_execute", counted)
    for text, page in zip(texts, expected, strict=True):
        visits.clear()
        assert await seeded_store.search(parse_query(text), limit=8) == page
        assert len(visits) == 1, text
        assert await seeded_store.search(parse_query(text), since=date(2020, 1, 1)) is not None
        assert len(visits) == 2, text


async def test_a_full_cache_of_title_counts_still_answers_a_broad_query(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cache was emptied while a query put its counts in, then read them: KeyError.
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)
    expected = await seeded_store.search(parse_query("language model"), limit=8)
    monkeypatch.setattr(sqlite_papers, "TITLE_COUNTS_KEPT", 3)
    seeded_store._title_counts.clear()
    seeded_store._title_counts.update({"a": 1, "b": 2})  # room for one count, not two
    assert await seeded_store.search(parse_query("language model"), limit=8) == expected


async def test_a_search_given_up_stops_its_visit_before_the_next_search_runs(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A search cancelled while its visit ran (in_time gave up on it) left the visit
    # running with no budget; the next search waited behind it, its own budget running.
    started = asyncio.Event()
    loop = asyncio.get_running_loop()
    real = seeded_store._search_now
    stopped: list[BaseException] = []

    def slow(plan: object, db: sqlite3.Connection) -> object:
        loop.call_soon_threadsafe(started.set)
        try:
            db.execute(  # a statement of seconds, unless it is interrupted
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                " WHERE i < 30000000) SELECT count(*) FROM n"
            ).fetchall()
        except sqlite3.OperationalError as e:
            stopped.append(e)
            raise
        return real(plan, db)  # type: ignore[arg-type]

    monkeypatch.setattr(seeded_store, "_search_now", slow)
    search = asyncio.create_task(seeded_store.search(parse_query("model"), limit=5))
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.05)
    search.cancel()
    with pytest.raises(asyncio.CancelledError):
        await search
    assert stopped and "interrupted" in str(stopped[0])  # ended, not left running
    monkeypatch.setattr(seeded_store, "_search_now", real)
    begun = time.monotonic()
    assert (await seeded_store.search(parse_query("model"), limit=5)).hits
    assert time.monotonic() - begun < 0.5


async def test_a_words_heads_are_exactly_its_papers_with_it_in_their_title(
    seeded_store: SQLiteStore,
) -> None:
    # The heads are written by merging two reads in rowid order (the title matches, the
    # matches): none may be dropped or added on the way.
    for word in ("diffusion", "model", "learning", "grokking"):
        (stem,) = analyze(word)
        await seeded_store._write_heads_of(stem)
        titled = {
            r[0]
            for r in await seeded_store._all(
                "SELECT pk FROM papers p WHERE EXISTS (SELECT 1 FROM papers_fts"
                " WHERE papers_fts MATCH ? AND rowid = p.pk)",
                (compile_phrase((stem,), "title"),),
            )
        }
        heads = await seeded_store._all("SELECT pk FROM papers_fts_heads WHERE stem = ?", (stem,))
        assert titled and sorted(r[0] for r in heads) == sorted(titled)

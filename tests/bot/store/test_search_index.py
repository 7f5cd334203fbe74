"""The full-text index holds analysed words, written by the store, and survives upgrades."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from bot.matching import matches
from bot.models import Paper
from bot.query import parse_query
from bot.store import SQLiteStore
from bot.store import fts as fts_module
from bot.store import sqlite as sqlite_store
from bot.store.fts import index_row
from bot.store.sqlite import connection as sqlite_connection
from bot.text import ANALYSIS_VERSION
from tests.conftest import seed_papers

DAY = date(2025, 1, 7)
PAPER = Paper(
    id="2401.00010",
    title="Scaling Transformers for Video Diffusion",
    abstract="We study diffusion models. Results on ImageNet.",
    authors=("Robin Rombach", "Ada Lovelace"),
    ai_keywords=("latent diffusion", "video generation"),
)


def test_a_paper_is_indexed_alike_whatever_the_name_cache_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keywords, authors = ("latent diffusion", "Video generation"), ("Ada Lovelace", "Éva Tardos")
    fts_module._names.clear()
    cold = index_row(PAPER.title, PAPER.abstract, keywords, authors)
    assert index_row(PAPER.title, PAPER.abstract, keywords, authors) == cold  # cached
    assert cold[2:4] == ("latent diffus __ video generat", "ada lovelac __ eva tardo")
    monkeypatch.setattr(fts_module, "_NAMES_LIMIT", 3)
    for n in range(10):  # bounded: emptied when full
        index_row("t", "a", (f"keyword {n}",), ())
        assert len(fts_module._names) <= 3
    assert index_row(PAPER.title, PAPER.abstract, keywords, authors) == cold


async def found(store: SQLiteStore, raw: str) -> set[str]:
    page = await store.search(parse_query(raw), limit=1000)
    return {h.listing.paper.id for h in page.hits}


async def test_a_store_made_before_the_analysed_index_is_reindexed_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    every = sqlite_store._migrations()
    with monkeypatch.context() as m:  # the schema as it was: porter, filled by triggers
        m.setattr(sqlite_connection, "_migrations", lambda: [s for s in every if s[0] <= 4])
        m.setattr(SQLiteStore, "_index_search", _no_python_step)
        async with SQLiteStore(path) as old:
            assert (await old._one("PRAGMA user_version"))[0] == 4
    raw = sqlite3.connect(path, isolation_level=None)  # papers stored as the old code did
    # Only the columns of that schema (later migrations add more).
    had = {row[1] for row in raw.execute("PRAGMA table_info(papers)")}
    columns = [c for c in sqlite_store._paper_row(PAPER) if c in had]
    insert = (
        f"INSERT INTO papers (id, {', '.join(columns)}, list_date, first_seen_at, updated_at)"
        f" VALUES ({', '.join('?' * (len(columns) + 4))})"
    )
    for day, papers in seed_papers().items():
        for p in papers:
            row = sqlite_store._paper_row(p)
            values = [row[c] for c in columns]
            raw.execute(insert, (p.id, *values, day.isoformat(), "t", "t"))
    (count,) = raw.execute(
        "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH 'model'"
    ).fetchone()
    assert count > 10
    raw.close()
    async with SQLiteStore(path) as store:
        assert (await store._one("PRAGMA user_version"))[0] == every[-1][0]
        assert await store.get_meta("search_analysis") == ANALYSIS_VERSION
        assert await store._all("SELECT name FROM sqlite_master WHERE type = 'trigger'") == []
        assert await store.integrity_check() == []
        seeds = [p for day in seed_papers().values() for p in day]
        diffusing = await found(store, "diffusing")
        assert diffusing == {p.id for p in seeds if matches(parse_query("diffusing"), p)}
        assert len(diffusing) > 10
        assert len(await found(store, "grokking")) == 4
        await store.ingest_day(DAY, [PAPER])  # and it keeps indexing new papers
        assert PAPER.id in await found(store, "diffusing")


async def _no_python_step(store: SQLiteStore) -> None:
    """What opening a store did before migration 0005: nothing after the SQL."""


async def test_changing_a_papers_text_reindexes_it(store: SQLiteStore) -> None:
    await store.ingest_day(DAY, [PAPER])
    assert await found(store, "diffusing") == {PAPER.id}
    renamed = Paper(PAPER.id, "Grokking in Small Networks", "Networks generalise late.")
    await store.ingest_day(DAY, [renamed])
    # The old title and abstract are gone from the index; keywords and authors were kept.
    assert await found(store, "scaling") == set()
    assert await found(store, "imagenet") == set()
    assert await found(store, "grokked") == {PAPER.id}
    assert await found(store, '"latent diffusion" author:rombach') == {PAPER.id}
    await store.upsert_paper(Paper(PAPER.id, "Grokking", "Abstract.", authors=("Ada Byron",)))
    assert await found(store, "author:rombach") == set()
    assert await found(store, "author:byron") == {PAPER.id}
    await store.ingest_day(DAY, [Paper(PAPER.id, "Grokking", "Abstract.", upvotes=9)])
    assert await found(store, "grokking") == {PAPER.id}
    assert await store.integrity_check() == []


async def test_a_phrase_never_spans_two_keywords_or_two_authors(store: SQLiteStore) -> None:
    await store.ingest_day(DAY, [PAPER])
    assert await found(store, '"latent diffusion"') == {PAPER.id}
    assert await found(store, '"diffusion video"') == set()  # the end of one, start of next
    assert await found(store, 'author:"ada lovelace"') == {PAPER.id}
    assert await found(store, 'author:"rombach ada"') == set()


async def test_an_index_written_by_another_analysis_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with SQLiteStore(path) as store:
        await store.ingest_day(DAY, [PAPER])
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("UPDATE meta SET value = 'an older analysis' WHERE key = 'search_analysis'")
    raw.execute("INSERT INTO papers_fts (papers_fts) VALUES ('delete-all')")
    raw.close()
    async with SQLiteStore(path) as store:
        assert await found(store, "diffusing") == {PAPER.id}
        assert await store.get_meta("search_analysis") == ANALYSIS_VERSION


async def test_title_prefixes_match_words_as_written(store: SQLiteStore) -> None:
    titles = ["Generalization of Naïve Transformers", "Generating Videos", "Diffusion"]
    await store.ingest_day(DAY, [Paper(f"2401.0001{i}", t, "A.") for i, t in enumerate(titles)])
    titled = [f.paper.title for f in await store.titles_starting("generaliz")]
    assert titled == [titles[0]]  # not cut to the stem `general`
    assert [f.paper.title for f in await store.titles_starting("naiv")] == [titles[0]]
    assert [f.paper.title for f in await store.titles_starting("transformers gener")] == [titles[0]]
    assert len(await store.titles_starting("gen")) == 2


async def test_a_hit_snippet_highlights_every_form_of_the_query_words(
    store: SQLiteStore,
) -> None:
    await store.ingest_day(DAY, [PAPER])
    (hit,) = (await store.search(parse_query("diffusing model -gan author:rombach"))).hits
    assert hit.snippet.text == PAPER.abstract.removesuffix(".")
    assert [hit.snippet.text[a:b] for a, b in hit.snippet.spans] == ["diffusion", "models"]

"""SQLite and PostgreSQL find the same papers for the same query on the seed corpus.

The queries are every one the search tests ask of the seed (and of papers made for them),
then a few hundred drawn at random from the corpus's own words with every operator of the
query language. Only the sets must agree: ranking differs (bm25 has IDF, ts_rank has none),
but the relevance cases the contract suite pins (the 4 grokking papers first; "state space"
giving exactly its 4 phrase matches, title matches first) hold on both: asserted here too.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.query import parse_query
from bot.store import SQLiteStore, Store
from bot.store import postgres as pg_store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import papers as sqlite_papers
from bot.text import words
from tests.bot.store.support import ids, seed
from tests.conftest import seed_papers
from tests.support.postgres import PgServer

QUERIES = [
    "grokking",
    "grokking xor",
    "grokking OR mamba",
    "grokking -xor",
    "author:pehlevan",
    '"state space"',
    '"lazy to rich"',
    '"state space" OR grokking',
    "grokking -xor author:spline",
    '"Lazy to RICH" author:"Cengiz Pehlevan" author:Smith',
    "diffusion",
    "diffusing",
    "diffusion video OR image -gan",
    "diffusing model -gan author:rombach",
    '"latent diffusion"',
    '"diffusion video"',
    "learning",
    "model",
    "the OR a OR of OR model",
    "state space",
    'state -"state space"',
    "author:space",
    "author:state",
    "gpt-4",
    "c++",
    "x",
    "zyzzyvaqua",
    "scaling",
    "imagenet",
    "large language models",
    '"reinforcement learning" -robot',
    "author:wang OR author:li",
    "naïve Café",
    "LLMs GPUs",
]


@pytest.fixture
async def both(pg_server: PgServer, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """The seed corpus in a SQLite store and in a PostgreSQL store."""
    async with (
        pg_server.database() as url,
        SQLiteStore(tmp_path / "parity.db") as lite,
        PostgresStore(url) as pg,
    ):
        await seed(lite)
        await seed(pg)
        yield lite, pg


async def found(store: Store, text: str) -> set[str]:
    page = await store.search(parse_query(text), limit=5000)
    return set(ids(page.hits))


def random_queries(count: int) -> list[str]:
    """Queries from the corpus's own words: single words, phrases cut from the text, OR,
    exclusions and authors (a fixed seed: the same queries every run)."""
    rng = random.Random(14)
    papers = [p for day in seed_papers().values() for p in day]
    queries = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 3)):
            paper = rng.choice(papers)
            kind = rng.random()
            if kind < 0.15 and paper.authors:
                parts.append(f'author:"{rng.choice(paper.authors)}"')
                continue
            text = words(rng.choice([paper.title, paper.abstract, *paper.ai_keywords]))
            if not text:
                continue
            start = rng.randrange(len(text))
            chunk = text[start : start + rng.randint(1, 3)]
            term = chunk[0] if len(chunk) == 1 else '"' + " ".join(chunk) + '"'
            if kind < 0.3:
                term = f"-{term}"
            elif kind < 0.45 and parts:
                term = f"OR {term}"
            parts.append(term)
        queries.append(" ".join(parts))
    return queries


async def test_every_search_test_query_finds_the_same_papers(both: tuple[Store, Store]) -> None:
    lite, pg = both
    for text in QUERIES:
        if parse_query(text).is_empty:
            continue
        assert await found(lite, text) == await found(pg, text), text


async def test_random_corpus_queries_find_the_same_papers(both: tuple[Store, Store]) -> None:
    lite, pg = both
    checked = hits = 0
    for text in random_queries(300):
        if parse_query(text).is_empty:
            continue
        papers = await found(lite, text)
        assert papers == await found(pg, text), text
        checked += 1
        hits += bool(papers)
    assert checked > 250 and hits > checked // 3  # most queries find something


async def test_title_prefixes_find_the_same_papers(both: tuple[Store, Store]) -> None:
    lite, pg = both
    for prefix in ["gro", "diff", "state sp", "transformers gener", "lan", "naïv", "x"]:
        a = {x.paper.id for x in await lite.titles_starting(prefix, 100)}
        b = {x.paper.id for x in await pg.titles_starting(prefix, 100)}
        assert a == b, prefix


async def test_the_relevance_cases_hold_on_both(both: tuple[Store, Store]) -> None:
    for store in both:
        page = await store.search(parse_query("grokking"), limit=10)
        assert set(ids(page.hits)[:4]) == {"2310.06371", "2507.14285", "2509.01411", "2501.17548"}
        phrase = ids((await store.search(parse_query('"state space"'), limit=50)).hits)
        assert len(phrase) == 4
        assert set(phrase[:3]) == {"2410.02251", "2503.03920", "2503.09713"}
        assert phrase[3] == "2301.20784"


async def test_a_full_window_is_capped_alike(
    both: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 5)
    monkeypatch.setattr(pg_store.papers, "RANK_WINDOW", 5)
    lite, pg = both
    # By relevance SQLite ranks every match (its heads and FTS5's bm25); the newest-first
    # order reads the window on both.
    pages = [await s.search(parse_query("model"), sort="newest", limit=50) for s in both]
    assert [(p.total, p.capped) for p in pages] == [(5, True), (5, True)]
    assert set(ids(pages[0].hits)) == set(ids(pages[1].hits))  # the same newest five
    assert not (await pg.search(parse_query("grokking"))).capped
    assert not (await lite.search(parse_query("grokking"))).capped


async def test_a_window_read_in_slices_is_the_newest_matches(
    both: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL reads the window newest slice first and stops at the slice that fills it;
    # with slices and a window this small, queries stop in every slice, or read them all.
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 5)
    monkeypatch.setattr(pg_store.papers, "RANK_WINDOW", 5)
    monkeypatch.setattr(pg_store.papers, "WINDOW_SLICES", (3, 10, 40))
    lite, pg = both
    for text in [*QUERIES, *random_queries(100)]:
        if parse_query(text).is_empty:
            continue
        a, b = [await s.search(parse_query(text), sort="newest", limit=50) for s in (lite, pg)]
        assert (set(ids(a.hits)), a.total, a.capped) == (set(ids(b.hits)), b.total, b.capped), text

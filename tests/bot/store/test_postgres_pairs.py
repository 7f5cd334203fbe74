"""PostgreSQL phrases through GIN: each paper's word pairs (migration 0010)."""

from __future__ import annotations

from datetime import date

import pytest

from bench.pair_words import derive
from bot.query import parse_query
from bot.store.postgres import PostgresStore
from bot.store.postgres.connection import vectors
from bot.store.postgres.fts import compile_where
from bot.store.postgres.pair_words import PAIR_WORDS
from tests.bot.store.support import ids, paper, store_before
from tests.support.postgres import PgServer

pytestmark = pytest.mark.usefixtures("pg_server")

# Past the last position PostgreSQL keeps (16,383) and past 256 positions of one word.
LONG = " ".join(f"state space word{n % 300} model" for n in range(4200))


def test_a_text_phrase_asks_gin_for_its_pairs_of_common_words() -> None:
    where, params = compile_where(parse_query('"linear models" author:"jane doe"'), 2)
    assert params[0] == "('linear~model')"  # not 'linear' & 'model': every paper with both
    assert params[1] == "('jane' & 'doe')"  # authors have no pairs
    assert "d.search @@ $4::tsquery" in where  # the phrase is still tested exactly
    # Pairs only of common words: a rare word (grokking) and a stopword (the) stand alone.
    _, params = compile_where(parse_query('"grokking the linear models"'), 2)
    assert params[0] == "('grokk' & 'linear~model' & 'the')"
    _, params = compile_where(parse_query('"deep neural network"'), 2)
    assert params[0] == "('deep~neural' & 'neural~network')"


def test_the_pair_words_are_the_common_words_of_the_real_seed_papers() -> None:
    # Derived from real papers (bench/pair_words.py), not from the benchmark's corpus.
    assert derive() == PAIR_WORDS
    assert "model" in PAIR_WORDS and "the" not in PAIR_WORDS and "grokk" not in PAIR_WORDS


async def test_the_pair_words_table_holds_the_common_words(pg_server: PgServer) -> None:
    async with pg_server.database() as url, PostgresStore(url) as store:
        rows = await store.pool.fetch("SELECT word FROM pair_words")
        assert {r[0] for r in rows} == PAIR_WORDS


async def test_the_stored_pairs_are_those_the_migration_derives(pg_server: PgServer) -> None:
    async with pg_server.database() as url, PostgresStore(url) as store:
        await store.ingest_day(
            date(2025, 1, 2),
            [
                paper(
                    "2501.00001",
                    "Linear models of state space",
                    abstract="We study linear models. Models of state, space.",
                    ai_keywords=("deep learning", "state space"),
                    authors=("Linear Model", "Jane Doe"),
                ),
                paper("2501.00002", "A long one", abstract=LONG),
                paper("2501.00003", "Word", abstract=""),
            ],
        )
        rows = await store.pool.fetch(
            "SELECT p.pairs::text, s.pairs::text, search_pairs(p.search)::text"
            " FROM papers p JOIN paper_search s USING (pk) ORDER BY p.pk"
        )
        assert len(rows) == 3
        for written, copied, derived in rows:
            assert written == copied == derived
        assert "'linear~model'" in rows[0][0] and "'model~jane'" not in rows[0][0]
        assert "'of~state'" not in rows[0][0]  # 'of' is no common word: no pair
        found = await store.search(parse_query('"state space"'))
        assert sorted(ids(found.hits)) == ["2501.00001", "2501.00002"]
        assert (await store.search(parse_query('"space word200"'))).total == 1
        assert ids((await store.search(parse_query('"models of state"'))).hits) == ["2501.00001"]
        assert (await store.search(parse_query('"linear state"'))).hits == ()


async def test_papers_stored_before_the_pairs_are_found_by_phrase(pg_server: PgServer) -> None:
    # Rows stored before migration 0010, or whose `search` is written by code that does not
    # know `pairs`, get their pairs derived in the database.
    async with pg_server.database(migrated=False) as url:
        await store_before(url, 10, "Grokking stored early", "Before pairs.")
        async with PostgresStore(url) as store:
            found = await store.search(parse_query('"grokking stored"'))
            assert ids(found.hits) == ["2501.00001"]
            _, _, pairs = vectors("Renamed later", "Then more pairs.", "", "")
            await store.pool.execute(
                "UPDATE papers SET pairs = $1::tsvector WHERE id = '2501.00001'", pairs
            )
            search, _, _ = vectors("Renamed again", "Then more pairs.", "", "")
            await store.pool.execute(  # as code that does not know `pairs` writes it
                "UPDATE papers SET search = $1::tsvector WHERE id = '2501.00001'", search
            )
            assert (await store.search(parse_query('"renamed later"'))).hits == ()
            found = await store.search(parse_query('"renamed again"'))
            assert ids(found.hits) == ["2501.00001"]
            assert (await store.search(parse_query('"grokking stored"'))).hits == ()


async def test_an_older_writers_search_keeps_its_pairs_after_a_list_date_change(
    pg_server: PgServer,
) -> None:
    """A reviewer's reproduction: the list date alone changed after an older writer's text."""
    async with pg_server.database() as url, PostgresStore(url) as store:
        await store.ingest_day(date(2025, 1, 8), [paper("2501.00001", "Linear models")])
        # A process that does not know `pairs` (the migration says it is supported)
        # rewrites the text: the trigger derives paper_search.pairs, papers.pairs stays old.
        search, _, _ = vectors("State space", "An abstract.", "", "")
        await store.pool.execute(
            "UPDATE papers SET search = $1::tsvector WHERE id = '2501.00001'", search
        )
        assert ids((await store.search(parse_query('"state space"'))).hits) == ["2501.00001"]
        # The paper is then listed on an earlier day: only list_date changes.
        await store.pool.execute(
            "UPDATE papers SET list_date = '2025-01-07' WHERE id = '2501.00001'"
        )
        exact = await store.pool.fetchval(
            "SELECT count(*) FROM paper_search WHERE search @@ '''state'':ABD <-> ''space'':ABD'"
        )
        assert exact == 1  # the stored vector holds the phrase...
        # ...but paper_search.pairs went back to papers.pairs ('linear~model'): not found.
        assert ids((await store.search(parse_query('"state space"'))).hits) == ["2501.00001"]

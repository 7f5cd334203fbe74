"""More like this: tf-idf over title, abstract and AI keywords of the store's own papers."""

from __future__ import annotations

from datetime import date

import pytest

from bot.query import parse_query
from bot.similar import SimilarIndex, SimilarPapers, build
from bot.store import SQLiteStore
from tests.bot.store.support import paper


async def found(store: SQLiteStore, query: str) -> list[str]:
    page = await store.search(parse_query(query), limit=50)
    return [h.listing.paper.id for h in page.hits]


async def top5(similar: SimilarPapers, store: SQLiteStore, paper_id: str) -> list[str]:
    listing = await store.get_paper(paper_id)
    assert listing is not None
    return await similar.similar(listing.paper)


@pytest.fixture
async def similar(seeded_store: SQLiteStore) -> SimilarPapers:
    found = SimilarPapers(seeded_store)
    assert await found.refresh() == 147
    return found


async def test_each_grokking_paper_has_the_other_three_in_its_top_5(
    seeded_store: SQLiteStore, similar: SimilarPapers
) -> None:
    grokking = await found(seeded_store, "grokking")
    assert len(grokking) == 4
    for paper_id in grokking:
        top = await top5(similar, seeded_store, paper_id)
        assert len(top) == 5 and paper_id not in top
        assert set(grokking) - {paper_id} <= set(top), paper_id


async def test_each_state_space_paper_has_two_others_in_its_top_5(
    seeded_store: SQLiteStore, similar: SimilarPapers
) -> None:
    state_space = await found(seeded_store, '"state space"')
    assert len(state_space) == 4
    for paper_id in state_space:
        top = await top5(similar, seeded_store, paper_id)
        assert len((set(state_space) - {paper_id}) & set(top)) >= 2, (paper_id, top)


async def test_papers_stored_later_are_found_after_a_refresh(
    seeded_store: SQLiteStore, similar: SimilarPapers
) -> None:
    twin = paper(
        "2601.00001",
        "Grokking at the edge of numerical stability, again",
        abstract="Grokking, the sudden generalization after prolonged overfitting, and"
        " softmax collapse: numerical stability of grokking.",
        ai_keywords=("grokking", "softmax collapse"),
    )
    await seeded_store.ingest_day(date(2026, 1, 5), [twin])
    assert "2601.00001" not in await top5(similar, seeded_store, "2501.17548")
    assert await similar.refresh() == 148
    assert similar.index.pending == 1  # added beside the build, not rebuilt
    assert (await top5(similar, seeded_store, "2501.17548"))[0] == "2601.00001"
    assert await similar.refresh() == 0


def test_an_empty_or_unrelated_index_finds_nothing() -> None:
    assert SimilarIndex().query(paper("2501.00001", "Anything")) == []
    index = SimilarIndex(build([paper("2501.00001", "Quantum gravity", abstract="Strings.")]))
    assert index.query(paper("2501.00002", "Protein folding", abstract="Enzymes.")) == []
    assert index.query(paper("2501.00001", "Quantum gravity", abstract="Strings.")) == []

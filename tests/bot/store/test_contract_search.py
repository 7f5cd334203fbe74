"""Search: the query language, ranking, sorts, date filters, paging, errors and snippets."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest

from bot.errors import QueryError
from bot.query import author_query, combine, parse_query
from bot.store import Store
from bot.text import analyze
from tests.bot.store.support import DAY, NEXT_DAY, OpenStore, ids, paper, seed

GROKKING = {"2310.06371", "2507.14285", "2509.01411", "2501.17548"}
STATE_SPACE_TITLES = {"2410.02251", "2503.03920", "2503.09713"}
STATE_SPACE_ABSTRACT_ONLY = {"2301.20784"}


async def search_ids(store: Store, text: str, **options: object) -> list[str]:
    page = await store.search(parse_query(text), limit=200, **options)  # type: ignore[arg-type]
    assert page.total == len(page.hits)
    return ids(page.hits)


# -- the query language on the seed corpus ------------------------------------------------


async def test_grokking_finds_the_four_grokking_papers(seeded: Store) -> None:
    page = await seeded.search(parse_query("grokking"))
    assert set(ids(page.hits)) == GROKKING and page.total == 4 and not page.capped


async def test_a_phrase_finds_exactly_its_matches_title_matches_first(seeded: Store) -> None:
    found = await search_ids(seeded, '"state space"')
    assert set(found[:3]) == STATE_SPACE_TITLES and set(found[3:]) == STATE_SPACE_ABSTRACT_ONLY


async def test_a_phrase_finds_the_lazy_to_rich_paper_first(seeded: Store) -> None:
    assert (await search_ids(seeded, '"lazy to rich"'))[0] == "2310.06371"


async def test_words_must_all_match(seeded: Store) -> None:
    assert await search_ids(seeded, "grokking xor") == ["2507.14285"]


async def test_or_matches_either(seeded: Store) -> None:
    assert set(await search_ids(seeded, "grokking OR mamba")) == GROKKING | {"2410.02251"}


async def test_a_minus_excludes(seeded: Store) -> None:
    assert set(await search_ids(seeded, "grokking -xor")) == GROKKING - {"2507.14285"}


async def test_author_searches_the_authors(seeded: Store) -> None:
    found = await seeded.search(
        combine(parse_query("grokking"), author_query("Pehlevan")), limit=50
    )
    assert found.total == 4
    assert all("Cengiz Pehlevan" in h.listing.paper.authors for h in found.hits)
    typed = await search_ids(seeded, "author:pehlevan")
    assert len(typed) == 6 and set(typed) >= GROKKING


# -- the query language on papers made for it ---------------------------------------------

WORDS = [
    paper("2401.00001", "State space models", abstract="Sequences."),
    paper("2401.00002", "A space of states", abstract="Geometry of state."),
    paper("2401.00003", "Attention", abstract="Keys and values.", authors=("Ada Space",)),
    paper("2401.00004", "Kernels", abstract="Nothing here.", ai_keywords=("state space",)),
]


@pytest.fixture
async def words(store: Store) -> Store:
    await store.ingest_day(DAY, WORDS)
    return store


async def test_a_phrase_needs_its_words_in_order(words: Store) -> None:
    assert set(await search_ids(words, '"state space"')) == {"2401.00001", "2401.00004"}
    assert set(await search_ids(words, "state space")) == {"2401.00001", "2401.00002", "2401.00004"}


async def test_keywords_are_searched(words: Store) -> None:
    assert "2401.00004" in await search_ids(words, "space")


async def test_a_plain_word_does_not_search_the_authors(words: Store) -> None:
    assert "2401.00003" not in await search_ids(words, "space")
    assert await search_ids(words, "author:space") == ["2401.00003"]


async def test_author_does_not_search_the_text(words: Store) -> None:
    assert await search_ids(words, "author:state") == []


async def test_an_excluded_phrase_excludes_only_the_phrase(words: Store) -> None:
    assert set(await search_ids(words, 'state -"state space"')) == {"2401.00002"}


async def test_a_title_match_ranks_above_an_abstract_match(store: Store) -> None:
    await store.ingest_day(
        DAY,
        [
            paper("2401.00001", "Unrelated", abstract="We study grokking here."),
            paper("2401.00002", "Grokking explained", abstract="We study it here."),
        ],
    )
    assert await search_ids(store, "grokking") == ["2401.00002", "2401.00001"]


async def test_a_changed_title_is_searched_by_its_new_words(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00001", "Old words")])
    await store.ingest_day(DAY, [paper("2401.00001", "Fresh phrasing")])
    assert await search_ids(store, "fresh") == ["2401.00001"]
    assert await search_ids(store, "old") == []


async def test_a_paper_stored_by_id_is_searchable(store: Store) -> None:
    await store.upsert_paper(paper("2401.00001", "Grokking by id"))
    assert await search_ids(store, "grokking") == ["2401.00001"]
    await store.upsert_paper(paper("2401.00001", "Renamed"))
    assert await search_ids(store, "grokking") == []


async def test_nothing_found_is_an_empty_page(seeded: Store) -> None:
    page = await seeded.search(parse_query("zyzzyvaqua"))
    assert page.hits == () and page.total == 0 and not page.capped


# -- sorts and date filters ---------------------------------------------------------------


async def test_sort_by_upvotes(seeded: Store) -> None:
    page = await seeded.search(parse_query("learning"), sort="upvotes", limit=200)
    votes = [h.listing.paper.upvotes for h in page.hits]
    assert len(votes) > 20 and votes == sorted(votes, reverse=True)


async def test_sort_by_newest(seeded: Store) -> None:
    page = await seeded.search(parse_query("learning"), sort="newest", limit=200)
    dates = [h.listing.list_date for h in page.hits]
    assert len(set(dates)) == 4 and dates == sorted(dates, reverse=True)  # type: ignore[type-var]


async def test_every_sort_finds_the_same_papers(seeded: Store) -> None:
    found = [
        sorted(await search_ids(seeded, "diffusion", sort=sort))
        for sort in ("relevance", "upvotes", "newest")
    ]
    assert found[0] == found[1] == found[2] and len(found[0]) == 12


async def test_since_and_until_are_inclusive_and_go_by_the_first_list_date(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00001", "Grokking one")])
    await store.ingest_day(
        NEXT_DAY, [paper("2401.00001", "Grokking one"), paper("2401.00002", "Grokking two")]
    )
    await store.ingest_day(date(2025, 1, 9), [paper("2401.00003", "Grokking three")])
    await store.upsert_paper(paper("2401.00004", "Grokking four"))  # on no list
    assert len(await search_ids(store, "grokking")) == 4
    assert await search_ids(store, "grokking", since=NEXT_DAY, until=NEXT_DAY) == ["2401.00002"]
    assert set(await search_ids(store, "grokking", since=NEXT_DAY)) == {"2401.00002", "2401.00003"}
    assert set(await search_ids(store, "grokking", until=NEXT_DAY)) == {"2401.00001", "2401.00002"}


async def test_a_date_window_on_the_seed(seeded: Store) -> None:
    page = await seeded.search(
        parse_query("learning"), since=date(2025, 3, 1), until=date(2025, 8, 31), limit=200
    )
    assert page.total and {h.listing.list_date for h in page.hits} == {
        date(2025, 3, 11),
        date(2025, 8, 5),
    }


# -- paging -------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["relevance", "upvotes", "newest"])
async def test_pages_cut_one_stable_order(seeded: Store, sort: str) -> None:
    query = parse_query("model")
    whole = await seeded.search(query, sort=sort, limit=200)  # type: ignore[arg-type]
    pages = [await seeded.search(query, sort=sort, limit=7, offset=o) for o in range(0, 35, 7)]  # type: ignore[arg-type]
    assert [h for p in pages for h in ids(p.hits)] == ids(whole.hits)[:35]
    assert {p.total for p in pages} == {whole.total} and whole.total > 35


async def test_a_page_past_the_end_is_empty_with_the_total(seeded: Store) -> None:
    page = await seeded.search(parse_query("grokking"), limit=10, offset=10)
    assert page.hits == () and page.total == 4


async def test_limit_caps_the_page_not_the_total(seeded: Store) -> None:
    page = await seeded.search(parse_query("grokking"), limit=2)
    assert len(page.hits) == 2 and page.total == 4


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", '" - "', "-grokking"])
async def test_a_query_with_nothing_to_find_is_refused(seeded: Store, text: str) -> None:
    with pytest.raises(QueryError, match="Nothing to search"):
        await seeded.search(parse_query(text))


async def test_a_query_over_the_budget_is_too_broad(open_store: OpenStore) -> None:
    async with open_store(search_budget=0.0) as store:
        await seed(store)
        with pytest.raises(QueryError, match="too broad"):
            await store.search(parse_query("the OR a OR of OR model"), limit=200)
        # ... and the store still answers afterwards.
        assert (await store.stats()).papers == 147


# -- snippets -----------------------------------------------------------------------------


async def test_snippets_highlight_the_query_words_inside_the_text(seeded: Store) -> None:
    page = await seeded.search(parse_query('"state space" OR grokking'), limit=50)
    wanted = {"state", "space", "grokking"}
    assert page.hits
    for hit in page.hits:
        text, spans = hit.snippet.text, hit.snippet.spans
        assert text and spans, hit.listing.paper.id
        assert all(0 <= a < b <= len(text) for a, b in spans)
        assert all(b <= a2 for (_, b), (a2, _) in pairwise(spans))
        assert {text[a:b].lower() for a, b in spans} <= wanted


async def test_snippets_highlight_neither_authors_nor_excluded_words(store: Store) -> None:
    await store.ingest_day(
        DAY,
        [
            paper(
                "2401.00001",
                "Grokking",
                abstract="Grokking meets spline theory.",
                authors=("Ada Spline",),
            )
        ],
    )
    page = await store.search(parse_query("grokking -xor author:spline"))
    (hit,) = page.hits
    assert [hit.snippet.text[a:b] for a, b in hit.snippet.spans] == ["Grokking"]


async def test_a_snippet_highlights_every_form_the_analysis_joins(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00001", "T", abstract="One model, two models.")])
    (hit,) = (await store.search(parse_query("model"))).hits
    marked = [hit.snippet.text[a:b] for a, b in hit.snippet.spans]
    assert marked == ["model", "models"]
    assert {w for m in marked for w in analyze(m)} == set(analyze("model"))

"""Papers: what an ingest reports, how a re-scrape merges, list dates and ranks, lookups."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bot.models import Paper
from bot.store import Store
from tests.bot.store.support import DAY, NEXT_DAY, ids, paper
from tests.conftest import seed_papers

FULL = Paper(
    id="2401.00010",
    title="Full title",
    abstract="Full abstract.",
    authors=("Ada Lovelace", "Alan Turing"),
    published_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    submitted_at=datetime(2024, 1, 3, 4, 5, 6, tzinfo=UTC),
    upvotes=7,
    num_comments=3,
    ai_summary="A summary.",
    ai_keywords=("engines", "looms"),
    github_repo="https://github.com/ada/engine",
    github_stars=12,
    project_page="https://example.org/engine",
    thumbnail="https://example.org/engine.png",
    organization="analytical",
)


async def stored(store: Store, pid: str) -> Paper:
    found = await store.get_paper(pid)
    assert found is not None, pid
    return found.paper


# -- ingest reports -----------------------------------------------------------------------


async def test_ingest_reports_every_paper_new_in_list_order(store: Store) -> None:
    result = await store.ingest_day(DAY, [paper("2401.00010"), paper("2401.00002")])
    assert result.list_date == DAY and result.found == 2
    assert result.new == ("2401.00010", "2401.00002") and result.updated == 0


async def test_reingesting_the_same_list_is_neither_new_nor_updated(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00010"), paper("2401.00002")])
    again = await store.ingest_day(DAY, [paper("2401.00010"), paper("2401.00002")])
    assert again.found == 2 and again.new == () and again.updated == 0


async def test_a_changed_count_is_an_update(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00010", upvotes=1), paper("2401.00002")])
    bumped = await store.ingest_day(
        DAY, [paper("2401.00010", upvotes=5, num_comments=2), paper("2401.00002")]
    )
    assert bumped.new == () and bumped.updated == 1
    got = await stored(store, "2401.00010")
    assert got.upvotes == 5 and got.num_comments == 2


async def test_only_unseen_papers_are_new(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00010")])
    result = await store.ingest_day(NEXT_DAY, [paper("2401.00010"), paper("2401.00011")])
    assert result.new == ("2401.00011",)


async def test_a_paper_twice_on_one_list_counts_once(store: Store) -> None:
    result = await store.ingest_day(
        DAY, [paper("2401.00010"), paper("2401.00002"), paper("2401.00010")]
    )
    assert result.found == 2 and result.new == ("2401.00010", "2401.00002")
    assert ids(await store.day_listing(DAY)) == ["2401.00010", "2401.00002"]


async def test_a_failed_ingest_stores_nothing(store: Store) -> None:
    broken = replace(paper("2401.00010"), title=None)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own error
        await store.ingest_day(DAY, [paper("2401.00002"), broken])
    assert (await store.stats()).papers == 0
    assert await store.list_dates() == []
    assert (await store.ingest_day(DAY, [paper("2401.00002")])).new == ("2401.00002",)


async def test_concurrent_ingests_all_land(store: Store) -> None:
    days = [date(2025, 1, d) for d in range(1, 9)]
    await asyncio.gather(
        *(store.ingest_day(d, [paper(f"2401.{d.day:05d}"), paper("2401.99999")]) for d in days)
    )
    stats = await store.stats()
    assert stats.papers == 9 and stats.list_dates == 8
    shared = await store.get_paper("2401.99999")
    assert shared is not None and shared.list_date == days[0]


# -- what a re-scrape keeps and replaces --------------------------------------------------


async def test_every_field_round_trips(store: Store) -> None:
    await store.ingest_day(DAY, [FULL])
    assert await stored(store, FULL.id) == FULL


async def test_ids_are_kept_verbatim(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2503.02130")])
    assert (await stored(store, "2503.02130")).id == "2503.02130"
    assert await store.get_paper("2503.0213") is None


async def test_an_unknown_paper_is_none(store: Store) -> None:
    assert await store.get_paper("2401.00010") is None


@pytest.mark.parametrize(
    "missing",
    [
        {"abstract": ""},
        {"authors": ()},
        {"ai_keywords": ()},
        {"published_at": None},
        {"submitted_at": None},
        {"num_comments": None},
        {"ai_summary": None},
        {"github_repo": None},
        {"github_stars": None},
        {"project_page": None},
        {"thumbnail": None},
        {"organization": None},
    ],
    ids=lambda m: next(iter(m)),
)
async def test_a_missing_value_keeps_the_stored_one(store: Store, missing: dict) -> None:
    await store.ingest_day(DAY, [FULL])
    result = await store.ingest_day(DAY, [replace(FULL, **missing)])
    assert await stored(store, FULL.id) == FULL
    assert result.updated == 0


async def test_new_values_replace_stored_ones(store: Store) -> None:
    await store.ingest_day(DAY, [FULL])
    newer = Paper(
        id=FULL.id,
        title="New title",
        abstract="New abstract.",
        authors=("Grace Hopper",),
        published_at=datetime(2024, 2, 2, tzinfo=UTC),
        submitted_at=datetime(2024, 2, 3, tzinfo=UTC),
        upvotes=70,
        num_comments=30,
        ai_summary="New summary.",
        ai_keywords=("compilers",),
        github_repo="https://github.com/grace/cobol",
        github_stars=120,
        project_page="https://example.org/cobol",
        thumbnail="https://example.org/cobol.png",
        organization="navy",
    )
    result = await store.ingest_day(DAY, [newer])
    assert result.updated == 1
    assert await stored(store, FULL.id) == newer


async def test_zero_upvotes_is_a_value_not_a_gap(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00010", upvotes=5)])
    await store.ingest_day(DAY, [paper("2401.00010", upvotes=0)])
    assert (await stored(store, "2401.00010")).upvotes == 0


# -- list dates and ranks -----------------------------------------------------------------


async def test_a_paper_keeps_its_earliest_list_date(store: Store) -> None:
    await store.ingest_day(NEXT_DAY, [paper("2401.00010"), paper("2401.00002")])
    await store.ingest_day(DAY, [paper("2401.00002")])  # an older list arrives later
    found = await store.get_paper("2401.00002")
    assert found is not None and found.list_date == DAY and found.rank == 1
    await store.ingest_day(date(2025, 1, 9), [paper("2401.00002")])  # a newer one does not win
    found = await store.get_paper("2401.00002")
    assert found is not None and found.list_date == DAY


async def test_rank_is_the_position_on_the_list(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00010"), paper("2401.00002"), paper("2401.00003")])
    ranks = {pid: (await store.get_paper(pid)).rank for pid in ("2401.00010", "2401.00003")}  # type: ignore[union-attr]
    assert ranks == {"2401.00010": 1, "2401.00003": 3}


async def test_a_reordered_list_moves_the_ranks(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00010"), paper("2401.00002")])
    await store.ingest_day(DAY, [paper("2401.00002"), paper("2401.00010")])
    listing = await store.day_listing(DAY)
    assert ids(listing) == ["2401.00002", "2401.00010"]
    assert [entry.rank for entry in listing] == [1, 2]


async def test_day_listing_is_that_days_list_with_that_days_rank(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00001"), paper("2401.00002")])
    await store.ingest_day(NEXT_DAY, [paper("2401.00002"), paper("2401.00003")])
    listing = await store.day_listing(NEXT_DAY)
    assert ids(listing) == ["2401.00002", "2401.00003"]
    assert [(e.list_date, e.rank) for e in listing] == [(NEXT_DAY, 1), (NEXT_DAY, 2)]


async def test_a_day_without_a_list_has_no_listing(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00001")])
    assert await store.day_listing(NEXT_DAY) == []


async def test_list_dates_oldest_first_within_an_inclusive_range(store: Store) -> None:
    days = [date(2025, 1, 9), date(2025, 1, 5), date(2025, 1, 7)]
    for n, day in enumerate(days):
        await store.ingest_day(day, [paper(f"2401.0000{n}")])
    assert await store.list_dates() == sorted(days)
    assert await store.list_dates(since=date(2025, 1, 7)) == [date(2025, 1, 7), date(2025, 1, 9)]
    assert await store.list_dates(until=date(2025, 1, 7)) == [date(2025, 1, 5), date(2025, 1, 7)]
    assert await store.list_dates(date(2025, 1, 6), date(2025, 1, 8)) == [date(2025, 1, 7)]


async def test_seed_lists_come_back_in_their_order(seeded: Store) -> None:
    for day, papers in seed_papers().items():
        assert ids(await seeded.day_listing(day)) == [p.id for p in papers]


# -- papers stored by id ------------------------------------------------------------------


async def test_upsert_paper_says_whether_it_was_new(store: Store) -> None:
    assert await store.upsert_paper(paper("2401.00010", upvotes=3)) is True
    assert await store.upsert_paper(paper("2401.00010", upvotes=4)) is False
    assert (await stored(store, "2401.00010")).upvotes == 4


async def test_a_paper_stored_by_id_has_no_list_date(store: Store) -> None:
    await store.upsert_paper(paper("2401.00010"))
    found = await store.get_paper("2401.00010")
    assert found is not None and found.list_date is None
    assert await store.list_dates() == []


async def test_upsert_paper_merges_like_a_rescrape(store: Store) -> None:
    await store.upsert_paper(FULL)
    assert await store.upsert_paper(replace(FULL, abstract="", authors=(), upvotes=9)) is False
    assert await stored(store, FULL.id) == replace(FULL, upvotes=9)


async def test_upsert_paper_keeps_a_listed_papers_date_and_rank(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00001"), paper("2401.00010")])
    await store.upsert_paper(paper("2401.00010", upvotes=50))
    found = await store.get_paper("2401.00010")
    assert found is not None and (found.list_date, found.rank) == (DAY, 2)
    assert found.paper.upvotes == 50


async def test_a_list_gives_a_paper_stored_by_id_its_date_but_it_is_not_new(store: Store) -> None:
    await store.upsert_paper(paper("2401.00010"))
    result = await store.ingest_day(DAY, [paper("2401.00010")])
    assert result.new == ()
    found = await store.get_paper("2401.00010")
    assert found is not None and (found.list_date, found.rank) == (DAY, 1)


# -- top papers and title prefixes --------------------------------------------------------


async def test_top_papers_most_upvoted_first_within_the_window(store: Store) -> None:
    await store.ingest_day(date(2025, 1, 1), [paper("2401.00001", upvotes=500)])
    await store.ingest_day(
        date(2025, 1, 5), [paper("2401.00002", upvotes=5), paper("2401.00003", upvotes=50)]
    )
    await store.ingest_day(
        date(2025, 1, 9), [paper("2401.00004", upvotes=9), paper("2401.00005", upvotes=400)]
    )
    await store.ingest_day(date(2025, 1, 10), [paper("2401.00006", upvotes=900)])
    await store.upsert_paper(paper("2401.00007", upvotes=1000))  # on no list
    top = await store.top_papers(date(2025, 1, 5), date(2025, 1, 9))
    assert ids(top) == ["2401.00005", "2401.00003", "2401.00004", "2401.00002"]
    assert ids(await store.top_papers(date(2025, 1, 5), date(2025, 1, 9), limit=2)) == [
        "2401.00005",
        "2401.00003",
    ]


async def test_top_papers_go_by_the_first_list_date(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00001", upvotes=10)])
    await store.ingest_day(NEXT_DAY, [paper("2401.00001", upvotes=10), paper("2401.00002")])
    assert ids(await store.top_papers(NEXT_DAY, NEXT_DAY)) == ["2401.00002"]


async def test_seed_top_papers(seeded: Store) -> None:
    top = await seeded.top_papers(date(2025, 3, 1), date(2025, 8, 31), limit=5)
    votes = [t.paper.upvotes for t in top]
    assert len(top) == 5 and votes == sorted(votes, reverse=True) and votes[0] == 275
    assert all(date(2025, 3, 1) <= t.list_date <= date(2025, 8, 31) for t in top)  # type: ignore[operator]


async def test_titles_starting_with_a_prefix_most_upvoted_first(seeded: Store) -> None:
    found = await seeded.titles_starting("grok")
    assert ids(found) == ["2310.06371", "2507.14285", "2509.01411", "2501.17548"]


async def test_titles_starting_needs_every_typed_word(seeded: Store) -> None:
    found = await seeded.titles_starting("state sp")
    assert ids(found) == ["2410.02251", "2503.03920", "2503.09713"]
    assert ids(await seeded.titles_starting("state sp", limit=1)) == ["2410.02251"]


async def test_titles_starting_matches_title_words_only(store: Store) -> None:
    await store.ingest_day(
        DAY,
        [
            paper("2401.00001", "Grokking modular addition"),
            paper("2401.00002", "Other", abstract="Grokking in the abstract."),
            paper("2401.00003", "Ungrokkable things"),
        ],
    )
    assert ids(await store.titles_starting("grok")) == ["2401.00001"]


async def test_titles_starting_without_a_word_is_empty(seeded: Store) -> None:
    assert await seeded.titles_starting("!!") == []
    assert await seeded.titles_starting("") == []

"""matching_papers: what /alert add previews, through the index, equal to matching in Python."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.errors import QueryError
from bot.matching import matches
from bot.models import Listing
from bot.query import Query, parse_query
from bot.store import Store
from tests.bot.store.support import ids, paper
from tests.bot.test_analysis_agreement import queries
from tests.conftest import seed_papers

DAYS = sorted(seed_papers())  # 2025-01-07, 2025-03-11, 2025-08-05, 2025-11-28
ALL = 1000  # more than the seed papers


def _key(item: Listing) -> tuple[int, date]:
    assert item.list_date is not None
    return item.paper.upvotes, item.list_date


async def brute_force(
    store: Store, query: Query, since: date, until: date, min_upvotes: int
) -> list[Listing]:
    """The old preview: every paper of the range read back and matched in Python."""
    window = await store.top_papers(since, until, ALL)
    found = [i for i in window if i.paper.upvotes >= min_upvotes and matches(query, i.paper)]
    return sorted(found, key=_key, reverse=True)


async def assert_agrees(
    store: Store, query: Query, since: date, until: date, min_upvotes: int = 0
) -> int:
    expected = await brute_force(store, query, since, until, min_upvotes)
    total, found = await store.matching_papers(
        query, since, until, min_upvotes=min_upvotes, limit=ALL
    )
    assert total == len(found) == len(expected), str(query)
    assert set(ids(found)) == set(ids(expected)), str(query)
    assert [_key(i) for i in found] == [_key(i) for i in expected], str(query)  # the order
    # A short page is the head of the whole answer, with the whole count.
    head_total, head = await store.matching_papers(
        query, since, until, min_upvotes=min_upvotes, limit=3
    )
    assert (head_total, ids(head)) == (total, ids(found)[:3])
    return total


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    raw=queries(),
    first=st.integers(0, len(DAYS) - 1),
    span=st.integers(0, len(DAYS) - 1),
    min_upvotes=st.sampled_from([0, 0, 0, 20, 100]),
)
async def test_the_index_finds_what_matching_every_paper_finds(
    seeded: Store, raw: str, first: int, span: int, min_upvotes: int
) -> None:
    query = parse_query(raw)
    if query.is_empty:
        return
    since, until = DAYS[first], DAYS[min(first + span, len(DAYS) - 1)]
    total = await assert_agrees(seeded, query, since, until, min_upvotes)
    event("finds nothing" if not total else "finds papers")


@pytest.mark.parametrize(
    "text",
    [
        "grokking",
        '"state space"',
        "diffusion video OR image -gan",
        "author:pehlevan",
        '"Lazy to RICH" author:"Cengiz Pehlevan"',
        "model -learning",
        "the OR a OR of OR model",
        "naïve Café",
        "LLMs GPUs",
        "gpt-4",
    ],
)
async def test_the_query_language_agrees_over_all_days(seeded: Store, text: str) -> None:
    await assert_agrees(seeded, parse_query(text), DAYS[0], DAYS[-1])


async def test_only_the_date_range_counts(seeded: Store) -> None:
    query = parse_query("grokking")
    everywhere, _ = await seeded.matching_papers(query, DAYS[0], DAYS[-1])
    total, found = await seeded.matching_papers(query, DAYS[-1], DAYS[-1] + timedelta(days=7))
    assert 0 < total < everywhere
    assert all(i.list_date == DAYS[-1] for i in found)
    assert await seeded.matching_papers(query, date(2030, 1, 1), date(2030, 2, 1)) == (0, [])


async def test_min_upvotes_leaves_out_the_papers_below_it(seeded: Store) -> None:
    query = parse_query("model")
    total, found = await seeded.matching_papers(query, DAYS[0], DAYS[-1], limit=ALL)
    bar = found[len(found) // 2].paper.upvotes
    rising_total, rising = await seeded.matching_papers(
        query, DAYS[0], DAYS[-1], min_upvotes=bar, limit=ALL
    )
    assert 0 < rising_total < total
    assert ids(rising) == [i.paper.id for i in found if i.paper.upvotes >= bar]


async def test_a_paper_stored_long_before_its_list_day_is_found(store: Store) -> None:
    # Looked up with /paper first (stored, on no list), listed weeks later: the oldest
    # stored paper of the range, behind many newer ones.
    sheaf = paper("2501.00001", "Sheaf cohomology for transformers", upvotes=7)
    await store.upsert_paper(sheaf)
    day = date(2025, 3, 3)
    for n in range(3):
        await store.ingest_day(
            day + timedelta(days=n),
            [paper(f"2502.{n:03d}{k:02d}", f"Filler {n} {k}", upvotes=k) for k in range(20)],
        )
    await store.ingest_day(day + timedelta(days=5), [sheaf])
    total, found = await store.matching_papers(
        parse_query("sheaf"), day + timedelta(days=3), day + timedelta(days=9)
    )
    assert (total, ids(found)) == (1, ["2501.00001"])
    assert found[0].list_date == day + timedelta(days=5)


async def test_an_empty_query_is_refused(seeded: Store) -> None:
    with pytest.raises(QueryError):
        await seeded.matching_papers(Query(), DAYS[0], DAYS[-1])

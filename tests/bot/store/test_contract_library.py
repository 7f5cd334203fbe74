"""Libraries and reading lists: stored papers only, once each, newest first, per person or
server, and caps that concurrent adds cannot pass together."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import LibraryLimitError, NotFoundError
from bot.store import Store
from tests.bot.store.support import DAY, paper


@pytest.fixture
async def papers(store: Store) -> Store:
    await store.ingest_day(DAY, [paper(f"2501.0000{n}", f"Paper {n}") for n in range(1, 6)])
    return store


def saved_ids(items: object) -> list[str]:
    return [item.listing.paper.id for item in items]  # type: ignore[attr-defined]


# -- libraries ------------------------------------------------------------------------------


async def test_save_is_once_per_person_and_newest_first(papers: Store) -> None:
    assert await papers.save_paper(1, "2501.00001") is True
    assert await papers.save_paper(1, "2501.00002") is True
    assert await papers.save_paper(1, "2501.00001") is False  # already saved
    assert await papers.save_paper(2, "2501.00001") is True  # someone else's library
    mine = await papers.library(1)
    assert saved_ids(mine) == ["2501.00002", "2501.00001"]
    assert mine[0].listing.paper.title == "Paper 2" and mine[0].saved_at.tzinfo is not None
    assert saved_ids(await papers.library(2)) == ["2501.00001"]
    assert await papers.library(3) == []


async def test_only_stored_papers_can_be_saved(papers: Store) -> None:
    with pytest.raises(NotFoundError):
        await papers.save_paper(1, "2501.99999")
    assert await papers.library(1) == []


async def test_unsave_touches_only_that_person(papers: Store) -> None:
    await papers.save_paper(1, "2501.00001")
    await papers.save_paper(2, "2501.00001")
    assert await papers.unsave_paper(1, "2501.00001") is True
    assert await papers.unsave_paper(1, "2501.00001") is False
    assert await papers.library(1) == []
    assert saved_ids(await papers.library(2)) == ["2501.00001"]


async def test_the_library_cap_holds_under_concurrent_saves(papers: Store) -> None:
    await papers.save_paper(1, "2501.00001", max_saved=3)
    results = await asyncio.gather(
        *(papers.save_paper(1, f"2501.0000{n}", max_saved=3) for n in range(2, 6)),
        return_exceptions=True,
    )
    assert sum(r is True for r in results) == 2
    assert all(isinstance(r, LibraryLimitError) for r in results if r is not True)
    assert len(await papers.library(1)) == 3
    assert await papers.save_paper(1, "2501.00001", max_saved=3) is False  # not over the cap
    assert await papers.save_paper(2, "2501.00005", max_saved=3) is True  # caps are per person


# -- reading lists --------------------------------------------------------------------------


async def test_reading_list_is_per_server_with_notes(papers: Store) -> None:
    assert await papers.add_reading(10, "2501.00001", 1, "read §3 first") is True
    assert await papers.add_reading(10, "2501.00002", 2) is True
    assert await papers.add_reading(10, "2501.00001", 2, "another note") is False
    assert await papers.add_reading(20, "2501.00001", 3) is True
    listed = await papers.reading_list(10)
    assert saved_ids(listed) == ["2501.00002", "2501.00001"]
    entry = await papers.reading_entry(10, "2501.00001")
    assert entry is not None and (entry.added_by, entry.note) == (1, "read §3 first")
    assert entry.added_at.tzinfo is not None and entry.listing.paper.title == "Paper 1"
    assert await papers.reading_entry(10, "2501.00003") is None
    assert saved_ids(await papers.reading_list(20)) == ["2501.00001"]


async def test_only_stored_papers_go_on_a_reading_list(papers: Store) -> None:
    with pytest.raises(NotFoundError):
        await papers.add_reading(10, "2501.99999", 1)


async def test_remove_reading_by_adder_only_when_asked(papers: Store) -> None:
    await papers.add_reading(10, "2501.00001", 1)
    await papers.add_reading(20, "2501.00001", 1)
    assert await papers.remove_reading(10, "2501.00001", added_by=2) is False
    assert await papers.reading_entry(10, "2501.00001") is not None
    assert await papers.remove_reading(10, "2501.00001", added_by=1) is True
    await papers.add_reading(10, "2501.00001", 1)
    assert await papers.remove_reading(10, "2501.00001") is True  # a moderator's removal
    assert await papers.remove_reading(10, "2501.00001") is False
    assert saved_ids(await papers.reading_list(20)) == ["2501.00001"]  # other server kept


async def test_the_reading_list_cap_holds_under_concurrent_adds(papers: Store) -> None:
    results = await asyncio.gather(
        *(papers.add_reading(10, f"2501.0000{n}", n, max_entries=2) for n in range(1, 6)),
        return_exceptions=True,
    )
    assert sum(r is True for r in results) == 2
    assert all(isinstance(r, LibraryLimitError) for r in results if r is not True)
    assert len(await papers.reading_list(10)) == 2
    assert await papers.add_reading(20, "2501.00001", 1, max_entries=2) is True

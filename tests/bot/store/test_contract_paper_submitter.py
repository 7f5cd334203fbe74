"""A paper's submitter and uploaded media: stored, returned everywhere a paper is, and kept
when a later read of the paper lacks them."""

from __future__ import annotations

from dataclasses import replace

from bot.models import Paper
from bot.query import parse_query
from bot.store import Store
from tests.bot.store.support import DAY, NEXT_DAY, paper

MEDIA = ("https://cdn-uploads.example/a.png", "https://cdn-uploads.example/b.mp4")


def submitted(pid: str = "2401.00010") -> Paper:
    return paper(pid, "Looms and engines", submitter="ada_l", media_urls=MEDIA)


async def test_a_listed_papers_submitter_and_media_come_back(store: Store) -> None:
    await store.ingest_day(DAY, [submitted()])
    found = await store.get_paper("2401.00010")
    assert found is not None
    assert found.paper.submitter == "ada_l" and found.paper.media_urls == MEDIA
    (listed,) = await store.day_listing(DAY)
    assert listed.paper.submitter == "ada_l" and listed.paper.media_urls == MEDIA


async def test_search_results_carry_the_submitter(store: Store) -> None:
    await store.ingest_day(DAY, [submitted()])
    page = await store.search(parse_query("looms"))
    assert [h.listing.paper.submitter for h in page.hits] == ["ada_l"]


async def test_a_paper_looked_up_by_id_keeps_its_submitter(store: Store) -> None:
    assert await store.upsert_paper(submitted())
    found = await store.get_paper("2401.00010")
    assert found is not None and found.paper.submitter == "ada_l"


async def test_a_later_read_without_submitter_or_media_keeps_them(store: Store) -> None:
    await store.ingest_day(DAY, [submitted()])
    await store.ingest_day(NEXT_DAY, [replace(submitted(), submitter=None, media_urls=())])
    found = await store.get_paper("2401.00010")
    assert found is not None
    assert found.paper.submitter == "ada_l" and found.paper.media_urls == MEDIA


async def test_a_paper_without_them_has_none(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2401.00002")])
    found = await store.get_paper("2401.00002")
    assert found is not None
    assert found.paper.submitter is None and found.paper.media_urls == ()

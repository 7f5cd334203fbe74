import asyncio
import sqlite3
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.errors import QueryError
from bot.models import Paper
from bot.query import author_query, combine, parse_query
from bot.store import SQLiteStore
from bot.store.fts import compile_match
from bot.store.sqlite import papers as sqlite_papers
from tests.conftest import seed_papers

DAY = date(2025, 1, 7)


def paper(pid: str, title: str = "A title", **kw: object) -> Paper:
    return Paper(id=pid, title=title, abstract=kw.pop("abstract", "An abstract."), **kw)  # type: ignore[arg-type]


async def test_migrations_wal_and_busy_timeout(store: SQLiteStore) -> None:
    assert (await store._one("PRAGMA user_version"))[0] >= 1
    assert (await store._one("PRAGMA journal_mode"))[0] == "wal"
    assert (await store._one("PRAGMA busy_timeout"))[0] > 0
    assert await store.integrity_check() == []


async def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "a.db") as s:
        await s.ingest_day(DAY, [paper("2401.00010")])
    async with SQLiteStore(tmp_path / "a.db") as s:
        assert (await s.stats()).papers == 1


async def test_ingest_reports_new_then_updates_then_nothing(store: SQLiteStore) -> None:
    first = await store.ingest_day(DAY, [paper("2401.00010", upvotes=0), paper("2401.00002")])
    assert first.new == ("2401.00010", "2401.00002") and first.updated == 0
    again = await store.ingest_day(DAY, [paper("2401.00010", upvotes=0), paper("2401.00002")])
    assert again.new == () and again.updated == 0
    bumped = await store.ingest_day(
        DAY, [paper("2401.00010", upvotes=5, num_comments=2), paper("2401.00002")]
    )
    assert bumped.new == () and bumped.updated == 1
    stored = await store.get_paper("2401.00010")
    assert stored is not None
    assert stored.paper.upvotes == 5 and stored.paper.num_comments == 2
    assert stored.list_date == DAY and stored.rank == 1


async def test_ids_keep_trailing_zeros_and_zero_upvotes(store: SQLiteStore) -> None:
    await store.ingest_day(DAY, [paper("2503.02130", upvotes=0)])
    stored = await store.get_paper("2503.02130")
    assert stored is not None and stored.paper.id == "2503.02130" and stored.paper.upvotes == 0
    assert await store.get_paper("2503.0213") is None


async def test_a_thinner_rescrape_keeps_what_we_knew(store: SQLiteStore) -> None:
    full = paper("2401.00010", abstract="Full abstract.", authors=("Ada",), ai_summary="S")
    await store.ingest_day(DAY, [full])
    card_only = Paper(id="2401.00010", title="A title", abstract="", upvotes=9)
    await store.ingest_day(DAY, [card_only])
    stored = await store.get_paper("2401.00010")
    assert stored is not None
    assert stored.paper.abstract == "Full abstract." and stored.paper.authors == ("Ada",)
    assert stored.paper.ai_summary == "S" and stored.paper.upvotes == 9


async def test_a_paper_on_two_days_keeps_its_first_date(store: SQLiteStore) -> None:
    await store.ingest_day(date(2025, 1, 8), [paper("2401.00010"), paper("2401.00002")])
    await store.ingest_day(DAY, [paper("2401.00002")])
    stored = await store.get_paper("2401.00002")
    assert stored is not None and stored.list_date == DAY
    assert [p.paper.id for p in await store.day_listing(date(2025, 1, 8))] == [
        "2401.00010",
        "2401.00002",
    ]
    assert await store.list_dates() == [DAY, date(2025, 1, 8)]


async def test_grokking_ranks_grokking_papers_first(seeded_store: SQLiteStore) -> None:
    page = await seeded_store.search(parse_query("grokking"), limit=10)
    titles = [h.listing.paper.title for h in page.hits]
    grokking = [t for t in titles if "grokking" in t.lower()]
    assert len(grokking) == 4 and titles[: len(grokking)] == grokking
    assert page.total == len(titles)
    first = page.hits[0].snippet
    assert [first.text[a:b].lower() for a, b in first.spans] == ["grokking"]


async def test_phrase_finds_the_lazy_to_rich_paper_first(seeded_store: SQLiteStore) -> None:
    page = await seeded_store.search(parse_query('"lazy to rich"'))
    assert page.hits[0].listing.paper.title == (
        "Grokking as the Transition from Lazy to Rich Training Dynamics"
    )


async def test_exclusion_and_author(seeded_store: SQLiteStore) -> None:
    everything = await seeded_store.search(parse_query("grokking"), limit=50)
    without = await seeded_store.search(parse_query("grokking -xor"), limit=50)
    assert without.total == everything.total - 1
    assert all("XOR" not in h.listing.paper.title for h in without.hits)
    pehlevan = await seeded_store.search(
        combine(parse_query("grokking"), author_query("Pehlevan")), limit=50
    )
    assert pehlevan.total >= 1
    assert all("Cengiz Pehlevan" in h.listing.paper.authors for h in pehlevan.hits)


async def test_filters_and_sorts(seeded_store: SQLiteStore) -> None:
    q = parse_query("learning")
    by_votes = await seeded_store.search(q, sort="upvotes", limit=50)
    votes = [h.listing.paper.upvotes for h in by_votes.hits]
    assert votes == sorted(votes, reverse=True)
    newest = await seeded_store.search(q, sort="newest", limit=50)
    dates = [h.listing.list_date for h in newest.hits]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    window = await seeded_store.search(q, since=date(2025, 3, 1), until=date(2025, 8, 31), limit=50)
    assert window.total and all(
        date(2025, 3, 1) <= h.listing.list_date <= date(2025, 8, 31)  # type: ignore[operator]
        for h in window.hits
    )


async def test_paging_is_stable_and_total_is_exact(seeded_store: SQLiteStore) -> None:
    q = parse_query("model")
    pages = [await seeded_store.search(q, limit=5, offset=o) for o in range(0, 40, 5)]
    ids = [h.listing.paper.id for p in pages for h in p.hits]
    assert len(ids) == len(set(ids))
    assert {p.total for p in pages} == {pages[0].total}


async def test_empty_query_is_refused(store: SQLiteStore) -> None:
    with pytest.raises(QueryError, match="Nothing to search"):
        await store.search(parse_query('" - "'))


async def test_a_query_that_runs_too_long_is_cut_off(seeded_store: SQLiteStore) -> None:
    seeded_store.search_budget = 0.0
    with pytest.raises(QueryError, match="too broad"):
        await seeded_store.search(parse_query("the OR a OR of OR model"), limit=200)
    # The connection still works afterwards.
    seeded_store.search_budget = 1.0
    assert (await seeded_store.search(parse_query("grokking"))).total == 4


async def test_titles_starting_and_top_papers(seeded_store: SQLiteStore) -> None:
    found = await seeded_store.titles_starting("grok")
    assert found and all("grok" in f.paper.title.lower() for f in found)
    assert await seeded_store.titles_starting("!!") == []
    top = await seeded_store.top_papers(date(2025, 1, 1), date(2025, 12, 31), limit=5)
    votes = [t.paper.upvotes for t in top]
    assert votes == sorted(votes, reverse=True) and len(top) == 5


async def test_meta_and_stats(seeded_store: SQLiteStore) -> None:
    assert await seeded_store.get_meta("k") is None
    await seeded_store.set_meta("k", "1")
    await seeded_store.set_meta("k", "2")
    assert await seeded_store.get_meta("k") == "2"
    stats = await seeded_store.stats()
    assert stats.papers == sum(len(v) for v in seed_papers().values())
    assert stats.list_dates == 4 and stats.size_bytes > 0


async def test_a_failed_transaction_leaves_nothing(store: SQLiteStore) -> None:
    bad = replace(paper("2401.00010"), title=None)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        await store.ingest_day(DAY, [paper("2401.00002"), bad])
    assert (await store.stats()).papers == 0
    assert (await store.ingest_day(DAY, [paper("2401.00002")])).new == ("2401.00002",)


async def test_concurrent_writers_wait_for_each_other(store: SQLiteStore) -> None:
    days = [date(2025, 1, d) for d in range(1, 11)]
    await asyncio.gather(
        *(store.ingest_day(d, [paper(f"2401.{d.day:05d}"), paper("2401.99999")]) for d in days)
    )
    stats = await store.stats()
    assert stats.papers == 11 and stats.list_dates == 10


async def test_upsert_single_paper(store: SQLiteStore) -> None:
    assert await store.upsert_paper(paper("2401.00010", upvotes=3)) is True
    assert await store.upsert_paper(paper("2401.00010", upvotes=4)) is False
    stored = await store.get_paper("2401.00010")
    assert stored is not None and stored.paper.upvotes == 4 and stored.list_date is None


async def test_broad_queries_in_another_order_rank_only_the_newest_window(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # By relevance every match is ranked (tests/bot/store/test_sqlite_search_rank.py).
    everything = await seeded_store.search(parse_query("learning"), sort="upvotes", limit=200)
    assert not everything.capped
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 10)
    window = await seeded_store.search(parse_query("learning"), sort="upvotes", limit=200)
    assert window.capped and window.total == 10
    newest_pks = await seeded_store._all(
        "SELECT p.id FROM papers_fts JOIN papers p ON p.pk = papers_fts.rowid"
        " WHERE papers_fts MATCH ? ORDER BY papers_fts.rowid DESC LIMIT 10",
        (compile_match(parse_query("learning")),),
    )
    assert {h.listing.paper.id for h in window.hits} == {r[0] for r in newest_pks}


async def test_a_search_never_interrupts_a_write(seeded_store: SQLiteStore) -> None:
    seeded_store.search_budget = 0.0
    results = await asyncio.gather(
        seeded_store.search(parse_query("the OR a OR of OR model"), limit=200),
        seeded_store.ingest_day(date(2025, 2, 3), [paper("2502.00010")]),
        return_exceptions=True,
    )
    assert isinstance(results[0], QueryError)
    assert results[1].new == ("2502.00010",)  # type: ignore[union-attr]


async def test_reads_are_not_held_up_by_a_write_waiting_on_a_lock(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "locked.db") as store:
        await store.ingest_day(DAY, [paper("2401.00010")])
        other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            write = asyncio.create_task(store.ingest_day(DAY, [paper("2401.00011")]))
            # The write is in, waiting on the lock (a lock's state has no event to wait on)...
            while not store._write_lock.locked():  # noqa: ASYNC110
                await asyncio.sleep(0)
            assert not write.done()
            stats = await asyncio.wait_for(store.stats(), 1.0)  # ...reads do not
            assert stats.papers == 1
        finally:
            other.execute("COMMIT")
            other.close()
        assert (await write).new == ("2401.00011",)  # and nothing was lost

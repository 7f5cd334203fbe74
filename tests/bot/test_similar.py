"""More like this: tf-idf over title, abstract and AI keywords of the store's own papers."""

from __future__ import annotations

import asyncio
import mmap
import subprocess
from collections.abc import Callable
from datetime import date

import numpy as np
import pytest

from bot import similar as similar_module
from bot.models import Paper
from bot.query import parse_query
from bot.similar import BUCKETS, Builder, SimilarIndex, SimilarPapers, build, paper_terms
from bot.similar_build import ProcessBuild
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


def reference_postings(papers: list[Paper]) -> tuple[list[int], list[int], list[float]]:
    """The postings as a plain in-memory build orders them: by bucket, then by row."""
    built = build(papers)  # for its df and cap only
    found = []
    for row, one in enumerate(papers):
        terms, values = built.vector(paper_terms(one))
        for term, value in zip(terms.tolist(), values.tolist(), strict=True):
            if built.df[term] >= 2:
                found.append((term, row, float(np.float32(value))))
    found.sort(key=lambda posting: posting[0])  # stable: rows stay in order
    indptr = np.searchsorted([t for t, _, _ in found], np.arange(BUCKETS + 1)).tolist()
    return indptr, [r for _, r, _ in found], [w for _, _, w in found]


async def test_a_build_in_pages_keeps_its_postings_in_a_mapped_file_in_bucket_order(
    seeded_store: SQLiteStore,
) -> None:
    papers = [p for _, p in await seeded_store.stored_since(0, 1000)]
    builder = Builder()
    pages = [papers[n : n + 20] for n in range(0, len(papers), 20)]
    for page in pages:
        builder.count(page)
    for page in pages:
        builder.weigh(page)
    built = builder.finish()
    indptr, rows, weights = reference_postings(papers)
    assert built.indptr.tolist() == indptr
    assert built.rows.tolist() == rows
    assert built.weights.tolist() == weights
    # Not in the process's own memory: read-only pages of a (deleted) temporary file.
    for array in (built.rows, built.weights):
        assert isinstance(array.base, memoryview) and isinstance(array.base.obj, mmap.mmap)
        assert not array.flags.writeable
    assert SimilarIndex(built).query(papers[0]) == SimilarIndex(build(papers)).query(papers[0])


async def test_without_a_writable_temporary_directory_the_index_is_built_in_memory(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_temporary_files() -> None:
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr(similar_module.tempfile, "TemporaryFile", no_temporary_files)
    papers = [p for _, p in await seeded_store.stored_since(0, 1000)]
    built = build(papers)
    indptr, rows, weights = reference_postings(papers)
    assert (built.indptr.tolist(), built.rows.tolist(), built.weights.tolist()) == (
        indptr,
        rows,
        weights,
    )
    assert SimilarIndex(built).query(papers[0])


@pytest.mark.parametrize("reads", ["its file", "pages from the bot"])
async def test_a_store_of_more_than_a_page_is_built_in_a_child_process_to_the_same_index(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch, reads: str
) -> None:
    # The build is CPU-bound Python: in a worker thread it held the GIL against the event
    # loop and the store's threads, so searches, digests and the scrape's write queued behind
    # a first build at 200,000 papers. Here no word of it may be counted in this process.
    def not_here(step: Callable[[Builder, list[Paper]], None]) -> Callable[..., None]:
        def spy(builder: Builder, papers: list[Paper]) -> None:
            if papers:  # (an empty index, as a new SimilarPapers holds, is built here)
                raise AssertionError("the build ran in the bot's own process")
            step(builder, papers)

        return spy

    papers = [p for _, p in await seeded_store.stored_since(0, 1000)]
    expected = build(papers)
    monkeypatch.setattr(similar_module, "READ_PAGE", 20)  # 147 papers: 8 pages
    monkeypatch.setattr(Builder, "count", not_here(Builder.count))
    monkeypatch.setattr(Builder, "weigh", not_here(Builder.weigh))
    if reads != "its file":  # as from a server (PostgreSQL)
        monkeypatch.setattr(seeded_store, "corpus_file", lambda: None)
    found = SimilarPapers(seeded_store)
    assert await found.refresh() == 147
    built = found.index._built
    assert (built.papers, built.cap, built.ids.tolist()) == (
        expected.papers,
        expected.cap,
        expected.ids.tolist(),
    )
    for name in ("df", "indptr", "rows", "weights"):
        assert np.array_equal(getattr(built, name), getattr(expected, name)), name
    # Every array mapped from the child's file, none copied into the bot's own memory (df
    # and indptr are 4 MB each, and unpickling them held the pickle's bytes as well).
    for name in ("rows", "weights", "df", "indptr", "ids"):
        array = getattr(built, name)
        assert isinstance(array.base, memoryview) and isinstance(array.base.obj, mmap.mmap), name
        assert not array.flags.writeable, name
    for one in papers[:20]:
        assert await found.similar(one) == SimilarIndex(expected).query(one)


async def test_a_build_given_up_on_leaves_no_child_process(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    enter = ProcessBuild.__aenter__

    async def recorded(build: ProcessBuild) -> ProcessBuild:
        await enter(build)
        assert build._proc is not None
        started.append(build._proc)
        return build

    second_page = asyncio.Event()
    real = seeded_store.stored_since

    starts = 0  # reads from the first paper: the refresh's, then the rebuild's

    async def stalled(position: int, limit: int = 1000) -> list[tuple[int, Paper]]:
        nonlocal starts
        starts += position == 0
        if position and starts == 2:  # the rebuild's second page: the store never answers
            second_page.set()
            await asyncio.Event().wait()
        return await real(position, limit)

    monkeypatch.setattr(similar_module, "READ_PAGE", 20)
    monkeypatch.setattr(ProcessBuild, "__aenter__", recorded)
    monkeypatch.setattr(seeded_store, "stored_since", stalled)
    monkeypatch.setattr(seeded_store, "corpus_file", lambda: None)  # pages from the bot
    refresh = asyncio.create_task(SimilarPapers(seeded_store).refresh())
    await asyncio.wait_for(second_page.wait(), 30)
    refresh.cancel()
    with pytest.raises(asyncio.CancelledError):
        await refresh
    [child] = started
    assert child.poll() is not None  # killed and reaped


async def test_a_build_cancelled_while_its_child_starts_stops_that_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The child inherits one end of a socket pair. Cancelled while the child was being
    # started, the build closed that end under it: the child got a closed (or another
    # part of the bot's reused) descriptor, and was left running, never reaped.
    from bot import similar_build

    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen
    in_popen = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        loop.call_soon_threadsafe(in_popen.set)
        import time

        time.sleep(0.3)  # the cancel lands while the child is being started
        child = popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(child)
        return child

    monkeypatch.setattr(similar_build.subprocess, "Popen", slow_popen)

    async def enter() -> None:
        async with ProcessBuild():
            await asyncio.Event().wait()

    task = asyncio.create_task(enter())
    await asyncio.wait_for(in_popen.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [child] = started
    assert child.poll() is not None  # stopped and reaped, not left running
    assert child.returncode == -9  # killed by the build, not dead of a bad descriptor


async def test_a_child_that_cannot_build_falls_back_to_a_thread(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A Python that cannot run the build (here: one that exits at once) must not leave
    # "More like this" unbuilt for good: the build runs in a thread, now and after.
    from bot import similar_build

    papers = [p for _, p in await seeded_store.stored_since(0, 1000)]
    expected = build(papers)
    monkeypatch.setattr(similar_module, "READ_PAGE", 20)
    monkeypatch.setattr(similar_build.sys, "executable", "/bin/false")
    found = SimilarPapers(seeded_store)
    assert await found.refresh() == 147
    assert "child process failed" in caplog.text
    assert found.index._built.ids.tolist() == expected.ids.tolist()
    for one in papers[:10]:
        assert await found.similar(one) == SimilarIndex(expected).query(one)


def test_a_child_that_cannot_write_its_arrays_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    # (A full disk while the small arrays go after the postings.) The bot is told the
    # cause, as for any failed build, instead of reading a dead child's end of file.
    from multiprocessing import Pipe

    from bot import similar_build

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(similar_build.os, "nice", lambda n: 0)  # (this is the test's process)
    monkeypatch.setattr(similar_build, "append_arrays", full)
    bot_end, child_end = Pipe()
    bot_end.send(("stop", None))  # nothing to count: an empty index
    similar_build.serve(child_end)
    assert bot_end.recv() == ("error", "OSError: [Errno 28] No space left on device")

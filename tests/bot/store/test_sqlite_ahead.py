"""Search rows analysed ahead in a child process (bot.store.sqlite.ahead): the store then
holds exactly what it holds when its writer analyses every paper itself."""

from __future__ import annotations

import dataclasses
import select
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.store.sqlite.rows as rows_module
from bot.models import Paper
from bot.store import SQLiteStore
from bot.store.sqlite.ahead import IndexAhead
from tests.conftest import seed_papers

TABLES = ("papers", "listings", "author_credits")
ROOT = Path(__file__).parents[3]


@pytest.fixture(autouse=True)
def _nothing_prepared() -> Iterator[None]:
    rows_module._prepared.clear()
    yield
    rows_module._prepared.clear()


@pytest.fixture
def ahead() -> Iterator[IndexAhead]:
    made = IndexAhead()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def analysed_here(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The fields the store's own thread analysed (not taken from rows made ahead)."""
    calls: list[tuple[str, ...]] = []
    analysed = rows_module._analysed

    def counted(*fields: str) -> tuple[str, ...]:
        calls.append(fields)
        return analysed(*fields)

    monkeypatch.setattr(rows_module, "_analysed", counted)
    return calls


def _changed(paper: Paper, n: int) -> Paper:
    """A new text for some seed papers; an empty abstract (kept as stored) for others."""
    if n % 3 == 0:
        return dataclasses.replace(paper, abstract=paper.abstract + " Revised — naïve LLMs.")
    if n % 3 == 1:
        return dataclasses.replace(paper, abstract="", authors=(*paper.authors, "Zoë Ünal"))
    return paper


async def _ingest(path: Path, ahead: IndexAhead | None) -> None:
    days = seed_papers()
    async with SQLiteStore(path) as store:
        for rounds in range(2):  # the second time with changed texts: merged rows
            for day, papers in days.items():
                if rounds:
                    papers = [_changed(p, n) for n, p in enumerate(papers)]
                if ahead is not None:
                    await ahead.prepare(papers)
                await store.ingest_day(day, papers)


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    found: dict[str, list[tuple[object, ...]]] = {}
    with sqlite3.connect(path) as db:
        for table in TABLES:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            kept = [c for c in columns if c not in ("first_seen_at", "updated_at")]
            select = f"SELECT {', '.join(kept)} FROM {table} ORDER BY 1, 2"
            found[table] = db.execute(select).fetchall()
        for fts in ("papers_fts", "papers_fts_authors"):
            db.execute(f"CREATE VIRTUAL TABLE temp.v_{fts} USING fts5vocab(main, {fts}, instance)")
            found[fts] = db.execute(f"SELECT * FROM temp.v_{fts} ORDER BY 1, 2, 3, 4").fetchall()
    return found


async def test_rows_analysed_ahead_are_what_the_store_would_write(
    tmp_path: Path, ahead: IndexAhead, analysed_here: list[tuple[str, ...]]
) -> None:
    await _ingest(tmp_path / "ahead.db", ahead)
    # Only papers whose merged text is not what was fetched (an empty abstract keeps the
    # stored one), and their old rows, were analysed by the store itself.
    used_ahead = len(analysed_here)
    analysed_here.clear()
    await _ingest(tmp_path / "plain.db", None)
    assert used_ahead < len(analysed_here) / 2
    # Every row made ahead was taken but those of a text the store did not take as it came.
    assert {fields[1] for fields in rows_module._prepared} == {""}
    ahead_tables, plain_tables = _dump(tmp_path / "ahead.db"), _dump(tmp_path / "plain.db")
    assert ahead_tables["papers_fts"]  # (the comparison compares something)
    for table in (*TABLES, "papers_fts", "papers_fts_authors"):
        assert ahead_tables[table] == plain_tables[table], table


async def test_new_papers_are_not_analysed_again_when_their_rows_were_made_ahead(
    store: SQLiteStore, ahead: IndexAhead, analysed_here: list[tuple[str, ...]]
) -> None:
    day, papers = next(iter(seed_papers().items()))
    await ahead.prepare(papers)
    await store.ingest_day(day, papers)
    assert analysed_here == []


async def test_a_failed_child_leaves_the_analysis_to_the_store(
    tmp_path: Path, ahead: IndexAhead, caplog: pytest.LogCaptureFixture
) -> None:
    process = ahead._process
    assert process is not None
    process.kill()  # the child dies
    process.join()
    day, papers = next(iter(seed_papers().items()))
    await ahead.prepare(papers)  # logs, never raises
    assert "analysing papers ahead failed" in caplog.text
    await ahead.prepare(papers)  # (closed: does nothing)
    async with SQLiteStore(tmp_path / "p.db") as store:
        result = await store.ingest_day(day, papers)
    assert len(result.new) == len(papers)


def test_a_child_that_dies_halfway_through_its_answer_is_an_end_of_file() -> None:
    # (A process pool's reader waited forever for the rest of such an answer.) In a process
    # of its own, so that a wait that never ends fails the test instead of hanging it.
    script = (
        "import asyncio, os, struct\n"
        "import bot.store.sqlite.ahead as ahead\n"
        "from tests.conftest import seed_papers\n"
        "def dies_answering(requests, results, *_):\n"
        "    requests.recv()\n"
        "    os.write(results.fileno(), struct.pack('!i', 1_000_000) + b'half')\n"
        "    os._exit(1)\n"
        "ahead._serve = dies_answering\n"
        "async def main():\n"
        "    made = ahead.IndexAhead()\n"
        "    await made.prepare(next(iter(seed_papers().values())))\n"
        "    print('given up' if made._process is None else 'still used')\n"
        "    made.close()\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == "given up\n", done.stderr
    assert "analysing papers ahead failed" in done.stderr


def test_the_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    # A wrapper that kills `paperboy scrape` (or reads its output to the end) must not be
    # left with a child holding its output open.
    script = (
        "import time\n"
        "from bot.store.sqlite.ahead import IndexAhead\n"
        "ahead = IndexAhead()\n"
        "print(ahead._process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=ROOT)
    assert parent.stdout is not None
    try:
        child = int(parent.stdout.readline())
        parent.kill()
        parent.wait()
        assert select.select([parent.stdout], [], [], 20)[0]
        assert parent.stdout.read() == b""  # (the child's copy of the output is closed too)
        deadline = time.monotonic() + 20
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        parent.kill()
        parent.stdout.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_rows_kept_ahead_are_bounded() -> None:
    fields = [(f"t{n}", "a", "", "") for n in range(rows_module._PREPARED_LIMIT)]
    rows_module.prepare(fields, [("x",)] * len(fields))
    rows_module.prepare([("t", "a", "", "")], [("y",)])
    assert len(rows_module._prepared) == 1

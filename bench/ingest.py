"""Ingest: `paperboy scrape --since/--until` over the fake HF against a plain reference.

Both sides fetch the same synthetic days from one fake Hugging Face server (run in this
process) and store them in a new SQLite file, each as its own child process, timed from
start to exit:

* **paperboy**: the real CLI, `paperboy scrape --since D --until D' --config C`.
* **reference**: what a plain script would do (`--reference-child` below): aiohttp, the
  dates one after another, each page read with `json.loads`, one `sqlite3` transaction per
  date (WAL, synchronous=NORMAL, as the store) that upserts the papers and their rank in
  the list, and an external-content FTS5 index over title and abstract kept by triggers.

    .venv/bin/python -m bench.ingest [--papers 50000] [--per-day 200] [--rounds 3]

The days are consecutive calendar days from 2024-01-01 with `--per-day` papers each, made
by `bench.corpus.CorpusGenerator` and cached as API items in bench/out/. Rounds alternate
which side runs first; each side's figure is its median over the rounds, as papers per
second of wall time and of CPU time (user + system of the child alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parent.parent
FIRST_DAY = date(2024, 1, 1)
PAGE = 100  # HF's largest page
PAPERBOY = Path(sys.executable).parent / "paperboy"  # the console script pip installed

REFERENCE_SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE papers (
    pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
    abstract TEXT NOT NULL, authors TEXT NOT NULL, keywords TEXT NOT NULL,
    published_at TEXT, submitted_at TEXT, upvotes INTEGER NOT NULL, num_comments INTEGER,
    ai_summary TEXT, github_repo TEXT, github_stars INTEGER, thumbnail TEXT,
    organization TEXT, list_date TEXT NOT NULL, rank INTEGER NOT NULL
);
CREATE VIRTUAL TABLE papers_fts USING fts5 (
    title, abstract, content = 'papers', content_rowid = 'pk'
);
CREATE TRIGGER papers_ai AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts (rowid, title, abstract) VALUES (new.pk, new.title, new.abstract);
END;
CREATE TRIGGER papers_au AFTER UPDATE OF title, abstract ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, abstract)
    VALUES ('delete', old.pk, old.title, old.abstract);
    INSERT INTO papers_fts (rowid, title, abstract) VALUES (new.pk, new.title, new.abstract);
END;
"""
REFERENCE_UPSERT = """
INSERT INTO papers (id, title, abstract, authors, keywords, published_at, submitted_at,
    upvotes, num_comments, ai_summary, github_repo, github_stars, thumbnail, organization,
    list_date, rank)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET title = excluded.title, abstract = excluded.abstract,
    authors = excluded.authors, keywords = excluded.keywords, upvotes = excluded.upvotes,
    num_comments = excluded.num_comments, github_stars = excluded.github_stars
"""


def reference_row(item: dict[str, Any], day: str, rank: int) -> tuple[Any, ...]:
    """One API item as the reference's row: the fields a plain script keeps."""
    paper = item["paper"]
    org = item.get("organization") or paper.get("organization") or {}
    return (
        paper["id"],
        " ".join(paper["title"].split()),
        " ".join(paper.get("summary", "").split()),
        "\n".join(a["name"] for a in paper.get("authors", ())),
        "\n".join(paper.get("ai_keywords") or ()),
        paper.get("publishedAt"),
        paper.get("submittedOnDailyAt"),
        paper.get("upvotes", 0),
        item.get("numComments"),
        paper.get("ai_summary"),
        paper.get("githubRepo"),
        paper.get("githubStars"),
        item.get("thumbnail"),
        org.get("name"),
        day,
        rank,
    )


async def reference(base_url: str, db_path: str, since: date, until: date) -> int:
    """The plain reference: fetch each date's pages, one transaction per date."""
    import sqlite3

    import aiohttp

    db = sqlite3.connect(db_path, isolation_level=None)
    db.executescript(REFERENCE_SCHEMA)
    stored = 0
    async with aiohttp.ClientSession() as session:
        day = since
        while day <= until:
            items: list[dict[str, Any]] = []
            for page in range(20):
                params = {"date": day.isoformat(), "limit": str(PAGE), "p": str(page)}
                async with session.get(f"{base_url}/api/daily_papers", params=params) as resp:
                    resp.raise_for_status()
                    batch = json.loads(await resp.text())
                items.extend(batch)
                if len(batch) < PAGE:
                    break
            rows = [reference_row(item, day.isoformat(), n) for n, item in enumerate(items, 1)]
            db.execute("BEGIN")
            db.executemany(REFERENCE_UPSERT, rows)
            db.execute("COMMIT")
            stored += len(rows)
            day += timedelta(days=1)
    db.close()
    return stored


def make_days(papers: int, per_day: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """The synthetic days as API items, cached in bench/out/."""
    cache = OUT / f"ingest-{papers}-{per_day}-seed{seed}.json"
    if cache.exists():
        days: dict[str, list[dict[str, Any]]] = json.loads(cache.read_text("utf-8"))
        return days
    from bench.corpus import CorpusGenerator
    from bench.soak import api_item

    t0 = time.perf_counter()
    gen = CorpusGenerator(seed)
    days = {}
    for n in range(papers // per_day):
        day = FIRST_DAY + timedelta(days=n)
        days[day.isoformat()] = [api_item(p) for p in gen.day(day, n * per_day, per_day)]
    OUT.mkdir(exist_ok=True)
    cache.write_text(json.dumps(days), "utf-8")
    print(f"generated {papers:,} papers in {time.perf_counter() - t0:.1f} s -> {cache}")
    return days


async def run_child(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run one child to its exit: wall seconds, CPU seconds (user + system), output tail."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {proc.returncode}:\n{text[-3000:]}")
    return wall, cpu, text.strip().splitlines()[-1] if text.strip() else ""


def _count(db: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


def fake_hf(days: dict[str, list[dict[str, Any]]]) -> Any:
    """The fake HF, with each API page encoded once: the server's JSON encoding runs in
    this process and would otherwise pace both sides alike."""
    from aiohttp import web

    from tests.fakes.fake_hf import FakeHF

    class PreencodedHF(FakeHF):
        def __init__(self) -> None:
            super().__init__(days=days)
            self._pages: dict[tuple[str, str, str], bytes] = {}

        async def _api_daily_papers(self, request: web.Request) -> web.Response:
            key = (request.query["date"], request.query["limit"], request.query.get("p", "0"))
            body = self._pages.get(key)
            if body is None:
                response = await super()._api_daily_papers(request)
                assert isinstance(response.body, bytes)
                body = self._pages[key] = response.body
            return web.Response(body=body, content_type="application/json")

    return PreencodedHF()


async def warm(base_url: str, since: date, until: date) -> None:
    """Ask for every page once, so that both sides get pages already encoded."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        day = since
        while day <= until:
            for page in range(3):
                params = {"date": day.isoformat(), "limit": str(PAGE), "p": str(page)}
                async with session.get(f"{base_url}/api/daily_papers", params=params) as resp:
                    await resp.read()
            day += timedelta(days=1)


async def bench(args: argparse.Namespace) -> None:
    days = make_days(args.papers, args.per_day, args.seed)
    total = sum(len(v) for v in days.values())
    since = date.fromisoformat(min(days))
    until = date.fromisoformat(max(days))
    span = (since.isoformat(), until.isoformat())
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("DISCORD_TOKEN", None)
    figures: dict[str, list[tuple[float, float]]] = {"paperboy": [], "reference": []}
    async with fake_hf(days) as hf:
        await warm(hf.base_url, since, until)
        with tempfile.TemporaryDirectory(prefix="paperboy-ingest-") as tmp_name:
            tmp = Path(tmp_name)
            for rnd in range(args.rounds):
                order = ["paperboy", "reference"] if rnd % 2 == 0 else ["reference", "paperboy"]
                for side in order:
                    db = tmp / f"{side}-{rnd}.db"
                    if side == "paperboy":
                        config = tmp / "paperboy.toml"
                        config.write_text(
                            f'[huggingface]\nbase_url = "{hf.base_url}"\n[store]\npath = "{db}"\n',
                            encoding="utf-8",
                        )
                        argv = [str(PAPERBOY), "scrape", "--config", str(config),
                                "--since", span[0], "--until", span[1]]  # fmt: skip
                    else:
                        argv = [sys.executable, "-m", "bench.ingest", "--reference-child",
                                hf.base_url, str(db), *span]  # fmt: skip
                    wall, cpu, last = await run_child(argv, env)
                    stored = _count(db, "papers")
                    if stored != total:
                        raise RuntimeError(f"{side} stored {stored:,} papers of {total:,}")
                    figures[side].append((wall, cpu))
                    print(
                        f"round {rnd + 1} {side:>9}: {wall:6.2f} s wall ({total / wall:7,.0f}"
                        f" papers/s), {cpu:6.2f} s CPU ({total / cpu:7,.0f}/s)  [{last}]",
                        flush=True,
                    )
                    db.unlink()
    pb_wall = statistics.median(w for w, _ in figures["paperboy"])
    ref_wall = statistics.median(w for w, _ in figures["reference"])
    pb_cpu = statistics.median(c for _, c in figures["paperboy"])
    ref_cpu = statistics.median(c for _, c in figures["reference"])
    print(f"\n{total:,} papers, {len(days)} dates x {args.per_day}, median of {args.rounds}")
    print(f"paperboy scrape:  {total / pb_wall:7,.0f} papers/s wall, {total / pb_cpu:7,.0f} CPU")
    print(f"plain reference:  {total / ref_wall:7,.0f} papers/s wall, {total / ref_cpu:7,.0f} CPU")
    print(
        f"paperboy / reference time: {pb_wall / ref_wall:.2f}x wall, {pb_cpu / ref_cpu:.2f}x CPU"
        "   (target <= 1.3x)"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--reference-child":
        base_url, db_path, since, until = sys.argv[2:6]
        asyncio.run(
            reference(base_url, db_path, date.fromisoformat(since), date.fromisoformat(until))
        )
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--per-day", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()

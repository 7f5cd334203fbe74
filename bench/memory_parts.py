"""What the soak's bot holds, part by part: RSS after each part is loaded, in one process.

    .venv/bin/python -m bench.memory_parts [--papers 200000] [--alerts 100000] [--searches 600]

The parts, in order, on a copy of `bench.search`'s cached store (as `bench.soak` uses it):

1. imports: `bot.cli` and every extension the bot loads (discord.py, aiohttp, numpy, ...);
2. the store opened (its three connections);
3. 100,000 alerts loaded and indexed as `AlertDelivery.sync_index` does;
4. the similarity index's first build (`SimilarPapers.refresh`), as after the first scrape;
5. `--searches` searches through the store API (`bench.search`'s queries).

For each part: RSS, its anonymous and file-mapped shares (/proc/self/status; mapped files
are pages the kernel can drop), and the peak while the part ran (VmHWM, reset before each
part through /proc/self/clear_refs). Linux only. Discord's caches are not here: the soak
itself (`bench.soak`) has the fake gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from random import Random

FIELDS = ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM")


def status() -> dict[str, float]:
    """This process's memory figures, MB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in FIELDS:
                out[key] = int(value.split()[0]) / 1024
    return out


def reset_peak() -> None:
    """Start VmHWM afresh at the current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


class Meter:
    def __init__(self) -> None:
        self.last = status()["VmRSS"]
        print(f"{'part':<44}{'RSS':>8}{'+':>8}{'anon':>8}{'file':>8}{'peak':>8}{'took':>8}")
        self.row("python started", 0.0)

    def row(self, label: str, took: float) -> None:
        s = status()
        print(
            f"{label:<44}{s['VmRSS']:8.1f}{s['VmRSS'] - self.last:+8.1f}{s['RssAnon']:8.1f}"
            f"{s['RssFile'] + s.get('RssShmem', 0):8.1f}{s['VmHWM']:8.1f}{took:7.1f}s",
            flush=True,
        )
        self.last = s["VmRSS"]
        reset_peak()


async def run(args: argparse.Namespace, meter: Meter) -> None:
    from bench.alerts import make_alerts
    from bench.corpus import seed_papers
    from bench.search import cached_store, make_queries
    from bot.delivery.alerts import AlertDelivery
    from bot.query import parse_query
    from bot.similar import SimilarPapers
    from bot.store import SQLiteStore

    cached, _, _ = await cached_store(args.papers, args.seed)
    with tempfile.TemporaryDirectory(prefix="paperboy-parts-") as tmp:
        db = Path(tmp) / "paperboy.db"
        shutil.copyfile(cached, db)
        texts = [
            str(q)
            for _, _, q in make_alerts(
                args.alerts, 10_000, list(seed_papers()), Random(args.seed), 0.02
            )
        ]
        queries = [q.text for q in make_queries(args.searches, args.seed)]
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with sqlite3.connect(db) as conn:
            conn.executemany(
                "INSERT INTO alerts (id, user_id, query, deliver, created_at)"
                " VALUES (?, ?, ?, 'dm', ?)",
                [(n, 10**17 + n % 10_000, t, created) for n, t in enumerate(texts, 1)],
            )
        conn.close()
        del texts
        gc.collect()
        meter.row("(workload made: not the bot's)", 0.0)

        t0 = time.perf_counter()
        store = SQLiteStore(db)
        await store.open()
        meter.row("store opened", time.perf_counter() - t0)

        t0 = time.perf_counter()
        delivery = AlertDelivery(
            store, None, clock=lambda: datetime.now(UTC), report_health=lambda *_: None
        )  # type: ignore[arg-type]  # (no courier: nothing is sent)
        await delivery.sync_index()
        gc.collect()
        meter.row(f"{len(delivery.index):,} alerts indexed", time.perf_counter() - t0)

        t0 = time.perf_counter()
        similar = SimilarPapers(store)
        size = await similar.refresh()
        gc.collect()
        meter.row(f"similarity index built ({size:,} papers)", time.perf_counter() - t0)

        t0 = time.perf_counter()
        failed = 0
        for text in queries:
            try:
                await store.search(parse_query(text), limit=5)
            except Exception:  # too broad, or a query the parser refuses
                failed += 1
        gc.collect()
        meter.row(f"{len(queries)} searches ({failed} refused)", time.perf_counter() - t0)
        await store.close()
        gc.collect()
        meter.row("store closed", 0.0)
        del delivery, similar


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=200_000)
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--searches", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    meter = Meter()
    t0 = time.perf_counter()
    importlib.import_module("bot.cli")
    from bot.app import EXTENSIONS

    for name in EXTENSIONS:
        importlib.import_module(name)
    gc.collect()
    meter.row("imports (bot.cli, the extensions)", time.perf_counter() - t0)
    asyncio.run(run(args, meter))
    sys.exit(0)


if __name__ == "__main__":
    main()

"""Benchmark: More like this (/similar) on a store of N synthetic papers, in one run.

1. Reuses (or builds, through bench.search) the cached store of N papers made by bench.corpus.
2. Builds the similarity index from the store the way the bot does (`SimilarPapers.refresh`:
   two paged reads of the store, the CPU work in a thread): build time, the memory the
   index holds (its arrays, measured), and how much the build raised the process's peak RSS
   (ru_maxrss; tracemalloc would slow the build down).
3. Times /similar's work for random stored papers through the real path: `store.get_paper`,
   `SimilarPapers.similar` (the query, in a thread) and `store.get_paper` for the 5 found:
   p50/p95/p99 against the target p95 <= 100 ms.

    .venv/bin/python -m bench.similar [--papers 200000] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import time

from bench.search import cached_store
from bot.similar import SimilarPapers
from bot.store import SQLiteStore

TARGET_P95_MS = 100.0
TARGET_MB = 100.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    path, stats, cached = await cached_store(args.papers, args.seed)
    print(f"store: {path.name} ({'cached' if cached else 'built'}, {stats.papers:,} papers)")
    async with SQLiteStore(path) as store:
        similar = SimilarPapers(store)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        start = time.perf_counter()
        indexed = await similar.refresh()
        build_s = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
        held = similar.index.nbytes()
        print(f"index: {indexed:,} papers built in {build_s:.1f} s")
        print(
            f"memory: index holds {held / 1e6:.1f} MB (target <= {TARGET_MB:.0f} MB);"
            f" the build raised peak RSS by {peak / 1e6:.1f} MB"
        )

        rnd = random.Random(args.seed)
        picks = [rnd.randrange(1, indexed + 1) for _ in range(args.queries)]
        times: list[float] = []
        found_counts: list[int] = []
        for n, position in enumerate(picks):
            (_, paper), *_ = await store.stored_since(position - 1, 1)
            t0 = time.perf_counter()
            listing = await store.get_paper(paper.id)
            assert listing is not None
            ids = await similar.similar(listing.paper)
            for other in ids:
                await store.get_paper(other)
            elapsed = (time.perf_counter() - t0) * 1000
            if n >= 10:  # the first few warm the page cache
                times.append(elapsed)
                found_counts.append(len(ids))
        p50, p95, p99 = (percentile(times, p) for p in (50, 95, 99))
        print(
            f"/similar ({len(times)} queries): p50 {p50:.1f} ms, p95 {p95:.1f} ms"
            f" (target <= {TARGET_P95_MS:.0f}), p99 {p99:.1f} ms, max {max(times):.1f} ms;"
            f" {statistics.mean(found_counts):.2f} papers found on average"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

"""Benchmark: /search end to end, through the fake Discord, on bench.search's 200,000-paper store.

The real bot (discord.py and cogs.search) logs into tests/fakes' FakeDiscord with the store that
`bench.search` builds and caches under bench/out/ (built here if missing). Each of the queries
(bench.search's seeded mix) is one INTERACTION_CREATE from the fake, sent one after another.

Time to first response: from the fake creating the interaction (just before it is dispatched on
the gateway) to the fake holding the bot's first accepted callback (a message, or a deferral
when the search ran past the cog's `defer_after`). Time to final message: until the results
(or the error) are what the user sees. Both include the fake's own work in the same process.
For context, the same queries then run once straight through `store.search`.

Cooldowns are switched off on the cog (`rate = None`) and views never time out during the run.
Nothing is written to the cached store: the bot starts without its jobs and syncs directly.

    .venv/bin/python -m bench.search_e2e [--papers 200000] [--queries 1000] [--defer-after 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bench.search import (
    BenchQuery,
    cached_store,
    make_queries,
    percentile,
    report_build,
)
from bot.errors import QueryError
from bot.query import parse_query
from cogs.search import DEFER_AFTER
from tests.fakes.fake_discord import FakeDiscord, FakeUser
from tests.support.harness import running_bot

TARGETS_MS = {95: 50.0, 99: 150.0}  # time to first response
TIMEOUT = 10.0  # per interaction; Discord itself gives up on an answer after 3 s
WARMUP = 30


@dataclass(slots=True)
class Sample:
    query: BenchQuery
    first_ms: float
    final_ms: float
    deferred: bool
    outcome: str  # results | no results | message


async def one_search(fake: FakeDiscord, user: FakeUser, query: BenchQuery) -> Sample:
    inter = await fake.invoke("search", {"query": query.text}, user=user)
    first = await inter.response(TIMEOUT)
    first_ms = (asyncio.get_running_loop().time() - inter.created_at) * 1000
    message = await inter.final_message(TIMEOUT)
    final_ms = (asyncio.get_running_loop().time() - inter.created_at) * 1000
    if message.embeds:
        outcome = "results"
    elif message.content.startswith("No stored papers match"):
        outcome = "no results"
    else:
        outcome = f"message: {message.content[:60]}"
    return Sample(query, first_ms, final_ms, first.deferred, outcome)


async def store_pass(store: Any, queries: Sequence[BenchQuery]) -> list[float]:
    """The same queries straight through the store, as the cog calls it (first page of 5)."""
    times = []
    for q in queries:
        t0 = time.perf_counter()
        try:
            await store.search(parse_query(q.text), limit=5, offset=0)
        except QueryError:
            pass
        times.append((time.perf_counter() - t0) * 1000)
    return times


def row(label: str, values: Sequence[float]) -> str:
    ps = "".join(f"{percentile(values, p):10.1f}" for p in (50, 95, 99))
    return f"  {label:<34}{ps}{max(values):10.1f}{statistics.fmean(values):10.1f}"


HEADER = f"  {'':<34}{'p50':>10}{'p95':>10}{'p99':>10}{'max':>10}{'mean':>10}   (ms)"


def report(samples: Sequence[Sample], store_ms: Sequence[float], defer_after: float) -> None:
    first = [s.first_ms for s in samples]
    print(f"\n/search through the fake Discord: {len(samples)} interactions, one at a time")
    print(HEADER)
    print(row("time to first response", first))
    print(row("time to final message", [s.final_ms for s in samples]))
    print(row("store.search alone (same queries)", store_ms))
    for p, target in TARGETS_MS.items():
        got = percentile(first, p)
        verdict = "PASS" if got <= target else "MISS"
        print(f"  target p{p} <= {target:g} ms (first response): {got:.1f} ms {verdict}")
    deferred = sum(s.deferred for s in samples)
    print(
        f"  deferred (search ran past defer_after = {defer_after:g} s): {deferred};"
        f" answered within Discord's 3 s: {sum(s.first_ms <= 3000 for s in samples)}"
        f" of {len(samples)}"
    )
    outcomes = Counter(s.outcome for s in samples)
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))

    print("\nby kind of query (time to first response, ms):")
    print(f"  {'kind':<16}{'n':>5}{'p50':>10}{'p95':>10}{'p99':>10}")
    for kind in dict.fromkeys(s.query.kind for s in samples):
        times = [s.first_ms for s in samples if s.query.kind == kind]
        print(
            f"  {kind:<16}{len(times):>5}{percentile(times, 50):>10.1f}"
            f"{percentile(times, 95):>10.1f}{percentile(times, 99):>10.1f}"
        )
    print("\nslowest 8 (first response):")
    for s in sorted(samples, key=lambda s: s.first_ms, reverse=True)[:8]:
        mark = " (deferred)" if s.deferred else ""
        print(f"  {s.first_ms:8.1f} ms{mark}  {s.query.text!r} ({s.query.kind}) -> {s.outcome}")


async def run(args: argparse.Namespace) -> None:
    path, stats, cached = await cached_store(args.papers, args.seed)
    report_build(path, stats, cached)
    queries = make_queries(args.queries, args.seed)
    with path.open("rb") as f:  # the file into the OS page cache, as bench.search does
        while f.read(1 << 24):
            pass

    with tempfile.TemporaryDirectory() as tmp:
        sections: dict[str, Any] = {"store": {"path": str(path)}}
        async with running_bot(Path(tmp), extensions=["cogs.search"], start=False, **sections) as h:
            await h.start_bot(run_jobs=False)  # no scraper, no sync bookkeeping in the store
            await h.bot.tree.sync()
            search = cast(Any, h.bot.get_cog("Search"))
            search.rate = None
            search.view_timeout = None
            search.defer_after = args.defer_after
            user = h.discord.alice
            for q in make_queries(WARMUP, args.seed + 1):
                await one_search(h.discord, user, q)
            samples = []
            for n, q in enumerate(queries, start=1):
                samples.append(await one_search(h.discord, user, q))
                if n % 250 == 0:
                    print(f"  {n} /search interactions done", flush=True)
            store_ms = await store_pass(h.store, queries)
            violations = [str(v) for v in h.discord.violations]
    print(f"\nfake Discord: {len(violations)} rule violations" + "".join(violations[:5]))
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    report(samples, store_ms, args.defer_after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--defer-after", type=float, default=DEFER_AFTER, help="the cog's defer threshold (s)"
    )
    logging.getLogger("discord").setLevel(logging.ERROR)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

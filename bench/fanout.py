"""Digest fan-out: 1,000 subscribed channels on the fake Discord with the global limit enforced.

Prints the time until every digest is posted against the floor of messages / 50 s (Discord's
global limit of 50 requests per second), and how many global 429s the bot provoked.

    .venv/bin/python -m bench.fanout [--channels 1000]
    .venv/bin/python -m bench.fanout --processes 2 [--channels 1000]

With --processes N (issue 15), real `python -m bot run` processes share one PostgreSQL store
(a throwaway server, as the tests start one): first one process alone, then N, in one run.
Every process sees every guild (the fake gateway is not sharded here), so each delivery goes
to whichever process claims its lease first; the figures are the time from the first digest
message to the last, global 429s, channels posted to twice (the fake's nonce check is off, so
only the leases prevent it), each process's peak RSS, and, with N > 1, the leader fail-over
time after a kill -9.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from bot.models import Subscription
from tests.conftest import seed_papers
from tests.support.harness import running_bot

GLOBAL_LIMIT = 50  # requests per second, as Discord enforces for a bot


async def fanout(channels: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # At 08:00 on Jan 8 nothing is due yet, so the start-up catch-up posts nothing.
        async with running_bot(Path(tmp), now=datetime(2025, 1, 8, 8, tzinfo=UTC)) as h:
            fake = h.discord
            guild_ids = [fake.add_guild(f"guild {n}") for n in range(channels // 10)]
            channel_ids = [
                fake.add_text_channel(guild_ids[n // 10], f"papers-{n}") for n in range(channels)
            ]
            for day, papers in seed_papers().items():
                await h.store.ingest_day(day, papers)
            for n, channel_id in enumerate(channel_ids):
                await h.store.save_subscription(
                    Subscription(
                        int(channel_id),
                        int(guild_ids[n // 10]),
                        "09:00",
                        "UTC",
                        10,
                        created_at=datetime(2025, 1, 1, tzinfo=UTC),
                    )
                )
            fake.global_rate_limit = GLOBAL_LIMIT
            engine = cast(Any, h.bot.get_cog("Digest")).engine
            h.clock.now = datetime(2025, 1, 9, 9, tzinfo=UTC)
            before = len(fake.messages)
            started = time.perf_counter()
            outcomes = await engine.run_due()
            elapsed = time.perf_counter() - started
            posted = len(fake.messages) - before
            floor = posted / GLOBAL_LIMIT
            states = {
                s: sum(1 for o in outcomes if o.state == s) for s in {o.state for o in outcomes}
            }
            print(f"channels:            {channels}")
            print(f"digests:             {states}")
            print(f"messages posted:     {posted}")
            print(f"time to post all:    {elapsed:.2f} s")
            print(f"floor (msgs / 50/s): {floor:.2f} s")
            print(f"ratio to floor:      {elapsed / floor:.2f}x   (target <= 1.2x)")
            print(f"global 429s:         {fake.global_429s}   (target 0)")
            print(f"all 429s:            {len(fake.rate_limited)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=0, help="real processes on PostgreSQL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.processes:
        from bench.fanout_cluster import cluster_fanout

        asyncio.run(cluster_fanout(args.channels, args.processes))
    else:
        asyncio.run(fanout(args.channels))


if __name__ == "__main__":
    main()

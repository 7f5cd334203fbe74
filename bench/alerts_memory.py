"""RSS of the bot's alert load alone: the index built the way AlertDelivery._load_all does.

    .venv/bin/python bench/alerts_memory.py [--alerts 100000] [--users 10000]

100,000 `Alert`s as the store returns them (query strings from bench/alerts.py's workload),
then `AlertIndex.build((id, parse_query(alert.query)) ...)`. Prints the process's RSS before
and after the build and its peak (VmHWM), from /proc/self/status (Linux only).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.alerts import make_alerts, seed_papers  # noqa: E402
from bot.models import Alert  # noqa: E402
from bot.percolator import AlertIndex  # noqa: E402
from bot.query import parse_query  # noqa: E402


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def main() -> None:
    """Load the alerts, build the index, print the RSS figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    workload = make_alerts(
        args.alerts, args.users, list(seed_papers()), random.Random(args.seed), 0.02
    )
    texts = [str(q) for _, _, q in workload]
    del workload
    # Fresh strings, as rows read from the store are.
    active = {i: Alert(i, 1000 + i % args.users, "".join(t)) for i, t in enumerate(texts, 1)}
    del texts
    gc.collect()
    before = status_mb("VmRSS")
    index = AlertIndex.build((i, parse_query(a.query)) for i, a in active.items())
    gc.collect()
    after, peak = status_mb("VmRSS"), status_mb("VmHWM")
    print(
        f"{len(index):,} alerts: RSS {before:.1f} MB before the build, {after:.1f} MB after "
        f"(+{after - before:.1f}), peak {peak:.1f} MB (+{peak - before:.1f})"
    )


if __name__ == "__main__":
    main()

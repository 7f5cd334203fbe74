"""The floor under a re-match: inserting (person, paper) rows into the alert outbox.

    .venv/bin/python -m bench.outbox_insert [--rows 364199]

Plain sqlite3, an empty in-memory copy of the alert_outbox table (its key and pending index,
as in bot/store/migrations/0003_alerts.sql), one executemany, one commit, rows in key order:
what queuing one row per (person, paper) costs before any of paperboy's own work. Issue #12's
re-match queues 364,199 such rows (bench/refresh.py).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import time

SCHEMA = """
CREATE TABLE alert_outbox (
    user_id INTEGER NOT NULL, paper_id TEXT NOT NULL, alert_id INTEGER NOT NULL,
    reason TEXT NOT NULL, target TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'sending', 'sent', 'dropped')),
    batch TEXT, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT,
    queued_at TEXT NOT NULL, sent_at TEXT, PRIMARY KEY (user_id, paper_id));
CREATE INDEX alert_outbox_pending ON alert_outbox (state, user_id)
    WHERE state IN ('queued', 'sending');
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rows", type=int, default=364_199)
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--papers", type=int, default=1_400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    keys = sorted(
        {
            (rng.randrange(args.people), f"2601.{rng.randrange(args.papers):05d}")
            for _ in range(args.rows)
        }
    )
    now = "2026-01-12T12:00:00+00:00"
    rows = [(u, p, 5, "matched `diffusion models`", "dm", now) for u, p in keys]
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    start = time.perf_counter()
    db.executemany(
        "INSERT INTO alert_outbox (user_id, paper_id, alert_id, reason, target, queued_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, paper_id) DO NOTHING",
        rows,
    )
    db.commit()
    took = time.perf_counter() - start
    print(
        f"{len(rows):,} outbox rows into an empty in-memory table: {took:.2f} s"
        f" ({took / len(rows) * 1e6:.1f} us a row); issue #12's re-match target is 1 s in all"
    )


if __name__ == "__main__":
    main()

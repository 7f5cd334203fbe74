"""/alert add under load: event-loop time per add and adds/s, before and after, in one run.

    .venv/bin/python bench/alerts.py adds [--alerts 100000] [--adds 10000] [--users 2000]
        [--in-flight 8] [--before main] [--before-adds 10000] [--older 0]

The store is a real SQLite file: 7 days of 200 papers (bench/corpus.py), ending today, and
100,000 alerts (bench/alerts.py's shapes and Zipfian words) of 10,000 people. `--older N`
adds N papers listed before the preview window, stored first.

The adds are 10,000 alerts in the same shapes by 2,000 of those people (5 each, to at most
25), 8 at a time, through the add path the /alert cog runs: parse and validate the query,
save the alert, preview the last 7 days, read the person's state (for the reply). Each side
runs in its own process on its own copy of the store:

* before: a throwaway `git worktree` of `--before` (main), running main's cog path: a window
  of the recent papers read and analysed once (RecentPapers), each query matched against
  every paper of it in a worker thread (asyncio.to_thread).
* after: this tree's `bot.alert_book.AlertBook`, whose preview asks the store's index.

"Loop time" is the wall time the event loop spends running one add's own code (each step
of its coroutine, timed): a worker thread that holds the GIL meanwhile makes it longer,
as it makes every other interaction wait; so does the OS giving the CPU to another process
(its max is noisy on a loaded machine). "Loop CPU" is the event-loop thread's own CPU time
in those steps. "Process CPU" is all the process's CPU (worker threads and SQLite too) per
add. Lag is how late a 5 ms ticker runs: what every other interaction feels. Sides
alternate when `--rounds` is more than 1; figures are per side, over all its rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Generator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 3, 6)
TARGET_LOOP_MS = 5.0
TARGET_ADDS_S = 100.0
EXISTING_USERS = 10_000
TICK = 0.005  # seconds between two ticks of the lag probe


# -- the worker: one side, in its own process, with its own tree first on sys.path ------


class Timed:
    """Awaits a coroutine, adding up the wall time of each of its steps on the loop."""

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.spent = 0.0  # wall time: waiting for the GIL or the CPU included
        self.cpu = 0.0  # the event-loop thread's own CPU time

    def __await__(self) -> Generator[Any, Any, Any]:
        value: Any = None
        error: BaseException | None = None
        while True:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                step = self.coro.throw(error) if error else self.coro.send(value)
            except StopIteration as done:
                self.spent += time.perf_counter() - started
                self.cpu += time.thread_time() - cpu
                return done.value
            self.spent += time.perf_counter() - started
            self.cpu += time.thread_time() - cpu
            try:
                value, error = (yield step), None
            except BaseException as e:  # handed to the coroutine, as a Task would
                value, error = None, e


def _before_path(store: Any) -> Callable[[int, str], Awaitable[Any]]:
    """main's /alert add (cogs/alerts.py before issue 16), minus Discord."""
    from bot.alert_policy import validate_alert
    from bot.matching import RecentPapers
    from bot.query import parse_query

    window: list[Any] = []
    lock = asyncio.Lock()

    async def recent() -> Any:
        async with lock:
            if not window:
                since = TODAY - timedelta(days=7)
                listings = await store.top_papers(since, TODAY, 5000)
                window.append(await asyncio.to_thread(RecentPapers, listings))
            return window[0]

    async def add(user_id: int, text: str) -> Any:
        text = text.strip()
        if len(text) > 200:
            raise ValueError(text)
        query = parse_query(text)
        validate_alert(query)
        await store.add_alert(user_id, text, deliver="dm")
        found = await asyncio.to_thread((await recent()).matching, query)
        await store.alert_user(user_id)
        return len(found)

    return add


def _after_path(store: Any) -> Callable[[int, str], Awaitable[Any]]:
    """This tree's /alert add: AlertBook, the cog's core."""
    from bot.alert_book import AlertBook, parse_alert

    book = AlertBook(store, clock=lambda: datetime(2026, 3, 6, 12, tzinfo=UTC))

    async def add(user_id: int, text: str) -> Any:
        added = await book.add(user_id, text, parse_alert(text))
        await store.alert_user(user_id)
        return added.preview.total

    return add


async def _drive(side: str, db: str, jobs: list[tuple[int, str]], in_flight: int) -> dict:
    from bot.store import SQLiteStore

    async with SQLiteStore(db, clock=lambda: datetime(2026, 3, 6, 12, tzinfo=UTC)) as store:
        add = (_before_path if side == "before" else _after_path)(store)
        await add(*jobs[0])  # a first add (the window, connections) is not timed
        loop_ms: list[float] = []
        cpu_ms: list[float] = []
        lags: list[float] = []
        previews = 0
        queue = list(reversed(jobs[1:]))
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                due = time.perf_counter() + TICK
                await asyncio.sleep(TICK)
                lags.append(max(0.0, time.perf_counter() - due) * 1000)

        async def worker() -> None:
            nonlocal previews
            while queue:
                user_id, text = queue.pop()
                timed = Timed(add(user_id, text))
                found = await timed  # (not `previews += await`: that reads previews first)
                previews += found
                loop_ms.append(timed.spent * 1000)
                cpu_ms.append(timed.cpu * 1000)

        probe = asyncio.create_task(ticker())
        started, process = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
        process = time.process_time() - process
        stop.set()
        await probe
    return {
        "side": side,
        "adds": len(loop_ms),
        "seconds": elapsed,
        "process_s": process,
        "loop_ms": loop_ms,
        "cpu_ms": cpu_ms,
        "lag_ms": lags,
        "previewed": previews,
    }


def worker_main(args: argparse.Namespace) -> None:
    import bot

    tree = Path(args.tree).resolve()
    if not Path(bot.__file__).resolve().is_relative_to(tree):
        raise SystemExit(f"bot was imported from {bot.__file__}, not from {tree}")
    jobs = [tuple(j) for j in json.loads(Path(args.jobs).read_text())][: args.limit]
    result = asyncio.run(_drive(args.worker, args.db, jobs, args.in_flight))  # type: ignore[arg-type]
    Path(args.out).write_text(json.dumps(result))


# -- the orchestrator --------------------------------------------------------------------


def build_store(path: Path, args: argparse.Namespace) -> list[tuple[int, str]]:
    """The template store (7 days of papers, the alerts) and the adds to run on it."""
    sys.path.insert(0, str(ROOT))
    from bench.alerts import make_alerts
    from bench.corpus import CorpusGenerator, seed_papers
    from bot.alert_book import parse_alert
    from bot.errors import UserError
    from bot.store import SQLiteStore
    from bot.store.base import MAX_ALERTS

    gen = CorpusGenerator(seed=16)

    async def papers() -> None:
        async with SQLiteStore(path) as store:
            index = 0
            first = TODAY - timedelta(days=args.days - 1)
            per_old_day = args.per_day
            old_days = -(-args.older // per_old_day) if args.older else 0
            for n in range(old_days, 0, -1):
                count = min(per_old_day, args.older - (old_days - n) * per_old_day)
                day = first - timedelta(days=7 + n)
                await store.ingest_day(day, gen.day(day, index, count))
                index += count
            for n in range(args.days):
                day = first + timedelta(days=n)
                await store.ingest_day(day, gen.day(day, index, args.per_day))
                index += args.per_day

    asyncio.run(papers())
    rng = random.Random(16)
    seed = list(seed_papers())
    existing = make_alerts(args.alerts, EXISTING_USERS, seed, rng, args.max_df)
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO alerts (id, user_id, query, deliver, created_at)"
            " VALUES (?, ?, ?, 'dm', ?)",
            [(i, u, str(q), "2026-03-01T00:00:00+00:00") for i, u, q in existing],
        )
        db.executemany(
            "INSERT INTO alert_changes (kind, key, changed_at) VALUES ('alert', ?, ?)",
            [(i, "2026-03-01T00:00:00+00:00") for i, _, _ in existing[-10_000:]],
        )
    db.close()
    # The adders: people who have alerts already, with room for 5 more (25 at most).
    have = Counter(user for _, user, _ in existing)
    room = MAX_ALERTS - -(-args.adds // args.users)
    adders = [user for user in range(EXISTING_USERS) if have[user] <= room][: args.users]
    adds: list[tuple[int, str]] = []
    wanted = make_alerts(args.adds * 2, args.users, seed, random.Random(17), args.max_df)
    for _, _, query in wanted:
        text = str(query)
        try:
            parse_alert(text)
        except UserError:
            continue
        adds.append((adders[len(adds) % args.users], text))  # in turn: 5 each for 10,000
        if len(adds) == args.adds:
            break
    return adds


def run_side(
    side: str, tree: Path, template: Path, jobs: Path, limit: int, args: argparse.Namespace
) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"adds-{side}-") as tmp:
        db = Path(tmp) / "store.db"
        shutil.copy(template, db)
        out = Path(tmp) / "result.json"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            side,
            "--tree",
            str(tree),
            "--db",
            str(db),
            "--jobs",
            str(jobs),
            "--out",
            str(out),
            "--limit",
            str(limit),
            "--in-flight",
            str(args.in_flight),
        ]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        subprocess.run(command, check=True, cwd=tree, env=env)
        return json.loads(out.read_text())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--adds", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-day", type=int, default=200)
    parser.add_argument("--older", type=int, default=0, help="papers listed before the window")
    parser.add_argument("--max-df", type=float, default=0.02)
    parser.add_argument("--before", default="main", help="the git ref to compare with")
    parser.add_argument("--before-adds", type=int, default=None, help="fewer adds before")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--worker", choices=["before", "after"], help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--jobs", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="alert-adds-") as tmp:
        work = Path(tmp)
        before_tree = work / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(before_tree), args.before],
            check=True,
            cwd=ROOT,
        )
        try:
            started = time.perf_counter()
            template = work / "template.db"
            adds = build_store(template, args)
            jobs = work / "jobs.json"
            jobs.write_text(json.dumps(adds))
            print(
                f"store: {args.days} days x {args.per_day} papers (+{args.older} older),"
                f" {args.alerts:,} alerts; {len(adds):,} adds by {args.users:,} people,"
                f" {args.in_flight} in flight (built in {time.perf_counter() - started:.0f} s);"
                f" load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            results: dict[str, list[dict]] = {"before": [], "after": []}
            for n in range(args.rounds):
                order = ["before", "after"] if n % 2 == 0 else ["after", "before"]
                for side in order:
                    tree = before_tree if side == "before" else ROOT
                    limit = args.before_adds if side == "before" and args.before_adds else 0
                    result = run_side(side, tree, template, jobs, limit or len(adds), args)
                    results[side].append(result)
                    print(
                        f"  round {n + 1} {side}: {result['adds']:,} adds in"
                        f" {result['seconds']:.1f} s",
                        flush=True,
                    )
            report(results, args)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(before_tree)], check=True, cwd=ROOT
            )


def report(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    rows = {}
    for side, runs in results.items():
        loop = [ms for r in runs for ms in r["loop_ms"]]
        cpu = [ms for r in runs for ms in r["cpu_ms"]]
        lag = [ms for r in runs for ms in r["lag_ms"]]
        adds = sum(r["adds"] for r in runs)
        seconds = sum(r["seconds"] for r in runs)
        rows[side] = {
            "adds": adds,
            "p50": statistics.median(loop),
            "p95": percentile(loop, 0.95),
            "p99": percentile(loop, 0.99),
            "max": max(loop),
            "over": sum(ms > TARGET_LOOP_MS for ms in loop),
            "cpu50": statistics.median(cpu),
            "cpu95": percentile(cpu, 0.95),
            "cpu99": percentile(cpu, 0.99),
            "cpumax": max(cpu),
            "rate": adds / seconds,
            "process": sum(r["process_s"] for r in runs) * 1000 / adds,
            "lag99": percentile(lag, 0.99) if lag else 0.0,
            "previewed": sum(r["previewed"] for r in runs) / adds,
        }
    before, after = rows["before"], rows["after"]
    print(f"\n{'':28}{'before':>12}{'after':>12}{'gain':>14}{'target':>12}")
    for name, key, target, unit in [
        ("adds timed", "adds", None, ""),
        ("loop time per add p50", "p50", None, "ms"),
        ("loop time per add p95", "p95", None, "ms"),
        ("loop time per add p99", "p99", TARGET_LOOP_MS, "ms"),
        ("loop time per add max", "max", None, "ms"),
        ("adds over 5 ms loop time", "over", None, ""),
        ("loop CPU per add p50", "cpu50", None, "ms"),
        ("loop CPU per add p95", "cpu95", None, "ms"),
        ("loop CPU per add p99", "cpu99", None, "ms"),
        ("loop CPU per add max", "cpumax", TARGET_LOOP_MS, "ms"),
        ("process CPU per add (threads)", "process", None, "ms"),
        ("adds/s", "rate", TARGET_ADDS_S, ""),
        ("loop lag p99 (5 ms ticker)", "lag99", None, "ms"),
        ("papers previewed per add", "previewed", None, ""),
    ]:
        b, a = before[key], after[key]
        ratio = f"{(a / b if key == 'rate' else b / a):.1f}x" if a and b else "-"
        if key in ("adds", "previewed", "over"):
            ratio = ""
        goal = ""
        if target is not None:
            met = a >= target if key == "rate" else a <= target
            goal = f"{'<=' if key != 'rate' else '>='} {target:g}{unit} {'ok' if met else 'NO'}"
        print(f"{name:28}{b:>12,.2f}{a:>12,.2f}{ratio:>14}{goal:>14}")
    if args.before_adds and args.before_adds < after["adds"]:
        print(f"(before timed on its first {args.before_adds:,} adds only)")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        tree = sys.argv[sys.argv.index("--tree") + 1]
        sys.path.insert(0, tree)
    main()

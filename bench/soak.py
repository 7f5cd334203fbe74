"""Soak: the bot in its own process against the fake Discord and fake Hugging Face, all at once.

The load, as in production at scale, all in one window:

* 1,000 guilds (the fake's "Paper Club" plus 999 more), one subscribed digest channel each,
  all due at the same minute M: the real cron jobs (one per channel) fire at M:00;
* the 200,000-paper store that `bench.search` builds and caches (copied, never modified);
* 100,000 keyword alerts from 10,000 people (`bench.alerts.make_alerts`, DM delivery);
* a scrape that brings in a new list day of 200 papers: a few are ordinary synthetic papers
  (`bench.corpus`; each matches hundreds to thousands of alerts), chosen down the list until
  about `--dms` 2,500 people have a match; the rest are papers on topics nobody has an alert
  for (their words are replaced by made-up words). So the scrape queues matches and the bot
  sends ~2,500 alert DMs; `--dms 10000` makes a much heavier day;
* 10 /search interactions per second, from 1,000 different members, for the whole window.

Design. The bot runs as a separate process, started exactly as `python -m bot run --config
...` (this script's `--bot-child` mode calls `bot.cli.main` after installing a lag sampler),
with a config that points Discord, the gateway and Hugging Face at the fakes, which run in
this process with the load generator. So the bot's memory and its event loop are its own:

* peak RSS is the kernel's high-water mark (VmHWM in /proc/<pid>/status) of the bot process
  alone, read just before it is stopped;
* event-loop lag is measured inside the bot: a 10 ms timer (`loop.call_at`) re-armed on every
  firing records how late it fired. A stall of X ms shows up as one sample of ~X ms; the
  figures are percentiles over samples, plus the count and total of stalls over 50 ms.
  It includes the time the OS did not run the bot (2 cores shared with the fakes and the
  SQLite threads), which the bot's users would feel too;
* the bot keeps its real clock: digests fire from the real cron triggers at M, the scrape job
  polls on its real interval (set so its second run lands ~10 s after M), and the digest's
  upvote refresh fetches the newest stored list from the fake.

/search latency is measured by the fake (this process): from creating the INTERACTION_CREATE
to the bot's first accepted callback, and to the final message the user sees. It includes the
gateway and HTTP hops and this process's own loop delays (its lag is printed as a harness
figure).

Errors: ERROR/CRITICAL log lines of the bot (JSON logs), lines on its stderr that are not
log records, the fake Discord's rule violations (including interactions not acknowledged in
3 s) and unknown routes, searches that failed (no answer, rejected, or the apology
message), and a non-zero exit status of the bot. Discord's global limit (50 requests/s) is
enforced by the fake; 429s are reported on their own line.

    .venv/bin/python -m bench.soak [--guilds 1000] [--papers 200000] [--alerts 100000]
        [--users 10000] [--new-papers 200] [--dms 2500] [--rate 10] [--duration 120]

With `--papers 20000` it uses the smaller cached store (a quick check of the harness).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import signal
import struct
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# The child (the bot) imports only the standard library from here before `bot.cli`.

LAG_INTERVAL = 0.010  # seconds between the sampler's timer firings
_SAMPLE = struct.Struct("<dd")  # (loop.time() when it fired, how late it fired), seconds
_GC = struct.Struct("<ddi")  # (monotonic start, duration s, generation) of a collection
GC_RECORD_S = 0.002  # collections shorter than this are not recorded (gen 2 always is)


class LagSampler:
    """How late a timer fires on an event loop: one (time, lateness) sample per firing."""

    def __init__(self, loop: asyncio.AbstractEventLoop, path: str) -> None:
        self._loop = loop
        self._path = path
        self._buf = bytearray()
        self._gc_buf = bytearray()
        self._gc_start = 0.0
        self._due = 0.0
        self._flushed = time.monotonic()

    def start(self) -> None:
        import gc

        gc.callbacks.append(self._on_gc)  # read-only: when the cyclic GC runs, and how long
        self._loop.call_soon(self._arm)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.monotonic()
            return
        took = time.monotonic() - self._gc_start
        if info["generation"] == 2 or took >= GC_RECORD_S:
            self._gc_buf += _GC.pack(self._gc_start, took, info["generation"])

    def _arm(self) -> None:
        self._due = self._loop.time() + LAG_INTERVAL
        self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        self._buf += _SAMPLE.pack(now, now - self._due)
        if now - self._flushed >= 1.0:
            self.flush()
        self._arm()

    def flush(self) -> None:
        for path, buf in ((self._path, self._buf), (self._path + ".gc", self._gc_buf)):
            if buf:
                with open(path, "ab") as f:
                    f.write(buf)
                buf.clear()
        self._flushed = time.monotonic()


MEMORY_REPORT_ENV = "PAPERBOY_SOAK_MEMORY_REPORT"  # set by --memory-report: a file path
MEMORY_REPORT_EVERY = 30.0  # seconds between the report's censuses


def memory_reporter(path: str) -> None:
    """A census of this process's objects every MEMORY_REPORT_EVERY s, from a thread: the
    garbage collector's objects by type (count, and their own size without what they refer
    to, so a str or int held by them is not counted), with RSS and its parts.

    Opt-in (`--memory-report`): each census holds the GIL for a second or more, so the lag
    figures of such a run are not the soak's. (tracemalloc was tried first: with 100,000
    alerts loaded the bot then did not start within the soak's minute.)
    """
    import gc
    import threading

    def write() -> None:
        sizes: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        # The bot freezes what start-up made (gc.freeze), and frozen objects are not listed:
        # thaw, list, freeze again (which also freezes what came since: a diagnostic run).
        frozen = gc.get_freeze_count()
        gc.unfreeze()
        objects = gc.get_objects()
        if frozen:
            gc.freeze()
        for obj in objects:
            name = type(obj).__qualname__
            module = type(obj).__module__
            key = name if module == "builtins" else f"{module}.{name}"
            counts[key] += 1
            sizes[key] += sys.getsizeof(obj)
        status = {
            k: v.strip()
            for k, _, v in (
                line.partition(":") for line in Path("/proc/self/status").read_text().splitlines()
            )
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")
        }
        lines = [
            f"== {datetime.now(UTC):%H:%M:%S} {sum(counts.values()):,} GC objects, "
            f"{sum(sizes.values()) / 2**20:.1f} MB own size; "
            + ", ".join(f"{k} {v}" for k, v in status.items())
        ]
        del objects
        for key, size in sizes.most_common(30):
            lines.append(f"{size / 2**20:9.2f} MB {counts[key]:>10,}  {key}")
        with open(path, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n\n")

    def loop() -> None:
        while True:
            time.sleep(MEMORY_REPORT_EVERY)
            write()

    threading.Thread(target=loop, name="memory-report", daemon=True).start()


def bot_child(lag_path: str, bot_argv: list[str]) -> int:
    """`python -m bot <bot_argv>` with a lag sampler on the event loop asyncio.run creates."""
    samplers: list[LagSampler] = []
    if report_path := os.environ.get(MEMORY_REPORT_ENV):
        memory_reporter(report_path)

    class SampledLoops(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            loop = super().new_event_loop()
            sampler = LagSampler(loop, lag_path)
            sampler.start()
            samplers.append(sampler)
            return loop

    asyncio.set_event_loop_policy(SampledLoops())
    from bot.cli import main

    try:
        return main(bot_argv)
    finally:
        for sampler in samplers:
            sampler.flush()


# -- the load generator and the fakes (this process) ------------------------------------------

TARGET_RSS_MB = 150.0
TARGET_LAG_P99_MS = 50.0
STALL_MS = 50.0
MAX_DF = 0.02  # bench.alerts' default: alert words are in at most 2% of the seed abstracts
APOLOGY_PREFIX = "Sorry, something went wrong"


def log(message: str) -> None:
    print(message, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (as bench.search)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def ceil_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


# -- the new list day ---------------------------------------------------------------------------

_ONSETS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_WORDS_RE = re.compile(r"[^\W\d_]+")


def _made_up(word: str) -> str:
    """A stable made-up word for a real one (2-4 syllables from its CRC)."""
    h = zlib.crc32(word.lower().encode())
    syllables = []
    for _ in range(2 + h % 3):
        h //= 3
        syllables.append(_ONSETS[h % len(_ONSETS)] + _VOWELS[(h // 7) % len(_VOWELS)])
        h //= 11
    return "".join(syllables) + "x"  # "x" ending: never a seed word


def _scramble(text: str | None) -> str | None:
    return _WORDS_RE.sub(lambda m: _made_up(m.group()), text) if text else text


@dataclass
class NewDay:
    papers: list[Any]
    hot: list[int]  # alerts matched by each hot paper, in list order
    dms: int  # people with at least one match: one DM each
    outbox_rows: int  # (person, paper) pairs


def new_day(
    day: date, count: int, dms: int, first_index: int, seed: int, alerts: list[Any]
) -> NewDay:
    """`count` synthetic papers for `day`: some match many alerts, the rest none.

    All start as ordinary bench.corpus papers, built from the same seed text as the alerts;
    each of those matches hundreds to thousands of alerts. Going down the list, a paper stays
    such a "hot" paper while the people it reaches keep the total near `dms` (at most 20%
    over). The others get made-up words: papers on topics nobody has an alert for.
    """
    from bench.corpus import CorpusGenerator
    from bot.percolator import AlertIndex

    papers = CorpusGenerator(seed + 1).day(day, first_index, count)
    index = AlertIndex.build([(a, q) for a, _, q in alerts])
    found = index.match_many(papers)
    owner = {a: u for a, u, _ in alerts}
    people: set[int] = set()
    out, hot = [], []
    for p in papers:
        reached = {owner[a] for a in found.get(p.id, {})}
        if reached and len(people) < dms and len(people | reached) <= dms * 1.2:
            people |= reached
            hot.append(len(found[p.id]))
            out.append(p)
            continue
        out.append(
            replace(
                p,
                title=_scramble(p.title) or "Untitled",
                abstract=_scramble(p.abstract) or "",
                authors=tuple(_scramble(a) or a for a in p.authors),
                ai_keywords=tuple(_scramble(k) or k for k in p.ai_keywords),
                ai_summary=_scramble(p.ai_summary),
            )
        )
    # Made-up words could still meet an alert by chance: count from the final list.
    found = index.match_many(out)
    pairs = {(owner[a], p.id) for p in out for a in found.get(p.id, {})}
    return NewDay(out, hot, len({u for u, _ in pairs}), len(pairs))


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def api_item(paper: Any) -> dict[str, Any]:
    """A Paper as an item of HF's /api/daily_papers (what bot.hf.parse.parse_item reads)."""
    org = (
        {
            "_id": f"{zlib.crc32(paper.organization.encode()):024x}",
            "name": paper.organization,
            "fullname": paper.organization,
        }
        if paper.organization
        else None
    )
    inner: dict[str, Any] = {
        "id": paper.id,
        "authors": [
            {"_id": f"{zlib.crc32(f'{paper.id}{i}'.encode()):024x}", "name": a, "hidden": False}
            for i, a in enumerate(paper.authors)
        ],
        "publishedAt": _iso(paper.published_at),
        "submittedOnDailyAt": _iso(paper.submitted_at),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes,
        "ai_summary": paper.ai_summary,
        "ai_keywords": list(paper.ai_keywords),
    }
    if paper.github_repo:
        inner["githubRepo"] = paper.github_repo
        inner["githubStars"] = paper.github_stars
    if paper.project_page:
        inner["projectPage"] = paper.project_page
    if org:
        inner["organization"] = org
    item: dict[str, Any] = {
        "paper": inner,
        "publishedAt": _iso(paper.submitted_at),
        "title": paper.title,
        "summary": paper.abstract,
        "numComments": paper.num_comments or 0,
        "isAuthorParticipating": False,
    }
    if paper.thumbnail:
        item["thumbnail"] = paper.thumbnail
    if org:
        item["organization"] = org
    return item


# -- watching the bot -----------------------------------------------------------------------------


@dataclass
class LogWatch:
    """Tails the bot's JSON log file; counts levels and the events the timeline needs."""

    path: Path
    offset: int = 0
    partial: bytes = b""
    levels: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    raw_lines: list[str] = field(default_factory=list)
    events: dict[str, list[float]] = field(default_factory=dict)  # name -> wall times
    notes: dict[str, str] = field(default_factory=dict)
    lines: int = 0

    PATTERNS = (
        ("connected", re.compile(r"has connected to Gateway")),
        ("alert catch-up done", re.compile(r'^Job "alert catch-up.*executed successfully')),
        ("digest catch-up done", re.compile(r'^Job "digest catch-up.*executed successfully')),
        ("scrape done", re.compile(r"^scrape done: ")),
        ("new papers", re.compile(r"^scrape done: \d+ dates, [1-9]\d* new papers")),
        ("queued", re.compile(r"^queued \d+ alert matches")),
        ("digest posted", re.compile(r"^posted the (?:\S+ )?\S+ digest to channel")),
        ("digest run", re.compile(r"^posting \d+ due digests")),
        ("digest job", re.compile(r'^Running job "digest posts')),
        ("alert retry job", re.compile(r'^Running job "alert retries')),
        ("dm delivered", re.compile(r"^delivered \d+ alert matches to user")),
        ("stopped", re.compile(r"^paperboy stopped")),
    )

    def count(self, event: str) -> int:
        return len(self.events.get(event, ()))

    def first(self, event: str) -> float | None:
        times = self.events.get(event)
        return times[0] if times else None

    def last(self, event: str) -> float | None:
        times = self.events.get(event)
        return times[-1] if times else None

    def poll(self) -> None:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        self.offset += len(chunk)
        data = self.partial + chunk
        *lines, self.partial = data.split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace"))

    def _line(self, line: str) -> None:
        if not line.strip():
            return
        self.lines += 1
        try:
            entry = json.loads(line)
            level, message = entry["level"], entry["message"]
            logger, when = entry["logger"], datetime.fromisoformat(entry["time"]).timestamp()
        except (ValueError, KeyError, TypeError):
            self.raw_lines.append(line)
            return
        self.levels[level] += 1
        if level in ("ERROR", "CRITICAL"):
            exc = (entry.get("exception") or "").strip().splitlines()
            self.errors.append(f"{logger}: {message}" + (f" [{exc[-1]}]" if exc else ""))
        elif level == "WARNING":
            shape = re.sub(r"\d+(\.\d+)?", "N", message)[:110]
            self.warnings[f"{logger}: {shape}"] += 1
        for name, pattern in self.PATTERNS:
            if pattern.search(message):
                self.events.setdefault(name, []).append(when)
                if name in ("new papers", "queued"):
                    self.notes[name] = message


@dataclass
class ProcWatch:
    """RSS and CPU of one process from /proc, sampled."""

    pid: int
    samples: list[tuple[float, float]] = field(default_factory=list)  # (wall, RSS MB)
    hwm_mb: float = 0.0
    last: dict[str, float] = field(default_factory=dict)

    def status(self) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            return out
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                number = float(value.split()[0])
                out[key] = number / 1024 if key != "Threads" else number
        ticks = os.sysconf("SC_CLK_TCK")
        out["cpu_s"] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        return out

    def sample(self) -> dict[str, float]:
        now = self.status()
        if "VmRSS" in now:  # (an exited process's status has no memory lines)
            self.last = now
            self.samples.append((time.time(), now["VmRSS"]))
            self.hwm_mb = max(self.hwm_mb, now["VmHWM"])
        return now

    def rss_at(self, wall: float) -> float | None:
        before = [rss for t, rss in self.samples if t <= wall]
        return before[-1] if before else None


@dataclass
class SearchSample:
    issued: float  # wall time
    text: str
    first_ms: float | None = None
    final_ms: float | None = None
    deferred: bool = False
    outcome: str = "pending"


async def one_search(fake: Any, user: Any, channel_id: str, text: str) -> SearchSample:
    from tests.fakes.fake_discord import FakeDiscordError

    sample = SearchSample(time.time(), text)
    loop = asyncio.get_running_loop()
    try:
        inter = await fake.invoke("search", {"query": text}, user=user, channel=channel_id)
    except Exception as e:
        sample.outcome = f"failed: could not invoke ({type(e).__name__}: {e})"
        return sample
    try:
        first = await inter.response(10.0)
        sample.first_ms = (loop.time() - inter.created_at) * 1000
        sample.deferred = first.deferred
        message = await inter.final_message(20.0)
        sample.final_ms = (loop.time() - inter.created_at) * 1000
    except TimeoutError:
        sample.outcome = "failed: no answer"
        return sample
    except FakeDiscordError as e:
        late = "10062" in str(e)
        sample.outcome = "failed: answered after the 3 s deadline" if late else f"failed: {e}"[:120]
        return sample
    content = message.content or ""
    if message.embeds:
        sample.outcome = "results"
    elif content.startswith("No stored papers match"):
        sample.outcome = "no results"
    elif "too broad" in content:
        sample.outcome = "too broad (the store's 1 s budget)"
    elif content.startswith(APOLOGY_PREFIX):
        sample.outcome = "failed: apology (unexpected error in the bot)"
    else:
        sample.outcome = f"other: {content[:60]}"
    return sample


async def parent_lag(samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """This process's own loop lag (the fakes and the load generator), for context."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        due = loop.time() + LAG_INTERVAL
        await asyncio.sleep(LAG_INTERVAL)
        samples.append((time.time(), loop.time() - due))


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Plan:
    digest_at: datetime  # M
    window_start: float  # wall time W
    launched: float = 0.0


async def soak(args: argparse.Namespace) -> int:
    from bench.search import cached_store

    cached, _, _ = await cached_store(args.papers, args.seed)

    with tempfile.TemporaryDirectory(prefix="paperboy-soak-") as tmp_name:
        return await _soak(args, cached, Path(tmp_name))


async def _soak(args: argparse.Namespace, cached: Path, tmp: Path) -> int:
    import sqlite3
    from random import Random

    from bench.alerts import make_alerts
    from bench.corpus import seed_papers
    from bench.search import make_queries
    from bot.hf.parse import parse_item
    from bot.models import Subscription
    from bot.store import SQLiteStore
    from tests.fakes.fake_discord import FakeDiscord
    from tests.fakes.fake_hf import FakeHF

    t_setup = time.perf_counter()
    db = tmp / "paperboy.db"
    t0 = time.perf_counter()
    shutil.copyfile(cached, db)  # the cached store is never opened for writing
    log(
        f"setup: copied {cached.name} ({db.stat().st_size / 1e6:,.0f} MB) in "
        f"{time.perf_counter() - t0:.1f} s"
    )

    # The workload: alerts, the new list day, and the list the digest refreshes.
    t0 = time.perf_counter()
    alerts = make_alerts(args.alerts, args.users, list(seed_papers()), Random(args.seed), MAX_DF)
    today = datetime.now(UTC).date()
    new = new_day(today, args.new_papers, args.dms, args.papers, args.seed, alerts)
    items_new = [api_item(p) for p in new.papers]
    for p, item in zip(new.papers[:20], items_new, strict=False):
        assert parse_item(item) == p, f"api_item does not round-trip for {p.id}"
    log(
        f"setup: {len(alerts):,} alerts from {args.users:,} people; new list {today}: "
        f"{len(new.papers)} papers, {len(new.hot)} of them match {new.hot} alerts, the rest "
        f"none; expected {new.outbox_rows:,} outbox rows and {new.dms:,} DMs "
        f"({time.perf_counter() - t0:.1f} s)"
    )

    async with FakeDiscord() as fake, FakeHF(days={}) as hf:
        fake.global_rate_limit = 50  # Discord's global limit for a bot
        # The world: guilds with a subscribed channel and a member who searches, and the
        # people with alerts (DM-able users).
        t0 = time.perf_counter()
        subscribed: list[tuple[str, str]] = [(fake.guild_id, fake.channel_id("papers"))]
        searchers = [(fake.add_member(fake.guild_id, "reader0"), fake.channel_id("general"))]
        for n in range(1, args.guilds):
            guild = fake.add_guild(f"guild {n}")
            channel = fake.add_text_channel(guild, "papers")
            subscribed.append((guild, channel))
            searchers.append((fake.add_member(guild, f"reader{n}"), channel))
        people = [int(fake.add_user(f"subscriber{n}").id) for n in range(args.users)]
        log(
            f"setup: fake Discord with {len(fake.guilds):,} guilds, {len(fake.users):,} users "
            f"({time.perf_counter() - t0:.1f} s)"
        )

        # The digest minute M, then the store: subscriptions (store API) and alerts (bulk).
        now = datetime.now(UTC)
        digest_at = ceil_minute(now + timedelta(seconds=args.lead + 10))
        plan = Plan(digest_at, digest_at.timestamp() - args.before)
        t0 = time.perf_counter()
        async with SQLiteStore(db) as store:  # applies any pending migration
            for guild, channel in subscribed:
                await store.save_subscription(
                    Subscription(int(channel), int(guild), digest_at.strftime("%H:%M"), "UTC", 10)
                )
            refresh_day = max(await store.list_dates())
            listing = await store.day_listing(refresh_day)
        refresh_items = [
            api_item(replace(item.paper, upvotes=item.paper.upvotes + 1 + n % 7))
            for n, item in enumerate(listing)
        ]
        hf.set_day(refresh_day.isoformat(), refresh_items)  # the digest's upvote refresh
        created = now.isoformat(timespec="seconds")
        with sqlite3.connect(db) as conn:
            conn.executemany(
                "INSERT INTO alerts (id, user_id, query, deliver, created_at)"
                " VALUES (?, ?, ?, 'dm', ?)",
                [(a, people[u], str(q), created) for a, u, q in alerts],
            )
            # The stored history was matched when it arrived: only the scrape batch is new.
            # (A store built by bench.search's ingest_day leaves every paper unmatched.)
            conn.execute("UPDATE papers SET alerts_matched = 1 WHERE alerts_matched = 0")
        conn.close()
        log(
            f"setup: store: {len(subscribed):,} subscriptions at {digest_at:%H:%M} UTC, "
            f"{len(alerts):,} alerts; digest list {refresh_day} ({len(listing)} papers) "
            f"({time.perf_counter() - t0:.1f} s)"
        )

        # The bot's config: everything at the fakes; the scrape's 2nd run lands after M.
        poll = digest_at.timestamp() + args.scrape_after - time.time()
        config = tmp / "soak.toml"
        config.write_text(
            "[discord]\n"
            f'api_base_url = "{fake.api_base_url}"\n'
            f'gateway_url = "{fake.gateway_url}"\n'
            "[huggingface]\n"
            f'base_url = "{hf.base_url}"\n'
            f"poll_seconds = {poll:.1f}\n"
            "timeout_seconds = 10\n"
            "max_retries = 1\n"
            "[store]\n"
            f'path = "{db}"\n'
            "[logging]\n"
            'level = "INFO"\n'
            "json = true\n",
            encoding="utf-8",
        )
        queries = make_queries(int(args.rate * (args.duration + args.max_extra)) + 100, args.seed)
        log(f"setup: done in {time.perf_counter() - t_setup:.0f} s")

        code = await drive(
            args,
            fake,
            hf,
            plan,
            tmp,
            config,
            subscribed,
            searchers,
            queries,
            today,
            items_new,
            new.dms,
            new.outbox_rows,
        )
    return code


async def drive(
    args: argparse.Namespace,
    fake: Any,
    hf: Any,
    plan: Plan,
    tmp: Path,
    config: Path,
    subscribed: list[tuple[str, str]],
    searchers: list[tuple[Any, str]],
    queries: list[Any],
    today: date,
    items_new: list[dict[str, Any]],
    expected_dms: int,
    expected_rows: int,
) -> int:
    lag_path = tmp / "lag.bin"
    log_path = tmp / "bot.log"
    env = os.environ | {"DISCORD_TOKEN": fake.token, "PYTHONUNBUFFERED": "1"}
    env.pop("PAPERBOY_CONFIG", None)
    env.pop("PYTHONHASHSEED", None)  # the bot hashes as in production
    env.pop(MEMORY_REPORT_ENV, None)
    if args.memory_report:
        env[MEMORY_REPORT_ENV] = str(Path(args.memory_report).resolve())
        log(f"bot: object census every {MEMORY_REPORT_EVERY:g} s to {args.memory_report}")
    argv = [
        sys.executable,
        "-m",
        "bench.soak",
        "--bot-child",
        str(lag_path),
        "--",
        "run",
        "--config",
        str(config),
    ]
    root = Path(__file__).resolve().parent.parent
    with log_path.open("wb") as err, (tmp / "bot.out").open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=root, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err
        )
    plan.launched = time.time()
    m = plan.digest_at.timestamp()
    log(
        f"bot: pid {proc.pid} launched at M{plan.launched - m:+.1f} s "
        f"(M = digest time {plan.digest_at:%H:%M:%S} UTC)"
    )

    logs = LogWatch(log_path)
    procw = ProcWatch(proc.pid)
    stop = asyncio.Event()
    parent_samples: list[tuple[float, float]] = []
    marks: dict[str, float] = {}
    figures: dict[str, Any] = {}

    async def watch() -> None:
        while not stop.is_set():
            logs.poll()
            procw.sample()
            since = int(marks.get("hf index", -1))
            if (
                since >= 0
                and "hf served" not in marks
                and any(r.query.get("date") == today.isoformat() for r in hf.requests[since:])
            ):
                marks["hf served"] = time.time()  # the scrape fetched the new list
            await asyncio.sleep(0.25)

    watcher = asyncio.create_task(watch())
    lagger = asyncio.create_task(parent_lag(parent_samples, stop))

    def dm_messages() -> list[Any]:
        return [m for m in fake.messages if m.guild_id is None and m.kind == "channel"]

    subscribed_channels = {c for _, c in subscribed}

    def digest_messages() -> list[Any]:
        return [
            m for m in fake.messages if m.channel_id in subscribed_channels and m.kind == "channel"
        ]

    async def until(predicate: Any, deadline: float, what: str) -> bool:
        while not predicate():
            if proc.returncode is not None:
                log(f"bot exited with status {proc.returncode} while waiting for {what}")
                return False
            if time.time() > deadline:
                log(f"timed out waiting for {what}")
                return False
            await asyncio.sleep(0.1)
        return True

    ok = True
    searches: list[SearchSample] = []
    try:
        # 1. Start-up: connected, commands synced, the start-up jobs done.
        ready = await until(
            lambda: (
                logs.count("connected")
                and "search" in str(fake.commands)
                and logs.count("alert catch-up done")
                and logs.count("scrape done")
                and logs.count("digest catch-up done")
            ),
            m + 30,
            "the bot to start",
        )
        if not ready:
            raise RuntimeError("the bot did not start")
        marks["started"] = time.time()
        figures["rss_started"] = procw.sample().get("VmRSS")
        probe = await fake.invoke("status", user=fake.admin)  # is it answering?
        await probe.response(10.0)
        figures["status_ms"] = (asyncio.get_running_loop().time() - probe.created_at) * 1000
        log(
            f"bot: started at M{marks['started'] - m:+.1f} s, RSS "
            f"{figures['rss_started']:.0f} MB, /status answered in {figures['status_ms']:.0f} ms"
        )

        # 2. The window: searches from W; the new list goes up at W; digests fire at M.
        await asyncio.sleep(max(0.0, plan.window_start - time.time()))
        marks["window"] = time.time()
        figures["rss_window"] = procw.sample().get("VmRSS")
        cpu_start = procw.last.get("cpu_s", 0.0)
        hf.set_day(today.isoformat(), items_new)
        marks["hf index"] = len(hf.requests)
        log(
            f"window: started at M{marks['window'] - m:+.1f} s; {args.rate:g} /search per s; "
            f"new list {today} ({len(items_new)} papers) is up on the fake HF"
        )

        in_flight: set[asyncio.Task[SearchSample]] = set()
        search_stop = asyncio.Event()

        async def search_load() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            k = 0
            while not search_stop.is_set():
                delay = start + k / args.rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                user, channel = searchers[k % len(searchers)]
                text = queries[k % len(queries)].text
                task = asyncio.create_task(one_search(fake, user, channel, text))
                in_flight.add(task)
                task.add_done_callback(
                    lambda t: (
                        in_flight.discard(t),
                        None if t.cancelled() else searches.append(t.result()),
                    )
                )
                k += 1

        loader = asyncio.create_task(search_load())
        digests_expected = len(subscribed)

        def work_done() -> bool:
            return (
                logs.count("digest posted") >= digests_expected
                and len(dm_messages()) >= expected_dms
            )

        last_report = 0.0
        base_end = marks["window"] + args.duration
        while True:
            now = time.time()
            if now >= base_end and "at_duration" not in figures:
                figures["at_duration"] = (logs.count("digest posted"), len(dm_messages()))
            if now >= base_end and work_done():
                break
            if now >= base_end + args.max_extra:
                log(
                    f"window: stopped at the cap ({args.duration:g} + {args.max_extra:g} s) "
                    "with work still outstanding"
                )
                ok = False
                break
            if proc.returncode is not None:
                log(f"bot exited with status {proc.returncode} during the window")
                ok = False
                break
            if now - last_report >= 15:
                last_report = now
                log(
                    f"  M{now - m:+6.1f} s: RSS {procw.last.get('VmRSS', 0):.0f} MB, "
                    f"searches {len(searches)}, digests {logs.count('digest posted')}"
                    f"/{digests_expected}, DMs {len(dm_messages())}/{expected_dms}"
                )
            await asyncio.sleep(0.25)
        search_stop.set()
        await loader
        if in_flight:
            await asyncio.wait(in_flight, timeout=30)
        marks["end"] = time.time()
        logs.poll()
        end = procw.sample()
        figures["rss_end"] = end.get("VmRSS")
        figures["rss_anon_end"] = end.get("RssAnon")
        figures["threads"] = end.get("Threads")
        figures["cpu_window"] = end.get("cpu_s", 0.0) - cpu_start
        figures["hwm"] = max(procw.hwm_mb, end.get("VmHWM", 0.0))
    except Exception as e:
        ok = False
        log(f"soak aborted: {type(e).__name__}: {e}")
        logs.poll()
        figures.setdefault("hwm", procw.hwm_mb)
    finally:
        # 3. Stop the bot as SIGTERM would in production; it must exit cleanly.
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 40)
            except TimeoutError:
                log("bot did not exit within 40 s of SIGTERM; killing it")
                proc.kill()
                await proc.wait()
        stop.set()
        await asyncio.gather(watcher, lagger)
        logs.poll()
        kept = root / "bench" / "out" / "soak-bot.log"  # bench/out/ is git-ignored
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log_path, kept)
        log(f"bot: exited with status {proc.returncode}; its log is in {kept.relative_to(root)}")

    if "end" not in marks:
        tail = log_path.read_text("utf-8", "replace").splitlines()[-20:]
        log("bot log tail:\n" + "\n".join(tail))
        return 1
    report(
        args,
        plan,
        marks,
        figures,
        logs,
        procw,
        fake,
        lag_path,
        parent_samples,
        searches,
        subscribed_channels,
        digest_messages(),
        dm_messages(),
        expected_dms,
        expected_rows,
        proc.returncode,
        (tmp / "bot.out").read_text("utf-8", "replace"),
        ok,
    )
    return 0


def _lag_samples(path: Path) -> list[tuple[float, float]]:
    """The bot's (monotonic time, lateness) samples, as wall times."""
    data = path.read_bytes() if path.exists() else b""
    data = data[: len(data) - len(data) % _SAMPLE.size]
    offset = time.time() - time.monotonic()  # CLOCK_MONOTONIC is shared by both processes
    return [(t + offset, lag) for t, lag in _SAMPLE.iter_unpack(data)]


def _gc_events(path: Path) -> list[tuple[float, float, int]]:
    """The bot's recorded GC collections: (wall start, seconds, generation)."""
    data = path.read_bytes() if path.exists() else b""
    data = data[: len(data) - len(data) % _GC.size]
    offset = time.time() - time.monotonic()
    return [(t + offset, took, gen) for t, took, gen in _GC.iter_unpack(data)]


def _stall_cause(
    start: float, end: float, gcs: list[tuple[float, float, int]], logs: LogWatch, m: float
) -> str:
    """What overlapped a stall: GC collections, and jobs the bot logged around it."""
    causes = [
        f"GC gen {g} {d * 1000:.0f} ms" for t, d, g in gcs if t < end and t + d > start - 0.005
    ]
    nearby = {
        "alert retry job": "alert retry job started",
        "digest job": "digest cron jobs started",
        "new papers": "scrape stored the new list",
        "queued": "alert matches queued",
    }
    for event, text in nearby.items():
        if any(start - 1.0 <= t <= end + 0.5 for t in logs.events.get(event, ())):
            causes.append(text)
    return "; ".join(causes) or "-"


def _lag_row(label: str, lags_ms: Sequence[float]) -> str:
    if not lags_ms:
        return f"  {label:<30} no samples"
    ps = "".join(f"{percentile(lags_ms, p):9.1f}" for p in (50, 95, 99))
    return f"  {label:<30}{len(lags_ms):>8}{ps}{max(lags_ms):9.1f}"


def report(
    args: argparse.Namespace,
    plan: Plan,
    marks: dict[str, float],
    figures: dict[str, Any],
    logs: LogWatch,
    procw: ProcWatch,
    fake: Any,
    lag_path: Path,
    parent_samples: list[tuple[float, float]],
    searches: list[SearchSample],
    subscribed_channels: set[str],
    digest_msgs: list[Any],
    dms: list[Any],
    expected_dms: int,
    expected_rows: int,
    exit_code: int | None,
    stdout: str,
    ok: bool,
) -> None:
    m = plan.digest_at.timestamp()
    w0, w1 = marks["window"], marks["end"]

    def at(wall: float | None) -> str:
        return f"M{wall - m:+7.1f} s" if wall is not None else "      -"

    def msg_time(message: Any) -> float:
        return datetime.fromisoformat(message.created_at).timestamp()

    print()
    print(
        f"== soak: {len(subscribed_channels):,} guilds/digest channels, {args.papers:,} papers, "
        f"{args.alerts:,} alerts from {args.users:,} people, {args.rate:g} /search per s, "
        f"new list of {args.new_papers} papers (target {args.dms:,} DMs)"
    )
    print(
        f"   {os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.2f}; "
        f"Python {sys.version.split()[0]}"
    )

    print("\ntimeline (M = the digest minute, every channel's post time):")
    d_times = sorted(msg_time(x) for x in digest_msgs)
    dm_times = sorted(msg_time(x) for x in dms)
    jobs = logs.count("digest job")
    rows = [
        ("bot launched", plan.launched, ""),
        ("bot started (jobs done, answering)", marks.get("started"), ""),
        ("window start: searches, new list on HF", w0, ""),
        ("first digest cron job runs", logs.first("digest job"), f"({jobs} jobs ran)"),
        ("first run_due past its queries", logs.first("digest run"), "('posting 1 due digests')"),
        ("first digest message", d_times[0] if d_times else None, ""),
        ("scrape fetches the new list (fake HF)", marks.get("hf served"), ""),
        ("scrape with the new list done", logs.first("new papers"), logs.notes.get("new papers")),
        ("alert matches queued", logs.first("queued"), logs.notes.get("queued", "")),
        ("first alert DM", dm_times[0] if dm_times else None, ""),
        ("last digest message", d_times[-1] if d_times else None, ""),
        ("last alert DM", dm_times[-1] if dm_times else None, ""),
        ("window end", w1, f"({w1 - w0:.0f} s window)"),
    ]
    rows.sort(key=lambda row: row[1] if row[1] is not None else float("inf"))
    for label, wall, note in rows:
        print(f"  {label:<40}{at(wall)}  {note or ''}")
    retries = [at(t).strip() for t in logs.events.get("alert retry job", []) if w0 <= t <= w1]
    print(f"  alert retry job (every 60 s) started at: {', '.join(retries) or '-'}")

    print(f"\nbot process (pid {procw.pid}), from /proc:")
    hwm = figures.get("hwm", 0.0)
    print(
        f"  peak RSS (VmHWM, whole run)        {hwm:7.1f} MB   target <= {TARGET_RSS_MB:.0f} MB:"
        f" {'PASS' if hwm <= TARGET_RSS_MB else 'MISS'}"
    )
    window_rss = [rss for t, rss in procw.samples if w0 <= t <= w1]
    print(
        f"  RSS started / window start / max in window (sampled 4/s) / end: "
        f"{figures.get('rss_started', 0):.0f} / {figures.get('rss_window', 0):.0f} / "
        f"{max(window_rss, default=0):.0f} / {figures.get('rss_end', 0):.0f} MB "
        f"(anonymous at the end {figures.get('rss_anon_end', 0):.0f} MB)"
    )
    steps = [f"{t - m:+.0f}s {rss:.0f}" for t, rss in procw.samples[::60] if w0 <= t <= w1]
    print(f"  RSS about every 15 s (MB, from M): {', '.join(steps)}")
    cpu = figures.get("cpu_window", 0.0)
    print(
        f"  CPU in the window: {cpu:.1f} s user+sys in {w1 - w0:.0f} s "
        f"({cpu / (w1 - w0):.0%} of one core); {figures.get('threads', 0):.0f} threads"
    )

    samples = _lag_samples(lag_path)
    gcs = _gc_events(Path(f"{lag_path}.gc"))
    window = [lag * 1000 for t, lag in samples if w0 <= t <= w1]
    startup = [lag * 1000 for t, lag in samples if t < w0]
    fanout = [lag * 1000 for t, lag in samples if m <= t <= w1]
    print("\nevent-loop lag inside the bot: how late a 10 ms timer fired (ms)")
    print(f"  {'':<30}{'samples':>8}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    print(_lag_row("window", window))
    print(_lag_row("  from M (fan-out, scrape, DMs)", fanout))
    print(_lag_row("start-up (before the window)", startup))
    if window:
        p99 = percentile(window, 99)
        print(
            f"  target p99 <= {TARGET_LAG_P99_MS:.0f} ms (window): {p99:.1f} ms "
            f"{'PASS' if p99 <= TARGET_LAG_P99_MS else 'MISS'}"
        )
        stalls = [(t, lag * 1000) for t, lag in samples if w0 <= t <= w1 and lag * 1000 > STALL_MS]
        print(
            f"  stalls over {STALL_MS:.0f} ms in the window: {len(stalls)}, "
            f"{sum(s for _, s in stalls) / 1000:.2f} s in all "
            f"({sum(s for _, s in stalls) / 1000 / (w1 - w0):.1%} of the window)"
        )
        worst = sorted(stalls, key=lambda s: -s[1])[:10]
        if worst:
            print("  worst, with what overlapped them (GC: the bot's cyclic garbage collector):")
            for t, stall in sorted(worst):
                print(
                    f"    {stall:6.0f} ms from {at(t - stall / 1000).strip():>9}"
                    f"  {_stall_cause(t - stall / 1000, t, gcs, logs, m)}"
                )
    full = [(t, d) for t, d, g in gcs if g == 2 and w0 <= t <= w1]
    young = [(t, d) for t, d, g in gcs if g < 2 and w0 <= t <= w1]
    if full or young:
        print(
            f"  GC in the window: {len(full)} full (gen 2) collections, "
            f"{sum(d for _, d in full):.2f} s in all, longest "
            f"{max((d for _, d in full), default=0) * 1000:.0f} ms; gen 0/1 collections over "
            f"{GC_RECORD_S * 1000:.0f} ms: {len(young)}, {sum(d for _, d in young):.2f} s"
        )

    print(f"\n/search, {args.rate:g} per s issued by the fake (latency as the fake sees it, ms):")
    answered = [s for s in searches if s.first_ms is not None]
    print(
        f"  issued {len(searches)}, answered {len(answered)}, deferred "
        f"{sum(s.deferred for s in searches)}"
    )
    print(f"  {'':<30}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    for label, values in (
        ("time to first response", [s.first_ms for s in answered]),
        ("time to final message", [s.final_ms for s in answered if s.final_ms is not None]),
    ):
        if values:
            ps = "".join(f"{percentile(values, p):9.1f}" for p in (50, 95, 99))
            print(f"  {label:<30}{ps}{max(values):9.1f}")
    outcomes = Counter(s.outcome for s in searches)
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    slow = [s for s in answered if s.first_ms and s.first_ms > 1000]
    if slow:
        print(
            f"  first response over 1 s: {len(slow)}, e.g. "
            + ", ".join(
                f"{s.first_ms:.0f} ms at {at(s.issued).strip()}"
                for s in sorted(slow, key=lambda s: -s.first_ms)[:4]
            )
        )

    posted_channels = {x.channel_id for x in digest_msgs}
    n_posted = logs.count("digest posted")
    print("\ndigests (cron, one job per channel at M):")
    print(
        f"  posted {n_posted} of {len(subscribed_channels)} expected (bot log); channels "
        f"with messages {len(posted_channels)}; {len(digest_msgs)} messages"
    )
    if d_times:
        span = d_times[-1] - d_times[0]
        print(
            f"  first message at {at(d_times[0]).strip()}, last at {at(d_times[-1]).strip()}:"
            f" {len(digest_msgs) / max(span, 1e-9):.1f} messages/s over {span:.1f} s "
            f"(bot's pacer: 45 sends/s shared with alert DMs)"
        )
    if "at_duration" in figures:
        d, dm = figures["at_duration"]
        print(f"  after the first {args.duration:g} s of the window: {d} digests, {dm} DMs")

    print("\nalert DMs:")
    print(
        f"  sent {len(dms)} of {expected_dms} expected (one per person with a match); "
        f"expected outbox rows {expected_rows:,}; {logs.notes.get('queued', '-')}"
    )
    if len(dm_times) > 1:
        span = dm_times[-1] - dm_times[0]
        print(f"  {len(dms) / span:.1f} DMs/s from first to last ({span:.1f} s)")

    requests = fake.requests
    by_route = Counter(
        f"{r.method} {re.sub(r'fake-[^/]+', '{token}', re.sub(r'/[0-9]{6,}', '/{id}', r.path))}"
        for r in requests
        if r.status != 429
    )
    top_routes = ", ".join(f"{k} {v}" for k, v in by_route.most_common(5))
    print("\nfake Discord:")
    print(f"  {len(requests):,} REST requests; top: {top_routes}")
    print(
        f"  429s: {len(fake.rate_limited)} (global: {fake.global_429s}); the fake enforces "
        "50 requests/s for bot-authenticated routes"
    )

    failed = [s for s in searches if s.outcome.startswith("failed")]
    errors = {
        "ERROR/CRITICAL log lines": len(logs.errors),
        "stderr lines that are not log records": len(logs.raw_lines),
        "fake Discord violations": len(fake.violations),
        "unknown routes": len(fake.unknown_routes),
        "failed searches": len(failed),
        "bot exit status != 0": int(exit_code != 0),
        "digests not posted": max(0, len(subscribed_channels) - n_posted),
        "DMs not sent": max(0, expected_dms - len(dms)),
    }
    total = sum(errors.values())
    print(f"\nerrors: {total}   target 0: {'PASS' if total == 0 and ok else 'MISS'}")
    for name, count in errors.items():
        print(f"  {name:<40}{count}")
    print(
        f"  (bot exit status {exit_code}; {logs.lines:,} log lines: "
        + ", ".join(f"{k} {v}" for k, v in logs.levels.most_common())
        + ")"
    )
    for line in logs.errors[:5]:
        print(f"  ! {line[:300]}")
    for line in logs.raw_lines[:5]:
        print(f"  ! stderr: {line[:300]}")
    for v in fake.violations[:5]:
        print(f"  ! violation: {str(v)[:300]}")
    for route in fake.unknown_routes[:5]:
        print(f"  ! unknown route: {route}")
    for s in failed[:5]:
        print(f"  ! /search {s.text!r}: {s.outcome}")
    if stdout.strip():
        print(f"  bot stdout: {stdout.strip()[:300]}")
    if logs.warnings:
        print(f"  warnings ({sum(logs.warnings.values())}):")
        for shape, count in logs.warnings.most_common(6):
            print(f"    {count:>6} x {shape}")

    harness = [lag * 1000 for t, lag in parent_samples if w0 <= t <= w1]
    if harness:
        print(
            f"\nharness (this process: fakes + load; not the bot): loop lag p50/p99/max "
            f"{percentile(harness, 50):.1f}/{percentile(harness, 99):.1f}/{max(harness):.1f} ms"
        )


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--bot-child":
        lag_path, rest = sys.argv[2], sys.argv[3:]
        sys.exit(bot_child(lag_path, rest[1:] if rest[:1] == ["--"] else rest))
    if os.environ.get("PYTHONHASHSEED") != "0":
        # bench.alerts.make_alerts depends on set order: a fixed hash seed makes the same
        # alerts (and so the same number of DMs) on every run. Only this process; see drive().
        env = os.environ | {"PYTHONHASHSEED": "0"}
        os.execve(sys.executable, [sys.executable, "-m", "bench.soak", *sys.argv[1:]], env)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guilds", type=int, default=1000)
    parser.add_argument("--papers", type=int, default=200_000, help="bench.search's store size")
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000, help="people with alerts")
    parser.add_argument("--new-papers", type=int, default=200, help="papers on the new list")
    parser.add_argument(
        "--dms", type=int, default=2500, help="about this many people get an alert DM"
    )
    parser.add_argument("--rate", type=float, default=10.0, help="/search interactions per s")
    parser.add_argument("--duration", type=float, default=120.0, help="window length (s)")
    parser.add_argument(
        "--max-extra",
        type=float,
        default=180.0,
        help="the window runs on (searches too) until digests and DMs are all out, at most this",
    )
    parser.add_argument("--before", type=float, default=15.0, help="window start before M (s)")
    parser.add_argument("--lead", type=float, default=45.0, help="launch to M, at least (s)")
    parser.add_argument("--scrape-after", type=float, default=10.0, help="scrape at about M+ (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--memory-report",
        metavar="PATH",
        help="the bot appends a census of its objects by type (and its RSS) to PATH every 30 s;"
        " each census stalls the bot, so the lag figures of such a run are not the soak's",
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(soak(args)))


if __name__ == "__main__":
    main()

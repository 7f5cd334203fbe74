"""Fault tolerance, each fault injected through the fake servers or the process itself.

Hugging Face and Discord faults run against the in-process bot (tests/support/harness.py);
crashes, signals and a revoked token run against the real `python -m bot run` process.

Cost: the three kill -9 tests (digests, alerts, rising posts) start the real process 21 times
each (about 0.5 s of interpreter start-up, login and work per run), so they take most of this
file's time. They are never skipped: they are the only proof that a crash at any
moment neither repeats nor drops a message.
"""

from __future__ import annotations

import asyncio
import copy
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

from bot.delivery.rising import rising_nonce
from bot.hf.parse import parse_items
from bot.hf.source import HFSource
from bot.matching import matches
from bot.models import Paper, RisingChannel, Subscription
from bot.query import parse_query
from bot.store import SQLiteStore
from bot.text import plain_words
from cogs.digest import slot_job_id
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeDiscord, RecordedMessage
from tests.fakes.fake_hf import FakeHF
from tests.support.faults import (
    BotProcess,
    RestFaults,
    WriteLock,
    count_rows,
    kill_repeatedly,
    revoke_token,
    snapshot,
    write_config,
)
from tests.support.harness import Harness, open_store, running_bot, store_location

KILLS = 20
SEED_DAY = "2025-01-07"  # 26 papers, stored by the harness's backfill; top 25 is 3 messages
JAN7, JAN8 = date(2025, 1, 7), date(2025, 1, 8)  # the harness clock says 2025-01-08 10:00
NEW_ITEMS = "2025-11-28"  # 43 papers: the list that appears for 2025-01-08
ALERT_DAY = "2025-03-11"  # 55 papers
RISING_THRESHOLD = 10  # upvotes: about half the papers of SEED_DAY
FAILING_RUN_REQUESTS = 2 * 2  # yesterday and today, the API then the page, no retries


def new_items() -> list[dict[str, Any]]:
    return copy.deepcopy(seed_items()[NEW_ITEMS])


def reports(h: Harness) -> list[str]:
    """What the bot told the server's health channel (#vision)."""
    return [m.content for m in h.discord.messages_in("vision")]


async def backfilled(h: Harness) -> None:
    """Wait for the start-up scrape, and send health reports to #vision."""
    await h.backfill_done()
    await h.store.set_health_channel(int(h.discord.guild_id), int(h.discord.channel_id("vision")))


async def assert_stored_as_served(h: Harness, day: date, items: list[dict[str, Any]]) -> None:
    """The list for `day` holds exactly what HF served for it, in HF's order."""
    served = parse_items(items, "served")
    stored = [listing.paper for listing in await h.store.day_listing(day)]
    assert [(p.id, p.title, p.abstract, p.upvotes, p.authors) for p in stored] == [
        (p.id, p.title, p.abstract, p.upvotes, p.authors) for p in served
    ]


# ------------------------------------------------------------------------- Hugging Face


@dataclass(frozen=True)
class HFFault:
    """A Hugging Face fault that lasts until `end`; the report `shows` a generic line, the log
    `says` the details."""

    name: str
    begin: Callable[[FakeHF, int], None]  # the int: how many requests it must fail
    end: Callable[[FakeHF], None]
    says: str
    shows: str = "Hugging Face is unreachable"


def _variants(api: str, page: str) -> Callable[[FakeHF, int], None]:
    def begin(hf: FakeHF, _requests: int) -> None:
        hf.api_variant, hf.html_variant = api, page  # type: ignore[assignment]

    return begin


def _normal(hf: FakeHF) -> None:
    hf.api_variant, hf.html_variant = "normal", "normal"


HF_FAULTS = [
    HFFault(
        "429",
        lambda hf, n: hf.inject_rate_limit("/", reset=60, count=n),
        _normal,
        "HTTP 429 from /api/daily_papers",
    ),
    HFFault("500", lambda hf, n: hf.inject("/", 500, count=n), _normal, "HTTP 500 from /papers"),
    HFFault("timeout", lambda hf, n: hf.inject_delay("/", 5, count=n), _normal, "TimeoutError"),
    HFFault(
        "changed JSON and page",
        _variants("wrong_shape", "changed"),
        _normal,
        "the page layout changed",
        "Hugging Face returned unexpected data",
    ),
    HFFault(
        "JSON without ids, changed page",
        _variants("missing_keys", "changed"),
        _normal,
        "missing or non-string 'id'",
        "Hugging Face returned unexpected data",
    ),
]


@pytest.mark.parametrize("fault", HF_FAULTS, ids=lambda f: f.name)
async def test_a_failing_hugging_face_stores_nothing_is_reported_and_recovers(
    tmp_path: Path, fault: HFFault, caplog: pytest.LogCaptureFixture
) -> None:
    hf_config = {"max_retries": 0, "timeout_seconds": 0.3}
    async with running_bot(tmp_path, huggingface=hf_config) as h:
        await backfilled(h)
        before = await snapshot(h.store)
        h.hf.set_day(JAN8.isoformat(), new_items())  # a new list appears during the outage
        requests = len(h.hf.requests)
        fault.begin(h.hf, 2 * FAILING_RUN_REQUESTS)
        await h.bot.scrape_job()
        assert h.bot.health.active() == []  # one failed run is not a problem yet
        await h.bot.scrape_job()  # the scheduled job body: it never raises
        assert len(h.hf.requests) - requests == 2 * FAILING_RUN_REQUESTS
        assert h.bot.last_scrape is not None and not h.bot.last_scrape.ok
        assert await snapshot(h.store) == before  # nothing new, nothing changed or lost
        await h.discord.wait_for(lambda: reports(h), 10, "the problem report")
        (problem,) = reports(h)
        assert problem.startswith("⚠️ **Problem:** Scraping Hugging Face fails (2 runs in a row)")
        assert fault.shows in problem and fault.says not in problem
        assert fault.says in caplog.text  # the details are for the operator's log

        fault.end(h.hf)
        await h.bot.scrape_job()
        await h.discord.wait_for(lambda: len(reports(h)) == 2, 10, "the recovery report")
        assert reports(h)[1].startswith("✅ **Resolved**")
        assert h.bot.health.active() == []
        await assert_stored_as_served(h, JAN8, h.hf.days[JAN8.isoformat()])
        after = await snapshot(h.store)
        assert {day: v for day, v in after.items() if day != JAN8} == before


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"RateLimit": '"api";r=0;t=7', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}, 8),
        ({"Retry-After": "3"}, 3),
    ],
    ids=["RateLimit", "Retry-After"],
)
async def test_a_rate_limited_scrape_waits_as_told_and_stores_the_list(
    tmp_path: Path, headers: dict[str, str], wait: float
) -> None:
    async with running_bot(tmp_path, huggingface={"max_retries": 1}) as h:
        await backfilled(h)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        h.bot.scraper.source = HFSource(h.session, h.config.huggingface, sleep=sleep)
        h.hf.set_day(JAN8.isoformat(), new_items())
        h.hf.inject("/api/daily_papers", 429, headers=headers, body="slow down")
        await h.bot.scrape_job()
        assert waits == [wait]
        assert h.bot.last_scrape is not None and h.bot.last_scrape.ok
        await assert_stored_as_served(h, JAN8, h.hf.days[JAN8.isoformat()])
        assert h.bot.health.active() == [] and reports(h) == []


@pytest.mark.parametrize("how", ["redirect", "canonical date"])
async def test_a_page_of_another_date_is_never_filed_under_the_requested_one(
    tmp_path: Path, how: str
) -> None:
    async with running_bot(tmp_path) as h:
        await backfilled(h)
        before = await snapshot(h.store)
        h.hf.set_day(JAN8.isoformat(), new_items())
        h.hf.api_variant = "wrong_shape"  # so the page is read
        if how == "redirect":
            h.hf.redirect_html(JAN8.isoformat(), SEED_DAY)
        else:
            h.hf.served_date_override[JAN8.isoformat()] = SEED_DAY
        await h.bot.scrape_job()
        await h.bot.scrape_job()
        assert await snapshot(h.store) == before  # 2025-01-07's papers stay 2025-01-07's
        # HF shows another date while it has no list for this one yet: normal, not a problem.
        assert h.bot.health.active() == []
        h.hf.api_variant = "normal"
        await h.bot.scrape_job()
        await assert_stored_as_served(h, JAN8, h.hf.days[JAN8.isoformat()])
        assert (await snapshot(h.store))[JAN7] == before[JAN7]
        assert reports(h) == []


@pytest.mark.parametrize("variant", ["wrong_shape", "missing_keys"])
async def test_changed_api_json_falls_back_to_the_page_and_stores_the_same_list(
    tmp_path: Path, variant: str
) -> None:
    async with running_bot(tmp_path) as h:
        await backfilled(h)
        h.hf.set_day(JAN8.isoformat(), new_items())
        h.hf.api_variant = variant  # type: ignore[assignment]
        await h.bot.scrape_job()
        assert h.hf.requests_to(f"/papers/date/{JAN8}")
        assert h.bot.last_scrape is not None and h.bot.last_scrape.ok
        await assert_stored_as_served(h, JAN8, h.hf.days[JAN8.isoformat()])
        assert h.bot.health.active() == [] and reports(h) == []


# ------------------------------------------------------------------------- Discord


def engine_of(h: Harness) -> Any:
    """The digest engine (cogs are loaded as fresh modules: no isinstance, no import)."""
    return cast(Any, h.bot.get_cog("Digest")).engine


@asynccontextmanager
async def harness_with_due_digest(tmp_path: Path) -> AsyncIterator[tuple[Harness, Any, int]]:
    """The bot with #papers subscribed (top 25: 3 messages) and its 09:00 digest due."""
    async with running_bot(tmp_path) as h:
        await backfilled(h)
        channel = int(h.discord.channel_id("papers"))
        guild = int(h.discord.guild_id)
        await h.store.save_subscription(Subscription(channel, guild, "09:00", "UTC", 25))
        h.clock.now = datetime(2025, 1, 9, 9, 0, tzinfo=UTC)
        yield h, engine_of(h), channel


async def assert_posted_once(h: Harness, channel: int) -> None:
    """Every planned part of the 2025-01-07 digest is in the channel exactly once, in order."""
    delivery = await h.store.get_delivery(channel, JAN7)
    assert delivery is not None and delivery.state == "sent" and len(delivery.parts) == 3
    got = h.discord.messages_in(channel)
    assert [m.nonce for m in got] == [p.nonce for p in delivery.parts]
    assert [int(m.id) for m in got] == [p.message_id for p in delivery.parts]


async def test_a_5xx_after_discord_posted_the_message_is_retried_without_a_repeat(
    tmp_path: Path,
) -> None:
    async with harness_with_due_digest(tmp_path) as (h, engine, channel):
        rest = RestFaults(h.discord)
        # Discord created part 1, but its edge answered 502: discord.py retries it (after 1 s).
        rest.fail(f"POST /channels/{channel}/messages", 502, skip=1, after_handling=True)
        (outcome,) = await engine.run_due()
        assert rest.injected == [f"POST /channels/{channel}/messages -> 502"]
        assert outcome.state == "sent"
        await assert_posted_once(h, channel)


@pytest.mark.parametrize("status", [503, 429], ids=["503", "429 without Via (Cloudflare)"])
async def test_a_digest_cut_short_by_discord_resumes_where_it_stopped(
    tmp_path: Path, status: int
) -> None:
    async with harness_with_due_digest(tmp_path) as (h, engine, channel):
        rest = RestFaults(h.discord)
        # discord.py gives up on these at once; the delivery stays half sent in the store.
        rest.fail(f"POST /channels/{channel}/messages", status, skip=1)
        (first,) = await engine.run_due()
        assert first.state == "pending" and len(h.discord.messages_in(channel)) == 1
        (retried,) = await engine.run_due()  # the digest:retry job's body
        assert retried.state == "sent"
        await assert_posted_once(h, channel)


@pytest.mark.parametrize("global_", [False, True], ids=["route", "global"])
async def test_a_429_during_a_digest_is_waited_out_and_posted_once(
    tmp_path: Path, global_: bool
) -> None:
    async with harness_with_due_digest(tmp_path) as (h, engine, channel):
        h.discord.force_429(
            f"POST /channels/{channel}/messages", count=2, retry_after=0.2, global_=global_
        )
        (outcome,) = await engine.run_due()
        assert outcome.state == "sent" and len(h.discord.rate_limited) == 2
        await assert_posted_once(h, channel)


async def run_job_now(h: Harness, job_id: str) -> None:
    """Make a scheduled job due now and wait until the scheduler has run it, successfully."""
    scheduler = h.bot.scheduler
    assert scheduler is not None
    ran: asyncio.Future[JobExecutionEvent] = asyncio.get_running_loop().create_future()

    def listener(event: JobExecutionEvent) -> None:
        if event.job_id == job_id and not ran.done():
            ran.set_result(event)

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
        event = await asyncio.wait_for(ran, 10)
    finally:
        scheduler.remove_listener(listener)
    assert event.exception is None, event.traceback


@pytest.mark.parametrize("resumable", [True, False], ids=["resumed", "re-identified"])
async def test_after_the_gateway_drops_the_bot_is_back_with_its_schedules(
    tmp_path: Path, resumable: bool
) -> None:
    async with running_bot(tmp_path) as h:
        await backfilled(h)
        inter = await h.discord.invoke(
            "digest set", {"channel": "papers", "top": 25}, user=h.discord.admin
        )
        assert (await inter.response()).content.startswith("Saved.")
        assert h.bot.scheduler is not None
        jobs = {job.id for job in h.bot.scheduler.get_jobs()}
        assert {"scrape", "heartbeat", "digest:retry", "alerts:retry"} <= jobs

        await h.discord.drop_gateway(4000, resumable=resumable)
        if resumable:
            await h.discord.wait_for(lambda: h.discord.resumes, 10, "a RESUME")
            assert len(h.discord.identify_payloads) == 1
        else:  # the fake refuses the RESUME (op 9): the bot must identify afresh
            await h.discord.wait_for(
                lambda: len(h.discord.identify_payloads) == 2, 10, "a new IDENTIFY"
            )

        assert h.bot.scheduler.running
        assert {job.id for job in h.bot.scheduler.get_jobs()} == jobs
        # The digest's own job still fires and posts (made due now, by both clocks).
        channel = int(h.discord.channel_id("papers"))
        h.clock.now = datetime(2025, 1, 9, 9, 0, tzinfo=UTC)
        saved = await h.store.get_subscription(channel)
        assert saved is not None
        await run_job_now(h, slot_job_id(saved.post_time, saved.timezone))
        await assert_posted_once(h, channel)
        scrapes = len(h.hf.requests)
        await run_job_now(h, "scrape")
        assert len(h.hf.requests) > scrapes
        status = await h.discord.invoke("status", {}, user=h.discord.admin)
        assert (await status.response()).embeds


async def test_a_401_during_a_digest_leaves_it_to_post_once_the_token_works(
    tmp_path: Path,
) -> None:
    async with harness_with_due_digest(tmp_path) as (h, engine, channel):
        rest = RestFaults(h.discord)
        rest.fail(f"POST /channels/{channel}/messages", 401)  # the token was reset meanwhile
        await engine.run_due()
        assert h.discord.messages_in(channel) == []
        await h.restart()  # the operator put the new token in and restarted
        await engine_of(h).run_due()
        await assert_posted_once(h, channel)


# ------------------------------------------------------------------------- the store


async def still_waiting(task: asyncio.Task[Any], seconds: float = 0.5) -> bool:
    """True if the task has not finished after `seconds` (it is held up, not failed)."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return not done


@pytest.mark.parametrize("mode", ["IMMEDIATE", "EXCLUSIVE"])
async def test_a_store_locked_by_another_process_delays_a_scrape_and_loses_nothing(
    tmp_path: Path, mode: str
) -> None:
    async with running_bot(tmp_path) as h:
        await backfilled(h)
        h.hf.set_day(JAN8.isoformat(), new_items())
        fetched = len(h.hf.requests)
        async with WriteLock(Path(h.config.store.path), mode) as lock:
            scrape = asyncio.create_task(h.bot.scrape_job())
            await h.discord.wait_for(lambda: len(h.hf.requests) > fetched, 10, "the fetch")
            assert await still_waiting(scrape)
            await lock.release()
            await asyncio.wait_for(scrape, 30)
        assert h.bot.last_scrape is not None and h.bot.last_scrape.ok
        await assert_stored_as_served(h, JAN8, h.hf.days[JAN8.isoformat()])
        assert await h.store.get_meta("lock-holder") == "was here"  # its write is kept too
        assert h.bot.health.active() == []


async def test_a_store_locked_by_another_process_delays_a_digest_which_then_posts_once(
    tmp_path: Path,
) -> None:
    async with harness_with_due_digest(tmp_path) as (h, engine, channel):
        async with WriteLock(Path(h.config.store.path)) as lock:
            run = asyncio.create_task(engine.run_due())
            assert await still_waiting(run)
            assert h.discord.messages_in(channel) == []  # nothing goes out unplanned
            await lock.release()
            (outcome,) = await asyncio.wait_for(run, 30)
        assert outcome.state == "sent"
        await assert_posted_once(h, channel)
        assert await h.store.get_meta("lock-holder") == "was here"


# ------------------------------------------------------------------------- the process


def real_days() -> tuple[date, datetime]:
    """Yesterday (UTC, by the real clock: the process has no injected clock) and two days ago."""
    now = datetime.now(UTC)
    return (now - timedelta(days=1)).date(), now - timedelta(days=2)


def posts(discord: FakeDiscord) -> int:
    """Message POSTs the fake received, resends it deduplicated by nonce included."""
    return sum(1 for r in discord.requests if r.method == "POST" and r.path.endswith("/messages"))


@dataclass
class FanOut:
    discord: FakeDiscord
    bot: BotProcess
    db: Path | str  # a SQLite file or a PostgreSQL URL
    day: date
    guild: str
    channels: list[int]

    def posted(self) -> list[RecordedMessage]:
        return [m for m in self.discord.messages if m.guild_id == self.guild]

    async def wait_delivered(self, count: int, timeout: float) -> None:
        """Wait until `count` digests are recorded as sent in the store."""
        sql = "SELECT count(*) FROM digest_deliveries WHERE state = 'sent'"
        await wait_count(self.db, sql, count, timeout)


async def read_count(db: Path | str, sql: str) -> int:
    """A count read straight from the store (a SQLite file or a PostgreSQL URL) while the
    bot process runs."""
    if isinstance(db, Path):
        return count_rows(db, sql)
    connection = await asyncpg.connect(db)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


async def wait_count(db: Path | str, sql: str, count: int, timeout: float) -> None:
    """Poll the store until `sql` counts `count`."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                if await read_count(db, sql) == count:
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        got = await read_count(db, sql)
        raise TimeoutError(f"{sql}: {got}, waited for {count}") from None


@asynccontextmanager
async def process_with_due_digests(
    tmp_path: Path, channels: int, backend: str = "sqlite"
) -> AsyncIterator[FanOut]:
    """A store where `channels` channels' digests (3 messages each) are due, and the real
    process ready to start: yesterday's list is complete at midnight (complete_after_hours
    0) and every channel's 00:00 post time has passed, so the start-up catch-up posts them."""
    yesterday, long_ago = real_days()
    items = copy.deepcopy(seed_items()[SEED_DAY])
    async with (
        FakeDiscord() as discord,
        FakeHF.serving(yesterday.isoformat(), items) as hf,
        store_location(tmp_path, backend) as db,
    ):
        guild = discord.add_guild("Fan-out")
        ids = [int(discord.add_text_channel(guild, f"digest-{n:02d}")) for n in range(channels)]
        async with open_store(db, clock=lambda: long_ago) as store:
            await store.ingest_day(yesterday, parse_items(items, "seed"))
            for channel in ids:
                await store.save_subscription(Subscription(channel, int(guild), "00:00", "UTC", 25))
        config = write_config(
            tmp_path / "config.toml", discord, hf, db, digest={"complete_after_hours": 0}
        )
        async with BotProcess(config, tmp_path / "bot.log", discord.token) as bot:
            yield FanOut(discord, bot, db, yesterday, guild, ids)
        discord.assert_clean()


async def assert_each_channel_has_its_digest_once(run: FanOut) -> None:
    """Every planned part in its channel exactly once, in order, as recorded; store intact."""
    async with open_store(run.db) as store:
        assert await store.integrity_check() == []
        for channel in run.channels:
            delivery = await store.get_delivery(channel, run.day)
            assert delivery is not None and delivery.state == "sent", channel
            got = [m for m in run.posted() if m.channel_id == str(channel)]
            assert len(delivery.parts) == 3
            assert [m.nonce for m in got] == [p.nonce for p in delivery.parts], channel
            assert [int(m.id) for m in got] == [p.message_id for p in delivery.parts], channel


@pytest.mark.slow
async def test_kill_9_during_a_digest_fan_out_never_repeats_or_drops_a_message(
    tmp_path: Path, store_backend: str
) -> None:
    async with process_with_due_digests(tmp_path, 50, store_backend) as run:
        at_kill = await kill_repeatedly(
            run.bot,
            run.discord,
            lambda: len(run.posted()),
            kills=KILLS,
            most_per_run=6,
            rng=random.Random(7),
        )
        assert at_kill[-1] < 150, "the kills came too late to hit the fan-out"
        await run.bot.start()
        await run.wait_delivered(50, 30)
        assert await run.bot.stop() == 0, run.bot.tail()
        assert posts(run.discord) > 150, "no kill fell between a send and its record"
        await assert_each_channel_has_its_digest_once(run)


@pytest.mark.slow
async def test_kill_9_during_rising_posts_never_repeats_or_drops_a_post(tmp_path: Path) -> None:
    yesterday, long_ago = real_days()
    items = copy.deepcopy(seed_items()[SEED_DAY])
    papers = parse_items(items, "seed")
    rising = {p.id for p in papers if p.upvotes >= RISING_THRESHOLD}
    db = tmp_path / "paperboy.db"
    async with FakeDiscord() as discord, FakeHF.serving(yesterday.isoformat(), items) as hf:
        guild = discord.add_guild("Rising")
        ids = [int(discord.add_text_channel(guild, f"rising-{n}")) for n in range(4)]
        async with SQLiteStore(db, clock=lambda: long_ago) as store:
            await store.ingest_day(yesterday, papers)
            for channel in ids:  # saved, not set up: every paper at the threshold is due
                await store.save_rising(RisingChannel(channel, int(guild), RISING_THRESHOLD))
        config = write_config(tmp_path / "config.toml", discord, hf, db)

        def posted() -> list[RecordedMessage]:
            return [m for m in discord.messages if m.guild_id == guild]

        async with BotProcess(config, tmp_path / "bot.log", discord.token) as bot:
            at_kill = await kill_repeatedly(
                bot,
                discord,
                lambda: len(posted()),
                kills=KILLS,
                most_per_run=3,
                rng=random.Random(5),
            )
            wanted = len(ids) * len(rising)
            assert at_kill[-1] < wanted, "the kills came too late to hit the posts"
            await bot.start()
            sent = "SELECT count(*) FROM rising_posts WHERE state = 'sent'"
            await discord.wait_for(lambda: count_rows(db, sent) == wanted, 30, "every post sent")
            assert await bot.stop() == 0, bot.tail()
        assert posts(discord) > len(posted()), "no kill fell between a send and its record"
        discord.assert_clean()
    for channel in ids:
        got = [m for m in posted() if m.channel_id == str(channel)]
        papers_got = Counter(m.embeds[0]["url"].rsplit("/", 1)[-1] for m in got)
        assert papers_got == Counter(rising), channel  # each paper once, none left out
        assert {m.nonce for m in got} == {rising_nonce(channel, p) for p in rising}


@pytest.mark.slow
async def test_sigterm_during_a_fan_out_lets_started_digests_finish(
    tmp_path: Path, store_backend: str
) -> None:
    async with process_with_due_digests(tmp_path, 20, store_backend) as run:
        await run.bot.start()
        await run.discord.wait_for(lambda: len(run.posted()) >= 10, 20, "the fan-out to start")
        assert await run.bot.stop() == 0, run.bot.tail()
        async with open_store(run.db) as store:
            for channel in run.channels:  # none left half sent, to be resent after a restart
                delivery = await store.get_delivery(channel, run.day)
                sent = [p for p in delivery.parts if p.message_id] if delivery else []
                assert delivery is None or delivery.state == "sent" or not sent, channel
        assert "Traceback" not in run.bot.log.read_text(), run.bot.tail()


@pytest.mark.slow
async def test_a_token_revoked_while_running_exits_with_one_line(tmp_path: Path) -> None:
    async with process_with_due_digests(tmp_path, 0) as run:
        await run.bot.start()
        await run.discord.wait_for(
            lambda: "scrape done" in run.bot.log.read_text(), 20, "the bot to settle"
        )
        revoke_token(run.discord)
        await run.discord.drop_gateway(4004, resumable=False)  # "Authentication failed"
        status = await run.bot.wait(20)
        log = run.bot.log.read_text()
        assert status == 1, log
        assert "Traceback" not in log, log
        assert log.strip().splitlines()[-1].startswith("paperboy: Discord rejected the token")


def few_match_words(papers: list[Paper], most: int) -> list[str]:
    """Title words that match between 1 and `most` of the papers: alert queries of known reach."""
    found: set[str] = set()
    for paper in papers:
        found.update(w for w in plain_words(paper.title) if len(w) >= 5)
    return [
        w for w in sorted(found) if 1 <= sum(matches(parse_query(w), p) for p in papers) <= most
    ]


@pytest.mark.slow
async def test_kill_9_during_alert_delivery_never_repeats_or_drops_a_match(
    tmp_path: Path, store_backend: str
) -> None:
    yesterday, long_ago = real_days()
    items = copy.deepcopy(seed_items()[ALERT_DAY])  # the new day, on HF only
    papers = parse_items(items, "seed")
    words = few_match_words(papers, 3)
    async with (
        FakeDiscord() as discord,
        FakeHF.serving(yesterday.isoformat(), items) as hf,
        store_location(tmp_path, store_backend) as db,
    ):
        readers = [discord.add_member(discord.guild_id, f"reader{n:02d}") for n in range(80)]
        wanted: dict[str, set[str]] = {}
        async with open_store(db, clock=lambda: long_ago) as store:
            old = parse_items(seed_items()[SEED_DAY], "seed")  # matched long ago
            await store.ingest_day(long_ago.date(), old)
            await store.queue_alert_matches([p.id for p in old], [])
            for n, reader in enumerate(readers):
                queries = [words[n % len(words)]]
                if n % 3 == 0:
                    queries.append(words[(7 * n + 3) % len(words)])
                if n % 10 == 9:
                    queries.append("zzyzx")  # matches nothing
                for query in queries:
                    await store.add_alert(int(reader.id), query)
                wanted[reader.id] = {
                    p.id for p in papers if any(matches(parse_query(q), p) for q in queries)
                }
        pairs = sum(len(ids) for ids in wanted.values())
        # Three days back, so the new list is fetched even if the test runs across midnight.
        config = write_config(
            tmp_path / "config.toml", discord, hf, db, huggingface={"backfill_days": 3}
        )

        def dms() -> int:
            return sum(1 for m in discord.messages if m.guild_id is None)

        async with BotProcess(config, tmp_path / "bot.log", discord.token) as bot:
            at_kill = await kill_repeatedly(
                bot, discord, dms, kills=KILLS, most_per_run=3, rng=random.Random(11)
            )
            assert at_kill[-1] < len(readers), "the kills came too late to hit the delivery"
            await bot.start()
            sent = "SELECT count(*) FROM alert_outbox WHERE state = 'sent'"
            await wait_count(db, sent, pairs, 30)
            assert await bot.stop() == 0, bot.tail()
        assert posts(discord) > dms(), "no kill fell between a send and its record"
        discord.assert_clean()

        async with open_store(db) as store:
            assert await store.integrity_check() == []
    for reader in readers:
        got: Counter[str] = Counter()
        for message in discord.dms_to(reader):
            ids = re.findall(r"huggingface\.co/papers/(\d{4}\.\d{4,5})", message.text)
            assert message.embeds[0]["title"].startswith(f"{len(ids)} new paper")
            got.update(ids)
        assert got == Counter(wanted[reader.id]), reader.name

"""The Discord bot: services arrive as constructor arguments; extensions plug into it."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from discord.ext import commands

from bot.cluster import Member
from bot.config import SHUTDOWN_GRACE_SECONDS, Config
from bot.health import Change, Health, Problem
from bot.hf.source import HFSource
from bot.leases import Leases
from bot.lookups import PaperLookups
from bot.ratelimit import Pacer
from bot.refresh import RefreshJob
from bot.scraper import ScrapeJob, Scraper, ScrapeReport
from bot.shards import identify_bucket
from bot.store import Store
from bot.tree import PaperboyTree

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SYNC_HASH_KEY = "command_sync_hash"
SCRAPE_JOB_ID = "scrape"
REFRESH_JOB_ID = "refresh"
# Discord allows a bot 50 requests/s. At 47/s the pacer lets at most 48 requests go in any
# second (its grid, plus one a late wake-up catches up); the requests of one second would
# have to reach Discord over 40 ms closer together than they left before a second held 51:
# the margin for network jitter and the odd unpaced request.
BULK_SENDS_PER_SECOND = 47.0
HEARTBEAT_SECONDS = 60
REFRESH_WINDOW = timedelta(minutes=15)  # one list is re-scraped before posting once per this
HEARTBEAT_KEY = "heartbeat"


def heartbeat_key() -> str:
    """The heartbeat of the bot on this host: a container's health check asks about its own
    process, not whichever process sharing the store beat last."""
    return f"{HEARTBEAT_KEY}:{socket.gethostname()}"


WELCOMED_KEY = "first_start_logged"  # meta: the first-start hint has been logged
# Added to Discord's identify interval: the IDENTIFY leaves a moment after its turn is given,
# and another process's may leave sooner after its own.
IDENTIFY_MARGIN_SECONDS = 0.25
SCOPES = ("bot", "applications.commands")


def needed_permissions() -> discord.Permissions:
    """Exactly what the features need: read and post in channels, embeds, digest threads."""
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        embed_links=True,
    )


def invite_link(application_id: int) -> str:
    """The OAuth2 link that adds the bot with exactly its scopes and permissions."""
    return discord.utils.oauth_url(application_id, permissions=needed_permissions(), scopes=SCOPES)


def intents() -> discord.Intents:
    """Only what the features need: guilds (channels, roles, the bot's own permissions)."""
    return discord.Intents(guilds=True)


class Paperboy(commands.Bot):
    """paperboy's Discord client; `extensions` are the module names of its features."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        source: HFSource,
        clock: Clock | None = None,
        extensions: Sequence[str] = (),
        run_jobs: bool = True,
        **options: object,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=PaperboyTree,
            **options,  # type: ignore[arg-type]
        )
        self.config = config
        self.store = store
        self.sharding = config.discord.shards  # which servers this process owns
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.health = Health()
        self.scraper = Scraper(source, store, self.clock)
        hf = config.huggingface
        self.lookups = PaperLookups(
            source, store, per_minute=hf.lookups_per_minute, burst=hf.lookup_burst, clock=self.clock
        )
        self.scrape = ScrapeJob(
            self.scraper,
            backfill_days=config.huggingface.backfill_days,
            report_health=self.report_health,
        )
        self.refresh = RefreshJob(
            source,
            store,
            days=hf.refresh_days,
            clock=self.clock,
            report_health=self.report_health,
        )
        self.scheduler: AsyncIOScheduler | None = None
        # Bulk sends (digest fan-out, alert DMs) stay under Discord's 50 requests/s: each
        # process paces at its share, BULK_SENDS_PER_SECOND / live processes (bot/cluster.py).
        self.pacer = Pacer(BULK_SENDS_PER_SECOND)
        self.member = Member(
            store,
            shard_count=self.shard_count,
            shard_ids=getattr(self, "shard_ids", None) or (),
            heartbeat_seconds=config.cluster.heartbeat_seconds,
            pacer=self.pacer,
            bulk_rate=BULK_SENDS_PER_SECOND,
        )
        self.leases = Leases(store, self.member.id, seconds=config.cluster.lease_seconds)
        self._health_writes = asyncio.Lock()  # health changes reach the store in order
        self._stored_problems: set[str] = set()  # keys of problems some process reported
        self._tasks: set[asyncio.Task[None]] = set()
        self._dynamic_items: dict[type[discord.ui.DynamicItem[Any]], None] = {}  # in order
        self.failed_extensions: dict[str, str] = {}
        self._extensions = list(extensions)
        self._run_jobs = run_jobs
        self._start_up_jobs = 0  # catch-up jobs still to run before the process settles

    async def setup_hook(self) -> None:
        """Create the scheduler, load cogs (they add their jobs), sync if changed, start jobs."""
        self.scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        for name in self._extensions:
            try:
                await self.load_extension(name)
            except Exception as e:
                log.exception("could not load %s; the other cogs still start", name)
                self.failed_extensions[name] = f"{type(e).__name__}: {e}"
        if self._run_jobs:
            # Refused (ClusterConfigError) if a live process disagrees on shard_count.
            await self.member.join()
            self.member.on_change(self._lead_changed)
            if self.member.leading:
                await self.sync_commands(force=False)
            await self._first_start_hint()
            await self._read_stored_problems()
            self.scheduler.add_job(
                self._leader_only(self.scrape.run),
                IntervalTrigger(seconds=self.config.huggingface.poll_seconds, timezone=UTC),
                id=SCRAPE_JOB_ID,
                name="scrape Hugging Face",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(30, int(self.config.huggingface.poll_seconds)),
                next_run_time=datetime.now(UTC),
            )
            refresh_seconds = self.config.huggingface.refresh_minutes * 60
            self.scheduler.add_job(
                self._leader_only(self.refresh.run),
                IntervalTrigger(seconds=refresh_seconds, timezone=UTC),
                id=REFRESH_JOB_ID,
                name="refresh recent papers",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(30, int(refresh_seconds)),
            )
            self.scheduler.add_job(
                self.heartbeat,
                IntervalTrigger(seconds=HEARTBEAT_SECONDS, timezone=UTC),
                id="heartbeat",
                name="heartbeat",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )
            self.scheduler.start()
            self.member.start()

    # -- leadership -----------------------------------------------------------------------

    def _leader_only(self, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        """`job`, run only while this process leads (as of the last heartbeat, a few
        seconds at most: a lost lead stops these jobs from the next beat on, and what they
        send is fenced by leases either way)."""

        async def gated() -> None:
            if self.member.leading:
                await job()

        gated.__name__ = getattr(job, "__name__", "job")
        return gated

    async def _lead_changed(self, leading: bool) -> None:
        """On gaining the lead: scrape now, sync commands if changed, and tell the features
        (the alerts resume from their outbox). On losing it the leader-only jobs simply find
        they do not lead when next due."""
        if leading and self.scheduler is not None and self.scheduler.running:
            job = self.scheduler.get_job(SCRAPE_JOB_ID)
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))
            self._spawn(self._sync_as_leader())
        self.dispatch("lead_change", leading)

    async def _sync_as_leader(self) -> None:
        try:
            await self.sync_commands(force=False)
        except Exception:
            log.exception("command sync after taking the lead failed")

    def add_dynamic_items(self, *items: type[discord.ui.DynamicItem[Any]]) -> None:
        """Register controls that answer on any message (discord.py), kept to register again
        (keep_dynamic_items)."""
        super().add_dynamic_items(*items)
        self._dynamic_items.update(dict.fromkeys(items))

    def remove_dynamic_items(self, *items: type[discord.ui.DynamicItem[Any]]) -> None:
        super().remove_dynamic_items(*items)
        for item in items:
            self._dynamic_items.pop(item, None)

    def keep_dynamic_items(self) -> None:
        """Register the dynamic items again. discord.py forgets a dynamic item's pattern for the
        whole client when a view holding one ends (a timeout or stop: ViewStore.remove_view
        pops every dynamic pattern of the view, the key add_dynamic_items registered it
        under); from then on that control goes unanswered on every message until a restart.
        A view that holds dynamic items and ends calls this."""
        if self._dynamic_items:
            super().add_dynamic_items(*self._dynamic_items)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh_list(self, day: date) -> bool:
        """Re-scrape a list shortly before its digests are posted, once for all processes:
        the process that takes the list's refresh lease (kept for REFRESH_WINDOW) scrapes,
        the others post the stored counts it refreshes (True: nothing failed here)."""
        fence = await self.store.claim_lease(
            f"refresh:{day.isoformat()}", self.member.id, REFRESH_WINDOW.total_seconds()
        )
        if fence is None:
            return True
        return await self.scraper.refresh(day)

    async def _first_start_hint(self) -> None:
        """Once, on the first start that reached Discord with no digest anywhere yet: say
        what to do next, so a new operator is not left with a quiet log."""
        if await self.store.get_meta(WELCOMED_KEY) is not None:
            return
        if not await self.store.subscriptions() and self.application_id is not None:
            log.info(
                "first start: invite the bot with %s, then run /digest set in a channel",
                invite_link(self.application_id),
            )
        await self.store.set_meta(WELCOMED_KEY, datetime.now(UTC).isoformat())

    # -- command sync ---------------------------------------------------------------------

    def _sync_guild(self) -> discord.Object | None:
        guild_id = self.config.discord.dev_guild_id
        return discord.Object(id=guild_id) if guild_id else None

    def command_hash(self) -> str:
        """A fingerprint of the command tree as it would be synced, and where to."""
        guild = self._sync_guild()
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = [c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)]
        scope = f"guild:{guild.id}" if guild else "global"
        blob = json.dumps([scope, sorted(payload, key=lambda c: c["name"])], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def sync_commands(self, *, force: bool) -> bool:
        """Sync the tree when it changed since the last sync (or always, if forced)."""
        digest = self.command_hash()
        if not force and await self.store.get_meta(SYNC_HASH_KEY) == digest:
            log.info("slash commands unchanged since the last sync; not syncing")
            return False
        guild = self._sync_guild()
        synced = await self.tree.sync(guild=guild)
        await self.store.set_meta(SYNC_HASH_KEY, digest)
        where = f"guild {guild.id}" if guild else "globally"
        log.info("synced %d slash commands %s", len(synced), where)
        return True

    # -- the scraper job ------------------------------------------------------------------

    async def scrape_job(self) -> None:
        """One scraper run now (the scheduled job's body); never raises."""
        await self.scrape.run()

    @property
    def last_scrape(self) -> ScrapeReport | None:
        """The last scraper run, for /status."""
        return self.scrape.last

    def schedule_catch_up(
        self,
        job: Callable[[], Awaitable[object]],
        key: str,
        name: str,
        every: timedelta,
        *,
        leader_only: bool = False,
    ) -> None:
        """Run `job` once at start (work missed while down, work cut short) and then every
        `every` (retries); the two ids are `{key}:catch-up` and `{key}:retry`. `leader_only`:
        only while this process leads."""
        if self.scheduler is None:
            return
        if leader_only:
            job = self._leader_only(job)
        self._start_up_jobs += 1

        async def catch_up() -> None:
            try:
                await job()
            finally:
                self._started_up()

        self.scheduler.add_job(
            catch_up,
            id=f"{key}:catch-up",
            name=f"{name} catch-up",
            replace_existing=True,
            misfire_grace_time=None,
        )
        self.scheduler.add_job(
            job,
            "interval",
            seconds=every.total_seconds(),
            id=f"{key}:retry",
            name=f"{name} retries",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )

    def _started_up(self) -> None:
        """After the last catch-up job (alert index built, missed work done): freeze what
        start-up made, so full collections stop walking long-lived objects (the alert index)."""
        self._start_up_jobs -= 1
        if self._start_up_jobs == 0:
            gc.freeze()
            log.info(
                "start-up work done; %d objects frozen for the collector", gc.get_freeze_count()
            )

    async def heartbeat(self) -> None:
        """Record that the bot is connected and its loop is running (for container health)."""
        if self.is_ready() and not self.is_closed():
            await self.store.set_meta(heartbeat_key(), datetime.now(UTC).isoformat())
        await self._read_stored_problems()

    async def _read_stored_problems(self) -> None:
        """Learn the problems other processes reported, so this one can clear them."""
        self._stored_problems = {p.key for p in await self.store.health_problems()}

    def report_health(self, key: str, problem: str | None, guild_id: int | None = None) -> None:
        """Set or clear a problem; tell listeners (health channels) only when that is news
        for the whole bot: the store keeps problems, so of several processes reporting one
        problem (or clearing it) only the first tells."""
        change = self.health.report(key, problem, now=self.clock(), guild_id=guild_id)
        if change is None and not (problem is None and key in self._stored_problems):
            return  # no news here, and nothing another process reported to clear
        self._spawn(self._record_health(key, problem, guild_id))

    async def _record_health(self, key: str, problem: str | None, guild_id: int | None) -> None:
        async with self._health_writes:
            try:
                if problem is not None:
                    since = self.clock()
                    if not await self.store.report_problem(key, problem, guild_id, since):
                        self._stored_problems.add(key)
                        return  # another process reported it already
                    self._stored_problems.add(key)
                    change = Change(Problem(key, problem, since, guild_id), started=True)
                else:
                    cleared = await self.store.clear_problem(key)
                    self._stored_problems.discard(key)
                    if cleared is None:
                        return  # another process cleared it already
                    problem_was = Problem(key, cleared.message, cleared.since, cleared.guild_id)
                    change = Change(problem_was, started=False)
            except Exception:
                log.exception("could not record a health change of %s", key)
                return
        log.log(
            logging.WARNING if change.started else logging.INFO,
            "health: %s %s",
            "problem" if change.started else "resolved",
            change.problem.message,
        )
        self.dispatch("health_change", change)

    async def active_problems(self, guild_id: int | None = None) -> list[Problem]:
        """Ongoing problems of every process that concern a server (global ones included)."""
        return [
            Problem(p.key, p.message, p.since, p.guild_id)
            for p in await self.store.health_problems()
            if p.guild_id in (None, guild_id)
        ]

    def next_runs(self) -> list[tuple[str, datetime | None]]:
        """Scheduled jobs and when each runs next, for /status (per-channel jobs summed up)."""
        if self.scheduler is None or not self.scheduler.running:
            return []
        runs: dict[str, datetime | None] = {}
        for job in self.scheduler.get_jobs():
            when = job.next_run_time
            if job.name not in runs or (when and (runs[job.name] is None or when < runs[job.name])):
                runs[job.name] = when
        return sorted(runs.items(), key=lambda item: item[1] or datetime.max.replace(tzinfo=UTC))

    async def close(self) -> None:
        """Start no new jobs, let work in flight finish briefly, disconnect, then stop jobs.

        Shutting the scheduler down first would cancel running jobs (apscheduler's asyncio
        executor cancels them), cutting a digest fan-out short between a send and its record.
        """
        scheduler = self.scheduler
        if scheduler is not None and scheduler.running:
            scheduler.pause()
        await self.scrape.drain(SHUTDOWN_GRACE_SECONDS)
        await self.refresh.drain(SHUTDOWN_GRACE_SECONDS)
        if self._run_jobs:
            # Before the connection closes (the store closes right after it): the lead is
            # given up at once, and another process takes it at its next try.
            await self.member.stop()
        await super().close()  # unloads the extensions, whose services drain their deliveries
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_GRACE_SECONDS)
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)


class ShardedPaperboy(Paperboy, commands.AutoShardedBot):
    """paperboy over its shard range (`[discord] shard_count` set): discord.py's
    AutoShardedBot, taking identify turns with every other process of the bot."""

    def __init__(self, *, config: Config, **options: object) -> None:
        shards = config.discord.shards
        super().__init__(
            config=config,
            shard_count=shards.count,
            shard_ids=list(shards.held),
            **options,  # type: ignore[arg-type]
        )
        self._max_concurrency: int | None = None
        self._launching: asyncio.Task[object] | None = None  # connect(), while shards launch
        self._launch_cut = False

    async def launch_shards(self) -> None:
        """discord.py's, remembered: a close while shards are still launching must end it."""
        self._launching = asyncio.current_task()
        try:
            await super().launch_shards()
        finally:
            self._launching = None

    async def connect(self, *, reconnect: bool = True) -> None:
        """discord.py's, except that a close while the shards launch returns (discord.py
        keeps retrying a shard's launch after close, every 5 s, so it would never return and
        SIGTERM would hang the process while a shard waits for its identify turn)."""
        try:
            await super().connect(reconnect=reconnect)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._launch_cut or task is None:
                raise
            task.uncancel()  # the cancel came from close(), below: a clean stop

    async def close(self) -> None:
        """Close as the unsharded bot does, then end a shard launch still under way."""
        await super().close()
        launching = self._launching
        if launching is not None and not launching.done():
            self._launch_cut = True
            launching.cancel()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait for this shard's identify bucket's turn, shared through the store with every
        process (discord.py's default only spaces this process's shards)."""
        bucket = identify_bucket(shard_id, await self.max_concurrency())
        interval = self.config.discord.identify_seconds + IDENTIFY_MARGIN_SECONDS
        await self.store.identify_turn(bucket, interval)
        log.info("identifying shard %s of %s (bucket %d)", shard_id, self.shard_count, bucket)

    async def max_concurrency(self) -> int:
        """How many identify buckets Discord gives the bot (GET /gateway/bot; 1 if unknown)."""
        if self._max_concurrency is None:
            try:
                limits = await self.fetch_session_start_limits()
            except (discord.HTTPException, aiohttp.ClientError, OSError) as e:
                log.warning("could not read the identify limits (%s); one bucket assumed", e)
                return 1
            self._max_concurrency = max(1, limits.max_concurrency)
        return self._max_concurrency


def bot_class(config: Config) -> type[Paperboy]:
    """The bot for this configuration: sharded when `[discord] shard_count` is set."""
    return ShardedPaperboy if config.discord.shards.sharded else Paperboy

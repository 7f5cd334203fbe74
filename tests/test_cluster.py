"""Several real `python -m bot run` processes sharing one PostgreSQL store, each holding some
shards, against the fake gateway speaking shards (identify concurrency checked).

Cost: about 2 minutes in all. Each test starts two or three bot processes (about a second
each to log in); the two kill tests restart the leader ten times each.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import random
import re
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.hf.parse import parse_items
from bot.matching import matches
from bot.models import Subscription
from bot.query import parse_query
from tests.conftest import seed_items
from tests.fakes.fake_discord import FakeDiscord, RecordedMessage, shard_of
from tests.fakes.fake_hf import FakeHF
from tests.support.faults import BotProcess, write_config
from tests.support.harness import open_store, store_location
from tests.support.process import paperboy
from tests.test_faults import ALERT_DAY, SEED_DAY, few_match_words, real_days, wait_count

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("pg_server")]

IDENTIFY = 0.3  # seconds between IDENTIFYs of one bucket: the bots' setting and the fake's rule
PARTS = 3  # a top-25 digest of SEED_DAY's 26 papers is 3 messages


@dataclass
class Cluster:
    """The fakes, the store and the processes (name -> process) of one test."""

    discord: FakeDiscord
    hf: FakeHF
    db: str
    bots: dict[str, BotProcess]
    shard_count: int
    guilds: list[str]
    channels: dict[str, int] = field(default_factory=dict)  # guild -> its digest channel
    day: date | None = None

    async def start(self, *names: str) -> None:
        """Start these processes (all: every one) together; they identify in turn."""
        await asyncio.gather(*(self.bots[n].start() for n in names or self.bots))

    async def ready(self, timeout: float = 30) -> None:
        """Wait until every shard holds a session and the commands are synced."""

        def up() -> bool:
            for bot in self.bots.values():
                assert bot.running or bot.proc is None, bot.tail()
            shards = [(s, self.shard_count) for s in range(self.shard_count)]
            return all(self.discord.sessions_of(s) for s in shards) and bool(self.discord.commands)

        await self.discord.wait_for(up, timeout, "a session on every shard")

    def holder(self, guild: str) -> BotProcess:
        """The process holding this server's shard (by what it logged when identifying)."""
        shard = shard_of(guild, self.shard_count)
        line = f"identifying shard {shard} of {self.shard_count} "
        (bot,) = [b for b in self.bots.values() if line in b.log.read_text()]
        return bot

    def digests(self) -> list[RecordedMessage]:
        return [m for m in self.discord.messages if m.channel_id in self.channel_ids]

    @property
    def channel_ids(self) -> set[str]:
        return {str(c) for c in self.channels.values()}

    async def wait_delivered(self, timeout: float) -> None:
        sql = "SELECT count(*) FROM digest_deliveries WHERE state = 'sent'"
        try:
            await wait_count(self.db, sql, len(self.channels), timeout)
        except TimeoutError as e:
            raise TimeoutError(f"{e}\n{self.warnings()}") from None

    def warnings(self) -> str:
        """Every process's warnings and errors (and the digest summaries), for a failure."""
        lines = []
        for name, bot in self.bots.items():
            for line in bot.log.read_text(encoding="utf-8", errors="replace").splitlines():
                marks = (" WARNING ", " ERROR ", "bot.leases", "bot.delivery.digests: digests:")
                if line.startswith("-----") or any(m in line for m in marks):
                    lines.append(f"{name}: {line[:300]}")
        return "\n".join(lines[-200:])

    async def stop(self) -> None:
        """SIGTERM every running process, once it is far enough to handle it (connecting);
        each exits with status 0."""

        def connecting(bot: BotProcess) -> bool:
            this_run = bot.log.read_text().rsplit("----- run", 1)[-1]
            return "identifying shard" in this_run or not bot.running

        running = [b for b in self.bots.values() if b.running]
        await self.discord.wait_for(lambda: all(map(connecting, running)), 30, "start-ups")
        for bot in running:
            assert await bot.stop() == 0, bot.tail()

    async def assert_each_digest_once(self) -> None:
        """Every planned part in its channel exactly once, in order, as recorded."""
        assert self.day is not None
        async with open_store(self.db) as store:
            for channel in self.channels.values():
                delivery = await store.get_delivery(channel, self.day)
                assert delivery is not None and delivery.state == "sent", channel
                got = [m for m in self.discord.messages if m.channel_id == str(channel)]
                assert len(delivery.parts) == PARTS
                assert [m.nonce for m in got] == [p.nonce for p in delivery.parts], channel
                assert [int(m.id) for m in got] == [p.message_id for p in delivery.parts]


@contextlib.asynccontextmanager
async def cluster(
    tmp_path: Path,
    shards: dict[str, str],
    *,
    shard_count: int,
    guilds: int,
    digests: bool = False,
    **sections: Any,
) -> AsyncIterator[Cluster]:
    """The fakes, a PostgreSQL store, `guilds` servers spread evenly over the shards, and one
    process per entry of `shards` (name -> $PAPERBOY_SHARD_IDS), not started. `digests`:
    every server has a #digest channel whose digest of yesterday's list is due at start."""
    yesterday, long_ago = real_days()
    items = copy.deepcopy(seed_items()[SEED_DAY])
    async with (
        FakeDiscord() as discord,
        FakeHF.serving(yesterday.isoformat(), items) as hf,
        store_location(tmp_path, "postgresql") as db,
    ):
        assert isinstance(db, str)
        discord.identify_window = IDENTIFY
        made = [
            discord.add_guild(f"server {n}", shard=(n % shard_count, shard_count))
            for n in range(guilds)
        ]
        c = Cluster(discord, hf, db, {}, shard_count, made)
        if digests:
            c.day = yesterday
            async with open_store(db, clock=lambda: long_ago) as store:
                await store.ingest_day(yesterday, parse_items(items, "seed"))
                for guild in made:
                    channel = int(discord.add_text_channel(guild, "digest"))
                    c.channels[guild] = channel
                    await store.save_subscription(
                        Subscription(channel, int(guild), "00:00", "UTC", 25)
                    )
            sections.setdefault("digest", {"complete_after_hours": 0})
        config = write_config(
            tmp_path / "config.toml",
            discord,
            hf,
            db,
            discord={"shard_count": shard_count, "identify_seconds": IDENTIFY},
            **sections,
        )
        c.bots = {
            name: BotProcess(
                config, tmp_path / f"{name}.log", discord.token, env={"PAPERBOY_SHARD_IDS": ids}
            )
            for name, ids in shards.items()
        }
        try:
            yield c
        finally:
            for bot in c.bots.values():
                if bot.running:
                    await bot.kill()
        discord.assert_clean()


async def ask_every_server(c: Cluster) -> None:
    """/search in every server: answered once, by the session (process) holding its shard."""
    for guild in c.guilds:
        channel = c.discord.add_text_channel(guild, "general")
        member = c.discord.add_member(guild, f"reader in {guild}")
        inter = await c.discord.invoke(
            "search", {"query": "diffusion"}, user=member, channel=channel
        )
        await inter.response(timeout=10)
        assert [s for _, s in inter.sessions] == [(shard_of(guild, c.shard_count), c.shard_count)]
        assert len(inter.callbacks) == 1


async def test_two_processes_each_answer_the_servers_on_their_shard(tmp_path: Path) -> None:
    async with cluster(tmp_path, {"a": "0", "b": "1"}, shard_count=2, guilds=6) as c:
        await c.start()
        await c.ready()
        assert {shard_of(g, 2): c.holder(g) for g in c.guilds} == {0: c.bots["a"], 1: c.bots["b"]}
        accepted = [r for r in c.discord.identifies if r.accepted]
        assert sorted(r.shard for r in accepted) == [(0, 2), (1, 2)]
        assert abs(accepted[1].at - accepted[0].at) >= IDENTIFY  # one bucket: in turn
        await ask_every_server(c)
        await c.stop()


async def test_two_processes_of_two_shards_answer_forty_servers(tmp_path: Path) -> None:
    async with cluster(tmp_path, {"a": "0-1", "b": "2-3"}, shard_count=4, guilds=40) as c:
        await c.start()
        await c.ready()
        owners = Counter(
            (shard_of(g, 4), name)
            for g in c.guilds
            for name, b in c.bots.items()
            if b is c.holder(g)
        )
        assert owners == {(0, "a"): 10, (1, "a"): 10, (2, "b"): 10, (3, "b"): 10}
        await ask_every_server(c)
        await c.stop()


async def test_servers_of_a_dead_process_wait_for_a_process_holding_their_shards(
    tmp_path: Path,
) -> None:
    """b is down (dead for good) when the digests fall due: a posts its own servers' digests
    and none of b's; they wait, and go out once a process holding b's shards starts."""
    async with cluster(
        tmp_path, {"a": "0-1", "b": "2-3"}, shard_count=4, guilds=8, digests=True
    ) as c:
        mine = {c.channels[g] for g in c.guilds if shard_of(g, 4) < 2}
        await c.start("a")
        sql = "SELECT count(*) FROM digest_deliveries WHERE state = 'sent'"
        await wait_count(c.db, sql, len(mine), 30)
        posted = {int(m.channel_id) for m in c.digests()}
        async with open_store(c.db) as store:
            assert c.day is not None
            started = {ch for ch in c.channels.values() if await store.get_delivery(ch, c.day)}
        assert posted == mine and started == mine, "a touched b's servers"
        await c.bots["b"].start()  # b is back (or another process with its shards)
        await c.wait_delivered(30)
        await c.stop()
        await c.assert_each_digest_once()


# ------------------------------------------------------------ with the leader (bot/cluster.py)

FAST_CLUSTER = {"heartbeat_seconds": 0.5}
LEASE = 2.0  # seconds: a killed process's deliveries are free again this long after it died
# A supervisor's restart delay (systemd's RestartSec): shorter than LEASE, so the restarted
# process finds its predecessor's leases unexpired and takes them over because that pid is
# gone (bot/leases.py); lease expiry is the paused-process test's. Ten kills: 15 s less.
RESTART = 0.5


async def leader_pids(db: str) -> set[int]:
    """The pids of the processes holding the leader lock now (asked of PostgreSQL)."""
    connection = await asyncpg.connect(db)
    try:
        rows = await connection.fetch(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted"
            " AND a.application_name LIKE 'paperboy leader %'"
        )
    finally:
        await connection.close()
    return {int(r[0].rsplit(":", 1)[1]) for r in rows}


async def wait_leader(c: Cluster, timeout: float = 30) -> BotProcess:
    """The process that leads, once one does."""
    async with asyncio.timeout(timeout):
        while True:
            pids = await leader_pids(c.db)
            found = [b for b in c.bots.values() if b.running and b.proc and b.proc.pid in pids]
            if found:
                (bot,) = found
                return bot
            await asyncio.sleep(0.1)


async def kill_the_leader_repeatedly(
    c: Cluster,
    progress: Callable[[], int],
    *,
    kills: int,
    most_per_run: int,
    seed: int,
    down: float,
    total: int | None = None,
    timeout: float = 30,
) -> list[int]:
    """Kill -9 whichever process leads, `kills` times, each once `k` more units of progress
    were seen (k random in 0..most_per_run), and restart it `down` seconds later (as a
    supervisor would); returns progress at each kill.
    Once progress reaches `total` (if given) there is nothing left to wait for: the kill is
    at once."""
    rng = random.Random(seed)
    at_kill = []
    for _ in range(kills):
        victim = await wait_leader(c)
        wanted, before = rng.randint(0, most_per_run), progress()

        def arrived(
            victim: BotProcess = victim, before: int = before, wanted: int = wanted
        ) -> bool:
            done = total is not None and progress() >= total
            return progress() - before >= wanted or done or not victim.running

        await c.discord.wait_for(arrived, timeout, f"{wanted} more before kill {len(at_kill) + 1}")
        await asyncio.sleep(max(0.0, rng.uniform(-0.02, 0.02)))
        assert victim.running, victim.tail()
        await victim.kill()
        at_kill.append(progress())
        await asyncio.sleep(down)
        await victim.start()
    return at_kill


async def test_a_process_with_another_shard_count_is_refused(tmp_path: Path) -> None:
    async with cluster(tmp_path, {"a": "0"}, shard_count=2, guilds=2) as c:
        await c.start()
        await c.discord.wait_for(lambda: c.discord.sessions_of((0, 2)), 30, "a's session")
        other = write_config(
            tmp_path / "other.toml",
            c.discord,
            c.hf,
            c.db,
            discord={"shard_count": 4, "identify_seconds": IDENTIFY},
        )
        result = await paperboy("--config", str(other), "run", token=c.discord.token)
        assert result.code == 1
        last = result.err.strip().splitlines()[-1]
        assert last.startswith("paperboy: ") and "shard_count" in last, result.err
        assert "Traceback" not in result.err
        assert c.bots["a"].running
        await c.stop()


async def test_forty_digests_due_together_are_posted_once_while_the_leader_is_killed(
    tmp_path: Path,
) -> None:
    """2 processes x 2 shards, 40 servers: the leader (whichever process it is at the time)
    is kill -9'd 10 times during the fan-out and restarted at once; every channel gets
    exactly one complete digest."""
    async with cluster(
        tmp_path,
        {"a": "0-1", "b": "2-3"},
        shard_count=4,
        guilds=40,
        digests=True,
        cluster={**FAST_CLUSTER, "lease_seconds": LEASE},
    ) as c:
        await c.start()
        at_kill = await kill_the_leader_repeatedly(
            c,
            lambda: len(c.digests()),
            kills=10,
            most_per_run=4,
            seed=15,
            down=RESTART,
            total=len(c.channels) * PARTS,
        )
        assert at_kill[-1] < len(c.channels) * PARTS, "the kills came too late"
        await c.wait_delivered(90)
        await c.stop()
        await c.assert_each_digest_once()


async def test_a_process_paused_past_its_lease_posts_nothing_twice(tmp_path: Path) -> None:
    """a is SIGSTOP'd in the middle of its fan-out; past its lease a process holding the same
    shards (a rolling restart's new one) starts and takes a's digests over. Resumed, a finds
    its leases taken: every digest is posted once, complete, and a sends at most what it had
    in flight."""
    async with cluster(
        tmp_path,
        {"a": "0-1", "a2": "0-1", "b": "2-3"},
        shard_count=4,
        guilds=40,
        digests=True,
        cluster={**FAST_CLUSTER, "lease_seconds": LEASE},
    ) as c:
        a, a2 = c.bots["a"], c.bots["a2"]
        mine = {str(c.channels[g]) for g in c.guilds if shard_of(g, 4) < 2}

        def a_side() -> int:
            return sum(m.channel_id in mine for m in c.digests())

        await c.start("a", "b")
        # Paused once its shards are connected: a process paused between its identify turn
        # and its IDENTIFY would send that IDENTIFY late, which Discord answers with op 9.
        await c.discord.wait_for(
            lambda: c.discord.sessions_of((1, 4)) and a_side() >= 6, 30, "a's fan-out"
        )
        assert a.proc is not None
        a.proc.send_signal(signal.SIGSTOP)
        try:
            paused = a_side()
            assert paused < len(mine) * PARTS, "a finished before the pause"
            await asyncio.sleep(LEASE + 1)  # a's leases run out (no event: a is asleep)
            await a2.start()
            # a2 takes over what it can (a write a was paused in holds its row until a runs)
            await c.discord.wait_for(lambda: a_side() > paused, 30, "a2 to take over")
        finally:
            a.proc.send_signal(signal.SIGCONT)
        await c.wait_delivered(60)
        await c.discord.wait_for(lambda: "digests: " in a.log.read_text(), 30, "a's run to end")
        await c.stop()
        await c.assert_each_digest_once()
        assert message_posts(c.discord) - len(c.digests()) <= 8, "resends beyond a's in-flight"


def message_posts(discord: FakeDiscord) -> int:
    """Message POSTs the fake received (resends it deduplicated by nonce included)."""
    return sum(1 for r in discord.requests if r.method == "POST" and r.path.endswith("/messages"))


async def test_alerts_are_delivered_once_while_the_leader_is_killed(tmp_path: Path) -> None:
    """A new list appears; the leader matches it and sends the alert DMs. It is kill -9'd
    10 times during the delivery (whichever process leads then) and restarted: each reader
    gets each matching paper once, whichever process sent it."""
    yesterday, long_ago = real_days()
    items = copy.deepcopy(seed_items()[ALERT_DAY])
    papers = parse_items(items, "seed")
    words = few_match_words(papers, 3)
    async with cluster(
        tmp_path,
        {"a": "0", "b": "1"},
        shard_count=2,
        guilds=2,
        cluster={**FAST_CLUSTER, "lease_seconds": LEASE},
        huggingface={"backfill_days": 3},
    ) as c:
        c.hf.days.clear()
        c.hf.set_day(yesterday.isoformat(), items)
        # Discord answers each message in 30 ms: the delivery lasts long enough for the
        # kills to land in it, however fast a restarted leader paces.
        c.discord.message_latency = 0.03
        readers = [c.discord.add_member(c.guilds[n % 2], f"reader{n:03d}") for n in range(240)]
        wanted: dict[str, set[str]] = {}
        async with open_store(c.db, clock=lambda: long_ago) as store:
            old = parse_items(seed_items()[SEED_DAY], "seed")  # matched long ago
            await store.ingest_day(long_ago.date(), old)
            await store.queue_alert_matches([p.id for p in old], [])
            for n, reader in enumerate(readers):
                queries = [words[n % len(words)]]
                if n % 3 == 0:
                    queries.append(words[(7 * n + 3) % len(words)])
                for query in queries:
                    await store.add_alert(int(reader.id), query)
                wanted[reader.id] = {
                    p.id for p in papers if any(matches(parse_query(q), p) for q in queries)
                }
        pairs = sum(len(ids) for ids in wanted.values())

        def dms() -> int:
            return sum(1 for m in c.discord.messages if m.guild_id is None)

        await c.start()
        at_kill = await kill_the_leader_repeatedly(
            c, dms, kills=10, most_per_run=3, seed=11, down=RESTART, timeout=120
        )
        assert at_kill[-1] < len(readers), "the kills came too late to hit the delivery"
        sent = "SELECT count(*) FROM alert_outbox WHERE state = 'sent'"
        await wait_count(c.db, sent, pairs, 150)
        await c.stop()
    for reader in readers:
        got: Counter[str] = Counter()
        for message in c.discord.dms_to(reader):
            ids = re.findall(r"huggingface\.co/papers/(\d{4}\.\d{4,5})", message.text)
            got.update(ids)
        assert got == Counter(wanted[reader.id]), reader.name


async def test_when_the_leader_dies_for_good_another_leads_within_30_s(tmp_path: Path) -> None:
    """Default heartbeat: the leader is kill -9'd and not restarted; the other process leads
    within 30 s, and `paperboy status` says the dead one's shards have no process (their
    servers' digests wait) once it is gone."""
    async with cluster(tmp_path, {"a": "0-1", "b": "2-3"}, shard_count=4, guilds=8) as c:
        await c.start()
        await c.ready()
        dead = await wait_leader(c)
        survivor = next(b for b in c.bots.values() if b is not dead)
        held = "0, 1" if dead is c.bots["a"] else "2, 3"
        await dead.kill()
        killed_at = asyncio.get_running_loop().time()
        assert await wait_leader(c, timeout=30) is survivor
        took = asyncio.get_running_loop().time() - killed_at
        assert took <= 30
        config = str(survivor.config)
        async with asyncio.timeout(60):
            while True:  # the dead process is shown as gone after 30 s without a heartbeat
                status = await paperboy("--config", config, "status")
                assert status.code == 0, status.err
                if f"no live process holds shards {held}" in status.out:
                    break
                await asyncio.sleep(2)
        assert "(leader)" in status.out and "(gone)" in status.out
        await c.stop()

"""`paperboy store copy`: everything moves between SQLite and PostgreSQL, counts verified."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.errors import BackupError
from bot.models import (
    Author,
    Paper,
    QueuedAlert,
    RisingChannel,
    ScrapeRun,
    Subscription,
    follow_row_id,
)
from bot.query import parse_query
from bot.store import SQLiteStore, Store
from bot.store.copy import CopyError, copy_store
from bot.store.deferred import pack
from bot.store.postgres import PostgresStore
from bot.store.postgres.connection import _migrations
from tests.bot.store.support import ids, seed
from tests.support.postgres import PgServer
from tests.support.process import paperboy

DAY = date(2025, 1, 7)
NOW = datetime(2025, 1, 8, 9, 0, tzinfo=UTC)


async def fill(store: Store) -> None:
    """One of everything: papers and lists, a scrape, settings, a subscription with a half
    sent digest, alerts with a person's and a server's settings, queued matches, a library
    and a reading list, a weekly digest, a refresh's upvote history, a code watch and its
    notice, a rising channel with its posts, author credits (one claimed by an account), and
    followed authors (by account and by name) with a queued paper."""
    await seed(store)
    await store.record_scrape(ScrapeRun(DAY, NOW, True, 26, 26, 0))
    await store.set_meta("commands", "abc")
    await store.set_health_channel(10, 11)
    await store.save_subscription(Subscription(11, 10, "09:00", "UTC", 5))
    await store.start_delivery(11, DAY, [("{}", "n1"), ("{}", "n2")])
    await store.record_part_sent(11, DAY, 0, 123456789012345678)
    alert = await store.add_alert(7, "grokking")
    await store.add_alert(7, "diffusion", deliver="here", channel_id=11, guild_id=10)
    await store.set_alerts_paused(8, True)
    await store.set_channel_alerts_allowed(10, False)
    await store.queue_alert_matches(
        ["2310.06371"], [QueuedAlert(7, "2310.06371", alert.id, "grokking", alert.target)]
    )
    await store.mark_alerts(7, ["2310.06371"], "queued", retry_at=NOW + timedelta(minutes=5))
    await store.add_alert(7, "transformer", min_upvotes=50)
    await store.save_subscription(
        Subscription(12, 10, "08:00", "UTC", 3, frequency="weekly", weekday=2, style="compact")
    )
    await store.start_delivery(12, DAY, [("{}", "w1")], kind="week")
    listed = [item.paper for item in await store.day_listing(DAY)]
    coded = next(p for p in listed if p.github_repo)
    uncoded = next(p for p in listed if not p.github_repo)
    await store.save_paper(7, coded.id)
    await store.save_paper(7, uncoded.id)
    await store.add_reading(10, uncoded.id, 7, "read this")
    await store.add_reading(10, coded.id, 8)
    await store.refresh_lists([(DAY, listed)], at=NOW - timedelta(hours=2))
    risen = Paper(**{**_fields(coded), "upvotes": coded.upvotes + 40})
    await store.refresh_lists([(DAY, [risen if p is coded else p for p in listed])], at=NOW)
    await store.add_watch(7, coded.id)
    await store.add_watch(8, uncoded.id)
    await store.queue_code_notices(NOW)
    await store.save_rising(RisingChannel(13, 10, 20, "diffusion"))
    await store.start_rising_post(13, coded.id, "{}", "r1")
    await store.start_rising_post(13, uncoded.id, "{}", "r2")
    await store.finish_rising_post(13, uncoded.id, 987654321098765432)
    users = ("claimer", *(None,) * (len(coded.authors) - 1))
    await store.upsert_paper(Paper(**{**_fields(coded), "author_users": users}))
    follow, _ = await store.add_follow(7, Author(coded.authors[0], "claimer"))
    await store.add_follow(7, Author(uncoded.authors[0]))
    await store.queue_alert_matches(
        [], [QueuedAlert(7, coded.id, follow_row_id(follow.id), "new paper by a followed author")]
    )
    columns = tuple(np.array([n], dtype=np.int64) for n in (9, 0, alert.id, 0, 0))
    await store.defer_alert_matches([], pack(columns, [coded.id], ["kept packed"], ["dm"]))  # type: ignore[arg-type]


def _fields(paper: Paper) -> dict[str, object]:
    return {f: getattr(paper, f) for f in Paper.__dataclass_fields__}


async def everything(store: Store) -> dict[str, object]:
    """What a store holds, read through the protocol."""
    follows = await store.user_follows(7)
    listed = await store.day_listing(DAY)
    return {
        "stats": (await store.stats()).papers,
        "days": [await store.day_listing(d) for d in await store.list_dates()],
        "search": set(ids((await store.search(parse_query('"state space"'), limit=50)).hits)),
        "meta": await store.get_meta("commands"),
        "health": await store.health_channels(),
        "subs": await store.subscriptions(),
        "delivery": await store.get_delivery(11, DAY),
        "alerts": await store.user_alerts(7),
        "active": await store.active_alerts(),
        "user": await store.alert_user(8),
        "guild": await store.channel_alerts_allowed(10),
        "outbox": await store.alert_outbox(NOW + timedelta(hours=1)),
        "unmatched": [p.id for p in await store.unmatched_papers()],
        "version": await store.alerts_version(),
        "last_scrape": (await store.stats()).last_scrape,
        "weekly": await store.get_delivery(12, DAY, kind="week"),
        "library": await store.library(7),
        "reading": await store.reading_list(10),
        "gains": await store.upvote_gains(NOW - timedelta(hours=1), listed_since=DAY),
        "climbs": await store.climbs([p.paper.id for p in await store.day_listing(DAY)]),
        "watches": [await store.user_watches(u, NOW) for u in (7, 8)],
        "code_outbox": await store.alert_outbox(NOW),
        "rising": await store.rising_channels(),
        "rising_outbox": await store.rising_outbox(),
        "candidates": await store.rising_candidates(13, 0, DAY, limit=5),
        "follows": await store.user_follows(7),
        "claimed": [await store.find_author(f.author.name, f.author.hf_user) for f in follows],
        "authors": await store.authors_starting("a"),
        "follow_matches": await store.follow_matches([p.paper.id for p in listed]),
        "stored": [(n, p.id) for n, p in await store.stored_since(0, 500)],
    }


@pytest.mark.parametrize("direction", ["sqlite->postgresql", "postgresql->sqlite"])
async def test_a_copy_holds_everything_the_source_held(
    pg_server: PgServer, tmp_path: Path, direction: str
) -> None:
    async with pg_server.database() as url:
        lite, pg = SQLiteStore(tmp_path / "p.db"), PostgresStore(url)
        source, target = (lite, pg) if direction.startswith("sqlite") else (pg, lite)
        async with lite, pg:
            await fill(source)
            copied = await copy_store(source, target)
            assert copied["papers"] == 147 and copied["alert_outbox"] == 3  # code, a follow
            assert copied["follows"] == 2 and copied["author_credits"] > 147
            assert copied["library"] == 2 and copied["reading_list"] == 2
            assert copied["code_watches"] == 2 and copied["rising_posts"] == 2
            assert copied["upvote_history"] == 2 * 26 and copied["digest_deliveries"] == 2
            assert await everything(target) == await everything(source)
            assert copied["alert_outbox_deferred"] == 1
            assert await target.expand_alert_matches() == await source.expand_alert_matches()
            assert await everything(target) == await everything(source)
            assert [r.reason for r in await target.alert_outbox() if r.user_id == 9] == [
                "kept packed"
            ]
            # New rows continue after the copied ids.
            added = await target.add_alert(9, "mamba")
            assert added.id > max(a.id for a in await source.user_alerts(7))
            followed, _ = await target.add_follow(9, Author("Someone"))
            assert followed.id > max(f.id for f in await source.user_follows(7))


async def test_a_target_with_data_is_refused_unless_forced(
    pg_server: PgServer, tmp_path: Path
) -> None:
    async with (
        pg_server.database() as url,
        SQLiteStore(tmp_path / "p.db") as lite,
        PostgresStore(url) as pg,
    ):
        await fill(lite)
        await pg.add_alert(1, "already here")
        with pytest.raises(CopyError, match=r"not empty: alerts \(1\).*--force"):
            await copy_store(lite, pg)
        assert [a.query for a in await pg.user_alerts(1)] == ["already here"]
        await copy_store(lite, pg, force=True)
        assert await pg.user_alerts(1) == []
        assert await everything(pg) == await everything(lite)


async def test_the_command_copies_with_progress_and_verifies(
    pg_server: PgServer, tmp_path: Path
) -> None:
    db = tmp_path / "p.db"
    async with SQLiteStore(db) as lite:
        await fill(lite)
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{db}"\n')
    async with pg_server.database() as url:
        result = await paperboy("--config", str(config), "store", "copy", "--to", url, cwd=tmp_path)
        assert result.code == 0, result.err
        assert "papers" in result.err and "147/147" in result.err
        assert "counts verified" in result.out
        again = await paperboy("--config", str(config), "store", "copy", "--to", url, cwd=tmp_path)
        assert again.code == 1 and "--force" in again.err and "Traceback" not in again.err
        back = tmp_path / "back.db"
        pg_config = tmp_path / "pg.toml"
        pg_config.write_text(f'[store]\nurl = "{url}"\n')
        result = await paperboy(
            "--config", str(pg_config), "store", "copy", "--to", f"sqlite:///{back}", cwd=tmp_path
        )
        assert result.code == 0, result.err
    async with SQLiteStore(db) as lite, SQLiteStore(back) as copy:
        assert await everything(copy) == await everything(lite)


async def test_backup_on_postgresql_runs_pg_dump(pg_server: PgServer, tmp_path: Path) -> None:
    async with pg_server.database() as url:
        async with PostgresStore(url) as pg:
            await fill(pg)
        config = tmp_path / "pg.toml"
        config.write_text(f'[store]\nurl = "{url}"\n')
        result = await paperboy("--config", str(config), "backup", "out.dump", cwd=tmp_path)
        assert result.code == 0, result.err
        assert (tmp_path / "out.dump").read_bytes().startswith(b"PGDMP")  # pg_restore's format


async def test_backup_without_pg_dump_says_how(
    pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    async with pg_server.database() as url, PostgresStore(url) as pg:
        with pytest.raises(BackupError, match=r"pg_dump is not on the PATH.*pg_dump --format"):
            await pg.backup(tmp_path / "out.dump")
    assert not (tmp_path / "out.dump").exists()


async def test_doctor_checks_the_server_and_its_schema(pg_server: PgServer, tmp_path: Path) -> None:
    async with pg_server.database() as url:
        config = tmp_path / "pg.toml"
        config.write_text(f'[store]\nurl = "{url}"\n')
        result = await paperboy("--config", str(config), "doctor", cwd=tmp_path, timeout=60)
        (line,) = [x for x in result.out.splitlines() if "store" in x]
        schema = f"schema {_migrations()[-1][0]}"  # the newest migration
        assert "PASS" in line and schema in line and "amcheck" in line, result.out

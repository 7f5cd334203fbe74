"""The SQLite store's own promises: what another process sees, and what its schema keeps."""

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from bot.errors import AlertLimitError
from bot.models import Paper
from bot.store import SQLiteStore
from bot.store.sqlite import alerts as sqlite_alerts

DAY = date(2025, 1, 7)


async def test_a_second_store_on_the_same_file_sees_each_alert_change(tmp_path: Path) -> None:
    path = tmp_path / "paperboy.db"
    async with SQLiteStore(path) as bot, SQLiteStore(path) as other:
        start = await other.alerts_version()
        alert = await bot.add_alert(1, "grokking")
        moved = await other.alerts_version()
        assert moved > start
        changes = await other.alert_changes(start)
        assert changes is not None and changes.version == moved
        assert changes.alert_ids == {alert.id}
        await bot.set_alerts_paused(2, True)
        await bot.set_channel_alerts_allowed(30, False)
        await bot.set_alert_muted(1, alert.id, True)
        later = await other.alert_changes(moved)
        assert later is not None and later.version == await other.alerts_version()
        assert (later.alert_ids, later.user_ids, later.guild_ids) == ({alert.id}, {2}, {30})
        assert await other.alert_changes(later.version) == type(later)(later.version)


async def test_only_changes_that_happened_are_counted(store: SQLiteStore) -> None:
    await store.add_alert(1, "a", max_alerts=1)
    version = await store.alerts_version()
    with pytest.raises(AlertLimitError):
        await store.add_alert(1, "b", max_alerts=1)  # rolled back, change and all
    assert not await store.remove_alert(2, 1)  # not theirs
    await store.mark_dm_block_notified(1)  # changes no alert
    assert await store.alerts_version() == version


async def test_alert_changes_is_none_before_a_first_load_and_past_what_is_kept(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await store.alert_changes(-1) is None
    assert await store.alert_changes(0) is not None  # nothing happened yet
    monkeypatch.setattr(sqlite_alerts, "ALERT_LOG_SIZE", 2)
    for n in range(4):
        await store.add_alert(1, f"topic{n}")
    version = await store.alerts_version()
    assert version == 4
    assert await store.alert_changes(1) is None  # 2..4 were counted, only 3..4 are kept
    assert await store.alert_changes(2) is not None
    assert await store.alert_changes(version + 1) is None  # not a version of this store
    assert (await store._one("SELECT count(*) FROM alert_changes"))[0] == 2


async def test_the_unread_author_tables_are_gone(store: SQLiteStore) -> None:
    paper = Paper("2501.00001", "Title", "Abstract.", authors=("Ada Lovelace", "Alan Turing"))
    await store.ingest_day(DAY, [paper])
    tables = {r[0] for r in await store._all("SELECT name FROM sqlite_master")}
    assert not {"authors", "paper_authors"} & tables
    stored = await store.get_paper(paper.id)
    assert stored is not None and stored.paper.authors == paper.authors


async def test_a_refused_part_is_stored_as_before_and_read_as_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "paperboy.db"
    async with SQLiteStore(path) as store:
        await store.start_delivery(10, DAY, [("{}", "n0"), ("{}", "n1"), ("{}", "n2")])
        await store.record_part_sent(10, DAY, 0, 555)
        await store.record_part_refused(10, DAY, 1)
        delivery = await store.get_delivery(10, DAY)
    assert delivery is not None
    first, refused, last = delivery.parts
    assert (first.message_id, first.refused) == (555, False)
    assert (refused.message_id, refused.refused, refused.done) == (None, True, True)
    assert delivery.pending == (last,)
    with sqlite3.connect(path) as raw:  # what older versions wrote for a refused part
        ids = raw.execute("SELECT message_id FROM digest_parts ORDER BY part").fetchall()
    assert ids == [(555,), (0,), (None,)]

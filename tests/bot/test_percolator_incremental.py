"""Alert changes are applied to the index one alert at a time, never by reloading every alert,
and the index stays what a fresh build (and the brute-force oracle) would be."""

from __future__ import annotations

import asyncio
import copy
import gc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.store.sqlite.alerts as sqlite_module
from bot.delivery.alerts import AlertDelivery, Route
from bot.models import Alert, Listing, Paper
from bot.percolator import AlertIndex
from bot.query import Query, parse_query
from bot.store import SQLiteStore
from tests.bot.test_percolator import check_against_oracle, queries, seeds, synthetic_papers
from tests.conftest import seed_items
from tests.fakes.fake_courier import FakeCourier
from tests.support.harness import running_bot

# -- the index: random adds, removes, pauses and resumes --------------------------------

USERS = 4
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, USERS - 1), queries),
        st.tuples(st.just("remove"), st.integers(0, 39)),
        st.tuples(st.just("pause"), st.integers(0, USERS - 1)),
        st.tuples(st.just("resume"), st.integers(0, USERS - 1)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, data=st.data())
def test_random_changes_leave_the_index_as_a_fresh_build(
    ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    index = AlertIndex()
    saved: dict[int, tuple[int, Query]] = {}  # alert id -> (owner, query)
    paused: set[int] = set()
    for n, op in enumerate(ops):
        if op[0] == "add":
            alert_id = n  # never reused, like the store's ids
            saved[alert_id] = (op[1], op[2])
            if op[1] not in paused:
                index.add(alert_id, op[2])
        elif op[0] == "remove" and saved:
            alert_id = sorted(saved)[op[1] % len(saved)]
            del saved[alert_id]
            index.remove(alert_id)
        elif op[0] == "pause":
            paused.add(op[1])
            for alert_id, (owner, _) in saved.items():
                if owner == op[1]:
                    index.remove(alert_id)
        elif op[0] == "resume" and op[1] in paused:
            paused.discard(op[1])
            for alert_id, (owner, query) in saved.items():
                if owner == op[1]:
                    index.add(alert_id, query)
    active = {i: q for i, (owner, q) in saved.items() if owner not in paused}
    fresh = AlertIndex.build(active.items())
    assert index.alerts() == fresh.alerts() == active
    papers: list[Paper] = [*seeds()[:30], *(data.draw(synthetic_papers(i)) for i in range(3))]
    for paper in papers:
        assert index.match(paper) == fresh.match(paper), paper.id
        check_against_oracle(index, active, paper)


# -- the engine: store changes reach the index without a full reload ---------------------


class CountingStore(SQLiteStore):
    """The real store, counting the reads of every active alert (a full reload)."""

    full_reloads = 0

    async def active_alerts(self, *, after: int = 0, limit: int | None = None) -> list[Alert]:
        self.full_reloads += after == 0  # a full load reads from the first alert, by pages
        return await super().active_alerts(after=after, limit=limit)


def engine_on(store: SQLiteStore) -> AlertDelivery:
    """The engine's index side needs only the store."""
    return AlertDelivery(
        store, FakeCourier(), clock=lambda: datetime.now(UTC), report_health=lambda *_: None
    )


async def assert_in_line(engine: AlertDelivery, store: SQLiteStore) -> None:
    await engine.sync_index()
    active = await SQLiteStore.active_alerts(store)  # not counted
    assert engine.index.alerts() == {a.id: parse_query(a.query) for a in active}
    assert engine._alerts == {a.id: Route.of(a) for a in active}


WORDS = ["grokking", "diffusion", '"scaling laws"', "author:rombach", "video OR image", "gan -x"]
store_operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.integers(1, USERS),
            st.sampled_from(WORDS),
            st.sampled_from([None, 10, 20]),  # DM, or a channel in server 10 or 20
        ),
        st.tuples(st.just("remove"), st.integers(0, 99)),
        st.tuples(st.just("mute"), st.integers(0, 99), st.booleans()),
        st.tuples(st.just("pause"), st.integers(1, USERS), st.booleans()),
        st.tuples(st.just("dm_blocked"), st.integers(1, USERS), st.booleans()),
        st.tuples(st.just("channels"), st.sampled_from([10, 20]), st.booleans()),
        st.just(("sync",)),
    ),
    max_size=40,
)


async def apply(store: SQLiteStore, op: tuple[Any, ...], engine: AlertDelivery) -> None:
    """Make one change through the store's public methods (or sync and check)."""
    kind = op[0]
    if kind == "add":
        user, query, guild = op[1:]
        if guild is None:
            await store.add_alert(user, query)
        else:
            await store.add_alert(user, query, deliver="here", channel_id=guild + 1, guild_id=guild)
    elif kind in ("remove", "mute"):
        saved = [a for user in range(1, USERS + 1) for a in await store.user_alerts(user)]
        if not saved:
            return
        alert = saved[op[1] % len(saved)]
        if kind == "remove":
            await store.remove_alert(alert.user_id, alert.id)
        else:
            await store.set_alert_muted(alert.user_id, alert.id, op[2])
    elif kind == "pause":
        await store.set_alerts_paused(op[1], op[2])
    elif kind == "dm_blocked":
        await store.set_dm_blocked(op[1], "refused" if op[2] else None)
    elif kind == "channels":
        await store.set_channel_alerts_allowed(op[1], op[2])
    else:
        await assert_in_line(engine, store)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=store_operations, after=store_operations)
def test_random_store_changes_reach_the_index_without_a_full_reload(
    before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]
) -> None:
    async def run() -> None:
        store = CountingStore(":memory:")
        async with store:
            engine = engine_on(store)
            for op in before:
                await apply(store, op, engine)
            await assert_in_line(engine, store)
            reloads = store.full_reloads
            for op in after:
                await apply(store, op, engine)
            await assert_in_line(engine, store)
            assert store.full_reloads == reloads == 1  # only the first load reads everything

    asyncio.run(run())


async def test_a_pause_among_many_alerts_reads_only_that_persons(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "paperboy.db")
    async with store:
        for user in range(1, 201):
            for n in range(10):
                await store.add_alert(user, f"topic{n} user{user}")
        engine = engine_on(store)
        await engine.sync_index()
        assert len(engine.index) == 2000 and store.full_reloads == 1
        read: list[int] = []
        real = store.alerts_in

        async def counting(changes: Any) -> list[tuple[Alert, bool]]:
            found = await real(changes)
            read.append(len(found))
            return found

        store.alerts_in = counting  # type: ignore[method-assign]
        await store.set_alerts_paused(7, True)
        await engine.sync_index()
        assert len(engine.index) == 1990
        assert not any(r.user_id == 7 for r in engine._alerts.values())
        await store.set_alerts_paused(7, False)
        await engine.sync_index()
        assert len(engine.index) == 2000
        assert store.full_reloads == 1  # no full reload for either change
        assert read == [10, 10]  # each change read back only the person's ten alerts


async def test_more_changes_than_the_store_remembers_fall_back_to_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "ALERT_LOG_SIZE", 3)
    store = CountingStore(tmp_path / "paperboy.db")
    async with store:
        engine = engine_on(store)
        await store.add_alert(1, "grokking")
        await assert_in_line(engine, store)
        for n in range(5):
            await store.add_alert(2, f"topic{n}")
        await assert_in_line(engine, store)
        assert store.full_reloads == 2  # the first load, and once the log ran out


async def test_a_large_catch_up_is_applied_off_the_loop_and_leaves_the_index_in_line(
    tmp_path: Path,
) -> None:
    store = CountingStore(tmp_path / "paperboy.db")
    async with store:
        engine = engine_on(store)
        await store.add_alert(1, "grokking")
        await assert_in_line(engine, store)
        for user in range(2, 2 + 300):  # more than the loop applies itself
            await store.add_alert(user, f"topic{user % 7} OR grokking")
        await store.set_alerts_paused(5, True)
        await assert_in_line(engine, store)
        assert len(engine.index) == 300
        assert store.full_reloads == 1  # the catch-up was incremental, not a reload


# -- previews (/alert test, /alert add): asked of the store's index, fresh after a scrape ----


async def test_previews_ask_the_index_and_see_a_scrape_at_once(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as h:
        await h.backfill_done()
        asked = []
        real = h.store.matching_papers

        async def counting(*args: Any, **kwargs: Any) -> tuple[int, list[Listing]]:
            asked.append(args[0])
            return await real(*args, **kwargs)

        async def no_window(*args: Any, **kwargs: Any) -> list[Listing]:
            raise AssertionError("a preview read every recent paper")

        h.store.matching_papers = counting  # type: ignore[method-assign]
        h.store.top_papers = no_window  # type: ignore[method-assign]

        async def preview(query: str) -> str:
            inter = await h.discord.invoke("alert test", {"query": query}, channel="general")
            return (await inter.final_message()).content

        assert "would have matched 1" in await preview("grokking")
        assert "would have matched" in await preview('"scaling laws"')
        assert "Nothing" in await preview("zebrafish")
        assert [str(q) for q in asked] == ["grokking", '"scaling laws"', "zebrafish"]
        items = copy.deepcopy(seed_items()["2025-11-28"])
        h.hf.set_day("2025-01-08", items)
        await h.bot.scrape_job()  # new papers: the next preview finds them
        assert "would have matched 3" in await preview("grokking")


def python_objects(root: object) -> int:
    """Objects the collector tracks, reachable from `root` (numpy arrays count as one)."""
    seen, todo = {id(root)}, [root]
    while todo:
        for ref in gc.get_referents(todo.pop()):
            if id(ref) not in seen and gc.is_tracked(ref) and not isinstance(ref, type):
                seen.add(id(ref))
                todo.append(ref)
    return len(seen)


async def test_a_full_load_keeps_the_routes_as_arrays_not_an_object_per_alert(
    tmp_path: Path,
) -> None:
    # 100,000 alerts' routes as a dict (an entry and an int per alert) weighed ~6 MB more
    # than the arrays that matching reads anyway.
    async with SQLiteStore(tmp_path / "paperboy.db") as store:
        for user in range(1, 201):
            for n in range(10):
                await store.add_alert(user, f"topic{n} user{user}")
        engine = engine_on(store)
        await engine.sync_index()
        assert len(engine._alerts) == 2000
        assert python_objects(engine._alerts) < 100

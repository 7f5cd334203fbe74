"""A paper's life: refreshes that clear what HF removed, re-match marks, upvote history, code
watches and their notices, rising channels and their outbox. Through the Store protocol only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import WatchLimitError
from bot.models import CODE_ALERT_ID, QueuedAlert, RisingChannel, code_key
from bot.store import Store
from tests.bot.store.support import paper

# The contract stores run on the real clock (the 14-day window, watch times): tests use it.
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


async def unmatched(store: Store) -> set[str]:
    return {p.id for p in await store.unmatched_papers()}


async def matched_all(store: Store) -> None:
    ids = [p.id for p in await store.unmatched_papers()]
    await store.queue_alert_matches(ids, [])


# -- refresh ------------------------------------------------------------------------------


async def test_refresh_clears_what_hugging_face_removed(store: Store) -> None:
    full = paper(
        "2501.00001",
        upvotes=5,
        num_comments=3,
        ai_summary="A summary.",
        ai_keywords=("graphs",),
        github_repo="https://github.com/a/b",
        github_stars=10,
        project_page="https://example.org",
        organization="Org",
    )
    await store.ingest_day(TODAY, [full])
    bare = paper("2501.00001", upvotes=7)
    await store.refresh_lists([(TODAY, [bare])], at=NOW)
    got = (await store.get_paper("2501.00001")).paper  # type: ignore[union-attr]
    assert got.upvotes == 7
    assert (got.num_comments, got.ai_summary, got.ai_keywords) == (None, None, ())
    assert (got.github_repo, got.github_stars, got.project_page) == (None, None, None)
    assert got.organization == "Org"  # not a refreshed field: merged as ingest does


async def test_ingest_still_keeps_old_values(store: Store) -> None:
    await store.ingest_day(TODAY, [paper("2501.00001", github_repo="https://github.com/a/b")])
    await store.ingest_day(TODAY, [paper("2501.00001")])
    got = (await store.get_paper("2501.00001")).paper  # type: ignore[union-attr]
    assert got.github_repo == "https://github.com/a/b"


async def test_refresh_stores_papers_first_seen_as_new(store: Store) -> None:
    result = await store.refresh_lists([(TODAY, [paper("2501.00002")])], at=NOW)
    assert result.new == ("2501.00002",)
    assert await unmatched(store) == {"2501.00002"}


async def test_new_text_is_matched_again_once(store: Store) -> None:
    await store.ingest_day(TODAY, [paper("2501.00001")])
    await matched_all(store)
    await store.refresh_lists([(TODAY, [paper("2501.00001")])], at=NOW)
    assert await unmatched(store) == set()  # nothing changed
    late = paper("2501.00001", ai_keywords=("grokking",))
    result = await store.refresh_lists([(TODAY, [late])], at=NOW + timedelta(hours=2))
    assert result.rematch == 1 and await unmatched(store) == {"2501.00001"}


async def test_ingest_marks_changed_text_too(store: Store) -> None:
    await store.ingest_day(TODAY, [paper("2501.00001")])
    await matched_all(store)
    await store.ingest_day(TODAY, [paper("2501.00001", title="A corrected title")])
    assert await unmatched(store) == {"2501.00001"}


async def test_upvotes_crossing_a_threshold_mark_a_paper_again(store: Store) -> None:
    await store.add_alert(1, "graphs", min_upvotes=50)
    await store.ingest_day(TODAY, [paper("2501.00001", upvotes=10)])
    await matched_all(store)
    await store.refresh_lists([(TODAY, [paper("2501.00001", upvotes=40)])], at=NOW)
    assert await unmatched(store) == set()  # 10 -> 40 crosses no threshold
    await store.ingest_day(TODAY, [paper("2501.00001", upvotes=55)])
    assert await unmatched(store) == {"2501.00001"}
    await matched_all(store)
    await store.refresh_lists([(TODAY, [paper("2501.00001", upvotes=90)])], at=NOW)
    assert await unmatched(store) == set()  # already past it


async def test_thresholds_stop_counting_after_14_days(store: Store) -> None:
    await store.add_alert(1, "graphs", min_upvotes=50)
    old_day = TODAY - timedelta(days=15)
    await store.ingest_day(old_day, [paper("2501.00001", upvotes=10)])
    await matched_all(store)
    await store.refresh_lists([(old_day, [paper("2501.00001", upvotes=60)])], at=NOW)
    assert await unmatched(store) == set()


async def test_a_failed_refresh_changes_nothing(store: Store) -> None:
    await store.ingest_day(TODAY, [paper("2501.00001", upvotes=3)])
    with pytest.raises(Exception):  # noqa: B017 - any backend error: a bad row
        await store.refresh_lists(
            [(TODAY, [paper("2501.00001", upvotes=9)]), (TODAY, [paper("x", title=None)])],
            at=NOW,
        )
    assert (await store.get_paper("2501.00001")).paper.upvotes == 3  # type: ignore[union-attr]
    assert await store.upvote_gains(NOW - timedelta(days=1), listed_since=TODAY) == []


# -- upvote history -----------------------------------------------------------------------


async def test_gains_over_a_day_from_the_history(store: Store) -> None:
    day = TODAY - timedelta(days=1)
    a, b = paper("2501.00001", upvotes=10), paper("2501.00002", upvotes=50)
    await store.refresh_lists([(day, [a, b])], at=NOW - timedelta(hours=30))
    await store.refresh_lists(
        [(day, [paper("2501.00001", upvotes=20), paper("2501.00002", upvotes=55)])],
        at=NOW - timedelta(hours=25),
    )
    await store.refresh_lists(
        [(day, [paper("2501.00001", upvotes=120), paper("2501.00002", upvotes=60)])], at=NOW
    )
    gains = await store.upvote_gains(NOW - timedelta(hours=24), listed_since=day)
    assert [(g.listing.paper.id, g.gain) for g in gains] == [("2501.00001", 100), ("2501.00002", 5)]
    assert (await store.climbs(["2501.00001"])) == {"2501.00001": 110}


async def test_one_point_per_refresh_and_old_points_are_pruned(store: Store) -> None:
    start = NOW - timedelta(days=40)
    await store.refresh_lists([(TODAY, [paper("2501.00001", upvotes=1)])], at=start)
    await store.refresh_lists([(TODAY, [paper("2501.00001", upvotes=5)])], at=NOW)
    await store.refresh_lists([(TODAY, [paper("2501.00001", upvotes=6)])], at=NOW)
    # The point 40 days back is gone: the climb counts from the oldest kept point (6).
    assert await store.climbs(["2501.00001"]) == {"2501.00001": 0}


# -- code watches -------------------------------------------------------------------------


async def test_a_watch_notifies_once_when_code_appears(store: Store) -> None:
    await store.ingest_day(TODAY, [paper("2501.00001")])
    assert await store.add_watch(1, "2501.00001")
    assert not await store.add_watch(1, "2501.00001")
    assert [w.paper_id for w in await store.user_watches(1, NOW)] == ["2501.00001"]
    assert await store.queue_code_notices(NOW) == 0
    repo = paper("2501.00001", github_repo="https://github.com/a/b")
    await store.refresh_lists([(TODAY, [repo])], at=NOW)
    assert await store.queue_code_notices(NOW) == 1
    assert await store.queue_code_notices(NOW) == 0
    (row,) = await store.alert_outbox()
    assert (row.user_id, row.paper_id, row.alert_id, row.target) == (
        1,
        code_key("2501.00001"),
        CODE_ALERT_ID,
        "dm",
    )
    assert row.is_code and row.listed_id == "2501.00001" and "github.com/a/b" in row.reason
    assert await store.user_watches(1, NOW) == []
    # The notice belongs to no alert: it is not dropped as unsendable.
    assert await store.drop_unsendable_alerts() == 0


async def test_code_news_and_a_match_of_the_same_paper_are_both_delivered(store: Store) -> None:
    await store.ingest_day(TODAY, [paper("2501.00001", github_repo="https://github.com/a/b")])
    alert = await store.add_alert(1, "title")
    await store.queue_alert_matches(
        ["2501.00001"], [QueuedAlert(1, "2501.00001", alert.id, "matched")]
    )
    await store.add_watch(1, "2501.00001")
    assert await store.queue_code_notices(NOW) == 1
    assert {r.paper_id for r in await store.alert_outbox()} == {
        "2501.00001",
        code_key("2501.00001"),
    }


async def test_watches_end_after_90_days_and_are_capped(store: Store) -> None:
    await store.ingest_day(TODAY, [paper("2501.00001")])
    await store.add_watch(1, "2501.00001")
    later = NOW + timedelta(days=91)
    assert await store.user_watches(1, later) == []
    await store.refresh_lists(
        [(TODAY, [paper("2501.00001", github_repo="https://github.com/a/b")])], at=NOW
    )
    assert await store.queue_code_notices(later) == 0
    await store.add_watch(2, "2501.00001", max_watches=1)
    with pytest.raises(WatchLimitError):
        await store.add_watch(2, "2501.00002", max_watches=1)
    assert await store.remove_watch(2, "2501.00001")
    assert not await store.remove_watch(2, "2501.00001")


# -- rising channels ----------------------------------------------------------------------


async def test_rising_channels_are_saved_replaced_and_removed(store: Store) -> None:
    await store.save_rising(RisingChannel(10, 1, 100))
    await store.save_rising(RisingChannel(10, 1, 150, "diffusion"))
    await store.save_rising(RisingChannel(11, 2, 5))
    (mine,) = await store.rising_channels(1)
    assert (mine.threshold, mine.keywords) == (150, "diffusion")
    assert [c.channel_id for c in await store.rising_channels()] == [10, 11]
    assert await store.remove_rising(10) and not await store.remove_rising(10)


async def test_a_rising_post_is_planned_once_and_finished_once(store: Store) -> None:
    await store.ingest_day(TODAY, [paper("2501.00001", upvotes=200), paper("2501.00002")])
    (cand,) = await store.rising_candidates(10, 100, TODAY)
    assert cand.paper.id == "2501.00001"
    post = await store.start_rising_post(10, "2501.00001", "{}", "123")
    again = await store.start_rising_post(10, "2501.00001", '{"other": 1}', "456")
    assert again == post and post.state == "sending"
    assert await store.rising_candidates(10, 100, TODAY) == []
    assert [p.paper_id for p in await store.rising_outbox()] == ["2501.00001"]
    await store.finish_rising_post(10, "2501.00001", 999)
    await store.finish_rising_post(10, "2501.00001", None)  # closed: stays sent
    assert await store.rising_outbox() == []
    done = await store.start_rising_post(10, "2501.00001", "{}", "1")
    assert (done.state, done.message_id) == ("sent", 999)
    # Another channel plans its own post.
    assert [c.paper.id for c in await store.rising_candidates(11, 100, TODAY)] == ["2501.00001"]

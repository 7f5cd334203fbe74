"""A paper matched again: who already has it in the alert outbox (alert_recipients), and the
text it was last matched with (matched_text), kept by the write that changes it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.models import Paper, QueuedAlert
from bot.store import Store
from tests.bot.store.support import paper


def row(user_id: int, paper_id: str, alert_id: int = 1) -> QueuedAlert:
    return QueuedAlert(user_id, paper_id, alert_id, "matched `x`", "dm")


async def test_nobody_has_a_paper_never_queued(store: Store) -> None:
    assert await store.alert_recipients([]) == {}
    assert await store.alert_recipients(["2501.00001"]) == {}


async def test_the_people_with_a_row_for_each_paper(store: Store) -> None:
    await store.queue_alert_matches(
        [],
        [row(1, "2501.00001"), row(2, "2501.00001"), row(1, "2501.00002"), row(3, "2501.00003")],
    )
    assert await store.alert_recipients(["2501.00001", "2501.00002", "2501.00009"]) == {
        "2501.00001": {1, 2},
        "2501.00002": {1},
    }


async def test_every_state_counts(store: Store) -> None:
    await store.queue_alert_matches(
        [], [row(1, "2501.00001"), row(2, "2501.00001"), row(3, "2501.00001")]
    )
    await store.mark_alerts(1, ["2501.00001"], "sent")
    await store.mark_alerts(2, ["2501.00001"], "dropped")
    await store.mark_alerts(3, ["2501.00001"], "sending", batch="nonce")
    assert await store.alert_recipients(["2501.00001"]) == {"2501.00001": {1, 2, 3}}


async def test_large_user_ids_come_back_as_given(store: Store) -> None:
    snowflake = 987_654_321_098_765_432
    await store.queue_alert_matches([], [row(snowflake, "2501.00001")])
    assert await store.alert_recipients(["2501.00001"]) == {"2501.00001": {snowflake}}


# -- matched_text: the text a paper was last matched with -----------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)  # the contract stores run on the real clock
TODAY = NOW.date()
FIRST = paper("2501.00001", "Grokking", authors=("Ada Lovelace",), ai_keywords=("grokking",))


def text(p: Paper) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    return p.title, p.abstract, p.authors, p.ai_keywords


async def matched(store: Store, *papers: Paper) -> None:
    """Papers listed today and matched against the alerts."""
    await store.ingest_day(TODAY, list(papers))
    await store.queue_alert_matches([p.id for p in papers], [])


async def test_a_paper_never_matched_keeps_no_text(store: Store) -> None:
    await store.ingest_day(TODAY, [FIRST])
    await store.ingest_day(TODAY, [replace(FIRST, title="Grokking, corrected")])
    assert await store.matched_text([FIRST.id]) == {}  # its first match sees the new text
    assert await store.matched_text([]) == {}


async def test_a_text_change_keeps_the_text_last_matched(store: Store) -> None:
    await matched(store, FIRST, paper("2501.00002"))
    late = replace(FIRST, ai_keywords=("grokking", "weight decay"), upvotes=7)
    await store.refresh_lists([(TODAY, [late, paper("2501.00002")])], at=NOW)
    kept = await store.matched_text([FIRST.id, "2501.00002", "2501.09999"])
    assert list(kept) == [FIRST.id]
    assert text(kept[FIRST.id]) == text(FIRST)
    assert kept[FIRST.id].upvotes == 7  # the rest as stored now
    assert [p.id for p in await store.unmatched_papers()] == [FIRST.id]


async def test_a_second_change_before_the_rematch_keeps_the_first_text(store: Store) -> None:
    await matched(store, FIRST)
    await store.ingest_day(TODAY, [replace(FIRST, title="Grokking, corrected")])
    await store.refresh_lists([(TODAY, [replace(FIRST, ai_keywords=())])], at=NOW)  # cleared
    assert text((await store.matched_text([FIRST.id]))[FIRST.id]) == text(FIRST)


async def test_marking_the_paper_matched_consumes_the_kept_text(store: Store) -> None:
    await matched(store, FIRST)
    second = replace(FIRST, title="Grokking, corrected")
    await store.ingest_day(TODAY, [second])
    await store.queue_alert_matches([], [row(1, FIRST.id)])  # rows alone: still pending
    assert FIRST.id in await store.matched_text([FIRST.id])
    await store.queue_alert_matches([FIRST.id], [])
    assert await store.matched_text([FIRST.id]) == {}
    await store.ingest_day(TODAY, [replace(second, authors=("Alan Turing",))])
    assert text((await store.matched_text([FIRST.id]))[FIRST.id]) == text(second)


async def test_a_paper_looked_up_by_id_keeps_the_text_matched(store: Store) -> None:
    await matched(store, FIRST)
    await store.upsert_paper(replace(FIRST, abstract="A longer abstract."))
    assert await store.unmatched_papers() == []  # a lookup does not mark it
    await store.ingest_day(TODAY, [replace(FIRST, abstract="A longer abstract.", title="New")])
    assert text((await store.matched_text([FIRST.id]))[FIRST.id]) == text(FIRST)


async def test_upvotes_crossing_a_threshold_keep_the_unchanged_text(store: Store) -> None:
    await store.add_alert(1, "graphs", min_upvotes=50)
    await matched(store, replace(FIRST, upvotes=10), paper("2501.00002", upvotes=10))
    await store.refresh_lists(
        [(TODAY, [replace(FIRST, upvotes=60), paper("2501.00002", upvotes=40)])], at=NOW
    )
    kept = await store.matched_text([FIRST.id, "2501.00002"])
    assert list(kept) == [FIRST.id]  # 10 -> 40 crosses nothing: not marked, nothing kept
    assert text(kept[FIRST.id]) == text(FIRST) and kept[FIRST.id].upvotes == 60

"""Who already has a paper in the alert outbox (alert_recipients): a paper matched again
queues only the people who do not."""

from __future__ import annotations

from bot.models import QueuedAlert
from bot.store import Store


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

"""The digest outbox keyed by period, and frequency changes (backend-neutral, Store only)."""

from __future__ import annotations

from bot.models import Subscription
from bot.store import Store
from tests.bot.store.support import DAY, NEXT_DAY

SUB = Subscription(10, 1, "09:00", "UTC", 5)


async def test_weekly_settings_come_back(store: Store) -> None:
    await store.save_subscription(
        Subscription(
            10, 1, "08:30", "Europe/Berlin", 20, frequency="weekly", weekday=4, style="compact"
        )
    )
    got = await store.get_subscription(10)
    assert got is not None
    assert (got.frequency, got.weekday, got.style, got.kind) == ("weekly", 4, "compact", "week")
    assert got.frequency_since is not None and got.frequency_since == got.created_at


async def test_defaults_are_daily_cards(store: Store) -> None:
    await store.save_subscription(SUB)
    got = await store.get_subscription(10)
    assert got is not None and (got.frequency, got.style, got.kind) == ("daily", "cards", "day")


async def test_a_week_and_a_day_with_the_same_date_never_collide(store: Store) -> None:
    await store.start_delivery(10, DAY, [("day part", "1")])
    week = await store.start_delivery(10, DAY, [("week 0", "2"), ("week 1", "3")], kind="week")
    assert week.kind == "week" and [p.payload for p in week.parts] == ["week 0", "week 1"]
    await store.record_part_sent(10, DAY, 0, 555, kind="week")
    await store.finish_delivery(10, DAY, "sent", kind="week")
    day = await store.get_delivery(10, DAY)
    assert day is not None and day.kind == "day" and day.state == "sending"
    assert [p.payload for p in day.parts] == ["day part"] and day.parts[0].message_id is None
    assert await store.delivery_states(DAY) == {10: "sending"}
    assert await store.delivery_states(DAY, kind="week") == {10: "sent"}
    assert await store.delivery_states(NEXT_DAY, kind="week") == {}


async def test_an_existing_week_delivery_wins(store: Store) -> None:
    first = await store.start_delivery(10, DAY, [("a", "1")], kind="week")
    await store.record_part_refused(10, DAY, 0, kind="week")
    again = await store.start_delivery(10, DAY, [("b", "2")], kind="week")
    assert [p.payload for p in again.parts] == ["a"] and again.parts[0].refused
    assert first.parts[0].nonce == again.parts[0].nonce


async def test_frequency_since_moves_only_when_the_schedule_does(store: Store) -> None:
    await store.save_subscription(SUB)
    created = await store.get_subscription(10)
    assert created is not None and created.frequency_since is not None
    await store.save_subscription(Subscription(10, 1, "07:00", "UTC", 3, style="compact"))
    same = await store.get_subscription(10)
    assert same is not None and same.frequency_since == created.frequency_since
    assert (same.post_time, same.style) == ("07:00", "compact")

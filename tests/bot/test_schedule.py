from datetime import UTC, date, datetime

import pytest

from bot.models import Subscription
from bot.schedule import due_lists, next_fire, previous_fire_at

THU, FRI, MON = date(2025, 1, 9), date(2025, 1, 10), date(2025, 1, 13)
DATES = [THU, FRI, MON]


def sub(post_time: str = "09:00", tz: str = "UTC", created: datetime | None = None) -> Subscription:
    return Subscription(1, 2, post_time, tz, 10, created_at=created)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def due_list(s: Subscription, now: datetime, dates: list[date], hours: float) -> date | None:
    """The list due in one channel, if any (`due_lists` for a single subscription)."""
    found = [day for day, subs in due_lists([s], now, dates, hours).items() if s in subs]
    return found[0] if found else None


def test_next_and_previous_fire_in_a_time_zone() -> None:
    s = sub("09:00", "America/New_York")
    assert next_fire(s, at(2025, 1, 10, 12)) == at(2025, 1, 10, 14)  # EST = UTC-5
    assert previous_fire_at(s.post_time, s.timezone, at(2025, 1, 10, 12)) == at(2025, 1, 9, 14)
    assert previous_fire_at(s.post_time, s.timezone, at(2025, 1, 10, 14)) == at(2025, 1, 10, 14)


def test_dst_moves_the_utc_time_not_the_local_time() -> None:
    s = sub("09:00", "Europe/Berlin")
    before = next_fire(s, at(2025, 3, 29, 0))
    after = next_fire(s, at(2025, 3, 31, 0))
    assert before == at(2025, 3, 29, 8)  # CET
    assert after == at(2025, 3, 31, 7)  # CEST
    # The spring-forward gap (02:30 does not exist on 2025-03-30): still one post that day.
    gap = sub("02:30", "Europe/Berlin")
    fires = [next_fire(gap, at(2025, 3, 29, 12)), next_fire(gap, at(2025, 3, 30, 12))]
    assert fires[0].date() == date(2025, 3, 30) and fires[1].date() == date(2025, 3, 31)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2025, 1, 10, 8, 59), None),  # Thursday 09:00 had no complete list yet
        (at(2025, 1, 10, 9, 0), THU),  # Friday 09:00 carries Thursday's list
        (at(2025, 1, 11, 9, 0), FRI),  # Saturday carries Friday's
        (at(2025, 1, 12, 9, 0), FRI),  # Sunday: nothing new (the caller sees it was delivered)
        (at(2025, 1, 13, 9, 0), FRI),  # Monday 09:00 still Friday's (Monday is not over)
        (at(2025, 1, 14, 9, 0), MON),
    ],
)
def test_weekends_carry_the_last_weekday(now: datetime, expected: date | None) -> None:
    assert due_list(sub(), now, DATES, 3) == expected


def test_a_new_subscription_waits_for_its_first_time() -> None:
    created = at(2025, 1, 14, 10)
    assert due_list(sub(created=created), at(2025, 1, 14, 12), DATES, 3) is None
    assert due_list(sub(created=created), at(2025, 1, 15, 9), DATES, 3) == MON


def test_a_late_digest_is_posted_only_while_its_list_is_newest() -> None:
    # Down at Friday 09:00, back at Friday 20:00: Thursday's list is still the newest.
    assert due_list(sub(), at(2025, 1, 10, 20), DATES, 3) == THU
    # Back only at Saturday 08:00: Friday's list completed meanwhile; Thursday's is skipped.
    assert due_list(sub(), at(2025, 1, 11, 8), DATES, 3) is None


def test_failing_channels_are_never_due_and_channels_group_by_list() -> None:
    berlin = Subscription(3, 2, "09:00", "Europe/Berlin", 10)
    failing = Subscription(4, 2, "09:00", "UTC", 10, failing_reason="the channel was deleted")
    late = Subscription(5, 2, "23:00", "UTC", 10)  # its last post time carried no list yet
    due = due_lists([sub(), berlin, failing, late], at(2025, 1, 10, 9), DATES, 3)
    assert due == {THU: [sub(), berlin]}

"""When each channel's digest is due, and which list it carries. Pure: the clock is an argument."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import parse_hhmm
from bot.digest import newest_complete
from bot.models import Subscription

_STEP = timedelta(seconds=1)


@lru_cache(maxsize=1024)
def trigger_for(post_time: str, timezone: str) -> CronTrigger:
    """A daily cron trigger at HH:MM in an IANA time zone (DST-correct)."""
    at = parse_hhmm(post_time)
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=ZoneInfo(timezone))


def next_fire(sub: Subscription, now: datetime) -> datetime:
    """The next scheduled post time at or after `now`."""
    fire = trigger_for(sub.post_time, sub.timezone).get_next_fire_time(None, now)
    assert fire is not None  # a daily trigger always fires again
    return fire


def previous_fire_at(post_time: str, timezone: str, now: datetime) -> datetime | None:
    """The most recent time at or before `now` that is `post_time` in `timezone`."""
    trigger = trigger_for(post_time, timezone)
    fire = trigger.get_next_fire_time(None, now - timedelta(days=2))
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + _STEP)
    return last


def due_lists(
    subs: Iterable[Subscription],
    now: datetime,
    list_dates: Sequence[date],
    complete_after_hours: float,
) -> dict[date, list[Subscription]]:
    """The list each channel should have received by `now`, with the channels it is due in.

    That is the newest complete list at the channel's last scheduled time, provided the
    subscription existed then and no newer list has completed since (a late digest beats a
    missing one, but a stale one is skipped: the next post carries the newer list). Failing
    channels are never due. The schedule maths runs once per (time, zone), not per channel.
    """
    due: dict[date, list[Subscription]] = {}
    slots: dict[tuple[str, str], tuple[datetime, date] | None] = {}
    for sub in subs:
        if sub.failing_reason:
            continue
        key = (sub.post_time, sub.timezone)
        if key not in slots:
            slots[key] = slot_due(*key, now, list_dates, complete_after_hours)
        found = slots[key]
        if found is None or (sub.created_at is not None and found[0] < sub.created_at):
            continue
        due.setdefault(found[1], []).append(sub)
    return due


def slot_due(
    post_time: str,
    timezone: str,
    now: datetime,
    list_dates: Sequence[date],
    complete_after_hours: float,
) -> tuple[datetime, date] | None:
    """For everyone posting at (post_time, timezone): the last post time and the list due
    by then, if that list is still the newest complete one (see `due_lists`)."""
    last = previous_fire_at(post_time, timezone, now)
    if last is None:
        return None
    at_fire = newest_complete(list_dates, last, complete_after_hours)
    if at_fire is None or at_fire != newest_complete(list_dates, now, complete_after_hours):
        return None
    return last, at_fire

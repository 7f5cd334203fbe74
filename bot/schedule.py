"""When each channel's digest is due, and which list it carries. Pure: the clock is an argument."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import parse_hhmm
from bot.digest import WEEK_DAYS, newest_complete
from bot.models import WEEKDAYS, Subscription

_STEP = timedelta(seconds=1)
# Everyone posting at one local time in one zone (daily), or also on one weekday (weekly).
Slot = tuple[str, str] | tuple[str, str, int]


@lru_cache(maxsize=1024)
def trigger_for(post_time: str, timezone: str, weekday: int | None = None) -> CronTrigger:
    """A cron trigger at HH:MM in an IANA time zone (DST-correct): daily, or on one weekday
    (0 = Monday) when `weekday` is given."""
    at = parse_hhmm(post_time)
    return CronTrigger(
        day_of_week="*" if weekday is None else weekday,
        hour=at.hour,
        minute=at.minute,
        timezone=ZoneInfo(timezone),
    )


def slot_of(sub: Subscription) -> Slot:
    """The slot a channel posts at: (time, zone), and the weekday for a weekly digest."""
    if sub.frequency == "weekly":
        return (sub.post_time, sub.timezone, sub.weekday)
    return (sub.post_time, sub.timezone)


def slot_trigger(slot: Slot) -> CronTrigger:
    """The trigger of one slot."""
    return trigger_for(*slot)


def next_fire(sub: Subscription, now: datetime) -> datetime:
    """The next scheduled post time at or after `now`."""
    fire = slot_trigger(slot_of(sub)).get_next_fire_time(None, now)
    assert fire is not None  # a daily or weekly trigger always fires again
    return fire


next_post = next_fire


def describe_schedule(sub: Subscription) -> str:
    """ "daily at 09:00 Europe/Berlin" or "weekly on Monday at 09:00 UTC"."""
    if sub.frequency == "weekly":
        return f"weekly on {WEEKDAYS[sub.weekday].title()} at {sub.post_time} {sub.timezone}"
    return f"daily at {sub.post_time} {sub.timezone}"


def previous_fire_at(
    post_time: str, timezone: str, now: datetime, weekday: int | None = None
) -> datetime | None:
    """The most recent time at or before `now` that is `post_time` in `timezone` (on
    `weekday`, when given)."""
    trigger = trigger_for(post_time, timezone, weekday)
    back = timedelta(days=2 if weekday is None else WEEK_DAYS + 2)
    fire = trigger.get_next_fire_time(None, now - back)
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
    Weekly channels are left to `due_weeks`.
    """
    due: dict[date, list[Subscription]] = {}
    slots: dict[tuple[str, str], tuple[datetime, date] | None] = {}
    for sub in subs:
        if sub.failing_reason or sub.frequency != "daily":
            continue
        key = (sub.post_time, sub.timezone)
        if key not in slots:
            slots[key] = slot_due(*key, now, list_dates, complete_after_hours)
        found = slots[key]
        if found is None or _before(found[0], sub):
            continue
        due.setdefault(found[1], []).append(sub)
    return due


def _before(fire: datetime, sub: Subscription) -> bool:
    """Whether a post time came before the channel had its current frequency: such a post
    is not due (a change takes effect from the next one)."""
    since = [t for t in (sub.created_at, sub.frequency_since) if t is not None]
    return bool(since) and fire < max(since)


def week_starting(fire: datetime, timezone: str) -> date:
    """The first day of the week a weekly digest posted at `fire` covers: the 7 days before
    the local day it is posted on."""
    return fire.astimezone(ZoneInfo(timezone)).date() - timedelta(days=WEEK_DAYS)


def due_weeks(subs: Iterable[Subscription], now: datetime) -> dict[date, list[Subscription]]:
    """The week each weekly channel should have received by `now` (the week before its last
    post time), with the channels it is due in. Only the last post time counts: a week
    missed entirely while the bot was down is skipped, and a post time that came before the
    channel went weekly is not due. Failing channels are never due."""
    due: dict[date, list[Subscription]] = {}
    fires: dict[Slot, datetime | None] = {}
    for sub in subs:
        if sub.failing_reason or sub.frequency != "weekly":
            continue
        slot = slot_of(sub)
        if slot not in fires:
            fires[slot] = previous_fire_at(sub.post_time, sub.timezone, now, sub.weekday)
        fire = fires[slot]
        if fire is None or _before(fire, sub):
            continue
        due.setdefault(week_starting(fire, sub.timezone), []).append(sub)
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

"""Alerts: saving them under a cap, ownership, muting, pausing, refused DMs, channel delivery,
which alerts are active, and the change counter that tells the matcher to read them again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from bot.errors import AlertLimitError
from bot.models import Alert
from bot.store import Store
from bot.store.base import MAX_ALERTS
from tests.bot.store.support import alert_changes


async def here(store: Store, user: int, query: str, channel: int, guild: int) -> Alert:
    return await store.add_alert(user, query, deliver="here", channel_id=channel, guild_id=guild)


async def active_ids(store: Store) -> set[int]:
    return {a.id for a in await store.active_alerts()}


# -- saving and reading -------------------------------------------------------------------


async def test_add_alert_returns_what_it_stored(store: Store) -> None:
    dm = await store.add_alert(1, "diffusion")
    posted = await here(store, 1, "grokking", 10, 20)
    assert (dm.user_id, dm.query, dm.deliver, dm.channel_id, dm.guild_id, dm.muted) == (
        1,
        "diffusion",
        "dm",
        None,
        None,
        False,
    )
    assert (posted.deliver, posted.channel_id, posted.guild_id) == ("here", 10, 20)
    assert dm.id != posted.id and dm.created_at is not None
    assert await store.get_alert(dm.id) == dm and await store.get_alert(posted.id) == posted


async def test_an_unknown_alert_is_none(store: Store) -> None:
    assert await store.get_alert(12345) is None


async def test_user_alerts_are_theirs_oldest_first(store: Store) -> None:
    first = await store.add_alert(1, "b")
    await store.add_alert(2, "other person")
    second = await store.add_alert(1, "a")
    assert await store.user_alerts(1) == [first, second]
    assert await store.user_alerts(3) == []


async def test_remove_alert_only_removes_ones_own(store: Store) -> None:
    mine = await store.add_alert(1, "diffusion")
    assert await store.remove_alert(2, mine.id) is False
    assert await store.get_alert(mine.id) == mine
    assert await store.remove_alert(1, mine.id) is True
    assert await store.get_alert(mine.id) is None
    assert await store.remove_alert(1, mine.id) is False


async def test_mute_only_ones_own(store: Store) -> None:
    mine = await store.add_alert(1, "diffusion")
    assert await store.set_alert_muted(2, mine.id, True) is False
    assert (await store.get_alert(mine.id)).muted is False  # type: ignore[union-attr]
    assert await store.set_alert_muted(1, mine.id, True) is True
    assert (await store.get_alert(mine.id)).muted is True  # type: ignore[union-attr]
    assert await store.set_alert_muted(1, mine.id, False) is True
    assert (await store.get_alert(mine.id)).muted is False  # type: ignore[union-attr]
    assert await store.set_alert_muted(1, 12345, True) is False


# -- the cap ------------------------------------------------------------------------------


async def test_the_cap_is_max_alerts_per_person(store: Store) -> None:
    for n in range(MAX_ALERTS):
        await store.add_alert(1, f"topic{n}")
    with pytest.raises(AlertLimitError):
        await store.add_alert(1, "one more")
    assert len(await store.user_alerts(1)) == MAX_ALERTS
    await store.add_alert(2, "someone else")


async def test_a_smaller_cap_and_a_removal_frees_a_place(store: Store) -> None:
    alerts = [await store.add_alert(1, f"topic{n}", max_alerts=3) for n in range(3)]
    with pytest.raises(AlertLimitError, match="3 alerts"):
        await store.add_alert(1, "one more", max_alerts=3)
    assert await store.remove_alert(1, alerts[0].id)
    await store.add_alert(1, "one more", max_alerts=3)
    assert len(await store.user_alerts(1)) == 3


async def test_concurrent_adds_stop_at_the_cap(store: Store) -> None:
    for n in range(MAX_ALERTS - 5):
        await store.add_alert(1, f"topic{n}")
    results = await asyncio.gather(
        *(store.add_alert(1, f"more{n}") for n in range(20)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, AlertLimitError) for r in refused), refused
    assert len(refused) == 15
    assert len(await store.user_alerts(1)) == MAX_ALERTS


# -- who may receive ----------------------------------------------------------------------


async def test_a_new_person_has_default_alert_state(store: Store) -> None:
    user = await store.alert_user(1)
    assert (user.user_id, user.paused, user.dm_blocked, user.dm_block_notified) == (
        1,
        False,
        None,
        False,
    )


async def test_pause_and_resume(store: Store) -> None:
    await store.set_alerts_paused(1, True)
    assert (await store.alert_user(1)).paused is True
    await store.set_alerts_paused(1, False)
    assert (await store.alert_user(1)).paused is False


async def test_a_refused_dm_is_recorded_then_notified_then_cleared(store: Store) -> None:
    await store.set_dm_blocked(1, "Cannot send messages to this user")
    user = await store.alert_user(1)
    assert user.dm_blocked == "Cannot send messages to this user" and not user.dm_block_notified
    await store.mark_dm_block_notified(1)
    assert (await store.alert_user(1)).dm_block_notified is True
    await store.set_dm_blocked(1, None)
    assert (await store.alert_user(1)).dm_blocked is None


async def test_a_new_refusal_must_be_notified_again(store: Store) -> None:
    await store.set_dm_blocked(1, "first")
    await store.mark_dm_block_notified(1)
    await store.set_dm_blocked(1, "second")
    user = await store.alert_user(1)
    assert user.dm_blocked == "second" and user.dm_block_notified is False


async def test_pausing_keeps_the_refusal_and_the_reverse(store: Store) -> None:
    await store.set_dm_blocked(1, "refused")
    await store.set_alerts_paused(1, True)
    user = await store.alert_user(1)
    assert user.paused and user.dm_blocked == "refused"


async def test_channel_alerts_are_allowed_per_server_by_default(store: Store) -> None:
    assert await store.channel_alerts_allowed(20) is True
    await store.set_channel_alerts_allowed(20, False)
    assert await store.channel_alerts_allowed(20) is False
    assert await store.channel_alerts_allowed(21) is True
    await store.set_channel_alerts_allowed(20, True)
    assert await store.channel_alerts_allowed(20) is True


# -- active alerts ------------------------------------------------------------------------


async def test_active_alerts_in_id_order(store: Store) -> None:
    made = [await store.add_alert(u, f"q{u}") for u in (3, 1, 2)]
    assert await store.active_alerts() == made


async def test_active_alerts_by_pages_are_all_of_them_in_order(store: Store) -> None:
    made = [await store.add_alert(u, f"q{u}") for u in range(1, 8)]
    await store.set_alert_muted(3, made[2].id, True)
    active = [a for a in made if a.user_id != 3]
    pages, after = [], 0
    while page := await store.active_alerts(after=after, limit=2):
        pages.append(page)
        after = page[-1].id
    assert [len(p) for p in pages] == [2, 2, 2]
    assert [a for p in pages for a in p] == active == await store.active_alerts()
    assert await store.active_alerts(after=made[4].id) == active[4:]
    assert await store.active_alerts(limit=1) == active[:1]


async def test_a_muted_alert_is_not_active(store: Store) -> None:
    muted = await store.add_alert(1, "a")
    other = await store.add_alert(1, "b")
    await store.set_alert_muted(1, muted.id, True)
    assert await active_ids(store) == {other.id}
    await store.set_alert_muted(1, muted.id, False)
    assert await active_ids(store) == {muted.id, other.id}


async def test_a_paused_persons_alerts_are_not_active(store: Store) -> None:
    await store.add_alert(1, "a")
    await here(store, 1, "b", 10, 20)
    kept = await store.add_alert(2, "c")
    await store.set_alerts_paused(1, True)
    assert await active_ids(store) == {kept.id}
    await store.set_alerts_paused(1, False)
    assert len(await active_ids(store)) == 3


async def test_a_refused_dm_stops_only_dm_alerts(store: Store) -> None:
    await store.add_alert(1, "a")
    posted = await here(store, 1, "b", 10, 20)
    kept = await store.add_alert(2, "c")
    await store.set_dm_blocked(1, "refused")
    assert await active_ids(store) == {posted.id, kept.id}
    await store.set_dm_blocked(1, None)
    assert len(await active_ids(store)) == 3


async def test_a_server_without_channel_alerts_stops_only_its_channel_alerts(store: Store) -> None:
    await here(store, 1, "a", 10, 20)
    dm_from_there = await store.add_alert(1, "b", guild_id=20)
    elsewhere = await here(store, 1, "c", 11, 21)
    await store.set_channel_alerts_allowed(20, False)
    assert await active_ids(store) == {dm_from_there.id, elsewhere.id}
    await store.set_channel_alerts_allowed(20, True)
    assert len(await active_ids(store)) == 3


async def test_a_removed_alert_is_not_active(store: Store) -> None:
    gone = await store.add_alert(1, "a")
    await store.remove_alert(1, gone.id)
    assert await store.active_alerts() == []


# -- the change counter -------------------------------------------------------------------

Change = Callable[[Store, Alert], Awaitable[object]]
CHANGES: dict[str, Change] = {
    "add": lambda s, a: s.add_alert(2, "new"),
    "remove": lambda s, a: s.remove_alert(1, a.id),
    "mute": lambda s, a: s.set_alert_muted(1, a.id, True),
    "pause": lambda s, a: s.set_alerts_paused(1, True),
    "dm refused": lambda s, a: s.set_dm_blocked(1, "refused"),
    "channel alerts off": lambda s, a: s.set_channel_alerts_allowed(20, False),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_every_alert_change_moves_the_version(store: Store, change: str) -> None:
    alert = await here(store, 1, "a", 10, 20)
    before = await store.alerts_version()
    await CHANGES[change](store, alert)
    assert await store.alerts_version() != before


async def test_undoing_a_change_moves_the_version_again(store: Store) -> None:
    alert = await store.add_alert(1, "a")
    await store.set_alert_muted(1, alert.id, True)
    muted = await store.alerts_version()
    await store.set_alert_muted(1, alert.id, False)
    unmuted = await store.alerts_version()
    await store.set_alerts_paused(1, True)
    await store.set_alerts_paused(1, False)
    assert len({muted, unmuted, await store.alerts_version()}) == 3


async def test_no_change_since_the_current_version(store: Store) -> None:
    await store.add_alert(1, "a")
    version = await store.alerts_version()
    changes = await alert_changes(store, version)
    assert changes is not None and changes.version == version
    assert not (changes.alert_ids or changes.user_ids or changes.guild_ids)


async def test_changes_name_what_they_touched(store: Store) -> None:
    kept = await here(store, 1, "a", 10, 20)
    gone = await store.add_alert(1, "b")
    since = await store.alerts_version()
    added = await store.add_alert(2, "c")
    await store.remove_alert(1, gone.id)
    await store.set_alerts_paused(3, True)
    await store.set_channel_alerts_allowed(20, False)
    changes = await alert_changes(store, since)
    assert changes is not None and changes.version == await store.alerts_version()
    assert {added.id, gone.id} <= changes.alert_ids
    assert 3 in changes.user_ids and 20 in changes.guild_ids
    touched = dict(await store.alerts_in(changes))
    assert touched.get(added) is True and touched.get(kept) is False
    assert gone.id not in {a.id for a in touched}


async def test_alerts_in_says_which_are_active(store: Store) -> None:
    await store.add_alert(1, "a")  # untouched
    off = await store.add_alert(1, "b")
    since = await store.alerts_version()
    await store.set_alert_muted(1, off.id, True)
    await store.set_dm_blocked(2, "refused")
    blocked = await store.add_alert(2, "c")
    changes = await alert_changes(store, since)
    assert changes is not None
    assert dict(await store.alerts_in(changes)) == {
        replace(off, muted=True): False,
        blocked: False,
    }

"""Digests: channel subscriptions, and the outbox that posts each digest once and resumes."""

from __future__ import annotations

from dataclasses import replace

from bot.models import Subscription
from bot.store import Store
from tests.bot.store.support import DAY, NEXT_DAY

SUB = Subscription(
    channel_id=10,
    guild_id=1,
    post_time="09:30",
    timezone="Europe/Paris",
    top=5,
    min_upvotes=3,
    keywords="grokking, diffusion",
    threads=True,
)
PARTS = [('{"embeds": 1}', "nonce-a"), ('{"embeds": 2}', "nonce-b"), ('{"embeds": 3}', "nonce-c")]


def settings(sub: Subscription | None) -> Subscription | None:
    """A subscription without the fields the store fills in itself."""
    return replace(sub, created_at=None, frequency_since=None) if sub else None


# -- subscriptions ------------------------------------------------------------------------


async def test_a_saved_subscription_comes_back(store: Store) -> None:
    await store.save_subscription(SUB)
    got = await store.get_subscription(10)
    assert settings(got) == SUB
    assert got is not None and got.created_at is not None and got.created_at.tzinfo is not None


async def test_an_unknown_channel_has_no_subscription(store: Store) -> None:
    assert await store.get_subscription(10) is None


async def test_saving_again_updates_the_settings(store: Store) -> None:
    await store.save_subscription(SUB)
    changed = replace(SUB, post_time="18:00", timezone="UTC", top=10, min_upvotes=0, keywords="")
    await store.save_subscription(replace(changed, threads=False))
    assert settings(await store.get_subscription(10)) == replace(changed, threads=False)
    assert len(await store.subscriptions()) == 1


async def test_failing_is_marked_and_cleared(store: Store) -> None:
    await store.save_subscription(SUB)
    await store.set_subscription_failing(10, "Missing Access")
    got = await store.get_subscription(10)
    assert got is not None and got.failing_reason == "Missing Access"
    await store.set_subscription_failing(10, None)
    got = await store.get_subscription(10)
    assert got is not None and got.failing_reason is None


async def test_saving_again_clears_the_failing_mark(store: Store) -> None:
    await store.save_subscription(SUB)
    await store.set_subscription_failing(10, "Unknown Channel")
    await store.save_subscription(SUB)
    got = await store.get_subscription(10)
    assert got is not None and got.failing_reason is None


async def test_remove_says_whether_there_was_one(store: Store) -> None:
    await store.save_subscription(SUB)
    assert await store.remove_subscription(10) is True
    assert await store.get_subscription(10) is None
    assert await store.remove_subscription(10) is False


async def test_subscriptions_in_channel_order_all_or_by_server(store: Store) -> None:
    for channel, guild in ((30, 2), (10, 1), (20, 1)):
        await store.save_subscription(replace(SUB, channel_id=channel, guild_id=guild))
    assert [s.channel_id for s in await store.subscriptions()] == [10, 20, 30]
    assert [s.channel_id for s in await store.subscriptions(1)] == [10, 20]
    assert [s.channel_id for s in await store.subscriptions(2)] == [30]
    assert await store.subscriptions(3) == []


# -- the digest outbox --------------------------------------------------------------------


async def test_start_delivery_plans_the_parts_in_order(store: Store) -> None:
    delivery = await store.start_delivery(10, DAY, PARTS)
    assert (delivery.channel_id, delivery.list_date, delivery.state) == (10, DAY, "sending")
    assert [(p.part, p.payload, p.nonce, p.message_id) for p in delivery.parts] == [
        (0, '{"embeds": 1}', "nonce-a", None),
        (1, '{"embeds": 2}', "nonce-b", None),
        (2, '{"embeds": 3}', "nonce-c", None),
    ]
    assert delivery.pending == delivery.parts and delivery.error is None
    assert await store.get_delivery(10, DAY) == delivery


async def test_an_existing_delivery_wins_with_its_nonces(store: Store) -> None:
    first = await store.start_delivery(10, DAY, PARTS)
    await store.record_part_sent(10, DAY, 0, 1000)
    again = await store.start_delivery(10, DAY, [("{}", "other-1"), ("{}", "other-2")])
    assert [p.nonce for p in again.parts] == [p.nonce for p in first.parts]
    assert [p.part for p in again.pending] == [1, 2]
    assert again.parts[0].message_id == 1000


async def test_a_finished_delivery_is_never_planned_again(store: Store) -> None:
    await store.start_delivery(10, DAY, PARTS)
    await store.finish_delivery(10, DAY, "sent")
    again = await store.start_delivery(10, DAY, [("{}", "other")])
    assert again.state == "sent" and len(again.parts) == 3


async def test_record_part_sent_leaves_the_rest_pending(store: Store) -> None:
    await store.start_delivery(10, DAY, PARTS)
    await store.record_part_sent(10, DAY, 1, 2222)
    delivery = await store.get_delivery(10, DAY)
    assert delivery is not None
    assert [p.message_id for p in delivery.parts] == [None, 2222, None]
    assert [p.part for p in delivery.pending] == [0, 2]
    assert delivery.state == "sending"


async def test_finish_delivery_sent(store: Store) -> None:
    await store.start_delivery(10, DAY, PARTS)
    for part in range(3):
        await store.record_part_sent(10, DAY, part, 100 + part)
    await store.finish_delivery(10, DAY, "sent")
    delivery = await store.get_delivery(10, DAY)
    assert delivery is not None and delivery.state == "sent" and delivery.error is None
    assert delivery.pending == ()


async def test_finish_delivery_failed_keeps_the_error(store: Store) -> None:
    await store.start_delivery(10, DAY, PARTS)
    await store.finish_delivery(10, DAY, "failed", "Missing Permissions")
    delivery = await store.get_delivery(10, DAY)
    assert delivery is not None and (delivery.state, delivery.error) == (
        "failed",
        "Missing Permissions",
    )


async def test_a_delivery_is_per_channel_and_list(store: Store) -> None:
    await store.start_delivery(10, DAY, PARTS)
    other_day = await store.start_delivery(10, NEXT_DAY, [("{}", "next-day")])
    other_channel = await store.start_delivery(20, DAY, [("{}", "other-channel")])
    assert [p.nonce for p in other_day.parts] == ["next-day"]
    assert [p.nonce for p in other_channel.parts] == ["other-channel"]
    await store.record_part_sent(10, DAY, 0, 1)
    got = await store.get_delivery(10, NEXT_DAY)
    assert got is not None and got.parts[0].message_id is None


async def test_an_unknown_delivery_is_none(store: Store) -> None:
    await store.start_delivery(10, DAY, PARTS)
    assert await store.get_delivery(10, NEXT_DAY) is None
    assert await store.get_delivery(20, DAY) is None


async def test_delivery_states_of_one_list(store: Store) -> None:
    assert await store.delivery_states(DAY) == {}
    await store.start_delivery(10, DAY, PARTS)
    await store.start_delivery(20, DAY, PARTS)
    await store.start_delivery(30, DAY, PARTS)
    await store.start_delivery(40, NEXT_DAY, PARTS)
    await store.finish_delivery(20, DAY, "sent")
    await store.finish_delivery(30, DAY, "failed", "Unknown Channel")
    assert await store.delivery_states(DAY) == {10: "sending", 20: "sent", 30: "failed"}
    assert await store.delivery_states(NEXT_DAY) == {40: "sending"}

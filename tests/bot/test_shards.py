"""The shard formula and which servers a process owns."""

from __future__ import annotations

import pytest

from bot.shards import Shards, identify_bucket, parse_shard_ids, shard_of


def guild_on(shard: int, count: int, n: int = 0) -> int:
    """A snowflake-shaped server id on `shard` of `count` (timestamp bits pick the shard)."""
    return ((n * count + shard) << 22) | 12345


def test_shard_of_is_discords_formula() -> None:
    assert shard_of(guild_on(3, 4), 4) == 3
    assert shard_of(175928847299117063, 16) == (175928847299117063 >> 22) % 16
    assert shard_of(None, 4) == 0  # DMs go to shard 0


def test_unsharded_owns_everything() -> None:
    shards = Shards()
    assert not shards.sharded
    assert shards.owns(guild_on(1, 2)) and shards.owns(None)
    assert shards.held == (0,)
    assert shards.describe() == "unsharded"


def test_a_process_owns_only_the_servers_on_its_shards() -> None:
    first = Shards(count=4, ids=(0, 1))
    second = Shards(count=4, ids=(2, 3))
    for shard in range(4):
        for n in range(3):
            guild = guild_on(shard, 4, n)
            assert first.owns(guild) == (shard < 2)
            assert second.owns(guild) == (shard >= 2)
    assert first.owns(None) and not second.owns(None)


def test_a_count_without_ids_holds_every_shard() -> None:
    shards = Shards(count=3)
    assert shards.held == (0, 1, 2)
    assert all(shards.owns(guild_on(s, 3)) for s in range(3))
    assert shards.describe() == "shards 0-2 of 3"
    assert Shards(count=4, ids=(0, 2)).describe() == "shards 0, 2 of 4"
    assert Shards(count=4, ids=(1,)).describe() == "shard 1 of 4"


def test_identify_bucket() -> None:
    assert [identify_bucket(s, 2) for s in range(4)] == [0, 1, 0, 1]
    assert identify_bucket(None, 1) == 0
    assert identify_bucket(5, 0) == 0


@pytest.mark.parametrize(
    ("text", "ids"), [("0,1", (0, 1)), ("0-3", (0, 1, 2, 3)), (" 0-1, 4 ", (0, 1, 4)), ("7", (7,))]
)
def test_parse_shard_ids(text: str, ids: tuple[int, ...]) -> None:
    assert parse_shard_ids(text) == ids


@pytest.mark.parametrize("text", ["", "a", "1-", "3-1", "-1", "0,,1", "1.5"])
def test_parse_shard_ids_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shard_ids(text)

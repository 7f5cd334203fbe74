"""[discord] shard_count and shard_ids (or $PAPERBOY_SHARD_IDS): checked before anything starts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.config import SHARD_IDS_ENV, load_config, parse_config
from bot.errors import ConfigError
from bot.shards import Shards


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PAPERBOY_CONFIG", raising=False)
    monkeypatch.delenv(SHARD_IDS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


def test_unset_means_one_unsharded_process() -> None:
    assert parse_config({}).discord.shards == Shards()


@pytest.mark.parametrize(
    ("toml", "shards"),
    [
        ("shard_count = 4", Shards(4, None)),
        ("shard_count = 4\nshard_ids = [2, 3]", Shards(4, (2, 3))),
        ('shard_count = 4\nshard_ids = "0-1"', Shards(4, (0, 1))),
        ("shard_count = 1\nshard_ids = [0]", Shards(1, (0,))),
    ],
)
def test_shard_settings(toml: str, shards: Shards) -> None:
    assert parse_config(tomllib.loads("[discord]\n" + toml)).discord.shards == shards


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("shard_ids = [0, 1]", "discord.shard_ids [0, 1] needs discord.shard_count"),
        ("shard_count = 2\nshard_ids = [2]", "discord.shard_ids: 2 is not a shard of 2"),
        ("shard_count = 2\nshard_ids = [-1]", "discord.shard_ids: -1 is not a shard of 2"),
        ("shard_count = 0", "discord.shard_count must be between 1 and 100000, not 0"),
        ("shard_count = 2\nshard_ids = []", "discord.shard_ids must name at least one shard"),
        ("shard_count = 4\nshard_ids = [1, 1]", "discord.shard_ids names shard 1 twice"),
        ("shard_count = 4\nshard_ids = ['a']", "discord.shard_ids must be a list of whole"),
        ('shard_count = 4\nshard_ids = "x"', "discord.shard_ids must be shard ids like"),
        ("shard_count = 'many'", "discord.shard_count must be a whole number"),
        ("identify_seconds = 0", "discord.identify_seconds must be above 0"),
    ],
)
def test_bad_shard_settings_are_one_clear_line(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads("[discord]\n" + toml))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_shard_ids_from_the_environment_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.toml").write_text("[discord]\nshard_count = 4\nshard_ids = [0]\n")
    monkeypatch.setenv(SHARD_IDS_ENV, "2,3")
    assert load_config(str(tmp_path / "c.toml")).discord.shards == Shards(4, (2, 3))
    monkeypatch.setenv(SHARD_IDS_ENV, "1-2")
    assert load_config(str(tmp_path / "c.toml")).discord.shard_ids == (1, 2)


def test_bad_shard_ids_in_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c.toml").write_text("[discord]\nshard_count = 2\n")
    monkeypatch.setenv(SHARD_IDS_ENV, "zero")
    with pytest.raises(ConfigError, match=r"PAPERBOY_SHARD_IDS must be shard ids like 0,1"):
        load_config(str(tmp_path / "c.toml"))
    monkeypatch.setenv(SHARD_IDS_ENV, "5")
    with pytest.raises(ConfigError, match=r"discord\.shard_ids: 5 is not a shard of 2"):
        load_config(str(tmp_path / "c.toml"))
    (tmp_path / "d.toml").write_text("")
    monkeypatch.setenv(SHARD_IDS_ENV, "0")
    with pytest.raises(ConfigError, match=r"needs discord\.shard_count"):
        load_config(str(tmp_path / "d.toml"))

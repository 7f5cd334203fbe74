import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from bot.config import Config, load_config, parse_config
from bot.errors import ConfigError

ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("PAPERBOY_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def test_no_file_gives_defaults() -> None:
    config = load_config()
    assert config.source is None
    assert config.store.path == "paperboy.db"
    assert config.huggingface.poll_seconds == 1800
    assert config.discord.api_base_url == "https://discord.com/api/v10"


def test_file_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text('[store]\npath = "local.db"\n')
    (tmp_path / "env.toml").write_text('[store]\npath = "env.db"\n')
    (tmp_path / "cli.toml").write_text('[store]\npath = "cli.db"\n')
    assert load_config().store.path == "local.db"
    monkeypatch.setenv("PAPERBOY_CONFIG", str(tmp_path / "env.toml"))
    assert load_config().store.path == "env.db"
    assert load_config(str(tmp_path / "cli.toml")).store.path == "cli.db"


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[store]\npaht = 'x'\n", "store.paht"),
        ("[stor]\npath = 'x'\n", "[stor]"),
        ("[huggingface]\npoll_seconds = 0\n", "huggingface.poll_seconds"),
        ("[huggingface]\npoll_seconds = 'often'\n", "huggingface.poll_seconds"),
        ("[digest]\ntimezone = 'Mars/Olympus'\n", "digest.timezone"),
        ("[digest]\ntime = '9am'\n", "digest.time"),
        ("[digest]\ntop = 99\n", "digest.top"),
        ("[discord]\ngateway_url = 'https://x'\n", "discord.gateway_url"),
        ("[logging]\njson = 'yes'\n", "logging.json"),
        ("[cluster]\nheartbeat_seconds = 30\n", "cluster.heartbeat_seconds"),
        ("[cluster]\nlease_seconds = 0\n", "cluster.lease_seconds"),
    ],
)
def test_bad_config_names_the_key(toml: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace(".", r"\.")):
        parse_config(tomllib.loads(toml))


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "nope.toml"))
    (tmp_path / "bad.toml").write_text("[store\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(str(tmp_path / "bad.toml"))


def test_token_env_wins_and_never_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c.toml").write_text('[discord]\ntoken = "file-token"\n')
    assert load_config(str(tmp_path / "c.toml")).discord.token == "file-token"
    monkeypatch.setenv("DISCORD_TOKEN", "env-secret-token")
    config = load_config(str(tmp_path / "c.toml"))
    assert config.discord.token == "env-secret-token"
    assert "env-secret-token" not in repr(config)
    assert "env-secret-token" not in str(config.discord)


def test_example_documents_every_key_with_the_defaults() -> None:
    raw = tomllib.loads((ROOT / "config.example.toml").read_text())
    assert parse_config(raw) == Config()
    text = (ROOT / "config.example.toml").read_text()
    for section in fields(Config):
        if section.name == "source":
            continue
        assert f"[{section.name}]" in text
        for key in fields(getattr(Config(), section.name)):
            assert f"{key.name} =" in text, f"{section.name}.{key.name} undocumented"

"""[store]: path means SQLite, url (or $PAPERBOY_STORE_URL) means PostgreSQL, never both."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.store import SQLiteStore, make_store
from bot.store.postgres import PostgresStore
from tests.support.process import paperboy

URL = "postgresql://bot:s3cret@db.example:5433/paperboy"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DISCORD_TOKEN", "PAPERBOY_CONFIG", "PAPERBOY_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, store: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(f"[store]\n{store}\n")
    return str(path)


def test_a_url_selects_postgresql(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, f'url = "{URL}"'))
    assert config.store.location == URL
    assert isinstance(make_store(config.store.location), PostgresStore)
    assert "s3cret" not in repr(config) and "s3cret" not in config.store.shown


def test_a_path_keeps_sqlite(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'path = "p.db"'))
    assert isinstance(make_store(config.store.location), SQLiteStore)
    assert isinstance(make_store("sqlite:///p.db"), SQLiteStore)


def test_both_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"both path \(SQLite\) and url \(PostgreSQL\)"):
        load_config(write(tmp_path, f'path = "p.db"\nurl = "{URL}"'))


def test_the_url_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOY_STORE_URL", URL)
    assert load_config().store.location == URL
    # It wins over a file's path, as $DISCORD_TOKEN does over its token (an image's config).
    assert load_config(write(tmp_path, 'path = "p.db"')).store.location == URL


def test_a_url_that_is_not_postgresql_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, 'url = "mysql://bot:s3cret@db/x"'))
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("command", [["run"], ["status"], ["search", "grokking"]])
async def test_an_unreachable_server_is_one_line_and_exit_1(
    tmp_path: Path, command: list[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write(tmp_path, f'url = "postgresql://bot:s3cret@127.0.0.1:{port}/paperboy"')
    result = await paperboy("--config", config, *command, token="t0ken", cwd=tmp_path, timeout=30)
    assert result.code == 1, result.err
    (line,) = result.err.strip().splitlines()
    assert line.startswith("paperboy: cannot use the PostgreSQL store at 127.0.0.1:")
    assert str(port) in line and "s3cret" not in result.err + result.out

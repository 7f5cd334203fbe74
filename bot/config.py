"""Configuration: a TOML file with every key optional, checked before anything starts."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import PROJECT_URL, __version__
from bot.errors import ConfigError, without_userinfo
from bot.shards import IDENTIFY_SECONDS, Shards, parse_shard_ids

DEFAULT_USER_AGENT = f"paperboy/{__version__} (+{PROJECT_URL})"
STORE_URL_ENV = "PAPERBOY_STORE_URL"
SHARD_IDS_ENV = "PAPERBOY_SHARD_IDS"
SHUTDOWN_GRACE_SECONDS = 10.0  # how long shutdown waits for work in flight (scrape, deliveries)


@dataclass(frozen=True)
class DiscordConfig:
    token: str | None = field(default=None, repr=False)
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    dev_guild_id: int | None = None
    # Sharding: unset, one process and no sharding. `shard_count` is the total across every
    # process (the same in all); `shard_ids` the ones this process runs (unset: all of them).
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    # Discord lets each identify bucket start one session per 5 s; test servers may be faster.
    identify_seconds: float = IDENTIFY_SECONDS

    @property
    def shards(self) -> Shards:
        """The shards this process holds."""
        return Shards(self.shard_count, self.shard_ids)


@dataclass(frozen=True)
class HuggingFaceConfig:
    base_url: str = "https://huggingface.co"
    poll_seconds: float = 1800
    backfill_days: int = 7
    user_agent: str = DEFAULT_USER_AGENT
    timeout_seconds: float = 20
    max_retries: int = 4
    # /paper lookups of papers not yet stored: a budget shared by everyone, so members can
    # never spend the request quota the scraper needs.
    lookups_per_minute: float = 10
    lookup_burst: int = 5
    # The refresh: the lists of the last `refresh_days` read again every `refresh_minutes`.
    refresh_days: int = 7
    refresh_minutes: float = 120


@dataclass(frozen=True)
class StoreConfig:
    path: str = "paperboy.db"  # SQLite: the embedded default
    # PostgreSQL: a libpq URL (postgresql://user:pass@host:5432/db, ?host=/run/postgresql);
    # it may carry a password, so it is never shown (repr) nor logged.
    url: str | None = field(default=None, repr=False)

    @property
    def location(self) -> str:
        """What make_store opens: the URL when one is set, else the SQLite path."""
        return self.url or self.path

    @property
    def shown(self) -> str:
        """The location as it may be printed (a URL without its password)."""
        return without_userinfo(self.url) if self.url else self.path


@dataclass(frozen=True)
class DigestConfig:
    time: str = "09:00"
    timezone: str = "UTC"
    top: int = 10
    complete_after_hours: float = 3


@dataclass(frozen=True)
class ClusterConfig:
    """Processes sharing one PostgreSQL store (docs/deploy.md); the defaults suit one."""

    heartbeat_seconds: float = 5.0  # heartbeat, and how often a follower tries to lead
    lease_seconds: float = 60.0  # a delivery left by a dead process is taken over after this


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    json: bool = False


@dataclass(frozen=True)
class Config:
    discord: DiscordConfig = DiscordConfig()
    huggingface: HuggingFaceConfig = HuggingFaceConfig()
    store: StoreConfig = StoreConfig()
    digest: DigestConfig = DigestConfig()
    logging: LoggingConfig = LoggingConfig()
    cluster: ClusterConfig = ClusterConfig()
    source: Path | None = None  # the file it was read from, if any


_SECTIONS: dict[str, type] = {
    "discord": DiscordConfig,
    "huggingface": HuggingFaceConfig,
    "store": StoreConfig,
    "digest": DigestConfig,
    "logging": LoggingConfig,
    "cluster": ClusterConfig,
}
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def find_config_path(cli_path: str | None) -> Path | None:
    """Pick the file: --config, else $PAPERBOY_CONFIG, else ./config.toml if present."""
    if cli_path:
        return Path(cli_path)
    env = os.environ.get("PAPERBOY_CONFIG")
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else None


def load_config(cli_path: str | None = None) -> Config:
    """Read and check the configuration; raise ConfigError naming the bad key."""
    path = find_config_path(cli_path)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
    store_url = os.environ.get(STORE_URL_ENV)
    if store_url:  # the URL with its password, kept out of the config file; it wins over
        # a [store] path, as $DISCORD_TOKEN wins over the file's token (so an image's
        # built-in config can be pointed at a server)
        store = {k: v for k, v in raw.get("store", {}).items() if k != "path"}
        raw = {**raw, "store": {**store, "url": store_url}}
    shard_ids = os.environ.get(SHARD_IDS_ENV, "").strip()
    if shard_ids:  # one config file for every process; each gets its shards from the env
        try:
            ids = list(parse_shard_ids(shard_ids))
        except ValueError:
            raise ConfigError(
                f"{SHARD_IDS_ENV} must be shard ids like 0,1 or 0-3, not {shard_ids!r}"
            ) from None
        raw = {**raw, "discord": {**raw.get("discord", {}), "shard_ids": ids}}
    config = parse_config(raw)
    token = os.environ.get("DISCORD_TOKEN") or config.discord.token
    return replace(config, discord=replace(config.discord, token=token or None), source=path)


def parse_config(raw: dict[str, Any]) -> Config:
    """Turn a parsed TOML document into a Config, rejecting unknown keys and bad values."""
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        cls = _SECTIONS.get(name)
        if cls is None:
            raise ConfigError(f"unknown config section [{name}]")
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table")
        sections[name] = _build_section(name, cls, value)
    store = raw.get("store", {})
    if isinstance(store, dict) and "path" in store and "url" in store:
        raise ConfigError(
            "[store] has both path (SQLite) and url (PostgreSQL); keep the one you mean"
        )
    config = Config(**sections)
    _validate(config)
    return config


def _build_section(name: str, cls: type, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        f = known.get(key)
        if f is None:
            raise ConfigError(f"unknown config key {name}.{key}")
        kwargs[key] = _coerce(f"{name}.{key}", f.type, value)
    return cls(**kwargs)


def _coerce(key: str, type_: Any, value: Any) -> Any:
    expected = str(type_)
    if expected.startswith("tuple[int"):
        if isinstance(value, str):  # "0-3" or "0,1", as in $PAPERBOY_SHARD_IDS
            try:
                return parse_shard_ids(value)
            except ValueError:
                raise ConfigError(
                    f'{key} must be shard ids like [0, 1] or "0-3", not {value!r}'
                ) from None
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{key} must be a list of whole numbers, not {value!r}")
        return tuple(value)
    if "bool" in expected:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, not {value!r}")
        return value
    if isinstance(value, bool):
        raise ConfigError(f"{key} must not be a boolean")
    if expected.startswith("int"):
        if not isinstance(value, int) and not (isinstance(value, str) and value.isdigit()):
            raise ConfigError(f"{key} must be a whole number, not {value!r}")
        return int(value)
    if expected.startswith("float"):
        if not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, not {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, not {value!r}")
    return value


def _validate(config: Config) -> None:
    d, hf, dg = config.discord, config.huggingface, config.digest
    for key, url in (
        ("discord.api_base_url", d.api_base_url),
        ("huggingface.base_url", hf.base_url),
    ):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{key} must be an http(s) URL, not {url!r}")
    if not d.gateway_url.startswith(("ws://", "wss://")):
        raise ConfigError(f"discord.gateway_url must be a ws(s) URL, not {d.gateway_url!r}")
    _validate_shards(d)
    if hf.poll_seconds < 1:
        raise ConfigError("huggingface.poll_seconds must be at least 1")
    if not 0 <= hf.backfill_days <= 366:
        raise ConfigError("huggingface.backfill_days must be between 0 and 366")
    if hf.timeout_seconds <= 0:
        raise ConfigError("huggingface.timeout_seconds must be positive")
    if not 0 <= hf.max_retries <= 10:
        raise ConfigError("huggingface.max_retries must be between 0 and 10")
    if not 0 < hf.lookups_per_minute <= 600:
        raise ConfigError("huggingface.lookups_per_minute must be above 0 and at most 600")
    if not 1 <= hf.lookup_burst <= 100:
        raise ConfigError("huggingface.lookup_burst must be between 1 and 100")
    if not 1 <= hf.refresh_days <= 30:
        raise ConfigError(
            f"huggingface.refresh_days must be between 1 and 30, not {hf.refresh_days}"
        )
    if not 5 <= hf.refresh_minutes <= 1440:
        raise ConfigError(
            f"huggingface.refresh_minutes must be between 5 and 1440, not {hf.refresh_minutes}"
        )
    if not hf.user_agent.strip():
        raise ConfigError("huggingface.user_agent must not be empty")
    if not config.store.path.strip():
        raise ConfigError("store.path must not be empty")
    if config.store.url is not None and not config.store.url.lower().startswith(
        ("postgresql://", "postgres://")
    ):
        # Never echo the value: it may hold a password.
        raise ConfigError("store.url must be a postgresql:// URL")
    try:
        parse_hhmm(dg.time)
    except ValueError:
        raise ConfigError(f"digest.time must be HH:MM (24-hour), not {dg.time!r}") from None
    try:
        ZoneInfo(dg.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"digest.timezone is not a known time zone: {dg.timezone!r}") from None
    if not 1 <= dg.top <= 25:
        raise ConfigError("digest.top must be between 1 and 25")
    if not 0 <= dg.complete_after_hours <= 48:
        raise ConfigError("digest.complete_after_hours must be between 0 and 48")
    cl = config.cluster
    if not 0.5 <= cl.heartbeat_seconds <= 10:
        # A process unseen for 30 s is gone: heartbeats must come well within that.
        raise ConfigError(
            f"cluster.heartbeat_seconds must be between 0.5 and 10, not {cl.heartbeat_seconds}"
        )
    if not 1 <= cl.lease_seconds <= 600:
        raise ConfigError(
            f"cluster.lease_seconds must be between 1 and 600, not {cl.lease_seconds}"
        )
    if config.logging.level.upper() not in _LOG_LEVELS:
        raise ConfigError(f"logging.level must be one of {sorted(_LOG_LEVELS)}")


def _validate_shards(d: DiscordConfig) -> None:
    if not 0 < d.identify_seconds <= 60:
        raise ConfigError(
            f"discord.identify_seconds must be above 0 and at most 60, not {d.identify_seconds}"
        )
    if d.shard_count is None:
        if d.shard_ids is not None:
            raise ConfigError(
                f"discord.shard_ids {list(d.shard_ids)} needs discord.shard_count"
                " (the number of shards across every process)"
            )
        return
    if not 1 <= d.shard_count <= 100_000:
        raise ConfigError(f"discord.shard_count must be between 1 and 100000, not {d.shard_count}")
    if d.shard_ids is None:
        return
    if not d.shard_ids:
        raise ConfigError("discord.shard_ids must name at least one shard (or be left out)")
    for shard in d.shard_ids:
        if not 0 <= shard < d.shard_count:
            raise ConfigError(
                f"discord.shard_ids: {shard} is not a shard of {d.shard_count}"
                f" (ids run from 0 to {d.shard_count - 1})"
            )
    repeated = sorted({s for s in d.shard_ids if d.shard_ids.count(s) > 1})
    if repeated:
        raise ConfigError(f"discord.shard_ids names shard {repeated[0]} twice")


def parse_hhmm(text: str) -> time:
    """Parse a 24-hour HH:MM time; ValueError otherwise."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise ValueError(text)
    return time(int(hours), int(minutes))

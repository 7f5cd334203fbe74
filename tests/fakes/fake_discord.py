"""A fake Discord (REST API + Gateway) on 127.0.0.1 that the real discord.py client logs into.

Point discord.py at it with ``point_discord_at(fake)`` (it sets ``discord.http.Route.BASE`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``), start the bot, then play users with
``invoke`` / ``autocomplete`` / ``click`` / ``select`` / ``submit_modal`` and assert on what the
fake recorded (``messages``, ``interaction_log``, ``violations``, ``requests`` ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import math
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Self

import discord
import pytest
import pytest_asyncio
import yarl
from aiohttp import BodyPartReader, WSMsgType, web

__all__ = [
    "Callback",
    "DiscordErrorCollector",
    "FakeChannel",
    "FakeDiscord",
    "FakeDiscordError",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "Intent",
    "Perm",
    "RecordedMessage",
    "RecordedRequest",
    "Violation",
    "capture_discord_errors",
    "caught_discord_errors",
    "fake_discord",
    "point_discord_at",
]

JSON = dict[str, Any]
API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000


class Perm(enum.IntFlag):
    """Discord permission bits the fake understands."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38


class Intent(enum.IntFlag):
    """Gateway intent bits the fake honours."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


ALL_PERMISSIONS = (1 << 51) - 1
PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT
EVERYONE_PERMISSIONS = (
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CONNECT
    | Perm.SPEAK
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)
BOT_ROLE_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)
ADMIN_ROLE_PERMISSIONS = Perm.MANAGE_GUILD | Perm.MANAGE_MESSAGES | Perm.MANAGE_THREADS
DM_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
)
# GATEWAY_PRESENCE_LIMITED | GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED
APPLICATION_FLAGS = (1 << 13) | (1 << 15) | (1 << 19)

EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
SILENT = 1 << 12
COMPONENTS_V2 = 1 << 15

TEXT, DM, CATEGORY, NEWS = 0, 1, 4, 5
NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD = 10, 11, 12
THREAD_TYPES = (NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {4, 5, 9},
    MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


class FakeDiscordError(AssertionError):
    """A test used the fake in a way a real Discord user could not (or the bot never answered)."""


def shard_of(guild_id: str | int | None, shard_count: int) -> int:
    """Discord's formula: the shard a guild's events go to (no guild: shard 0)."""
    return 0 if guild_id is None else (int(guild_id) >> 22) % shard_count


def _valid_shard(value: Any) -> tuple[int, int] | Literal[False] | None:
    """IDENTIFY's `shard` as (id, count); None when absent; False when Discord would close
    with 4010 (not two integers, a count below 1, an id outside 0..count-1)."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return False
    shard_id, count = value
    if count < 1 or not 0 <= shard_id < count:
        return False
    return shard_id, count


def _now_iso() -> str:
    """The current time as Discord's ISO-8601 timestamp."""
    return datetime.now(UTC).isoformat()


class _Snowflakes:
    """Strictly increasing snowflake strings, one millisecond apart (per worker id)."""

    def __init__(self, worker: int = 0) -> None:
        self._last_ms = 0
        self._worker = worker

    def next(self) -> str:
        """Return a new snowflake."""
        self._last_ms = max(int(time.time() * 1000) - DISCORD_EPOCH_MS, self._last_ms + 1)
        return str(self._last_ms << 22 | self._worker << 17)


# --------------------------------------------------------------------------------------- world


@dataclass(eq=False)
class FakeUser:
    """A Discord user: a person or the bot."""

    id: str
    name: str
    bot: bool = False

    def payload(self) -> JSON:
        """The user object as Discord sends it."""
        data: JSON = {
            "id": self.id,
            "username": self.name,
            "discriminator": "0",
            "global_name": None if self.bot else self.name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class FakeRole:
    """A guild role."""

    id: str
    name: str
    permissions: int
    position: int = 0
    bot_id: str | None = None

    def payload(self) -> JSON:
        """The role object as Discord sends it."""
        data: JSON = {
            "id": self.id,
            "name": self.name,
            "permissions": str(int(self.permissions)),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "managed": self.bot_id is not None,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": self.bot_id}
        return data


@dataclass(eq=False)
class FakeMember:
    """A user's membership in one guild."""

    user: FakeUser
    role_ids: list[str]
    joined_at: str

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> JSON:
        """The guild member object as Discord sends it."""
        data: JSON = {
            "roles": list(self.role_ids),
            "joined_at": self.joined_at,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(int(permissions))
        return data


@dataclass(eq=False)
class FakeChannel:
    """A guild text channel, thread, or DM channel."""

    id: str
    name: str
    type: int
    guild_id: str | None = None
    position: int = 0
    overwrites: list[JSON] = field(default_factory=list)
    parent_id: str | None = None
    owner_id: str | None = None
    recipients: list[FakeUser] = field(default_factory=list)
    topic: str | None = None
    created_at: str = field(default_factory=_now_iso)
    message_count: int = 0
    last_message_id: str | None = None

    @property
    def is_thread(self) -> bool:
        """Whether this is a thread."""
        return self.type in THREAD_TYPES

    def payload(self) -> JSON:
        """The channel object as Discord sends it."""
        if self.type == DM:
            return {
                "id": self.id,
                "type": DM,
                "last_message_id": self.last_message_id,
                "recipients": [u.payload() for u in self.recipients],
                "flags": 0,
            }
        if self.is_thread:
            return self._thread_payload()
        return {
            "id": self.id,
            "type": self.type,
            "guild_id": self.guild_id,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [dict(o) for o in self.overwrites],
            "parent_id": self.parent_id,
            "topic": self.topic,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "last_message_id": self.last_message_id,
            "flags": 0,
        }

    def _thread_payload(self) -> JSON:
        """The thread channel object as Discord sends it."""
        return {
            "id": self.id,
            "type": self.type,
            "guild_id": self.guild_id,
            "parent_id": self.parent_id,
            "owner_id": self.owner_id,
            "name": self.name,
            "last_message_id": self.last_message_id,
            "message_count": self.message_count,
            "member_count": 1,
            "total_message_sent": self.message_count,
            "rate_limit_per_user": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": self.created_at,
                "locked": False,
                "create_timestamp": self.created_at,
            },
        }


@dataclass(eq=False)
class FakeGuild:
    """A guild with its roles, channels (incl. threads) and members."""

    id: str
    name: str
    owner_id: str
    roles: dict[str, FakeRole] = field(default_factory=dict)
    channels: dict[str, FakeChannel] = field(default_factory=dict)
    members: dict[str, FakeMember] = field(default_factory=dict)
    admin_role_id: str | None = None
    bot_role_id: str | None = None

    def channel_named(self, name: str) -> FakeChannel:
        """The channel with this name (without '#')."""
        name = name.lstrip("#")
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        names = sorted(c.name for c in self.channels.values())
        raise FakeDiscordError(f"guild {self.name!r} has no channel #{name}; it has {names}")


def _apply_overwrite(perms: int, overwrite: JSON | None) -> int:
    """Apply one permission overwrite (deny, then allow)."""
    if overwrite is None:
        return perms
    return (perms & ~int(overwrite.get("deny", 0))) | int(overwrite.get("allow", 0))


def base_permissions(guild: FakeGuild, member: FakeMember) -> int:
    """Guild-level permissions of a member (owner and ADMINISTRATOR get everything)."""
    if member.user.id == guild.owner_id:
        return ALL_PERMISSIONS
    perms = guild.roles[guild.id].permissions
    for role_id in member.role_ids:
        perms |= guild.roles[role_id].permissions
    return ALL_PERMISSIONS if perms & Perm.ADMINISTRATOR else perms


def channel_permissions(guild: FakeGuild, member: FakeMember, channel: FakeChannel) -> int:
    """Permissions of a member in a channel, computed like Discord does (threads use the parent)."""
    perms = base_permissions(guild, member)
    if perms == ALL_PERMISSIONS:
        return perms
    target = (
        guild.channels[channel.parent_id] if channel.is_thread and channel.parent_id else channel
    )
    by_id = {o["id"]: o for o in target.overwrites}
    perms = _apply_overwrite(perms, by_id.get(guild.id))
    allow = deny = 0
    for role_id in member.role_ids:
        overwrite = by_id.get(role_id)
        if overwrite is not None and overwrite.get("type") == 0:
            allow |= int(overwrite.get("allow", 0))
            deny |= int(overwrite.get("deny", 0))
    perms = (perms & ~deny) | allow
    own = by_id.get(member.user.id)
    perms = _apply_overwrite(perms, own if own and own.get("type") == 1 else None)
    if not perms & Perm.VIEW_CHANNEL:
        return 0
    if not perms & Perm.SEND_MESSAGES:
        perms &= ~(
            Perm.SEND_TTS_MESSAGES | Perm.MENTION_EVERYONE | Perm.EMBED_LINKS | Perm.ATTACH_FILES
        )
    return perms


# ------------------------------------------------------------------------------------ records


@dataclass
class RecordedRequest:
    """One HTTP request the client made to the fake."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int = 0

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass(frozen=True)
class Violation:
    """A Discord rule the bot broke (the fake answered with Discord's error)."""

    description: str
    code: int | None = None
    status: int | None = None

    def __str__(self) -> str:
        return self.description


@dataclass(eq=False)
class RecordedMessage:
    """A message as stored by the fake; edits update it in place and keep the old versions."""

    id: str
    channel_id: str
    guild_id: str | None
    author: FakeUser
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    flags: int = 0
    allowed_mentions: JSON | None = None
    nonce: str | int | None = None
    attachments: list[JSON] = field(default_factory=list)
    message_reference: JSON | None = None
    kind: str = "channel"
    interaction_id: str | None = None
    interaction_metadata: JSON | None = None
    type: int = 0
    created_at: str = field(default_factory=_now_iso)
    edited_at: str | None = None
    deleted: bool = False
    reactions: list[str] = field(default_factory=list)
    history: list[JSON] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user sees it (flag 64)."""
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether it is still a deferred 'Bot is thinking...' placeholder."""
        return bool(self.flags & LOADING)

    @property
    def edited(self) -> bool:
        """Whether it was edited at least once."""
        return self.edited_at is not None

    @property
    def buttons(self) -> list[JSON]:
        """Every button component, in order, flattened out of rows/containers."""
        return [c for c in walk_components(self.components) if c.get("type") == 2]

    @property
    def custom_ids(self) -> list[str]:
        """The custom_id of every interactive component."""
        return [c["custom_id"] for c in walk_components(self.components) if "custom_id" in c]

    @property
    def text(self) -> str:
        """Content plus embed titles/descriptions/fields/footers, for loose assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            for fld in embed.get("fields") or []:
                parts += [fld.get("name") or "", fld.get("value") or ""]
            parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)

    def snapshot(self) -> JSON:
        """The editable fields as they are now."""
        return {
            "content": self.content,
            "embeds": list(self.embeds),
            "components": list(self.components),
            "flags": self.flags,
            "attachments": list(self.attachments),
        }

    def apply_edit(self, data: JSON) -> None:
        """Apply a PATCH payload (absent fields stay; null clears)."""
        self.history.append(self.snapshot())
        if "content" in data:
            self.content = data["content"] or ""
        for key in ("embeds", "components", "attachments"):
            if key in data:
                setattr(self, key, list(data[key] or []))
        if "allowed_mentions" in data:
            self.allowed_mentions = data["allowed_mentions"]
        if data.get("flags") is not None:
            keep = self.flags & (EPHEMERAL | COMPONENTS_V2)
            self.flags = keep | (int(data["flags"]) & (SUPPRESS_EMBEDS | COMPONENTS_V2))
        self.flags &= ~LOADING
        self.edited_at = _now_iso()

    def payload(self) -> JSON:
        """The message object as Discord sends it."""
        data: JSON = {
            "id": self.id,
            "channel_id": self.channel_id,
            "type": self.type,
            "content": self.content,
            "author": self.author.payload(),
            "timestamp": self.created_at,
            "edited_timestamp": self.edited_at,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": list(self.attachments),
            "embeds": list(self.embeds),
            "components": list(self.components),
            "pinned": False,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = self.guild_id
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.interaction_id is not None:
            data["webhook_id"] = data["application_id"] = self.author.id
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        return data


def walk_components(components: Iterable[JSON]) -> Iterator[JSON]:
    """Yield every component, descending into rows, sections, containers and labels."""
    for component in components:
        yield component
        yield from walk_components(component.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from walk_components([component[key]])


@dataclass
class Callback:
    """One accepted interaction callback: the bot's acknowledgement of an interaction."""

    type: int
    data: JSON
    message: RecordedMessage | None = None

    @property
    def content(self) -> str:
        """Message content sent with the callback."""
        return self.data.get("content") or ""

    @property
    def embeds(self) -> list[JSON]:
        """Embeds sent with the callback."""
        return list(self.data.get("embeds") or [])

    @property
    def components(self) -> list[JSON]:
        """Components sent with the callback."""
        return list(self.data.get("components") or [])

    @property
    def flags(self) -> int:
        """Message flags sent with the callback."""
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        """Whether the response is ephemeral (flag 64)."""
        return bool(self.flags & EPHEMERAL)

    @property
    def deferred(self) -> bool:
        """Whether it is a deferral (type 5 or 6)."""
        return self.type in (5, 6)

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices (type 8)."""
        return list(self.data.get("choices") or [])


class FakeInteraction:
    """An interaction the fake sent to the bot, and everything the bot answered to it."""

    def __init__(self, fake: FakeDiscord, payload: JSON, user: FakeUser, label: str) -> None:
        self.fake = fake
        self.payload = payload
        self.id: str = payload["id"]
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.user = user
        self.label = label
        self.channel_id: str = payload["channel_id"]
        self.guild_id: str | None = payload.get("guild_id")
        self.created_at = asyncio.get_running_loop().time()
        self.deadline = fake.ack_deadline
        self.callbacks: list[Callback] = []
        self.followup_messages: list[RecordedMessage] = []
        self.edits: list[JSON] = []
        self.rejected: list[Violation] = []
        self.original: RecordedMessage | None = None
        self.expired = False  # Discord's acknowledgement deadline has passed
        # (session id, shard) of each gateway session it was sent to
        self.sessions: list[tuple[str, tuple[int, int] | None]] = []
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<FakeInteraction {self.label} id={self.id} callbacks={len(self.callbacks)}>"

    @property
    def acknowledged(self) -> bool:
        """Whether the bot acknowledged it."""
        return bool(self.callbacks)

    async def response(self, timeout: float = 5.0) -> Callback:
        """Wait for the bot's first (accepted) callback."""

        def answered() -> bool:
            if not self.callbacks and self.rejected:
                rejected = "; ".join(map(str, self.rejected))
                raise FakeDiscordError(f"the bot's answer to {self.label} was rejected: {rejected}")
            return bool(self.callbacks)

        await self.fake.wait_for(answered, timeout, f"the bot's response to {self.label}")
        return self.callbacks[0]

    async def followups(self, n: int = 1, timeout: float = 5.0) -> list[RecordedMessage]:
        """Wait until the bot sent at least n follow-up messages; return the first n."""
        what = f"{n} follow-up(s) to {self.label}"
        await self.fake.wait_for(lambda: len(self.followup_messages) >= n, timeout, what)
        return self.followup_messages[:n]

    async def final_message(self, timeout: float = 5.0) -> RecordedMessage:
        """The response message as the user sees it once the bot filled in any deferral."""
        first = await self.response(timeout)
        if first.type in (8, 9):
            raise FakeDiscordError(f"{self.label} was answered with type {first.type}, no message")

        def settled() -> bool:
            if self.original is None:
                return False
            if first.type == 6:
                return bool(self.edits)
            return not self.original.loading

        await self.fake.wait_for(settled, timeout, f"the final message of {self.label}")
        assert self.original is not None
        return self.original

    async def choices(self, timeout: float = 5.0) -> list[JSON]:
        """The autocomplete choices the bot answered."""
        first = await self.response(timeout)
        if first.type != 8:
            raise FakeDiscordError(f"{self.label} was answered with type {first.type}, not 8")
        return first.choices


class DiscordErrorCollector(logging.Handler):
    """Collects ERROR records of the 'discord' loggers (exceptions in commands and views)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Store the record."""
        self.records.append(record)

    def messages(self) -> list[str]:
        """Formatted records, with tracebacks."""
        formatter = logging.Formatter("%(name)s: %(message)s")
        return [formatter.format(r) for r in self.records]

    def assert_clean(self) -> None:
        """Fail if discord.py logged any error."""
        if self.records:
            raise AssertionError("discord.py logged errors:\n" + "\n".join(self.messages()))


@contextlib.contextmanager
def capture_discord_errors(logger_name: str = "discord") -> Iterator[DiscordErrorCollector]:
    """Collect ERROR log records from the discord loggers while the block runs."""
    logger = logging.getLogger(logger_name)
    collector = DiscordErrorCollector()
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.ERROR:
        logger.setLevel(logging.ERROR)
    logger.addHandler(collector)
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.setLevel(old_level)


@contextlib.contextmanager
def point_discord_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at the fake; restore them afterwards."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


# ------------------------------------------------------------------------- validation helpers


class _ApiError(Exception):
    """An error response in Discord's JSON format."""

    def __init__(
        self, status: int, code: int, message: str, errors: JSON | None = None, why: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.why = why

    def body(self) -> JSON:
        """The JSON body Discord would send."""
        data: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


class _FormErrors:
    """Collects Discord 'Invalid Form Body' (50035) errors keyed by field path."""

    def __init__(self) -> None:
        self.tree: JSON = {}
        self.flat: list[str] = []

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        """Record one error at a field path."""
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
        self.flat.append(f"{'.'.join(map(str, path))}: {message}")

    def max_length(self, path: tuple[str | int, ...], value: Any, limit: int) -> None:
        """Record an error if a string or list is longer than the limit."""
        if isinstance(value, str | list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        """Raise the 400 50035 error if anything was recorded."""
        if self.tree:
            raise _ApiError(400, 50035, "Invalid Form Body", self.tree, "; ".join(self.flat))


def _dig(data: JSON, keys: tuple[str, ...]) -> Any:
    """data[k1][k2]... or None."""
    node: Any = data
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


EMBED_TEXT_LIMITS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("title",), 256),
    (("description",), 4096),
    (("footer", "text"), 2048),
    (("author", "name"), 256),
)


EMBED_LINKS = (("url",), ("author", "url"))
EMBED_IMAGES = (
    ("thumbnail", "url"),
    ("image", "url"),
    ("author", "icon_url"),
    ("footer", "icon_url"),
)


def _check_embed_url(errs: _FormErrors, path: tuple[str | int, ...], url: Any, image: bool) -> None:
    """Discord takes only absolute http(s) URLs in embeds (images may be attachment://)."""
    if not isinstance(url, str):
        return
    schemes = ("http", "https", "attachment") if image else ("http", "https")
    try:
        parsed: yarl.URL | None = yarl.URL(url)
    except ValueError:
        parsed = None
    if parsed is None or not parsed.scheme:
        errs.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    elif parsed.scheme not in schemes:
        errs.add(
            path,
            "URL_TYPE_INVALID_SCHEME",
            f'Scheme "{parsed.scheme}" is not supported. Scheme must be one of {schemes}.',
        )
    elif parsed.scheme != "attachment" and not parsed.host:
        errs.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    errs.max_length(path, url, 2048)


def _check_embed(errs: _FormErrors, index: int, embed: JSON) -> int:
    """Check one embed's limits and URLs; return its character count."""
    for keys in (*EMBED_LINKS, *EMBED_IMAGES):
        _check_embed_url(errs, ("embeds", index, *keys), _dig(embed, keys), keys in EMBED_IMAGES)
    size = 0
    for keys, limit in EMBED_TEXT_LIMITS:
        value = _dig(embed, keys)
        if isinstance(value, str):
            errs.max_length(("embeds", index, *keys), value, limit)
            size += len(value)
    fields = embed.get("fields") or []
    errs.max_length(("embeds", index, "fields"), fields, 25)
    for j, fld in enumerate(fields):
        for key, limit in (("name", 256), ("value", 1024)):
            value = fld.get(key)
            path = ("embeds", index, "fields", j, key)
            if not value:
                errs.add(path, "BASE_TYPE_REQUIRED", "This field is required")
                continue
            errs.max_length(path, value, limit)
            size += len(value)
    return size


def _check_component(
    errs: _FormErrors, path: tuple[str | int, ...], c: JSON, seen: set[str]
) -> None:
    """Check one interactive component."""
    custom_id = c.get("custom_id")
    if c.get("type") == 2:
        errs.max_length((*path, "label"), c.get("label") or "", 80)
        if c.get("style") == 5 and not c.get("url"):
            errs.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
        elif c.get("style") not in (5, 6) and not custom_id:
            errs.add((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
    if c.get("type") == 3:
        errs.max_length((*path, "options"), c.get("options") or [], 25)
    if custom_id is not None:
        errs.max_length((*path, "custom_id"), custom_id, 100)
        if custom_id in seen:
            errs.add(
                (*path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        seen.add(custom_id)


def _check_action_rows(errs: _FormErrors, rows: list[JSON]) -> None:
    """Check classic (non components-v2) message components."""
    errs.max_length(("components",), rows, 5)
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if row.get("type") != 1:
            errs.add(
                ("components", i, "type"),
                "UNION_TYPE_CHOICES",
                "Top-level components must be action rows unless IS_COMPONENTS_V2 is set.",
            )
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            errs.add(
                ("components", i, "components"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.",
            )
        if len(children) > 1 and any(c.get("type") != 2 for c in children):
            errs.add(
                ("components", i, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, child in enumerate(children):
            _check_component(errs, ("components", i, "components", j), child, seen)


def check_message(data: JSON) -> None:
    """Raise Discord's 400 50035 if a message payload breaks content/embed/component limits."""
    errs = _FormErrors()
    content = data.get("content") or ""
    errs.max_length(("content",), content, 2000)
    embeds = data.get("embeds") or []
    errs.max_length(("embeds",), embeds, 10)
    total = sum(_check_embed(errs, i, e) for i, e in enumerate(embeds))
    if total > 6000:
        errs.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    if int(data.get("flags") or 0) & COMPONENTS_V2:
        if content or embeds:
            errs.add(
                ("content",),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "The 'content' and 'embeds' fields cannot be used when using components v2",
            )
        seen: set[str] = set()
        for i, c in enumerate(walk_components(data.get("components") or [])):
            if "custom_id" in c:
                _check_component(errs, ("components", i), c, seen)
    else:
        _check_action_rows(errs, data.get("components") or [])
    nonce = data.get("nonce")
    if isinstance(nonce, str):
        errs.max_length(("nonce",), nonce, 25)
    errs.raise_if_any()


def check_not_empty(data: JSON, *, has_files: bool = False) -> None:
    """Raise Discord's 50006 for a message with nothing to show."""
    keys = ("content", "embeds", "components", "attachments", "sticker_ids", "poll")
    if not has_files and not any(data.get(k) for k in keys):
        raise _ApiError(400, 50006, "Cannot send an empty message")


def check_choices(data: JSON) -> None:
    """Raise 50035 for autocomplete choices over Discord's limits."""
    errs = _FormErrors()
    choices = data.get("choices") or []
    errs.max_length(("choices",), choices, 25)
    for i, choice in enumerate(choices):
        name = choice.get("name") or ""
        if not name:
            errs.add(("choices", i, "name"), "BASE_TYPE_REQUIRED", "This field is required")
        errs.max_length(("choices", i, "name"), name, 100)
        errs.max_length(("choices", i, "value"), choice.get("value"), 100)
    errs.raise_if_any()


def check_modal(data: JSON) -> None:
    """Raise 50035 for a modal over Discord's limits."""
    errs = _FormErrors()
    errs.max_length(("title",), data.get("title") or "", 45)
    errs.max_length(("custom_id",), data.get("custom_id") or "", 100)
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        errs.add(("components",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    errs.raise_if_any()


def _check_command_options(errs: _FormErrors, path: tuple, options: list[JSON]) -> None:
    """Check the options of one command or subcommand, recursively."""
    errs.max_length((*path, "options"), options, 25)
    names: set[str] = set()
    optional_seen = False
    for i, opt in enumerate(options):
        here = (*path, "options", i)
        name = opt.get("name") or ""
        if not COMMAND_NAME.match(name) or name != name.lower():
            errs.add((*here, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if name in names:
            errs.add((*here, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "dup")
        names.add(name)
        description = opt.get("description") or ""
        if not 1 <= len(description) <= 100:
            errs.add((*here, "description"), "BASE_TYPE_BAD_LENGTH", "Must be 1-100 in length.")
        errs.max_length((*here, "choices"), opt.get("choices") or [], 25)
        if opt.get("required"):
            if optional_seen:
                errs.add(
                    (*here, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        elif opt.get("type") not in (1, 2):
            optional_seen = True
        if opt.get("type") in (1, 2):
            _check_command_options(errs, here, opt.get("options") or [])


def check_commands(commands: Any) -> None:
    """Raise 50035 for a bulk-overwrite payload Discord would reject."""
    errs = _FormErrors()
    if not isinstance(commands, list):
        raise _ApiError(400, 50035, "Invalid Form Body", {"_errors": []}, "body must be a list")
    seen: set[tuple[str, int]] = set()
    for i, cmd in enumerate(commands):
        name, kind = cmd.get("name") or "", int(cmd.get("type") or 1)
        if kind == 1 and (not COMMAND_NAME.match(name) or name != name.lower()):
            errs.add((i, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if (name, kind) in seen:
            errs.add((i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate command name")
        seen.add((name, kind))
        if kind == 1:
            if not 1 <= len(cmd.get("description") or "") <= 100:
                errs.add((i, "description"), "BASE_TYPE_BAD_LENGTH", "Must be 1-100 in length.")
            _check_command_options(errs, (i,), cmd.get("options") or [])
    if sum(1 for c in commands if int(c.get("type") or 1) == 1) > 100:
        errs.add((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    errs.raise_if_any()


# ------------------------------------------------------------------------------ gateway state


@dataclass(eq=False)
class _Connection:
    """One websocket connection, with an ordered send queue."""

    ws: web.WebSocketResponse
    path: str
    queue: asyncio.Queue[JSON | None] = field(default_factory=asyncio.Queue)
    session: _Session | None = None
    writer: asyncio.Task[None] | None = None

    def send(self, payload: JSON) -> None:
        """Queue a payload for sending."""
        self.queue.put_nowait(payload)

    async def pump(self) -> None:
        """Send queued payloads as JSON text frames until told to stop."""
        while (payload := await self.queue.get()) is not None:
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(json.dumps(payload, separators=(",", ":")))
            except (ConnectionError, RuntimeError):
                return


@dataclass(eq=False)
class _Session:
    """A gateway session: sequence numbers and the backlog replayed on RESUME."""

    id: str
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    backlog: deque[JSON] = field(default_factory=lambda: deque(maxlen=20_000))
    conn: _Connection | None = None
    alive: bool = True

    def emit(self, event: str, data: JSON) -> None:
        """Send a dispatch event (or keep it for replay while disconnected)."""
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.backlog.append(payload)
        if self.conn is not None:
            self.conn.send(payload)

    def covers(self, guild_id: str | None) -> bool:
        """Whether this session's shard receives events of this guild (DMs go to shard 0)."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (int(guild_id) >> 22) % count == shard_id


@dataclass(frozen=True)
class IdentifyRecord:
    """One IDENTIFY the fake received: its shard (None: unsharded), its identify bucket, when
    (monotonic seconds), and whether it started a session (False: refused)."""

    shard: tuple[int, int] | None
    bucket: int
    at: float
    accepted: bool
    session_id: str | None = None


@dataclass(frozen=True)
class ResumeRecord:
    """One successful RESUME."""

    session_id: str
    seq: int
    replayed: int
    path: str


@dataclass
class _Forced429:
    """A pending forced rate limit."""

    route: str
    remaining: int
    retry_after: float
    global_: bool


@dataclass(frozen=True)
class _Where:
    """Where a user acts: guild (None in DMs), channel and the user's member."""

    user: FakeUser
    guild: FakeGuild | None
    channel: FakeChannel
    member: FakeMember | None


@dataclass
class _Call:
    """One REST call, routed."""

    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    json: Any
    files: list[JSON]


Handler = Callable[[_Call], Awaitable[web.Response]]


def _json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response with Content-Type exactly 'application/json' (discord.py requires it)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=body, status=status, headers=all_headers)


def _no_content() -> web.Response:
    """HTTP 204."""
    return web.Response(status=204)


# ------------------------------------------------------------------------------------- server


class FakeDiscord:
    """Fake Discord REST API and Gateway on 127.0.0.1 that a real discord.py client logs into."""

    def __init__(self, token: str = "test-token", *, bot_name: str = "paperboy") -> None:
        self._token = token
        self._ids = _Snowflakes()
        self._guild_ids = _Snowflakes(worker=1)  # consecutive ms: guilds round-robin over shards
        # knobs
        self.ack_deadline = 3.0
        self.interaction_token_ttl = 15 * 60.0
        self.nonce_window = 180.0
        self.heartbeat_interval_ms = 41_250
        self.global_rate_limit: int | None = None
        self.global_rate_window = 1.0
        self.allowed_privileged_intents = int(PRIVILEGED_INTENTS)
        self.recommended_shards = 1
        # Identify concurrency: each bucket (shard_id % max_concurrency) may IDENTIFY once per
        # `identify_window` seconds (Discord: 5 s); None leaves it unchecked. Going over is a
        # violation and is answered with op 9 INVALID_SESSION, as Discord does.
        self.max_concurrency = 1
        self.identify_window: float | None = None
        # A session holding more guilds than this is closed with 4011 (sharding required).
        self.max_guilds_per_session = 2500
        self.dm_refusing: set[str] = set()
        # Seconds each message create takes before Discord answers (a slow network or a busy
        # Discord): bounds how fast any client can post, whatever its own pacing.
        self.message_latency = 0.0
        # recordings
        self.requests: list[RecordedRequest] = []
        self.unknown_routes: list[str] = []
        self.violations: list[Violation] = []
        self.messages: list[RecordedMessage] = []
        self.interaction_log: list[FakeInteraction] = []
        self.identify_payloads: list[JSON] = []
        self.identifies: list[IdentifyRecord] = []
        self.resumes: list[ResumeRecord] = []
        self.gateway_connections: list[str] = []
        self.gateway_ops: list[JSON] = []
        self.rate_limited: list[RecordedRequest] = []
        self.global_429s = 0
        self.sync_count: Counter[str] = Counter()
        self.commands: dict[str, list[JSON]] = {}
        self.uploads: dict[str, bytes] = {}  # attachment id -> the bytes uploaded
        # runtime
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._interactions: dict[str, FakeInteraction] = {}
        self._by_token: dict[str, FakeInteraction] = {}
        self._messages_by_id: dict[str, RecordedMessage] = {}
        self._nonces: dict[tuple[str, str], tuple[float, RecordedMessage]] = {}
        self._command_ids: dict[tuple[str, str, int], str] = {}
        self._forced: list[_Forced429] = []
        self._recent: deque[float] = deque()
        self._last_identify: dict[int, float] = {}  # bucket -> when its last session started
        self._change = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self._routes = self._route_table()
        # world
        self.users: dict[str, FakeUser] = {}
        self.guilds: dict[str, FakeGuild] = {}
        self._channels: dict[str, FakeChannel] = {}
        self._dm_by_user: dict[str, str] = {}
        self.bot_user = self.add_user(bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.owner = self.add_user("owner")
        self.guild_id = self.add_guild("Paper Club")
        for name in ("general", "papers", "vision"):
            self.add_text_channel(self.guild_id, name)
        self.add_text_channel(self.guild_id, "readonly", bot_can_send=False)
        self.admin = self.add_member(self.guild_id, "admin", admin=True)
        self.alice = self.add_member(self.guild_id, "alice")
        self.bob = self.add_member(self.guild_id, "bob")

    # ---------------------------------------------------------------- lifecycle & properties

    async def start(self) -> Self:
        """Start serving on a random free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/gateway/resume", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        app.router.add_route("*", "/{tail:.*}", self._outside_api)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Close every connection and stop the server."""
        for inter in self.interaction_log:
            if inter._timer is not None:
                inter._timer.cancel()
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake discord closing")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def token(self) -> str:
        """The bot token the fake accepts."""
        return self._token

    @property
    def bot_user_id(self) -> str:
        """The bot's user id (equal to the application id, as for modern Discord apps)."""
        return self.bot_user.id

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT."""
        if not self._port:
            raise RuntimeError("FakeDiscord is not started; await fake.start() first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base_url(self) -> str:
        """Value for discord.http.Route.BASE."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """Value for DiscordWebSocket.DEFAULT_GATEWAY (wrap it in yarl.URL)."""
        return self.base_url.replace("http://", "ws://") + "/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """The resume_gateway_url sent in READY (a distinct path, so tests can see it used)."""
        return self.gateway_url + "/resume"

    @property
    def guild(self) -> FakeGuild:
        """The default guild, "Paper Club"."""
        return self.guilds[self.guild_id]

    # ------------------------------------------------------------------------------ world

    def add_user(self, name: str, *, bot: bool = False) -> FakeUser:
        """Create a user who is in no guild yet."""
        user = FakeUser(self._ids.next(), name, bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self, name: str, *, owner: FakeUser | None = None, shard: tuple[int, int] | None = None
    ) -> str:
        """Create a guild (the bot is a member, with its managed role); return its id.
        `shard` (id, count): an id that Discord's formula puts on that shard."""
        guild_id = self._guild_ids.next()
        while shard is not None and shard_of(guild_id, shard[1]) != shard[0]:
            guild_id = self._guild_ids.next()
        owner = owner or self.owner
        guild = FakeGuild(guild_id, name, owner.id)
        guild.roles[guild_id] = FakeRole(guild_id, "@everyone", int(EVERYONE_PERMISSIONS))
        bot_role = FakeRole(self._ids.next(), self.bot_user.name, int(BOT_ROLE_PERMISSIONS), 1)
        bot_role.bot_id = self.bot_user.id
        guild.roles[bot_role.id] = bot_role
        guild.bot_role_id = bot_role.id
        self.guilds[guild_id] = guild
        self._join(guild, self.bot_user, [bot_role.id])
        self._join(guild, owner, [])
        if self._sessions:
            self._dispatch_guild_create(guild)
        return guild_id

    def add_text_channel(
        self, guild_id: str | int, name: str, bot_can_send: bool = True, *, topic: str | None = None
    ) -> str:
        """Create a text channel; bot_can_send=False denies the bot SEND_MESSAGES there."""
        guild = self._guild(guild_id)
        overwrites: list[JSON] = []
        if not bot_can_send:
            deny = str(int(Perm.SEND_MESSAGES))
            overwrites.append({"id": self.bot_user.id, "type": 1, "allow": "0", "deny": deny})
        channel = FakeChannel(
            self._ids.next(), name.lstrip("#"), TEXT, guild.id, len(guild.channels), overwrites
        )
        channel.topic = topic
        guild.channels[channel.id] = channel
        self._channels[channel.id] = channel
        self.dispatch("CHANNEL_CREATE", channel.payload(), guild_id=guild.id, intent=Intent.GUILDS)
        return channel.id

    def add_member(self, guild_id: str | int, name: str, admin: bool = False) -> FakeUser:
        """Create a user who is a member of the guild (admin=True gives the Admin role)."""
        guild = self._guild(guild_id)
        user = self.add_user(name)
        roles = [self._admin_role(guild)] if admin else []
        member = self._join(guild, user, roles)
        data = member.payload() | {"guild_id": guild.id}
        self.dispatch("GUILD_MEMBER_ADD", data, guild_id=guild.id, intent=Intent.GUILD_MEMBERS)
        return user

    def add_role(self, guild_id: str | int, name: str, permissions: int = 0) -> str:
        """Create a role (GUILD_ROLE_CREATE); return its id."""
        guild = self._guild(guild_id)
        role = FakeRole(self._ids.next(), name, int(permissions), len(guild.roles))
        guild.roles[role.id] = role
        data = {"guild_id": guild.id, "role": role.payload()}
        self.dispatch("GUILD_ROLE_CREATE", data, guild_id=guild.id, intent=Intent.GUILDS)
        return role.id

    def set_roles(
        self, guild_id: str | int, user: FakeUser | str | int, role_ids: list[str]
    ) -> None:
        """Give a member exactly these roles (GUILD_MEMBER_UPDATE, a members-intent event)."""
        guild = self._guild(guild_id)
        member = self.member(guild.id, user)
        member.role_ids = list(role_ids)
        data = member.payload() | {"guild_id": guild.id}
        self.dispatch("GUILD_MEMBER_UPDATE", data, guild_id=guild.id, intent=Intent.GUILD_MEMBERS)

    def remove_member(self, guild_id: str | int, user: FakeUser | str | int) -> None:
        """The user leaves the guild (GUILD_MEMBER_REMOVE, a members-intent event)."""
        guild = self._guild(guild_id)
        member = guild.members.pop(self.member(guild.id, user).user.id)
        data = {"guild_id": guild.id, "user": member.user.payload()}
        self.dispatch("GUILD_MEMBER_REMOVE", data, guild_id=guild.id, intent=Intent.GUILD_MEMBERS)

    def set_overwrite(
        self, channel: str | int, target_id: str, *, allow: int = 0, deny: int = 0, member: bool
    ) -> None:
        """Set a channel's overwrite for a role or member (CHANNEL_UPDATE)."""
        target = self.channel(channel)
        kept = [o for o in target.overwrites if o["id"] != target_id]
        overwrite = {"id": target_id, "type": int(member), "allow": str(allow), "deny": str(deny)}
        target.overwrites = [*kept, overwrite]
        self.dispatch(
            "CHANNEL_UPDATE", target.payload(), guild_id=target.guild_id, intent=Intent.GUILDS
        )

    def channel(self, channel: str | int, guild_id: str | int | None = None) -> FakeChannel:
        """A channel by id, or by name in the given (default) guild."""
        key = str(channel)
        if key in self._channels:
            return self._channels[key]
        if key.isdigit():
            raise FakeDiscordError(f"no channel with id {key}")
        return self._guild(guild_id or self.guild_id).channel_named(key)

    def channel_id(self, name: str, guild_id: str | int | None = None) -> str:
        """The id of a channel by name (default guild unless given)."""
        return self.channel(name, guild_id).id

    def user(self, user: FakeUser | str | int) -> FakeUser:
        """A user by object or id."""
        if isinstance(user, FakeUser):
            return user
        try:
            return self.users[str(user)]
        except KeyError:
            raise FakeDiscordError(f"no user with id {user}") from None

    def member(self, guild_id: str | int, user: FakeUser | str | int) -> FakeMember:
        """A user's membership in a guild."""
        guild, user = self._guild(guild_id), self.user(user)
        try:
            return guild.members[user.id]
        except KeyError:
            raise FakeDiscordError(f"{user.name} is not a member of {guild.name!r}") from None

    def permissions_in(self, user: FakeUser | str | int, channel: str | int) -> int:
        """A user's permissions in a channel, as Discord computes them."""
        target = self.channel(channel)
        if target.guild_id is None:
            return int(DM_PERMISSIONS)
        guild = self.guilds[target.guild_id]
        return channel_permissions(guild, self.member(guild.id, user), target)

    def dm_channel_id(self, user: FakeUser | str | int) -> str:
        """The bot's DM channel with a user (created on first use)."""
        user = self.user(user)
        if user.id not in self._dm_by_user:
            channel = FakeChannel(self._ids.next(), "", DM, recipients=[user])
            self._channels[channel.id] = channel
            self._dm_by_user[user.id] = channel.id
        return self._dm_by_user[user.id]

    def _guild(self, guild_id: str | int) -> FakeGuild:
        """A guild by id."""
        try:
            return self.guilds[str(guild_id)]
        except KeyError:
            raise FakeDiscordError(f"no guild with id {guild_id}") from None

    def _join(self, guild: FakeGuild, user: FakeUser, role_ids: list[str]) -> FakeMember:
        """Add a membership."""
        member = FakeMember(user, role_ids, _now_iso())
        guild.members[user.id] = member
        return member

    def _admin_role(self, guild: FakeGuild) -> str:
        """The guild's Admin role (MANAGE_GUILD), created on first use."""
        if guild.admin_role_id is None:
            role = FakeRole(self._ids.next(), "Admin", int(ADMIN_ROLE_PERMISSIONS), 2)
            guild.roles[role.id] = role
            guild.admin_role_id = role.id
        return guild.admin_role_id

    def _bot_perms(self, channel: FakeChannel) -> int:
        """The bot's permissions in a channel."""
        if channel.guild_id is None:
            return int(DM_PERMISSIONS)
        guild = self.guilds[channel.guild_id]
        return channel_permissions(guild, guild.members[self.bot_user.id], channel)

    # --------------------------------------------------------------------------- recording

    def messages_in(
        self, channel: str | int, *, include_ephemeral: bool = False, include_deleted: bool = False
    ) -> list[RecordedMessage]:
        """Messages in a channel (by id or name), oldest first."""
        channel_id = self.channel(channel).id
        return [
            m
            for m in self.messages
            if m.channel_id == channel_id
            and (include_ephemeral or not m.ephemeral)
            and (include_deleted or not m.deleted)
        ]

    def attachment_bytes(self, attachment: JSON) -> bytes:
        """What the bot uploaded as this attachment of a recorded message."""
        return self.uploads[attachment["id"]]

    def dms_to(self, user: FakeUser | str | int) -> list[RecordedMessage]:
        """Messages the bot sent to a user's DM channel."""
        channel_id = self._dm_by_user.get(self.user(user).id)
        return [m for m in self.messages if m.channel_id == channel_id and not m.deleted]

    def interaction(self, interaction_id: str | int) -> FakeInteraction:
        """An interaction by id."""
        return self._interactions[str(interaction_id)]

    def assert_clean(self) -> None:
        """Fail if the bot broke a Discord rule or used a route the fake does not know."""
        problems = [str(v) for v in self.violations]
        problems += [f"unknown route {r}" for r in self.unknown_routes]
        if problems:
            raise AssertionError("fake Discord saw problems:\n" + "\n".join(problems))

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,
        what: str = "a condition",
    ) -> None:
        """Wait until predicate() is true; re-checked on every recorded change (or 20 ms)."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._change.wait(), 0.02)
        except TimeoutError:
            details = f"violations={[str(v) for v in self.violations]}"
            details += f", unknown_routes={self.unknown_routes}"
            raise TimeoutError(
                f"timed out after {timeout}s waiting for {what}; {details}"
            ) from None

    def _notify(self) -> None:
        """Wake everything waiting in wait_for."""
        event, self._change = self._change, asyncio.Event()
        event.set()

    def _violate(
        self, description: str, code: int | None = None, status: int | None = None
    ) -> None:
        """Record a broken Discord rule."""
        violation = Violation(description, code, status)
        self.violations.append(violation)
        self._notify()

    # ---------------------------------------------------------------------------- rate limits

    def force_429(
        self, route_substring: str, count: int = 1, retry_after: float = 0.1, global_: bool = False
    ) -> None:
        """Answer the next `count` requests whose "METHOD /path" contains the substring with 429."""
        self._forced.append(_Forced429(route_substring, count, retry_after, global_))

    def _rate_limit(self, method: str, path: str, bot_route: bool) -> web.Response | None:
        """A 429 response if a forced or global rate limit applies, else None."""
        key = f"{method} {path}"
        for forced in self._forced:
            if forced.remaining > 0 and forced.route in key:
                forced.remaining -= 1
                return self._too_many(forced.retry_after, forced.global_)
        if self.global_rate_limit is None or not bot_route:
            return None
        now = time.monotonic()
        window = self.global_rate_window
        while self._recent and now - self._recent[0] >= window:
            self._recent.popleft()
        if len(self._recent) >= self.global_rate_limit:
            self.global_429s += 1
            retry_after = max(0.001, round(window - (now - self._recent[0]), 3))
            return self._too_many(retry_after, True)
        self._recent.append(now)
        return None

    def _too_many(self, retry_after: float, global_: bool) -> web.Response:
        """Discord's 429, with the Via header discord.py needs to trust it."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
        }
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": "global" if global_ else "user",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        return _json_response(body, 429, headers)

    # ------------------------------------------------------------------------------- gateway

    def dispatch(
        self, event: str, data: JSON, *, guild_id: str | None = None, intent: int = 0
    ) -> int:
        """Send a dispatch event to every live session covering the guild; return how many."""
        sessions = [
            s
            for s in self._sessions.values()
            if s.alive and s.covers(guild_id) and (not intent or s.intents & intent)
        ]
        for session in sessions:
            session.emit(event, data)
        return len(sessions)

    def _covering(self, guild_id: str | None) -> list[tuple[str, tuple[int, int] | None]]:
        """(session id, shard) of every live session that receives this guild's events."""
        return [(s.id, s.shard) for s in self._sessions.values() if s.alive and s.covers(guild_id)]

    def sessions_of(self, shard: tuple[int, int] | None) -> list[str]:
        """The ids of the live sessions holding a shard (None: unsharded sessions)."""
        return [s.id for s in self._sessions.values() if s.alive and s.shard == shard]

    async def drop_gateway(self, close_code: int = 4000, *, resumable: bool = True) -> int:
        """Close every gateway connection with close_code; sessions stay resumable unless told."""
        connections = list(self._connections)
        for conn in connections:
            if conn.session is not None:
                conn.session.alive = conn.session.alive and resumable
                conn.session.conn = None
                conn.session = None
            await conn.ws.close(code=close_code, message=b"dropped by fake")
        return len(connections)

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT on every connection (the client should resume)."""
        for conn in self._connections:
            conn.send({"op": 7, "d": None, "s": None, "t": None})

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """The gateway websocket: HELLO, then IDENTIFY/RESUME/heartbeats."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws, request.path_qs)
        self.gateway_connections.append(request.path_qs)
        self._connections.add(conn)
        conn.writer = asyncio.create_task(conn.pump())
        conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
        finally:
            self._connections.discard(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if ws.close_code in (1000, 1001):
                    session.alive = False
            conn.queue.put_nowait(None)
            await asyncio.gather(conn.writer, return_exceptions=True)
        return ws

    async def _on_gateway_message(self, conn: _Connection, msg: JSON) -> None:
        """Handle one client opcode."""
        op, data = msg.get("op"), msg.get("d")
        if op == 1:
            conn.send({"op": 11, "d": None})
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            self._request_members(conn, data or {})
        else:
            self.gateway_ops.append(msg)

    async def _identify(self, conn: _Connection, data: JSON) -> None:
        """IDENTIFY: validate, then READY and one GUILD_CREATE per guild."""
        if data.get("token") != self._token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        if "intents" not in data:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        intents = int(data["intents"])
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.identify_payloads.append(data)
        shard = _valid_shard(data.get("shard"))
        if shard is False:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        bucket = (shard[0] if shard else 0) % max(1, self.max_concurrency)
        now = time.monotonic()
        last = self._last_identify.get(bucket)
        window = self.identify_window
        if window is not None and last is not None and now - last < window:
            self.identifies.append(IdentifyRecord(shard, bucket, now, False))
            self._violate(
                f"IDENTIFY of shard {shard} in bucket {bucket} {now - last:.3f}s after the"
                f" bucket's last one (at most {self.max_concurrency} per"
                f" {self.identify_window}s, one per bucket)"
            )
            conn.send({"op": 9, "d": False})
            return
        session = _Session(secrets.token_hex(16), intents, shard)
        guilds = [g for g in self.guilds.values() if session.covers(g.id)]
        if len(guilds) > self.max_guilds_per_session:
            await conn.ws.close(code=4011, message=b"Sharding required.")
            return
        self._last_identify[bucket] = now
        self.identifies.append(IdentifyRecord(shard, bucket, now, True, session.id))
        self._sessions[session.id] = session
        conn.session, session.conn = session, conn
        self._notify()
        session.emit("READY", self._ready_payload(session, guilds))
        if intents & Intent.GUILDS:
            for guild in guilds:
                session.emit("GUILD_CREATE", self._guild_payload(guild, intents))

    def _ready_payload(self, session: _Session, guilds: list[FakeGuild]) -> JSON:
        """The READY event."""
        user = self.bot_user.payload() | {"verified": True, "mfa_enabled": False, "flags": 0}
        ready: JSON = {
            "v": 10,
            "user": user,
            "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": self.application_id, "flags": APPLICATION_FLAGS},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["fake-discord"],
        }
        if session.shard is not None:
            ready["shard"] = list(session.shard)
        return ready

    def _guild_payload(self, guild: FakeGuild, intents: int) -> JSON:
        """GUILD_CREATE data; without GUILD_PRESENCES only the bot's own member is included."""
        everyone = bool(intents & Intent.GUILD_PRESENCES)
        members = [
            m.payload() for m in guild.members.values() if everyone or m.user.id == self.bot_user.id
        ]
        channels = list(guild.channels.values())
        return {
            "id": guild.id,
            "name": guild.name,
            "icon": None,
            "splash": None,
            "owner_id": guild.owner_id,
            "roles": [r.payload() for r in guild.roles.values()],
            "channels": [c.payload() for c in channels if not c.is_thread],
            "threads": [c.payload() for c in channels if c.is_thread],
            "members": members,
            "member_count": len(guild.members),
            "large": len(guild.members) >= 250,
            "unavailable": False,
            "joined_at": guild.members[self.bot_user.id].joined_at,
            "features": [],
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "description": None,
            "max_members": 500_000,
        }

    def _dispatch_guild_create(self, guild: FakeGuild) -> None:
        """GUILD_CREATE for a guild added while the bot is connected (the bot joined it)."""
        for session in self._sessions.values():
            if session.alive and session.covers(guild.id) and session.intents & Intent.GUILDS:
                session.emit("GUILD_CREATE", self._guild_payload(guild, session.intents))

    async def _resume(self, conn: _Connection, data: JSON) -> None:
        """RESUME: replay what the client missed, then RESUMED; or op 9 if not resumable."""
        session = self._sessions.get(data.get("session_id") or "")
        if session is None or not session.alive or data.get("token") != self._token:
            conn.send({"op": 9, "d": False})
            return
        old = session.conn
        if old is not None and old is not conn:
            old.session = None
            closing = old.ws.close(code=4009, message=b"Session resumed elsewhere")
            task = asyncio.create_task(closing)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        conn.session, session.conn = session, conn
        last = int(data.get("seq") or 0)
        missed = [p for p in session.backlog if p["s"] > last]
        for payload in missed:
            conn.send(payload)
        self.resumes.append(ResumeRecord(session.id, last, len(missed), conn.path))
        session.emit("RESUMED", {"_trace": ["fake-discord"]})
        self._notify()

    def _request_members(self, conn: _Connection, data: JSON) -> None:
        """REQUEST_GUILD_MEMBERS (op 8): answer with GUILD_MEMBERS_CHUNK events."""
        guild = self.guilds.get(str(data.get("guild_id")))
        if guild is None or conn.session is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {str(u) for u in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        elif data.get("query"):
            query = str(data["query"]).lower()
            members = [m for m in members if m.user.name.lower().startswith(query)]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunks = [members[i : i + 1000] for i in range(0, len(members), 1000)] or [[]]
        for index, chunk in enumerate(chunks):
            event: JSON = {
                "guild_id": guild.id,
                "members": [m.payload() for m in chunk],
                "chunk_index": index,
                "chunk_count": len(chunks),
                "not_found": [],
            }
            if data.get("nonce"):
                event["nonce"] = data["nonce"]
            conn.session.emit("GUILD_MEMBERS_CHUNK", event)

    # ---------------------------------------------------------------------------------- REST

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler, bool]]:
        """(method, path regex, handler, needs bot auth)."""
        c = r"/channels/(?P<channel_id>\d+)"
        m = c + r"/messages/(?P<message_id>\d+)"
        app = r"/applications/(?P<app_id>\d+)"
        hook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        g = r"/guilds/(?P<guild_id>\d+)"
        table: list[tuple[str, str, Handler, bool]] = [
            ("GET", r"/users/@me", self._get_me, True),
            ("GET", r"/users/(?P<user_id>\d+)", self._get_user, True),
            ("POST", r"/users/@me/channels", self._create_dm, True),
            ("GET", r"/oauth2/applications/@me", self._get_application, True),
            ("GET", r"/applications/@me", self._get_application, True),
            ("GET", r"/gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", self._get_gateway, True),
            ("GET", app + r"/commands", self._get_commands, True),
            ("PUT", app + r"/commands", self._put_commands, True),
            ("GET", app + g + r"/commands", self._get_commands, True),
            ("PUT", app + g + r"/commands", self._put_commands, True),
            ("GET", g, self._get_guild, True),
            ("GET", g + r"/channels", self._get_guild_channels, True),
            ("GET", g + r"/members/(?P<user_id>\d+)", self._get_member, True),
            ("GET", c, self._get_channel, True),
            ("POST", c + r"/messages", self._post_message, True),
            ("POST", c + r"/typing", self._typing, True),
            ("POST", c + r"/threads", self._create_thread, True),
            ("GET", m, self._get_message, True),
            ("PATCH", m, self._edit_message, True),
            ("DELETE", m, self._delete_message, True),
            ("POST", m + r"/threads", self._create_thread, True),
            ("PUT", m + r"/reactions/(?P<emoji>[^/]+)/@me", self._add_reaction, True),
            ("DELETE", m + r"/reactions/(?P<emoji>[^/]+)/@me", self._remove_reaction, True),
            ("POST", r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
             self._interaction_callback, False),
            ("POST", hook, self._followup, False),
            ("GET", hook + r"/messages/(?P<message_id>@original|\d+)", self._get_webhook_message,
             False),
            ("PATCH", hook + r"/messages/(?P<message_id>@original|\d+)",
             self._edit_webhook_message, False),
            ("DELETE", hook + r"/messages/(?P<message_id>@original|\d+)",
             self._delete_webhook_message, False),
        ]  # fmt: skip
        return [(method, re.compile(path), h, auth) for method, path, h, auth in table]

    def _match(self, method: str, path: str) -> tuple[Handler, dict[str, str], bool] | None:
        """Find the handler of a route."""
        for route_method, pattern, handler, auth in self._routes:
            found = pattern.fullmatch(path)
            if found and route_method == method:
                return handler, found.groupdict(), auth
        return None

    async def _outside_api(self, request: web.Request) -> web.Response:
        """Anything outside /api/v10 (wrong Route.BASE?)."""
        self.unknown_routes.append(f"{request.method} {request.path}")
        self._notify()
        return _json_response({"message": "Unknown route (fake)", "code": 0}, 404)

    async def _rest(self, request: web.Request) -> web.Response:
        """Entry point of every REST call: record, authenticate, rate limit, route."""
        path = request.path[len(API_PREFIX) :]
        body, files = await self._read_body(request)
        record = RecordedRequest(request.method, path, dict(request.query), body)
        self.requests.append(record)
        response = await self._answer(request, record, files)
        record.status = response.status
        if response.status == 429:
            self.rate_limited.append(record)
        self._notify()
        return response

    async def _answer(
        self, request: web.Request, record: RecordedRequest, files: list[JSON]
    ) -> web.Response:
        """Produce the response for one REST call."""
        method, path = record.method, record.path
        route = self._match(method, path)
        if route is None:
            self.unknown_routes.append(f"{method} {path}")
            return _json_response({"message": "Unknown route (fake)", "code": 0}, 404)
        handler, params, needs_auth = route
        if needs_auth and request.headers.get("Authorization") != f"Bot {self._token}":
            return _json_response({"message": "401: Unauthorized", "code": 0}, 401)
        limited = self._rate_limit(method, path, needs_auth)
        if limited is not None:
            return limited
        call = _Call(method, path, params, request.query, record.json, files)
        try:
            return await handler(call)
        except _ApiError as error:
            why = f" ({error.why})" if error.why else ""
            self._violate(
                f"{method} {path}: {error.status} {error.code} {error.message}{why}",
                error.code,
                error.status,
            )
            return _json_response(error.body(), error.status)

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[JSON]]:
        """The JSON body (also from multipart payload_json) and uploaded files."""
        if request.content_type == "application/json":
            raw = await request.read()
            return (json.loads(raw) if raw else None), []
        if not request.content_type.startswith("multipart/"):
            return None, []
        payload: Any = None
        files: list[JSON] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            else:
                content = bytes(await part.read())
                files.append(
                    {
                        "name": part.name,
                        "filename": part.filename,
                        "size": len(content),
                        "content": content,
                    }
                )
        return payload, files

    # ------------------------------------------------------------------- REST: users & app

    async def _get_me(self, call: _Call) -> web.Response:
        """GET /users/@me."""
        extra = {"verified": True, "mfa_enabled": False, "flags": 0, "email": None, "bio": ""}
        return _json_response(self.bot_user.payload() | extra)

    async def _get_user(self, call: _Call) -> web.Response:
        """GET /users/{id}."""
        user = self.users.get(call.params["user_id"])
        if user is None:
            raise _ApiError(404, 10013, "Unknown User")
        return _json_response(user.payload())

    async def _get_application(self, call: _Call) -> web.Response:
        """GET /oauth2/applications/@me."""
        return _json_response(
            {
                "id": self.application_id,
                "name": self.bot_user.name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": APPLICATION_FLAGS,
                "owner": self.owner.payload(),
                "team": None,
                "bot": self.bot_user.payload(),
                "rpc_origins": [],
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.guilds),
            }
        )

    async def _get_gateway(self, call: _Call) -> web.Response:
        """GET /gateway and /gateway/bot."""
        data: JSON = {"url": self.gateway_url}
        if call.path.endswith("/bot"):
            data["shards"] = self.recommended_shards
            data["session_start_limit"] = {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 0,
                "max_concurrency": self.max_concurrency,
            }
        return _json_response(data)

    async def _create_dm(self, call: _Call) -> web.Response:
        """POST /users/@me/channels: open (or reuse) the DM channel with a user."""
        recipient = str((call.json or {}).get("recipient_id"))
        if recipient not in self.users:
            raise _ApiError(400, 50033, "Invalid Recipient(s)")
        return _json_response(self._channels[self.dm_channel_id(recipient)].payload())

    # -------------------------------------------------------------------------- REST: commands

    def _command_scope(self, call: _Call) -> str:
        """'global' or the guild id of a commands route; checks the application id."""
        if call.params["app_id"] != self.application_id:
            raise _ApiError(404, 10002, "Unknown Application")
        guild_id = call.params.get("guild_id")
        if guild_id is None:
            return "global"
        if guild_id not in self.guilds:
            raise _ApiError(403, 50001, "Missing Access")
        return guild_id

    async def _get_commands(self, call: _Call) -> web.Response:
        """GET the registered commands of a scope."""
        return _json_response(self.commands.get(self._command_scope(call), []))

    async def _put_commands(self, call: _Call) -> web.Response:
        """PUT (bulk overwrite) the commands of a scope; ids stay stable per name and type."""
        scope = self._command_scope(call)
        check_commands(call.json)
        stored = []
        for cmd in call.json:
            kind = int(cmd.get("type") or 1)
            key = (scope, cmd["name"], kind)
            command_id = self._command_ids.setdefault(key, self._ids.next())
            entry = cmd | {
                "id": command_id,
                "application_id": self.application_id,
                "version": self._ids.next(),
                "type": kind,
                "default_member_permissions": cmd.get("default_member_permissions"),
            }
            if scope != "global":
                entry["guild_id"] = scope
            stored.append(entry)
        self.commands[scope] = stored
        self.sync_count[scope] += 1
        return _json_response(stored)

    # ---------------------------------------------------------------- REST: guilds & channels

    def _known_guild(self, call: _Call) -> FakeGuild:
        """The guild of a route, or 404 10004."""
        guild = self.guilds.get(call.params["guild_id"])
        if guild is None:
            raise _ApiError(404, 10004, "Unknown Guild")
        return guild

    async def _get_guild(self, call: _Call) -> web.Response:
        """GET /guilds/{id} (no channels/members, like Discord's REST guild)."""
        guild = self._known_guild(call)
        data = self._guild_payload(guild, 0)
        for key in ("channels", "threads", "members", "joined_at", "large", "member_count"):
            data.pop(key, None)
        if call.query.get("with_counts") in ("true", "1"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = 0
        return _json_response(data)

    async def _get_guild_channels(self, call: _Call) -> web.Response:
        """GET /guilds/{id}/channels."""
        guild = self._known_guild(call)
        return _json_response([c.payload() for c in guild.channels.values() if not c.is_thread])

    async def _get_member(self, call: _Call) -> web.Response:
        """GET /guilds/{id}/members/{user}."""
        member = self._known_guild(call).members.get(call.params["user_id"])
        if member is None:
            raise _ApiError(404, 10007, "Unknown Member")
        return _json_response(member.payload())

    def _known_channel(self, call: _Call) -> FakeChannel:
        """The channel of a route that the bot can see, or Discord's error."""
        channel = self._channels.get(call.params["channel_id"])
        if channel is None:
            raise _ApiError(404, 10003, "Unknown Channel")
        if not self._bot_perms(channel) & Perm.VIEW_CHANNEL:
            raise _ApiError(403, 50001, "Missing Access")
        return channel

    def _known_message(self, call: _Call) -> tuple[FakeChannel, RecordedMessage]:
        """The channel and message of a route, or Discord's error."""
        channel = self._known_channel(call)
        message = self._messages_by_id.get(call.params["message_id"])
        if (
            message is None
            or message.channel_id != channel.id
            or message.deleted
            or message.ephemeral
        ):
            raise _ApiError(404, 10008, "Unknown Message")
        return channel, message

    async def _get_channel(self, call: _Call) -> web.Response:
        """GET /channels/{id}."""
        return _json_response(self._known_channel(call).payload())

    async def _typing(self, call: _Call) -> web.Response:
        """POST /channels/{id}/typing."""
        self._known_channel(call)
        return _no_content()

    # -------------------------------------------------------------------------- REST: messages

    def _check_can_post(self, channel: FakeChannel) -> None:
        """Discord's 50007/50013 rules for the bot posting in a channel."""
        if channel.type == DM:
            if any(u.id in self.dm_refusing for u in channel.recipients):
                raise _ApiError(403, 50007, "Cannot send messages to this user")
            return
        needed = Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
        if not self._bot_perms(channel) & needed:
            raise _ApiError(403, 50013, "Missing Permissions", why=f"bot lacks {needed.name}")

    def _attachments(self, channel: FakeChannel, files: list[JSON]) -> list[JSON]:
        """Attachment objects for uploaded files."""
        result = []
        for upload in files:
            attachment_id = self._ids.next()
            url = f"https://cdn.fake/attachments/{channel.id}/{attachment_id}/{upload['filename']}"
            self.uploads[attachment_id] = upload.get("content", b"")
            result.append(
                {
                    "id": attachment_id,
                    "filename": upload["filename"],
                    "size": upload["size"],
                    "url": url,
                    "proxy_url": url,
                    "content_type": "application/octet-stream",
                }
            )
        return result

    def _store_message(
        self, channel: FakeChannel, author: FakeUser, data: JSON, **extra: Any
    ) -> RecordedMessage:
        """Create, record and (unless ephemeral) announce a message."""
        message = RecordedMessage(
            id=extra.pop("id", None) or self._ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=data.get("content") or "",
            embeds=[{"type": "rich"} | e for e in data.get("embeds") or []],
            components=list(data.get("components") or []),
            allowed_mentions=data.get("allowed_mentions"),
            nonce=data.get("nonce"),
            message_reference=data.get("message_reference"),
            **extra,
        )
        if message.message_reference and message.type == 0:
            message.type = 19
        self.messages.append(message)
        self._messages_by_id[message.id] = message
        channel.last_message_id = message.id
        channel.message_count += 1
        if not message.ephemeral:
            self._dispatch_message("MESSAGE_CREATE", message)
        self._notify()
        return message

    def _dispatch_message(self, event: str, message: RecordedMessage) -> None:
        """MESSAGE_CREATE/UPDATE to sessions with the right intent (content per MESSAGE_CONTENT)."""
        intent = Intent.GUILD_MESSAGES if message.guild_id else Intent.DIRECT_MESSAGES
        payload = message.payload()
        if message.guild_id is not None:
            member = self.guilds[message.guild_id].members.get(message.author.id)
            if member is not None:
                payload["member"] = member.payload(with_user=False)
        own = message.author.id == self.bot_user.id
        mentioned = f"<@{self.bot_user.id}>" in message.content
        for session in self._sessions.values():
            if not (
                session.alive and session.covers(message.guild_id) and session.intents & intent
            ):
                continue
            visible = own or mentioned or message.guild_id is None
            if visible or session.intents & Intent.MESSAGE_CONTENT:
                session.emit(event, payload)
            else:
                hidden = {"content": "", "embeds": [], "attachments": [], "components": []}
                session.emit(event, payload | hidden)

    async def _post_message(self, call: _Call) -> web.Response:
        """POST /channels/{id}/messages, with Discord's checks and nonce enforcement."""
        if self.message_latency:
            await asyncio.sleep(self.message_latency)
        channel = self._known_channel(call)
        self._check_can_post(channel)
        data = call.json or {}
        check_message(data)
        nonce = data.get("nonce")
        key = (self.bot_user.id, str(nonce))
        now = time.monotonic()
        if nonce is not None and data.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen is not None and now - seen[0] < self.nonce_window:
                return _json_response(seen[1].payload())
        check_not_empty(data, has_files=bool(call.files))
        flags = int(data.get("flags") or 0) & (SUPPRESS_EMBEDS | COMPONENTS_V2 | SILENT)
        attachments = self._attachments(channel, call.files)
        message = self._store_message(
            channel, self.bot_user, data, flags=flags, attachments=attachments
        )
        if nonce is not None:
            self._nonces[key] = (now, message)
        return _json_response(message.payload())

    async def _get_message(self, call: _Call) -> web.Response:
        """GET /channels/{c}/messages/{m}."""
        channel, message = self._known_message(call)
        if not self._bot_perms(channel) & Perm.READ_MESSAGE_HISTORY:
            raise _ApiError(403, 50001, "Missing Access")
        return _json_response(message.payload())

    def _edit(self, message: RecordedMessage, data: JSON, files: list[JSON]) -> None:
        """Validate and apply an edit to a stored message."""
        editable = ("content", "embeds", "components", "attachments")
        merged = message.snapshot() | {k: v for k, v in data.items() if k in editable}
        merged["flags"] = message.flags
        check_message(merged)
        check_not_empty(merged, has_files=bool(files))
        if "attachments" in data or files:
            channel = self._channels[message.channel_id]
            kept = [a for a in data.get("attachments") or [] if "url" in a]
            data = data | {"attachments": kept + self._attachments(channel, files)}
        message.apply_edit(data)
        if not message.ephemeral:
            self._dispatch_message("MESSAGE_UPDATE", message)
        self._notify()

    async def _edit_message(self, call: _Call) -> web.Response:
        """PATCH /channels/{c}/messages/{m}: only the bot's own messages."""
        _, message = self._known_message(call)
        if message.author.id != self.bot_user.id:
            raise _ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit(message, call.json or {}, call.files)
        return _json_response(message.payload())

    def _delete(self, message: RecordedMessage) -> None:
        """Mark a message deleted and announce it."""
        message.deleted = True
        if not message.ephemeral:
            data: JSON = {"id": message.id, "channel_id": message.channel_id}
            if message.guild_id is not None:
                data["guild_id"] = message.guild_id
            intent = Intent.GUILD_MESSAGES if message.guild_id else Intent.DIRECT_MESSAGES
            self.dispatch("MESSAGE_DELETE", data, guild_id=message.guild_id, intent=intent)
        self._notify()

    async def _delete_message(self, call: _Call) -> web.Response:
        """DELETE /channels/{c}/messages/{m}: own messages, or others' with MANAGE_MESSAGES."""
        channel, message = self._known_message(call)
        own = message.author.id == self.bot_user.id
        if not own and not self._bot_perms(channel) & Perm.MANAGE_MESSAGES:
            raise _ApiError(403, 50013, "Missing Permissions", why="bot lacks MANAGE_MESSAGES")
        self._delete(message)
        return _no_content()

    async def _add_reaction(self, call: _Call) -> web.Response:
        """PUT .../reactions/{emoji}/@me."""
        channel, message = self._known_message(call)
        if not self._bot_perms(channel) & Perm.ADD_REACTIONS:
            raise _ApiError(403, 50013, "Missing Permissions", why="bot lacks ADD_REACTIONS")
        if call.params["emoji"] not in message.reactions:
            message.reactions.append(call.params["emoji"])
        return _no_content()

    async def _remove_reaction(self, call: _Call) -> web.Response:
        """DELETE .../reactions/{emoji}/@me."""
        _, message = self._known_message(call)
        with contextlib.suppress(ValueError):
            message.reactions.remove(call.params["emoji"])
        return _no_content()

    async def _create_thread(self, call: _Call) -> web.Response:
        """POST /channels/{c}/threads and /channels/{c}/messages/{m}/threads."""
        parent = self._known_channel(call)
        data = call.json or {}
        from_message = "message_id" in call.params
        if from_message:
            self._known_message(call)
        kind = PUBLIC_THREAD if from_message else int(data.get("type") or PRIVATE_THREAD)
        needed = (
            Perm.CREATE_PUBLIC_THREADS if kind == PUBLIC_THREAD else Perm.CREATE_PRIVATE_THREADS
        )
        if parent.type not in (TEXT, NEWS):
            raise _ApiError(400, 50024, "Cannot execute action on this channel type")
        if not self._bot_perms(parent) & needed:
            raise _ApiError(403, 50013, "Missing Permissions", why=f"bot lacks {needed.name}")
        errs = _FormErrors()
        name = data.get("name") or ""
        if not name:
            errs.add(("name",), "BASE_TYPE_REQUIRED", "This field is required")
        errs.max_length(("name",), name, 100)
        errs.raise_if_any()
        thread_id = call.params["message_id"] if from_message else self._ids.next()
        if thread_id in self._channels:
            raise _ApiError(400, 160004, "A thread has already been created for this message")
        thread = FakeChannel(thread_id, name, kind, parent.guild_id, parent_id=parent.id)
        thread.owner_id = self.bot_user.id
        self.guilds[parent.guild_id or ""].channels[thread.id] = thread
        self._channels[thread.id] = thread
        event = thread.payload() | {"newly_created": True}
        self.dispatch("THREAD_CREATE", event, guild_id=parent.guild_id, intent=Intent.GUILDS)
        self._notify()
        return _json_response(thread.payload(), 201)

    # ------------------------------------------------------------------- REST: interactions

    async def _interaction_callback(self, call: _Call) -> web.Response:
        """POST /interactions/{id}/{token}/callback: 3 s deadline, acknowledge once."""
        inter = self._interactions.get(call.params["interaction_id"])
        if inter is None or inter.token != call.params["token"]:
            raise _ApiError(404, 10062, "Unknown interaction", why="no such interaction")
        try:
            message = self._acknowledge(inter, call.json or {}, call.files)
        except _ApiError as error:
            why = f" ({error.why})" if error.why else ""
            inter.rejected.append(Violation(f"{error.code} {error.message}{why}", error.code))
            raise
        if call.query.get("with_response") not in ("1", "true", "True"):
            return _no_content()
        return _json_response(self._callback_response(inter, message))

    def _acknowledge(
        self, inter: FakeInteraction, body: JSON, files: list[JSON] | None = None
    ) -> RecordedMessage | None:
        """Validate and apply one callback; return the message it created or changed."""
        kind, data = body.get("type"), body.get("data") or {}
        if inter.acknowledged:
            raise _ApiError(400, 40060, "Interaction has already been acknowledged.")
        elapsed = asyncio.get_running_loop().time() - inter.created_at
        if elapsed > inter.deadline:
            why = f"answered after {elapsed:.2f}s, deadline {inter.deadline}s"
            raise _ApiError(404, 10062, "Unknown interaction", why=why)
        if not isinstance(kind, int) or kind not in ALLOWED_CALLBACKS[inter.type]:
            error = {"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": "Invalid type"}
            why = f"callback type {kind} is not allowed for interaction type {inter.type}"
            raise _ApiError(400, 50035, "Invalid Form Body", {"type": {"_errors": [error]}}, why)
        message = self._apply_callback(inter, kind, data, files or [])
        inter.callbacks.append(Callback(kind, data, message))
        if inter._timer is not None:
            inter._timer.cancel()
        self._notify()
        return message

    def _apply_callback(
        self, inter: FakeInteraction, kind: int, data: JSON, files: list[JSON]
    ) -> RecordedMessage | None:
        """The effect of a callback type on messages (4 and 7 may carry uploaded files)."""
        channel = self._channels[inter.channel_id]
        if kind == 4:
            check_message(data)
            flags = int(data.get("flags") or 0) & (EPHEMERAL | SUPPRESS_EMBEDS | COMPONENTS_V2)
            check_not_empty(data, has_files=bool(files))
            inter.original = self._interaction_message(inter, channel, data, flags, original=True)
            inter.original.attachments = self._attachments(channel, files)
        elif kind == 5:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            inter.original = self._interaction_message(inter, channel, {}, flags, original=True)
        elif kind == 7 and inter.original is not None:
            self._edit(inter.original, data, files)
        elif kind == 8:
            check_choices(data)
        elif kind == 9:
            check_modal(data)
        return inter.original if kind in (4, 5, 6, 7) else None

    def _interaction_message(
        self, inter: FakeInteraction, channel: FakeChannel, data: JSON, flags: int, original: bool
    ) -> RecordedMessage:
        """Store a message created by an interaction response or follow-up."""
        metadata: JSON = {
            "id": inter.id,
            "type": inter.type,
            "user": inter.user.payload(),
            "authorizing_integration_owners": inter.payload["authorizing_integration_owners"],
        }
        if not original and inter.original is not None:
            metadata["original_response_message_id"] = inter.original.id
        slash = inter.type == APPLICATION_COMMAND and original
        return self._store_message(
            channel,
            self.bot_user,
            data,
            flags=flags,
            kind="interaction" if original else "followup",
            interaction_id=inter.id,
            interaction_metadata=metadata,
            type=20 if slash else 0,
        )

    def _callback_response(self, inter: FakeInteraction, message: RecordedMessage | None) -> JSON:
        """The ?with_response=1 body (discord.py's InteractionCallbackResponse)."""
        kind = inter.callbacks[-1].type
        info: JSON = {
            "id": inter.id,
            "type": inter.type,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(message and message.ephemeral),
        }
        if message is not None:
            info["response_message_id"] = message.id
        resource: JSON = {"type": kind}
        if message is not None and kind in (4, 5, 7):
            resource["message"] = message.payload()
        return {"interaction": info, "resource": resource}

    def _webhook_interaction(self, call: _Call) -> FakeInteraction:
        """The interaction behind /webhooks/{app}/{token}, if its token is usable."""
        inter = self._by_token.get(call.params["token"])
        if call.params["app_id"] != self.application_id or inter is None:
            raise _ApiError(404, 10015, "Unknown Webhook")
        if not inter.acknowledged:
            raise _ApiError(404, 10015, "Unknown Webhook", why="interaction not acknowledged yet")
        age = asyncio.get_running_loop().time() - inter.created_at
        if age > self.interaction_token_ttl:
            raise _ApiError(401, 50027, "Invalid Webhook Token", why="interaction token expired")
        return inter

    async def _followup(self, call: _Call) -> web.Response:
        """POST /webhooks/{app}/{token}: a follow-up (the first one after a defer fills it in)."""
        inter = self._webhook_interaction(call)
        data = call.json or {}
        check_message(data)
        original = inter.original
        if original is not None and original.loading and inter.callbacks[0].type == 5:
            self._edit(original, data | {"flags": None}, call.files)
            message = original
        else:
            channel = self._channels[inter.channel_id]
            check_not_empty(data, has_files=bool(call.files))
            flags = int(data.get("flags") or 0) & (EPHEMERAL | SUPPRESS_EMBEDS | COMPONENTS_V2)
            message = self._interaction_message(inter, channel, data, flags, original=False)
            message.attachments = self._attachments(channel, call.files)
        inter.followup_messages.append(message)
        self._notify()
        if call.query.get("wait") in ("1", "true", "True"):
            return _json_response(message.payload())
        return _no_content()

    def _webhook_message(self, call: _Call) -> tuple[FakeInteraction, RecordedMessage]:
        """The @original or follow-up message addressed by a webhook route."""
        inter = self._webhook_interaction(call)
        wanted = call.params["message_id"]
        candidates = [inter.original, *inter.followup_messages]
        for message in candidates:
            if message is None or message.deleted:
                continue
            if wanted == message.id or (wanted == "@original" and message is inter.original):
                return inter, message
        raise _ApiError(404, 10008, "Unknown Message")

    async def _get_webhook_message(self, call: _Call) -> web.Response:
        """GET /webhooks/{app}/{token}/messages/{@original|id}."""
        return _json_response(self._webhook_message(call)[1].payload())

    async def _edit_webhook_message(self, call: _Call) -> web.Response:
        """PATCH /webhooks/{app}/{token}/messages/{@original|id}."""
        inter, message = self._webhook_message(call)
        self._edit(message, call.json or {}, call.files)
        if message is inter.original:
            inter.edits.append(call.json or {})
        self._notify()
        return _json_response(message.payload())

    async def _delete_webhook_message(self, call: _Call) -> web.Response:
        """DELETE /webhooks/{app}/{token}/messages/{@original|id}."""
        self._delete(self._webhook_message(call)[1])
        return _no_content()

    # --------------------------------------------------------------------- playing users

    async def invoke(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: FakeUser | None = None,
        channel: str | int | None = None,
        guild: str | int | None = None,
        dm: bool = False,
        locale: str = "en-US",
        check_permissions: bool = True,
    ) -> FakeInteraction:
        """A user runs a registered slash command ("search", or "digest set" for subcommands)."""
        parts = command.strip().lstrip("/").split()
        where = self._where(user or self.alice, channel, guild, dm)
        cmd = self._registered(parts[0], where)
        if check_permissions:
            self._check_can_use(cmd, where)
        schema, kinds = self._subcommand_schema(cmd, parts)
        resolved: JSON = {}
        leaf = self._options(schema, dict(options or {}), where, resolved, None, "/" + command)
        data = self._command_data(cmd, parts, kinds, leaf, resolved)
        return self._create_interaction(
            APPLICATION_COMMAND, data, where, "/" + " ".join(parts), locale
        )

    async def autocomplete(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        focused: str,
        user: FakeUser | None = None,
        channel: str | int | None = None,
        guild: str | int | None = None,
        dm: bool = False,
        timeout: float = 5.0,
    ) -> list[JSON]:
        """A user types into an autocomplete option; return the choices the bot answered."""
        parts = command.strip().lstrip("/").split()
        where = self._where(user or self.alice, channel, guild, dm)
        cmd = self._registered(parts[0], where)
        schema, kinds = self._subcommand_schema(cmd, parts)
        values = {focused: ""} | dict(options or {})
        resolved: JSON = {}
        leaf = self._options(schema, values, where, resolved, focused, "/" + command)
        data = self._command_data(cmd, parts, kinds, leaf, resolved)
        label = f"autocomplete of {focused} in /{' '.join(parts)}"
        inter = self._create_interaction(AUTOCOMPLETE, data, where, label, "en-US")
        return await inter.choices(timeout)

    async def click(
        self, message: RecordedMessage | str | int, custom_id: str, *, user: FakeUser | None = None
    ) -> FakeInteraction:
        """A user clicks the button with this custom_id on a recorded message."""
        target = self._message(message)
        component = self._component(target, custom_id)
        if component.get("type") != 2:
            raise FakeDiscordError(f"{custom_id!r} is not a button: {component}")
        if component.get("disabled"):
            raise FakeDiscordError(f"button {custom_id!r} is disabled; users cannot click it")
        data: JSON = {"custom_id": custom_id, "component_type": 2}
        if "id" in component:
            data["id"] = component["id"]
        where = self._where_of(target, user or self.alice)
        return self._create_interaction(
            MESSAGE_COMPONENT, data, where, f"click {custom_id}", "en-US", target
        )

    async def select(
        self,
        message: RecordedMessage | str | int,
        custom_id: str,
        values: list[str],
        *,
        user: FakeUser | None = None,
    ) -> FakeInteraction:
        """A user picks values in a string select menu on a recorded message."""
        target = self._message(message)
        component = self._component(target, custom_id)
        if component.get("type") != 3:
            raise FakeDiscordError(f"{custom_id!r} is not a string select: {component}")
        offered = {o["value"] for o in component.get("options") or []}
        if not set(values) <= offered:
            raise FakeDiscordError(f"{sorted(set(values) - offered)} not offered by {custom_id!r}")
        low, high = component.get("min_values", 1), component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise FakeDiscordError(f"{custom_id!r} takes {low}..{high} values, got {len(values)}")
        data: JSON = {"custom_id": custom_id, "component_type": 3, "values": list(values)}
        where = self._where_of(target, user or self.alice)
        return self._create_interaction(
            MESSAGE_COMPONENT, data, where, f"select {custom_id}", "en-US", target
        )

    async def submit_modal(
        self, inter: FakeInteraction, values: Mapping[str, str], *, user: FakeUser | None = None
    ) -> FakeInteraction:
        """A user fills in and submits the modal the bot answered `inter` with."""
        modal = (await inter.response()).data
        if inter.callbacks[0].type != 9:
            raise FakeDiscordError(f"{inter.label} was not answered with a modal")
        components, inputs = self._modal_components(modal, values)
        missing = [cid for cid, required in inputs.items() if required and not values.get(cid)]
        unknown = sorted(set(values) - set(inputs))
        if missing or unknown:
            raise FakeDiscordError(f"modal needs {missing}, has no inputs {unknown}")
        data = {"custom_id": modal["custom_id"], "components": components}
        channel = self._channels[inter.channel_id]
        who = user or inter.user
        guild = self.guilds.get(channel.guild_id or "")
        member = guild.members.get(who.id) if guild else None
        where = _Where(who, guild, channel, member)
        message = inter.original if inter.type == MESSAGE_COMPONENT else None
        label = f"modal {modal['custom_id']}"
        return self._create_interaction(MODAL_SUBMIT, data, where, label, "en-US", message)

    async def send_user_message(
        self, user: FakeUser, channel: str | int, content: str
    ) -> RecordedMessage:
        """A user posts a message (MESSAGE_CREATE; content hidden without MESSAGE_CONTENT)."""
        target = self.channel(channel)
        return self._store_message(target, user, {"content": content})

    @staticmethod
    def _modal_components(
        modal: JSON, values: Mapping[str, str]
    ) -> tuple[list[JSON], dict[str, bool]]:
        """The submitted components for a modal, and its text inputs (custom_id -> required)."""
        submitted: list[JSON] = []
        inputs: dict[str, bool] = {}

        def filled(child: JSON) -> JSON:
            inputs[child["custom_id"]] = child.get("required", True)
            value = values.get(child["custom_id"], "")
            return {"type": child["type"], "custom_id": child["custom_id"], "value": value}

        for component in modal.get("components") or []:
            if component.get("type") == 1:
                children = [filled(c) for c in component.get("components") or []]
                submitted.append({"type": 1, "components": children})
            elif component.get("type") == 18:
                submitted.append({"type": 18, "component": filled(component["component"])})
        return submitted, inputs

    def _where(
        self, user: FakeUser, channel: str | int | None, guild: str | int | None, dm: bool
    ) -> _Where:
        """Resolve where a user acts."""
        if dm:
            return _Where(user, None, self._channels[self.dm_channel_id(user)], None)
        guild_id = str(guild) if guild is not None else None
        if channel is None:
            target = self._guild(guild_id or self.guild_id)
            text = [c for c in target.channels.values() if c.type == TEXT]
            chosen = next((c for c in text if c.name == "general"), text[0] if text else None)
            if chosen is None:
                raise FakeDiscordError(f"guild {target.name!r} has no text channel")
            found = chosen
        else:
            found = self.channel(channel, guild_id)
        if found.guild_id is None:
            return _Where(user, None, found, None)
        return _Where(user, self.guilds[found.guild_id], found, self.member(found.guild_id, user))

    def _where_of(self, message: RecordedMessage, user: FakeUser) -> _Where:
        """Where a user acts on a message."""
        channel = self._channels[message.channel_id]
        if channel.guild_id is None:
            return _Where(user, None, channel, None)
        guild = self.guilds[channel.guild_id]
        return _Where(user, guild, channel, self.member(guild.id, user))

    def _message(self, message: RecordedMessage | str | int) -> RecordedMessage:
        """A stored, not deleted message."""
        key = message.id if isinstance(message, RecordedMessage) else str(message)
        found = self._messages_by_id.get(key)
        if found is None or found.deleted:
            raise FakeDiscordError(f"no (undeleted) message {key}")
        return found

    @staticmethod
    def _component(message: RecordedMessage, custom_id: str) -> JSON:
        """The component with this custom_id."""
        for component in walk_components(message.components):
            if component.get("custom_id") == custom_id:
                return component
        raise FakeDiscordError(f"message {message.id} has no {custom_id!r}: {message.custom_ids}")

    def _registered(self, name: str, where: _Where) -> JSON:
        """A synced chat-input command visible where the user is (guild commands first)."""
        scopes = ([where.guild.id] if where.guild else []) + ["global"]
        for scope in scopes:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd["type"] == 1:
                    return cmd
        synced = {s: [c["name"] for c in cmds] for s, cmds in self.commands.items()}
        raise FakeDiscordError(
            f"/{name} is not registered where {where.user.name} is (synced: {synced}); "
            "did the bot sync its command tree?"
        )

    def _check_can_use(self, cmd: JSON, where: _Where) -> None:
        """Refuse what Discord's client would not show: wrong context or missing permissions."""
        contexts = cmd.get("contexts")
        if where.guild is None:
            if (contexts is not None and 1 not in contexts) or cmd.get("dm_permission") is False:
                raise FakeDiscordError(f"/{cmd['name']} is not available in DMs")
            return
        if contexts is not None and 0 not in contexts:
            raise FakeDiscordError(f"/{cmd['name']} is not available in guilds")
        assert where.member is not None
        if not channel_permissions(where.guild, where.member, where.channel) & (
            Perm.USE_APPLICATION_COMMANDS
        ):
            raise FakeDiscordError(
                f"{where.user.name} cannot use commands in #{where.channel.name}"
            )
        required = cmd.get("default_member_permissions")
        perms = base_permissions(where.guild, where.member)
        if required is not None and perms != ALL_PERMISSIONS:
            needed = int(required)
            if needed == 0 or perms & needed != needed:
                raise FakeDiscordError(
                    f"{where.user.name} cannot see /{cmd['name']} "
                    f"(default_member_permissions={required})"
                )

    @staticmethod
    def _subcommand_schema(cmd: JSON, parts: list[str]) -> tuple[list[JSON], list[int]]:
        """The leaf options schema for a command path, and the types (2/1) along the path."""
        schema: list[JSON] = cmd.get("options") or []
        kinds: list[int] = []
        for part in parts[1:]:
            sub = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                names = [o["name"] for o in schema if o["type"] in (1, 2)]
                raise FakeDiscordError(f"/{' '.join(parts)}: no subcommand {part!r}; has {names}")
            kinds.append(sub["type"])
            schema = sub.get("options") or []
        subs = [o["name"] for o in schema if o["type"] in (1, 2)]
        if subs:
            raise FakeDiscordError(f"/{' '.join(parts)} is a group; name one of {subs}")
        return schema, kinds

    @staticmethod
    def _command_data(
        cmd: JSON, parts: list[str], kinds: list[int], leaf: list[JSON], resolved: JSON
    ) -> JSON:
        """The interaction `data` of a chat-input command."""
        options = leaf
        for name, kind in reversed(list(zip(parts[1:], kinds, strict=True))):
            options = [{"type": kind, "name": name, "options": options}]
        data: JSON = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": options}
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return data

    def _options(
        self,
        schema: list[JSON],
        values: dict[str, Any],
        where: _Where,
        resolved: JSON,
        focused: str | None,
        label: str,
    ) -> list[JSON]:
        """Typed option payloads for the given values, checked against the registered schema."""
        by_name = {o["name"]: o for o in schema}
        unknown = sorted(set(values) - set(by_name))
        if unknown:
            raise FakeDiscordError(f"{label} has no options {unknown}; it has {list(by_name)}")
        result = []
        for opt in schema:
            name = opt["name"]
            if name not in values:
                if opt.get("required") and focused is None:
                    raise FakeDiscordError(f"{label}: required option {name!r} missing")
                continue
            if name == focused:
                if not opt.get("autocomplete"):
                    raise FakeDiscordError(f"{label}: option {name!r} has no autocomplete")
                entry = {"type": opt["type"], "name": name, "value": values[name], "focused": True}
                result.append(entry)
                continue
            value = self._option_value(opt, values[name], where, resolved, focused is None, label)
            result.append({"type": opt["type"], "name": name, "value": value})
        return result

    def _option_value(
        self, opt: JSON, value: Any, where: _Where, resolved: JSON, strict: bool, label: str
    ) -> Any:
        """One option value in wire form, filling `resolved` for users/channels/roles."""
        kind, name = opt["type"], opt["name"]
        wrong = FakeDiscordError(
            f"{label}: {value!r} is not valid for option {name!r} (type {kind})"
        )
        if kind in (3, 4, 10):
            return self._scalar(opt, value, strict, wrong)
        if kind == 5:
            if not isinstance(value, bool):
                raise wrong
            return value
        if kind == 6 or (kind == 9 and isinstance(value, FakeUser)):
            return self._resolve_user(value, where, resolved)
        if kind == 7:
            return self._resolve_channel(opt, value, where, resolved, wrong)
        if kind in (8, 9):
            return self._resolve_role(value, where, resolved, wrong)
        raise FakeDiscordError(
            f"{label}: option type {kind} ({name!r}) is not supported by the fake"
        )

    @staticmethod
    def _scalar(opt: JSON, value: Any, strict: bool, wrong: Exception) -> Any:
        """A string/integer/number option value, with Discord's client-side checks."""
        kind = opt["type"]
        ok_type = {
            3: isinstance(value, str),
            4: isinstance(value, int) and not isinstance(value, bool),
        }
        ok_type[10] = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok_type[kind]:
            raise wrong
        if not strict:
            return value
        choices = [c["value"] for c in opt.get("choices") or []]
        if choices and value not in choices:
            raise FakeDiscordError(f"option {opt['name']!r} only accepts {choices}, got {value!r}")
        if kind == 3 and not opt.get("min_length", 0) <= len(value) <= opt.get("max_length", 6000):
            raise wrong
        low, high = opt.get("min_value"), opt.get("max_value")
        if kind != 3 and ((low is not None and value < low) or (high is not None and value > high)):
            raise wrong
        return value

    def _resolve_user(self, value: Any, where: _Where, resolved: JSON) -> str:
        """A user option: resolved.users (+ members in guilds)."""
        user = self.user(value)
        resolved.setdefault("users", {})[user.id] = user.payload()
        if where.guild is not None and user.id in where.guild.members:
            member = where.guild.members[user.id]
            perms = channel_permissions(where.guild, member, where.channel)
            payload = member.payload(with_user=False, permissions=perms)
            resolved.setdefault("members", {})[user.id] = payload
        return user.id

    def _resolve_channel(
        self, opt: JSON, value: Any, where: _Where, resolved: JSON, wrong: Exception
    ) -> str:
        """A channel option: resolved.channels with the user's permissions there."""
        if where.guild is None:
            raise wrong
        channel = value if isinstance(value, FakeChannel) else self.channel(value, where.guild.id)
        if channel.guild_id != where.guild.id:
            raise wrong
        allowed = opt.get("channel_types")
        if allowed and channel.type not in allowed:
            raise wrong
        assert where.member is not None
        perms = channel_permissions(where.guild, where.member, channel)
        entry = channel.payload() | {"permissions": str(perms)}
        resolved.setdefault("channels", {})[channel.id] = entry
        return channel.id

    @staticmethod
    def _resolve_role(value: Any, where: _Where, resolved: JSON, wrong: Exception) -> str:
        """A role (or mentionable role) option: resolved.roles."""
        if where.guild is None:
            raise wrong
        role_id = value.id if isinstance(value, FakeRole) else str(value)
        role = where.guild.roles.get(role_id)
        if role is None:
            raise wrong
        resolved.setdefault("roles", {})[role.id] = role.payload()
        return role.id

    def _create_interaction(
        self,
        kind: int,
        data: JSON,
        where: _Where,
        label: str,
        locale: str,
        message: RecordedMessage | None = None,
    ) -> FakeInteraction:
        """Build, record and dispatch an INTERACTION_CREATE; start the acknowledgement clock."""
        payload = self._interaction_payload(kind, data, where, locale, message)
        inter = FakeInteraction(self, payload, where.user, label)
        if kind == MESSAGE_COMPONENT:
            inter.original = message
        self._interactions[inter.id] = inter
        self._by_token[inter.token] = inter
        self.interaction_log.append(inter)
        guild_id = where.guild.id if where.guild else None
        inter.sessions = self._covering(guild_id)
        if not self.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id):
            raise FakeDiscordError("no bot session is connected to the fake gateway")
        loop = asyncio.get_running_loop()
        inter._timer = loop.call_later(inter.deadline, self._deadline_passed, inter)
        return inter

    def _deadline_passed(self, inter: FakeInteraction) -> None:
        """Record a violation if the interaction was never acknowledged in time."""
        inter.expired = True
        if not inter.acknowledged:
            description = f"{inter.label} ({inter.id}) not acknowledged within {inter.deadline}s"
            self._violate(description, 10062)

    def _interaction_payload(
        self, kind: int, data: JSON, where: _Where, locale: str, message: RecordedMessage | None
    ) -> JSON:
        """The INTERACTION_CREATE data discord.py 2.7 parses."""
        channel = where.channel
        payload: JSON = {
            "id": self._ids.next(),
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "token": "fake-" + secrets.token_urlsafe(32),
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": channel.id,
        }
        if where.guild is not None and where.member is not None:
            perms = channel_permissions(where.guild, where.member, channel)
            payload |= {
                "guild_id": where.guild.id,
                "guild_locale": "en-US",
                "guild": {"id": where.guild.id, "locale": "en-US", "features": []},
                "member": where.member.payload(permissions=perms),
                "app_permissions": str(self._bot_perms(channel)),
                "channel": channel.payload() | {"permissions": str(perms)},
                "context": 0,
                "authorizing_integration_owners": {"0": where.guild.id},
            }
        else:
            payload |= {
                "user": where.user.payload(),
                "app_permissions": str(int(DM_PERMISSIONS)),
                "channel": channel.payload() | {"permissions": str(int(DM_PERMISSIONS))},
                "context": 1,
                "authorizing_integration_owners": {"0": "0"},
            }
        if message is not None:
            payload["message"] = message.payload()
        return payload


# ----------------------------------------------------------------------------- pytest fixtures


@pytest.fixture
def caught_discord_errors() -> Iterator[DiscordErrorCollector]:
    """ERROR records of the discord loggers during the test; assert `.records == []`."""
    with capture_discord_errors() as collector:
        yield collector


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py pointed at it."""
    async with FakeDiscord() as fake:
        with point_discord_at(fake):
            yield fake

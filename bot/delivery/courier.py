"""The port between delivery and a chat service: what the core asks of it, the outcomes it
understands, and the one recipe for message nonces.

The core plans and records every delivery; a courier only renders and sends. Every sending
method returns normally on success or raises one of the outcomes below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bot.digest import DigestSelection
from bot.models import Alert, Listing, PeriodKind, QueuedAlert


class DeliveryError(Exception):
    """A send that did not happen; `reason` is fit to show an admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Gone(DeliveryError):
    """The channel is deleted, or the bot lost access or permission there: stop posting."""


class Refused(DeliveryError):
    """The person does not accept direct messages from the bot."""


class Rejected(DeliveryError):
    """This one message was refused (e.g. 400 Invalid Form Body); the channel itself is fine."""


class TryLater(DeliveryError):
    """A passing problem (the bot's token, rate limits, server errors, the network): retry."""


@dataclass(frozen=True, slots=True)
class Posted:
    """A message that reached the channel; `left_out` says what of it the chat service refused
    and the courier dropped to get the rest through (empty when it went out whole)."""

    message_id: int
    left_out: str = ""


class Courier(Protocol):
    """Renders and sends for the delivery services."""

    def render_digest(self, selection: DigestSelection) -> list[str]:
        """The digest as opaque payloads, one per message, stored in the outbox as they are."""

    def render_rising(self, item: Listing, climb: int) -> str:
        """One rising paper (at its upvotes now, `climb` more than its first recorded count)
        as one opaque payload, stored in the outbox as it is."""

    async def post(
        self, channel_id: int, payload: str, nonce: str, *, guild_id: int | None = None
    ) -> Posted:
        """Post one stored payload. A resend with the same nonce is not posted twice. Raises
        Rejected when the message is refused even after dropping what was refused in it."""

    async def open_thread(
        self, channel_id: int, message_id: int, name: str, *, guild_id: int | None = None
    ) -> None:
        """Open a discussion thread under a posted message."""

    async def moved_to_dm(self, user_id: int, channel_id: int) -> str | None:
        """None while the person may still see and post in the channel their alert posts in
        (or that cannot be told); otherwise a note, for them, on why it comes by DM instead."""

    async def prepare_alerts(self, user_id: int, channel_id: int | None) -> None:
        """Whatever a send to this person may wait on (opening a DM channel, a paced slot), so
        that `send_alerts` right after it sends at once: the store's last word on what may be
        sent comes between the two."""

    async def send_alerts(
        self,
        user_id: int,
        channel_id: int | None,
        items: Sequence[tuple[QueuedAlert, Listing]],
        alerts: Sequence[Alert],
        nonce: str,
        *,
        note: str | None = None,
    ) -> None:
        """One message listing a person's matched papers, in a channel (mentioning them) or,
        when `channel_id` is None, by direct message (with `note` above it); `alerts` get
        buttons. Call it right after `prepare_alerts`."""


def stable_nonce(key: str) -> str:
    """The one nonce recipe: a number (at most 19 digits; Discord allows 25 characters) that
    is the same for the same key, so a resend after a crash is deduplicated by Discord."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return str(int(digest[:16], 16) % 10**19)


def part_nonce(channel_id: int, list_date: date, part: int, kind: PeriodKind = "day") -> str:
    """The nonce of one planned digest message (a weekly digest's never equals a daily one's)."""
    if kind == "day":
        return stable_nonce(f"{channel_id}:{list_date}:{part}")
    return stable_nonce(f"{channel_id}:{kind}:{list_date}:{part}")


def batch_nonce(user_id: int, target: str, paper_ids: Sequence[str]) -> str:
    """The nonce of one alert message (a person, a target, the papers in it)."""
    return stable_nonce(f"{user_id}|{target}|{','.join(paper_ids)}")

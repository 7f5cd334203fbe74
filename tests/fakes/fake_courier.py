"""An in-memory courier for the delivery services' unit tests (bot/delivery/courier.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.delivery.courier import Posted
from bot.digest import DigestSelection
from bot.models import Alert, Listing, QueuedAlert


class Crash(Exception):
    """The process dying right after a message left, before it could be recorded."""


@dataclass(frozen=True)
class Sent:
    channel_id: int | None  # None: a direct message
    payload: str  # a digest part as planned, or an alert's paper ids in order
    nonce: str
    user_id: int | None = None


@dataclass
class FakeCourier:
    """Keeps what reached the chat (a resent nonce is deduplicated, as Discord does). Each send
    first takes the next of `failures` (None: it goes through); `Crash` comes right after
    `crash_after` more messages."""

    sent: list[Sent] = field(default_factory=list)
    attempts: int = 0
    threads: list[tuple[int, int, str]] = field(default_factory=list)
    failures: list[Exception | None] = field(default_factory=list)
    crash_after: int | None = None
    moved: dict[int, str] = field(default_factory=dict)  # user -> why their alerts go by DM
    notes: list[str | None] = field(default_factory=list)

    def render_digest(self, selection: DigestSelection) -> list[str]:
        ids = [item.paper.id for item in selection.papers]
        return [",".join(ids[n : n + 10]) for n in range(0, len(ids), 10)]  # 10 per message

    def render_rising(self, item: Listing, climb: int) -> str:
        return f"rising {item.paper.id} {item.paper.upvotes} +{climb}"

    async def post(
        self, channel_id: int, payload: str, nonce: str, *, guild_id: int | None = None
    ) -> Posted:
        return Posted(self._deliver(Sent(channel_id, payload, nonce)))

    async def open_thread(
        self, channel_id: int, message_id: int, name: str, *, guild_id: int | None = None
    ) -> None:
        self.threads.append((channel_id, message_id, name))

    async def moved_to_dm(self, user_id: int, channel_id: int) -> str | None:
        return self.moved.get(user_id)

    async def prepare_alerts(self, user_id: int, channel_id: int | None) -> None:
        return None

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
        self.notes.append(note)
        self._deliver(Sent(channel_id, ",".join(i.paper.id for _, i in items), nonce, user_id))

    def _deliver(self, message: Sent) -> int:
        self.attempts += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        known = [n for n, s in enumerate(self.sent, 1) if s.nonce == message.nonce]
        if known:
            return known[0]
        self.sent.append(message)
        if self.crash_after is not None:
            self.crash_after -= 1
            if self.crash_after == 0:
                raise Crash
        return len(self.sent)

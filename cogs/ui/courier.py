"""The Discord courier: renders digests and alerts, sends them, and maps Discord's answers to
the outcomes delivery understands (bot/delivery/courier.py)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.delivery.courier import Gone, Refused, Rejected, TryLater
from bot.digest import DigestSelection
from bot.models import Alert, Listing, QueuedAlert
from bot.ratelimit import Pacer
from cogs.ui.alert_views import alert_buttons, alert_message
from cogs.ui.render import MessagePayload, digest_messages

if TYPE_CHECKING:
    from bot.client import Paperboy

GONE_CODES = {
    10003: "the channel was deleted",
    50001: "I lost access to the channel",
    50013: "I lost permission to post there",
}
DM_REFUSED = 50007


@contextlib.contextmanager
def discord_outcomes() -> Iterator[None]:
    """Turn what Discord (or the network) answered into Gone, Refused, Rejected or TryLater."""
    try:
        yield
    except discord.HTTPException as e:
        if e.code in GONE_CODES:
            raise Gone(GONE_CODES[e.code]) from e
        if e.code == DM_REFUSED:
            raise Refused(e.text or "Cannot send messages to this user") from e
        # 401 is our token, not this message; 429 and 5xx pass.
        if 400 <= e.status < 500 and e.status not in (401, 429):
            raise Rejected(f"{e.status} {e.code}: {e.text}") from e
        raise TryLater(str(e)) from e
    except (aiohttp.ClientError, TimeoutError) as e:
        raise TryLater(str(e) or type(e).__name__) from e


class DiscordCourier:
    """Sends for the delivery services, paced under Discord's bulk limit."""

    def __init__(self, bot: Paperboy, pacer: Pacer) -> None:
        self.bot = bot
        self.pacer = pacer
        self._dm_channels: dict[int, int] = {}  # user -> DM channel id, to skip re-creating it

    def render_digest(self, selection: DigestSelection) -> list[str]:
        """The digest's messages as JSON: a resumed digest sends byte-identical parts."""
        return [json.dumps(m.to_json()) for m in digest_messages(selection)]

    async def post(
        self, channel_id: int, payload: str, nonce: str, *, guild_id: int | None = None
    ) -> int:
        """Post one stored payload; the message id."""
        message = MessagePayload.from_json(json.loads(payload))
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        with discord_outcomes():
            await self.pacer.wait()
            sent = await channel.send(
                content=message.content or None, embeds=message.discord_embeds(), nonce=nonce
            )
        return sent.id

    async def open_thread(
        self, channel_id: int, message_id: int, name: str, *, guild_id: int | None = None
    ) -> None:
        """A public thread under a posted message."""
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        with discord_outcomes():
            try:
                await channel.get_partial_message(message_id).create_thread(name=name)
            except ValueError as e:  # discord.py: no guild known for this message
                raise Rejected(str(e)) from e

    async def send_alerts(
        self,
        user_id: int,
        channel_id: int | None,
        items: Sequence[tuple[QueuedAlert, Listing]],
        alerts: Sequence[Alert],
        nonce: str,
    ) -> None:
        """One alert message: a DM, or a channel post that may mention only this person."""
        embed = alert_message(items, total=len(items))
        view = alert_buttons(alerts, user_id)
        with discord_outcomes():
            if channel_id is None:
                dm = await self._dm_channel(user_id)
                await self.pacer.wait()
                await dm.send(embed=embed, view=view, nonce=nonce)
                return
            await self.pacer.wait()
            await self.bot.get_partial_messageable(channel_id).send(
                content=f"<@{user_id}>",
                embed=embed,
                view=view,
                nonce=nonce,
                allowed_mentions=discord.AllowedMentions(
                    everyone=False,
                    roles=False,
                    replied_user=False,
                    users=[discord.Object(user_id)],
                ),
            )

    async def _dm_channel(self, user_id: int) -> discord.abc.Messageable:
        """The person's DM channel: created once (a paced request), then reused."""
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            await self.pacer.wait()
            channel_id = (await self.bot.create_dm(discord.Object(user_id))).id
            self._dm_channels[user_id] = channel_id
        return self.bot.get_partial_messageable(channel_id, type=discord.ChannelType.private)

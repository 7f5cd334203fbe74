"""The Discord courier: renders digests and alerts, sends them, and maps Discord's answers to
the outcomes delivery understands (bot/delivery/courier.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import aiohttp
import discord
from discord.utils import MISSING

from bot.delivery.courier import Gone, Posted, Refused, Rejected, TryLater
from bot.digest import DigestSelection
from bot.models import Alert, Listing, QueuedAlert
from bot.ratelimit import Pacer
from cogs.ui.alert_views import SHOWN, alert_buttons, alert_message
from cogs.ui.paper_actions import add_controls, controls, controls_view, forget, offered
from cogs.ui.render import MessagePayload, checked, digest_messages, fit
from cogs.ui.rising_views import rising_message

if TYPE_CHECKING:
    from bot.client import Paperboy

GONE_CODES = {
    10003: "the channel was deleted",
    50001: "I lost access to the channel",
    50013: "I lost permission to post there",
}
DM_REFUSED = 50007
READY_SECONDS = 60.0  # how long an alert waits for the guild cache at start-up
MOVED_TO_DM = "You can no longer post in #{channel} ({guild}), so this alert came by DM."
_EMBED_IN_ERROR = re.compile(r"\bembeds\.(\d+)")  # "In embeds.3.fields.2.value: ..."

log = logging.getLogger(__name__)


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
        """The digest's messages as JSON, each with the paper controls the cogs offer: a
        resumed digest sends byte-identical parts."""
        actions = offered(self.bot)
        messages = digest_messages(selection)
        for message in messages:
            papers = message.papers()
            if not papers and len(messages) == 1:  # a compact digest: one list, no cards
                papers = [(item.paper.id, item.paper.title) for item in selection.papers]
            message.controls = controls(actions, papers)
        return [json.dumps(m.to_json()) for m in messages]

    def render_rising(self, item: Listing, climb: int) -> str:
        """A rising paper's post as JSON, with the paper controls (like a digest card)."""
        message = rising_message(item, climb)
        message.controls = controls(offered(self.bot), [(item.paper.id, item.paper.title)])
        return json.dumps(message.to_json())

    async def post(
        self, channel_id: int, payload: str, nonce: str, *, guild_id: int | None = None
    ) -> Posted:
        """Post one stored payload (clipped to Discord's limits first). If Discord refuses it
        (400), post it again without the embeds (papers) Discord named, with the same nonce."""
        message = checked(MessagePayload.from_json(json.loads(payload)))
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        left_out = ""
        for attempt in (1, 2):
            try:
                with discord_outcomes():
                    await self.pacer.wait()
                    view = controls_view(message.controls)
                    sent = await channel.send(
                        content=message.content or None,
                        embeds=message.discord_embeds(),
                        nonce=nonce,
                        view=view or MISSING,
                    )
                    forget(view)
                return Posted(sent.id, left_out)
            except Rejected as e:
                cause = e.__cause__
                if attempt == 2 or not isinstance(cause, discord.HTTPException):
                    raise
                if cause.status != 400:
                    raise
                bad = {int(i) for i in _EMBED_IN_ERROR.findall(cause.text)}
                kept = [x for i, x in enumerate(message.embeds) if i not in bad]
                why = " ".join(cause.text.split())[:300]
                log.warning("Discord refused a digest message in %s: %s", channel_id, why)
                if not bad or not (kept or message.content):
                    raise
                left_out = (
                    f"{len(message.embeds) - len(kept)} paper(s) left out"
                    f" (Discord refused them: {why})"
                )
                message = MessagePayload(message.content, kept, message.controls)
        raise AssertionError("unreachable")  # pragma: no cover

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

    async def moved_to_dm(self, user_id: int, channel_id: int) -> str | None:
        """For a channel alert whose owner may no longer see or post in that channel, the
        note that says why it comes by DM; None when it may go to its channel.

        The person's roles are asked of Discord (GET /guilds/{g}/members/{u} needs no
        privileged intent, and without the members intent a role taken away sends the bot
        no event); the roles and the channel's overwrites are the gateway's, which the guilds
        intent keeps current. A channel the bot no longer sees is left to Discord's answer
        to the send (deleted or forbidden: the rows are dropped).
        """
        with discord_outcomes():
            if not self.bot.is_ready():  # the start-up catch-up runs before guilds are cached
                await asyncio.wait_for(self.bot.wait_until_ready(), READY_SECONDS)
            channel = self.bot.get_channel(channel_id)
            if not isinstance(channel, discord.abc.GuildChannel):
                return None
            await self.pacer.wait()
            try:
                member: discord.Member | None = await channel.guild.fetch_member(user_id)
            except discord.NotFound:
                member = None  # they left the server
        if member is not None:
            perms = channel.permissions_for(member)
            if perms.view_channel and perms.send_messages:
                return None
        log.info("user %s may no longer post in channel %s; alerts go by DM", user_id, channel_id)
        return MOVED_TO_DM.format(
            channel=discord.utils.escape_markdown(channel.name),
            guild=discord.utils.escape_markdown(channel.guild.name),
        )

    async def prepare_alerts(self, user_id: int, channel_id: int | None) -> None:
        """Open the person's DM channel if needed, then wait for a paced send slot."""
        with discord_outcomes():
            if channel_id is None:
                await self._dm_channel(user_id)
            await self.pacer.wait()

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
        """One alert message: a DM, or a channel post that may mention only this person."""
        embed = fit(alert_message(items, total=len(items)))
        view = alert_buttons(alerts, user_id)
        # A paper can be in a message twice (a match, and its code news): one option each.
        papers = list(
            {listing.paper.id: listing.paper.title for _, listing in items[:SHOWN]}.items()
        )
        add_controls(view, controls(offered(self.bot), papers))
        with discord_outcomes():
            if channel_id is None:
                dm = await self._dm_channel(user_id)
                await dm.send(content=note, embed=embed, view=view, nonce=nonce)
                forget(view)
                return
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
            forget(view)

    async def _dm_channel(self, user_id: int) -> discord.abc.Messageable:
        """The person's DM channel: created once (a paced request), then reused."""
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            await self.pacer.wait()
            channel_id = (await self.bot.create_dm(discord.Object(user_id))).id
            self._dm_channels[user_id] = channel_id
        return self.bot.get_partial_messageable(channel_id, type=discord.ChannelType.private)

"""A rising paper's post: a line saying how far it climbed, and its card."""

from __future__ import annotations

from typing import Any

from bot.models import Listing
from cogs.ui.render import MessagePayload, paper_embed


def climb_line(item: Listing, climb: int) -> str:
    """ "▲ 152, +97 since its list day" (the gain left out while none is known)."""
    line = f"📈 **Rising paper** · ▲ {item.paper.upvotes:,}"
    if climb > 0:
        line += f", +{climb:,} since its list day"
    return line


def rising_message(item: Listing, climb: int) -> MessagePayload:
    """One rising paper as a message; the caller adds the paper controls."""
    embed: dict[str, Any] = dict(paper_embed(item).to_dict())
    return MessagePayload(climb_line(item, climb), [embed])

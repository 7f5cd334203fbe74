"""Papers as Discord embeds, always within Discord's limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.digest import DigestSelection, authors_line, cut_at_sentence, summary_of
from bot.models import Listing, Paper

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
CONTENT_MAX = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL_MAX = 6000  # all embeds of one message together
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_NAME_MAX = 256
COLOUR = discord.Colour.from_rgb(255, 210, 30)


@dataclass
class MessagePayload:
    """One message to post: content plus embeds, as plain dicts (storable as JSON)."""

    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"content": self.content, "embeds": self.embeds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessagePayload:
        return cls(data.get("content") or "", list(data.get("embeds") or []))

    def discord_embeds(self) -> list[discord.Embed]:
        return [discord.Embed.from_dict(e) for e in self.embeds]


def clip(text: str, limit: int) -> str:
    """Cut text to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _md(text: str) -> str:
    return discord.utils.escape_markdown(text)


def links_line(paper: Paper) -> str:
    """arXiv · PDF · GitHub (stars) · Project page, as markdown links."""
    links = [f"[arXiv]({paper.arxiv_url})", f"[PDF]({paper.pdf_url})"]
    if paper.github_repo:
        stars = f" ★{paper.github_stars:,}" if paper.github_stars is not None else ""
        links.append(f"[GitHub{stars}]({paper.github_repo})")
    if paper.project_page:
        links.append(f"[Project page]({paper.project_page})")
    return " · ".join(links)


def paper_embed(item: Listing, *, summary_chars: int = 350, full: bool = False) -> discord.Embed:
    """One paper: title linking to HF, counts, authors, summary, links, thumbnail."""
    p = item.paper
    if full:
        parts = []
        if p.ai_summary:
            parts.append(f"**AI summary:** {_md(p.ai_summary)}")
        parts.append(_md(p.abstract) if p.abstract else "*No abstract on Hugging Face yet.*")
        description = clip("\n\n".join(parts), DESCRIPTION_MAX)
    else:
        description = _md(summary_of(p, summary_chars))
    embed = discord.Embed(
        title=clip(p.title, TITLE_MAX),
        url=p.hf_url,
        description=description or None,
        colour=COLOUR,
    )
    counts = f"▲ {p.upvotes:,}"
    if p.num_comments:
        counts += f" · 💬 {p.num_comments:,}"
    embed.add_field(name="Upvotes", value=counts)
    if p.authors:
        shown = len(p.authors) if full else 3
        embed.add_field(
            name="Authors", value=clip(_md(authors_line(p.authors, shown)), FIELD_VALUE_MAX)
        )
    if full and p.ai_keywords:
        embed.add_field(
            name="Keywords",
            value=clip(_md(", ".join(p.ai_keywords)), FIELD_VALUE_MAX),
            inline=False,
        )
    embed.add_field(name="Links", value=links_line(p), inline=False)
    if p.thumbnail:
        embed.set_thumbnail(url=p.thumbnail)
    footer = []
    if item.list_date:
        footer.append(f"Daily Papers {item.list_date.isoformat()}")
    if full and p.published_at:
        footer.append(f"arXiv {p.published_at.date().isoformat()}")
    if footer:
        embed.set_footer(text=" · ".join(footer))
    return embed


def embed_chars(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6000 per-message total."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or ():
        total += len(f.get("name") or "") + len(f.get("value") or "")
    return total


def limit_problems(payload: MessagePayload) -> list[str]:
    """Every way a message breaks Discord's limits (empty when it is fine)."""
    problems = []
    if len(payload.content) > CONTENT_MAX:
        problems.append(f"content {len(payload.content)} > {CONTENT_MAX}")
    if len(payload.embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"{len(payload.embeds)} embeds > {EMBEDS_PER_MESSAGE}")
    if sum(embed_chars(e) for e in payload.embeds) > EMBED_TOTAL_MAX:
        problems.append(f"embeds total > {EMBED_TOTAL_MAX}")
    for e in payload.embeds:
        checks = [
            ("title", len(e.get("title") or ""), TITLE_MAX),
            ("description", len(e.get("description") or ""), DESCRIPTION_MAX),
            ("fields", len(e.get("fields") or ()), FIELDS_MAX),
            ("footer", len((e.get("footer") or {}).get("text") or ""), FOOTER_MAX),
        ]
        for f in e.get("fields") or ():
            checks.append(("field name", len(f.get("name") or ""), FIELD_NAME_MAX))
            checks.append(("field value", len(f.get("value") or ""), FIELD_VALUE_MAX))
        problems += [f"{what} {n} > {limit}" for what, n, limit in checks if n > limit]
    if not payload.content and not payload.embeds:
        problems.append("empty message")
    return problems


def pack(content: str, embeds: Sequence[discord.Embed]) -> list[MessagePayload]:
    """Split embeds over as few messages as Discord's per-message limits allow."""
    messages = [MessagePayload(clip(content, CONTENT_MAX))]
    for embed in embeds:
        data: dict[str, Any] = dict(embed.to_dict())
        size = embed_chars(data)
        current = messages[-1]
        used = sum(embed_chars(e) for e in current.embeds)
        if len(current.embeds) >= EMBEDS_PER_MESSAGE or used + size > EMBED_TOTAL_MAX:
            current = MessagePayload()
            messages.append(current)
        current.embeds.append(data)
    return messages


def digest_header(selection: DigestSelection) -> str:
    """The first line of a digest: date, how many papers, link to the list."""
    shown = len(selection.papers)
    return (
        f"📰 **Daily Papers {selection.list_date.isoformat()}**: top {shown} of "
        f"{selection.total} papers · <{selection.list_url}>"
    )


def digest_messages(selection: DigestSelection) -> list[MessagePayload]:
    """The whole digest as messages, each within Discord's limits."""
    embeds = [paper_embed(item) for item in selection.papers]
    return pack(digest_header(selection), embeds)


def one_line(text: str, limit: int = 140) -> str:
    """A one-line teaser of a text (first sentence, clipped)."""
    return cut_at_sentence(" ".join(text.split()), limit)

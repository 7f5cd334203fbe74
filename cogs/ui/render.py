"""Papers as Discord embeds, always within Discord's limits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.digest import DigestSelection, authors_line, cut_at_sentence, summary_of
from bot.models import HF_BASE, Listing, Paper
from cogs.ui.links import escape_text, masked_link, safe_url

log = logging.getLogger(__name__)

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
PAPER_URL = f"{HF_BASE}/papers/"  # a paper card's title links here


@dataclass
class MessagePayload:
    """One message to post: content plus embeds, as plain dicts (storable as JSON)."""

    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)  # see cogs/ui/paper_actions

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"content": self.content, "embeds": self.embeds}
        if self.controls:
            data["controls"] = self.controls
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessagePayload:
        return cls(
            data.get("content") or "",
            list(data.get("embeds") or []),
            list(data.get("controls") or []),
        )

    def papers(self) -> list[tuple[str, str]]:
        """The (id, title) of each paper card in the message, in order."""
        found = []
        for embed in self.embeds:
            url = str(embed.get("url") or "")
            if url.startswith(PAPER_URL):
                found.append((url[len(PAPER_URL) :], str(embed.get("title") or "")))
        return found

    def discord_embeds(self) -> list[discord.Embed]:
        return [discord.Embed.from_dict(e) for e in self.embeds]


def clip(text: str, limit: int) -> str:
    """Cut text to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _md(text: str) -> str:
    return discord.utils.escape_markdown(text)


def links_line(paper: Paper, limit: int = FIELD_VALUE_MAX) -> str:
    """arXiv · PDF · GitHub (stars) · Project page, as markdown links within `limit`
    characters; a link that is not http(s), or too long to fit, is left out."""
    stars = f" ★{paper.github_stars:,}" if paper.github_stars is not None else ""
    wanted = [
        ("arXiv", paper.arxiv_url),
        ("PDF", paper.pdf_url),
        (f"GitHub{stars}", paper.github_repo),
        ("Project page", paper.project_page),
    ]
    line = ""
    for label, url in wanted:
        if safe_url(url) is None:
            continue
        longer = f"{line} · {masked_link(label, url)}" if line else masked_link(label, url)
        if len(longer) <= limit:
            line = longer
    return line


ORIGIN_NAME_MAX = 60  # an organisation or submitter name on a card


def origin_line(paper: Paper) -> list[str]:
    """Who it comes from, as HF's cards say: the organisation, "Submitted by <user>".

    For a footer (plain text: no markdown to escape, no mentions), each name on one line
    and clipped."""
    parts = []
    if paper.organization and paper.organization.strip():
        parts.append(clip(" ".join(paper.organization.split()), ORIGIN_NAME_MAX))
    if paper.submitter and paper.submitter.strip():
        parts.append(f"Submitted by {clip(' '.join(paper.submitter.split()), ORIGIN_NAME_MAX)}")
    return parts


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
    # Discord refuses an empty field: blank names and keywords leave their field out.
    authors = authors_line(p.authors, len(p.authors) if full else 3) if p.authors else ""
    if authors.strip():
        embed.add_field(name="Authors", value=clip(_md(authors), FIELD_VALUE_MAX))
    keywords = ", ".join(k for k in p.ai_keywords if k.strip()) if full else ""
    if keywords:
        embed.add_field(name="Keywords", value=clip(_md(keywords), FIELD_VALUE_MAX), inline=False)
    links = links_line(p)
    if links:
        embed.add_field(name="Links", value=links, inline=False)
    thumbnail = safe_url(p.thumbnail)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    footer = origin_line(p)
    if item.list_date:
        footer.append(f"Daily Papers {item.list_date.isoformat()}")
    if full and p.published_at:
        footer.append(f"arXiv {p.published_at.date().isoformat()}")
    if footer:
        embed.set_footer(text=clip(" · ".join(footer), FOOTER_MAX))
    data: dict[str, Any] = dict(embed.to_dict())
    if embed_chars(data) > EMBED_TOTAL_MAX:  # in full: a long abstract, authors and keywords
        return discord.Embed.from_dict(_fit_embed(data))
    return embed


def embed_chars(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6000 per-message total."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or ():
        total += len(f.get("name") or "") + len(f.get("value") or "")
    return total


# Where an embed holds text with a length limit, and where it holds a URL.
_TEXTS = (
    (("title",), TITLE_MAX),
    (("description",), DESCRIPTION_MAX),
    (("footer", "text"), FOOTER_MAX),
    (("author", "name"), AUTHOR_NAME_MAX),
)
_URLS = (("url",), ("thumbnail", "url"), ("image", "url"), ("author", "url"))


def _get(embed: dict[str, Any], keys: tuple[str, ...]) -> Any:
    node: Any = embed
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


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
        checks = [(".".join(keys), len(_get(e, keys) or ""), limit) for keys, limit in _TEXTS]
        checks.append(("fields", len(e.get("fields") or ()), FIELDS_MAX))
        for f in e.get("fields") or ():
            checks.append(("field name", len(f.get("name") or ""), FIELD_NAME_MAX))
            checks.append(("field value", len(f.get("value") or ""), FIELD_VALUE_MAX))
            if not (f.get("name") or "").strip() or not (f.get("value") or "").strip():
                problems.append("empty field name or value")
        problems += [f"{what} {n} > {limit}" for what, n, limit in checks if n > limit]
        for keys in _URLS:
            url = _get(e, keys)
            if url is not None and safe_url(url) is None:
                problems.append(f"{'.'.join(keys)} is not an http(s) URL: {str(url)[:80]!r}")
    if not payload.content and not payload.embeds:
        problems.append("empty message")
    return problems


def _fit_embed(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of one embed with every text clipped to its limit, the whole within the
    per-message total, and URLs that are not http(s) removed."""
    embed = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for keys, limit in _TEXTS:
        text = _get(embed, keys)
        if isinstance(text, str):
            _put(embed, keys, clip(text, limit))
    if "fields" in embed:
        embed["fields"] = [
            {
                **f,
                "name": clip((f.get("name") or "").strip() or "\u200b", FIELD_NAME_MAX),
                "value": clip((f.get("value") or "").strip() or "\u200b", FIELD_VALUE_MAX),
            }
            for f in (embed["fields"] or ())[:FIELDS_MAX]
        ]
    for keys in _URLS:
        url = _get(embed, keys)
        if url is not None:
            _put(embed, keys, safe_url(url))
    for key in ("thumbnail", "image"):  # an image without a URL is refused as a whole
        if isinstance(embed.get(key), dict) and not embed[key].get("url"):
            del embed[key]
    _shrink(embed, embed_chars(embed) - EMBED_TOTAL_MAX)
    return embed


def _put(embed: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    *parents, last = keys
    node = embed
    for key in parents:
        node = node[key]
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value


def _shrink(embed: dict[str, Any], by: int) -> int:
    """Take up to `by` characters off the description, then off field values, then off the
    rest; return how many."""
    fields = list(reversed(embed.get("fields") or ()))
    texts: list[tuple[dict[str, Any], str]] = [(embed, "description")]
    texts += [(f, "value") for f in fields]
    texts += [(embed.get("footer") or {}, "text"), *((f, "name") for f in fields)]
    texts += [(embed.get("author") or {}, "name"), (embed, "title")]
    taken = 0
    for node, key in texts:
        text = node.get(key) or ""
        cut = min(by - taken, len(text) - 1)
        if cut > 0:
            node[key] = clip(text, len(text) - cut)
            taken += cut
    return taken


def checked(payload: MessagePayload) -> MessagePayload:
    """The message as it may be sent: checked against Discord's limits, and clipped where it
    breaks one (a rendering bug, logged), so that Discord never refuses it for its size."""
    problems = limit_problems(payload)
    if not problems:
        return payload
    log.warning(
        "clipping a message that breaks Discord's limits: %s", "; ".join(sorted(set(problems)))
    )
    embeds = [_fit_embed(e) for e in payload.embeds[:EMBEDS_PER_MESSAGE]]
    excess = sum(embed_chars(e) for e in embeds) - EMBED_TOTAL_MAX
    for embed in sorted(embeds, key=embed_chars, reverse=True):
        if excess <= 0:
            break
        excess -= _shrink(embed, excess)
    return MessagePayload(clip(payload.content, CONTENT_MAX), embeds, payload.controls)


def fit(embed: discord.Embed) -> discord.Embed:
    """One embed as it may be sent (see `checked`): every embed the bot sends passes here."""
    data: dict[str, Any] = dict(embed.to_dict())
    payload = checked(MessagePayload("", [data]))
    return embed if payload.embeds[0] is data else discord.Embed.from_dict(payload.embeds[0])


def pack(content: str, embeds: Sequence[discord.Embed]) -> list[MessagePayload]:
    """Split embeds over as few messages as Discord's per-message limits allow."""
    messages = [MessagePayload(clip(content, CONTENT_MAX))]
    for embed in embeds:
        data: dict[str, Any] = _fit_embed(dict(embed.to_dict()))
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
        f"📰 **{selection.title}**: top {shown} of "
        f"{selection.total} papers · <{selection.list_url}>"
    )


def digest_messages(selection: DigestSelection) -> list[MessagePayload]:
    """The whole digest as messages, each within Discord's limits, in its style."""
    if selection.style == "compact":
        return [compact_message(selection)]
    embeds = [paper_embed(item) for item in selection.papers]
    return pack(digest_header(selection), embeds)


COMPACT_TITLE_MAX = 120  # a title's share of its line; the summary gets what is left


def compact_line(n: int, item: Listing, budget: int) -> str:
    """`n. [title](hf) · ▲ 12 · summary` in at most `budget` characters (the link whole)."""
    p = item.paper
    head = f"**{n}.** {masked_link(clip(p.title, COMPACT_TITLE_MAX), p.hf_url)} · ▲ {p.upvotes:,}"
    if len(head) > budget:  # a long URL: fall back to a shorter title
        head = f"**{n}.** {masked_link(clip(p.title, 40), p.hf_url)} · ▲ {p.upvotes:,}"
    room = budget - len(head) - 3
    summary = p.ai_summary or p.abstract
    if room < 20 or not summary.strip():
        return head[:budget]
    text = escape_text(one_line(summary, 400))
    return f"{head} · {clip(text, room)}"


def compact_message(selection: DigestSelection) -> MessagePayload:
    """The compact digest: one message, a numbered list with one line per paper."""
    budget = (DESCRIPTION_MAX - 2 * len(selection.papers)) // max(1, len(selection.papers))
    lines = [compact_line(n, item, budget) for n, item in enumerate(selection.papers, start=1)]
    embed = discord.Embed(
        title=clip(selection.title, TITLE_MAX),
        url=selection.list_url,
        description="\n".join(lines) or None,
        colour=COLOUR,
    )
    data: dict[str, Any] = dict(embed.to_dict())
    return checked(MessagePayload(clip(digest_header(selection), CONTENT_MAX), [data]))


def one_line(text: str, limit: int = 140) -> str:
    """A one-line teaser of a text (first sentence, clipped)."""
    return cut_at_sentence(" ".join(text.split()), limit)

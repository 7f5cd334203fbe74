"""Masked links that text from Hugging Face cannot break out of, and URLs Discord accepts."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import discord

URL_MAX = 2048  # Discord refuses longer URLs in embeds
# Escaped in link labels: markdown, the brackets and parentheses of a masked link, and `<` of
# `<https://...>` and mentions. The `:` of `://` is escaped too, so that no URL in a title
# becomes a link of its own.
_LABEL_SPECIALS = frozenset("\\[]()<>*_~|`")
# Kept as they are in a URL's path and query; everything else (spaces, parentheses, brackets,
# quotes, non-ASCII) is percent-escaped so that nothing in a URL can end `(...)` early.
_URL_SAFE = "/?#&=+;,:@!$'*%-._~"


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL, percent-escaped for markdown; else None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > URL_MAX or any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    host = parts.netloc
    if parts.scheme not in ("http", "https") or not host or "@" in host:
        return None
    start = len(parts.scheme) + 3
    if url[:start].lower() != f"{parts.scheme}://" or not url[start:].startswith(host):
        return None
    if not all(c.isascii() and (c.isalnum() or c in ".-:") for c in host):
        return None
    safe = f"{parts.scheme}://{host}{quote(url[start + len(host) :], safe=_URL_SAFE)}"
    return safe if len(safe) <= URL_MAX else None


def escape_label(text: str) -> str:
    """Text on one line with every character that could end a link label or start a link,
    a mention or formatting escaped."""
    text = " ".join(text.split())
    escaped = "".join("\\" + c if c in _LABEL_SPECIALS else c for c in text)
    return escaped.replace("://", "\\://")


def escape_text(text: str) -> str:
    """Markdown-escaped text to show next to masked links: no `](` in it can end one."""
    return discord.utils.escape_markdown(text).replace("](", "]\\(")


def masked_link(label: str, url: str | None, *, no_preview: bool = False) -> str:
    """`[label](url)` with the label escaped; the escaped label alone when the URL is unsafe.

    `no_preview` wraps the URL in `<...>`, so that a plain message shows no preview of it.
    """
    shown = escape_label(label)
    target = safe_url(url)
    if target is None:
        return shown
    return f"[{shown}](<{target}>)" if no_preview else f"[{shown}]({target})"

"""Pure functions from Hugging Face JSON and HTML to Papers. No I/O here."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.arxiv import normalise_id
from bot.errors import ScrapeError
from bot.models import HF_BASE, DayList, Paper
from bot.text import normalise_space

_DATE_IN_URL = re.compile(r"/papers/date/(\d{4}-\d{2}-\d{2})")


def parse_api_list(text: str, requested: date) -> DayList:
    """Parse a /api/daily_papers page; a body of the wrong shape is a ScrapeError."""
    data = _load_json(text, "daily_papers")
    if not isinstance(data, list):
        raise ScrapeError(f"daily_papers returned a {type(data).__name__}, expected a list")
    return DayList(requested, requested, tuple(parse_items(data, "daily_papers")))


def parse_api_paper(text: str) -> Paper:
    """Parse /api/papers/{id}: the paper object at the top level."""
    data = _load_json(text, "papers/{id}")
    if not isinstance(data, dict):
        raise ScrapeError(f"papers/{{id}} returned a {type(data).__name__}, expected an object")
    return parse_item(data)


def parse_items(items: Iterable[Any], where: str) -> list[Paper]:
    """Parse daily-list items, dropping duplicates of one id (first wins)."""
    papers: dict[str, Paper] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ScrapeError(f"{where}: item {i} is a {type(item).__name__}, expected an object")
        paper = parse_item(item, where=f"{where}: item {i}")
        papers.setdefault(paper.id, paper)
    return list(papers.values())


def parse_item(item: dict[str, Any], where: str = "paper") -> Paper:
    """One list item ({paper: {...}, numComments, ...}) or a bare paper object."""
    inner = item.get("paper", item)
    if not isinstance(inner, dict):
        raise ScrapeError(f"{where}: 'paper' is not an object")
    raw_id = inner.get("id")
    if not isinstance(raw_id, str):
        # A numeric id would already have lost trailing zeros (2503.02130 -> 2503.0213).
        raise ScrapeError(f"{where}: missing or non-string 'id' ({raw_id!r})")
    paper_id = normalise_id(raw_id)
    if paper_id is None:
        raise ScrapeError(f"{where}: 'id' is not an arXiv id ({raw_id!r})")
    title = inner.get("title", item.get("title"))
    if not isinstance(title, str) or not title.strip():
        raise ScrapeError(f"{where}: paper {paper_id} has no 'title'")
    abstract = inner.get("summary", item.get("summary")) or ""
    upvotes = inner.get("upvotes", item.get("upvotes"))
    return Paper(
        id=paper_id,
        title=normalise_space(title),
        abstract=normalise_space(str(abstract)),
        authors=tuple(_authors(inner.get("authors"))),
        published_at=_datetime(inner.get("publishedAt")),
        submitted_at=_datetime(inner.get("submittedOnDailyAt") or item.get("publishedAt")),
        upvotes=_int(upvotes) or 0,
        num_comments=_int(item.get("numComments", inner.get("numComments"))),
        ai_summary=_text(inner.get("ai_summary")),
        ai_keywords=tuple(
            normalise_space(k) for k in inner.get("ai_keywords") or () if isinstance(k, str)
        ),
        github_repo=_text(inner.get("githubRepo")),
        github_stars=_int(inner.get("githubStars")),
        project_page=_text(inner.get("projectPage")),
        thumbnail=_text(item.get("thumbnail")),
        organization=_organization(item.get("organization") or inner.get("organization")),
    )


def parse_list_html(text: str, requested: date) -> DayList:
    """Parse a /papers/date/D page: the DailyPapers hydration JSON, else the article cards."""
    tree = LexborHTMLParser(text)
    served = _served_date(tree)
    hydrater = tree.css_first('div.SVELTE_HYDRATER[data-target="DailyPapers"]')
    papers: list[Paper]
    if hydrater is not None and hydrater.attributes.get("data-props"):
        props = _load_json(hydrater.attributes["data-props"] or "", "DailyPapers data-props")
        if not isinstance(props, dict) or not isinstance(props.get("dailyPapers"), list):
            raise ScrapeError("DailyPapers data-props has no 'dailyPapers' list: the page changed")
        served = _date(props.get("dateString")) or served
        papers = parse_items(props["dailyPapers"], "DailyPapers")
    else:
        papers = parse_cards(tree)
        if not papers and text.strip():
            raise ScrapeError(
                "the daily list page has neither DailyPapers data nor <article> cards: "
                "the page layout changed"
            )
    return DayList(requested, served, tuple(papers))


def parse_cards(tree: LexborHTMLParser) -> list[Paper]:
    """Last resort: the visible <article> cards (no abstracts there)."""
    papers: dict[str, Paper] = {}
    for card in tree.css("article"):
        link = card.css_first('h3 a[href^="/papers/"]')
        if link is None:
            continue
        href = (link.attributes.get("href") or "").split("#")[0]
        paper_id = normalise_id(href.rsplit("/", 1)[-1])
        title = normalise_space(link.text())
        if paper_id is None or not title:
            continue
        img = card.css_first("img")
        papers.setdefault(
            paper_id,
            Paper(
                id=paper_id,
                title=title,
                abstract="",
                upvotes=_int(_node_text(card.css_first("div.shadow-alternate div.leading-none")))
                or 0,
                num_comments=_int(_node_text(card.css_first('a[href$="#community"]'))),
                thumbnail=_absolute(img.attributes.get("src")) if img is not None else None,
            ),
        )
    return list(papers.values())


def _served_date(tree: LexborHTMLParser) -> date | None:
    candidates = (('link[rel="canonical"]', "href"), ('meta[property="og:url"]', "content"))
    for selector, attr in candidates:
        node = tree.css_first(selector)
        if node is not None:
            m = _DATE_IN_URL.search(node.attributes.get(attr) or "")
            if m:
                return _date(m.group(1))
    return None


def served_date_from_url(url: str) -> date | None:
    """The list date in a /papers/date/D URL (after redirects), if any."""
    m = _DATE_IN_URL.search(url)
    return _date(m.group(1)) if m else None


def _load_json(text: str, where: str) -> Any:
    try:
        return orjson.loads(text)  # a 1 MB daily page parses ~3x faster than with json
    except ValueError as e:
        raise ScrapeError(f"{where} is not valid JSON: {e}") from None


def _authors(raw: Any) -> Iterable[str]:
    for author in raw or ():
        if isinstance(author, dict) and not author.get("hidden"):
            name = normalise_space(author.get("name"))
            if name:
                yield name


def _organization(raw: Any) -> str | None:
    if isinstance(raw, dict):
        return _text(raw.get("fullname") or raw.get("name"))
    return None


def _absolute(src: str | None) -> str | None:
    """A card's image URL made absolute (cards use site-relative paths); http(s) only."""
    if not src or not src.strip():
        return None
    try:
        url = urljoin(HF_BASE + "/", src.strip())
        return url if urlsplit(url).scheme in ("http", "https") else None
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _node_text(node: LexborNode | None) -> str | None:
    return node.text(strip=True) if node is not None else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None

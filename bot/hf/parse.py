"""Pure functions from Hugging Face JSON and HTML to Papers. No I/O here."""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.arxiv import normalise_id
from bot.errors import ScrapeError
from bot.hf.latex import delatex
from bot.models import HF_BASE, DayList, Paper, thumbnail_url
from bot.text import normalise_space

log = logging.getLogger(__name__)

_DATE_IN_URL = re.compile(r"/papers/date/(\d{4}-\d{2}-\d{2})")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")  # an HF account name
# What one paper may hold: anything longer is clipped (text) or dropped (a clipped URL would be
# a broken link), so one odd item can neither bloat the store nor break a message.
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MAX_AUTHORS = 500
MAX_NAME = 300  # an author or organisation name
MAX_SUMMARY = 5_000
MAX_KEYWORDS = 50
MAX_KEYWORD = 100
MAX_URL = 1_000
MAX_MEDIA = 10  # uploaded images and videos kept per paper
MAX_COUNT = 2**53  # no count comes near; 2**63 would overflow SQLite's INTEGER
# arXiv began in 1991; a later bound keeps date arithmetic (time zones, windows) from overflowing.
EARLIEST = datetime(1991, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def parse_api_list(text: str, requested: date) -> DayList:
    """Parse a /api/daily_papers page; a body of the wrong shape is a ScrapeError.

    Only papers of the requested list day are returned: the "latest" list can span two days,
    and a paper's day is its `submittedOnDailyAt`. `served` is the requested date unless every
    dated item belongs to another day (then the most common of those days).
    """
    data = _load_json(text, "daily_papers")
    if not isinstance(data, list):
        raise ScrapeError(f"daily_papers returned a {type(data).__name__}, expected a list")
    papers, skipped = _parse_valid_items(data, "daily_papers")
    return _of_day(requested, None, papers, skipped, "daily_papers")


def _of_day(
    requested: date, served: date | None, papers: Sequence[Paper], skipped: int, where: str
) -> DayList:
    """The papers listed on `requested`, the others counted and logged.

    `served` is what the response says it is; without that, the requested date if any paper
    is of that day, else the most common other day."""
    # An undated paper (a card) is of the day the page names, else of the requested one.
    days = [_list_day(p) or served or requested for p in papers]
    mine = [p for p, d in zip(papers, days, strict=True) if d == requested]
    others = Counter(d for d in days if d != requested)
    if others:
        log.info(
            "%s for %s also held %d papers of other days (%s): left out",
            where,
            requested,
            others.total(),
            ", ".join(sorted(d.isoformat() for d in others)),
        )
    if served is None:
        served = requested if mine or not others else others.most_common(1)[0][0]
    return DayList(requested, served, tuple(mine), skipped, others.total())


def _list_day(paper: Paper) -> date | None:
    """The Daily Papers day a paper was listed on (the UTC date of its submission there)."""
    return paper.submitted_at.date() if paper.submitted_at is not None else None


def parse_api_paper(text: str) -> Paper:
    """Parse /api/papers/{id}: the paper object at the top level."""
    data = _load_json(text, "papers/{id}")
    if not isinstance(data, dict):
        raise ScrapeError(f"papers/{{id}} returned a {type(data).__name__}, expected an object")
    return parse_item(data)


def parse_items(items: Iterable[Any], where: str) -> list[Paper]:
    """Parse daily-list items, skipping invalid ones and duplicates of one id (first wins)."""
    return _parse_valid_items(items, where)[0]


def _parse_valid_items(items: Iterable[Any], where: str) -> tuple[list[Paper], int]:
    """The valid papers and how many items were skipped as invalid (each one logged).

    One bad item costs only itself; a list with items but none valid is a ScrapeError (the
    schema changed), naming the first item's fault.
    """
    papers: dict[str, Paper] = {}
    skipped: list[str] = []
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ScrapeError(
                    f"{where}: item {i} is a {type(item).__name__}, expected an object"
                )
            paper = parse_item(item, where=f"{where}: item {i}")
        except ScrapeError as e:
            log.warning("skipped an invalid item: %s", e)
            skipped.append(str(e))
            continue
        papers.setdefault(paper.id, paper)
    if skipped and not papers:
        raise ScrapeError(f"{where}: none of {len(skipped)} items is valid; first: {skipped[0]}")
    return list(papers.values()), len(skipped)


def parse_item(item: dict[str, Any], where: str = "paper") -> Paper:
    """One list item ({paper: {...}, numComments, ...}) or a bare paper object.

    A field of the wrong type makes the whole item a ScrapeError; values of the right type are
    bounded (text clipped, overlong URLs and impossible dates dropped, counts clamped).
    """
    inner = item.get("paper", item)
    if not isinstance(inner, dict):
        raise ScrapeError(f"{where}: 'paper' is not an object")
    raw_id = inner.get("id")
    if not isinstance(raw_id, str):
        # A numeric id would already have lost trailing zeros (2503.02130 -> 2503.0213).
        raise ScrapeError(f"{where}: missing or non-string 'id' ({raw_id!r:.40})")
    paper_id = normalise_id(raw_id[:100])
    if paper_id is None:
        raise ScrapeError(f"{where}: 'id' is not an arXiv id ({raw_id!r:.40})")
    title = inner.get("title", item.get("title"))
    if not isinstance(title, str) or not title.strip():
        raise ScrapeError(f"{where}: paper {paper_id} has no 'title'")
    where = f"{where} ({paper_id})"
    abstract = _str(inner.get("summary", item.get("summary")), "summary", where)
    upvotes = inner.get("upvotes", item.get("upvotes"))
    authors, users = _author_users(inner.get("authors"), where)
    submitted = inner.get("submittedOnDailyAt")
    if submitted is None and item.get("publishedAt") != inner.get("publishedAt"):
        # The 2024 shape: no submittedOnDailyAt, the item's publishedAt is the listing time.
        # In today's shape the item's publishedAt is the arXiv time: no list day at all.
        submitted = item.get("publishedAt")
    return Paper(
        id=paper_id,
        title=_clip(normalise_space(delatex(title)), MAX_TITLE),
        abstract=_clip(normalise_space(delatex(abstract)), MAX_ABSTRACT),
        authors=authors,
        author_users=users,
        published_at=_datetime(inner.get("publishedAt"), "publishedAt", where),
        submitted_at=_datetime(submitted, "submittedOnDailyAt", where),
        upvotes=_count(upvotes, "upvotes", where) or 0,
        num_comments=_count(
            item.get("numComments", inner.get("numComments")), "numComments", where
        ),
        ai_summary=_clip(
            normalise_space(delatex(_str(inner.get("ai_summary"), "ai_summary", where))),
            MAX_SUMMARY,
        )
        or None,
        ai_keywords=_keywords(inner.get("ai_keywords"), where),
        github_repo=_url(inner.get("githubRepo"), "githubRepo", where),
        github_stars=_count(inner.get("githubStars"), "githubStars", where),
        project_page=_url(inner.get("projectPage"), "projectPage", where),
        thumbnail=_text(item.get("thumbnail")) or thumbnail_url(paper_id),
        organization=_organization(item.get("organization") or inner.get("organization")),
        submitter=_submitter(item.get("submittedBy") or inner.get("submittedOnDailyBy")),
        media_urls=_media(inner.get("mediaUrls", item.get("mediaUrls"))),
    )


def parse_list_html(text: str, requested: date) -> DayList:
    """Parse a /papers/date/D page: the DailyPapers hydration JSON, else the article cards."""
    tree = LexborHTMLParser(text)
    served = _served_date(tree)
    hydrater = tree.css_first('div.SVELTE_HYDRATER[data-target="DailyPapers"]')
    papers: list[Paper]
    skipped = 0
    if hydrater is not None and hydrater.attributes.get("data-props"):
        props = _load_json(hydrater.attributes["data-props"] or "", "DailyPapers data-props")
        if not isinstance(props, dict) or not isinstance(props.get("dailyPapers"), list):
            raise ScrapeError("DailyPapers data-props has no 'dailyPapers' list: the page changed")
        # 2025 pages say dateString; the 2024 page only date ("2024-08-01T00:00:00.000Z").
        served = _date(props.get("dateString")) or _date(props.get("date")) or served
        papers, skipped = _parse_valid_items(props["dailyPapers"], "DailyPapers")
    else:
        papers, skipped = parse_cards_counted(tree)
        if not papers and text.strip():
            if skipped:
                raise ScrapeError(
                    f"none of the {skipped} <article> cards has a paper link and a title"
                )
            raise ScrapeError(
                "the daily list page has neither DailyPapers data nor <article> cards: "
                "the page layout changed"
            )
    return _of_day(requested, served, papers, skipped, "the daily list page")


def parse_cards(tree: LexborHTMLParser) -> list[Paper]:
    """Last resort: the visible <article> cards (no abstracts there)."""
    return parse_cards_counted(tree)[0]


def parse_cards_counted(tree: LexborHTMLParser) -> tuple[list[Paper], int]:
    """The papers of the <article> cards, and how many cards were skipped (no id or title).

    A card's image is not the paper's thumbnail (a teaser video leaves only the submitter's
    avatar): every paper gets HF's social thumbnail, as in the API.
    """
    papers: dict[str, Paper] = {}
    skipped = 0
    for i, card in enumerate(tree.css("article")):
        link = card.css_first('h3 a[href^="/papers/"]')
        href = (link.attributes.get("href") or "").split("#")[0] if link is not None else ""
        paper_id = normalise_id(href.rsplit("/", 1)[-1]) if href else None
        title = _clip(normalise_space(delatex(link.text())), MAX_TITLE) if link else ""
        if paper_id is None or not title:
            log.warning("skipped an invalid item: <article> card %d has no paper id or title", i)
            skipped += 1
            continue
        papers.setdefault(
            paper_id,
            Paper(
                id=paper_id,
                title=title,
                abstract="",
                upvotes=_int(_node_text(card.css_first("div.shadow-alternate div.leading-none")))
                or 0,
                num_comments=_int(_node_text(card.css_first('a[href$="#community"]'))),
                thumbnail=thumbnail_url(paper_id),
                submitter=_card_submitter(card),
            ),
        )
    return list(papers.values()), skipped


def _card_submitter(card: LexborNode) -> str | None:
    """The username after "Submitted by" on a card (the block's own text, avatar aside)."""
    for node in card.css("div"):
        text = normalise_space(node.text())
        if text.startswith("Submitted by") and len(text) < 200:
            name = text.removeprefix("Submitted by").strip()
            return _clip(name, MAX_NAME) if name else None
    return None


def _served_date(tree: LexborHTMLParser) -> date | None:
    """The list date the page itself names: a dated canonical URL, else its <time>."""
    candidates = (('link[rel="canonical"]', "href"), ('meta[property="og:url"]', "content"))
    for selector, attr in candidates:
        node = tree.css_first(selector)
        if node is not None:
            m = _DATE_IN_URL.search(node.attributes.get(attr) or "")
            if m:
                return _date(m.group(1))
    # The 2024 page: og:url is plain /papers; the header's <time datetime> names the day.
    time = tree.css_first("time[datetime]")
    return _date(time.attributes.get("datetime")) if time is not None else None


def served_date_from_url(url: str) -> date | None:
    """The list date in a /papers/date/D URL (after redirects), if any."""
    m = _DATE_IN_URL.search(url)
    return _date(m.group(1)) if m else None


def _load_json(text: str, where: str) -> Any:
    try:
        return orjson.loads(text)  # a 1 MB daily page parses ~3x faster than with json
    except ValueError as e:
        error = e
    try:
        # orjson refuses a number past a double's range; one such count must not sink the
        # whole page, so read it again with the standard parser, huge integers clamped.
        return json.loads(text, parse_int=_json_int)
    except ValueError:
        raise ScrapeError(f"{where} is not valid JSON: {error}") from None


def _json_int(digits: str) -> int:
    """An integer literal, clamped before int() meets thousands of digits (it refuses them)."""
    if len(digits.lstrip("-")) > 16:
        return -MAX_COUNT if digits.startswith("-") else MAX_COUNT
    return int(digits)


def _str(value: Any, name: str, where: str) -> str:
    """A text field that may be absent (""), but is never anything other than text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScrapeError(f"{where}: {name!r} is a {type(value).__name__}, expected text")
    return value


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _author_users(raw: Any, where: str) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """Visible authors' names, at most 500, and their HF usernames (None where nobody
    claimed the paper as them; no usernames at all, (), when none is claimed)."""
    if raw is None:
        return (), ()
    if not isinstance(raw, list):
        raise ScrapeError(f"{where}: 'authors' is a {type(raw).__name__}, expected a list")
    names: list[str] = []
    users: list[str | None] = []
    for author in raw:
        if len(names) >= MAX_AUTHORS:
            break
        user = None
        if isinstance(author, dict):
            if author.get("hidden"):
                continue
            account = author.get("user")
            if account is not None:
                user = _username(account)
            author = author.get("name")
            if author is None:
                continue
        if not isinstance(author, str):
            raise ScrapeError(f"{where}: an author is a {type(author).__name__}, expected a name")
        name = normalise_space(author)
        if name:
            names.append(name if len(name) <= MAX_NAME else _clip(name, MAX_NAME))
            users.append(user)
    return tuple(names), (tuple(users) if any(users) else ())


def _username(raw: Any) -> str | None:
    """An author's HF account name ({user: <name>, ...}); None for anything else."""
    if not isinstance(raw, dict):
        return None
    name = raw.get("user")
    if isinstance(name, str) and _USERNAME.fullmatch(name):
        return name
    return None


def _keywords(raw: Any, where: str) -> tuple[str, ...]:
    """HF's AI keywords: a list of short strings, at most 50."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ScrapeError(f"{where}: 'ai_keywords' is not a list of strings")
    found = []
    for k in raw[:MAX_KEYWORDS]:
        if not isinstance(k, str):
            raise ScrapeError(f"{where}: 'ai_keywords' is not a list of strings")
        k = normalise_space(k)
        if k:
            found.append(k if len(k) <= MAX_KEYWORD else _clip(k, MAX_KEYWORD))
    return tuple(found)


def _url(value: Any, name: str, where: str) -> str | None:
    """A link: text, or absent; an overlong one is dropped rather than cut into a broken link."""
    text = _str(value, name, where).strip()
    return text if text and len(text) <= MAX_URL else None


def _organization(raw: Any) -> str | None:
    if isinstance(raw, dict):
        name = _text(raw.get("fullname")) or _text(raw.get("name"))
        return _clip(name, MAX_NAME) if name else None
    return None


def _submitter(raw: Any) -> str | None:
    """The submitter's username (`user` in the paper's object, `name` in the item's)."""
    if isinstance(raw, dict):
        name = _text(raw.get("user")) or _text(raw.get("name"))
        return _clip(normalise_space(name), MAX_NAME) if name else None
    return None


def _media(raw: Any) -> tuple[str, ...]:
    """Uploaded media: http(s) URLs, at most ten; anything else is left out (cosmetic)."""
    if not isinstance(raw, list):
        return ()
    urls = (_absolute(u) for u in raw[:MAX_MEDIA] if _text(u))
    return tuple(u for u in urls if u and len(u) <= MAX_URL)


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
    """A short optional string (a thumbnail URL, a name); anything else or overlong is None."""
    if isinstance(value, str) and value.strip() and len(value) <= MAX_URL:
        return value.strip()
    return None


def _count(value: Any, name: str, where: str) -> int | None:
    """A count from JSON: an integer or a string of ASCII digits, clamped to 0..2**53."""
    if value is None:
        return None
    count = _int(value)
    if count is None:
        raise ScrapeError(f"{where}: {name!r} is not a count ({value!r:.40})")
    return count


def _int(value: Any) -> int | None:
    """A whole number or ASCII digits (not "²", which str.isdigit accepts), clamped to 0..2**53."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return min(max(value, 0), MAX_COUNT)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return min(max(int(value), 0), MAX_COUNT)  # orjson reads integers past 2**64 as floats
    if isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdigit():
            # Too many digits to be a count (and int() refuses over 4,300 of them).
            return MAX_COUNT if len(digits) > 16 else min(int(digits), MAX_COUNT)
    return None


def _node_text(node: LexborNode | None) -> str | None:
    return node.text(strip=True) if node is not None else None


def _datetime(value: Any, name: str, where: str) -> datetime | None:
    """An aware UTC time between 1991 and 2100; an unreadable or impossible one is None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ScrapeError(f"{where}: {name!r} is a {type(value).__name__}, expected a date")
    try:
        parsed = datetime.fromisoformat(value[:40].replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past datetime.max in UTC
        return None
    return parsed if EARLIEST <= parsed < LATEST else None


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None

"""Issue 10 F7: text from Hugging Face never makes a link of its own, and only http(s) URLs
reach links and thumbnails."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from bot.hf.parse import parse_cards
from bot.models import (
    Listing,
    Paper,
    QueuedAlert,
    SearchHit,
    SearchPage,
    Snippet,
    thumbnail_url,
)
from bot.query import parse_query
from cogs.ui.alert_views import alert_message
from cogs.ui.links import escape_label, escape_text, masked_link, safe_url
from cogs.ui.render import paper_embed
from cogs.ui.search_views import SearchRequest, results_embed
from tests.conftest import seed_items, seed_papers
from tests.support.harness import Harness, running_bot

EVIL_TITLE = "Zxqevil](https://evil.example) [x"
HF = "https://huggingface.co/papers/2501.00001"
# Backslash escapes aside, Discord makes a masked link of `](target)` and an autolink of
# `https://...` (also inside `<...>`): every such target, found without trusting any escape.
_MASKED = re.compile(r"\]\(\s*<?([^\s)>]*)")
_AUTO = re.compile(r"(?:https?|steam)://[^\s<>)\]]*")


def link_hosts(markdown: str) -> set[str]:
    """The host of every link Discord could make of this text."""
    targets = _MASKED.findall(markdown) + _AUTO.findall(markdown)
    return {urlsplit(t).hostname or f"<not http: {t}>" for t in targets}


def markdown_of(message: Any) -> str:
    """The text of a recorded message that Discord renders as markdown."""
    parts = [message.content or ""]
    for embed in message.embeds:
        parts.append(embed.get("description") or "")
        parts += [f.get("value") or "" for f in embed.get("fields") or ()]
    return "\n".join(parts)


def unescape(label: str) -> str:
    return re.sub(r"\\(.)", r"\1", label)


# -- the helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "/papers/2501.00001",
        "//evil.example/x",
        "evil.example",
        "https://github.com/a/b) [x](https://evil.example",
        "https://user:password@evil.example/",
        "https:///nohost",
        "http://[::1",
        "https://exa mple.org/",
        "https://example.org/\nx",
        "https://example.org/" + "x" * 2100,
        "",
        None,
    ],
)
def test_unsafe_urls_are_dropped(url: str | None) -> None:
    assert safe_url(url) is None


def test_safe_urls_keep_their_meaning_and_cannot_end_a_link_early() -> None:
    assert safe_url(" https://github.com/a/b ") == "https://github.com/a/b"
    assert safe_url("HTTP://Example.org:8080/p?q=1#f") == "http://Example.org:8080/p?q=1#f"
    assert safe_url("https://example.org/a_(b)[c]<d>") == (
        "https://example.org/a_%28b%29%5Bc%5D%3Cd%3E"
    )
    assert safe_url("https://example.org/Ümlaut") == "https://example.org/%C3%9Cmlaut"


def test_a_bracket_in_a_title_makes_no_link() -> None:
    link = masked_link(EVIL_TITLE, HF)
    assert link_hosts(link) == {"huggingface.co"}
    assert link.count("](") == 1 and link.endswith(f"]({HF})")
    assert unescape(link[1 : link.index("](")]) == EVIL_TITLE


def test_an_unsafe_url_leaves_the_label_unlinked() -> None:
    assert masked_link("GitHub", "javascript:alert(1)") == "GitHub"
    assert link_hosts(masked_link(EVIL_TITLE, "/relative")) == set()


def test_no_preview_wraps_the_url() -> None:
    assert masked_link("A [b]", HF, no_preview=True) == rf"[A \[b\]](<{HF}>)"


@settings(max_examples=400, deadline=None)
@given(title=st.text(max_size=300), url=st.text(max_size=80))
def test_no_title_makes_a_second_link(title: str, url: str) -> None:
    link = masked_link(title, HF)
    assert link.count("](") == 1 and link.startswith("[") and link.endswith(f"]({HF})")
    assert link_hosts(link) == {"huggingface.co"}
    label = link[1 : -len(f"]({HF})")]
    assert "\n" not in label and unescape(label) == " ".join(title.split())
    assert escape_label(title) == label
    # Whatever the URL, a link made with it has one target and it is http(s).
    safe = safe_url(url)
    made = masked_link(title, url)
    if safe is None:
        assert link_hosts(made) == set()
    else:
        assert made.endswith(f"]({safe})") and made.count("](") == 1
        assert not any(c in safe for c in " ()[]<>\\\n")
        assert urlsplit(safe).scheme in ("http", "https")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("[]()<>\\:/ https.evilx*_`|~"), max_size=60))
def test_no_title_of_link_syntax_makes_a_second_link(title: str) -> None:
    assert link_hosts(masked_link(title, HF)) == {"huggingface.co"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("[]()\\<>:/ ab*_"), max_size=60) | st.text(max_size=200))
def test_text_next_to_links_can_end_none(text: str) -> None:
    assert "](" not in escape_text(text)


# -- every place that links a title -------------------------------------------------------


def evil_paper(**changes: Any) -> Paper:
    return replace(
        seed_papers()[date(2025, 1, 7)][0],
        id="2501.99991",
        title=EVIL_TITLE,
        github_repo="https://github.com/a/b) [x](https://evil.example",
        project_page="javascript:alert(document.cookie)",
        thumbnail="/thumbnails/2501.99991.png",
        **changes,
    )


def test_an_alert_message_links_titles_to_hugging_face_only() -> None:
    paper = evil_paper()
    queued = QueuedAlert(1, paper.id, 1, "matched `zxqevil`", "dm")
    embed = alert_message([(queued, Listing(paper, date(2025, 1, 7), 1))], total=1)
    assert link_hosts(embed.description or "") == {"huggingface.co"}


def test_an_abstract_cannot_take_over_a_title_link() -> None:
    """`](url)` in an abstract shown after a linked title could re-target that title's link."""
    paper = evil_paper(ai_summary="Zxqevil x](https://evil.example) helps.", abstract="")
    queued = QueuedAlert(1, paper.id, 1, "matched `zxqevil`", "dm")
    embed = alert_message([(queued, Listing(paper, date(2025, 1, 7), 1))], total=1)
    assert _MASKED.findall(embed.description or "") == [paper.hf_url]
    text = "x Zxqevil](https://evil.example)"
    hit = SearchHit(Listing(paper, date(2025, 1, 7), 1), Snippet(text, ((2, 9),)))
    page = SearchPage((hit,), 1)
    results = results_embed(SearchRequest(parse_query("zxqevil")), page, 0)
    assert _MASKED.findall(results.description or "") == [paper.hf_url]


def test_a_paper_embed_has_only_http_links_and_no_relative_thumbnail() -> None:
    data = paper_embed(Listing(evil_paper(), date(2025, 1, 7), 1), full=True).to_dict()
    links = next(f["value"] for f in data.get("fields", []) if f["name"] == "Links")
    assert link_hosts(links) == {"arxiv.org"}
    assert "thumbnail" not in data


def test_html_cards_take_no_image_from_the_card_only_hfs_thumbnail() -> None:
    """A card's own images (relative, scripted, foreign) never become a paper's thumbnail."""
    html = """<html><body>
      <article><img src="/thumbs/a.png"><h3><a href="/papers/2501.00001">A</a></h3></article>
      <article><img src="javascript:alert(1)"><h3><a href="/papers/2501.00002">B</a></h3></article>
      <article><img src="https://cdn.example/c.png"><h3><a href="/papers/2501.00003">C</a></h3>
      </article></body></html>"""
    papers = {p.id: p.thumbnail for p in parse_cards(LexborHTMLParser(html))}
    assert papers == {i: thumbnail_url(i) for i in ("2501.00001", "2501.00002", "2501.00003")}


# -- end to end: an alert DM, /alert add's preview and a digest ---------------------------


def evil_item(item: dict[str, Any]) -> dict[str, Any]:
    """A Hugging Face list item turned hostile: title, GitHub, project page, thumbnail."""
    item = copy.deepcopy(item)
    item["title"] = item["paper"]["title"] = EVIL_TITLE
    item["paper"]["githubRepo"] = "https://github.com/a/b) [x](https://evil.example"
    item["paper"]["projectPage"] = "javascript:alert(document.cookie)"
    item["thumbnail"] = "/thumbnails/evil.png"
    item["paper"]["upvotes"] = 99_999  # first in every digest
    return item


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path) as harness:
        await harness.backfill_done()
        yield harness


async def test_an_alert_dm_and_preview_link_only_to_hugging_face(h: Harness) -> None:
    inter = await h.discord.invoke(
        "alert add", {"query": "zxqevil"}, user=h.discord.alice, channel="general"
    )
    assert "saved" in (await inter.final_message()).content
    day = copy.deepcopy(seed_items()["2025-11-28"])
    day[0] = evil_item(day[0])
    h.hf.set_day("2025-01-08", day)
    await h.bot.scrape_job()
    await cast(Any, h.bot.get_cog("Alerts")).engine.run()
    (dm,) = h.discord.dms_to(h.discord.alice)
    assert "Zxqevil" in dm.embeds[0]["description"]
    assert link_hosts(markdown_of(dm)) == {"huggingface.co"}
    # /alert add previews recent matches with linked titles too.
    inter = await h.discord.invoke(
        "alert add", {"query": "zxqevil example"}, user=h.discord.bob, channel="general"
    )
    preview = await inter.final_message()
    assert "would have matched 1" in preview.content
    assert link_hosts(preview.content) == {"huggingface.co"}


async def test_a_digest_links_only_to_http_urls(tmp_path: Path) -> None:
    async with running_bot(tmp_path, start=False) as h:
        h.hf.days["2025-01-07"][0] = evil_item(h.hf.days["2025-01-07"][0])
        await h.start_bot()
        await h.backfill_done()
        inter = await h.discord.invoke(
            "digest now", {"channel": "papers"}, user=h.discord.admin, channel="general"
        )
        assert "Posted the 2025-01-07 digest" in (await inter.final_message()).content
        (message,) = h.discord.messages_in("papers")
        top = message.embeds[0]
        assert top["title"] == EVIL_TITLE  # an embed title is plain text: it links nowhere
        assert "thumbnail" not in top
        links = next(f["value"] for f in top["fields"] if f["name"] == "Links")
        assert link_hosts(links) == {"arxiv.org"}
        hosts = link_hosts(markdown_of(message))
        assert "evil.example" not in hosts and not any("not http" in x for x in hosts)

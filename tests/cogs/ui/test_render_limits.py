"""Issue 10 F2: every embed is clipped to Discord's limits when rendered, and every message is
checked against them on its way out. The fake Discord's validator is the judge."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import discord
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest import DigestSelection
from bot.models import Listing, Paper, QueuedAlert
from cogs.ui.alert_views import alert_message
from cogs.ui.render import (
    FIELD_VALUE_MAX,
    MessagePayload,
    checked,
    digest_messages,
    fit,
    limit_problems,
    links_line,
    paper_embed,
)
from tests.fakes.fake_discord import check_message

DAY = date(2025, 1, 7)
LONG = "https://github.com/huge/" + "a" * 1_000


def accepted(payload: MessagePayload) -> bool:
    """Whether the fake Discord takes this message (it raises Discord's 400 otherwise)."""
    check_message(payload.to_json())
    return True


def paper(**changes: object) -> Paper:
    fields: dict[str, object] = {"id": "2501.00010", "title": "T", "abstract": "A."}
    return Paper(**(fields | changes))  # type: ignore[arg-type]


links = st.one_of(
    st.none(),
    st.text(max_size=3000),
    st.builds(
        lambda n, tail: "https://example.org/" + "p" * n + tail,
        st.integers(0, 2100),
        st.text(max_size=30),
    ),
)
papers = st.builds(
    paper,
    title=st.text(min_size=1, max_size=2000),
    abstract=st.text(max_size=9000),
    authors=st.lists(st.text(max_size=300), max_size=50).map(tuple),
    ai_summary=st.none() | st.text(max_size=9000),
    ai_keywords=st.lists(st.text(max_size=200), max_size=60).map(tuple),
    github_repo=links,
    github_stars=st.none() | st.integers(0, 10**7),
    project_page=links,
    thumbnail=links,
    published_at=st.none() | st.just(datetime(2025, 1, 6, tzinfo=UTC)),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(papers, min_size=1, max_size=12))
def test_any_digest_is_accepted_by_discord(batch: list[Paper]) -> None:
    selection = DigestSelection(DAY, tuple(Listing(p, DAY, n) for n, p in enumerate(batch)), 40)
    messages = digest_messages(selection)
    assert sum(len(m.embeds) for m in messages) == len(batch)
    for message in messages:
        assert limit_problems(message) == [] and accepted(message)


@settings(max_examples=80, deadline=None)
@given(papers)
def test_any_paper_in_full_is_accepted_by_discord(p: Paper) -> None:
    embed = paper_embed(Listing(p, DAY, 1), full=True)
    payload = MessagePayload("", [dict(embed.to_dict())])
    assert limit_problems(payload) == [] and accepted(payload)


def test_links_keep_what_fits_and_drop_the_rest() -> None:
    line = links_line(paper(github_repo=LONG, project_page="https://example.org/p"))
    assert len(line) <= FIELD_VALUE_MAX
    assert "arxiv.org/abs/2501.00010" in line and "arxiv.org/pdf/" in line
    assert "[Project page](https://example.org/p)" in line and "github.com" not in line
    both = links_line(paper(github_repo="https://github.com/a/b", project_page=LONG))
    assert "[GitHub](https://github.com/a/b)" in both and "huge" not in both
    assert len(links_line(paper(github_repo=LONG, project_page=LONG + "b"))) <= FIELD_VALUE_MAX


def test_the_checker_finds_what_discord_refuses() -> None:
    embed = {
        "author": {"name": "a" * 257},
        "fields": [{"name": "Keywords", "value": ""}],
        "thumbnail": {"url": "/relative.png"},
        "url": "javascript:alert(1)",
    }
    problems = limit_problems(MessagePayload("", [embed]))
    assert any("author.name" in p for p in problems)
    assert any("empty field" in p for p in problems)
    assert any("thumbnail.url" in p for p in problems) and any(
        p.startswith("url") for p in problems
    )
    with pytest.raises(Exception, match="Invalid Form Body") as refused:
        accepted(MessagePayload("", [embed]))
    assert getattr(refused.value, "code", None) == 50035


def test_checked_clips_a_message_until_discord_accepts_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    big = {
        "title": "t" * 300,
        "description": "d" * 5000,
        "footer": {"text": "f" * 3000},
        "author": {"name": "a" * 300},
        "fields": [{"name": "n" * 300, "value": "v" * 2000} for _ in range(30)],
        "thumbnail": {"url": "data:image/png;base64,AAAA"},
        "url": "https://huggingface.co/papers/2501.00010",
    }
    payload = MessagePayload("c" * 2500, [big, dict(big), dict(big)])
    with caplog.at_level(logging.WARNING, logger="cogs.ui.render"):
        fixed = checked(payload)
    assert "breaks Discord's limits" in caplog.text
    assert limit_problems(fixed) == [] and accepted(fixed)
    assert fixed.embeds[0]["url"] == big["url"] and "thumbnail" not in fixed.embeds[0]
    assert len(big["description"]) == 5000  # the stored payload itself is left alone


def test_checked_leaves_a_good_message_as_it_is() -> None:
    (message,) = digest_messages(
        DigestSelection(DAY, (Listing(paper(github_repo=LONG), DAY, 1),), 1)
    )
    assert checked(message) is message


def test_fit_makes_any_embed_sendable() -> None:
    embed = discord.Embed(title="x" * 400, description="y" * 7000)
    for n in range(8):
        embed.add_field(name=f"f{n}", value="z" * 1500)
    embed.set_thumbnail(url="/rel.png")
    payload = MessagePayload("", [dict(fit(embed).to_dict())])
    assert limit_problems(payload) == [] and accepted(payload)


def test_an_alert_message_of_huge_papers_is_sendable() -> None:
    items = [
        (
            QueuedAlert(1, f"2501.{n:05d}", 1, "matched `x` " * 300, "dm"),
            Listing(paper(id=f"2501.{n:05d}", title="T" * 2000, abstract="A " * 5000), DAY, n),
        )
        for n in range(12)
    ]
    payload = MessagePayload("", [dict(fit(alert_message(items, total=40)).to_dict())])
    assert limit_problems(payload) == [] and accepted(payload)

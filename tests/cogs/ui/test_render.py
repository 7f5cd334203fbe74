from datetime import date

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest import DigestSelection, select
from bot.models import Listing, Paper
from cogs.ui.render import MessagePayload, digest_messages, limit_problems, pack, paper_embed
from tests.conftest import seed_papers

DAY = date(2025, 1, 7)

huge = st.text(min_size=0, max_size=9000)
papers = st.builds(
    Paper,
    id=st.just("2501.00010"),
    title=st.text(min_size=1, max_size=2000),
    abstract=huge,
    authors=st.lists(st.text(min_size=1, max_size=300), max_size=400).map(tuple),
    upvotes=st.integers(0, 10**9),
    num_comments=st.none() | st.integers(0, 10**6),
    ai_summary=st.none() | huge,
    ai_keywords=st.lists(st.text(max_size=200), max_size=100).map(tuple),
    github_repo=st.none() | st.just("https://github.com/a/b"),
    github_stars=st.none() | st.integers(0, 10**7),
    project_page=st.none() | st.just("https://example.org/" + "x" * 300),
    thumbnail=st.none() | st.just("https://cdn.example/x.png"),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(papers, min_size=1, max_size=25))
def test_any_digest_fits_discords_limits(batch: list[Paper]) -> None:
    listings = [Listing(p, DAY, n) for n, p in enumerate(batch, start=1)]
    selection = DigestSelection(DAY, tuple(listings), len(listings))
    messages = digest_messages(selection)
    assert sum(len(m.embeds) for m in messages) == len(batch)
    for message in messages:
        assert limit_problems(message) == []


@settings(max_examples=40, deadline=None)
@given(papers)
def test_full_paper_embed_fits(paper: Paper) -> None:
    embed = paper_embed(Listing(paper, DAY, 1), full=True)
    assert limit_problems(MessagePayload("", [dict(embed.to_dict())])) == []


def test_a_real_digest_is_one_message_with_header_and_links() -> None:
    selection = select([Listing(p, DAY, n) for n, p in enumerate(seed_papers()[DAY], 1)], top=10)
    assert selection is not None
    messages = digest_messages(selection)
    assert messages[0].content.startswith("📰 **Daily Papers 2025-01-07**: top 10 of 26 papers")
    first = messages[0].embeds[0]
    assert first["url"].startswith("https://huggingface.co/papers/")
    links = next(f for f in first["fields"] if f["name"] == "Links")["value"]
    assert "[arXiv](https://arxiv.org/abs/" in links and "[PDF](" in links


def test_limit_checker_catches_each_limit() -> None:
    too_long = MessagePayload("x" * 2001)
    assert any("content" in p for p in limit_problems(too_long))
    many = MessagePayload("", [{"title": "t"}] * 11)
    assert any("embeds" in p for p in limit_problems(many))
    big = MessagePayload("", [{"description": "x" * 4000}, {"description": "x" * 2500}])
    assert any("total" in p for p in limit_problems(big))
    assert limit_problems(MessagePayload()) == ["empty message"]


def test_pack_splits_on_count_and_size() -> None:
    small = [discord.Embed(title=str(n)) for n in range(23)]
    assert [len(m.embeds) for m in pack("h", small)] == [10, 10, 3]
    large = [discord.Embed(description="x" * 4000) for _ in range(3)]
    assert [len(m.embeds) for m in pack("h", large)] == [1, 1, 1]

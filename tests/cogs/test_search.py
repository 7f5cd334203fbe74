"""/search, /paper and /trending end to end: real discord.py, the fake Discord, seeded store."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Paper
from bot.store import SQLiteStore
from bot.store.postgres import papers as postgres_papers
from bot.store.sqlite import papers as sqlite_papers
from cogs.search import Search
from cogs.ui.search_views import NOT_YOURS, SearchPager
from tests.conftest import seed_papers
from tests.fakes.fake_discord import FakeUser, RecordedMessage
from tests.support.harness import DEFAULT_NOW, Harness, running_bot

# Everything here runs on both store backends.
pytestmark = pytest.mark.usefixtures("store_backend")

SEED = seed_papers()
GROKKING = {"2310.06371", "2507.14285", "2509.01411", "2501.17548"}
LAZY_TO_RICH = "2310.06371"  # Grokking as the Transition from Lazy to Rich Training Dynamics
RELU = "2507.14285"  # Benign Overfitting and Grokking in ReLU Networks for XOR Cluster Data
STORED = "2509.01411"  # Provable Scaling Laws of Feature Emergence ... (listed 2025-11-28)
APOLOGY_START = "Sorry, something went wrong"
LINK = re.compile(r"\]\(https://huggingface\.co/papers/([^)\s]+)\)")


@contextlib.asynccontextmanager
async def search_bot(
    tmp_path: Path,
    *,
    days: Iterable[date] = tuple(SEED),
    now: datetime = DEFAULT_NOW,
    **sections: dict[str, Any],
) -> AsyncIterator[Harness]:
    """The bot with only the search cog, the given seed days stored and no cooldown."""
    async with running_bot(tmp_path, extensions=["cogs.search"], now=now, **sections) as h:
        for day in days:
            await h.store.ingest_day(day, SEED[day])
        cog(h).rate = None
        yield h


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[Harness]:
    async with search_bot(tmp_path) as h:
        yield h


def cog(h: Harness) -> Search:
    # load_extension imports cogs.search afresh, so its Search is not the one imported here.
    found = h.bot.get_cog("Search")
    assert found is not None and type(found).__qualname__ == Search.__qualname__
    return cast(Search, found)


async def run(
    h: Harness, command: str, user: FakeUser | None = None, **options: Any
) -> RecordedMessage:
    """A user runs a command; the message they end up seeing."""
    inter = await h.discord.invoke(command, options, user=user or h.discord.alice)
    return await inter.final_message()


def ids(message: RecordedMessage) -> list[str]:
    """Paper ids in the order the results list them."""
    assert message.embeds, f"expected results, got {message.content!r}"
    return LINK.findall(message.embeds[0]["description"])


def footer(message: RecordedMessage) -> str:
    return str(message.embeds[0]["footer"]["text"])


def button(message: RecordedMessage, custom_id: str) -> dict[str, Any]:
    (found,) = [b for b in message.buttons if b.get("custom_id") == custom_id]
    return found


async def click(h: Harness, message: RecordedMessage, custom_id: str) -> None:
    inter = await h.discord.click(message, custom_id, user=h.discord.alice)
    assert (await inter.response()).type == 7  # the results message itself was updated


# -- relevance ---------------------------------------------------------------------------------


async def test_grokking_finds_exactly_the_four_grokking_papers(seeded: Harness) -> None:
    message = await run(seeded, "search", query="grokking")
    assert set(ids(message)) == GROKKING
    assert footer(message).startswith("Results 1–4 of 4")


async def test_grokking_papers_rank_above_papers_matching_only_the_other_word(
    seeded: Harness,
) -> None:
    message = await run(seeded, "search", query="grokking OR training")
    assert set(ids(message)[:4]) == GROKKING
    assert "of 87" in footer(message)


async def test_a_phrase_finds_its_paper_first(seeded: Harness) -> None:
    message = await run(seeded, "search", query='"lazy to rich"')
    assert ids(message)[0] == LAZY_TO_RICH


async def test_an_excluded_word_drops_the_papers_containing_it(seeded: Harness) -> None:
    message = await run(seeded, "search", query="grokking -relu")
    assert set(ids(message)) == GROKKING - {RELU}


async def test_a_result_shows_link_upvotes_date_authors_and_a_bold_snippet(
    seeded: Harness,
) -> None:
    message = await run(seeded, "search", query="grokking", sort="upvotes")
    entry = message.embeds[0]["description"].split("\n\n")[0]
    title, facts, snippet = entry.split("\n")
    assert title == (
        "**1.** [Grokking as the Transition from Lazy to Rich Training Dynamics]"
        f"(https://huggingface.co/papers/{LAZY_TO_RICH})"
    )
    assert facts == "▲ 106 · 2025-01-07 · Bo Zhang, Sakura Costa, Sofia Achterberg +1 more"
    assert snippet.startswith("We propose that the **grokking** phenomenon")
    assert message.embeds[0]["title"] == "Search: grokking"


async def test_markdown_in_a_title_cannot_break_its_link(seeded: Harness) -> None:
    title = "Why [MASK] tokens *work*: a_b ] study"
    await seeded.store.upsert_paper(Paper(id="2512.00077", title=title, abstract="Masks."))
    message = await run(seeded, "search", query="mask tokens")
    entry = message.embeds[0]["description"].split("\n")[0]
    assert entry == (
        r"**1.** [Why \[MASK\] tokens \*work\*: a\_b \] study]"
        "(https://huggingface.co/papers/2512.00077)"
    )


# -- filters and sorts -------------------------------------------------------------------------


async def test_the_author_option_matches_part_of_a_name(seeded: Harness) -> None:
    message = await run(seeded, "search", query="grokking", author="Achterberg")
    assert set(ids(message)) == {"2501.17548", LAZY_TO_RICH}


async def test_since_and_until_keep_papers_listed_in_between(seeded: Harness) -> None:
    message = await run(seeded, "search", query="grokking", since="2025-03-01", until="2025-09-01")
    assert ids(message) == [RELU]  # listed 2025-08-05; the others 2025-01-07 and 2025-11-28


@pytest.mark.parametrize("value", ["2025-13-01", "07/01/2025", "yesterday", "20250107"])
async def test_a_date_that_is_not_yyyy_mm_dd_is_refused_clearly(
    seeded: Harness, value: str
) -> None:
    message = await run(seeded, "search", query="grokking", since=value)
    assert message.ephemeral
    assert "`since` needs a date written YYYY-MM-DD" in message.content


async def test_since_after_until_is_refused(seeded: Harness) -> None:
    message = await run(seeded, "search", query="grokking", since="2025-09-01", until="2025-01-01")
    assert message.ephemeral and "`since` is after `until`" in message.content


async def test_sort_by_upvotes(seeded: Harness) -> None:
    message = await run(seeded, "search", query="grokking", sort="upvotes")
    upvotes = {p.id: p.upvotes for papers in SEED.values() for p in papers}
    assert [upvotes[i] for i in ids(message)] == [106, 94, 92, 35]


async def test_sort_by_newest_list(seeded: Harness) -> None:
    message = await run(seeded, "search", query="grokking", sort="newest")
    assert ids(message)[2:] == [RELU, LAZY_TO_RICH]  # 2025-08-05, then 2025-01-07
    assert "sorted by newest" in footer(message)


# -- paging ------------------------------------------------------------------------------------


async def test_next_pages_through_every_result_and_previous_comes_back(seeded: Harness) -> None:
    message = await run(seeded, "search", query="diffusion")  # 12 results: 5 + 5 + 2
    first = ids(message)
    assert button(message, "search:previous")["disabled"]
    seen = list(first)
    while not button(message, "search:next").get("disabled"):
        await click(seeded, message, "search:next")
        seen += ids(message)
    assert len(seen) == len(set(seen)) == 12
    assert footer(message).startswith("Results 11–12 of 12 · page 3/3")
    await click(seeded, message, "search:previous")
    await click(seeded, message, "search:previous")
    assert ids(message) == first
    assert button(message, "search:previous")["disabled"]


async def test_slow_searches_and_page_turns_defer_then_show_the_results(
    seeded: Harness,
) -> None:
    cog(seeded).defer_after = 0.0  # defer whatever the store's speed
    inter = await seeded.discord.invoke("search", {"query": "diffusion"})
    assert (await inter.response()).type == 5
    message = await inter.final_message()
    assert footer(message).startswith("Results 1–5")
    turn = await seeded.discord.click(message, "search:next", user=seeded.discord.alice)
    assert (await turn.response()).type == 6  # deferred update of the same message
    assert await turn.final_message() is message
    assert footer(message).startswith("Results 6–10")


async def test_few_results_need_no_buttons(seeded: Harness) -> None:
    message = await run(seeded, "search", query="grokking")
    assert message.buttons == []


async def test_someone_else_clicking_gets_a_private_refusal_and_the_page_stays(
    seeded: Harness,
) -> None:
    message = await run(seeded, "search", query="diffusion")
    before = message.snapshot()
    inter = await seeded.discord.click(message, "search:next", user=seeded.discord.bob)
    refusal = await inter.response()
    assert refusal.type == 4 and refusal.ephemeral
    assert refusal.content == NOT_YOURS
    assert message.snapshot() == before and not message.edited


async def test_the_buttons_turn_off_when_the_view_times_out(seeded: Harness) -> None:
    cog(seeded).view_timeout = 0.5
    message = await run(seeded, "search", query="diffusion")
    await click(seeded, message, "search:next")  # the timeout then edits via this click
    await seeded.discord.wait_for(
        lambda: all(b.get("disabled") for b in message.buttons), 5, "disabled buttons"
    )
    assert footer(message).startswith("Results 6–10")


@pytest.mark.parametrize("private", [False, True])
async def test_the_buttons_turn_off_at_the_timeout_without_a_click(
    seeded: Harness, private: bool
) -> None:
    cog(seeded).view_timeout = 0.5
    message = await run(seeded, "search", query="diffusion", private=private)
    await seeded.discord.wait_for(
        lambda: all(b.get("disabled") for b in message.buttons), 5, "disabled buttons"
    )
    assert footer(message).startswith("Results 1–5")


async def test_a_page_turn_keeps_the_buttons_on_for_another_timeout(seeded: Harness) -> None:
    cog(seeded).view_timeout = 2.0
    message = await run(seeded, "search", query="diffusion")
    await asyncio.sleep(1.0)
    await click(seeded, message, "search:next")
    await asyncio.sleep(1.4)  # 2.4 s after the search, 1.4 s after the turn
    assert not button(message, "search:next").get("disabled")
    await seeded.discord.wait_for(
        lambda: all(b.get("disabled") for b in message.buttons), 5, "disabled buttons"
    )
    assert footer(message).startswith("Results 6–10")


async def test_a_live_pager_keeps_no_interaction(seeded: Harness) -> None:
    # Thousands of pagers live at once: an Interaction (its payload, member, message) each
    # weighed ~2.5 KB; the pager keeps only what edits its message at the timeout.
    message = await run(seeded, "search", query="diffusion")
    await click(seeded, message, "search:next")
    pagers = [o for o in gc.get_objects() if isinstance(o, SearchPager)]
    assert pagers
    for pager in pagers:
        assert not any(isinstance(o, discord.Interaction) for o in gc.get_referents(vars(pager)))


async def test_private_results_are_ephemeral_and_still_page(seeded: Harness) -> None:
    message = await run(seeded, "search", query="diffusion", private=True)
    assert message.ephemeral
    await click(seeded, message, "search:next")
    assert footer(message).startswith("Results 6–10")


# -- odd input ---------------------------------------------------------------------------------


async def test_no_results_says_what_was_searched_and_how_to_loosen_it(seeded: Harness) -> None:
    message = await run(seeded, "search", query='"lazy to poor" -relu', since="2025-01-01")
    assert message.ephemeral and not message.embeds
    assert message.content.startswith(
        'No stored papers match `"lazy to poor" -relu` since 2025-01-01.'
    )
    for hint in ("fewer or more general words", "-exclusion", "widen the dates", "a OR b"):
        assert hint in message.content


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gpt-4", "results"),
        ("c++", "results"),
        ("NEAR(", "results"),
        ('"', "Nothing to search for"),
        ("", "Nothing to search for"),
        ("🤖🧠", "Nothing to search for"),
        ("-video", "Nothing to search for"),
        ("title:", "No stored papers match `title`"),
        ("x" * 5000, "That query is 5,000 characters long; keep it under 500."),
        (" OR ".join(f"w{i}" for i in range(40)), "too many terms"),
    ],
)
async def test_breaking_inputs_get_results_or_a_clear_message(
    seeded: Harness, text: str, expected: str
) -> None:
    message = await run(seeded, "search", query=text)
    if expected == "results":
        assert ids(message)
    else:
        assert message.ephemeral and expected in message.content


async def test_a_query_the_store_cuts_off_is_called_too_broad(seeded: Harness) -> None:
    seeded.store.search_budget = -1.0  # past its budget at SQLite's first progress check
    message = await run(seeded, "search", query="model OR learning")
    assert message.ephemeral and "too broad" in message.content


async def test_a_capped_total_is_shown_as_a_floor(
    seeded: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 20)  # "model" has 110 matches
    monkeypatch.setattr(postgres_papers, "RANK_WINDOW", 20)
    message = await run(seeded, "search", query='"language model" OR learning')
    assert footer(message).startswith("Results 1–5 of 20+ (the newest matches) · page 1/4")


async def test_a_capped_total_ranked_in_full_is_not_called_the_newest(
    seeded: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_papers, "RANK_WINDOW", 20)  # "model" has 110 matches
    monkeypatch.setattr(postgres_papers, "RANK_WINDOW", 20)
    # SQLite ranks every title match of one broad word (its heads), or of the rarest of
    # several words; PostgreSQL the newest.
    newest = "" if isinstance(seeded.store, SQLiteStore) else " (the newest matches)"
    for query in ("model", "model OR learning"):
        message = await run(seeded, "search", query=query)
        assert footer(message).startswith(f"Results 1–5 of 20+{newest} · page 1/4")


TYPABLE = st.characters(blacklist_categories=("Cs",))  # Discord carries UTF-8: no lone surrogates


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=st.text(TYPABLE, max_size=700),
    author=st.none() | st.text(TYPABLE, min_size=1, max_size=20),
)
async def test_any_input_gets_results_or_a_clear_message(
    seeded: Harness, text: str, author: str | None
) -> None:
    options = {"query": text} | ({"author": author} if author else {})
    message = await run(seeded, "search", **options)
    if message.embeds:
        assert message.embeds[0]["title"].startswith("Search: ")
    else:
        assert message.ephemeral and message.content
        assert not message.content.startswith(APOLOGY_START)


async def test_too_many_searches_get_told_how_long_to_wait(seeded: Harness) -> None:
    cog(seeded).rate = (2, 60.0)
    for _ in range(2):
        assert ids(await run(seeded, "search", query="grokking"))
    message = await run(seeded, "search", query="grokking")
    assert message.ephemeral
    assert re.fullmatch(r"Slow down a little: try again in \d+ s\.", message.content)
    assert ids(await run(seeded, "search", user=seeded.discord.bob, query="grokking"))


# -- /paper ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given_id",
    [
        STORED,
        f"{STORED}v2",
        f"https://huggingface.co/papers/{STORED}",
        f"https://arxiv.org/abs/{STORED}v1",
        f"arxiv.org/pdf/{STORED}",
    ],
)
async def test_paper_accepts_ids_and_links(seeded: Harness, given_id: str) -> None:
    message = await run(seeded, "paper", id=given_id)
    assert message.embeds[0]["url"] == f"https://huggingface.co/papers/{STORED}"
    assert seeded.hf.requests_to("/api/papers") == []  # stored: no need to ask HF


async def test_paper_shows_the_paper_in_full(seeded: Harness) -> None:
    message = await run(seeded, "paper", id=STORED)
    (embed,) = message.embeds
    assert embed["title"].startswith("Provable Scaling Laws of Feature Emergence")
    assert embed["description"].startswith("**AI summary:** While the phenomenon of grokking")
    assert "We propose a novel framework" in embed["description"]  # the abstract
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Upvotes"] == "▲ 92 · 💬 3"
    assert fields["Authors"] == "Cengiz Pehlevan"
    assert fields["Keywords"].startswith("provable scaling laws, grokking")
    for link in ("arxiv.org/abs/2509.01411", "arxiv.org/pdf/2509.01411", "provable-scaling-laws"):
        assert link in fields["Links"]
    assert embed["thumbnail"]["url"].endswith("2509.01411.png")
    # Who it comes from (as on HF's cards), then its dates.
    assert (
        embed["footer"]["text"]
        == "Submitted by tomasf · Daily Papers 2025-11-28 · arXiv 2025-09-25"
    )
    assert not message.ephemeral


async def test_a_paper_missing_from_the_store_is_fetched_once_and_kept(tmp_path: Path) -> None:
    async with search_bot(tmp_path, days=[date(2025, 1, 7)]) as h:
        assert await h.store.get_paper(STORED) is None
        first = await run(h, "paper", id=STORED)
        assert first.embeds[0]["title"].startswith("Provable Scaling Laws")
        assert await h.store.get_paper(STORED) is not None
        second = await run(h, "paper", id=f"https://huggingface.co/papers/{STORED}")
        assert second.embeds[0]["title"] == first.embeds[0]["title"]
        assert [r.path for r in h.hf.requests_to("/api/papers")] == [f"/api/papers/{STORED}"]


async def test_a_slow_hugging_face_gets_a_deferral_then_the_paper(tmp_path: Path) -> None:
    async with search_bot(tmp_path, days=[]) as h:
        cog(h).defer_after = 0.1
        h.hf.inject_delay("/api/papers", 0.5)
        inter = await h.discord.invoke("paper", {"id": STORED})
        assert (await inter.response()).deferred
        message = await inter.final_message()
        assert message.embeds[0]["title"].startswith("Provable Scaling Laws")


async def test_a_paper_hugging_face_does_not_know_gets_a_clear_message(seeded: Harness) -> None:
    message = await run(seeded, "paper", id="2501.00001")
    assert message.ephemeral
    assert message.content.startswith("2501.00001 is not on Hugging Face Papers.")
    assert len(seeded.hf.requests_to("/api/papers/2501.00001")) == 1


async def test_hugging_face_down_gets_a_clear_message(tmp_path: Path) -> None:
    async with search_bot(tmp_path, days=[], huggingface={"max_retries": 0}) as h:
        h.hf.inject("/api/papers", 503)
        message = await run(h, "paper", id=STORED)
        assert message.ephemeral
        assert message.content.startswith("Hugging Face did not answer properly")
        assert await h.store.get_paper(STORED) is None


@pytest.mark.parametrize(
    "bad", ["hello", "2513.12345", "https://example.com/papers/2509.01411", "arxiv.org/abs/"]
)
async def test_an_invalid_id_is_refused_without_asking_hugging_face(
    seeded: Harness, bad: str
) -> None:
    message = await run(seeded, "paper", id=bad)
    assert message.ephemeral and "is not an arXiv id or paper link" in message.content
    assert seeded.hf.requests_to("/api/papers") == []


async def test_autocomplete_suggests_stored_titles_by_prefix(seeded: Harness) -> None:
    choices = await seeded.discord.autocomplete("paper", {"id": "grok"}, focused="id")
    assert {c["value"] for c in choices} == GROKKING
    assert all(len(c["name"]) <= 100 and c["name"].endswith(c["value"]) for c in choices)


async def test_autocomplete_keeps_long_titles_within_100_characters(seeded: Harness) -> None:
    long_title = "Zyxwvut " + "very " * 40 + "long titles"
    paper = Paper(id="2512.00042", title=long_title, abstract="About long titles.")
    await seeded.store.upsert_paper(paper)
    choices = await seeded.discord.autocomplete("paper", {"id": "zyx"}, focused="id")
    (choice,) = [c for c in choices if c["value"] == "2512.00042"]
    assert len(choice["name"]) == 100 and choice["name"].endswith("… · 2512.00042")


async def test_autocomplete_offers_a_typed_link_as_its_id(seeded: Harness) -> None:
    typed = f"https://arxiv.org/abs/{STORED}v3"
    choices = await seeded.discord.autocomplete("paper", {"id": typed}, focused="id")
    assert choices[0]["value"] == STORED
    assert choices[0]["name"].startswith("Provable Scaling Laws")


async def test_autocomplete_waits_for_three_letters(seeded: Harness) -> None:
    assert await seeded.discord.autocomplete("paper", {"id": "gr"}, focused="id") == []


# -- /trending ---------------------------------------------------------------------------------

FRESH = Paper(id="2512.00001", title="A fresh Friday paper", abstract="New.", upvotes=5)
MONDAY = Paper(id="2512.00002", title="A popular Monday paper", abstract="Hot.", upvotes=10_000)


@pytest.mark.parametrize(
    ("period", "title", "expected"),
    [
        ("day", "Trending: Daily Papers 2025-12-19", [FRESH.id]),
        ("week", "Trending: the last 7 days (2025-12-14 – 2025-12-20)", [MONDAY.id, FRESH.id]),
        ("month", "Trending: the last 30 days (2025-11-21 – 2025-12-20)", None),
    ],
)
async def test_trending_ranks_the_period_by_upvotes(
    tmp_path: Path, period: str, title: str, expected: list[str] | None
) -> None:
    now = datetime(2025, 12, 20, 12, 0, tzinfo=UTC)  # a Saturday: no list today
    async with search_bot(tmp_path, days=[date(2025, 11, 28)], now=now) as h:
        await h.store.ingest_day(date(2025, 12, 15), [MONDAY])
        await h.store.ingest_day(date(2025, 12, 19), [FRESH])
        message = await run(h, "trending", period=period)
        assert message.embeds[0]["title"] == title
        found = ids(message)
        if expected is not None:
            assert found == expected
        else:  # the 2025-11-28 list joins; the 5-upvote paper is not in the top ten
            november = {p.id for p in SEED[date(2025, 11, 28)]}
            assert found[0] == MONDAY.id and len(found) == 10
            assert set(found[1:]) <= november


async def test_trending_without_a_recent_list_says_so(tmp_path: Path) -> None:
    async with search_bot(tmp_path, days=[], now=datetime(2024, 6, 1, tzinfo=UTC)) as h:
        message = await run(h, "trending")
        assert message.ephemeral
        assert message.content == "No Daily Papers list stored in the last 30 days."

"""/search, alerts and digest keywords find the same papers for every query in the language."""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from bot.alert_policy import validate_alert
from bot.errors import QueryError
from bot.matching import PaperText, matches
from bot.models import Paper
from bot.percolator import AlertIndex
from bot.query import parse_query
from bot.store import SQLiteStore
from bot.text import words
from tests.conftest import seed_papers

ALL = 1000  # more than the seed papers: one page holds every hit


@cache
def papers() -> tuple[Paper, ...]:
    return tuple(p for day in seed_papers().values() for p in day)


@cache
def texts() -> tuple[PaperText, ...]:
    return tuple(PaperText.of(p) for p in papers())


@cache
def corpus() -> tuple[list[str], list[str], list[str], list[str], list[str]]:
    """Words, words as written (`pre-trained,`), 2-3 word runs, author words, author names."""
    text_words: dict[str, None] = {}
    written: dict[str, None] = {}
    runs: dict[str, None] = {}
    for p in papers():
        for field in (p.title, p.abstract, *p.ai_keywords):
            ws = words(field)
            text_words.update(dict.fromkeys(ws))
            written.update(dict.fromkeys(t for t in field.split() if re.search(r"\W", t)))
            for n in (2, 3):
                runs.update(dict.fromkeys(" ".join(ws[i : i + n]) for i in range(len(ws) - n)))
    author_words = sorted({w for p in papers() for a in p.authors for w in words(a)})
    names = sorted({a for p in papers() for a in p.authors})
    return sorted(text_words), sorted(written), sorted(runs), author_words, names


def inflect(word: str, ending: str) -> str:
    """The word with an English ending, spelled roughly as people do (`model` -> `modeled`)."""
    if ending in ("ing", "ed") and word.endswith("e"):
        word = word[:-1]
    if ending == "s" and word.endswith(("s", "x", "ch", "sh")):
        ending = "es"
    return word + ending


ACCENTED = str.maketrans("aeiouc", "áéïöüç")


@st.composite
def text_words(draw: st.DrawFn) -> str:
    """A word of the corpus, a form of one, an accented or capitalised one, or a made-up one."""
    kind = draw(st.integers(0, 9))
    if kind == 9:
        return draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8))
    word = draw(st.sampled_from(corpus()[0]))
    if kind <= 4:
        return word
    if kind <= 6:
        return inflect(word, draw(st.sampled_from(["s", "ing", "ed", "er", "ly", "ation"])))
    if kind == 7:
        return word.capitalize() if draw(st.booleans()) else word.upper()
    return word.translate(ACCENTED)


@st.composite
def terms(draw: st.DrawFn) -> str:
    """One term of the language, as typed."""
    _, written, runs, author_words, names = corpus()
    kind = draw(st.integers(0, 11))
    if kind <= 4:
        return draw(text_words())
    if kind <= 6:
        run = draw(st.sampled_from(runs))
        if draw(st.booleans()):  # a word of it in another form
            ws = run.split()
            i = draw(st.integers(0, len(ws) - 1))
            ws[i] = inflect(ws[i], draw(st.sampled_from(["s", "ing", "ed"])))
            run = " ".join(ws)
        return f'"{run}"'
    if kind == 7:
        return draw(st.sampled_from(written)).strip('"')  # `pre-trained,` is a phrase too
    if kind <= 9:
        return f"author:{draw(st.sampled_from(author_words))}"
    if kind == 10:
        return f'author:"{draw(st.sampled_from(names))}"'
    name = draw(st.sampled_from(names)).split()
    return f'author:"{" ".join(reversed(name))}"'  # a name the wrong way round


@st.composite
def queries(draw: st.DrawFn) -> str:
    """Words, "phrases", OR groups, -excluded terms and author: terms, as a person types them."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        group = draw(st.lists(terms(), min_size=1, max_size=3))
        parts.append(" OR ".join(group))
    for _ in range(draw(st.integers(0, 2))):
        parts.append("-" + draw(terms()))
    return " ".join(draw(st.permutations(parts)))


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=queries())
async def test_search_alerts_and_keywords_find_the_same_papers(
    seeded_store: SQLiteStore, raw: str
) -> None:
    query = parse_query(raw)
    try:
        page = await seeded_store.search(query, limit=ALL)
    except QueryError:
        reject()  # refused by the store (none is, on the seed corpus)
    try:
        validate_alert(query)
    except QueryError:
        event("an alert would refuse it")  # compared all the same: no reason to differ
    assert not page.capped and page.total == len(page.hits)
    by_search = {h.listing.paper.id for h in page.hits}
    by_matching = {p.id for p, t in zip(papers(), texts(), strict=True) if matches(query, t)}
    index = AlertIndex.build([(1, query)])
    by_alert = {pid for pid, found in index.match_many(papers()).items() if 1 in found}
    event("finds nothing" if not by_search else "finds papers")
    assert by_search == by_matching == by_alert, raw


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("diffusing", "diffusion"),  # the case of the issue: one stem on both sides
        ('"state spaces"', "state space"),
        ("LLM", "LLMs"),
        ("generalizing", "generalization"),
    ],
)
async def test_a_word_form_finds_the_papers_that_write_another(
    seeded_store: SQLiteStore, typed: str, written: str
) -> None:
    query = parse_query(typed)
    page = await seeded_store.search(query, limit=ALL)
    found = {h.listing.paper.id for h in page.hits}
    alerts = AlertIndex.build([(1, query)])
    alerted = {p.id for p in papers() if 1 in alerts.match(p)}
    pattern = re.compile(rf"\b{written}\b", re.IGNORECASE)
    writing = {p.id for p in papers() if pattern.search(f"{p.title} {p.abstract}")}
    assert writing and writing <= found == alerted

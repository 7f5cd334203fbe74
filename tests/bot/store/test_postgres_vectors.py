"""The PostgreSQL store's vectors, written in Python: the fast `search_vectors` (position
labels made once, pairs from one pass over each item's words) gives exactly what the plain
word-by-word one gave."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.store.postgres.fts import (
    AUTHOR_WEIGHT,
    MAX_POSITION,
    PAIR,
    _fields,
    _kept_pairs,
    _quote,
    search_vectors,
)
from bot.store.postgres.pair_words import PAIR_WORDS
from bot.text import analyze

SEED = Path(__file__).resolve().parents[2] / "data" / "seed_days.json"


# The plain search_vectors, as it was before (the oracle).
def plain_search_vectors(
    title: str, abstract: str, keywords: Sequence[str], authors: Sequence[str]
) -> tuple[str, str]:
    positions: dict[str, list[str]] = {}
    pairs: set[str] = set()
    at = 0
    for weight, items in _fields(title, abstract, keywords, authors):
        for item in items:
            at += 1  # the gap before each field and each keyword or author
            before = None  # the common text word at the position before, if any
            for word in analyze(item):
                at += 1
                positions.setdefault(word, []).append(f"{min(at, MAX_POSITION)}{weight}")
                if word in PAIR_WORDS and weight != AUTHOR_WEIGHT:
                    if before is not None:
                        pairs.add(f"{before}{PAIR}{word}")
                    before = word
                else:
                    before = None
    if at >= MAX_POSITION or any(len(p) > 256 for p in positions.values()):
        pairs = _kept_pairs(title, abstract, keywords, authors)
    vector = " ".join(f"{_quote(w)}:{','.join(p[:256])}" for w, p in positions.items())
    return vector, " ".join(_quote(p) for p in sorted(pairs))


WORDS = [
    *sorted(PAIR_WORDS)[:200:3],
    "the",
    "of",
    "linear",
    "models",
    "grokking",
    "naïve",
    "GPT-4",
    "x_y",
    "½",
    "LLMs",
]
TEXTS = st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(
    title=TEXTS,
    abstract=TEXTS,
    keywords=st.lists(TEXTS, max_size=4),
    authors=st.lists(TEXTS, max_size=4),
)
def test_the_vectors_are_the_plain_ones(
    title: str, abstract: str, keywords: list[str], authors: list[str]
) -> None:
    got = search_vectors(title, abstract, keywords, authors)
    assert got == plain_search_vectors(title, abstract, keywords, authors)


def test_the_seed_papers_vectors_are_the_plain_ones() -> None:
    days = json.loads(SEED.read_text(encoding="utf-8"))
    for items in days.values():
        for item in items:
            p = item["paper"]
            fields = (
                p["title"],
                p["summary"],
                tuple(p.get("ai_keywords") or ()),
                tuple(a["name"] for a in p.get("authors") or ()),
            )
            assert search_vectors(*fields) == plain_search_vectors(*fields), p["id"]


def test_long_texts_past_the_labels_and_the_kept_positions_are_the_plain_ones() -> None:
    long = " ".join(f"state space word{n % 300} model" for n in range(4200))
    for fields in (
        ("Linear models", long, ("deep learning",), ("Jane Doe",)),
        ("linear " * 1500, "models linear " * 400, ("k l",) * 50, ("linear model",) * 10),
        ("a " * 2040, "linear models", ("state space",), ()),  # the labels end mid-field
    ):
        assert search_vectors(*fields) == plain_search_vectors(*fields)

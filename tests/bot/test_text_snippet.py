"""The fast snippet (an ASCII text's words stemmed from one split) gives exactly what the
plain one gave: every word found by the regex and analysed."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Snippet
from bot.text import (
    _SPACE,
    _WORD,
    _WORD_MARKED,
    SNIPPET_WORDS,
    _sentence_starts,
    analyze,
    snippet,
)

SEED = Path(__file__).resolve().parents[1] / "data" / "seed_days.json"


# The plain snippet, as it was before (the oracle).
def plain_snippet(text: str, wanted: Collection[str], size: int = SNIPPET_WORDS) -> Snippet:
    """About `size` words of `text` from around the first word whose analysis is `wanted`.

    Those words are highlighted; the window starts at the beginning of that word's sentence
    when it is near, and `…` marks a cut. Without such a word, the text's first words.
    """
    found = list((_WORD if text.isascii() else _WORD_MARKED).finditer(text))
    if not found:
        return Snippet()

    def hit(i: int) -> bool:
        return any(a in wanted for a in analyze(found[i].group()))

    first = next((i for i in range(len(found)) if hit(i)), None)
    start = 0
    if first is not None:
        start = first
        # Back up to the start of the sentence, at most half a window.
        while start > 0 and first - start < size // 2 and not _sentence_starts(text, found, start):
            start -= 1
    end = min(start + size, len(found))
    parts: list[str] = ["…"] if start > 0 else []
    length = len(parts[0]) if parts else 0
    spans: list[tuple[int, int]] = []
    for i in range(start, end):
        if i > start:  # what stood between two words, on one line
            gap = _SPACE.sub(" ", text[found[i - 1].end() : found[i].start()])
            parts.append(gap)
            length += len(gap)
        word = found[i].group()
        if first is not None and hit(i):
            spans.append((length, length + len(word)))
        parts.append(word)
        length += len(word)
    if end < len(found):
        parts.append("…")
    return Snippet("".join(parts), tuple(spans))


def _abstracts() -> list[str]:
    days = json.loads(SEED.read_text(encoding="utf-8"))
    return [item["paper"]["summary"] for items in days.values() for item in items]


ABSTRACTS = _abstracts()
VOCAB = sorted({w.lower() for text in ABSTRACTS[:40] for w in re.findall(r"[A-Za-z]+", text)})
PIECES = [
    *VOCAB[:300],
    "the",
    "and",
    "of",
    "is",
    "a",
    "Ünïcode",
    "naïve",
    "e\u0301t\u00e9",
    "x_y",
    "3D",
    "GPT-4",
]


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(
        st.tuples(
            st.sampled_from(PIECES), st.sampled_from([" ", ". ", ", ", "! ", " (", ") ", "\n"])
        ),
        max_size=60,
    ).map(lambda ws: "".join(w + sep for w, sep in ws)),
    wanted=st.sets(st.sampled_from(PIECES), max_size=4),
    size=st.integers(1, 20),
)
def test_the_snippet_is_the_plain_one(text: str, wanted: set[str], size: int) -> None:
    stems = {a for w in wanted for a in analyze(w)}
    assert snippet(text, stems, size) == plain_snippet(text, stems, size)


def test_the_seed_abstracts_snippets_are_the_plain_ones() -> None:
    for i, text in enumerate(ABSTRACTS):
        words = [a for w in re.findall(r"\w+", text) for a in analyze(w)]
        for wanted in ({words[i % len(words)]}, {words[-1]}, {"model", "learn"}, set()):
            assert snippet(text, wanted) == plain_snippet(text, wanted), (i, wanted)

"""Evaluate a parsed Query against one paper in Python (digest keywords, alerts).

Words are compared as `bot.text.analyze` reads them (case, accents and English word
endings ignored: `Diffusion models` meets `diffusing model`), the same reading /search
uses, over the title, abstract and AI keywords; `author:` terms look at author names.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Paper
from bot.query import Query, Term
from bot.text import analyze, analyze_words


@dataclass(frozen=True, slots=True)
class PaperText:
    """A paper's words, analysed once, field by field (phrases never span two fields)."""

    text_fields: tuple[tuple[str, ...], ...]
    authors: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, paper: Paper) -> PaperText:
        fields = [paper.title, paper.abstract, *paper.ai_keywords]
        return cls(
            tuple(tuple(analyze(f)) for f in fields),
            tuple(tuple(analyze(a)) for a in paper.authors),
        )


def term_matches(term: Term, text: PaperText) -> bool:
    """True if the term's words appear consecutively in one field."""
    needle = analyze_words(term.tokens)
    if not needle:
        return False  # nothing left to look for (a term of accents alone)
    haystacks = text.authors if term.field == "author" else text.text_fields
    return any(_contains(h, needle) for h in haystacks)


def matches(query: Query, paper: Paper | PaperText) -> bool:
    """True if every group has a matching term and no excluded term matches."""
    text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
    return all(any(term_matches(t, text) for t in group) for group in query.groups) and not any(
        term_matches(t, text) for t in query.excluded
    )


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    if n == 1:
        return needle[0] in haystack
    first = needle[0]
    return any(
        haystack[i] == first and haystack[i : i + n] == needle for i in range(len(haystack) - n + 1)
    )


def highlights(query: Query) -> frozenset[str]:
    """The analysed words a snippet highlights: those of the query's positive text terms."""
    return frozenset(a for t in query.terms() if t.field == "text" for a in analyze_words(t.tokens))

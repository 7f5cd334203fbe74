"""Word splitting shared by search, alert matching and rendering."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+")


_ODD_SPACE = ("\n", "  ", "\t", "\r")


def normalise_space(text: str | None) -> str:
    """Collapse arXiv hard wraps and runs of white space into single spaces."""
    if not text:
        return ""
    # Most names and keywords are already clean: skip the split (a hot path when parsing).
    clean_edges = text.isascii() and text[0] != " " and text[-1] != " "
    if clean_edges and not any(odd in text for odd in _ODD_SPACE):
        return text
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Lower-case word tokens, split the way SQLite's unicode61 tokenizer splits."""
    return _WORD.findall(text.casefold())


def fold(word: str) -> str:
    """Fold simple English plurals so that `transformer` and `transformers` meet."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def folded_words(text: str) -> list[str]:
    """Words with plurals folded: the unit alert matching compares."""
    return [fold(w) for w in words(text)]

"""A search hit's snippet: the store's highlight spans become bold, the rest stays literal."""

from __future__ import annotations

from bot.models import Listing, Paper, SearchHit, Snippet
from bot.text import analyze, snippet
from cogs.ui.search_views import ENTRY_SNIPPET_MAX, snippet_line


def hit(cut: Snippet, abstract: str = "An abstract.") -> SearchHit:
    return SearchHit(Listing(Paper("2401.00010", "T", abstract), None, 0), cut)


def test_matched_words_are_bold_and_markdown_in_the_text_is_escaped() -> None:
    abstract = "Why *grokking* needs **no** tricks: a_b `code` [link](x) and ~~grokked~~ nets."
    line = snippet_line(hit(snippet(abstract, frozenset(analyze("grokking")))))
    assert line == (
        r"Why \***grokking**\* needs \*\*no\*\* tricks: a\_b \`code\` \[link\]\(x) and"
        r" \~\~**grokked**\~\~ nets"
    )


def test_a_long_snippet_is_clipped_with_its_bold_kept_closed() -> None:
    text = "x" * (ENTRY_SNIPPET_MAX - 5) + " grokking and more"
    start = text.index("grokking")
    line = snippet_line(hit(Snippet(text, ((start, start + 8),))))
    assert line.endswith(" **gro…**")
    assert line.count("**") == 2


def test_no_snippet_falls_back_to_the_summary_or_abstract() -> None:
    assert snippet_line(hit(Snippet(), "Plain *abstract*.")) == r"Plain \*abstract\*."

"""delatex: the LaTeX residue real abstracts carry, as plain text; ordinary text untouched."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.hf import latex
from bot.hf.latex import delatex


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        (r"the \textbf{Knowing--Using Gap}", "the Knowing–Using Gap"),
        (r"recovers 58--75\% of it", "recovers 58–75% of it"),
        (r"The pipeline, \ours, wins", "The pipeline, ours, wins"),
        (r"by 50\% and \emph{\textit{nested}}", "by 50% and nested"),
        (r"a $\times$3 gain and $x_t$ at $O(n)$", "a ×3 gain and x_t at O(n)"),
        ("up to {approx}5{times} across", "up to ≈5× across"),  # HF's own rendering of $\approx$
        (
            r"Stable Audio~3 on a Raspberry~Pi~5, (i)~the model",
            "Stable Audio 3 on a Raspberry Pi 5, (i) the model",
        ),
        (
            r"see \href{https://x.example}{our page} or \url{https://y.example}",
            "see our page or https://y.example",
        ),
        (r"R\&D at \$5", "R&D at $5"),
    ],
)
def test_latex_becomes_plain_text(raw: str, plain: str) -> None:
    assert delatex(raw) == plain


@pytest.mark.parametrize(
    "text",
    [
        "A plain abstract, with (~47k tools) and ~50-64 points.",
        "Prices from $5 to $10 stay prices.",
        "Across {Qwen3-4B, 8B, 14B} and z_{t+1}-z_t.",
        "state-of-the-art, non-trivial",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert delatex(text) == text


# The patterns as first written, each starting with its look-behind (tried at every
# character): delatex's own start with their mark instead, and must find the same matches.
_LOOKING_FIRST = {
    "_MATH": r"(?<!\\)\$(?=\S)([^$\n]{1,200}?)(?<=\S)\$(?!\d)",
    "_MATH_COMMAND": r"(?<!\\)\$(\\[A-Za-z][^$\n]{0,200}?)\$",
    "_TIE": r"(?<=[\w).,;:])~(?=[\w(])",
    "_EN_DASH": r"(?<=\w)--(?=\w)",
}


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="ab1 é_-~$\\().,;:{}\n\t", max_size=30))
def test_mark_first_patterns_match_as_the_look_behind_ones(text: str) -> None:
    for name, pattern in _LOOKING_FIRST.items():
        ours = getattr(latex, name)
        first = re.compile(pattern)
        assert [m.span() for m in ours.finditer(text)] == [
            m.span() for m in first.finditer(text)
        ], name
        assert ours.sub("<>", text) == first.sub("<>", text), name


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab1 é-~\n", max_size=30))
def test_dashes_and_ties_as_before(text: str) -> None:
    before = re.compile(r"(?<=\w)---(?=\w)|\s---\s").sub(
        lambda m: " — " if m.group(0).startswith(" ") else "—", text
    )
    before = re.compile(r"(?<=\w)--(?=\w)").sub("–", before)
    before = re.compile(r"(?<=[\w).,;:])~(?=[\w(])").sub(" ", before)
    assert delatex(text) == before

"""What an alert may be: not empty, able to match, and not so broad it matches everything."""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import QueryError
from bot.query import Query, Term
from bot.text import analyze, analyze_words, contains_run

# A compact English stop-word list: words too common to be an alert on their own.
_STOP_WORDS_TEXT = """
    a about above after again against all almost also although always am among an and
    another any are around as at be because been before being below between both but by
    can could did do does doing done down during each either else enough even ever every
    few for from further had has have having he her here hers herself him himself his how
    however i if in into is it its itself just least less like made make many may me might
    more most much must my myself near neither no nor not now of off often on once one only
    or other others our ours ourselves out over own per perhaps quite rather same several
    shall she should since so some such than that the their theirs them themselves then
    there therefore these they this those though through thus to too toward towards under
    until up upon us use used using very via was we well were what whatever when where
    whether which while who whom whose why will with within without would yet you your
    yours yourself
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_WORDS_TEXT.split())
# What the stop words analyse to: `using` is as broad as `use`, and so is `does` (`doe`).
STOP_STEMS: frozenset[str] = frozenset(a for w in STOP_WORDS for a in analyze(w))


def validate_alert(query: Query) -> None:
    """Refuse an alert that is empty, can never match, or would match almost everything."""
    if not query.groups:
        if query.excluded:
            raise QueryError("That alert only excludes words; add at least one word to look for.")
        raise QueryError("That alert is empty; add at least one word to look for.")
    for group in query.groups:
        blockers = [_blocker(term, query.excluded) for term in group]
        if all(b is not None for b in blockers):
            shown = " OR ".join(f"`{t}`" for t in group) or "an empty group"
            by = ", ".join(dict.fromkeys(f"`-{b}`" for b in blockers if b is not None))
            raise QueryError(f"That alert can never match: {shown} is ruled out by {by}.")
    if all(all(_is_broad(term) for term in group) for group in query.groups):
        shown = " ".join(f"`{t}`" for g in query.groups for t in g)
        raise QueryError(
            f"That alert is too broad: {shown} would match almost every paper; "
            "add a more specific word."
        )


def _blocker(term: Term, excluded: Sequence[Term]) -> Term | None:
    """An excluded term found wherever `term` is (so `term` can never count), if any."""
    needle = analyze_words(term.tokens)
    if not needle:
        return term  # an empty term matches nothing
    for ex in excluded:
        ex_needle = analyze_words(ex.tokens)
        if ex.field == term.field and ex_needle and contains_run(needle, ex_needle):
            return ex
    return None


def _is_broad(term: Term) -> bool:
    return all(len(t) <= 1 or t in STOP_STEMS for t in analyze_words(term.tokens))

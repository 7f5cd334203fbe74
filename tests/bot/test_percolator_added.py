"""AlertIndex.match_again: what a paper's new text matches that its old text did not (and
what the alerts kept either way match), the texts' shared parts tokenized, looked up and
verified once; checked against matching each text on its own."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alert_terms import _PaperKeys, _tokens
from bot.models import Paper
from bot.percolator import AlertIndex
from bot.query import Query, Term, parse_query
from tests.bot.test_percolator import odd_text, queries, seeds, synthetic_papers, vocabulary


def check_again(
    index: AlertIndex, pairs: list[tuple[Paper, Paper]], keep: frozenset[int] = frozenset()
) -> None:
    """match_again answers each (old, new) with match(new) less the alerts of match(old),
    those in `keep` excepted."""
    got = index.match_again(pairs, keep)
    assert set(got) == {new.id for _, new in pairs}
    for old, new in pairs:
        then = index.match(old)
        want = {a: m for a, m in index.match(new).items() if a not in then or a in keep}
        assert dict(got[new.id]) == want
        assert len(got[new.id]) == len(want)  # (no alert twice)


@st.composite
def changed(draw: st.DrawFn, i: int, words: list[str]) -> tuple[Paper, Paper]:
    """A paper and its text changed: fields kept, taken from another paper, emptied, given
    more words, or made of the alerts' own words (so that the alerts' words come and go)."""
    old, other = draw(synthetic_papers(i)), draw(synthetic_papers(i))
    some = st.lists(st.sampled_from(words), min_size=1, max_size=6).map(" ".join)
    other = dataclasses.replace(
        other, title=draw(some), authors=(draw(some),), ai_keywords=(draw(some),)
    )
    fields = {}
    for name in ("title", "abstract", "authors", "ai_keywords"):
        how = draw(st.sampled_from(["keep", "keep", "other", "empty", "more"]))
        if how == "other":
            fields[name] = getattr(other, name)
        elif how == "empty":
            fields[name] = type(getattr(old, name))()
        elif how == "more":  # words added to what was there
            mine, theirs = getattr(old, name), getattr(other, name)
            fields[name] = f"{mine} {theirs}" if isinstance(mine, str) else (*mine, *theirs)
    return old, dataclasses.replace(old, **fields)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alert_list=st.lists(queries, min_size=1, max_size=40), data=st.data())
def test_match_again_is_each_text_matched_alone(
    alert_list: list[Query], data: st.DataObject
) -> None:
    index = AlertIndex.build(enumerate(alert_list))
    words = [w for q in alert_list for t in (*q.terms(), *q.excluded) for w in t.tokens]
    pairs = [data.draw(changed(i, words)) for i in range(4)]
    undone = [  # and each change undone (under another id: one answer per id)
        (dataclasses.replace(new, id=f"8{new.id}"), dataclasses.replace(old, id=f"8{old.id}"))
        for old, new in pairs
    ]
    pairs += undone
    check_again(index, pairs, data.draw(st.frozensets(st.integers(0, len(alert_list)))))


def test_a_phrase_alert_matches_once_its_phrase_arrives_in_the_keywords() -> None:
    index = AlertIndex.build([(1, parse_query('"state space model"')), (2, parse_query("art"))])
    old = Paper(id="2401.00001", title="A state of the art space model", abstract="")
    new = dataclasses.replace(old, ai_keywords=("state space model",))
    assert set(index.match_again([(old, new)])[new.id]) == {1}
    assert set(index.match_again([(old, new)], {2})[new.id]) == {1, 2}


def test_seed_papers_given_keywords_match_as_each_text_alone() -> None:
    alerts = [parse_query(q) for q in ("model", "language OR vision", "learning -reinforcement")]
    alerts += [parse_query('"reinforcement learning" author:smith'), parse_query("vision model")]
    index = AlertIndex.build(enumerate(alerts))
    pairs = [
        (p, dataclasses.replace(p, ai_keywords=("reinforcement learning", "vision")))
        for p in seeds()[:30]
    ]
    check_again(index, pairs)
    check_again(index, pairs, frozenset({0, 2, 3}))


@settings(max_examples=60, deadline=None)
@given(
    old=st.tuples(odd_text, odd_text, odd_text, odd_text),
    new=st.tuples(odd_text, odd_text, odd_text, odd_text),
    keep=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_the_parts_lent_by_the_other_text_tokenize_as_the_whole(
    old: tuple[str, ...], new: tuple[str, ...], keep: tuple[bool, bool, bool]
) -> None:
    """Odd text included (the separator, non-ASCII, empty fields): a paper's keys and words,
    made with the other text's equal parts, are those it has on its own."""
    index = AlertIndex.build(enumerate(parse_query(q) for q in ("abc xyz", '"abc abc"', "x")))
    keys, starters = index._lookup()
    then = Paper("2401.00001", old[0], old[1], authors=(old[2],), ai_keywords=(old[3],))
    fields = {
        "title": old[0] if keep[0] else new[0],
        "abstract": old[1] if keep[0] else new[1],
        "authors": then.authors if keep[1] else (new[2],),
        "ai_keywords": then.ai_keywords if keep[2] else (new[3], new[0]),
    }
    now = dataclasses.replace(then, **fields)
    alone = _PaperKeys(now, keys | {"abc", "xyz", ("abc", "abc")}, starters | {"abc"})
    lent = _PaperKeys(then, keys | {"abc", "xyz", ("abc", "abc")}, starters | {"abc"})
    shared = _PaperKeys(
        now, keys | {"abc", "xyz", ("abc", "abc")}, starters | {"abc"}, like=(then, lent)
    )
    assert (shared.text, shared.authors, shared.keys) == (alone.text, alone.authors, alone.keys)
    whole = _tokens((now.title, now.abstract, *now.ai_keywords))
    assert len(alone.text) == len(whole)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_match_again_over_few_words_is_each_text_matched_alone(
    data: st.DataObject,
) -> None:
    """Alerts and papers made of a handful of words, so that OR groups, pairs and excluded
    words are found, lost and found again by other variants all the time."""
    text_words = vocabulary()[0]
    pool = data.draw(st.lists(st.sampled_from(text_words), min_size=3, max_size=6, unique=True))
    word = st.sampled_from(pool)
    term = st.one_of(
        word.map(lambda w: Term("text", (w,))),
        st.tuples(word, word).map(lambda ws: Term("text", ws)),
        word.map(lambda w: Term("author", (w,))),
    )
    group = st.lists(term, min_size=1, max_size=3).map(tuple)
    alert_list = data.draw(
        st.lists(
            st.builds(
                Query,
                st.lists(group, min_size=1, max_size=2).map(tuple),
                st.lists(term, max_size=1).map(tuple),
            ),
            min_size=1,
            max_size=30,
        )
    )
    index = AlertIndex.build(enumerate(alert_list))
    text = st.lists(word, max_size=6).map(" ".join)
    fields = st.fixed_dictionaries(
        {
            "title": text,
            "abstract": text,
            "authors": st.lists(text, max_size=2).map(tuple),
            "ai_keywords": st.lists(text, max_size=2).map(tuple),
        }
    )
    pairs = []
    for i in range(6):
        old = Paper(id=f"9999.{i:05d}", **data.draw(fields))
        pairs.append((old, dataclasses.replace(old, **data.draw(fields))))
    check_again(index, pairs, data.draw(st.frozensets(st.integers(0, len(alert_list)))))


@pytest.mark.parametrize("rarer", ["a", "c"])
def test_an_alert_matched_before_by_another_variant_is_not_matched_again(rarer: str) -> None:
    """(a OR b) c: the old text matched by the pair (a, c), the new one by (b, c). Either
    key of a pair may be filed first (the rarer), so both orders are checked."""
    words = {"a": "alpha", "b": "beta", "c": "gamma"}
    freq = {"alpha": 0.5, "beta": 0.5, "gamma": 0.5, words[rarer]: 0.01}
    query = parse_query(f"({words['a']} OR {words['b']}) {words['c']}")
    index = AlertIndex.build([(1, query), (2, parse_query(words["b"]))], freq)
    old = Paper(id="2401.00001", title="alpha gamma", abstract="")
    new = dataclasses.replace(old, title="beta gamma")
    assert set(index.match_again([(old, new)])[new.id]) == {2}
    check_again(index, [(old, new)])
    check_again(index, [(old, new)], frozenset({1}))


def test_a_phrase_whose_key_both_texts_hold_is_verified_on_each() -> None:
    """The phrase's key, (state, space), is in the old keywords and the new, but only the
    new ones hold the whole phrase: the query is verified on both texts."""
    freq = {"state": 0.1, "space": 0.1, "model": 0.9}
    index = AlertIndex.build([(1, parse_query('"state space model"'))], freq)
    old = Paper("2401.00001", "A survey", "", ai_keywords=("state space", "model"))
    new = dataclasses.replace(old, ai_keywords=("state space model",))
    assert set(index.match_again([(old, new)])[new.id]) == {1}
    assert set(index.match_again([(new, old)])[old.id]) == set()

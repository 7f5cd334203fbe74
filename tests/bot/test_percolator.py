"""The alert percolator: the same answers as bot.matching.matches, found through an index."""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alert_policy import STOP_WORDS, validate_alert
from bot.errors import QueryError
from bot.matching import PaperText, matches, term_matches
from bot.models import Paper
from bot.percolator import AlertIndex, Match
from bot.query import Field, Query, Term, parse_query
from bot.text import words
from tests.conftest import seed_papers

PAPER = Paper(
    id="2401.00010",
    title="Scaling Transformers for Video Diffusion",
    abstract="We study diffusion models. Results on ImageNet.",
    authors=("Robin Rombach", "Ada Lovelace"),
    ai_keywords=("latent diffusion", "video generation"),
)
OTHER = Paper(
    id="2401.00011",
    title="Grokking in Small Networks",
    abstract="Networks generalise long after they memorise.",
    authors=("Ada Byron",),
)


def index_of(*queries: str) -> AlertIndex:
    return AlertIndex.build((i, parse_query(q)) for i, q in enumerate(queries, 1))


def matched(query: str, paper: Paper = PAPER) -> bool:
    return 1 in index_of(query).match(paper)


# -- the oracle, at random ----------------------------------------------------------


@cache
def seeds() -> list[Paper]:
    return [p for day in seed_papers().values() for p in day]


@cache
def seed_texts() -> list[PaperText]:
    return [PaperText.of(p) for p in seeds()]


@cache
def vocabulary() -> tuple[list[str], list[str], list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Text words, author words, and real text and author phrases, from the seed papers."""
    text_words: dict[str, None] = {}
    author_words: dict[str, None] = {}
    text_runs: dict[tuple[str, ...], None] = {}
    author_runs: dict[tuple[str, ...], None] = {}
    for p in seeds()[:60]:
        for field in (p.title, p.abstract[:300], *p.ai_keywords):
            ws = words(field)
            text_words.update(dict.fromkeys(ws))
            for n in (2, 3):
                text_runs.update(dict.fromkeys(tuple(ws[i : i + n]) for i in range(len(ws) - n)))
        for name in p.authors:
            ws = words(name)
            author_words.update(dict.fromkeys(ws))
            author_runs[tuple(ws)] = None
    plurals = [w + "s" for w in list(text_words)[:200]]  # `transformers` for `transformer`
    return (
        [*text_words, *plurals, "zzyzx"],
        [*author_words, "nobody"],
        list(text_runs),
        list(author_runs),
    )


@st.composite
def terms(draw: st.DrawFn) -> Term:
    text_words, author_words, text_runs, author_runs = vocabulary()
    kind = draw(st.integers(0, 9))
    if kind <= 4:
        return Term("text", (draw(st.sampled_from(text_words)),))
    if kind <= 6:
        run = draw(st.sampled_from(text_runs))
        if draw(st.booleans()):  # a real phrase, or one with a word changed
            i = draw(st.integers(0, len(run) - 1))
            run = (*run[:i], draw(st.sampled_from(text_words)), *run[i + 1 :])
        return Term("text", run)
    if kind <= 8:
        return Term("author", (draw(st.sampled_from(author_words)),))
    return Term("author", draw(st.sampled_from(author_runs)))


queries = st.builds(
    Query,
    st.lists(st.lists(terms(), min_size=1, max_size=3).map(tuple), min_size=1, max_size=3).map(
        tuple
    ),
    st.lists(terms(), max_size=2).map(tuple),
)


@st.composite
def synthetic_papers(draw: st.DrawFn, i: int) -> Paper:
    """A paper made of vocabulary words, so random alerts hit it often."""
    text_words, author_words, _, _ = vocabulary()
    word_lists = st.lists(st.sampled_from(text_words), min_size=1, max_size=12)
    return Paper(
        id=f"9999.{i:05d}",
        title=" ".join(draw(word_lists)),
        abstract=". ".join(" ".join(draw(word_lists)) for _ in range(draw(st.integers(0, 4)))),
        authors=tuple(
            " ".join(draw(st.lists(st.sampled_from(author_words), min_size=1, max_size=3)))
            for _ in range(draw(st.integers(0, 4)))
        ),
        ai_keywords=tuple(" ".join(draw(word_lists)[:3]) for _ in range(draw(st.integers(0, 3)))),
    )


def check_against_oracle(
    index: AlertIndex, alerts: dict[int, Query], paper: Paper, text: PaperText | None = None
) -> None:
    """Same alerts as the oracle, and each reason names the first matching term per group."""
    text = text or PaperText.of(paper)
    got = index.match(paper)
    assert got.keys() == {a for a, q in alerts.items() if matches(q, text)}, paper.id
    for alert_id, match in got.items():
        expected = tuple(
            next(t for t in group if term_matches(t, text)) for group in alerts[alert_id].groups
        )
        assert match.terms == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alert_list=st.lists(queries, min_size=1, max_size=40), data=st.data())
def test_random_alerts_match_like_the_oracle(alert_list: list[Query], data: st.DataObject) -> None:
    alerts = dict(enumerate(alert_list))
    index = AlertIndex.build(alerts.items())
    for paper, text in zip(seeds(), seed_texts(), strict=True):
        check_against_oracle(index, alerts, paper, text)
    synthetic = [data.draw(synthetic_papers(i)) for i in range(3)]
    for paper in synthetic:
        check_against_oracle(index, alerts, paper)
    # A batch shares its work arrays from paper to paper: the same answers as one by one.
    batch = [*synthetic, *seeds()]
    many = index.match_many(batch)
    assert {p.id: dict(many[p.id]) for p in batch} == {p.id: dict(index.match(p)) for p in batch}


@settings(max_examples=40, deadline=None)
@given(
    alert_list=st.lists(queries, min_size=2, max_size=30),
    removed=st.sets(st.integers(0, 29), max_size=10),
    data=st.data(),
)
def test_incremental_changes_match_like_the_oracle(
    alert_list: list[Query], removed: set[int], data: st.DataObject
) -> None:
    alerts = dict(enumerate(alert_list))
    half = len(alert_list) // 2
    index = AlertIndex.build(list(alerts.items())[:half])
    for alert_id, query in list(alerts.items())[half:]:
        index.add(alert_id, query)
    for alert_id in removed:
        index.remove(alert_id)
        alerts.pop(alert_id, None)
    assert len(index) == len(alerts)
    for paper in seeds()[:40]:
        check_against_oracle(index, alerts, paper)
    for i in range(3):
        check_against_oracle(index, alerts, data.draw(synthetic_papers(i)))


odd_text = st.text(
    st.sampled_from([*"abcxyz ABC_-'.\"\n\x01\t0123", "é", "É", "ß", "ς", "Σ", "ﬁ", "İ"]),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(title=odd_text, abstract=odd_text, keyword=odd_text, author=odd_text, data=st.data())
def test_any_text_tokenizes_like_bot_text(
    title: str, abstract: str, keyword: str, author: str, data: st.DataObject
) -> None:
    paper = Paper("1", title, abstract, authors=(author,), ai_keywords=(keyword,))
    text_words = words(f"{title} {abstract} {keyword}") or ["a"]
    author_words = words(author) or ["a"]
    pools: list[tuple[Field, list[str]]] = [("text", text_words), ("author", author_words)]
    alerts: dict[int, Query] = {}
    for i in range(12):  # words and phrases of the text, some spanning two fields
        field, pool = data.draw(st.sampled_from(pools))
        start = data.draw(st.integers(0, len(pool) - 1))
        n = data.draw(st.integers(1, 3))
        alerts[i] = Query(((Term(field, tuple(pool[start : start + n])),),))
    index = AlertIndex.build(alerts.items())
    check_against_oracle(index, alerts, paper)


# -- matching -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("transformer", True),  # plural folding, both ways
        ("transformers", True),
        ("diffusions", True),
        ("transformers video", True),
        ('"video diffusion"', True),
        ('"diffusion video"', False),
        ('"latent diffusion"', True),  # AI keywords count
        ('"scaling transformers for"', True),  # three words: checked by position
        ('"transformers scaling for"', False),
        ('"diffusion we study"', False),  # a phrase never spans two fields
        ('"diffusion video"', False),  # ... nor two keywords
        ('"generation results"', False),
        ("diffusion gan", False),
        ("gan diffusion", False),
        ("diffusion -imagenet", False),
        ("diffusion -gan", True),
        ("gan OR diffusion", True),
        ("gan OR vae", False),
        ("author:rombach", True),
        ("rombach", False),  # plain words do not search author names
        ('"robin rombach"', False),
        ("author:diffusion", False),  # and author terms do not search the text
        ('author:"robin rombach"', True),
        ('author:"rombach ada"', False),  # a name phrase stays inside one author
        ('author:"rombach robin"', False),
        ("author:lovelace diffusion", True),
        ("author:lovelace -author:rombach", False),
        ("diff", False),  # whole words only
        ("IMAGENET", True),
    ],
)
def test_matching(raw: str, expected: bool) -> None:
    assert matched(raw) is expected
    assert matches(parse_query(raw), PAPER) is expected  # the oracle agrees


def test_reasons_name_one_matching_term_per_group() -> None:
    index = index_of("diffusion author:Rombach", '"video diffusion" OR grokking', "gan OR video")
    found = index.match(PAPER)
    assert found[1].reason == "matched `diffusion` + `author:rombach`"
    assert found[2].reason == 'matched `"video diffusion"`'
    assert found[3].reason == "matched `video`"
    assert str(found[3]) == found[3].reason
    assert found[1] == Match((Term("text", ("diffusion",)), Term("author", ("rombach",))))


def test_the_first_matching_term_of_an_or_group_is_the_reason() -> None:
    index = index_of(
        "video OR diffusion OR grokking",
        "grokking OR diffusion OR video",
        "scaling OR diffusion OR video",
        "video OR diffusion OR scaling",
        "gan OR video OR diffusion OR scaling -imagenets",
        "diffusion OR video scaling",  # OR joins its two neighbours
        "video OR diffusion scaling",
        "video OR diffusion imagenet",
    )
    found = index.match(PAPER)
    assert {i: " ".join(map(str, m.terms)) for i, m in found.items()} == {
        1: "video",
        2: "diffusion",
        3: "scaling",
        4: "video",
        6: "diffusion scaling",
        7: "video scaling",
        8: "video imagenet",
    }


def test_long_phrases_are_checked_by_position() -> None:
    index = index_of(
        '"scaling transformers for"',
        '"we study diffusion"',
        '"study diffusion models"',
        '"diffusion models results"',  # across a sentence, in one field: words only
        '"video diffusion we"',  # across two fields
        '"for video diffusion" author:lovelace',
    )
    assert set(index.match(PAPER)) == {1, 2, 3, 4, 6}


def test_the_field_separator_inside_a_field_is_just_punctuation() -> None:
    paper = Paper("1", "Video\x01Diffusion", "x", authors=("Robin\x01Rombach",))
    index = index_of('"video diffusion"', 'author:"robin rombach"', '"diffusion x"')
    assert set(index.match(paper)) == {1, 2}


def test_many_alerts_share_one_query() -> None:
    index = AlertIndex.build((i, parse_query("diffusion")) for i in range(1000))
    found = index.match(PAPER)
    assert found.keys() == set(range(1000))
    assert len({id(m) for m in found.values()}) == 1  # one shared Match
    assert index.match(OTHER) == {}


def test_add_remove_and_replace() -> None:
    index = AlertIndex()
    assert index.match(PAPER) == {}
    index.add(7, parse_query("diffusion"))
    index.add(8, parse_query("grokking"))
    index.add(9, parse_query("diffusion"))
    assert set(index.match(PAPER)) == {7, 9}
    assert set(index.match(OTHER)) == {8}
    index.remove(7)
    index.remove(12345)  # unknown: ignored
    assert set(index.match(PAPER)) == {9}
    index.add(9, parse_query("grokking"))  # replaced
    assert index.match(PAPER) == {}
    assert set(index.match(OTHER)) == {8, 9}
    assert len(index) == 2
    assert 9 in index
    assert 7 not in index
    assert index.alerts() == {8: parse_query("grokking"), 9: parse_query("grokking")}
    index.remove(8)
    index.remove(9)
    assert len(index) == 0
    assert index.match(OTHER) == {}


def test_removing_cleans_every_table() -> None:
    raw = ["diffusion", '"video diffusion" -gan', "a OR b c", '"scaling transformers for"']
    index = index_of(*raw)
    for i in range(1, len(raw) + 1):
        index.remove(i)
    assert index.match(PAPER) == {}
    fresh = AlertIndex()
    assert vars_of(index) == vars_of(fresh)
    assert (index._ids[: index._used] == -1).all()  # every slot free
    assert not any(index._query_at[: index._used])  # and keeps no query


def vars_of(index: AlertIndex) -> dict[str, object]:
    # Not the caches, nor the slots' bookkeeping (freed slots are kept for reuse).
    skip = ("_terms", "_filed", "_ids", "_query_at", "_ids_lent", "_used", "_free", "_table")
    skip += ("_of_code", "_share", "_code_of")
    return {k: v for k, v in vars(index).items() if k not in skip}


def test_match_many_lists_every_paper() -> None:
    index = index_of("diffusion", "grokking", "author:ada")
    found = index.match_many([PAPER, OTHER, Paper("2401.00012", "Nothing", "Here")])
    assert {k: set(v) for k, v in found.items()} == {
        "2401.00010": {1, 3},
        "2401.00011": {2, 3},
        "2401.00012": set(),
    }


def test_frequencies_change_the_anchor_not_the_result() -> None:
    raw = ["diffusion video", "scaling diffusion -imagenet", '"scaling transformers for" video']
    pairs = [(i, parse_query(q)) for i, q in enumerate(raw)]
    plain = AlertIndex.build(pairs)
    guided = AlertIndex.build(pairs, frequencies={"diffusion": 0.9, "video": 0.01})
    for paper in (PAPER, OTHER, *seeds()[:20]):
        assert plain.match(paper).keys() == guided.match(paper).keys()
    assert set(plain.match(PAPER)) == {0, 2}


def test_odd_queries_never_crash_and_agree_with_the_oracle() -> None:
    alerts = {
        1: Query(),  # no groups: the oracle matches everything
        2: Query((), (Term("text", ("gan",)),)),
        3: Query((), (Term("text", ("diffusion",)),)),
        4: Query(((),)),  # an empty group never matches
        5: Query(((Term("text", ("Diffusion",)),),)),  # not lower-cased: never matches
        6: Query(((Term("text", ("video diffusion",)),),)),  # not a word: never matches
        7: Query(((Term("text", ("diffusion",)),), (Term("text", ("diffusion",)),))),
        8: Query(((Term("text", ("@rombach",)),),)),  # not a word, not an author name
        9: Query(((Term("author", ("rombach", "")),),)),
    }
    index = AlertIndex.build(alerts.items())
    for paper in (PAPER, OTHER):
        check_against_oracle(index, alerts, paper)
    assert set(index.match(PAPER)) == {1, 2, 7}
    assert index.match(PAPER)[1].reason == "matched (the alert has no words to look for)"


# -- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty; add at least one word to look for"),
        ("-gan -vae", "only excludes words; add at least one word to look for"),
        ("diffusion -diffusion", "can never match: `diffusion` is ruled out by `-diffusion`"),
        ("transformers -transformer", "can never match"),  # plurals fold
        ('"latent diffusion" -diffusion', "can never match"),  # the phrase holds the word
        ("video OR image -video -image", "can never match: `video` OR `image`"),
        ("the", "too broad: `the` would match almost every paper"),
        ("a OR of", "too broad: `a` `of`"),
        ('"of the" x', "too broad"),
        ("author:a", "too broad"),
    ],
)
def test_validation_refuses_with_a_reason(raw: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        validate_alert(parse_query(raw))


@pytest.mark.parametrize(
    "raw",
    [
        "diffusion",
        "the diffusion",
        "diffusion OR the",
        '"the lottery ticket"',
        "diffusion -gan",
        "video OR image -video",
        "author:li",
        '"latent diffusion" -"diffusion models"',
        "diffusion -author:diffusion",
    ],
)
def test_validation_accepts(raw: str) -> None:
    validate_alert(parse_query(raw))


def test_stop_words_are_lower_case_words() -> None:
    assert 120 <= len(STOP_WORDS) <= 200
    assert all(words(w) == [w] for w in STOP_WORDS)
    assert {"the", "of", "and", "a", "with"} <= STOP_WORDS
    assert "diffusion" not in STOP_WORDS


def test_the_index_keeps_no_python_object_per_alert() -> None:
    # At 100,000 alerts a dict of their queries by id (its entries and the ids as ints)
    # weighed ~8 MB: an alert's query is found by its slots, as its slots are by `_ids`.
    queries = [parse_query(q) for q in ("diffusion", "video OR image", '"scaling laws"')]
    index = AlertIndex.build((10**6 + n, queries[n % 3]) for n in range(3000))
    sized = [v for v in vars(index).values() if isinstance(v, dict | list | set)]
    assert all(len(v) < 100 for v in sized)
    assert len(index) == 3000 and 10**6 + 7 in index and 10**6 + 3000 not in index
    assert index.alerts() == {10**6 + n: queries[n % 3] for n in range(3000)}
    index.remove(10**6 + 7)
    index.add(10**6 + 7, queries[0])
    index.add(10**6 + 8, queries[0])  # replaced
    assert len(index) == 3000 and index.alerts()[10**6 + 8] == queries[0]

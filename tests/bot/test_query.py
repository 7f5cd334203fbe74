import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import QueryError
from bot.matching import matches
from bot.models import Paper
from bot.query import Query, Term, author_query, combine, parse_query
from bot.store import SQLiteStore
from bot.store.fts import compile_match

BREAKING = [
    "gpt-4", "c++", "it's", '"', "NEAR(", "title:", "", "   ", "OR", "-", "AND NOT", "*", "^a",
    "a:b", "{title}:x", '"unterminated phrase', "🚀🚀", "author:", 'author:"', "((", "NOT",
]  # fmt: skip


def text(*tokens: str) -> Term:
    return Term("text", tokens)


def test_words_are_anded_and_or_joins_neighbours() -> None:
    q = parse_query("diffusion video OR image -gan")
    assert q.groups == ((text("diffusion"),), (text("video"), text("image")))
    assert q.excluded == (text("gan"),)


def test_phrases_authors_and_case() -> None:
    q = parse_query('"Lazy to RICH" author:"Cengiz Pehlevan" author:Smith')
    assert q.groups == (
        (text("lazy", "to", "rich"),),
        (Term("author", ("cengiz", "pehlevan")),),
        (Term("author", ("smith",)),),
    )


@pytest.mark.parametrize("raw", BREAKING)
def test_odd_input_never_raises(raw: str) -> None:
    q = parse_query(raw)
    if not q.is_empty:
        assert compile_match(q)


def test_punctuated_words_become_phrases() -> None:
    assert parse_query("gpt-4").groups == ((text("gpt", "4"),),)
    assert parse_query("c++").groups == ((text("c"),),)


def test_too_long_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="characters"):
        parse_query("x" * 5000)


def test_fts_compilation_quotes_everything() -> None:
    q = parse_query('near( "a b" OR c -d author:e')
    assert compile_match(q) == (
        '({title abstract keywords} : "near" AND ({title abstract keywords} : "a b"'
        ' OR {title abstract keywords} : "c") AND authors : "e")'
        ' NOT ({title abstract keywords} : "d")'
    )


def test_combine_and_author_query() -> None:
    q = combine(parse_query("grokking"), author_query("Pehlevan"))
    assert q.groups[1] == (Term("author", ("pehlevan",)),)
    assert author_query("  ").is_empty


PAPER = Paper(
    id="2401.00010",
    title="Scaling Transformers for Video Diffusion",
    abstract="We study diffusion models. Results on ImageNet.",
    authors=("Robin Rombach", "Ada Lovelace"),
    ai_keywords=("latent diffusion", "video generation"),
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("transformer", True),  # plural folding
        ("transformers video", True),
        ('"video diffusion"', True),
        ('"diffusion video"', False),
        ('"latent diffusion"', True),  # AI keywords count
        ('"generation results"', False),  # a phrase never spans two fields
        ("diffusion -imagenet", False),
        ("gan OR diffusion", True),
        ("author:rombach", True),
        ("rombach", False),  # plain words do not search author names
        ("author:lovelace diffusion", True),
        ('author:"robin lovelace"', False),
        ("diff", False),  # whole words only
    ],
)
def test_matcher(raw: str, expected: bool) -> None:
    assert matches(parse_query(raw), PAPER) is expected


def test_empty_query_matches_everything() -> None:
    assert matches(Query(), PAPER)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.text(max_size=80) | st.sampled_from(BREAKING))
async def test_fuzz_any_input_searches_or_says_why(seeded_store: SQLiteStore, raw: str) -> None:
    try:
        q = parse_query(raw)
        page = await seeded_store.search(q, limit=5)
    except QueryError as e:
        assert str(e)
        return
    assert page.total >= len(page.hits)

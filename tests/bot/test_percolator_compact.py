"""The alert index keeps one copy of equal queries, and its caches follow adds and removes."""

from __future__ import annotations

from bot.models import Paper
from bot.percolator import AlertIndex, Match
from bot.query import Term, parse_query

PAPER = Paper(
    id="2401.00010",
    title="Scaling Transformers for Video Diffusion",
    abstract="We study latent video diffusion models on ImageNet.",
    authors=("Robin Rombach",),
)


def test_build_keeps_one_copy_of_equal_queries() -> None:
    # Each alert's query is parsed on its own, as AlertDelivery does: equal, not identical.
    index = AlertIndex.build((i, parse_query("diffusion -gan")) for i in range(1, 4))
    kept = index.alerts()
    assert kept[1] == parse_query("diffusion -gan")
    assert kept[1] is kept[2] is kept[3]


def test_add_shares_the_query_already_indexed() -> None:
    index = AlertIndex.build([(1, parse_query('"latent video diffusion"'))])
    index.add(2, parse_query('"latent video diffusion"'))
    kept = index.alerts()
    assert kept[1] is kept[2]


def test_a_verified_query_answers_for_the_alerts_it_has_now() -> None:
    # A phrase of three words is verified, and its {alert: Match} is cached between papers.
    query = '"latent video diffusion"'
    index = AlertIndex.build([(1, parse_query(query))])
    reason = Match((Term("text", ("latent", "video", "diffusion")),))
    assert index.match(PAPER) == {1: reason}
    index.add(2, parse_query(query))
    assert index.match(PAPER) == {1: reason, 2: reason}
    index.remove(1)
    assert index.match(PAPER) == {2: reason}
    index.remove(2)
    assert index.match(PAPER) == {}
    index.add(3, parse_query(query))
    assert index.match(PAPER) == {3: reason}


def test_a_filed_query_is_forgotten_with_its_last_alert() -> None:
    index = AlertIndex.build([(1, parse_query("diffusion")), (2, parse_query("diffusion"))])
    index.remove(1)
    assert set(index.match(PAPER)) == {2}
    index.remove(2)
    assert index.match(PAPER) == {}
    index.add(5, parse_query("diffusion"))
    assert set(index.match(PAPER)) == {5}


def test_matches_keep_their_alert_ids_when_slots_are_reused() -> None:
    # A Matches reads its alert ids when asked: an index changed meanwhile (a freed slot
    # given to a new alert) must not change them.
    index = AlertIndex.build([(1, parse_query("diffusion")), (2, parse_query("grokking"))])
    first = index.match(PAPER)
    index.remove(1)
    index.add(3, parse_query("diffusion"))  # takes the slot alert 1 had
    assert set(first) == {1}
    assert first == {1: Match((Term("text", ("diffusion",)),))}
    assert set(index.match(PAPER)) == {3}


def test_matches_is_a_read_only_mapping_of_alert_ids() -> None:
    index = AlertIndex.build([(5, parse_query("diffusion")), (9, parse_query("video OR gan"))])
    found = index.match(PAPER)
    assert len(found) == 2
    assert sorted(found) == sorted(found.ids().tolist()) == [5, 9]
    assert 9 in found and 4 not in found
    assert found[9] == Match((Term("text", ("video",)),))
    assert dict(found.items()) == {5: found[5], 9: found[9]}
    assert index.match(Paper(id="2401.00099", title="Nothing", abstract="here")) == {}

"""The alert index keeps one copy of equal queries, and its caches follow adds and removes."""

from __future__ import annotations

from bot.models import Paper
from bot.percolator import AlertIndex, Match, SharedQueries
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


def test_queries_share_their_terms_and_groups() -> None:
    # Each parsed on its own: the index keeps one copy of a term (and of a group) that
    # several distinct queries hold, whether built or added.
    index = AlertIndex.build(
        [(1, parse_query("diffusion video")), (2, parse_query("diffusion -gan"))]
    )
    index.add(3, parse_query("diffusion OR gan -video"))
    kept = index.alerts()
    assert kept[1] == parse_query("diffusion video")
    assert kept[3] == parse_query("diffusion OR gan -video")
    assert kept[1].groups[0] is kept[2].groups[0]  # ("diffusion",)
    assert kept[3].groups[0][0] is kept[1].groups[0][0]
    assert kept[3].groups[0][1] is kept[2].excluded[0]  # gan


def test_shared_queries_are_equal_and_given_back_when_shared() -> None:
    share = SharedQueries()
    first = share(parse_query('"video diffusion" OR gan author:rombach -imagenet'))
    again = share(parse_query('"video diffusion" OR gan author:rombach -imagenet'))
    assert again == first == parse_query('"video diffusion" OR gan author:rombach -imagenet')
    assert again.groups[0] is first.groups[0] and again.excluded is first.excluded
    assert share(first) is first


def test_a_filed_query_added_again_and_removed_keeps_its_reasons() -> None:
    # A filed query is compiled again for each add and remove: same codes, same answers.
    index = AlertIndex.build([(1, parse_query("video OR diffusion")), (2, parse_query("gan"))])
    table = len(index._table)
    index.add(3, parse_query("video OR diffusion"))
    index.add(4, parse_query("diffusion OR video"))
    assert len(index._table) == table  # (equal Matches share a code)
    found = index.match(PAPER)
    assert found[1] == found[3] == Match((Term("text", ("video",)),))
    assert found[4] == Match((Term("text", ("diffusion",)),))
    index.remove(1)
    index.remove(4)
    assert dict(index.match(PAPER)) == {3: Match((Term("text", ("video",)),))}
    index.remove(3)
    assert dict(index.match(PAPER)) == {}
    assert len(index) == 1


def test_shared_queries_keep_only_their_own_copies() -> None:
    # The parsed tuple a group was first seen in is not what the table keeps: it is freed.
    share = SharedQueries()
    first = parse_query("diffusion OR gan")
    share(first)
    share(parse_query("gan OR diffusion"))
    for key, group in share._groups.items():
        assert key is group
        assert all(term is share._terms[term] for term in key)
    assert not any(key is first.groups[0] for key in share._groups)


def test_a_filed_query_is_removed_under_the_keys_it_was_filed_under() -> None:
    # Removing a filed alert compiles its query again: a caller's later change to the
    # frequencies it gave must not move the query's keys.
    frequencies = {"diffus": 0.9, "video": 0.01}
    pairs = [(n, parse_query("diffusion video")) for n in (1, 2)]
    index = AlertIndex.build(pairs, frequencies=frequencies)
    frequencies["video"] = 0.99
    index._terms.clear()
    index.remove(1)
    assert set(index.match(PAPER)) == {2}
    assert len(index) == 1

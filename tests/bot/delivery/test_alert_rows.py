"""The outbox rows of a batch, made column by column, equal the rows made one match at a time."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bot.delivery.alert_rows import OutboxRows, Routes, _sorting, outbox_rows
from bot.delivery.alerts import ActiveRoutes, Route
from bot.models import DM, AlertTarget, Author, FollowMatch, OutboxRow, Paper, follow_row_id
from bot.percolator import AlertIndex, Matches
from bot.query import parse_query

WORDS = [
    "diffusion",
    "model",
    "language",
    "vision",
    "robot",
    "graph",
    "learning",
    "agent",
    "token",
    "video",
]


def reference(
    routes: dict[int, Route],
    papers: list[Paper],
    found: dict[str, Matches],
    rising: set[str],
    have: dict[str, set[int]],
    follows: list[FollowMatch],
) -> list[OutboxRow]:
    """The rule, one match at a time: per (person, paper) the first alert by id that may
    fire, each reason not already in the row's added; then followed authors; key order."""
    rows: dict[tuple[int, str], OutboxRow] = {}

    def add(row: OutboxRow) -> None:
        first = rows.get((row.user_id, row.paper_id))
        if first is None:
            rows[(row.user_id, row.paper_id)] = row
        elif row.reason not in first.reason:
            rows[(row.user_id, row.paper_id)] = first._replace(
                reason=f"{first.reason}; {row.reason}"
            )

    for paper in papers:
        hits = found[paper.id]
        for alert_id in sorted(hits):
            route = routes[alert_id]
            if route.user_id in have.get(paper.id, ()):
                continue
            if route.min_upvotes and not (
                paper.id in rising and paper.upvotes >= route.min_upvotes
            ):
                continue
            add(OutboxRow(route.user_id, paper.id, alert_id, hits[alert_id].reason, route.target))
    for f in follows:
        if f.user_id not in have.get(f.paper_id, ()):
            name = f.author.name.replace("`", "'")
            add(
                OutboxRow(
                    f.user_id, f.paper_id, follow_row_id(f.follow_id), f"new paper by `{name}`"
                )
            )
    return sorted(rows.values(), key=lambda r: (r.user_id, r.paper_id))


# People: a few small ids, or Discord-sized ones (sorted by their rank among the owners).
PEOPLE = {"small": list(range(30)), "snowflakes": [10**17 + k * 1_000_003 for k in range(30)]}


def workload(
    seed: int, id_range: int, people: list[int]
) -> tuple[dict[int, Route], list[Paper], AlertIndex]:
    rng = random.Random(seed)
    routes: dict[int, Route] = {}
    queries = []
    for alert_id in rng.sample(range(1, id_range), 200):
        query = " ".join(rng.sample(WORDS, rng.choice([1, 1, 2])))
        if rng.random() < 0.2:
            query = f"{rng.choice(WORDS)} OR {rng.choice(WORDS)}"
        target = DM if rng.random() < 0.8 else AlertTarget(f"channel:{rng.randrange(3)}")
        routes[alert_id] = Route(rng.choice(people), target, rng.choice([0, 0, 0, 5, 50]))
        queries.append((alert_id, parse_query(query)))
    papers = [
        Paper(
            f"2501.{i:05d}",
            " ".join(rng.sample(WORDS, 3)),
            " ".join(rng.sample(WORDS, 2)),
            upvotes=rng.randrange(100),
        )
        for i in rng.sample(range(1000), 25)
    ]
    return routes, papers, AlertIndex.build(queries)


# Ids spread over a small range (looked up in a table) or a wide one (searched).
# With followed authors' rows or without (then no sort after the alerts' rows).
@pytest.mark.parametrize("id_range", [2_000, 10**9])
@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("people", ["small", "snowflakes"])
@pytest.mark.parametrize("with_follows", [True, False])
def test_rows_equal_the_rule_one_match_at_a_time(
    seed: int, id_range: int, people: str, with_follows: bool
) -> None:
    users = PEOPLE[people]
    routes, papers, index = workload(seed, id_range, users)
    rng = random.Random(seed)
    found = index.match_many(papers)
    rising = {p.id for p in rng.sample(papers, 8)}
    have = {p.id: set(rng.sample(users, rng.randrange(8))) for p in rng.sample(papers, 10)}
    names = ["Ann `x`", "Bo", "Cy"]
    follows = [
        FollowMatch(rng.randrange(1, 5), rng.choice(users), rng.choice(papers).id, Author(n))
        for n in rng.choices(names, k=12 if with_follows else 0)
    ]
    made = outbox_rows(Routes(routes), papers, found, rising, have, follows)
    assert list(made) == reference(routes, papers, found, rising, have, follows)


def test_an_alert_not_in_the_routes_is_found_nowhere() -> None:
    routes = Routes({5: Route(1, DM, 0), 7: Route(2, DM, 3)})
    ids = np.array([7, 6, 5, 0, -3, 10**12], dtype=np.int64)
    assert routes.find(ids).tolist() == [1, -1, 0, -1, -1, -1]
    assert routes.rising(ids).tolist() == [True, False, False, False, False, False]
    wide = Routes({5: Route(1, DM, 0), 10**9: Route(2, DM, 3)})
    assert wide.find(np.array([10**9, 6, 5], dtype=np.int64)).tolist() == [1, -1, 0]


def test_rows_read_as_tuples_one_at_a_time_and_slice_as_views() -> None:
    routes, papers, index = workload(1, 2_000, PEOPLE["small"])
    made = outbox_rows(Routes(routes), papers, index.match_many(papers), set(), {}, [])
    every = list(made)
    assert len(every) == len(made) > 10
    part = made[3:9]
    assert isinstance(part, OutboxRows)
    assert list(part) == every[3:9]
    assert made[4] == every[4]


@pytest.mark.parametrize("seed", range(6))
def test_one_packed_sort_orders_rows_as_lexsort_does(seed: int) -> None:
    """Distinct keys, small and large (snowflakes, negative follow ids), and keys too wide
    to pack together (the fallback): the order is lexsort's."""
    rng = np.random.default_rng(seed)
    n = 5000
    small = rng.integers(0, 1000, n)
    wide = rng.choice([1, 2**40, 987_654_321_098_765_432, -7], n) + rng.integers(0, 50, n)
    many = rng.permutation(n).astype(np.int64) * (2**30 if seed % 2 else 1)
    under = [rng.integers(0, 2**24, n) for _ in range(3)]  # 72 bits: sorted by lexsort
    cases = ((small, wide, many), (wide, small), (many,), (small, many, wide, many), under)
    for keys in cases:
        rows = np.unique(np.stack(keys), axis=1)  # distinct rows, then shuffled
        keys = tuple(rows[:, rng.permutation(rows.shape[1])])
        assert np.array_equal(_sorting(*keys), np.lexsort(keys[::-1]))


def resolved(routes: Routes) -> dict[int, tuple[int, AlertTarget, int]]:
    return {int(i): routes.route(n) for n, i in enumerate(routes.ids)}


@pytest.mark.parametrize("seed", range(4))
def test_active_routes_changed_one_by_one_read_as_a_dict_and_merge_into_arrays(seed: int) -> None:
    rng = random.Random(seed)
    targets = [DM, AlertTarget("channel:5"), AlertTarget("channel:6")]

    def route() -> Route:
        return Route(rng.randrange(20), rng.choice(targets), rng.choice([0, 0, 5]))

    model = {i: route() for i in rng.sample(range(1, 400), 150)}
    active = ActiveRoutes(Routes(model))
    for step in range(300):
        alert_id = rng.randrange(1, 450)
        if rng.random() < 0.4:
            model.pop(alert_id, None)
            active.forget(alert_id)
        else:
            model[alert_id] = route()
            active.set(alert_id, model[alert_id])
        if step % 50 == 0:
            assert resolved(active.arrays()) == {i: tuple(r) for i, r in model.items()}
    assert dict(active) == model and len(active) == len(model)
    assert all(active[i] == r for i, r in model.items())
    assert 0 not in active and 10**9 not in active
    arrays = active.arrays()
    assert resolved(arrays) == {i: tuple(r) for i, r in model.items()}
    assert arrays is active.arrays()  # made again only after a change
    assert arrays.ids.tolist() == sorted(model)

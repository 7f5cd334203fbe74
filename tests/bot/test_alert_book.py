"""AlertBook: an add saves the alert and previews it through the store's index, cheaply."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

import bot.matching
from bot.alert_book import PREVIEW_DAYS, PREVIEW_SHOWN, AlertBook, parse_alert
from bot.errors import UserError
from bot.matching import matches
from bot.store import SQLiteStore
from tests.conftest import seed_papers

LAST_DAY = max(seed_papers())  # 2025-11-28


def clock_at(day: date) -> Callable[[], datetime]:
    return lambda: datetime.combine(day, time(12), UTC)


class Recording:
    """The store, with the names of the methods called on it."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        async def called(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return await method(*args, **kwargs)

        return called if callable(method) else method


async def test_an_add_saves_the_alert_and_previews_the_last_days(
    seeded_store: SQLiteStore,
) -> None:
    book = AlertBook(seeded_store, clock=clock_at(LAST_DAY + timedelta(days=2)))
    added = await book.add(7, " model ", parse_alert("model"))
    assert added.alert.query == "model" and added.alert.user_id == 7
    assert await seeded_store.user_alerts(7) == [added.alert]
    since = LAST_DAY + timedelta(days=2 - PREVIEW_DAYS)
    recent = [p for p in seed_papers()[LAST_DAY] if matches(parse_alert("model"), p)]
    assert since <= LAST_DAY and added.preview.total == len(recent) > PREVIEW_SHOWN
    assert len(added.preview.shown) == PREVIEW_SHOWN
    assert [i.paper.upvotes for i in added.preview.shown] == sorted(
        (p.upvotes for p in recent), reverse=True
    )[:PREVIEW_SHOWN]


async def test_a_rising_alert_previews_only_papers_at_its_threshold(
    seeded_store: SQLiteStore,
) -> None:
    book = AlertBook(seeded_store, clock=clock_at(LAST_DAY))
    added = await book.add(7, "model", parse_alert("model"), min_upvotes=50)
    recent = [p for p in seed_papers()[LAST_DAY] if matches(parse_alert("model"), p)]
    assert 0 < added.preview.total == sum(p.upvotes >= 50 for p in recent) < len(recent)
    assert all(i.paper.upvotes >= 50 for i in added.preview.shown)


async def test_an_add_reads_no_paper_text_and_no_other_alert(
    seeded_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(300):
        await seeded_store.add_alert(1000 + n, f"topic{n}")

    def analysed(*_: object) -> Any:
        raise AssertionError("a paper's text was analysed in Python")

    monkeypatch.setattr(bot.matching.PaperText, "of", analysed)
    store = Recording(seeded_store)
    book = AlertBook(store, clock=clock_at(LAST_DAY))  # type: ignore[arg-type]
    added = await book.add(7, "grokking", parse_alert("grokking"))
    assert added.preview.total == 2  # the two grokking papers of the last day
    # One insert and one question to the index: nothing reads every alert or every paper.
    assert store.calls == ["add_alert", "matching_papers"]


async def test_one_alert_too_many_is_a_user_error(seeded_store: SQLiteStore) -> None:
    book = AlertBook(seeded_store, clock=clock_at(LAST_DAY))
    for n in range(25):
        await seeded_store.add_alert(7, f"topic{n}")
    with pytest.raises(UserError, match="already have 25 alerts; remove one with /alert remove"):
        await book.add(7, "grokking", parse_alert("grokking"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [("the", "too broad"), ("x" * 201, "at most 200 characters"), ("-mnist", "only excludes")],
)
def test_parse_alert_says_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(UserError, match=reason):
        parse_alert(text)

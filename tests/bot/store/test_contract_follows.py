"""Author credits (with the HF accounts that claimed them), autocomplete over them, the
authors people follow, the matches of followed authors' papers, and papers in stored order."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.errors import FollowLimitError
from bot.models import Author, QueuedAlert, follow_row_id
from bot.store import Store
from bot.store.sqlite.corpus import open_corpus, read_stored_since
from tests.bot.store.support import DAY, NEXT_DAY, paper

LI_A = Author("Wei Li", "weili-a")
LI_B = Author("Wei Li", "weili-b")


def by(pid: str, *authors: tuple[str, str | None]) -> object:
    return paper(
        pid,
        authors=tuple(a for a, _ in authors),
        author_users=tuple(u for _, u in authors),
    )


async def two_wei_lis(store: Store) -> None:
    await store.ingest_day(
        DAY,
        [
            by("2501.00001", ("Wei Li", "weili-a"), ("Ada Lovelace", None)),
            by("2501.00002", ("Wei Li", "weili-b")),
            by("2501.00003", ("Wei Li", None), ("Ada Lovelace", None)),
            by("2501.00004", ("Wei Li", "weili-a")),
        ],
    )


# -- credits and autocomplete -------------------------------------------------------------


async def test_autocomplete_tells_people_of_one_name_apart_by_account(store: Store) -> None:
    await two_wei_lis(store)
    found = await store.authors_starting("wei")
    assert found == [
        Author("Wei Li", "weili-a", 2),
        Author("Wei Li", None, 1),
        Author("Wei Li", "weili-b", 1),
    ]


async def test_autocomplete_matches_the_last_name_too(store: Store) -> None:
    await two_wei_lis(store)
    assert await store.authors_starting("Love") == [Author("Ada Lovelace", None, 2)]
    assert await store.authors_starting("ada lo") == [Author("Ada Lovelace", None, 2)]
    assert await store.authors_starting("  ") == []
    assert await store.authors_starting("zzz") == []


async def test_autocomplete_reads_names_with_punctuation_accents_and_other_scripts(
    store: Store,
) -> None:
    await store.ingest_day(
        DAY,
        [
            paper("2501.00001", authors=("Jean-Pierre O'Brien", "José Núñez")),
            paper("2501.00002", authors=("李 雷", "(Team) Alpha", "Kai W. Hu")),
        ],
    )

    async def names(prefix: str) -> list[str]:
        return [a.name for a in await store.authors_starting(prefix)]

    assert await names("jean-p") == ["Jean-Pierre O'Brien"]
    assert await names("Jean-Pierre O'B") == ["Jean-Pierre O'Brien"]
    assert await names("o'br") == ["Jean-Pierre O'Brien"]
    assert await names("josé") == ["José Núñez"]
    assert await names("Núñ") == ["José Núñez"]
    assert await names("李") == await names("雷") == ["李 雷"]
    assert await names("Kai W. H") == await names("hu") == ["Kai W. Hu"]
    assert await names("(") == await names("(team) a") == ["(Team) Alpha"]  # no word in "("
    assert await names("Kai H") == await names("Pierre") == await names("O'Brien J") == []
    assert await store.find_author("josé  Núñez") == Author("José Núñez", None, 1)
    assert await store.find_author("(Team) Alpha") == Author("(Team) Alpha", None, 1)
    assert await store.find_author("Jean-Pierre") is None


async def test_autocomplete_follows_the_authors_a_paper_is_stored_with(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2501.00001", authors=("Ada Lovelace", "Bo Chen"))])
    await store.ingest_day(NEXT_DAY, [paper("2501.00001", authors=("Grace Hopper", "Bo Chen"))])
    await store.upsert_paper(paper("2501.00009", authors=("Ada Byron",)))
    assert await store.authors_starting("Ada") == [Author("Ada Byron", None, 1)]
    assert await store.authors_starting("Lovel") == []
    assert await store.find_author("Ada Lovelace") is None
    assert await store.authors_starting("Hop") == [Author("Grace Hopper", None, 1)]
    await store.upsert_paper(paper("2501.00009", authors=("Ada Lovelace",)))
    await store.ingest_day(NEXT_DAY, [paper("2501.00001", title="Same authors, new title")])
    assert await store.authors_starting("ada") == [Author("Ada Lovelace", None, 1)]
    assert [a.name for a in await store.authors_starting("b")] == ["Bo Chen"]


async def test_autocomplete_is_limited_and_most_papers_first(store: Store) -> None:
    await two_wei_lis(store)
    assert [a.hf_user for a in await store.authors_starting("Wei", limit=1)] == ["weili-a"]


async def test_find_author_by_name_or_account(store: Store) -> None:
    await two_wei_lis(store)
    assert await store.find_author("wei li") == Author("Wei Li", None, 1)
    assert await store.find_author("Wei Li", "weili-a") == Author("Wei Li", "weili-a", 2)
    assert await store.find_author("W. Li", "weili-a") == Author("Wei Li", "weili-a", 2)
    assert await store.find_author("Nobody") is None
    assert await store.find_author("Wei Li", "no-such-account") is None


async def test_credits_follow_a_paper_stored_again(store: Store) -> None:
    await store.ingest_day(DAY, [by("2501.00001", ("Wei Li", "weili-a"), ("Bo Chen", None))])
    # Again without accounts (an HTML list): the account stays; without authors: all stay.
    await store.ingest_day(NEXT_DAY, [paper("2501.00001", authors=("Wei Li",))])
    await store.ingest_day(NEXT_DAY, [paper("2501.00001")])
    assert await store.find_author("Wei Li", "weili-a") == Author("Wei Li", "weili-a", 1)
    assert await store.find_author("Bo Chen") is None  # no longer credited


async def test_a_looked_up_paper_credits_its_authors(store: Store) -> None:
    await store.upsert_paper(by("2501.00009", ("Grace Hopper", "ghopper")))  # type: ignore[arg-type]
    assert await store.find_author("Grace Hopper", "ghopper") == Author(
        "Grace Hopper", "ghopper", 1
    )


# -- follows ------------------------------------------------------------------------------


async def test_follow_list_and_remove(store: Store) -> None:
    follow, added = await store.add_follow(7, LI_A)
    assert added and follow.author == LI_A and follow.user_id == 7
    again, added = await store.add_follow(7, Author("W. Li", "weili-a"))
    assert not added and again.id == follow.id
    other, added = await store.add_follow(7, Author("Wei Li"))  # the unclaimed Wei Li
    assert added and other.id != follow.id
    assert [f.author for f in await store.user_follows(7)] == [LI_A, Author("Wei Li")]
    assert await store.user_follows(8) == []
    assert not await store.remove_follow(8, follow.id)  # not theirs
    assert await store.remove_follow(7, follow.id)
    assert not await store.remove_follow(7, follow.id)
    assert [f.id for f in await store.user_follows(7)] == [other.id]


async def test_follows_are_capped_per_person(store: Store) -> None:
    for n in range(3):
        await store.add_follow(7, Author(f"Author {n}"), max_follows=3)
    with pytest.raises(FollowLimitError, match="3"):
        await store.add_follow(7, Author("One more"), max_follows=3)
    _, added = await store.add_follow(7, Author("Author 1"), max_follows=3)  # already: fine
    assert not added
    await store.add_follow(8, Author("One more"), max_follows=3)  # others are not capped


async def test_the_follow_cap_holds_under_concurrent_follows(store: Store) -> None:
    await store.add_follow(7, Author("Author 0"), max_follows=3)
    results = await asyncio.gather(
        *(store.add_follow(7, Author(f"Author {n}"), max_follows=3) for n in range(1, 6)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, FollowLimitError) for r in refused), refused
    assert len(refused) == 3
    assert len(await store.user_follows(7)) == 3


async def test_the_same_author_followed_at_once_is_followed_once(store: Store) -> None:
    results = await asyncio.gather(*(store.add_follow(7, LI_A) for _ in range(4)))
    assert sum(added for _, added in results) == 1
    assert len({f.id for f, _ in results}) == 1


# -- matches --------------------------------------------------------------------------------


async def test_followed_accounts_and_names_match_their_own_papers(store: Store) -> None:
    await two_wei_lis(store)
    a, _ = await store.add_follow(1, LI_A)
    unclaimed, _ = await store.add_follow(2, Author("wei li"))
    ada, _ = await store.add_follow(2, Author("Ada Lovelace"))
    ids = ["2501.00001", "2501.00002", "2501.00003", "2501.00004"]
    found = [(m.user_id, m.paper_id, m.follow_id) for m in await store.follow_matches(ids)]
    assert found == [
        (1, "2501.00001", a.id),
        (1, "2501.00004", a.id),
        (2, "2501.00001", ada.id),
        (2, "2501.00003", unclaimed.id),
        (2, "2501.00003", ada.id),
    ]
    assert await store.follow_matches(["2501.00002"]) == []


async def test_paused_or_dm_refused_people_get_no_follow_matches(store: Store) -> None:
    await two_wei_lis(store)
    await store.add_follow(1, LI_A)
    await store.add_follow(2, LI_A)
    await store.set_alerts_paused(1, True)
    await store.set_dm_blocked(2, "Cannot send messages to this user")
    assert await store.follow_matches(["2501.00001"]) == []


async def test_a_removed_follows_queued_papers_are_dropped(store: Store) -> None:
    await two_wei_lis(store)
    follow, _ = await store.add_follow(1, LI_A)
    kept, _ = await store.add_follow(2, LI_A)
    await store.queue_alert_matches(
        [],
        [
            QueuedAlert(1, "2501.00001", follow_row_id(follow.id), "new paper by Wei Li"),
            QueuedAlert(2, "2501.00001", follow_row_id(kept.id), "new paper by Wei Li"),
        ],
    )
    await store.remove_follow(1, follow.id)
    assert await store.claim_alerts(1, ["2501.00001"], "n1", by_dm=True) == []
    (row,) = await store.claim_alerts(2, ["2501.00001"], "n2", by_dm=True)
    assert row.reason == "new paper by Wei Li" and row.state == "sending"


# -- papers in stored order ----------------------------------------------------------------


async def test_stored_since_reads_on_from_a_position(store: Store) -> None:
    await store.ingest_day(DAY, [paper("2501.00002"), paper("2501.00001")])
    first = await store.stored_since(0, 1)
    assert [p.id for _, p in first] == ["2501.00002"]
    await store.ingest_day(NEXT_DAY, [paper("2501.00001", title="Changed"), paper("2501.00003")])
    rest = await store.stored_since(first[-1][0])
    assert [p.id for _, p in rest] == ["2501.00001", "2501.00003"]
    assert rest[0][1].title == "Changed"
    assert await store.stored_since(rest[-1][0]) == []


async def test_the_corpus_file_reads_as_stored_since_from_another_connection(
    store: Store,
) -> None:
    await store.ingest_day(DAY, [paper("2501.00002"), paper("2501.00001", ai_keywords=("a b",))])
    path = store.corpus_file()
    if path is None:  # a server: its papers are read through stored_since
        return
    db = open_corpus(path)
    try:
        first = await store.stored_since(0, 1)
        assert read_stored_since(db, 0, 1) == first
        assert read_stored_since(db, 0, 10) == await store.stored_since(0, 10)
        assert read_stored_since(db, first[0][0], 10) == await store.stored_since(first[0][0], 10)
        with pytest.raises(sqlite3.OperationalError):  # read-only
            db.execute("DELETE FROM papers")
    finally:
        db.close()


async def test_a_paper_reads_back_alike_on_every_backend(store: Store) -> None:
    # The accounts are kept per credit (find_author), not on the paper read back: every
    # read gives an empty `author_users`, whatever was stored.
    await store.ingest_day(DAY, [by("2501.00001", ("Wei Li", "weili-a"), ("Bo Chen", None))])
    await store.upsert_paper(by("2501.00009", ("Grace Hopper", "ghopper")))  # type: ignore[arg-type]
    listing = await store.get_paper("2501.00001")
    assert listing is not None and listing.paper.authors == ("Wei Li", "Bo Chen")
    read = [
        listing.paper,
        *(item.paper for item in await store.day_listing(DAY)),
        *(p for _, p in await store.stored_since(0)),
    ]
    assert [p.author_users for p in read] == [(), (), (), ()]

"""Small builders shared by the contract tests."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any

from bot.models import AlertChanges, Paper
from bot.store import Store
from tests.conftest import seed_papers

DAY = date(2025, 1, 7)
NEXT_DAY = date(2025, 1, 8)
OpenStore = Callable[..., AbstractAsyncContextManager[Store]]  # options -> an empty store


async def seed(store: Store) -> None:
    """Ingest the seed corpus: four real Daily Papers lists, 147 papers."""
    for day, papers in seed_papers().items():
        await store.ingest_day(day, papers)


def paper(pid: str, title: str = "A title", **fields: object) -> Paper:
    """A paper with a title and an abstract, and whatever else a test names."""
    fields.setdefault("abstract", "An abstract.")
    return Paper(id=pid, title=title, **fields)  # type: ignore[arg-type]


async def alert_changes(store: Store, since: int) -> AlertChanges | None:
    """`store.alert_changes(since)`, whether the backend answers it directly or awaited
    (it becomes async when the change counter moves into the database)."""
    changes = store.alert_changes(since)
    if inspect.isawaitable(changes):
        changes = await changes
    return changes


def ids(listings: object) -> list[str]:
    """The paper ids of listings or search hits, in order."""
    out = []
    for item in listings:  # type: ignore[attr-defined]
        listing = getattr(item, "listing", item)
        out.append(listing.paper.id)
    return out


async def migrated_below(url: str, migration: int) -> Any:
    """An asyncpg connection to the PostgreSQL database at `url`, which it migrates only up
    to before `migration` (the caller closes it)."""
    import asyncpg  # (PostgreSQL's driver: only for the tests that have a server)

    from bot.store.postgres.connection import _migrations

    connection = await asyncpg.connect(url)
    await connection.execute(
        "CREATE TABLE schema_migrations ("
        " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    for number, script in _migrations():
        if number < migration:
            await connection.execute(script)
            await connection.execute("INSERT INTO schema_migrations VALUES ($1, now())", number)
    return connection


async def store_before(url: str, migration: int, title: str, abstract: str) -> None:
    """A PostgreSQL database at `url` migrated only up to before `migration`, holding one
    paper (2501.00001) as the code of that time stored it."""
    from bot.store.postgres.connection import vectors

    connection = await migrated_below(url, migration)
    try:
        search, title_words, _ = vectors(title, abstract, "", "")
        await connection.execute(
            "INSERT INTO papers (id, title, first_seen_at, updated_at, search, title_words)"
            " VALUES ('2501.00001', $1, now(), now(), $2::tsvector, $3::tsvector)",
            title,
            search,
            title_words,
        )
    finally:
        await connection.close()

"""The paper store: one small interface (`Store`), SQLite as the embedded default, PostgreSQL
for a shared server."""

from __future__ import annotations

from bot.store.base import SORTS, Sort, Store
from bot.store.sqlite import SQLiteStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"


def is_postgres_url(location: str) -> bool:
    """True for a libpq URL (postgresql://... or postgres://...)."""
    return location.lower().startswith(POSTGRES_SCHEMES)


def make_store(location: str) -> Store:
    """The store for a configured location: a postgresql:// URL means PostgreSQL; a file
    path (or sqlite:///path) means SQLite."""
    if is_postgres_url(location):
        from bot.store.postgres import PostgresStore  # asyncpg only when it is used

        return PostgresStore(location)
    if location.startswith(SQLITE_SCHEME):
        location = location.removeprefix(SQLITE_SCHEME)  # sqlite:////abs, sqlite:///rel
    return SQLiteStore(location)


__all__ = ["SORTS", "SQLiteStore", "Sort", "Store", "is_postgres_url", "make_store"]

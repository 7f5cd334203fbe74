"""The paper store: one small interface (`Store`), SQLite as the embedded default."""

from __future__ import annotations

from bot.store.base import SORTS, Sort, Store
from bot.store.sqlite import SQLiteStore


def make_store(path: str) -> Store:
    """The store for a configured location (a file path means SQLite)."""
    return SQLiteStore(path)


__all__ = ["SORTS", "SQLiteStore", "Sort", "Store", "make_store"]

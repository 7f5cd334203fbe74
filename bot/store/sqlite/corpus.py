"""Every stored paper in the order it was stored: what the More like this index reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.models import Paper
from bot.store.sqlite.connection import SQLiteBase
from bot.store.sqlite.rows import _PAPER_COLUMNS, _listing

_STORED_SINCE = f"SELECT p.pk, {_PAPER_COLUMNS} FROM papers p WHERE p.pk > ? ORDER BY p.pk LIMIT ?"


class Corpus(SQLiteBase):
    """Papers by storage order (their row number, which only grows)."""

    async def stored_since(self, position: int, limit: int = 1000) -> list[tuple[int, Paper]]:
        """Up to `limit` papers stored after `position`, each with its position."""
        rows = await self._all(_STORED_SINCE, (position, limit))
        return [(r[0], _listing(r[1:]).paper) for r in rows]

    def corpus_file(self) -> str | None:
        """The database file (None in memory): `read_stored_since` reads it elsewhere."""
        return None if self.path == ":memory:" else self.path


def open_corpus(path: str) -> sqlite3.Connection:
    """A read-only connection to a store's file, for another process (an index's build)."""
    db = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def read_stored_since(db: sqlite3.Connection, position: int, limit: int) -> list[tuple[int, Paper]]:
    """`Corpus.stored_since` on a connection of `open_corpus` (blocking)."""
    return [(r[0], _listing(r[1:]).paper) for r in db.execute(_STORED_SINCE, (position, limit))]

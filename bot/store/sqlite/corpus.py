"""Every stored paper in the order it was stored: what the More like this index reads."""

from __future__ import annotations

from bot.models import Paper
from bot.store.sqlite.connection import SQLiteBase
from bot.store.sqlite.rows import _PAPER_COLUMNS, _listing


class Corpus(SQLiteBase):
    """Papers by storage order (their row number, which only grows)."""

    async def stored_since(self, position: int, limit: int = 1000) -> list[tuple[int, Paper]]:
        """Up to `limit` papers stored after `position`, each with its position."""
        rows = await self._all(
            f"SELECT p.pk, {_PAPER_COLUMNS} FROM papers p WHERE p.pk > ? ORDER BY p.pk LIMIT ?",
            (position, limit),
        )
        return [(r[0], _listing(r[1:]).paper) for r in rows]

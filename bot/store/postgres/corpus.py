"""Every stored paper in the order it was stored: what the More like this index reads."""

from __future__ import annotations

from bot.models import Paper
from bot.store.postgres.connection import PostgresBase
from bot.store.postgres.rows import _PAPER_COLUMNS, _listing


class Corpus(PostgresBase):
    """Papers by storage order (their identity key, which only grows)."""

    async def stored_since(self, position: int, limit: int = 1000) -> list[tuple[int, Paper]]:
        """Up to `limit` papers stored after `position`, each with its position."""
        rows = await self._all(
            f"SELECT p.pk, {_PAPER_COLUMNS} FROM papers p WHERE p.pk > $1 ORDER BY p.pk LIMIT $2",
            (position, limit),
        )
        return [(r[0], _listing(tuple(r)[1:]).paper) for r in rows]

    def corpus_file(self) -> str | None:
        """None: the papers are on a server (`stored_since` reads them)."""
        return None

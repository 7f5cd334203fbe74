"""Who already has a paper in the alert outbox: what a paper matched again may skip."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence

from bot.store.sqlite.connection import SQLiteBase


def group_recipients(rows: Iterable[Sequence[object]]) -> dict[str, set[int]]:
    """(paper id, user id) rows -> paper id -> user ids."""
    out: dict[str, set[int]] = {}
    for paper_id, user_id in rows:
        users = out.get(str(paper_id))
        if users is None:
            users = out[str(paper_id)] = set()
        users.add(int(user_id))  # type: ignore[call-overload]
    return out


class Rematch(SQLiteBase):
    """The outbox seen by paper, for matching papers again."""

    async def alert_recipients(self, paper_ids: Sequence[str]) -> dict[str, set[int]]:
        """For each of these papers, the people who already have a row for it in the alert
        outbox, in any state (a paper nobody has is left out)."""
        if not paper_ids:
            return {}
        # One pass over the outbox's key (its primary key index covers both columns).
        rows = await self._all(
            "SELECT paper_id, user_id FROM alert_outbox"
            " WHERE paper_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(paper_ids)),),
        )
        if len(rows) < 10_000:
            return group_recipients(rows)
        # Millions of rows when a refresh matches many papers again: grouped off the loop.
        return await asyncio.to_thread(group_recipients, rows)

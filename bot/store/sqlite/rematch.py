"""A paper matched again: the text it was last matched with (what the new text's matches are
compared with), and who already has it in the alert outbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence

from bot.models import Paper
from bot.store.sqlite.connection import SQLiteBase
from bot.store.sqlite.rows import _PAPER_COLUMNS, _listing

_TEXT = "p.title, p.abstract, p.authors, p.keywords"
assert _TEXT in _PAPER_COLUMNS
# The paper as stored, its matchable text as kept in matched_text.
_AS_MATCHED = _PAPER_COLUMNS.replace(_TEXT, "m.title, m.abstract, m.authors, m.keywords", 1)


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
    """What matching papers again reads: their text as matched, the outbox by paper."""

    async def matched_text(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """Each of these papers with a kept text: as stored, but with the title, abstract,
        authors and AI keywords it was last matched with."""
        if not paper_ids:
            return {}
        rows = await self._all(
            f"SELECT {_AS_MATCHED} FROM matched_text m JOIN papers p ON p.pk = m.paper_pk"
            " WHERE p.id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(paper_ids)),),
        )
        return {paper.id: paper for paper in (_listing(r).paper for r in rows)}

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

"""A paper matched again: the text it was last matched with (what the new text's matches are
compared with), and who already has it in the alert outbox."""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import Paper
from bot.store.postgres.connection import PostgresBase
from bot.store.postgres.rows import _PAPER_COLUMNS, _listing

_TEXT = "p.title, p.abstract, p.authors, p.keywords"
assert _TEXT in _PAPER_COLUMNS
# The paper as stored, its matchable text as kept in matched_text.
_AS_MATCHED = _PAPER_COLUMNS.replace(_TEXT, "m.title, m.abstract, m.authors, m.keywords", 1)


class Rematch(PostgresBase):
    """What matching papers again reads: their text as matched, the outbox by paper."""

    async def matched_text(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """Each of these papers with a kept text: as stored, but with the title, abstract,
        authors and AI keywords it was last matched with."""
        if not paper_ids:
            return {}
        rows = await self._all(
            f"SELECT {_AS_MATCHED} FROM matched_text m JOIN papers p ON p.pk = m.paper_pk"
            " WHERE p.id = ANY($1::text[])",
            (list(paper_ids),),
        )
        return {paper.id: paper for paper in (_listing(r).paper for r in rows)}

    async def alert_recipients(self, paper_ids: Sequence[str]) -> dict[str, set[int]]:
        """For each of these papers, the people who already have a row for it in the alert
        outbox, in any state (a paper nobody has is left out)."""
        if not paper_ids:
            return {}
        rows = await self._all(
            "SELECT paper_id, array_agg(user_id) FROM alert_outbox"
            " WHERE paper_id = ANY($1::text[]) GROUP BY paper_id",
            (list(paper_ids),),
        )
        return {r[0]: set(r[1]) for r in rows}

"""Who already has a paper in the alert outbox: what a paper matched again may skip."""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.postgres.connection import PostgresBase


class Rematch(PostgresBase):
    """The outbox seen by paper, for matching papers again."""

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

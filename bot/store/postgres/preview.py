"""The papers an alert would have matched lately, found through the GIN-indexed vectors."""

from __future__ import annotations

from datetime import date

from bot.errors import QueryError
from bot.models import Listing
from bot.query import Query
from bot.store.postgres.connection import PostgresBase
from bot.store.postgres.fts import BUCKET, compile_where
from bot.store.postgres.rows import _PAPER_COLUMNS, _listing


class Preview(PostgresBase):
    """What a query matches among the papers of a few recent days."""

    async def matching_papers(
        self,
        query: Query,
        since: date,
        until: date,
        *,
        min_upvotes: int = 0,
        limit: int = 10,
    ) -> tuple[int, list[Listing]]:
        """How many papers first listed within [since, until] (with `min_upvotes`) `query`
        matches, and the first `limit` of them, most upvoted first."""
        if query.is_empty:
            raise QueryError("Nothing to search for: type at least one word.")
        # compile_where's condition on paper_search matches exactly what `search @@ tsquery`
        # would; the planner picks the list-date index or GIN, whichever is cheaper.
        where, tsqueries = compile_where(query, 5)
        where = where.replace(BUCKET, "")  # every pk block: the dates bound the rows
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS}, count(*) OVER () FROM papers p"
            " JOIN paper_search d ON d.pk = p.pk"
            f" WHERE p.list_date BETWEEN $1 AND $2 AND p.upvotes >= $3 AND {where}"
            " ORDER BY p.upvotes DESC, p.list_date DESC, p.pk DESC LIMIT $4",
            (since, until, min_upvotes, max(limit, 1), *tsqueries),
        )
        total = rows[0][-1] if rows else 0
        return total, [_listing(tuple(r)[:-1]) for r in rows[: max(limit, 0)]]

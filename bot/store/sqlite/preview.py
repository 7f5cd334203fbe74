"""The papers an alert would have matched lately, found through papers_fts (FTS5)."""

from __future__ import annotations

from datetime import date

from bot.errors import QueryError
from bot.models import Listing
from bot.query import Query
from bot.store.fts import compile_match
from bot.store.sqlite.connection import SQLiteBase
from bot.store.sqlite.rows import _PAPER_COLUMNS, _listing

# FTS5 walks a term's postings in rowid (pk) order and seeks to a lower bound on the rowid:
# papers stored before the oldest one listed in the range are never read. A paper listed
# late but stored long ago (looked up with /paper first) only widens the walk; the date
# condition keeps the answer exact.
_MATCHING = (
    f"SELECT {_PAPER_COLUMNS}, count(*) OVER () FROM papers p"
    " WHERE p.list_date BETWEEN ?1 AND ?2 AND p.upvotes >= ?3"
    " AND p.pk IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?4"
    " AND rowid >= (SELECT coalesce(min(pk), 0) FROM papers WHERE list_date BETWEEN ?1 AND ?2))"
    " ORDER BY p.upvotes DESC, p.list_date DESC, p.pk DESC LIMIT ?5"
)


class Preview(SQLiteBase):
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
        rows = await self._all(
            _MATCHING,
            # At least one row: the count rides on every row.
            (
                since.isoformat(),
                until.isoformat(),
                min_upvotes,
                compile_match(query),
                max(limit, 1),
            ),
        )
        total = rows[0][-1] if rows else 0
        return total, [_listing(r[:-1]) for r in rows[: max(limit, 0)]]

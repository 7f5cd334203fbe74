"""People's libraries of saved papers and servers' reading lists."""

from __future__ import annotations

import asyncpg

from bot.errors import LibraryLimitError, NotFoundError
from bot.models import ReadingEntry, SavedPaper
from bot.store.base import MAX_READING, MAX_SAVED
from bot.store.postgres.connection import (
    LIBRARY_LOCK,
    READING_LOCK,
    PostgresBase,
    keyed_lock,
    row_count,
)
from bot.store.postgres.rows import _PAPER_COLUMNS, _listing


class Library(PostgresBase):
    """Saved papers (one row per person and paper) and reading lists (per server and paper).

    A cap is checked and kept in one transaction holding a lock per person (or server), so
    saves that run at the same time, from any process, never pass it together.
    """

    async def save_paper(self, user_id: int, paper_id: str, *, max_saved: int = MAX_SAVED) -> bool:
        """Save a stored paper for a person; the checks and the insert are one transaction."""
        async with self._transaction() as con:
            await keyed_lock(con, LIBRARY_LOCK, user_id)
            if await con.fetchval(
                "SELECT 1 FROM library WHERE user_id = $1 AND paper_id = $2", user_id, paper_id
            ):
                return False
            await _must_be_stored(con, paper_id)
            status = await con.execute(
                "INSERT INTO library (user_id, paper_id, saved_at) SELECT $1, $2, $3"
                " WHERE (SELECT count(*) FROM library WHERE user_id = $1) < $4",
                user_id,
                paper_id,
                self._now(),
                max_saved,
            )
            if row_count(status) == 0:
                raise LibraryLimitError(
                    f"Your library is full: it holds {max_saved:,} papers, as many as it may."
                    " Remove some with /library remove to save more."
                )
        return True

    async def unsave_paper(self, user_id: int, paper_id: str) -> bool:
        """Delete one saved paper of one person."""
        status = await self.pool.execute(
            "DELETE FROM library WHERE user_id = $1 AND paper_id = $2", user_id, paper_id
        )
        return row_count(status) > 0

    async def library(self, user_id: int) -> list[SavedPaper]:
        """A person's saved papers, the latest saved first."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS}, l.saved_at FROM library l JOIN papers p ON p.id ="
            " l.paper_id WHERE l.user_id = $1 ORDER BY l.seq DESC",
            (user_id,),
        )
        return [SavedPaper(_listing(r), r[-1]) for r in rows]

    async def add_reading(
        self,
        guild_id: int,
        paper_id: str,
        added_by: int,
        note: str = "",
        *,
        max_entries: int = MAX_READING,
    ) -> bool:
        """Put a stored paper on a server's list; the checks and the insert are one
        transaction."""
        async with self._transaction() as con:
            await keyed_lock(con, READING_LOCK, guild_id)
            if await con.fetchval(
                "SELECT 1 FROM reading_list WHERE guild_id = $1 AND paper_id = $2",
                guild_id,
                paper_id,
            ):
                return False
            await _must_be_stored(con, paper_id)
            status = await con.execute(
                "INSERT INTO reading_list (guild_id, paper_id, added_by, note, added_at)"
                " SELECT $1, $2, $3, $4, $5 WHERE (SELECT count(*) FROM reading_list"
                " WHERE guild_id = $1) < $6",
                guild_id,
                paper_id,
                added_by,
                note,
                self._now(),
                max_entries,
            )
            if row_count(status) == 0:
                raise LibraryLimitError(
                    f"This server's reading list is full: it holds {max_entries:,} papers, as"
                    " many as it may. Remove some with /reading remove to add more."
                )
        return True

    async def reading_entry(self, guild_id: int, paper_id: str) -> ReadingEntry | None:
        """One entry of a server's reading list, or None."""
        rows = await self._reading("AND r.paper_id = $2", (guild_id, paper_id))
        return rows[0] if rows else None

    async def remove_reading(
        self, guild_id: int, paper_id: str, *, added_by: int | None = None
    ) -> bool:
        """Delete an entry (only its adder's, when `added_by` is given), in one statement."""
        status = await self.pool.execute(
            "DELETE FROM reading_list WHERE guild_id = $1 AND paper_id = $2"
            " AND ($3::bigint IS NULL OR added_by = $3)",
            guild_id,
            paper_id,
            added_by,
        )
        return row_count(status) > 0

    async def reading_list(self, guild_id: int) -> list[ReadingEntry]:
        """A server's reading list, the latest added first."""
        return await self._reading("", (guild_id,))

    async def _reading(self, where: str, params: tuple[object, ...]) -> list[ReadingEntry]:
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS}, r.added_by, r.note, r.added_at FROM reading_list r"
            f" JOIN papers p ON p.id = r.paper_id WHERE r.guild_id = $1 {where}"
            " ORDER BY r.seq DESC",
            params,
        )
        return [ReadingEntry(_listing(r), r[-3], r[-2], r[-1]) for r in rows]


async def _must_be_stored(con: asyncpg.Connection, paper_id: str) -> None:
    if not await con.fetchval("SELECT 1 FROM papers WHERE id = $1", paper_id):
        raise NotFoundError(f"{paper_id} is not a stored paper.")

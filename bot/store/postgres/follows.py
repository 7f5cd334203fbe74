"""Who wrote each paper (with the HF accounts that claimed the credits) and followed authors.

Names and accounts compare case-insensitively, as SQLite's NOCASE columns do: through
lower(...), which the indexes of migration 0003 are on. Shown names are picked and ordered
by code point (COLLATE "C"), as SQLite orders text, whatever the database's locale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from bot.errors import FollowLimitError
from bot.models import Author, Follow, FollowMatch, Paper
from bot.store.base import MAX_FOLLOWS
from bot.store.postgres.connection import FOLLOW_LOCK, PostgresBase, keyed_lock, row_count

_SCAN_MAX = 20_000  # credits an autocomplete counts at most (a one-letter prefix is broad)
_FOLLOW_SELECT = "SELECT id, user_id, name, hf_user, created_at FROM follows"
# People whose alerts may be matched now: not paused, DMs not refused.
_RECEIVING = (
    " LEFT JOIN alert_users u ON u.user_id = f.user_id"
    " WHERE NOT coalesce(u.paused, false) AND u.dm_blocked IS NULL"
)


def surname(name: str) -> str:
    """A name's last word: what autocomplete also matches (`Pehl` finds Cengiz Pehlevan)."""
    return name.rsplit(" ", 1)[-1]


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern for lower-cased text starting with `prefix` (wildcards escaped)."""
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def write_credits(con: asyncpg.Connection, papers: Sequence[Paper]) -> None:
    """Keep the credits of papers being stored, in the caller's transaction: a paper with
    authors replaces its credits (an account stays when the new data has none for the same
    name); one without keeps them."""
    ids, positions, names, surnames, users = [], [], [], [], []
    cut_ids, cut_counts = [], []
    for paper in papers:
        if not paper.authors:
            continue
        accounts = paper.author_users or (None,) * len(paper.authors)
        for position, (name, user) in enumerate(zip(paper.authors, accounts, strict=False), 1):
            ids.append(paper.id)
            positions.append(position)
            names.append(name)
            surnames.append(surname(name))
            users.append(user)
        cut_ids.append(paper.id)
        cut_counts.append(len(paper.authors))
    if not cut_ids:
        return
    await con.execute(
        "INSERT INTO author_credits (paper_pk, position, name, surname, hf_user)"
        " SELECT p.pk, c.position, c.name, c.surname, c.hf_user"
        " FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[])"
        " AS c (id, position, name, surname, hf_user) JOIN papers p ON p.id = c.id"
        " ON CONFLICT (paper_pk, position) DO UPDATE SET name = excluded.name,"
        " surname = excluded.surname, hf_user = CASE"
        " WHEN lower(excluded.name) = lower(author_credits.name)"
        " THEN coalesce(excluded.hf_user, author_credits.hf_user) ELSE excluded.hf_user END",
        ids,
        positions,
        names,
        surnames,
        users,
    )
    await con.execute(
        "DELETE FROM author_credits c USING papers p,"
        " unnest($1::text[], $2::int[]) AS k (id, n)"
        " WHERE p.id = k.id AND c.paper_pk = p.pk AND c.position > k.n",
        cut_ids,
        cut_counts,
    )


def _follow(row: Sequence[Any]) -> Follow:
    return Follow(row[0], row[1], Author(row[2], row[3]), row[4])


class Follows(PostgresBase):
    """Author credits, autocomplete over them, and the authors people follow."""

    async def authors_starting(self, prefix: str, limit: int = 25) -> list[Author]:
        """Authors whose name or last name starts with `prefix`, most papers first."""
        prefix = " ".join(prefix.split())
        if not prefix:
            return []
        rows = await self._all(
            'SELECT min(name COLLATE "C"), min(hf_user COLLATE "C"),'
            " count(DISTINCT paper_pk) AS n FROM ("
            " SELECT name, hf_user, paper_pk FROM author_credits"
            " WHERE lower(name) LIKE $1 OR lower(surname) LIKE $1 LIMIT $2) c"
            " GROUP BY lower(hf_user), (CASE WHEN hf_user IS NULL THEN lower(name) END)"
            " ORDER BY n DESC, 1, 2 NULLS FIRST LIMIT $3",
            (_like_prefix(prefix), _SCAN_MAX, limit),
        )
        return [Author(r[0], r[1], r[2]) for r in rows]

    async def find_author(self, name: str, hf_user: str | None = None) -> Author | None:
        """The stored author with this name and account, with their paper count."""
        if hf_user is not None:
            row = await self._one(
                "SELECT count(DISTINCT paper_pk), coalesce(bool_or(lower(name) = lower($1)),"
                " false) FROM author_credits WHERE lower(hf_user) = lower($2)",
                (name, hf_user),
            )
            if not row or not row[0]:
                return None
            if not row[1]:  # shown by the name the account's credits carry most
                name = await self.pool.fetchval(
                    'SELECT min(name COLLATE "C") FROM author_credits'
                    " WHERE lower(hf_user) = lower($1)"
                    " GROUP BY lower(name) ORDER BY count(*) DESC, 1 LIMIT 1",
                    hf_user,
                )
            return Author(name, hf_user, row[0])
        row = await self._one(
            'SELECT count(DISTINCT paper_pk), min(name COLLATE "C") FROM author_credits'
            " WHERE lower(name) = lower($1) AND hf_user IS NULL",
            (" ".join(name.split()),),
        )
        return Author(row[1], None, row[0]) if row and row[0] else None

    async def add_follow(
        self, user_id: int, author: Author, *, max_follows: int = MAX_FOLLOWS
    ) -> tuple[Follow, bool]:
        """Follow an author; (the follow, False) when already followed."""
        async with self._transaction() as con:
            await keyed_lock(con, FOLLOW_LOCK, user_id)
            if author.hf_user is not None:
                same = await self._one(
                    f"{_FOLLOW_SELECT} WHERE user_id = $1 AND lower(hf_user) = lower($2)",
                    (user_id, author.hf_user),
                    con,
                )
            else:
                same = await self._one(
                    f"{_FOLLOW_SELECT} WHERE user_id = $1 AND lower(name) = lower($2)"
                    " AND hf_user IS NULL",
                    (user_id, author.name),
                    con,
                )
            if same is not None:
                return _follow(same), False
            count = await con.fetchval("SELECT count(*) FROM follows WHERE user_id = $1", user_id)
            if count >= max_follows:
                raise FollowLimitError(
                    f"You already follow {count} authors, the most anyone may. Remove one"
                    " with /follow remove first."
                )
            row = await con.fetchrow(
                "INSERT INTO follows (user_id, name, hf_user, created_at)"
                " VALUES ($1, $2, $3, $4) RETURNING id, user_id, name, hf_user, created_at",
                user_id,
                author.name,
                author.hf_user,
                self._now(),
            )
        return _follow(row), True

    async def user_follows(self, user_id: int) -> list[Follow]:
        """A person's follows, oldest first."""
        rows = await self._all(f"{_FOLLOW_SELECT} WHERE user_id = $1 ORDER BY id", (user_id,))
        return [_follow(r) for r in rows]

    async def remove_follow(self, user_id: int, follow_id: int) -> bool:
        """Stop following; False if there was no such follow."""
        status = await self.pool.execute(
            "DELETE FROM follows WHERE id = $1 AND user_id = $2", follow_id, user_id
        )
        return row_count(status) > 0

    async def follow_matches(self, paper_ids: Sequence[str]) -> list[FollowMatch]:
        """Followed authors credited on these papers (by account, or unclaimed by name)."""
        papers = "SELECT pk, id FROM papers WHERE id = ANY($1::text[])"
        rows = await self._all(
            "SELECT * FROM ("
            f"SELECT f.id AS follow, f.user_id, p.id, f.name, f.hf_user FROM ({papers}) p"
            " JOIN author_credits c ON c.paper_pk = p.pk AND c.hf_user IS NOT NULL"
            " JOIN follows f ON lower(f.hf_user) = lower(c.hf_user) AND f.hf_user IS NOT NULL"
            f"{_RECEIVING}"
            " UNION "
            f"SELECT f.id, f.user_id, p.id, f.name, f.hf_user FROM ({papers}) p"
            " JOIN author_credits c ON c.paper_pk = p.pk AND c.hf_user IS NULL"
            " JOIN follows f ON lower(f.name) = lower(c.name) AND f.hf_user IS NULL"
            f"{_RECEIVING}"
            ') m ORDER BY user_id, id COLLATE "C", follow',
            (list(paper_ids),),
        )
        return [FollowMatch(r[0], r[1], r[2], Author(r[3], r[4])) for r in rows]

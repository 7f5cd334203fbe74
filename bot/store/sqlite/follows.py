"""Who wrote each paper (with the HF accounts that claimed the credits) and followed authors."""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.errors import FollowLimitError
from bot.models import Author, Follow, FollowMatch, Paper
from bot.store.base import MAX_FOLLOWS
from bot.store.sqlite.connection import SQLiteBase, insert_rows, many

_PREFIX_END = "\U0010ffff"  # sorts after every character: [p, p + this) holds p's words
_SCAN_MAX = 20_000  # credits an autocomplete counts at most, newest papers first
_FOLLOW_SELECT = "SELECT id, user_id, name, hf_user, created_at FROM follows"
# People whose alerts may be matched now: not paused, DMs not refused.
_RECEIVING = (
    " LEFT JOIN alert_users u ON u.user_id = f.user_id"
    " WHERE coalesce(u.paused, 0) = 0 AND u.dm_blocked IS NULL"
)


def surname(name: str) -> str:
    """A name's last word: what autocomplete also matches (`Pehl` finds Cengiz Pehlevan)."""
    return name.rsplit(" ", 1)[-1]


def write_credits(
    db: sqlite3.Connection,
    papers: Sequence[Paper],
    pks: Mapping[str, int],
    *,
    fresh: Collection[str] = (),
) -> None:
    """Keep the credits of papers being stored, in the caller's transaction on the store's
    thread: a paper with authors replaces its credits (an account stays when the new data
    has none for the same name); one without keeps them. `pks` holds the pk of every paper
    (written by pk: finding it by id for each credit was a third of an ingest's SQL time);
    `fresh` are the ids of papers inserted in this transaction, which have no credits yet
    to cut."""
    rows: list[tuple[Any, ...]] = []
    cuts: list[tuple[Any, ...]] = []
    for paper in papers:
        if not paper.authors:
            continue
        key = pks[paper.id]
        users = paper.author_users or (None,) * len(paper.authors)
        for position, (name, user) in enumerate(zip(paper.authors, users, strict=False), 1):
            rows.append((key, position, name, surname(name), user))
        if paper.id not in fresh:
            cuts.append((len(paper.authors), key))
    # Several rows a statement: a third less than executemany of one row's statement.
    insert_rows(db, _CREDITS, rows, _CREDITS_CONFLICT)
    many(db, "DELETE FROM author_credits WHERE position > ? AND paper_pk = ?", cuts)


_CREDITS = "INSERT INTO author_credits (paper_pk, position, name, surname, hf_user)"
_CREDITS_CONFLICT = (
    " ON CONFLICT (paper_pk, position) DO UPDATE SET name = excluded.name,"
    " surname = excluded.surname, hf_user = CASE WHEN excluded.name = author_credits.name"
    " THEN coalesce(excluded.hf_user, author_credits.hf_user) ELSE excluded.hf_user END"
)


def write_author_index(
    db: sqlite3.Connection,
    removed: Sequence[tuple[int, str]],
    added: Sequence[tuple[int, str]],
) -> None:
    """Keep papers_fts_authors, in the caller's transaction on the store's thread: `removed`
    are (pk, authors as last written) of papers whose row goes, `added` (pk, authors as now
    stored) those whose row is written; a paper in both with the same authors is left as it
    is. The row is papers.authors (one name a line), which always lists the paper's credited
    names."""
    before, after = dict(removed), dict(added)
    many(
        db,
        "INSERT INTO papers_fts_authors (papers_fts_authors, rowid, authors)"
        " VALUES ('delete', ?, ?)",
        [(pk, a) for pk, a in removed if a and after.get(pk) != a],
    )
    many(
        db,
        "INSERT INTO papers_fts_authors (rowid, authors) VALUES (?, ?)",
        [(pk, a) for pk, a in added if a and before.get(pk) != a],
    )


def _credited(text: str, where: str) -> str:
    """FROM and WHERE over the credits (c) of which `where` holds, newest paper first: only
    the papers whose papers_fts_authors row holds `text`'s words (one more parameter first,
    the MATCH of `_phrase`), or every paper when `text` has no word for FTS5 to look up."""
    if _has_words(text):
        return (
            "papers_fts_authors f JOIN author_credits c ON c.paper_pk = f.rowid"
            f" WHERE papers_fts_authors MATCH ? AND ({where}) ORDER BY f.rowid DESC"
        )
    return f"author_credits c WHERE ? IS NOT NULL AND ({where}) ORDER BY c.paper_pk DESC"


def _phrase(text: str, star: str) -> tuple[str]:
    """`text` as one FTS5 phrase (`star` "*": its last word as a prefix). A name that starts
    with `text` (NOCASE) holds its words in order, unicode61 folding case alike on both."""
    return ('"' + text.replace('"', '""') + '"' + star,)


def _has_words(text: str) -> bool:
    """Whether unicode61 finds a word in `text` (letters, numbers, private use)."""
    return any(c.isalnum() or unicodedata.category(c) == "Co" for c in text)


def _follow(row: Sequence[Any]) -> Follow:
    return Follow(row[0], row[1], Author(row[2], row[3]), datetime.fromisoformat(row[4]))


class Follows(SQLiteBase):
    """Author credits, autocomplete over them, and the authors people follow."""

    async def authors_starting(self, prefix: str, limit: int = 25) -> list[Author]:
        """Authors whose name or last name starts with `prefix`, most papers first (among
        the credits of the newest papers, _SCAN_MAX credits at most)."""
        prefix = " ".join(prefix.split())
        if not prefix:
            return []
        end = prefix + _PREFIX_END
        match = "(c.name >= ? AND c.name < ?) OR (c.surname >= ? AND c.surname < ?)"
        rows = await self._all(
            "SELECT min(name), hf_user, count(DISTINCT paper_pk) AS n FROM ("
            f" SELECT c.name, c.hf_user, c.paper_pk FROM {_credited(prefix, match)}"
            " LIMIT ?)"
            " GROUP BY hf_user, (CASE WHEN hf_user IS NULL THEN name END) COLLATE NOCASE"
            " ORDER BY n DESC, 1, 2 LIMIT ?",
            (*_phrase(prefix, "*"), prefix, end, prefix, end, _SCAN_MAX, limit),
        )
        return [Author(r[0], r[1], r[2]) for r in rows]

    async def find_author(self, name: str, hf_user: str | None = None) -> Author | None:
        """The stored author with this name and account, with their paper count."""
        if hf_user is not None:
            row = await self._one(
                "SELECT count(DISTINCT paper_pk), max(name = ?) FROM author_credits"
                " WHERE hf_user = ?",
                (name, hf_user),
            )
            if not row or not row[0]:
                return None
            if not row[1]:  # shown by the name the account's credits carry most
                (name,) = await self._one(
                    "SELECT name FROM author_credits WHERE hf_user = ?"
                    " GROUP BY name ORDER BY count(*) DESC, name LIMIT 1",
                    (hf_user,),
                )
            return Author(name, hf_user, row[0])
        name = " ".join(name.split())
        row = await self._one(
            "SELECT count(DISTINCT c.paper_pk), min(c.name) FROM"
            f" {_credited(name, 'c.name = ? AND c.hf_user IS NULL')}",
            (*_phrase(name, ""), name),
        )
        return Author(row[1], None, row[0]) if row and row[0] else None

    async def add_follow(
        self, user_id: int, author: Author, *, max_follows: int = MAX_FOLLOWS
    ) -> tuple[Follow, bool]:
        """Follow an author; (the follow, False) when already followed."""
        async with self._transaction() as db:
            if author.hf_user is not None:
                same = await self._one(
                    f"{_FOLLOW_SELECT} WHERE user_id = ? AND hf_user = ?",
                    (user_id, author.hf_user),
                    db,
                )
            else:
                same = await self._one(
                    f"{_FOLLOW_SELECT} WHERE user_id = ? AND name = ? AND hf_user IS NULL",
                    (user_id, author.name),
                    db,
                )
            if same is not None:
                return _follow(same), False
            (count,) = await self._one(
                "SELECT count(*) FROM follows WHERE user_id = ?", (user_id,), db
            )
            if count >= max_follows:
                raise FollowLimitError(
                    f"You already follow {count} authors, the most anyone may. Remove one"
                    " with /follow remove first."
                )
            cursor = await db.execute(
                "INSERT INTO follows (user_id, name, hf_user, created_at) VALUES (?, ?, ?, ?)",
                (user_id, author.name, author.hf_user, self._now()),
            )
            row = await self._one(f"{_FOLLOW_SELECT} WHERE id = ?", (cursor.lastrowid,), db)
        return _follow(row), True

    async def user_follows(self, user_id: int) -> list[Follow]:
        """A person's follows, oldest first."""
        rows = await self._all(f"{_FOLLOW_SELECT} WHERE user_id = ? ORDER BY id", (user_id,))
        return [_follow(r) for r in rows]

    async def remove_follow(self, user_id: int, follow_id: int) -> bool:
        """Stop following; False if there was no such follow."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM follows WHERE id = ? AND user_id = ?", (follow_id, user_id)
            )
        return cursor.rowcount > 0

    async def follow_matches(self, paper_ids: Sequence[str]) -> list[FollowMatch]:
        """Followed authors credited on these papers (by account, or unclaimed by name)."""
        ids = json.dumps(list(paper_ids))
        papers = "SELECT pk, id FROM papers WHERE id IN (SELECT value FROM json_each(?))"
        rows = await self._all(
            f"SELECT f.id, f.user_id, p.id, f.name, f.hf_user FROM ({papers}) p"
            " JOIN author_credits c ON c.paper_pk = p.pk"
            " JOIN follows f ON f.hf_user = c.hf_user"
            f"{_RECEIVING}"
            " UNION "
            f"SELECT f.id, f.user_id, p.id, f.name, f.hf_user FROM ({papers}) p"
            " JOIN author_credits c ON c.paper_pk = p.pk AND c.hf_user IS NULL"
            " JOIN follows f ON f.name = c.name AND f.hf_user IS NULL"
            f"{_RECEIVING}"
            " ORDER BY 2, 3, 1",
            (ids, ids),
        )
        return [FollowMatch(r[0], r[1], r[2], Author(r[3], r[4])) for r in rows]

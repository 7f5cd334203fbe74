"""The SQLite store (aiosqlite): WAL, numbered migrations, FTS5 search. All SQL lives here."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite
from aiosqlite import Connection

from bot.errors import BackupError, QueryError, StoreError
from bot.models import (
    Alert,
    AlertUser,
    Delivery,
    DeliveryPart,
    IngestResult,
    Listing,
    Paper,
    QueuedAlert,
    ScrapeRun,
    SearchHit,
    SearchPage,
    StoreStats,
    Subscription,
)
from bot.query import Query
from bot.store.base import Sort
from bot.store.fts import compile_match
from bot.text import words

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
BUSY_TIMEOUT_MS = 30_000
SEARCH_BUDGET_SECONDS = 1.0  # a search that runs longer is "too broad"
_PAPER_COLUMNS = (
    "p.id, p.title, p.abstract, p.authors, p.keywords, p.published_at, p.submitted_at, "
    "p.upvotes, p.num_comments, p.ai_summary, p.github_repo, p.github_stars, p.project_page, "
    "p.thumbnail, p.organization, p.list_date, "
    "(SELECT rank FROM listings l WHERE l.paper_pk = p.pk AND l.list_date = p.list_date)"
)
# Title matches count ten times an abstract match; keywords and authors sit between.
_BM25 = "bm25(papers_fts, 10.0, 1.0, 4.0, 2.0)"
_SNIPPET = "snippet(papers_fts, 1, '**', '**', '…', 14)"
RANK_WINDOW = 2000  # a search ranks at most the newest this-many matches
SNIPPETS_PER_STATEMENT = 250  # SQLite refuses a compound SELECT of more than 500 terms
SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's files next to the store
_ONTO_ITSELF = "refusing to back up the store onto itself ({}); choose another path"
PRIVATE = 0o600  # user ids, alert queries and DM refusals are nobody else's business
READ_CACHE_KIB = 16 * 1024  # the OS page cache holds the rest; RSS matters more
_SORT_KEYS: dict[str, Callable[[Sequence[Any]], Any]] = {
    # Candidate rows are (pk, bm25, upvotes, list_date); bm25 is lower for better matches.
    "relevance": lambda r: (r[1], -r[0]),
    "upvotes": lambda r: (-r[2], _desc(r[3]), -r[0]),
    "newest": lambda r: (_desc(r[3]), -r[2], -r[0]),
}
# Fields a re-scrape refreshes; None or empty in the new data keeps the old value.
_REFRESHED = (
    "title",
    "abstract",
    "authors",
    "keywords",
    "published_at",
    "submitted_at",
    "upvotes",
    "num_comments",
    "ai_summary",
    "github_repo",
    "github_stars",
    "project_page",
    "thumbnail",
    "organization",
)
_INSERT_PAPER = (
    f"INSERT INTO papers (id, {', '.join(_REFRESHED)}, list_date, first_seen_at, updated_at)"
    f" VALUES ({', '.join('?' * (len(_REFRESHED) + 4))})"
)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("bot.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SQLiteStore:
    """The embedded default store: one file, no server."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock | None = None,
        search_budget: float = SEARCH_BUDGET_SECONDS,
    ) -> None:
        self.path = str(path)
        self.search_budget = search_budget
        self._clock = clock or (lambda: datetime.now(UTC))
        self._db: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None  # searches, with a time budget
        self._reads: aiosqlite.Connection | None = None  # every other read
        self._write_lock = asyncio.Lock()
        self._search_lock = asyncio.Lock()
        self._deadline_at = float("inf")
        self._alerts_version = 0  # bumped by every change to alerts or who gets them

    async def __aenter__(self) -> SQLiteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect, switch on WAL and a busy timeout, and apply pending migrations.

        StoreError (naming the path and the cause) if the store cannot be opened; every
        connection opened so far is closed first, so a failed start can exit.
        """
        try:
            await self._open()
        except BaseException as e:
            await self.close()
            if isinstance(e, sqlite3.Error | OSError):
                cause, other = _cause(e), getattr(e, "filename", None)
                if other and other != self.path:  # e.g. a parent directory that cannot be made
                    cause = f"{other}: {cause}"
                raise StoreError(f"cannot open the store {self.path}: {cause}") from e
            raise
        if self.path != ":memory:":
            _tighten(Path(self.path))

    async def _open(self) -> None:
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if parent.exists() and not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
            parent.mkdir(parents=True, exist_ok=True)
            # SQLite gives the -wal and -shm it creates the store's mode, whatever the umask.
            os.close(os.open(self.path, os.O_RDONLY | os.O_CREAT, PRIVATE))
        db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db = db
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
        await self._migrate()
        # Searches run on their own connection: WAL lets them read while a scrape writes, and
        # their time budget (a progress handler) can never interrupt someone else's write.
        if self.path == ":memory:":
            self._reader = db
        else:
            self._reader = await self._connect_reader()
            self._reads = await self._connect_reader()
        await self._reader.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
        await self._reader.set_progress_handler(self._over_budget, 1_000)

    async def _connect_reader(self) -> aiosqlite.Connection:
        reader = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await reader.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await reader.execute("PRAGMA query_only = ON")
        except BaseException:
            await reader.close()
            raise
        return reader

    def _over_budget(self) -> bool:
        """Called by SQLite every 1,000 steps on the reader: True interrupts the statement."""
        return time.monotonic() > self._deadline_at

    async def close(self) -> None:
        """Close the connections; safe to call twice."""
        # Each connection runs a non-daemon thread: one left open keeps the process alive.
        connections = dict.fromkeys(c for c in (self._reader, self._reads, self._db) if c)
        self._reader = self._reads = self._db = None
        for connection in connections:
            try:
                await connection.close()
            except sqlite3.Error:
                log.warning("closing a store connection failed", exc_info=True)

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("the store is not open")
        return self._reader

    async def _migrate(self) -> None:
        (version,) = await self._one("PRAGMA user_version")
        for number, script in _migrations():
            if number <= version:
                continue
            log.info("applying store migration %04d", number)
            # One transaction per migration: a crash leaves the previous version intact.
            await self.db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back on any error."""
        async with self._write_lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    @property
    def _read_db(self) -> aiosqlite.Connection:
        """Plain reads go to their own connection, so a write waiting on a lock never
        holds them up (each aiosqlite connection runs one statement at a time)."""
        return self._reads or self.db

    async def _one(self, sql: str, params: Sequence[Any] = (), db: Connection | None = None) -> Any:
        rows = await self._all(sql, params, db)
        return rows[0] if rows else None

    async def _all(
        self, sql: str, params: Sequence[Any] = (), db: Connection | None = None
    ) -> list[Any]:
        # Fetch everything in one call: a cursor left open between awaits would hold the
        # connection's read snapshot open, and other coroutines would read stale data.
        return list(await (db or self._read_db).execute_fetchall(sql, params))

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    # -- papers -------------------------------------------------------------------------

    async def ingest_day(self, list_date: date, papers: Sequence[Paper]) -> IngestResult:
        """Upsert one day's list in one transaction; say which papers are new."""
        day = list_date.isoformat()
        now = self._now()
        unique = list({p.id: p for p in papers}.values())
        async with self._transaction() as db:
            existing = await self._existing(db, [p.id for p in unique])
            new_rows, changed_rows = [], []
            for paper in unique:
                row = _paper_row(paper)
                old = existing.get(paper.id)
                if old is None:
                    new_rows.append((paper.id, *row.values(), day, now, now))
                    continue
                merged = {k: (v if v not in (None, "") else old[k]) for k, v in row.items()}
                first_date = min(filter(None, (old["list_date"], day)))
                if any(merged[k] != old[k] for k in _REFRESHED) or first_date != old["list_date"]:
                    changed_rows.append((*merged.values(), first_date, now, paper.id))
            await db.executemany(
                _INSERT_PAPER,
                new_rows,
            )
            await db.executemany(
                f"UPDATE papers SET {', '.join(f'{k} = ?' for k in _REFRESHED)}, list_date = ?,"
                " updated_at = ? WHERE id = ?",
                changed_rows,
            )
            if new_rows:
                await self._link_authors(db, [p for p in unique if p.id not in existing])
            await db.executemany(
                "INSERT INTO listings (list_date, paper_pk, rank)"
                " SELECT ?, pk, ? FROM papers WHERE id = ?"
                " ON CONFLICT (list_date, paper_pk) DO UPDATE SET rank = excluded.rank",
                [(day, rank, p.id) for rank, p in enumerate(unique, start=1)],
            )
        new_ids = tuple(p.id for p in unique if p.id not in existing)
        return IngestResult(list_date, len(unique), new_ids, len(changed_rows))

    async def upsert_paper(self, paper: Paper) -> bool:
        """Store a single paper that is on no list yet; True if it was new."""
        now = self._now()
        async with self._transaction() as db:
            existing = await self._existing(db, [paper.id])
            row = _paper_row(paper)
            if paper.id in existing:
                old = existing[paper.id]
                merged = {k: (v if v not in (None, "") else old[k]) for k, v in row.items()}
                await db.execute(
                    f"UPDATE papers SET {', '.join(f'{k} = ?' for k in _REFRESHED)},"
                    " updated_at = ? WHERE id = ?",
                    (*merged.values(), now, paper.id),
                )
                return False
            await db.execute(
                _INSERT_PAPER,
                (paper.id, *row.values(), None, now, now),
            )
            await self._link_authors(db, [paper])
            return True

    async def _existing(self, db: aiosqlite.Connection, ids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        columns = ", ".join(("id", *_REFRESHED, "list_date"))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await db.execute_fetchall(
                f"SELECT {columns} FROM papers WHERE id IN ({marks})", chunk
            )
            for row in rows:
                found[row[0]] = dict(zip(("id", *_REFRESHED, "list_date"), row, strict=True))
        return found

    async def _link_authors(self, db: aiosqlite.Connection, papers: Sequence[Paper]) -> None:
        names = sorted({a for p in papers for a in p.authors}, key=str.casefold)
        if not names:
            return
        await db.executemany(
            "INSERT INTO authors (name) VALUES (?) ON CONFLICT (name) DO NOTHING",
            [(n,) for n in names],
        )
        await db.executemany(
            "INSERT OR IGNORE INTO paper_authors (paper_pk, position, author_id)"
            " SELECT p.pk, ?, a.id FROM papers p, authors a WHERE p.id = ? AND a.name = ?",
            [(i, p.id, name) for p in papers for i, name in enumerate(p.authors)],
        )

    async def get_paper(self, paper_id: str) -> Listing | None:
        """A paper with its first list date and rank there, if stored."""
        row = await self._one(f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.id = ?", (paper_id,))
        return _listing(row) if row else None

    async def day_listing(self, list_date: date) -> list[Listing]:
        """One day's list in HF's order, with that day's rank."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS.rsplit(', (SELECT', 1)[0]}, l.list_date AS day, l.rank"
            " FROM listings l JOIN papers p ON p.pk = l.paper_pk"
            " WHERE l.list_date = ? ORDER BY l.rank",
            (list_date.isoformat(),),
        )
        return [_listing((*row[:15], row[16], row[17])) for row in rows]

    async def list_dates(self, since: date | None = None, until: date | None = None) -> list[date]:
        """Dates that have a list, oldest first."""
        rows = await self._all(
            "SELECT DISTINCT list_date FROM listings WHERE list_date >= ? AND list_date <= ?"
            " ORDER BY list_date",
            ((since or date.min).isoformat(), (until or date.max).isoformat()),
        )
        return [date.fromisoformat(r[0]) for r in rows]

    # -- search -------------------------------------------------------------------------

    async def search(
        self,
        query: Query,
        *,
        since: date | None = None,
        until: date | None = None,
        min_upvotes: int | None = None,
        sort: Sort = "relevance",
        limit: int = 10,
        offset: int = 0,
    ) -> SearchPage:
        """Full-text search; QueryError for an empty query or one that runs too long.

        Ranking looks at the newest RANK_WINDOW matches (in arrival order), so a query as
        broad as "model" costs the same as a narrow one; `capped` says the window was full.
        """
        if query.is_empty:
            raise QueryError("Nothing to search for: type at least one word.")
        match = compile_match(query)
        filters, params = _filters(since, until, min_upvotes)
        if filters or sort != "relevance":
            sql = (
                f"SELECT papers_fts.rowid, {_BM25}, p.upvotes, p.list_date FROM papers_fts"
                f" JOIN papers p ON p.pk = papers_fts.rowid WHERE papers_fts MATCH ? {filters}"
                " ORDER BY papers_fts.rowid DESC LIMIT ?"
            )
        else:
            sql = (
                f"SELECT rowid, {_BM25}, 0, '' FROM papers_fts WHERE papers_fts MATCH ?"
                " ORDER BY rowid DESC LIMIT ?"
            )
        async with self._searching() as db:
            found = list(await db.execute_fetchall(sql, (match, *params, RANK_WINDOW)))
            found.sort(key=_SORT_KEYS[sort])
            page = found[offset : offset + limit]
            hits = await self._hits(db, match, page)
        return SearchPage(tuple(hits), len(found), capped=len(found) >= RANK_WINDOW)

    async def _hits(
        self, db: aiosqlite.Connection, match: str, page: Sequence[Any]
    ) -> list[SearchHit]:
        """The papers and snippets of one page of (pk, score, ...) candidates, in order."""
        if not page:
            return []
        pks = [row[0] for row in page]
        marks = ", ".join("?" * len(pks))
        papers = {
            r[-1]: r[:-1]
            for r in await db.execute_fetchall(
                f"SELECT {_PAPER_COLUMNS}, p.pk FROM papers p WHERE p.pk IN ({marks})", pks
            )
        }
        # One snippet per hit, each a rowid lookup inside the MATCH (cheap), a few hundred
        # to a statement.
        snippets: dict[int, str] = {}
        for start in range(0, len(pks), SNIPPETS_PER_STATEMENT):
            chunk = pks[start : start + SNIPPETS_PER_STATEMENT]
            union = " UNION ALL ".join(
                f"SELECT rowid, {_SNIPPET} FROM papers_fts WHERE papers_fts MATCH ?1 AND rowid = ?"
                for _ in chunk
            )
            snippets.update({r[0]: r[1] for r in await db.execute_fetchall(union, (match, *chunk))})
        return [
            SearchHit(_listing(papers[pk]), snippets.get(pk) or "", -float(score))
            for pk, score, *_ in page
            if pk in papers
        ]

    @contextlib.asynccontextmanager
    async def _searching(self) -> AsyncIterator[aiosqlite.Connection]:
        """The reader, one search at a time, interrupted past the budget ("too broad")."""
        async with self._search_lock:
            self._deadline_at = time.monotonic() + self.search_budget
            try:
                yield self.reader
            except sqlite3.OperationalError as e:
                if "interrupted" in str(e):
                    raise QueryError(
                        "That query is too broad to answer quickly: add a word or a filter."
                    ) from None
                raise
            finally:
                self._deadline_at = float("inf")

    async def top_papers(self, since: date, until: date, limit: int = 10) -> list[Listing]:
        """The most upvoted papers first listed within [since, until]."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.list_date BETWEEN ? AND ?"
            " ORDER BY p.upvotes DESC, p.list_date DESC LIMIT ?",
            (since.isoformat(), until.isoformat(), limit),
        )
        return [_listing(r) for r in rows]

    async def titles_starting(self, prefix: str, limit: int = 25) -> list[Listing]:
        """Papers with a title word starting with `prefix`, most upvoted first."""
        tokens = words(prefix)
        if not tokens:
            return []
        match = " ".join(f'"{t}"' for t in tokens[:-1]) + f' "{tokens[-1]}" *'
        try:
            async with self._searching() as db:
                rows = await db.execute_fetchall(
                    f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.pk IN (SELECT rowid"
                    " FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid DESC LIMIT ?)"
                    " ORDER BY p.upvotes DESC LIMIT ?",
                    (f"title : ({match.strip()})", RANK_WINDOW, limit),
                )
        except QueryError:
            return []  # autocomplete gives up quietly on a prefix like "a"
        return [_listing(r) for r in rows]

    # -- bookkeeping --------------------------------------------------------------------

    async def record_scrape(self, run: ScrapeRun) -> None:
        """Remember how a scrape of one date went."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO scrape_runs (list_date, finished_at, ok, found, new, updated, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run.list_date.isoformat(),
                    run.finished_at.astimezone(UTC).isoformat(timespec="seconds"),
                    int(run.ok),
                    run.found,
                    run.new,
                    run.updated,
                    run.error,
                ),
            )

    async def _scrape_run(self, where: str) -> ScrapeRun | None:
        row = await self._one(
            "SELECT list_date, finished_at, ok, found, new, updated, error FROM scrape_runs"
            f" {where} ORDER BY finished_at DESC, id DESC LIMIT 1"
        )
        if row is None:
            return None
        return ScrapeRun(
            date.fromisoformat(row[0]), datetime.fromisoformat(row[1]), bool(row[2]), *row[3:]
        )

    async def stats(self) -> StoreStats:
        """Counts for status reports."""
        (papers,) = await self._one("SELECT count(*) FROM papers")
        count, first, newest = await self._one(
            "SELECT count(DISTINCT list_date), min(list_date), max(list_date) FROM listings"
        )
        size = 0
        if self.path != ":memory:":
            size = sum(
                Path(self.path + suffix).stat().st_size
                for suffix in ("", "-wal")
                if Path(self.path + suffix).exists()
            )
        return StoreStats(
            papers=papers,
            list_dates=count,
            first_date=date.fromisoformat(first) if first else None,
            newest_date=date.fromisoformat(newest) if newest else None,
            last_scrape=await self._scrape_run(""),
            last_success=await self._scrape_run("WHERE ok = 1"),
            location=str(Path(self.path).resolve()) if self.path != ":memory:" else self.path,
            size_bytes=size,
        )

    async def get_meta(self, key: str) -> str | None:
        """A small named value (e.g. the hash of the last command sync)."""
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        """Set a small named value."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def backup_target(self, destination: str | Path) -> str:
        """The real path a backup to `destination` writes; BackupError if it is the store.

        Symlinks, relative paths and `..` are resolved first: copying the store onto itself
        (or its -wal/-shm) copies nothing and reverts rows other connections committed.
        """
        target = os.path.realpath(destination)
        if self.path == ":memory:":
            return target
        store = os.path.realpath(self.path)
        if target in (store, *(store + suffix for suffix in SIDE_FILES)):
            raise BackupError(_ONTO_ITSELF.format(target))
        for path in (store, *(store + suffix for suffix in SIDE_FILES)):
            with contextlib.suppress(OSError):  # a hard link is the same file by another name
                if os.path.samefile(target, path):
                    raise BackupError(_ONTO_ITSELF.format(target))
        if os.path.isdir(target):
            raise BackupError(f"{target} is a directory; give the backup a file name")
        return target

    async def backup(self, destination: str | Path) -> None:
        """An online, consistent copy of the whole database (SQLite's backup API).

        The copy is written to a private temporary file beside the destination and renamed
        over it only once complete, so a failed backup leaves the last good one as it was.
        """
        target = self.backup_target(destination)
        try:
            fd, temporary = tempfile.mkstemp(  # mode 0600 whatever the umask
                prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=os.path.dirname(target)
            )
        except OSError as e:
            raise BackupError(f"cannot write a backup to {target}: {_cause(e)}") from e
        os.close(fd)
        try:
            copy = sqlite3.connect(temporary, check_same_thread=False)
            try:
                await self.db.backup(copy)
            finally:
                copy.close()
            os.replace(temporary, target)
        except (sqlite3.Error, OSError) as e:
            raise BackupError(f"backup to {target} failed: {_cause(e)}") from e
        finally:
            for path in (temporary, *(temporary + suffix for suffix in SIDE_FILES)):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)

    async def integrity_check(self) -> list[str]:
        """Problems found by SQLite's integrity check and FTS5's; empty when healthy."""
        rows = await self._all("PRAGMA integrity_check")
        problems = [r[0] for r in rows if r[0] != "ok"]
        try:
            await self.db.execute("INSERT INTO papers_fts (papers_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as e:
            problems.append(f"full-text index: {e}")
        return problems

    # -- digests ------------------------------------------------------------------------

    async def save_subscription(self, sub: Subscription) -> None:
        """Create or update a channel's digest settings (clears a failing mark)."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO digest_subscriptions (channel_id, guild_id, post_time, timezone, top,"
                " min_upvotes, keywords, threads, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel_id) DO UPDATE SET guild_id = excluded.guild_id,"
                " post_time = excluded.post_time, timezone = excluded.timezone,"
                " top = excluded.top, min_upvotes = excluded.min_upvotes,"
                " keywords = excluded.keywords, threads = excluded.threads,"
                " failing_reason = NULL, failing_since = NULL",
                (
                    sub.channel_id,
                    sub.guild_id,
                    sub.post_time,
                    sub.timezone,
                    sub.top,
                    sub.min_upvotes,
                    sub.keywords,
                    int(sub.threads),
                    self._now(),
                ),
            )

    async def remove_subscription(self, channel_id: int) -> bool:
        """Unsubscribe a channel; False if it was not subscribed."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM digest_subscriptions WHERE channel_id = ?", (channel_id,)
            )
            return cursor.rowcount > 0

    async def get_subscription(self, channel_id: int) -> Subscription | None:
        """One channel's settings."""
        row = await self._one(f"{_SUBSCRIPTION_SELECT} WHERE channel_id = ?", (channel_id,))
        return _subscription(row) if row else None

    async def subscriptions(self, guild_id: int | None = None) -> list[Subscription]:
        """Every subscription, or one server's, in channel order."""
        if guild_id is None:
            rows = await self._all(f"{_SUBSCRIPTION_SELECT} ORDER BY channel_id")
        else:
            rows = await self._all(
                f"{_SUBSCRIPTION_SELECT} WHERE guild_id = ? ORDER BY channel_id", (guild_id,)
            )
        return [_subscription(r) for r in rows]

    async def set_subscription_failing(self, channel_id: int, reason: str | None) -> None:
        """Mark a channel as failing (deleted, forbidden), or clear the mark."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digest_subscriptions SET failing_reason = ?,"
                " failing_since = CASE WHEN ? IS NULL THEN NULL"
                " ELSE coalesce(failing_since, ?) END WHERE channel_id = ?",
                (reason, reason, self._now(), channel_id),
            )

    async def delivery_states(self, list_date: date) -> dict[int, str]:
        """The outbox state of every channel's digest of one list, in one query."""
        rows = await self._all(
            "SELECT channel_id, state FROM digest_deliveries WHERE list_date = ?",
            (list_date.isoformat(),),
        )
        return {r[0]: r[1] for r in rows}

    async def get_delivery(
        self, channel_id: int, list_date: date, *, _db: Connection | None = None
    ) -> Delivery | None:
        """The outbox record of one digest, with its planned parts."""
        day = list_date.isoformat()
        row = await self._one(
            "SELECT state, error FROM digest_deliveries WHERE channel_id = ? AND list_date = ?",
            (channel_id, day),
            _db,
        )
        if row is None:
            return None
        parts = await self._all(
            "SELECT part, payload, nonce, message_id FROM digest_parts"
            " WHERE channel_id = ? AND list_date = ? ORDER BY part",
            (channel_id, day),
            _db,
        )
        return Delivery(
            channel_id, list_date, row[0], tuple(DeliveryPart(*p) for p in parts), row[1]
        )

    async def start_delivery(
        self, channel_id: int, list_date: date, payloads: Sequence[str]
    ) -> Delivery:
        """Record the planned messages before sending; an existing record wins (resume)."""
        day = list_date.isoformat()
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT INTO digest_deliveries (channel_id, list_date, state, started_at)"
                " VALUES (?, ?, 'sending', ?) ON CONFLICT DO NOTHING",
                (channel_id, day, self._now()),
            )
            if cursor.rowcount:
                await db.executemany(
                    "INSERT INTO digest_parts (channel_id, list_date, part, payload, nonce)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        (channel_id, day, n, payload, _nonce(channel_id, list_date, n))
                        for n, payload in enumerate(payloads)
                    ],
                )
            # Read back inside the transaction, on the writer: what was just written.
            delivery = await self.get_delivery(channel_id, list_date, _db=db)
        assert delivery is not None
        return delivery

    async def record_part_sent(
        self, channel_id: int, list_date: date, part: int, message_id: int
    ) -> None:
        """Remember that one planned message reached Discord."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digest_parts SET message_id = ?"
                " WHERE channel_id = ? AND list_date = ? AND part = ?",
                (message_id, channel_id, list_date.isoformat(), part),
            )

    async def finish_delivery(
        self, channel_id: int, list_date: date, state: str, error: str | None = None
    ) -> None:
        """Close a delivery as sent or failed."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digest_deliveries SET state = ?, error = ?, finished_at = ?"
                " WHERE channel_id = ? AND list_date = ?",
                (state, error, self._now(), channel_id, list_date.isoformat()),
            )

    # -- alerts -------------------------------------------------------------------------

    async def add_alert(
        self,
        user_id: int,
        query: str,
        *,
        deliver: str = "dm",
        channel_id: int | None = None,
        guild_id: int | None = None,
    ) -> Alert:
        """Save an alert for a person."""
        self._alerts_version += 1
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT INTO alerts (user_id, query, deliver, channel_id, guild_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, query, deliver, channel_id, guild_id, self._now()),
            )
            alert_id = cursor.lastrowid
            row = await self._one(f"{_ALERT_SELECT} WHERE id = ?", (alert_id,), db)
        return _alert(row)

    def alerts_version(self) -> int:
        """Changes whenever the set of active alerts may have changed (in this process)."""
        return self._alerts_version

    async def get_alert(self, alert_id: int) -> Alert | None:
        """One alert by id."""
        row = await self._one(f"{_ALERT_SELECT} WHERE id = ?", (alert_id,))
        return _alert(row) if row else None

    async def user_alerts(self, user_id: int) -> list[Alert]:
        """A person's alerts, oldest first."""
        rows = await self._all(f"{_ALERT_SELECT} WHERE user_id = ? ORDER BY id", (user_id,))
        return [_alert(r) for r in rows]

    async def remove_alert(self, user_id: int, alert_id: int) -> bool:
        """Delete one of a person's alerts; False if they have no such alert."""
        self._alerts_version += 1
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM alerts WHERE id = ? AND user_id = ?", (alert_id, user_id)
            )
            return cursor.rowcount > 0

    async def set_alert_muted(self, user_id: int, alert_id: int, muted: bool) -> bool:
        """Mute or unmute one of a person's alerts; False if they have no such alert."""
        self._alerts_version += 1
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE alerts SET muted = ? WHERE id = ? AND user_id = ?",
                (int(muted), alert_id, user_id),
            )
            return cursor.rowcount > 0

    async def active_alerts(self) -> list[Alert]:
        """Alerts that can deliver now: not muted, owner not paused, DMs not refused."""
        rows = await self._all(
            "SELECT a.id, a.user_id, a.query, a.deliver, a.channel_id, a.guild_id, a.muted,"
            " a.created_at FROM alerts a"
            " LEFT JOIN alert_users u ON u.user_id = a.user_id"
            " LEFT JOIN alert_guilds g ON g.guild_id = a.guild_id"
            " WHERE a.muted = 0 AND coalesce(u.paused, 0) = 0"
            " AND NOT (a.deliver = 'dm' AND u.dm_blocked IS NOT NULL)"
            " AND NOT (a.deliver = 'here' AND coalesce(g.channel_delivery, 1) = 0)"
            " ORDER BY a.id"
        )
        return [_alert(r) for r in rows]

    async def alert_user(self, user_id: int) -> AlertUser:
        """A person's alert-wide state (defaults if they never had any)."""
        row = await self._one(
            "SELECT paused, dm_blocked, dm_block_notified FROM alert_users WHERE user_id = ?",
            (user_id,),
        )
        if row is None:
            return AlertUser(user_id)
        return AlertUser(user_id, bool(row[0]), row[1], bool(row[2]))

    async def _set_user(self, user_id: int, assignments: str, params: Sequence[Any]) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO alert_users (user_id) VALUES (?) ON CONFLICT DO NOTHING", (user_id,)
            )
            await db.execute(
                f"UPDATE alert_users SET {assignments} WHERE user_id = ?", (*params, user_id)
            )

    async def set_alerts_paused(self, user_id: int, paused: bool) -> None:
        """Pause or resume all of a person's alerts."""
        self._alerts_version += 1
        await self._set_user(user_id, "paused = ?", (int(paused),))

    async def set_dm_blocked(self, user_id: int, reason: str | None) -> None:
        """Record that Discord refused a DM (pausing DM alerts), or clear it."""
        self._alerts_version += 1
        await self._set_user(user_id, "dm_blocked = ?, dm_block_notified = 0", (reason,))

    async def mark_dm_block_notified(self, user_id: int) -> None:
        """The person has been told why their DM alerts stopped."""
        await self._set_user(user_id, "dm_block_notified = 1", ())

    async def set_channel_alerts_allowed(self, guild_id: int, allowed: bool) -> None:
        """Whether alerts may post (with a mention) in this server's channels."""
        self._alerts_version += 1
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO alert_guilds (guild_id, channel_delivery) VALUES (?, ?)"
                " ON CONFLICT (guild_id)"
                " DO UPDATE SET channel_delivery = excluded.channel_delivery",
                (guild_id, int(allowed)),
            )

    async def channel_alerts_allowed(self, guild_id: int) -> bool:
        """Whether alerts may post in this server's channels (yes unless turned off)."""
        row = await self._one(
            "SELECT channel_delivery FROM alert_guilds WHERE guild_id = ?", (guild_id,)
        )
        return bool(row[0]) if row else True

    async def unmatched_papers(self, limit: int = 1000) -> list[Paper]:
        """Papers that arrived but have not been matched against the alerts yet."""
        rows = await self._all(
            f"SELECT {_PAPER_COLUMNS} FROM papers p WHERE p.alerts_matched = 0"
            " ORDER BY p.pk LIMIT ?",
            (limit,),
        )
        return [_listing(r).paper for r in rows]

    async def queue_alert_matches(
        self, paper_ids: Sequence[str], matches: Sequence[QueuedAlert]
    ) -> int:
        """Queue matches and mark the papers matched, in one transaction; returns rows queued."""
        now = self._now()
        async with self._transaction() as db:
            before = db.total_changes
            await db.executemany(
                "INSERT INTO alert_outbox (user_id, paper_id, alert_id, reason, target, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, paper_id) DO NOTHING",
                [(m.user_id, m.paper_id, m.alert_id, m.reason, m.target, now) for m in matches],
            )
            queued = db.total_changes - before
            await db.executemany(
                "UPDATE papers SET alerts_matched = 1 WHERE id = ?", [(i,) for i in paper_ids]
            )
        return queued

    async def alert_outbox(self, now: datetime | None = None) -> list[QueuedAlert]:
        """Matches waiting to be delivered (queued, or sending when a run was cut short)."""
        at = (now or self._clock()).astimezone(UTC).isoformat(timespec="seconds")
        rows = await self._all(
            "SELECT user_id, paper_id, alert_id, reason, target, state, batch, attempts"
            " FROM alert_outbox WHERE state IN ('queued', 'sending')"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            " ORDER BY user_id, target, queued_at, paper_id",
            (at,),
        )
        return [QueuedAlert(*r) for r in rows]

    async def mark_alerts(
        self,
        user_id: int,
        paper_ids: Sequence[str],
        state: str,
        *,
        batch: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Move outbox rows to `state` (sending with its batch nonce, sent, queued to retry)."""
        now = self._now()
        retry = retry_at.astimezone(UTC).isoformat(timespec="seconds") if retry_at else None
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE alert_outbox SET state = ?, batch = coalesce(?, batch),"
                " attempts = attempts + (? IS NOT NULL), next_attempt_at = ?,"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END"
                " WHERE user_id = ? AND paper_id = ?",
                [(state, batch, retry, retry, state, now, user_id, p) for p in paper_ids],
            )

    # -- server settings ------------------------------------------------------------------

    async def set_health_channel(self, guild_id: int, channel_id: int | None) -> None:
        """Where this server's health reports go (None: nowhere)."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO guild_settings (guild_id, health_channel_id) VALUES (?, ?)"
                " ON CONFLICT (guild_id)"
                " DO UPDATE SET health_channel_id = excluded.health_channel_id",
                (guild_id, channel_id),
            )

    async def health_channels(self) -> dict[int, int]:
        """Every server's health channel, by server."""
        rows = await self._all(
            "SELECT guild_id, health_channel_id FROM guild_settings"
            " WHERE health_channel_id IS NOT NULL"
        )
        return {r[0]: r[1] for r in rows}


def _cause(error: BaseException) -> str:
    """An OS or SQLite error as a short phrase ("file is not a database", "Permission denied")."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _tighten(path: Path) -> None:
    """Make a store (and its -wal and -shm) that others can read private to its owner."""
    tightened = []
    for file in (path, *(Path(f"{path}{suffix}") for suffix in SIDE_FILES)):
        try:
            mode = file.stat().st_mode
            if stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
                file.chmod(stat.S_IMODE(mode) & ~0o077)
                tightened.append(str(file))
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("%s is readable by others and stays so: %s", file, _cause(e))
    if tightened:
        log.warning("made %s private to its owner: others could read it", ", ".join(tightened))


def _desc(day: str | None) -> str:
    """A sort key that orders ISO dates newest first (missing dates last)."""
    return "".join(chr(0x10FFFF - ord(c)) for c in day) if day else "\U0010ffff"


def _filters(
    since: date | None, until: date | None, min_upvotes: int | None
) -> tuple[str, list[Any]]:
    """SQL conditions on papers p for the search filters, and their parameters."""
    conditions: list[str] = []
    params: list[Any] = []
    if since:
        conditions.append("p.list_date >= ?")
        params.append(since.isoformat())
    if until:
        conditions.append("p.list_date <= ?")
        params.append(until.isoformat())
    if min_upvotes is not None:
        conditions.append("p.upvotes >= ?")
        params.append(min_upvotes)
    return "".join(f" AND {c}" for c in conditions), params


def _paper_row(paper: Paper) -> dict[str, Any]:
    """The paper as column values, in _REFRESHED order."""
    return {
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": "\n".join(paper.authors),
        "keywords": "\n".join(paper.ai_keywords),
        "published_at": _iso(paper.published_at),
        "submitted_at": _iso(paper.submitted_at),
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "ai_summary": paper.ai_summary,
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "thumbnail": paper.thumbnail,
        "organization": paper.organization,
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _listing(row: Sequence[Any]) -> Listing:
    """Build a Listing from the _PAPER_COLUMNS row (list_date and rank last)."""
    paper = Paper(
        id=row[0],
        title=row[1],
        abstract=row[2],
        authors=tuple(filter(None, row[3].split("\n"))),
        ai_keywords=tuple(filter(None, row[4].split("\n"))),
        published_at=_dt(row[5]),
        submitted_at=_dt(row[6]),
        upvotes=row[7],
        num_comments=row[8],
        ai_summary=row[9],
        github_repo=row[10],
        github_stars=row[11],
        project_page=row[12],
        thumbnail=row[13],
        organization=row[14],
    )
    list_date = date.fromisoformat(row[15]) if row[15] else None
    return Listing(paper, list_date, row[16] or 0)  # type: ignore[arg-type]


_SUBSCRIPTION_SELECT = (
    "SELECT channel_id, guild_id, post_time, timezone, top, min_upvotes, keywords, threads,"
    " created_at, failing_reason FROM digest_subscriptions"
)


def _subscription(row: Sequence[Any]) -> Subscription:
    return Subscription(
        channel_id=row[0],
        guild_id=row[1],
        post_time=row[2],
        timezone=row[3],
        top=row[4],
        min_upvotes=row[5],
        keywords=row[6],
        threads=bool(row[7]),
        created_at=_dt(row[8]),
        failing_reason=row[9],
    )


def _nonce(channel_id: int, list_date: date, part: int) -> str:
    """A stable nonce (at most 25 characters) per planned message, so a resend is deduplicated."""
    digest = hashlib.sha256(f"{channel_id}:{list_date}:{part}".encode()).hexdigest()
    return str(int(digest[:16], 16) % 10**19)


_ALERT_SELECT = (
    "SELECT id, user_id, query, deliver, channel_id, guild_id, muted, created_at FROM alerts"
)


def _alert(row: Sequence[Any]) -> Alert:
    return Alert(*row[:6], muted=bool(row[6]), created_at=_dt(row[7]))  # type: ignore[misc]

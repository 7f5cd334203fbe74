"""The SQLite store's connections (one writer, two readers), migrations and backup."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, Self, TypeVar

import aiosqlite
from aiosqlite import Connection

from bot.errors import BackupError, StoreError
from bot.store.sqlite.rows import _FTS_COLUMNS, _SEARCHED, _index_row
from bot.text import ANALYSIS_VERSION

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
SEARCH_BUDGET_SECONDS = 1.0  # a search that runs longer is "too broad"
READ_CACHE_KIB = 16 * 1024  # the OS page cache holds the rest; RSS matters more
SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's files next to the store
_ONTO_ITSELF = "refusing to back up the store onto itself ({}); choose another path"
PRIVATE = 0o600  # user ids, alert queries and DM refusals are nobody else's business
_ANALYSIS_KEY = "search_analysis"  # meta: the bot.text analysis papers_fts was written with
# The write-ahead log's size past which a checkpoint copies it into the store (SQLite's own
# automatic checkpoint waits for 1,000 pages: the same 4 MiB).
CHECKPOINT_BYTES = 4 * 1024 * 1024
# Past this, the next writes wait for the checkpoint: writes back to back would otherwise
# keep landing while it runs, and the log could never start over (it grew by the burst).
CHECKPOINT_HOLD_BYTES = 3 * CHECKPOINT_BYTES


def many(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[object]]) -> None:
    """executemany on the store's thread, skipped when there are no rows (a day of new
    papers leaves several lists empty)."""
    if rows:
        conn.executemany(sql, rows)


# Rows an insert_rows statement writes at once (a bound parameter each value: a paper's row
# has 20, well under SQLite's 32,766).
ROWS_A_STATEMENT = 50


def insert_rows(
    conn: sqlite3.Connection, head: str, rows: Sequence[Sequence[object]], tail: str = ""
) -> None:
    """`head` VALUES (row), (row), ... `tail` for every row, ROWS_A_STATEMENT rows a
    statement: the rows land as with executemany of one row's statement, in order, at about
    two thirds of its cost (one step a statement, not one a row). Not for a virtual table:
    FTS5 flushes its pending rows at the end of each such statement."""
    if not rows:
        return
    width = len(rows[0])
    if any(len(row) != width for row in rows):  # (shifted into the wrong columns otherwise)
        raise ValueError("insert_rows: rows of different lengths")
    group = f"({', '.join('?' * width)})"
    for start in range(0, len(rows), ROWS_A_STATEMENT):
        chunk = rows[start : start + ROWS_A_STATEMENT]
        values = ", ".join([group] * len(chunk))
        conn.execute(f"{head} VALUES {values}{tail}", [v for row in chunk for v in row])


async def on_thread(
    db: Connection,
    work: Callable[[sqlite3.Connection], T],
    on_cancel: Callable[[], object] | None = None,
) -> T:
    """`work(connection)` run on the aiosqlite connection's own thread, as one call: its
    statements then cost no round trip each between the event loop and that thread.

    A caller cancelled meanwhile waits for the work to end (`on_cancel` first, to cut it
    short), so nothing it holds (a lock, the connection) is released under work still
    running.

    aiosqlite runs every call of a connection in order on that thread (its `_execute`);
    it has no public way to run a function there, so this is the one place that reaches
    in (tests/bot/store/test_sqlite_thread.py checks that it still works as used here)."""
    call = asyncio.ensure_future(db._execute(work, db._conn))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        if on_cancel is not None:
            on_cancel()
        await asyncio.wait([call])
        if not call.cancelled():
            call.exception()  # (retrieved: the caller was cancelled)
        raise


def _transaction_of(work: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    """`work` in one write transaction on `conn`, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
    except BaseException:
        # SQLite ends the transaction itself on some errors (a full disk): a second
        # ROLLBACK would fail and hide the error that matters.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("bot.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SQLiteBase:
    """The connections, migrations and backup: what every part of the store stands on."""

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
        # The words papers_fts_heads is written for (papers_fts_heads_words), read on open.
        self._heads_words: set[str] = set()
        # How many titles pass a title test (bot.store.fts.title_groups), as first counted:
        # only to pick a query's rarest word, so never brought up to date.
        self._title_counts: dict[str, int] = {}
        self._deadline_at = float("inf")
        # Checkpoints run on a connection of their own, beside the writer (see _written).
        self._checkpoints: aiosqlite.Connection | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self._wal = ""  # the log's path: SQLite names it after the store's real path
        self._hold = False  # the log is past CHECKPOINT_HOLD_BYTES: writes wait (_log_room)

    async def __aenter__(self) -> Self:
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
        if self.path != ":memory:":
            # A commit that fills the log past 1,000 pages would copy it into the store
            # itself, on the writer's thread, with the write lock held (half of a 15 MB
            # write's time). The log is copied beside the writer instead (_written); it is
            # cut back to CHECKPOINT_BYTES when it starts over, so its size tells when.
            await db.execute("PRAGMA wal_autocheckpoint = 0")
            await db.execute(f"PRAGMA journal_size_limit = {CHECKPOINT_BYTES}")
            self._wal = os.path.realpath(self.path) + "-wal"
            self._checkpoints = await aiosqlite.connect(self.path, isolation_level=None)
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
        while self._checkpointing is not None:  # (it ends soon: it waits for nobody)
            await asyncio.wait([self._checkpointing])
        # Each connection runs a non-daemon thread: one left open keeps the process alive.
        connections = dict.fromkeys(
            c for c in (self._reader, self._reads, self._checkpoints, self._db) if c
        )
        self._reader = self._reads = self._checkpoints = self._db = None
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
        await self._index_search()
        # Migration 0013 makes them (a store stopped at an older one has none).
        found = "SELECT 1 FROM sqlite_master WHERE name = 'papers_fts_heads_words'"
        if await self._one(found, (), self.db):
            words = await self._all("SELECT stem FROM papers_fts_heads_words", (), self.db)
            self._heads_words = {r[0] for r in words}

    async def _index_search(self) -> None:
        """Write papers_fts (and papers_fts_authors) afresh unless it holds this version's
        analysis of every paper.

        Runs on open: after migration 0005 (which empties it) and after an upgrade that
        changes how bot.text reads words. One transaction: a crash leaves it to redo.
        """
        row = await self._one("SELECT value FROM meta WHERE key = ?", (_ANALYSIS_KEY,), self.db)
        if row is not None and row[0] == ANALYSIS_VERSION:
            return
        async with self._transaction() as db:
            (count,) = await self._one("SELECT count(*) FROM papers", (), db)
            log.info("writing the search index of %d papers (%s)", count, ANALYSIS_VERSION)
            await db.execute("INSERT INTO papers_fts (papers_fts) VALUES ('delete-all')")
            # Migration 0013 makes the heads (a store stopped at an older one has none):
            # written again for a word when a search next asks for them.
            if await self._one(
                "SELECT 1 FROM sqlite_master WHERE name = 'papers_fts_heads'", (), db
            ):
                await db.execute("DELETE FROM papers_fts_heads")
                await db.execute("DELETE FROM papers_fts_heads_words")
            async for rows in self._indexed_papers(db):
                await db.executemany(
                    f"INSERT INTO papers_fts (rowid, {_FTS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    [(pk, *row) for pk, row in rows],
                )
            # Migration 0015 makes the authors' index (tokenized by SQLite, so the analysis
            # does not change it; written again here because a copied store has none).
            if await self._one(
                "SELECT 1 FROM sqlite_master WHERE name = 'papers_fts_authors'", (), db
            ):
                await db.execute(
                    "INSERT INTO papers_fts_authors (papers_fts_authors) VALUES ('delete-all')"
                )
                await db.execute(
                    "INSERT INTO papers_fts_authors (rowid, authors)"
                    " SELECT pk, authors FROM papers WHERE authors != ''"
                )
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_ANALYSIS_KEY, ANALYSIS_VERSION),
            )

    async def _indexed_papers(
        self, db: aiosqlite.Connection
    ) -> AsyncIterator[list[tuple[int, tuple[str, ...]]]]:
        """Every paper's (pk, papers_fts values), a thousand at a time."""
        last = 0
        while True:
            rows = await self._all(
                "SELECT pk, title, abstract, keywords, authors FROM papers WHERE pk > ?"
                " ORDER BY pk LIMIT 1000",
                (last,),
                db,
            )
            if not rows:
                return
            yield [(r[0], _index_row(dict(zip(_SEARCHED, r[1:], strict=True)))) for r in rows]
            last = rows[-1][0]

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[aiosqlite.Connection]:
        """The writer, for one write at a time: room in the log first (_log_room), and
        a checkpoint started after it if the log needs one (_written)."""
        await self._log_room()
        try:
            async with self._write_lock:
                yield self.db
        finally:
            self._written()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back on any error."""
        async with self._writing():
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                # SQLite ends the transaction itself on some errors (a full disk): a second
                # ROLLBACK would fail and hide the error that matters.
                if self.db.in_transaction:
                    await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` as one write transaction, run whole on the writer's thread
        (one round trip instead of one per statement); rolled back on any error."""
        async with self._writing() as db:  # (held until the work ends, even when cancelled)
            return await on_thread(db, partial(_transaction_of, work))

    def _written(self) -> None:
        """After a write: once the log has grown past CHECKPOINT_BYTES, a passive
        checkpoint on the checkpoints' connection (one at a time). It copies what no
        reader still needs and waits for nobody: the next writes go on meanwhile. Past
        CHECKPOINT_HOLD_BYTES they wait (_log_room) for a checkpoint made with the write
        lock held, after which the log can start over."""
        if self._checkpoints is None:
            return
        try:
            size = os.stat(self._wal).st_size
        except OSError:  # no log yet
            return
        if size > CHECKPOINT_HOLD_BYTES:
            self._hold = True
        if self._checkpointing is None and size > CHECKPOINT_BYTES:
            self._start_checkpoint()

    def _start_checkpoint(self) -> None:
        self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint(self._hold))

    async def _checkpoint(self, hold: bool) -> None:
        try:
            async with self._write_lock if hold else contextlib.nullcontext():
                if self._checkpoints is not None:
                    await self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:
            log.warning(
                "a checkpoint of the store failed (the next write tries again)", exc_info=True
            )
        finally:
            self._checkpointing = None
            if hold:
                self._hold = False
            elif self._hold and self._checkpoints is not None:  # the log outgrew this one
                self._start_checkpoint()

    async def _log_room(self) -> None:
        """Before a write: while the log is past CHECKPOINT_HOLD_BYTES, wait for the
        checkpoint (writes landing while one runs keep the log from starting over)."""
        while self._hold and self._checkpointing is not None:
            await asyncio.wait([self._checkpointing])

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

    def backup_target(self, destination: str | Path) -> str:
        """The real path a backup to `destination` writes; BackupError if it is the store.

        Symlinks, relative paths and `..` are resolved first: copying the store onto itself
        (or its -wal/-shm) copies nothing and reverts rows other connections committed.
        """
        target = os.path.realpath(destination)
        if self.path == ":memory:":
            return target
        store = os.path.realpath(self.path)
        if not os.path.exists(store):  # opening it would create an empty store to back up
            raise BackupError(f"there is no store at {self.path} to back up")
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
            await self.db.execute(
                "INSERT INTO papers_fts_authors (papers_fts_authors) VALUES ('integrity-check')"
            )
        except sqlite3.DatabaseError as e:
            problems.append(f"full-text index: {e}")
        return problems


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

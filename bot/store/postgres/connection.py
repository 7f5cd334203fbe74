"""The PostgreSQL store's connection pool, migrations (under a lock), backup and checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import asyncpg

from bot.errors import BackupError, StoreError, StoreUnavailable, without_userinfo
from bot.store.postgres.fts import search_vectors, title_vector
from bot.text import ANALYSIS_VERSION

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
T = TypeVar("T")

SEARCH_BUDGET_SECONDS = 1.0  # a search that runs longer is "too broad"
# A lost connection is retried (backoff from RETRY_FIRST to RETRY_MOST seconds) for this
# long, then the operation fails with StoreUnavailable ("try again shortly"): short enough
# for a command to answer, long enough for a server restart or a fail-over's first seconds.
RETRY_SECONDS = 5.0
RETRY_FIRST, RETRY_MOST = 0.1, 2.0
UNAVAILABLE = "The database cannot be reached right now; try again shortly."
CONNECT_TIMEOUT_SECONDS = 10.0
POOL_SIZE = 10  # per process; N processes x (POOL_SIZE + 1) must stay under max_connections
# A transaction left open this long between two statements (its process was paused, e.g.
# SIGSTOP, or wedged) is ended by the server, which frees its row locks: a paused holder
# of a fenced lease row cannot block the process taking its work over for longer than this.
# Well under the lease time (`[cluster] lease_seconds`, 60 s); a store transaction never
# waits on anything but the server between its statements.
IDLE_IN_TRANSACTION_SECONDS = 20.0
# Advisory lock keys (two int4 keys: a namespace for paperboy, then what is locked).
LOCK_NAMESPACE = 0x70617065  # "pape"
MIGRATION_LOCK = 1
PAPERS_LOCK = 2  # ingest and upsert: one writer of papers at a time, as in SQLite
ALERT_CHANGES_LOCK = 3  # alert changes are numbered in commit order
ALERT_CAP_LOCK = 4  # per person: the alert cap holds under concurrent adds
LIBRARY_LOCK = 5  # per person: the library cap holds under concurrent saves
READING_LOCK = 6  # per server: the reading list cap holds under concurrent adds
WATCH_LOCK = 7  # per person: the code watch cap holds under concurrent watches
FOLLOW_LOCK = 8  # per person: the follow cap holds under concurrent follows
LEADER_LOCK = 9  # session lock on the leader's own connection: held by the one leader
REGISTRY_LOCK = 10  # processes register one at a time: the shard_count check holds
_ANALYSIS_KEY = "search_analysis"  # meta: the bot.text analysis `search` was written with


# What a server that is down, unknown, or refusing us raises while connecting.
_UNREACHABLE = (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("bot.store.postgres") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def server_address(url: str) -> str:
    """Where a libpq URL points, as "host:port" (or "socket-dir port N"), never with secrets."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [None])[0] or parts.hostname or os.environ.get("PGHOST") or "localhost"
    port = query.get("port", [None])[0] or _port(parts) or os.environ.get("PGPORT") or "5432"
    host = unquote(host)
    return f"{host} port {port}" if host.startswith("/") else f"{host}:{port}"


def _port(parts: Any) -> str | None:
    try:
        return str(parts.port) if parts.port else None
    except ValueError:
        return None


def redacted(url: str) -> str:
    """The URL without its password (for status reports and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc}" if user else netloc))


class PostgresBase:
    """The pool, migrations and backup: what every part of the store stands on."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        search_budget: float = SEARCH_BUDGET_SECONDS,
        pool_size: int = POOL_SIZE,
        retry_seconds: float = RETRY_SECONDS,
        idle_in_transaction_seconds: float = IDLE_IN_TRANSACTION_SECONDS,
    ) -> None:
        self.url = url
        self.retry_seconds = retry_seconds
        self.idle_in_transaction_seconds = idle_in_transaction_seconds
        self.search_budget = search_budget
        self.pool_size = pool_size
        self._clock = clock or (lambda: datetime.now(UTC))
        self._pool: asyncpg.Pool | None = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def location(self) -> str:
        return redacted(self.url)

    async def open(self) -> None:
        """Connect and apply pending migrations (one process at a time, under a lock).

        StoreError naming the server (host and port, never the password) if it cannot be
        reached or refuses us; the pool is closed first, so a failed start can exit.
        """
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                timeout=CONNECT_TIMEOUT_SECONDS,
                server_settings={
                    "idle_in_transaction_session_timeout": str(
                        max(1, round(self.idle_in_transaction_seconds * 1000))
                    ),
                },
            )
            await self._migrate()
        except BaseException as e:
            await self.close()
            if isinstance(e, _UNREACHABLE):
                cause = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                cause = without_userinfo(cause or type(e).__name__)
                raise StoreError(
                    f"cannot use the PostgreSQL store at {server_address(self.url)}: {cause}"
                ) from None
            raise

    async def close(self) -> None:
        """Close the pool; safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except (TimeoutError, asyncpg.PostgresError, OSError):
                log.warning("closing the store's connections failed", exc_info=True)
                pool.terminate()

    async def _retrying(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation` (one whole store method: its transaction rolls back if the
        connection drops), again after a lost connection, with backoff, for retry_seconds;
        then StoreUnavailable. The pool replaces dead connections on the next acquire."""
        delay = RETRY_FIRST
        deadline = time.monotonic() + self.retry_seconds
        while True:
            try:
                return await operation()
            except Exception as e:
                if not connection_lost(e):
                    raise
                if time.monotonic() + delay > deadline:
                    log.warning(
                        "the PostgreSQL server at %s stayed unreachable for %.0f s: %s",
                        server_address(self.url),
                        self.retry_seconds,
                        type(e).__name__,
                    )
                    raise StoreUnavailable(UNAVAILABLE) from None
                log.warning(
                    "lost the connection to PostgreSQL (%s); retrying in %.1f s",
                    type(e).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MOST)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the store is not open")
        return self._pool

    async def _migrate(self) -> None:
        """Apply pending migrations, each in its own transaction, holding the migration lock
        (a second process starting at the same time waits, then finds nothing to do)."""
        async with self.pool.acquire() as con:
            await con.execute("SELECT pg_advisory_lock($1, $2)", LOCK_NAMESPACE, MIGRATION_LOCK)
            try:
                await con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
                )
                done = {r[0] for r in await con.fetch("SELECT version FROM schema_migrations")}
                for number, script in _migrations():
                    if number in done:
                        continue
                    log.info("applying store migration %04d", number)
                    async with con.transaction():
                        await con.execute(script)
                        await con.execute(
                            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                            number,
                            datetime.now(UTC),
                        )
                await self._index_search(con)
            finally:
                await con.execute(
                    "SELECT pg_advisory_unlock($1, $2)", LOCK_NAMESPACE, MIGRATION_LOCK
                )

    async def _index_search(self, con: asyncpg.Connection) -> None:
        """Write every paper's search vectors afresh unless they hold this version's analysis
        (after an upgrade that changes how bot.text reads words). One transaction."""
        row = await con.fetchrow("SELECT value FROM meta WHERE key = $1", _ANALYSIS_KEY)
        if row is not None and row[0] == ANALYSIS_VERSION:
            return
        async with con.transaction():
            count = await con.fetchval("SELECT count(*) FROM papers")
            if count:
                log.info("writing the search index of %d papers (%s)", count, ANALYSIS_VERSION)
            last = 0
            while True:
                rows = await con.fetch(
                    "SELECT pk, title, abstract, keywords, authors FROM papers WHERE pk > $1"
                    " ORDER BY pk LIMIT 1000",
                    last,
                )
                if not rows:
                    break
                await con.executemany(
                    "UPDATE papers SET search = $2::tsvector, title_words = $3::tsvector,"
                    " pairs = $4::tsvector WHERE pk = $1",
                    [(r[0], *vectors(r[1], r[2], r[3], r[4])) for r in rows],
                )
                last = rows[-1][0]
            await con.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                _ANALYSIS_KEY,
                ANALYSIS_VERSION,
            )

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """One transaction on a pooled connection; rolled back on any error."""
        async with self.pool.acquire() as con, con.transaction():
            yield con

    async def _one(
        self, sql: str, params: Sequence[Any] = (), con: asyncpg.Connection | None = None
    ) -> Any:
        return await (con or self.pool).fetchrow(sql, *params)

    async def _all(
        self, sql: str, params: Sequence[Any] = (), con: asyncpg.Connection | None = None
    ) -> list[Any]:
        return list(await (con or self.pool).fetch(sql, *params))

    def _now(self) -> datetime:
        # Whole seconds, as the SQLite store keeps them: the same order for the same times.
        return self._clock().astimezone(UTC).replace(microsecond=0)

    def backup_target(self, destination: str | Path) -> str:
        """The real path `pg_dump` would write; BackupError if it is a directory."""
        target = os.path.realpath(destination)
        if os.path.isdir(target):
            raise BackupError(f"{target} is a directory; give the backup a file name")
        return target

    async def backup(self, destination: str | Path) -> None:
        """A consistent dump by PostgreSQL's own `pg_dump` (custom format, for pg_restore),
        written beside the destination and renamed over it only once complete."""
        target = self.backup_target(destination)
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise BackupError(
                "pg_dump is not on the PATH: back up a PostgreSQL store with PostgreSQL's own"
                f" tool, e.g. `pg_dump --format=custom --file={target} '{redacted(self.url)}'`"
                " (restore with pg_restore)"
            )
        fd, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=os.path.dirname(target)
        )
        os.close(fd)
        env = dict(os.environ)
        password = urlsplit(self.url).password
        if password is not None:  # never on a command line others can read
            env["PGPASSWORD"] = unquote(password)
        try:
            process = await asyncio.create_subprocess_exec(
                pg_dump,
                "--format=custom",
                f"--file={temporary}",
                f"--dbname={redacted(self.url)}",
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await process.communicate()
            if process.returncode != 0:
                why = without_userinfo(err.decode(errors="replace").strip().splitlines()[-1:][0])
                raise BackupError(f"pg_dump to {target} failed: {why}")
            os.replace(temporary, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)

    async def integrity_check(self) -> list[str]:
        """Problems found: a schema older or newer than this code, and (where the amcheck
        extension is installed) B-tree indexes that fail `bt_index_check`."""
        problems = []
        latest = _migrations()[-1][0]
        version = await self.pool.fetchval("SELECT max(version) FROM schema_migrations")
        if version != latest:
            problems.append(f"schema version {version}, this paperboy expects {latest}")
        if await self.pool.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'"):
            indexes = await self.pool.fetch(
                "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE a.amname = 'btree' AND n.nspname = current_schema()"
            )
            for oid, name in indexes:
                try:
                    await self.pool.execute("SELECT bt_index_check($1::oid::regclass)", oid)
                except asyncpg.PostgresError as e:
                    problems.append(f"index {name}: {e}")
        return problems


def vectors(title: str, abstract: str, keywords: str, authors: str) -> tuple[str, str, str]:
    """A paper's (search, title_words, pairs) tsvector texts from its stored columns."""
    search, pairs = search_vectors(
        title,
        abstract,
        tuple(filter(None, keywords.split("\n"))),
        tuple(filter(None, authors.split("\n"))),
    )
    return search, title_vector(title), pairs


async def keyed_lock(con: asyncpg.Connection, kind: int, key: int) -> None:
    """A lock on one person's (or server's) rows of one `kind` (ALERT_CAP_LOCK, ...), held
    to the end of the transaction: a cap checked under it holds across processes."""
    await con.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_NAMESPACE + kind, str(key)
    )


def row_count(status: str) -> int:
    """The row count of a command status ("DELETE 1", "INSERT 0 3")."""
    return int(status.rsplit(" ", 1)[-1])


def connection_lost(error: BaseException) -> bool:
    """True for the errors of a connection that dropped or a server that is (re)starting:
    what retrying on a fresh connection can cure."""
    if isinstance(
        error,
        asyncpg.PostgresConnectionError  # class 08: the connection is gone
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        | asyncpg.CannotConnectNowError
        | asyncpg.IdleInTransactionSessionTimeoutError  # ended by the server: see above
        | ConnectionError
        | TimeoutError,
    ):
        return True
    if isinstance(error, OSError) and error.errno is not None:
        return True  # refused, reset, unreachable while reconnecting
    return isinstance(error, asyncpg.InterfaceError) and "closed" in str(error)

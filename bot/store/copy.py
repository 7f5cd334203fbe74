"""Moving a store: every row of every table from one backend to another, counts verified.

Both backends keep the same tables and column names (PostgreSQL's migrations mirror
SQLite's), so a copy reads each table of the source and writes the columns both sides have,
converting values to the target's types (ISO text <-> date/timestamptz, 0/1 <-> boolean).
Ids, outbox states and nonces are copied as they are, so a moved bot neither re-sends a
digest nor forgets an alert. Search indexes are not copied: the target writes its own
when it is next opened (the copy drops the note of which analysis they were written with).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from bot.errors import StoreError
from bot.store.base import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SQLiteStore

# Parents before children; a table not named here (added by a later migration) is copied
# after these, in name order.
ORDER = (
    "papers",
    "author_credits",
    "listings",
    "scrape_runs",
    "meta",
    "digest_subscriptions",
    "digest_deliveries",
    "digest_parts",
    "alerts",
    "alert_users",
    "alert_guilds",
    "alert_outbox",
    "alert_changes",
    "guild_settings",
    "library",
    "reading_list",
    "upvote_history",
    "code_watches",
    "rising_channels",
    "rising_posts",
    "follows",
)
SKIPPED_META = "search_analysis"  # the target writes its own search index
# What running processes keep (who runs, delivery leases, ongoing problems): a store is
# copied while no bot runs, and each backend keeps its fencing tokens its own way.
RUNTIME_TABLES = frozenset({"cluster_processes", "leases", "lease_tokens", "health_problems"})
_MS_COLUMNS = {"published_at", "submitted_at"}  # kept to the millisecond, others to the second
BATCH = 1000
Progress = Callable[[str, int, int], None]  # table, rows copied so far, rows in all


class CopyError(StoreError):
    """The copy was refused (a non-empty target without --force) or did not verify."""


async def copy_store(
    source: Store, target: Store, *, force: bool = False, progress: Progress | None = None
) -> dict[str, int]:
    """Copy every row of `source` into `target` (both open); rows copied, by table.

    CopyError if the target already holds papers, alerts or subscriptions and `force` is
    not set (with `force` its rows are deleted first), or if the counts differ afterwards.
    """
    src, dst = _side(source), _side(target)
    tables = {t: c for t, c in (await src.tables()).items() if t not in RUNTIME_TABLES}
    target_tables = await dst.tables()
    missing = [t for t in tables if t not in target_tables]
    if missing:
        raise CopyError(f"the target has no table {', '.join(missing)}: upgrade paperboy there")
    ordered = [t for t in ORDER if t in tables] + sorted(set(tables) - set(ORDER))
    held = {t: await dst.count(t) for t in ordered}
    held["meta"] = await dst.count("meta", skip_meta=True)
    if any(held.values()) and not force:
        busy = ", ".join(f"{t} ({n:,})" for t, n in held.items() if n)
        raise CopyError(f"the target is not empty: {busy}; use --force to replace it")
    for table in reversed(ordered):
        await dst.clear(table)
    copied: dict[str, int] = {}
    for table in ordered:
        columns = [c for c in tables[table] if c in target_tables[table]]
        total = await src.count(table, skip_meta=table == "meta")
        done = 0
        if progress:
            progress(table, 0, total)
        async for rows in src.read(table, columns):
            if table == "meta":
                rows = [r for r in rows if r[columns.index("key")] != SKIPPED_META]
            await dst.write(table, columns, rows)
            done += len(rows)
            if progress:
                progress(table, done, total)
        copied[table] = done
    await dst.finish()
    for table in ordered:
        have = await dst.count(table, skip_meta=table == "meta")
        if have != copied[table]:
            raise CopyError(f"{table}: copied {copied[table]:,} rows but the target has {have:,}")
    return copied


def _side(store: Store) -> _Side:
    if isinstance(store, PostgresStore):
        return _Postgres(store)
    if isinstance(store, SQLiteStore):
        return _SQLite(store)
    raise TypeError(f"cannot copy a {type(store).__name__}")


class _Side:
    async def tables(self) -> dict[str, dict[str, str]]:
        """Each copyable table's columns and their declared types."""
        raise NotImplementedError

    async def count(self, table: str, *, skip_meta: bool = False) -> int:
        raise NotImplementedError

    def read(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[tuple[Any, ...]]]:
        raise NotImplementedError

    async def clear(self, table: str) -> None:
        raise NotImplementedError

    async def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    async def finish(self) -> None:
        """Whatever makes the copied rows whole (identity counters, the search note)."""


class _SQLite(_Side):
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.types: dict[str, dict[str, str]] = {}
        # A WITHOUT ROWID table (upvote_history) is read in its primary key's order instead.
        self.keys: dict[str, list[str]] = {}

    async def tables(self) -> dict[str, dict[str, str]]:
        names = await self.store._all(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'papers_fts%'"
        )
        for name, sql in names:
            info = await self.store._all(f'PRAGMA table_info("{name}")')
            self.types[name] = {r[1]: (r[2] or "").upper() for r in info}
            if "WITHOUT ROWID" in (sql or "").upper():
                self.keys[name] = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        return self.types

    async def count(self, table: str, *, skip_meta: bool = False) -> int:
        where = f" WHERE key != '{SKIPPED_META}'" if skip_meta else ""
        (n,) = await self.store._one(f'SELECT count(*) FROM "{table}"{where}')
        return int(n)

    async def read(
        self, table: str, columns: Sequence[str]
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        names = ", ".join(f'"{c}"' for c in columns)
        if table in self.keys:
            async for rows in self._read_by_key(table, columns, self.keys[table]):
                yield rows
            return
        last = -(2**63)
        while True:
            rows = await self.store._all(
                f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT ?',
                (last, BATCH),
            )
            if not rows:
                return
            last = rows[-1][0]
            yield [tuple(r[1:]) for r in rows]

    async def _read_by_key(
        self, table: str, columns: Sequence[str], key: list[str]
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        names = ", ".join(f'"{c}"' for c in (*key, *columns))
        order = ", ".join(f'"{c}"' for c in key)
        after = ""
        last: tuple[Any, ...] = ()
        while True:
            rows = await self.store._all(
                f'SELECT {names} FROM "{table}"{after} ORDER BY {order} LIMIT ?', (*last, BATCH)
            )
            if not rows:
                return
            last = tuple(rows[-1][: len(key)])
            after = f" WHERE ({order}) > ({', '.join('?' * len(key))})"
            yield [tuple(r[len(key) :]) for r in rows]

    async def clear(self, table: str) -> None:
        async with self.store._transaction() as db:
            await db.execute(f'DELETE FROM "{table}"')
            if table == "papers":
                await db.execute("INSERT INTO papers_fts (papers_fts) VALUES ('delete-all')")

    async def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        convert = [_to_sqlite(c) for c in columns]
        marks = ", ".join("?" * len(columns))
        names = ", ".join(f'"{c}"' for c in columns)
        async with self.store._transaction() as db:
            await db.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                [tuple(f(v) for f, v in zip(convert, r, strict=True)) for r in rows],
            )

    async def finish(self) -> None:
        async with self.store._transaction() as db:
            await db.execute("DELETE FROM meta WHERE key = ?", (SKIPPED_META,))
        await self.store._index_search()


class _Postgres(_Side):
    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.types: dict[str, dict[str, str]] = {}

    async def tables(self) -> dict[str, dict[str, str]]:
        rows = await self.store._all(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
            # paper_search is written by a trigger on papers (migration 0007), like the vectors;
            # pair_words is schema (migration 0010 writes it; SQLite has none).
            " AND table_name NOT IN ('schema_migrations', 'paper_search', 'pair_words')"
            " AND is_generated = 'NEVER'"
            " ORDER BY table_name, ordinal_position"
        )
        for table, column, kind in rows:
            if column not in ("search", "title_words", "pairs"):
                self.types.setdefault(table, {})[column] = kind
        return self.types

    async def count(self, table: str, *, skip_meta: bool = False) -> int:
        where = f" WHERE key != '{SKIPPED_META}'" if skip_meta else ""
        return int(await self.store.pool.fetchval(f'SELECT count(*) FROM "{table}"{where}'))

    async def read(
        self, table: str, columns: Sequence[str]
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        names = ", ".join(f'"{c}"' for c in columns)
        async with self.store.pool.acquire() as con, con.transaction(isolation="repeatable_read"):
            batch: list[tuple[Any, ...]] = []
            async for row in con.cursor(f'SELECT {names} FROM "{table}"', prefetch=BATCH):
                batch.append(tuple(row))
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

    async def clear(self, table: str) -> None:
        await self.store.pool.execute(f'DELETE FROM "{table}"')

    async def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        kinds = self.types[table]
        convert = [_to_postgres(kinds[c]) for c in columns]
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
        await self.store.pool.executemany(
            f'INSERT INTO "{table}" ({names}) OVERRIDING SYSTEM VALUE VALUES ({marks})',
            [tuple(f(v) for f, v in zip(convert, r, strict=True)) for r in rows],
        )

    async def finish(self) -> None:
        async with self.store.pool.acquire() as con:
            identities = await con.fetch(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND is_identity = 'YES'"
            )
            for table, column in identities:  # the next id follows the copied ones
                await con.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'),"
                    f' coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1, false)'
                )
            await con.execute("DELETE FROM meta WHERE key = $1", SKIPPED_META)
            await self.store._index_search(con)


def _to_postgres(kind: str) -> Callable[[Any], Any]:
    """A converter from a SQLite value to PostgreSQL's `kind` (information_schema type)."""
    if kind == "date":
        return lambda v: date.fromisoformat(v) if isinstance(v, str) else v
    if kind.startswith("timestamp"):
        return lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v
    if kind == "boolean":
        return lambda v: None if v is None else bool(v)
    if kind in ("bigint", "integer", "smallint"):
        return lambda v: None if v is None else int(v)
    return lambda v: v


def _to_sqlite(column: str) -> Callable[[Any], Any]:
    """A converter from a PostgreSQL value to how the SQLite store keeps it."""
    spec = "milliseconds" if column in _MS_COLUMNS else "seconds"

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat(timespec=spec)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        return value

    return convert


__all__ = ["CopyError", "copy_store"]

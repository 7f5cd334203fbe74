"""Bookkeeping: scrape records, stats, meta values and server settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from bot.models import (
    ScrapeRun,
    StoreStats,
)
from bot.store.sqlite.connection import SQLiteBase


class Bookkeeping(SQLiteBase):
    """Scrape records, counts, small named values and server settings."""

    async def record_scrape(self, run: ScrapeRun) -> None:
        """Remember how a scrape of one date went."""
        # One statement, its own transaction (no BEGIN and COMMIT round trips to the store's
        # thread after every date); the lock keeps it out of another coroutine's transaction.
        async with self._writing() as db:
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

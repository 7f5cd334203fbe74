"""Bookkeeping: scrape records, stats, meta values and server settings."""

from __future__ import annotations

from bot.models import ScrapeRun, StoreStats
from bot.store.postgres.connection import PostgresBase


class Bookkeeping(PostgresBase):
    """Scrape records, counts, small named values and server settings."""

    async def record_scrape(self, run: ScrapeRun) -> None:
        """Remember how a scrape of one date went."""
        async with self._transaction() as con:
            await con.execute(
                "INSERT INTO scrape_runs (list_date, finished_at, ok, found, new, updated, error)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                run.list_date,
                run.finished_at.replace(microsecond=0),
                run.ok,
                run.found,
                run.new,
                run.updated,
                run.error,
            )

    async def _scrape_run(self, where: str) -> ScrapeRun | None:
        row = await self._one(
            "SELECT list_date, finished_at, ok, found, new, updated, error FROM scrape_runs"
            f" {where} ORDER BY finished_at DESC, id DESC LIMIT 1"
        )
        return ScrapeRun(*row) if row else None

    async def stats(self) -> StoreStats:
        """Counts for status reports; the size is the database's."""
        papers = await self.pool.fetchval("SELECT count(*) FROM papers")
        count, first, newest = await self._one(
            "SELECT count(DISTINCT list_date), min(list_date), max(list_date) FROM listings"
        )
        return StoreStats(
            papers=papers,
            list_dates=count,
            first_date=first,
            newest_date=newest,
            last_scrape=await self._scrape_run(""),
            last_success=await self._scrape_run("WHERE ok"),
            location=self.location,
            size_bytes=await self.pool.fetchval("SELECT pg_database_size(current_database())"),
        )

    async def get_meta(self, key: str) -> str | None:
        """A small named value (e.g. the hash of the last command sync)."""
        return await self.pool.fetchval("SELECT value FROM meta WHERE key = $1", key)

    async def set_meta(self, key: str, value: str) -> None:
        """Set a small named value."""
        await self.pool.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )

    async def set_health_channel(self, guild_id: int, channel_id: int | None) -> None:
        """Where this server's health reports go (None: nowhere)."""
        await self.pool.execute(
            "INSERT INTO guild_settings (guild_id, health_channel_id) VALUES ($1, $2)"
            " ON CONFLICT (guild_id) DO UPDATE SET health_channel_id = excluded.health_channel_id",
            guild_id,
            channel_id,
        )

    async def health_channels(self) -> dict[int, int]:
        """Every server's health channel, by server."""
        rows = await self._all(
            "SELECT guild_id, health_channel_id FROM guild_settings"
            " WHERE health_channel_id IS NOT NULL"
        )
        return {r[0]: r[1] for r in rows}

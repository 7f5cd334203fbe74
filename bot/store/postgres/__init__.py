"""The PostgreSQL store (asyncpg): a pool, numbered migrations under a lock, tsvector search.

Built like the SQLite store, one part per role, each in its own module: connection (pool,
migrations, backup, checks), papers (papers, lists, search), bookkeeping (scrapes, stats,
meta, server settings), digests (subscriptions, digest outbox), alerts (alerts, alert
outbox). A new role is a new module and one more base of PostgresStore.
"""

from __future__ import annotations

from bot.store.postgres.alerts import Alerts
from bot.store.postgres.bookkeeping import Bookkeeping
from bot.store.postgres.connection import SEARCH_BUDGET_SECONDS, redacted, server_address
from bot.store.postgres.digests import Digests
from bot.store.postgres.papers import RANK_WINDOW, Papers


class PostgresStore(Papers, Bookkeeping, Digests, Alerts):
    """The shared store: one PostgreSQL database, any number of bot processes."""


__all__ = [
    "RANK_WINDOW",
    "SEARCH_BUDGET_SECONDS",
    "PostgresStore",
    "redacted",
    "server_address",
]

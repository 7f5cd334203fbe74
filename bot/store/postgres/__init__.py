"""The PostgreSQL store (asyncpg): a pool, numbered migrations under a lock, tsvector search.

Built like the SQLite store, one part per role, each in its own module: connection (pool,
migrations, backup, checks), papers (papers, lists, search), bookkeeping (scrapes, stats,
meta, server settings), digests (subscriptions, digest outbox), alerts (alerts, alert
outbox), library (saved papers, reading lists), lifecycle (refreshes, upvote history, code
watches, rising channels and posts), corpus (papers in stored order), follows (author credits,
followed authors), preview (what a query matches among recent papers), cluster (processes,
leadership, leases, health problems), gateway (identify turns). A new role is a new module
and one more base of PostgresStore.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol

from bot.store.base import Store
from bot.store.postgres.alerts import Alerts
from bot.store.postgres.bookkeeping import Bookkeeping
from bot.store.postgres.cluster import Cluster
from bot.store.postgres.connection import SEARCH_BUDGET_SECONDS, redacted, server_address
from bot.store.postgres.corpus import Corpus
from bot.store.postgres.digests import Digests
from bot.store.postgres.follows import Follows
from bot.store.postgres.gateway import Gateway
from bot.store.postgres.library import Library
from bot.store.postgres.lifecycle import Lifecycle
from bot.store.postgres.papers import RANK_WINDOW, Papers
from bot.store.postgres.preview import Preview
from bot.store.postgres.rematch import Rematch


class PostgresStore(
    Papers,
    Bookkeeping,
    Digests,
    Alerts,
    Library,
    Lifecycle,
    Corpus,
    Follows,
    Rematch,
    Preview,
    Cluster,
    Gateway,
):
    """The shared store: one PostgreSQL database, any number of bot processes.

    Every store operation survives a dropped connection: it is run again on a fresh one,
    with backoff, for up to `retry_seconds`, then raises StoreUnavailable.
    """


def _retried(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def retried(self: PostgresStore, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(lambda: method(self, *args, **kwargs))

    return retried


_NOT_RETRIED = ("open", "close", "backup", "lead", "resign", "add_alert")
# Every coroutine of the Store protocol's roles (a role added later is covered too), but
# not opening, closing or a backup (pg_dump connects by itself), nor leading: a lost leader
# connection must answer False at once, not after retries. add_alert retries by itself
# (the same alert on every try: a lost answer to a COMMIT must not add it twice).
for _role in Store.__mro__:
    if _role in (Store, Protocol, Generic, object):
        continue
    for _name, _member in vars(_role).items():
        if inspect.iscoroutinefunction(_member) and _name not in _NOT_RETRIED:
            setattr(PostgresStore, _name, _retried(getattr(PostgresStore, _name)))


__all__ = [
    "RANK_WINDOW",
    "SEARCH_BUDGET_SECONDS",
    "PostgresStore",
    "redacted",
    "server_address",
]

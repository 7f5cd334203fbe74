"""The SQLite store (aiosqlite): WAL, numbered migrations, FTS5 search. All SQL lives here.

One class made of one part per role, each in its own module: connection (connections,
migrations, backup), papers (papers, lists, search), bookkeeping (scrapes, stats, meta,
server settings), digests (subscriptions, digest outbox), alerts (alerts, alert outbox),
library (saved papers, reading lists), lifecycle (refreshes, upvote history, code
watches, rising channels and posts), corpus (papers in stored order), follows (author
credits, followed authors), preview (what a query matches among recent papers), cluster
(processes, leadership, leases, health problems), gateway (identify turns).
"""

from __future__ import annotations

from bot.store.sqlite.alerts import Alerts
from bot.store.sqlite.bookkeeping import Bookkeeping
from bot.store.sqlite.cluster import Cluster
from bot.store.sqlite.connection import (
    BUSY_TIMEOUT_MS,
    SEARCH_BUDGET_SECONDS,
    _migrations,
)
from bot.store.sqlite.corpus import Corpus
from bot.store.sqlite.digests import Digests
from bot.store.sqlite.follows import Follows
from bot.store.sqlite.gateway import Gateway
from bot.store.sqlite.library import Library
from bot.store.sqlite.lifecycle import Lifecycle
from bot.store.sqlite.papers import _BM25, _INSERT_PAPER, RANK_WINDOW, Papers
from bot.store.sqlite.preview import Preview
from bot.store.sqlite.rematch import Rematch
from bot.store.sqlite.rows import _PAPER_COLUMNS, _paper_row


class SQLiteStore(
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
    """The embedded default store: one file, no server."""


__all__ = [
    "BUSY_TIMEOUT_MS",
    "RANK_WINDOW",
    "SEARCH_BUDGET_SECONDS",
    "_BM25",
    "_INSERT_PAPER",
    "_PAPER_COLUMNS",
    "SQLiteStore",
    "_migrations",
    "_paper_row",
]

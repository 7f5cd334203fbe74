"""A long scrape's search rows analysed ahead, in a second process.

A paper's papers_fts values are its searchable fields as `bot.text` analyses them: about a
third of a new paper's CPU in an ingest, done in Python while holding the GIL, on the
store's writer thread. For a range of dates (`paperboy scrape --since`), `IndexAhead`
analyses each date's papers in a child process as soon as they are fetched, while the
writer stores the date before; `write_day` then takes them from `rows._prepared` (values
`index_row` computed from the same four fields: the same text) and analyses only the
papers it finds no values for (a stored paper whose merged fields differ, a failed child).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from bot.models import Paper
from bot.store.sqlite.rows import SearchedFields, prepare, searched_fields, searched_rows

log = logging.getLogger(__name__)


class IndexAhead:
    """One child process that analyses dates' papers for papers_fts ahead of their write.

    Start it before any thread does (the child is forked: no imports again, no copy of a
    lock some thread held); `close` waits for the child, so that its CPU is the parent's."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("fork")
        )
        # The child is forked now, at the first task, while this is the only thread.
        self._pool.submit(int).result()

    async def prepare(self, papers: Sequence[Paper]) -> None:
        """Analyse `papers` in the child and keep their rows for `write_day`. A failure only
        logs: the writer then analyses those papers itself."""
        if self._pool is None or not papers:
            return
        fields: list[SearchedFields] = [searched_fields(p) for p in papers]
        try:
            rows = await asyncio.get_running_loop().run_in_executor(
                self._pool, searched_rows, fields
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("analysing papers ahead failed; the store analyses them itself")
            self.close(wait=False)
            return
        prepare(fields, rows)

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

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
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection

from bot.models import Paper
from bot.store.sqlite.rows import SearchedFields, prepare, searched_fields, searched_rows

log = logging.getLogger(__name__)
STOP_WAIT = 5.0  # seconds a closing child may take to finish the date it is analysing


def _serve(requests: Connection, results: Connection, parents: tuple[Connection, ...]) -> None:
    """The child: analyse each list of fields it is sent, until its parent is gone."""
    for end in parents:  # (the parent's ends: without them, the parent's death is an EOF)
        end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (Ctrl-C is the parent's to handle)
    while True:
        try:
            fields = requests.recv()
        except (EOFError, OSError):
            return
        results.send(searched_rows(fields))


class IndexAhead:
    """One child process that analyses dates' papers for papers_fts ahead of their write.

    Start it before any thread does (the child is forked: no imports again, no copy of a
    lock some thread held). Each side holds only its own ends of two pipes, so a child that
    dies is an end of file to the parent (the date is then analysed by the store), and a
    parent that dies, however it dies, is an end of file to the child, which then exits.
    `close` waits for the child, so that its CPU is the parent's."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")  # (ValueError where there is no fork)
        to_child, self._send = context.Pipe(duplex=False)
        self._receive, from_child = context.Pipe(duplex=False)
        self._process: multiprocessing.process.BaseProcess | None = context.Process(
            target=_serve,
            args=(to_child, from_child, (self._send, self._receive)),
            name="paperboy-index-ahead",
            daemon=True,
        )
        try:
            self._process.start()  # (OSError: no process to spare)
        finally:
            to_child.close()
            from_child.close()
        self._lock = asyncio.Lock()
        self._in_flight = False  # (a trip on a worker thread reads from the pipe)

    async def prepare(self, papers: Sequence[Paper]) -> None:
        """Analyse `papers` in the child and keep their rows for `write_day`. A failure only
        logs: the writer then analyses those papers itself."""
        if self._process is None or not papers:
            return
        fields: list[SearchedFields] = [searched_fields(p) for p in papers]
        async with self._lock:  # (one date at a time on the pipes)
            if self._process is None:
                return
            trip = asyncio.get_running_loop().run_in_executor(None, self._round_trip, fields)
            try:
                rows = await asyncio.shield(trip)
            except asyncio.CancelledError:
                # The trip ends on its own (the child answers, or dies: an end of file); it
                # holds the pipes until then.
                await asyncio.wait([trip])
                raise
            except Exception:
                log.exception("analysing papers ahead failed; the store analyses them itself")
                self.close(wait=False)
                return
        prepare(fields, rows)

    def _round_trip(self, fields: list[SearchedFields]) -> list[tuple[str, ...]]:
        self._in_flight = True
        try:
            self._send.send(fields)
            rows: list[tuple[str, ...]] = self._receive.recv()
            return rows
        finally:
            self._in_flight = False

    def close(self, wait: bool = True) -> None:
        """Stop the child: it ends at its next request (at once if it is idle)."""
        process, self._process = self._process, None
        if process is None:
            return
        self._send.close()
        process.join(STOP_WAIT if wait else 0)
        if process.is_alive():
            process.kill()
            process.join()
        if not self._in_flight:  # (else the trip's end of file ends it; the pipe is then freed)
            self._receive.close()

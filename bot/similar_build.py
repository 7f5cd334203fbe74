"""Where the similarity index's build runs: a worker thread (small stores) or a child process.

The build is CPU-bound Python (reading every paper's words, twice): tens of seconds at
200,000 papers. In a thread it holds the GIL against the event loop and the store's own
threads (each row SQLite returns, each progress callback of a search, needs the GIL back),
so searches ran about twice as long during a first build, and at 10 searches a second, one
at a time on the search connection, they queued past Discord's patience. In a child
process the build holds no lock the bot needs, at a lower CPU priority (nice), and its
transient memory (spill buffers, sorts, the stem caches it fills) is not the bot's.

The bot still reads the pages through its store (any backend) and sends each page's text
(id, title, abstract, AI keywords) to the child over a socket pair; the child runs the same
`Builder`, so the index is the same, and hands back the small arrays (pickled) and the file
of postings (its descriptor, passed over the socket: the bot maps it as a build in a thread
would have). Run as `python -m bot.similar_build FD` by `ProcessBuild`, never by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.reduction import recv_handle, send_handle
from typing import Any, TypeVar

from bot.models import Paper
from bot.similar import Builder, _Built, _mapped, _temporary, append_arrays, mapped_arrays

BUILD_NICENESS = 10  # the child yields the CPU to the bot (and to anything interactive)
EXIT_SECONDS = 10.0  # a child that does not exit this long after its answer is killed

_Text = tuple[str, str, str, tuple[str, ...]]  # what the build reads of a paper
T = TypeVar("T")


class ThreadBuild:
    """A `Builder` run in worker threads of this process (stores of one page or less)."""

    def __init__(self) -> None:
        self._builder = Builder()

    async def __aenter__(self) -> ThreadBuild:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def count(self, papers: Sequence[Paper]) -> None:
        await asyncio.to_thread(self._builder.count, papers)

    async def weigh(self, papers: Sequence[Paper]) -> None:
        await asyncio.to_thread(self._builder.weigh, papers)

    async def finish(self) -> _Built:
        return await asyncio.to_thread(self._builder.finish)


class ProcessBuild:
    """A `Builder` run in a child process; the same calls as `ThreadBuild`.

    The socket is used from one thread of its own, one call after another: a send blocks
    until the child takes the page, so the bot reads at most a page ahead of it. Any
    failure (the child gone, an error in it) raises here. On the way out a child that has
    not answered is killed, and the socket closed only once that thread is done with it.
    """

    def __init__(self) -> None:
        self._conn: Connection | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="similarity-build")

    async def __aenter__(self) -> ProcessBuild:
        ours, theirs = socket.socketpair()
        # Started and `theirs` closed in one call on the thread: a caller cancelled meanwhile
        # must not close the descriptor under a child being started (it would inherit a
        # closed or reused one), so it waits for the start and stops that child.
        start = asyncio.ensure_future(self._call(_start, theirs))
        try:
            self._proc = await asyncio.shield(start)
        except BaseException:
            await asyncio.wait([start])
            if not start.cancelled() and start.exception() is None:
                await asyncio.to_thread(_stop, start.result())
            ours.close()
            self._thread.shutdown(wait=False)
            raise
        self._conn = Connection(ours.detach())
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        try:
            if proc is not None and exc[0] is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    await asyncio.to_thread(proc.wait, EXIT_SECONDS)
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()  # a send or receive under way in the thread now fails
            # Never blocks for long: the child has exited or been killed.
            await asyncio.shield(asyncio.to_thread(self._close, proc, conn))

    def _close(self, proc: subprocess.Popen[bytes] | None, conn: Connection | None) -> None:
        self._thread.shutdown(wait=True)
        if conn is not None:
            conn.close()
        if proc is not None:
            proc.wait()

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = functools.partial(function, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the build's child process is not running")
        return self._conn

    async def count(self, papers: Sequence[Paper]) -> None:
        await self._call(self.conn.send, ("count", _texts(papers)))

    async def weigh(self, papers: Sequence[Paper]) -> None:
        await self._call(self.conn.send, ("weigh", _texts(papers)))

    async def finish(self) -> _Built:
        await self._call(self.conn.send, ("finish", []))
        built, _ = await self._call(_receive, self.conn)
        return built

    async def read(self, path: str, page: int) -> tuple[_Built, int]:
        """The whole build, the child reading the store's file itself (`page` papers at a
        time, as `SimilarPapers` reads them): the index, and the position it covers."""
        await self._call(self.conn.send, ("read", (path, page)))
        return await self._call(_receive, self.conn)


def _start(theirs: socket.socket) -> subprocess.Popen[bytes]:
    """The child, given `theirs` (closed here once the child has it, or failed to start)."""
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.similar_build", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # stderr stays the bot's: a crash is seen
        )
    finally:
        theirs.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()


def _texts(papers: Sequence[Paper]) -> list[_Text]:
    return [(p.id, p.title, p.abstract, p.ai_keywords) for p in papers]


def _papers(texts: list[_Text]) -> list[Paper]:
    return [Paper(i, title, abstract, ai_keywords=words) for i, title, abstract, words in texts]


def _receive(conn: Connection) -> tuple[_Built, int]:
    """The child's answer: the small arrays, then the postings (a file, or in memory)."""
    kind, fields = conn.recv()
    if kind == "error":
        raise RuntimeError(f"the similarity build's child process failed: {fields}")
    if kind == "file":  # every array in the file: mapped, not copied into this process
        papers, cap, total, last, placed = fields
        with os.fdopen(recv_handle(conn), "rb") as file:  # the mappings outlive it
            rows, weights = _mapped(file, total)
            df, indptr, ids = mapped_arrays(file, placed)
    else:
        papers, df, cap, ids, indptr, total, last = fields
        rows, weights = conn.recv()
    return _Built(papers, df, cap, ids, indptr, rows, weights), last


def _read(builder: Builder, path: str, page: int) -> int:
    """Both passes over a store's file, as `SimilarPapers._rebuild` reads the store; the
    position of the last paper counted."""
    from bot.store.sqlite.corpus import open_corpus, read_stored_since

    db = open_corpus(path)
    try:
        position = 0
        while batch := read_stored_since(db, position, page):
            position = batch[-1][0]
            builder.count([p for _, p in batch])
        last, position = position, 0
        while position < last and (batch := read_stored_since(db, position, page)):
            builder.weigh([p for pos, p in batch if pos <= last])
            position = batch[-1][0]
    finally:
        db.close()
    return last


def serve(conn: Connection) -> None:
    """The child: build from the pages sent, then send the index back."""
    with contextlib.suppress(OSError):
        os.nice(BUILD_NICENESS)
    try:
        builder, last = Builder(), -1
        while True:
            step, texts = conn.recv()
            if step == "count":
                builder.count(_papers(texts))
            elif step == "weigh":
                builder.weigh(_papers(texts))
            elif step == "read":
                last = _read(builder, *texts)
                break
            else:
                break
        out = _temporary()
        built = builder.finish_into(out)
    except EOFError:
        return  # the bot gave up on this build
    except Exception as e:  # sent to the bot, which logs it
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    if isinstance(out, io.BytesIO):  # no temporary directory: the arrays themselves
        fields: Any = (
            built.papers,
            built.df,
            built.cap,
            built.ids,
            built.indptr,
            len(built.rows),
            last,
        )
        conn.send(("memory", fields))
        conn.send((built.rows, built.weights))
    else:
        # The small arrays too (df and indptr: 4 MB each, the ids) go after the postings in
        # the file: the bot maps them, where unpickling them made copies (and the pickle's
        # bytes alongside, for a moment) in its own memory.
        try:
            placed = append_arrays(out, (built.df, built.indptr, built.ids))
        except Exception as e:  # (a full disk): said to the bot, as a failed build is
            conn.send(("error", f"{type(e).__name__}: {e}"))
            out.close()
            return
        conn.send(("file", (built.papers, built.cap, len(built.rows), last, placed)))
        send_handle(conn, out.fileno(), os.getppid())
    out.close()


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))

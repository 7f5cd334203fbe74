""" "More like this": the stored papers whose words are most like a paper's (tf-idf, cosine).

arxiv-sanity's tf-idf is the reference in this field; this follows it (words and word pairs,
sublinear tf, smoothed idf, terms on more than 5% of the papers left out, cosine) over
title, abstract and AI keywords, with the words read by bot.text.analyze, the reading search
and alerts use. No model, no network: the index is built from the store's own papers.

Shape, chosen to stay small and fast at 200,000 papers:
- a term (a word or a pair of adjacent words) is a hashed bucket: no vocabulary to keep, and
  the document frequency of every bucket fits in one array;
- a paper's vector: (1 + log tf) * idf per term, title and keyword terms counting more;
  L2-normalised, then only its TOP_TERMS heaviest terms are kept;
- an inverted index (bucket -> (row, weight) postings) in numpy arrays: a query adds up the
  postings of its own terms (np.bincount) and takes the best rows.
Papers stored after a build go to a small delta scored the same way (with the build's idf);
when the delta grows large the index is built again. Building reads the store twice (counts,
then weights), so it never holds every paper's terms at once; its CPU work runs in a child
process (bot.similar_build), or in a thread for a store of one page.
"""

from __future__ import annotations

import asyncio
import io
import logging
import mmap
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from bot.memory import release_freed_memory
from bot.models import Paper
from bot.text import analyze

if TYPE_CHECKING:  # the build's child process imports this module: no store there
    from bot.similar_build import ProcessBuild, ThreadBuild
    from bot.store import Store

log = logging.getLogger(__name__)

BUCKETS = 1 << 20  # hashed terms; collisions only merge rare terms
TOP_TERMS = 40  # terms kept per paper
TITLE_WEIGHT = 2  # a title term counts as much as this many abstract terms
KEYWORD_WEIGHT = 3  # ... an AI keyword term
MAX_DF = 0.05  # terms on more than this share of the papers are left out (stop words)
MIN_CAP = 3  # ... but a tiny corpus keeps terms on up to this many papers
# The delta is scored paper by paper: it is folded into a new build once it holds more
# than this share of the built papers, or more than DELTA_MAX papers.
REBUILD_SHARE = 0.10
DELTA_MAX = 1000
READ_PAGE = 2000
SPILL_PARTS = 16  # ranges of buckets a build sorts one at a time (a power of 2)
SIMILAR_COUNT = 5

Vector = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]  # (buckets, values)

_SPILL_SHIFT = (BUCKETS // SPILL_PARTS).bit_length() - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_CACHE_LIMIT = 50_000  # words whose hash is kept (a bounded cache, ~5 MB)
_hashes: dict[str, int] = {}


def _hash(word: str) -> int:
    # crc32, not hash(): the same word lands in the same bucket in every process.
    found = _hashes.get(word)
    if found is None:
        if len(_hashes) > _CACHE_LIMIT:
            _hashes.clear()
        found = _hashes[word] = zlib.crc32(word.encode())
    return found


def _terms(tokens: Sequence[str]) -> npt.NDArray[np.uint64]:
    """The buckets of a run of words: each word, and each pair of adjacent words."""
    try:
        words = np.fromiter(map(_hashes.__getitem__, tokens), np.uint64, len(tokens))
    except KeyError:
        words = np.fromiter(map(_hash, tokens), np.uint64, len(tokens))
    pairs = words[:-1] * _GOLDEN + words[1:]
    pairs ^= pairs >> np.uint64(29)
    return np.concatenate((words, pairs)) & np.uint64(BUCKETS - 1)


def paper_terms(paper: Paper) -> Vector:
    """The terms of a paper's title, abstract and AI keywords (words and adjacent pairs; no
    pair spans two keywords) with their counts: title and keyword terms count more (they
    say what a paper is about)."""
    parts = [_terms(analyze(paper.abstract)), _terms(analyze(paper.title))]
    weights = [1.0, float(TITLE_WEIGHT)]
    for keyword in paper.ai_keywords:
        parts.append(_terms(analyze(keyword)))
        weights.append(float(KEYWORD_WEIGHT))
    every = np.concatenate(parts)
    buckets, inverse = np.unique(every, return_inverse=True)
    counts = np.bincount(inverse, weights=np.repeat(weights, [len(p) for p in parts]))
    return buckets.astype(np.int64), counts.astype(np.float64)


@dataclass(slots=True)
class _Built:
    """The bulk part of the index: never changed once built (queries read it from threads)."""

    papers: int
    df: npt.NDArray[np.int32]  # papers per bucket
    cap: int  # the largest df a kept term may have
    ids: npt.NDArray[np.bytes_]  # row -> paper id
    indptr: npt.NDArray[np.int32]  # bucket -> its postings' slice
    rows: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]

    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(a.nbytes for a in (self.df, self.ids, self.indptr, self.rows, self.weights))

    def vector(self, terms: Vector, top: int | None = TOP_TERMS) -> Vector:
        """A paper's normalised tf-idf vector, pruned to its `top` heaviest terms (None: all)."""
        buckets, counts = terms
        df = self.df[buckets]
        keep = df <= self.cap
        buckets, counts, df = buckets[keep], counts[keep], df[keep]
        values = (1.0 + np.log(counts)) * (np.log((self.papers + 1) / (df + 1.0)) + 1.0)
        norm = float(np.sqrt(np.dot(values, values))) or 1.0
        if top is not None and len(values) > top:
            best = np.argpartition(-values, top - 1)[:top]
            buckets, values = buckets[best], values[best]
        return buckets, values / norm


class Builder:
    """Builds the bulk index in two passes over the papers: `count` every page, then
    `weigh` the same pages, then `finish` (CPU work: call them in a thread).

    Memory: `weigh` appends each page's postings to a temporary file, split into SPILL_PARTS
    ranges of buckets, and `finish` sorts one range at a time into a second (unlinked)
    file that the index then maps read-only. So neither the build nor the built index holds
    the postings (~64 MB at 200,000 papers) in the process's own memory: they are file
    pages the kernel can drop, and only the pages queries read are resident.
    """

    def __init__(self) -> None:
        self.df = np.zeros(BUCKETS, dtype=np.int32)
        self.papers = 0
        # The paper ids by row, a numpy array per page: not the Papers' own strings, which
        # would keep the pages of memory around them resident after the Papers are freed.
        self._ids: list[npt.NDArray[np.bytes_]] = []
        self._rows = 0
        self._postings = 0
        self._spill: list[Any] = []  # per range of buckets: a temporary file of postings
        self._shape: _Built | None = None

    def count(self, papers: Sequence[Paper]) -> None:
        """Pass 1: document frequencies."""
        for paper in papers:
            self.df[paper_terms(paper)[0]] += 1  # buckets are unique within a paper
        self.papers += len(papers)

    def weigh(self, papers: Sequence[Paper]) -> None:
        """Pass 2: each paper's pruned vector (the same papers, in the same order)."""
        if self._shape is None:
            cap = max(MIN_CAP, int(MAX_DF * self.papers))
            empty = np.zeros(0, dtype=np.int32)
            self._shape = _Built(
                self.papers, self.df, cap, np.array([], "S1"), empty, empty, empty.astype("f4")
            )
            # Open across calls, closed by `finish` (or with the builder).
            self._spill = [_temporary() for _ in range(SPILL_PARTS)]
        rows, buckets, weights = [], [], []
        if papers:
            self._ids.append(np.array([p.id.encode() for p in papers], dtype=np.bytes_))
        for paper in papers:
            row = self._rows
            self._rows += 1
            terms, values = self._shape.vector(paper_terms(paper))
            shared = self.df[terms] >= 2  # a term on one paper meets no other
            buckets.append(terms[shared].astype(np.int32))
            weights.append(values[shared].astype(np.float32))
            rows.append(np.full(len(buckets[-1]), row, dtype=np.int32))
        if not rows:
            return
        page_buckets, page_rows = np.concatenate(buckets), np.concatenate(rows)
        page_weights = np.concatenate(weights).view(np.int32)  # stored as their bits
        self._postings += len(page_buckets)
        part = page_buckets >> _SPILL_SHIFT
        for n in np.unique(part).tolist():
            mine = part == n
            triples = np.stack((page_buckets[mine], page_rows[mine], page_weights[mine]), axis=1)
            self._spill[n].write(triples.tobytes())  # (bucket, row, weight) records

    def finish(self) -> _Built:
        """The index: postings sorted by bucket (rows in the order they were weighed)."""
        with _temporary() as out:  # unlinked; the mapping keeps its data
            return self.finish_into(out)

    def finish_into(self, out: IO[bytes]) -> _Built:
        """`finish`, writing the postings to `out` (an empty file, left open) and mapping them."""
        if self._shape is None:
            self.weigh([])
        assert self._shape is not None
        total = self._postings
        indptr = np.zeros(BUCKETS + 1, dtype=np.int32)
        out.truncate(8 * total)
        done = 0
        for spill in self._spill:  # ranges of buckets in order: the file in bucket order
            spill.seek(0)
            triples = np.frombuffer(spill.read(), dtype=np.int32).reshape(-1, 3)
            spill.close()
            order = np.argsort(triples[:, 0], kind="stable")  # keeps the rows' order
            part = triples[order]
            del triples, order
            indptr[1:] += np.bincount(part[:, 0], minlength=BUCKETS).astype(np.int32)
            out.seek(4 * done)
            out.write(np.ascontiguousarray(part[:, 1]).tobytes())
            out.seek(4 * (total + done))
            out.write(np.ascontiguousarray(part[:, 2]).tobytes())  # float32 bits
            done += len(part)
            del part
        self._spill = []
        np.cumsum(indptr, out=indptr)
        rows, weights = _mapped(out, total)
        ids = np.concatenate(self._ids) if self._ids else np.array([], "S1")
        self._ids = []
        _hashes.clear()  # the words of every paper: queries fill it again with what they use
        release_freed_memory()
        return _Built(self.papers, self.df, self._shape.cap, ids, indptr, rows, weights)


def _temporary() -> IO[bytes]:
    """An unlinked temporary file; in memory if no temporary directory is writable."""
    try:
        return tempfile.TemporaryFile()
    except OSError as e:
        log.warning("no temporary file for the similarity index (%s): it stays in memory", e)
        return io.BytesIO()


def _mapped(file: Any, postings: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """The rows and weights of `postings` postings, read-only from the file's mapping."""
    if postings == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    mapping: Any
    if isinstance(file, io.BytesIO):
        mapping = file.getvalue()
    else:
        file.flush()
        mapping = mmap.mmap(file.fileno(), 8 * postings, access=mmap.ACCESS_READ)
    rows = np.frombuffer(mapping, dtype=np.int32, count=postings)
    weights = np.frombuffer(mapping, dtype=np.float32, count=postings, offset=4 * postings)
    return rows, weights


# Where `append_arrays` put an array in a file: (dtype, length, byte offset).
Placed = tuple[str, int, int]


def append_arrays(file: IO[bytes], arrays: Sequence[npt.NDArray[Any]]) -> list[Placed]:
    """Write the arrays at the end of the file, each at an offset a multiple of 8, for
    `mapped_arrays`: where each went."""
    placed: list[Placed] = []
    file.seek(0, io.SEEK_END)
    for array in arrays:
        offset = -(-file.tell() // 8) * 8
        file.write(bytes(offset - file.tell()))
        file.write(np.ascontiguousarray(array).tobytes())
        placed.append((array.dtype.str, len(array), offset))
    file.flush()
    return placed


def mapped_arrays(file: Any, placed: Sequence[Placed]) -> list[npt.NDArray[Any]]:
    """Arrays `append_arrays` wrote to the file, read-only from one mapping of it: pages the
    kernel reads in when touched, never copied into the process's own memory."""
    mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    return [
        np.frombuffer(mapping, dtype=np.dtype(kind), count=count, offset=offset)
        for kind, count, offset in placed
    ]


def build(papers: Sequence[Paper]) -> _Built:
    """The bulk index of papers held in memory (tests, small stores)."""
    builder = Builder()
    builder.count(papers)
    builder.weigh(papers)
    return builder.finish()


@dataclass(slots=True)
class _Delta:
    """Papers stored after the build: their vectors (by the build's idf), scored one by one."""

    ids: list[str] = field(default_factory=list)
    vectors: list[Vector] = field(default_factory=list)


class SimilarIndex:
    """Papers by likeness of their words; `query` is thread-safe against `add` and `replace`."""

    def __init__(self, built: _Built | None = None) -> None:
        self._built = built or build([])
        self._delta = _Delta()

    @property
    def size(self) -> int:
        """Papers indexed (the build and the delta)."""
        return len(self._built.ids) + len(self._delta.ids)

    @property
    def pending(self) -> int:
        """Papers in the delta (stored after the build)."""
        return len(self._delta.ids)

    def nbytes(self) -> int:
        """Memory held by the index, roughly (the delta at ~4 KB a paper)."""
        return self._built.nbytes() + 4000 * len(self._delta.ids)

    def replace(self, built: _Built) -> None:
        """Swap in a fresh build (the delta it covers is dropped)."""
        self._built, self._delta = built, _Delta()

    def add(self, papers: Sequence[Paper]) -> None:
        """Index papers stored after the build, weighed by the build's idf."""
        built = self._built
        ids, vectors = list(self._delta.ids), list(self._delta.vectors)
        for paper in papers:
            ids.append(paper.id)
            vectors.append(built.vector(paper_terms(paper)))
        self._delta = _Delta(ids, vectors)  # swapped whole: a query sees the old or the new

    def query(self, paper: Paper, k: int = SIMILAR_COUNT) -> list[str]:
        """The ids of the `k` indexed papers most like `paper` (never itself), best first;
        ties go to the paper stored later."""
        b, delta = self._built, self._delta
        terms, values = b.vector(paper_terms(paper), None)  # all its terms: postings are pruned
        found: list[tuple[float, int, str]] = []
        starts, ends = b.indptr[terms].astype(np.int64), b.indptr[terms + 1].astype(np.int64)
        lengths = ends - starts
        if lengths.sum():
            # The postings of every term, end to end: positions start..end of each.
            offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
            at = offsets + np.arange(int(lengths.sum()))
            contrib = b.weights[at] * np.repeat(values, lengths)
            scores = np.bincount(b.rows[at], weights=contrib, minlength=len(b.ids))
            best = min(k + 1, int(np.count_nonzero(scores)))
            if best:
                top = np.argpartition(-scores, best - 1)[:best]
                found += [(float(scores[r]), int(r), b.ids[r].decode()) for r in top]
        mine = dict(zip(terms.tolist(), values.tolist(), strict=True))
        for n, (other, (its, weights)) in enumerate(zip(delta.ids, delta.vectors, strict=True)):
            pairs = zip(its.tolist(), weights.tolist(), strict=True)
            score = sum(mine.get(t, 0.0) * w for t, w in pairs)
            if score > 0:
                found.append((score, len(b.ids) + n, other))
        found.sort(key=lambda f: (-round(f[0], 6), -f[1]))
        return [pid for _, _, pid in found if pid != paper.id][:k]


class SimilarPapers:
    """The index kept in step with the store: built on first use, papers stored since added
    at each refresh (after every scrape), built again when many arrived."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index = SimilarIndex()
        self._position = 0  # the store position of the last paper indexed
        self._child_failed = False  # a build's child process failed: builds run in a thread
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        """Whether the first build is done."""
        return self._ready.is_set()

    async def wait_ready(self, seconds: float) -> bool:
        """Wait up to `seconds` for the first build; whether it is done."""
        try:
            async with asyncio.timeout(seconds):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    async def refresh(self) -> int:
        """Index the papers stored since the last refresh; how many the index then holds
        (0 when none was new)."""
        async with self._lock:
            fresh: list[Paper] = []
            position = self._position
            while batch := await self.store.stored_since(position, READ_PAGE):
                position = batch[-1][0]
                fresh += [p for _, p in batch]
                if len(fresh) > DELTA_MAX:
                    break  # a rebuild reads them all again: no need to hold them
            if not fresh:
                self._ready.set()
                return 0
            total = self.index.size + len(fresh)
            built = self.index.size - self.index.pending
            if self.index.pending + len(fresh) > min(DELTA_MAX, REBUILD_SHARE * built):
                started = time.monotonic()
                total = await self._rebuild()
                log.info("similarity index built in %.1f s", time.monotonic() - started)
            else:
                await asyncio.to_thread(self.index.add, fresh)
                self._position = position
            self._ready.set()
            log.info("similarity index: %d papers (%d KB)", total, self.index.nbytes() // 1024)
            return total

    async def _rebuild(self) -> int:
        """Build from every stored paper: counts, then weights, a page at a time.

        A store of more than one page is built in a child process (bot.similar_build): the
        build is seconds to minutes of CPU-bound Python, which in a thread would hold the
        GIL against the event loop and the store's threads, slowing every search, digest and
        alert run behind it. The child reads an SQLite store's file itself, so the store's
        connections never queue behind the build either; a server's pages (PostgreSQL, its
        pool) the bot reads and passes on."""
        from bot.similar_build import ThreadBuild  # (it imports this module)

        batch = await self.store.stored_since(0, READ_PAGE)
        done: tuple[_Built, int] | None = None
        if len(batch) >= READ_PAGE and not self._child_failed:
            try:
                done = await self._build_in_child(batch)
            except Exception:  # (not a cancel) the child could not start, or died
                log.exception("the similarity build's child process failed; building in a thread")
                self._child_failed = True  # from now on: in a thread, as a small store is
        built, last = done or await self._build_paged(ThreadBuild(), batch)
        self.index.replace(built)
        self._position = last
        return built.papers

    async def _build_in_child(self, batch: list[tuple[int, Paper]]) -> tuple[_Built, int]:
        """The build in a child process: it reads an SQLite store's file itself; the pages
        of any other store are read here and passed on."""
        from bot.similar_build import ProcessBuild

        source = self.store.corpus_file()
        if source is None:
            return await self._build_paged(ProcessBuild(), batch)
        async with ProcessBuild() as child:
            return await child.read(source, READ_PAGE)

    async def _build_paged(
        self, build: ThreadBuild | ProcessBuild, batch: list[tuple[int, Paper]]
    ) -> tuple[_Built, int]:
        """Counts, then weights, read a page at a time (`batch`: the first page)."""
        async with build:
            last, position = 0, 0
            while batch:
                position = batch[-1][0]
                await build.count([p for _, p in batch])
                batch = await self.store.stored_since(position, READ_PAGE)
            last, position = position, 0
            while position < last and (batch := await self.store.stored_since(position, READ_PAGE)):
                papers = [p for pos, p in batch if pos <= last]
                position = batch[-1][0]
                await build.weigh(papers)
            return await build.finish(), last

    async def similar(self, paper: Paper, k: int = SIMILAR_COUNT) -> list[str]:
        """The ids of the stored papers most like `paper`, best first (off the event loop)."""
        return await asyncio.to_thread(self.index.query, paper, k)

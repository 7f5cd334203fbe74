""""More like this": the stored papers whose words are most like a paper's (tf-idf, cosine).

The reference in this field is arxiv-sanity's tf-idf over title and abstract; here the AI
keywords count too, and the words are read by bot.text.analyze, the same reading search and
alerts use. No model, no network: the index is built from the store's own papers.

Shape, chosen to stay small and fast at 200,000 papers:
- a paper's vector: for each analysed word, (1 + log tf) * idf, where title and keyword
  words count twice; L2-normalised over all its words, then only its TOP_TERMS heaviest words
  are kept (what makes a paper distinctive; the rest adds little but memory);
- an inverted index (term -> (row, weight) postings) in numpy arrays: a query adds up the
  postings of its own words (np.bincount) and takes the best rows;
- words on one paper only are never kept (they can meet no other paper), nor words on more
  than MAX_DF of them (stop words: long postings that rank nothing).
Papers stored after the build go to a small delta scored the same way; once the delta is
large the whole index is built again (off the event loop).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bot.models import Paper
from bot.store import Store
from bot.text import analyze

log = logging.getLogger(__name__)

TOP_TERMS = 40  # words kept per paper
MAX_DF = 0.10  # words on more than this share of the papers are dropped
MIN_PAPERS_FOR_MAX_DF = 1000  # a small corpus keeps every word (it has no long postings)
REBUILD_SHARE = 0.05  # the delta is folded in once it holds this share of the papers
REBUILD_MIN = 2000
READ_PAGE = 2000
SIMILAR_COUNT = 5

Terms = dict[str, float]  # a paper's normalised, pruned vector


def paper_terms(paper: Paper) -> Counter[str]:
    """The analysed words of a paper's title, abstract and AI keywords: title and keyword
    words count twice (they say what the paper is about)."""
    counts = Counter(analyze(paper.abstract))
    heavy = analyze(paper.title) + analyze(" ".join(paper.ai_keywords))
    for word in heavy:
        counts[word] += 2
    return counts


@dataclass(slots=True)
class _Built:
    """The bulk part of the index: immutable once built (queries read it from threads)."""

    ids: npt.NDArray[np.bytes_]  # row -> paper id
    vocab: dict[str, int]  # word -> term number
    idf: npt.NDArray[np.float32]  # by term number
    indptr: npt.NDArray[np.int64]  # term -> its postings' slice
    rows: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]
    unseen_idf: float  # the idf of a word no kept term has (on one paper, or none)

    @property
    def size(self) -> int:
        return len(self.ids)

    def nbytes(self) -> int:
        """Memory held, roughly: the arrays and the vocabulary."""
        arrays = sum(
            a.nbytes for a in (self.ids, self.idf, self.indptr, self.rows, self.weights)
        )
        # A dict entry is ~100 bytes with its small str key and int value.
        return arrays + 100 * len(self.vocab)


@dataclass(slots=True)
class _Delta:
    """Papers stored after the build: their vectors (by the build's idf), scored one by one."""

    ids: list[str] = field(default_factory=list)
    vectors: list[dict[int | str, float]] = field(default_factory=list)


def _weigh(counts: Counter[str], idf_of: dict[str, float], unseen: float) -> Terms:
    """A normalised tf-idf vector over all of a paper's words, pruned to its TOP_TERMS."""
    raw = {w: (1.0 + math.log(c)) * idf_of.get(w, unseen) for w, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in raw.values())) or 1.0
    top = sorted(raw.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TERMS]
    return {w: v / norm for w, v in top}


def build(papers: Sequence[tuple[str, Counter[str]]]) -> _Built:
    """The bulk index of (paper id, word counts): CPU work, run it in a thread."""
    n = len(papers)
    df: Counter[str] = Counter()
    for _, counts in papers:
        df.update(counts.keys())
    unseen = math.log((n + 1) / 1) + 1.0
    cap = max(2, int(MAX_DF * n)) if n >= MIN_PAPERS_FOR_MAX_DF else n
    idf_of = {w: math.log((n + 1) / (d + 1)) + 1.0 for w, d in df.items() if d >= 2}
    kept = {w for w, d in df.items() if 2 <= d <= cap}
    vocab = {w: i for i, w in enumerate(sorted(kept))}
    del df
    # Postings, gathered as (term, row, weight) triples then sorted by term.
    terms: list[int] = []
    rows: list[int] = []
    weights: list[float] = []
    for row, (_, counts) in enumerate(papers):
        for word, weight in _weigh(counts, idf_of, unseen).items():
            term = vocab.get(word)
            if term is not None:
                terms.append(term)
                rows.append(row)
                weights.append(weight)
    term_arr = np.asarray(terms, dtype=np.int32)
    del terms
    order = np.argsort(term_arr, kind="stable")
    row_arr = np.asarray(rows, dtype=np.int32)[order]
    del rows
    weight_arr = np.asarray(weights, dtype=np.float32)[order]
    del weights
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_arr, minlength=len(vocab)), out=indptr[1:])
    idf = np.zeros(len(vocab), dtype=np.float32)
    for word, term in vocab.items():
        idf[term] = idf_of[word]
    ids = np.array([pid for pid, _ in papers], dtype=np.bytes_) if papers else np.array([], "S1")
    return _Built(ids, vocab, idf, indptr, row_arr, weight_arr, unseen)


class SimilarIndex:
    """Papers by likeness of their words; `query` is thread-safe against `add` and `replace`."""

    def __init__(self, built: _Built | None = None) -> None:
        self._built = built or build([])
        self._idf_of: dict[str, float] = {}
        self._delta = _Delta()
        self._refresh_idf()

    def _refresh_idf(self) -> None:
        b = self._built
        self._idf_of = {w: float(b.idf[t]) for w, t in b.vocab.items()}

    @property
    def size(self) -> int:
        """Papers indexed (the build and the delta)."""
        return self._built.size + len(self._delta.ids)

    @property
    def pending(self) -> int:
        """Papers in the delta (stored after the build)."""
        return len(self._delta.ids)

    def nbytes(self) -> int:
        """Memory held by the index, roughly (the delta at ~1 KB a paper)."""
        return self._built.nbytes() + 1000 * len(self._delta.ids)

    def replace(self, built: _Built) -> None:
        """Swap in a fresh build (the delta it covers is dropped)."""
        self._built = built
        self._delta = _Delta()
        self._refresh_idf()

    def add(self, papers: Sequence[tuple[str, Counter[str]]]) -> None:
        """Index papers stored after the build, weighed by the build's idf."""
        b = self._built
        ids = list(self._delta.ids)
        vectors = list(self._delta.vectors)
        for paper_id, counts in papers:
            vector = _weigh(counts, self._idf_of, b.unseen_idf)
            ids.append(paper_id)
            vectors.append({b.vocab.get(w, w): v for w, v in vector.items()})
        self._delta = _Delta(ids, vectors)  # swapped whole: a query sees the old or the new

    def query(self, paper_id: str, counts: Counter[str], k: int = SIMILAR_COUNT) -> list[str]:
        """The ids of the `k` papers most like one with these word counts (not itself),
        best first; ties go to the paper stored later."""
        b, delta = self._built, self._delta
        vector = _weigh(counts, self._idf_of, b.unseen_idf)
        found: list[tuple[float, int, str]] = []
        if b.size:
            slices, scales = [], []
            for word, weight in vector.items():
                term = b.vocab.get(word)
                if term is not None:
                    lo, hi = int(b.indptr[term]), int(b.indptr[term + 1])
                    slices.append(slice(lo, hi))
                    scales.append((hi - lo, weight))
            if slices:
                rows = np.concatenate([b.rows[s] for s in slices])
                contrib = np.concatenate([b.weights[s] for s in slices]) * np.repeat(
                    np.array([w for _, w in scales], dtype=np.float32),
                    [n for n, _ in scales],
                )
                scores = np.bincount(rows, weights=contrib, minlength=b.size)
                best = min(k + 1, int(np.count_nonzero(scores)))
                if best:
                    top = np.argpartition(-scores, best - 1)[:best]
                    found += [(float(scores[r]), int(r), b.ids[r].decode()) for r in top]
        keyed = {b.vocab.get(w, w): v for w, v in vector.items()}
        for n, (other, terms) in enumerate(zip(delta.ids, delta.vectors, strict=True)):
            score = sum(v * keyed.get(t, 0.0) for t, v in terms.items())
            if score > 0:
                found.append((score, b.size + n, other))
        found.sort(key=lambda f: (-round(f[0], 6), -f[1]))
        return [pid for _, _, pid in found if pid != paper_id][:k]


class SimilarPapers:
    """The index kept in step with the store: built at start, new papers added after each
    scrape, built again when many arrived. All CPU work runs in a thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index = SimilarIndex()
        self._position = 0  # the store position of the last paper read
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        """Whether the first build is done."""
        return self._ready.is_set()

    async def wait_ready(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the first build; whether it is done."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def refresh(self) -> int:
        """Read the papers stored since the last refresh into the index; how many."""
        async with self._lock:
            fresh: list[tuple[str, Counter[str]]] = []
            while batch := await self.store.stored_since(self._position, READ_PAGE):
                papers = [p for _, p in batch]
                fresh += await asyncio.to_thread(lambda ps=papers: [(p.id, paper_terms(p)) for p in ps])
                self._position = batch[-1][0]
            if not fresh:
                self._ready.set()
                return 0
            total = self.index.size + len(fresh)
            if not self.ready or self.index.pending + len(fresh) > max(
                REBUILD_MIN, REBUILD_SHARE * total
            ):
                await self._rebuild(fresh)
            else:
                self.index.add(fresh)
            self._ready.set()
            log.info("similarity index: %d papers added (%d in all)", len(fresh), total)
            return len(fresh)

    async def _rebuild(self, fresh: list[tuple[str, Counter[str]]]) -> None:
        if self.index.size:  # read everything again: the old counts are not kept
            fresh = []
            position = 0
            while batch := await self.store.stored_since(position, READ_PAGE):
                papers = [p for _, p in batch]
                fresh += await asyncio.to_thread(lambda ps=papers: [(p.id, paper_terms(p)) for p in ps])
                position = batch[-1][0]
            self._position = position
        built = await asyncio.to_thread(build, fresh)
        self.index.replace(built)

    async def similar(self, paper: Paper, k: int = SIMILAR_COUNT) -> list[str]:
        """The ids of the stored papers most like `paper`, best first (off the event loop)."""
        return await asyncio.to_thread(self.index.query, paper.id, paper_terms(paper), k)

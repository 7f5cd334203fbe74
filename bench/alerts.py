"""Benchmark the alert percolator against the naive loop over every alert.

Run from the repository root:  python bench/alerts.py [--alerts N] [--papers N] [--seed N]

It builds a realistic workload from the seed Daily Papers (tests/data/seed_days.json):
alerts for many users, drawn with Zipfian popularity from the topic words of the seed
abstracts, and synthetic abstracts stitched from seed sentences. It prints the figures
next to their targets, side by side with the naive approach (bot.matching.matches for
every alert and paper, timed on a subset and extrapolated), and checks that both agree.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import re
import sys
import time
import tracemalloc
from bisect import bisect
from collections import Counter
from itertools import accumulate, pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.hf.parse import parse_items  # noqa: E402
from bot.matching import PaperText, matches  # noqa: E402
from bot.models import Paper  # noqa: E402
from bot.percolator import STOP_WORDS, AlertIndex  # noqa: E402
from bot.query import Query, parse_query  # noqa: E402
from bot.text import words  # noqa: E402

SEED = ROOT / "tests" / "data" / "seed_days.json"

TARGET_THROUGHPUT = 5_000  # abstracts/s
TARGET_BUILD_S = 0.5
TARGET_MEMORY_MB = 100
TARGET_BATCH_MS = 100
BATCH = 200
TOPICS_PER_PAPER = 8

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class Zipf:
    """Draw items with probability proportional to 1 / rank**s (first item = rank 1)."""

    def __init__(self, items: list[str], s: float = 1.0) -> None:
        self.items = items
        self.cum = list(accumulate(1.0 / (r**s) for r in range(1, len(items) + 1)))

    def draw(self, rng: random.Random) -> str:
        """One item."""
        return self.items[bisect(self.cum, rng.random() * self.cum[-1])]


def load_seed() -> list[Paper]:
    """Every seed paper."""
    data = json.loads(SEED.read_text(encoding="utf-8"))
    return [p for day, items in data.items() for p in parse_items(items, day)]


def vocabulary(seed: list[Paper], max_df: float) -> tuple[list[str], list[str], list[str]]:
    """Topic words and phrases (most popular first) and author surnames, from the seed.

    A paper's topic words are its top words by tf-idf (frequent in it, rare elsewhere);
    a word's popularity is the number of papers it is a topic of. Words found in more
    than `max_df` of the seed abstracts are left out: in this corpus (mostly about
    scaling laws) an alert on `scaling` or `networks` would fire on a third of all
    papers, which is a digest, not an alert. Phrases are word pairs found in at least
    two abstracts (and at most `max_df`), most common first.
    """
    doc_freq: Counter[str] = Counter()
    phrase_freq: Counter[str] = Counter()
    counts: list[Counter[str]] = []
    for p in seed:
        ws = words(f"{p.title}\n{p.abstract}")
        content = [w for w in ws if w.isalpha() and len(w) > 2 and w not in STOP_WORDS]
        counts.append(Counter(content))
        doc_freq.update(set(content))
        phrase_freq.update(
            {
                f"{a} {b}"
                for a, b in pairwise(ws)
                if a not in STOP_WORDS and b not in STOP_WORDS and a.isalpha() and b.isalpha()
            }
        )
    n, cap = len(seed), max_df * len(seed)
    popularity: Counter[str] = Counter()
    for tf in counts:
        score = {w: c * math.log(n / doc_freq[w]) for w, c in tf.items()}
        popularity.update(sorted(score, key=lambda w: (-score[w], w))[:TOPICS_PER_PAPER])
    topic = [w for w, _ in popularity.most_common() if doc_freq[w] <= cap]
    phrases = [b for b, df in phrase_freq.most_common() if 2 <= df <= cap]
    # People follow prolific authors: surnames by the number of seed papers they are on.
    authors: Counter[str] = Counter(a.split()[-1] for p in seed for a in set(p.authors))
    surnames = [s for s, _ in authors.most_common()]
    return topic, phrases, surnames


def make_alerts(
    n: int, users: int, seed_papers: list[Paper], rng: random.Random, max_df: float = 0.05
) -> list[tuple[int, int, Query]]:
    """(alert id, user id, query) triples: mostly 1-2 words, some phrases/OR/-/author:."""
    topic, phrases, surnames = vocabulary(seed_papers, max_df)
    words_z, phrases_z, names_z = Zipf(topic), Zipf(phrases), Zipf(surnames, 0.8)
    alerts: list[tuple[int, int, Query]] = []
    for alert_id in range(1, n + 1):
        r = rng.random()
        w = words_z.draw
        if r < 0.40:
            text = w(rng)
        elif r < 0.62:
            text = f"{w(rng)} {w(rng)}"
        elif r < 0.74:
            text = f'"{phrases_z.draw(rng)}"'
        elif r < 0.82:
            text = f"{w(rng)} OR {w(rng)}"
            if rng.random() < 0.3:
                text += f" {w(rng)}"
        elif r < 0.89:
            text = f"{w(rng)} -{w(rng)}"
        elif r < 0.95:
            text = f"author:{names_z.draw(rng)}"
        else:
            text = f"{w(rng)} author:{names_z.draw(rng)}"
        if rng.random() < 0.1:  # people type plurals and capitals
            text = text.replace(" ", "s ", 1) if " " in text else text + "s"
        alerts.append((alert_id, rng.randrange(users), parse_query(text)))
    return alerts


def make_papers(n: int, seed: list[Paper], rng: random.Random) -> list[Paper]:
    """Synthetic papers, each a variation on one seed paper (as real abstracts have one topic).

    The abstract keeps most of a seed abstract's sentences (in order) and borrows one or
    two from other papers; the title and keywords come from the same seed paper; the
    authors are the seed paper's, with one sometimes replaced by a random seed author.
    """
    sentences = [[s for s in _SENTENCE.split(p.abstract) if s] for p in seed]
    pool = [s for ss in sentences for s in ss if len(s) > 20]
    names = sorted({a for p in seed for a in p.authors})
    papers = []
    for i in range(n):
        k = rng.randrange(len(seed))
        base = seed[k]
        kept = [s for s in sentences[k] if rng.random() < 0.85] or sentences[k][:1]
        for _ in range(rng.randint(1, 2)):
            kept.insert(rng.randint(0, len(kept)), rng.choice(pool))
        authors = list(base.authors)
        if authors and rng.random() < 0.5:
            authors[rng.randrange(len(authors))] = rng.choice(names)
        keywords = list(base.ai_keywords)
        rng.shuffle(keywords)
        papers.append(
            Paper(
                id=f"2601.{i:05d}",
                title=base.title,
                abstract=" ".join(kept),
                authors=tuple(authors),
                ai_keywords=tuple(keywords[: rng.randint(max(1, len(keywords) - 2), len(keywords))])
                if keywords
                else (),
            )
        )
    return papers


def naive(alerts: list[tuple[int, int, Query]], papers: list[Paper]) -> dict[str, set[int]]:
    """The naive loop: every alert's query evaluated against every paper."""
    out: dict[str, set[int]] = {}
    for p in papers:
        text = PaperText.of(p)  # tokenized once per paper, to be fair to the naive side
        out[p.id] = {a for a, _, q in alerts if matches(q, text)}
    return out


def main() -> None:
    """Build the workload, measure both approaches, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--papers", type=int, default=1_000)
    ap.add_argument("--naive-papers", type=int, default=10, help="subset timed naively")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    seed = load_seed()
    t0 = time.perf_counter()
    alerts = make_alerts(args.alerts, args.users, seed, rng)
    papers = make_papers(args.papers, seed, rng)
    gen_s = time.perf_counter() - t0
    pairs = [(a, q) for a, _, q in alerts]
    distinct = len({q for _, q in pairs})
    avg_words = sum(len(words(p.abstract)) for p in papers) / len(papers)
    print(
        f"workload: {len(alerts):,} alerts ({distinct:,} distinct queries) from "
        f"{args.users:,} users; {len(papers):,} synthetic papers (~{avg_words:.0f}-word "
        f"abstracts); generated in {gen_s:.1f} s; Python {sys.version.split()[0]}"
    )
    print(f"sample alerts: {', '.join(str(q) for _, _, q in alerts[:8])}")

    # Index build, and the memory the index holds (queries themselves are the caller's).
    gc.collect()
    t0 = time.perf_counter()
    index = AlertIndex.build(pairs)
    build_s = time.perf_counter() - t0
    del index
    gc.collect()
    tracemalloc.start()
    index = AlertIndex.build(pairs)
    mem_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()

    # Throughput over all papers (best of 3), and a 200-paper batch.
    index.match_many(papers[:50])  # warm the word-folding cache, as a running bot would
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        results = index.match_many(papers)
        runs.append(time.perf_counter() - t0)
    match_s = min(runs)
    throughput = len(papers) / match_s
    batch = papers[:BATCH]
    batch_runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        index.match_many(batch)
        batch_runs.append(time.perf_counter() - t0)
    batch_ms = min(batch_runs) * 1000
    hits = sum(len(r) for r in results.values())

    # The naive approach on a subset, extrapolated.
    subset = papers[: args.naive_papers]
    t0 = time.perf_counter()
    expected = naive(alerts, subset)
    naive_s = time.perf_counter() - t0
    naive_per_paper = naive_s / len(subset)
    naive_throughput = 1 / naive_per_paper
    for p in subset:
        got = set(results[p.id])
        assert got == expected[p.id], f"{p.id}: percolator and naive loop disagree"

    ok = "ok" if True else ""
    w = 34

    def row(name: str, perc: str, nv: str, target: str, met: bool | None) -> None:
        flag = "" if met is None else ("  ok" if met else "  MISSED")
        print(f"{name:<{w}}{perc:>16}{nv:>26}{target:>14}{flag}")

    print()
    print(f"{'':<{w}}{'percolator':>16}{'naive (extrapolated)':>26}{'target':>14}")
    row(
        "index build",
        f"{build_s:.3f} s",
        "n/a (no index)",
        f"<= {TARGET_BUILD_S} s",
        build_s <= TARGET_BUILD_S,
    )
    row(
        "matching throughput",
        f"{throughput:,.0f} /s",
        f"{naive_throughput:,.2f} /s",
        f">= {TARGET_THROUGHPUT:,} /s",
        throughput >= TARGET_THROUGHPUT,
    )
    row(
        f"{len(papers):,} papers x {len(alerts):,} alerts",
        f"{match_s:.3f} s",
        f"{naive_per_paper * len(papers):,.0f} s",
        "",
        None,
    )
    row(
        f"{BATCH}-paper batch",
        f"{batch_ms:.1f} ms",
        f"{naive_per_paper * BATCH * 1000:,.0f} ms",
        f"<= {TARGET_BATCH_MS} ms",
        batch_ms <= TARGET_BATCH_MS,
    )
    row(
        "matcher memory (tracemalloc)",
        f"{mem_mb:.1f} MB",
        "0 (no index)",
        f"<= {TARGET_MEMORY_MB} MB",
        mem_mb <= TARGET_MEMORY_MB,
    )
    print()
    print(
        f"naive: measured {naive_s:.1f} s for {len(subset)} papers x {len(alerts):,} alerts "
        f"({naive_per_paper * 1000:,.0f} ms/paper); figures in that column are extrapolated"
    )
    print(f"speedup: {naive_per_paper / (match_s / len(papers)):,.0f}x")
    print(
        f"matches: {hits:,} (alert, paper) pairs, {hits / len(papers):,.1f} alerts per paper; "
        f"identical to the naive loop on the {len(subset)}-paper subset: {ok}"
    )


if __name__ == "__main__":
    main()

"""Keyword alerts: the percolator index against the naive loop over every alert.

    .venv/bin/python bench/alerts.py [--alerts 100000] [--users 10000] [--papers 1000]

The workload is grown from the seed papers (tests/data/seed_days.json). There are 100,000
alerts from 10,000 people, written in the shapes of MIX, from topic words, phrases and
author names of the seed, drawn with Zipfian popularity (see `vocabulary`). There are
1,000 new papers from bench/corpus.py, the synthetic corpus the other benchmarks use.

It prints the index build time, the matching throughput, the time of a 200-paper batch
and the index's memory next to their targets, side by side with the naive approach:
bot.matching.matches for every (alert, paper). The naive loop is timed on a few papers
only and the rest is extrapolated (the table says so). The script asserts that both
approaches find the same alerts for those papers. Figures are medians of several rounds.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import sys
import time
import tracemalloc
from bisect import bisect
from collections import Counter
from collections.abc import Callable
from datetime import date
from itertools import accumulate, pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.corpus import CorpusGenerator, seed_papers  # noqa: E402
from bot.alert_policy import STOP_WORDS  # noqa: E402
from bot.matching import PaperText, matches  # noqa: E402
from bot.models import Paper  # noqa: E402
from bot.percolator import AlertIndex  # noqa: E402
from bot.query import Query, parse_query  # noqa: E402
from bot.text import words  # noqa: E402

TARGET_THROUGHPUT = 5_000  # abstracts/s
TARGET_BUILD_S = 0.5
TARGET_MEMORY_MB = 100
TARGET_BATCH_MS = 100
BATCH = 200
TOPICS_PER_PAPER = 8


class Zipf:
    """Draw items with probability proportional to 1 / rank**s (first item = rank 1)."""

    def __init__(self, items: list[str], s: float = 1.0) -> None:
        self.items = items
        self.cum = list(accumulate(1.0 / (r**s) for r in range(1, len(items) + 1)))

    def draw(self, rng: random.Random) -> str:
        """One item."""
        return self.items[bisect(self.cum, rng.random() * self.cum[-1])]


def vocabulary(seed: list[Paper], max_df: float) -> tuple[list[str], list[str], list[str]]:
    """Topic words and phrases (most popular first) and author surnames, from the seed.

    A paper's topic words are its top words by tf-idf (frequent in it, rare elsewhere);
    a word's popularity is the number of seed papers it is a topic of, and Zipf draws
    follow that order. Words in more than `max_df` of the seed abstracts are left out.
    The seed is small and narrow (147 papers, a third on scaling laws), so a word there
    is never rarer than 1 paper in 147. At the default of 2%, an alert fires on about 2%
    of papers, so each person (ten alerts) gets about 9 alerts a day at 50 papers a day.
    Broad words (`--max-df 0.05` lets in `width`, `kernel`, `reward`) fire more often,
    and the matcher's cost grows with the number of matches it hands back.
    Phrases are word pairs found in 2 or more abstracts (and in at most `max_df`).
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
    topic = [w for w in _by_count(popularity) if doc_freq[w] <= cap]
    phrases = [b for b in _by_count(phrase_freq) if 2 <= phrase_freq[b] <= max(cap, 2)]
    # People follow prolific authors: surnames by the number of seed papers they are on.
    authors: Counter[str] = Counter(a.split()[-1] for p in seed for a in set(p.authors))
    surnames = _by_count(authors)
    return topic, phrases, surnames


def _by_count(counts: Counter[str]) -> list[str]:
    """Most common first; ties in alphabetical order (so a seed gives the same workload)."""
    return sorted(counts, key=lambda k: (-counts[k], k))


# The shapes of alerts people write, and their shares: mostly one or two words.
MIX = {
    "word": 0.32,  # grokking
    "two words": 0.28,  # pruning quantization
    "phrase": 0.12,  # "reinforcement learning"
    "or": 0.08,  # relu OR gelu (sometimes three words)
    "exclusion": 0.08,  # kernel -ntk
    "author": 0.07,  # author:iyer
    "word + author": 0.05,  # scaling author:kaplan
}


def make_alerts(
    n: int, users: int, seed_papers: list[Paper], rng: random.Random, max_df: float
) -> list[tuple[int, int, Query]]:
    """(alert id, user id, query) triples with the shapes and shares of MIX."""
    topic, phrases, surnames = vocabulary(seed_papers, max_df)
    word, phrase, name = Zipf(topic).draw, Zipf(phrases).draw, Zipf(surnames).draw
    shapes, weights = list(MIX), list(MIX.values())
    alerts: list[tuple[int, int, Query]] = []
    for alert_id in range(1, n + 1):
        shape = rng.choices(shapes, weights)[0]
        if shape == "word":
            text = word(rng)
        elif shape == "two words":
            text = f"{word(rng)} {word(rng)}"
        elif shape == "phrase":
            text = f'"{phrase(rng)}"'
        elif shape == "or":
            text = " OR ".join(word(rng) for _ in range(rng.choice((2, 2, 3))))
        elif shape == "exclusion":
            text = f"{word(rng)} -{word(rng)}"
        elif shape == "author":
            text = f"author:{name(rng)}"
        else:
            text = f"{word(rng)} author:{name(rng)}"
        if rng.random() < 0.1:  # people type plurals
            text = text.replace(" ", "s ", 1) if " " in text else text + "s"
        if rng.random() < 0.1:  # and capitals
            text = text.title()
        alerts.append((alert_id, rng.randrange(users), parse_query(text)))
    return alerts


def naive(alerts: list[tuple[int, int, Query]], papers: list[Paper]) -> dict[str, set[int]]:
    """The naive loop: every alert's query evaluated against every paper."""
    out: dict[str, set[int]] = {}
    for p in papers:
        text = PaperText.of(p)  # tokenized once per paper, to be fair to the naive side
        out[p.id] = {a for a, _, q in alerts if matches(q, text)}
    return out


def median_time(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """The median wall time and the median CPU time of `rounds` calls, in seconds."""
    wall, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def index_memory(pairs: list[tuple[int, Query]]) -> tuple[float, float]:
    """Bytes held by a freshly built index (queries excluded: they are the caller's), and
    the build's peak, both in MB, as tracemalloc counts them."""
    gc.collect()
    tracemalloc.start()
    index = AlertIndex.build(pairs)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index
    return held / 1e6, peak / 1e6


def main() -> None:
    """Build the workload, measure both approaches side by side, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--papers", type=int, default=1_000)
    ap.add_argument("--naive-papers", type=int, default=10, help="papers timed naively")
    ap.add_argument(
        "--max-df", type=float, default=0.02, help="leave out topic words in more abstracts"
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    seed = list(seed_papers())
    alerts = make_alerts(args.alerts, args.users, seed, rng, args.max_df)
    papers = CorpusGenerator(args.seed).day(date(2026, 1, 5), 0, args.papers)
    pairs = [(a, q) for a, _, q in alerts]
    shapes = Counter(shape_of(q) for q in dict(pairs).values())
    print(
        f"workload: {len(alerts):,} alerts from {args.users:,} users "
        f"({len(set(dict(pairs).values())):,} distinct queries; "
        + ", ".join(f"{n:,} {shape}" for shape, n in shapes.most_common())
        + ")"
    )
    print(f"  e.g. {' | '.join(str(q) for _, _, q in alerts[:8])}")
    avg_words = sum(len(words(p.abstract)) for p in papers) / len(papers)
    print(
        f"  {len(papers):,} synthetic papers from bench/corpus.py "
        f"(abstracts of {avg_words:.0f} words on average); Python {sys.version.split()[0]}"
    )

    build_s, build_cpu = median_time(lambda: AlertIndex.build(pairs), max(3, args.rounds // 2))
    held_mb, peak_mb = index_memory(pairs)
    index = AlertIndex.build(pairs)
    index.match_many(papers[:20])  # warm the word caches, as a running bot's are
    results = index.match_many(papers)
    match_s, match_cpu = median_time(lambda: index.match_many(papers), args.rounds)
    batch = papers[:BATCH]
    batch_s, batch_cpu = median_time(lambda: index.match_many(batch), args.rounds * 2)
    # What a consumer pays on top to read every match's alert id and reason (AlertDelivery
    # reads them all): the index hands back compact Matches and makes the dicts on demand.
    read_s, read_cpu = median_time(
        lambda: [dict(m.items()) for m in index.match_many(papers).values()], args.rounds
    )

    subset = papers[: args.naive_papers]
    t0 = time.perf_counter()
    expected = naive(alerts, subset)
    naive_s = (time.perf_counter() - t0) / len(subset)  # per paper
    for p in subset:
        assert set(results[p.id]) == expected[p.id], f"{p.id}: percolator != naive loop"
    perc_s = match_s / len(papers)  # per paper

    hits = sum(len(r) for r in results.values())
    print(
        f"  matches: {hits / len(papers):,.0f} alerts per paper, so an alert fires on "
        f"{hits / len(papers) / len(alerts):.2%} of papers "
        f"(~{hits / len(papers) * 50 / args.users:.1f} alerts a day per user at 50 papers a day)"
    )
    print()
    header = f"{'':<31}{'percolator':>14}{'naive loop*':>16}{'target':>14}"
    print(header)
    print("-" * len(header))
    _row(
        "index build", f"{build_s:.3f} s", "-", f"<= {TARGET_BUILD_S} s", build_s <= TARGET_BUILD_S
    )
    _row(
        "throughput (abstracts/s)",
        f"{1 / perc_s:,.0f}",
        f"{1 / naive_s:,.1f}",
        f">= {TARGET_THROUGHPUT:,}",
        1 / perc_s >= TARGET_THROUGHPUT,
    )
    _row(
        f"{BATCH}-paper batch",
        f"{batch_s * 1000:.1f} ms",
        f"{naive_s * BATCH:,.0f} s",
        f"<= {TARGET_BATCH_MS} ms",
        batch_s * 1000 <= TARGET_BATCH_MS,
    )
    _row(
        f"all {len(papers):,} papers",
        f"{match_s:.2f} s",
        f"{naive_s * len(papers) / 60:,.0f} min",
        "",
        None,
    )
    _row(
        "matcher memory (tracemalloc)",
        f"{held_mb:.1f} MB",
        "0",
        f"<= {TARGET_MEMORY_MB} MB",
        held_mb <= TARGET_MEMORY_MB,
    )
    print(f"{'  (peak while building)':<31}{f'{peak_mb:.1f} MB':>14}")
    print()
    print(
        f"* naive loop: bot.matching.matches(query, PaperText) for each of the "
        f"{len(alerts):,} alerts, each paper tokenized once. Measured on "
        f"{len(subset)} papers ({naive_s:.2f} s per paper); the other naive figures are "
        "extrapolated from that."
    )
    print(
        f"CPU time (the machine is shared): build {build_cpu:.3f} s, "
        f"{len(papers) / match_cpu:,.0f} abstracts/s, {BATCH}-paper batch {batch_cpu * 1000:.1f} ms"
    )
    print(
        f"matching and then reading every alert id and reason: {len(papers) / read_s:,.0f} "
        f"abstracts/s ({len(papers) / read_cpu:,.0f}/s of CPU)"
    )
    print(f"speedup: {naive_s / perc_s:,.0f}x per paper (median of {args.rounds} rounds)")
    print(f"results: identical to the naive loop on all {len(subset)} papers it ran on")


def _row(name: str, ours: str, theirs: str, target: str, met: bool | None) -> None:
    flag = "" if met is None else ("  ok" if met else "  MISSED")
    print(f"{name:<31}{ours:>14}{theirs:>16}{target:>14}{flag}")


def shape_of(query: Query) -> str:
    """A rough label for a query's shape, for the workload summary."""
    terms = query.terms()
    if any(t.field == "author" for t in terms):
        return "author"
    if query.excluded:
        return "exclusion"
    if any(len(g) > 1 for g in query.groups):
        return "or"
    if any(len(t.tokens) > 1 for t in terms):
        return "phrase"
    return "one word" if len(terms) == 1 else "several words"


if __name__ == "__main__":
    if sys.argv[1:2] == ["adds"]:  # the /alert add section, in its own module
        from bench import alert_adds

        del sys.argv[1]
        alert_adds.main()
    else:
        main()

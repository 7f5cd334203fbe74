"""Derive PostgreSQL's pair words (migration 0010, read by pair_words.py) from real papers.

The words whose adjacent pairs the PostgreSQL store indexes are the common ones: the analysed
stems (`bot.text.analyze`, what the store writes into `search`) found in at least PERCENT% of
the real Hugging Face papers in tests/data/seed_days.json (title and abstract; each paper
once), less the stems of Snowball's English stop words (STOP_WORDS, the list PostgreSQL's
`english` configuration drops: function words pair with everything, so pairs with them would
be most of a paper's pairs). Real text, not the benchmark's generated corpus, so the list is
not tuned to the benchmark's queries.

    python -m bench.pair_words            # the words, wrapped, as migration 0010 holds them
    python -m bench.pair_words --compare DIR   # and how they fare in other HF API lists

A test checks that PAIR_WORDS is what `derive()` gives.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from bot.text import analyze

SEED = Path(__file__).resolve().parent.parent / "tests" / "data" / "seed_days.json"
# A stem in 5% of the papers pairs (8 of the seed's 147). A phrase's cost in GIN is the papers
# holding all its words; below 5% (10,000 of 200,000) that is already few, while lowering the
# bar adds pairs to every paper written (ingest). 10% was measured on branch w21-pgpairs: no
# clear ingest gain, and phrases of words in 5-10% of papers stayed slow.
PERCENT = 5
# Snowball's English stop words, as PostgreSQL ships them (tsearch_data/english.stop).
_STOP_WORDS = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his
himself she her hers herself it its itself they them their theirs themselves what which
who whom this that these those am is are was were be been being have has had having do
does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on
off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will
just don should now
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
STOP_STEMS = frozenset(a for w in STOP_WORDS for a in analyze(w))


def texts(items: Iterable[dict[str, object]]) -> Iterator[tuple[str, str]]:
    """(title, abstract) of each distinct paper among Hugging Face daily-papers items."""
    seen: set[str] = set()
    for item in items:
        paper = item["paper"]
        assert isinstance(paper, dict)
        if paper["id"] not in seen:
            seen.add(paper["id"])
            yield str(paper["title"]), str(paper.get("summary") or "")


def seed_texts(path: Path = SEED) -> list[tuple[str, str]]:
    days = json.loads(path.read_text(encoding="utf-8"))
    return list(texts(item for items in days.values() for item in items))


def document_counts(papers: Iterable[tuple[str, str]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for title, abstract in papers:
        counts.update(set(analyze(title)) | set(analyze(abstract)))
    return counts


def common(papers: list[tuple[str, str]], percent: float = PERCENT) -> frozenset[str]:
    """The stems in at least `percent`% of `papers`, stop words out."""
    least = len(papers) * percent / 100
    counts = document_counts(papers)
    return frozenset(w for w, n in counts.items() if n >= least) - STOP_STEMS


def derive(path: Path = SEED, percent: float = PERCENT) -> frozenset[str]:
    """PAIR_WORDS as derived from the seed papers."""
    return common(seed_texts(path), percent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--percent", type=float, default=PERCENT)
    parser.add_argument("--compare", type=Path, help="a folder of HF daily_papers JSON lists")
    args = parser.parse_args()
    words = derive(percent=args.percent)
    print(textwrap.fill(" ".join(sorted(words)), 88, break_on_hyphens=False))
    print(f"# {len(words)} stems in >= {args.percent}% of {len(seed_texts())} seed papers")
    if args.compare:
        files = sorted(args.compare.glob("*.json"))
        other = list(texts(item for f in files for item in json.loads(f.read_text())))
        theirs = common(other, args.percent)
        counts = document_counts(other)
        held = sum(counts[w] >= len(other) * 2 / 100 for w in words)
        print(
            f"# {len(other)} other papers: {len(theirs)} stems in >= {args.percent}%,"
            f" {len(words & theirs)} of them in both lists; {held} of the seed's"
            f" {len(words)} are in >= 2% of the other papers"
        )


if __name__ == "__main__":
    main()

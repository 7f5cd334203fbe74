"""Synthetic data shared by the benchmarks, grown from the seed papers in tests/data.

The seed (tests/data/seed_days.json) holds real titles and abstracts as Hugging Face API
items. `unique_items` repeats them under fresh arXiv ids (for page-sized inputs) and
`CorpusGenerator` writes any number of new papers whose text is stitched together from
short runs of seed words.

How the generated text stays realistic enough to time a search engine on:

* Word frequencies follow the seed's (Zipfian) distribution, because every word is copied
  from a seed title or abstract.
* Topics stay bursty: each paper copies runs of 1-6 words from one "primary" and one
  "secondary" seed paper (never from the whole pool at once), so a topical word such as
  `alignment` lands in a few percent of the papers, as in the seed, rather than in a large
  share of them, which uniform sampling over the whole vocabulary would give. Copying runs
  also keeps real phrases ("language model", "reinforcement learning") for phrase queries.
* The seed has only ~4,500 distinct words; a real corpus of 200k abstracts has far more.
  About 4% of the words are therefore drawn from a Zipfian tail of 200,000 made-up words
  (standing in for names, acronyms and model names), which gives the index a realistic
  number of terms.

Everything is driven by one `random.Random(seed)`, so a given seed always yields the
same corpus.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from bot.hf.parse import parse_items
from bot.models import Paper

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SEED_FILE = DATA / "seed_days.json"
LIST_PAGE_TEMPLATE = DATA / "daily_list_2025-10-01.synthetic.html"

ABSTRACT_WORDS = (150, 250)
TITLE_WORDS = (8, 15)
TAIL_SHARE = 0.04  # share of abstract words drawn from the made-up long tail
TAIL_SIZE = 200_000
PRIMARY_SHARE = 0.7  # the rest of a paper's runs come from its secondary seed paper
RUN_LENGTHS = (1, 2, 2, 3, 3, 3, 4, 4, 5, 6)  # words copied per run (mean 3.3)
_SYLLABLES = (
    "ka", "ro", "mi", "tel", "zan", "vor", "qui", "lex", "dra", "pho", "neu", "syn", "ta",
    "bri", "gol", "ver", "xi", "mon", "plu", "ser", "den", "fa", "wu", "cor", "ith", "la",
    "ny", "osk", "pre", "rum", "sha", "tor",
)  # fmt: skip


@cache
def seed_items() -> dict[str, list[dict[str, Any]]]:
    """The seed lists as Hugging Face API items, by list date (do not mutate)."""
    data: dict[str, list[dict[str, Any]]] = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    return data


@cache
def seed_papers() -> tuple[Paper, ...]:
    """Every seed paper, parsed the way the bot parses API items."""
    return tuple(p for day, items in seed_items().items() for p in parse_items(items, day))


def arxiv_id(index: int) -> str:
    """A distinct, well-formed new-style arXiv id for each index >= 0 (2301.10000 onwards)."""
    month, number = divmod(index, 90_000)
    year, month = divmod(month, 12)
    return f"{23 + year:02d}{month + 1:02d}.{number + 10_000:05d}"


def unique_items(count: int, first_index: int = 0) -> list[dict[str, Any]]:
    """`count` seed API items, cycling through the seed, each under a fresh arXiv id."""
    pool = [item for items in seed_items().values() for item in items]
    out: list[dict[str, Any]] = []
    for n, item in enumerate(itertools.islice(itertools.cycle(pool), count)):
        new = copy.deepcopy(item)
        new_id = arxiv_id(first_index + n)
        new["paper"]["id"] = new_id
        if isinstance(new.get("thumbnail"), str):
            new["thumbnail"] = new["thumbnail"].replace(item["paper"]["id"], new_id)
        out.append(new)
    return out


def weekdays(start: date, count: int) -> Iterator[date]:
    """`count` consecutive weekdays from `start` (or the Monday after, on a weekend)."""
    day = start
    made = 0
    while made < count:
        if day.weekday() < 5:
            yield day
            made += 1
        day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class _SeedDoc:
    title: list[str]
    abstract: list[str]
    keywords: tuple[str, ...]
    ai_summary: str | None
    organization: str | None


def _made_up_word(rank: int) -> str:
    """A pronounceable non-word, distinct for every rank (bijective base-32 digits)."""
    parts = []
    n = rank + len(_SYLLABLES)  # at least two syllables
    while n:
        n, digit = divmod(n, len(_SYLLABLES))
        parts.append(_SYLLABLES[digit])
    return "".join(parts)


class CorpusGenerator:
    """Makes synthetic papers; the same seed and calls give the same papers."""

    def __init__(self, seed: int = 0) -> None:
        self._rnd = random.Random(seed)
        papers = seed_papers()
        self._docs = [
            _SeedDoc(
                title=p.title.split(),
                abstract=p.abstract.split(),
                keywords=p.ai_keywords,
                ai_summary=p.ai_summary,
                organization=p.organization,
            )
            for p in papers
        ]
        self._author_counts = [max(1, len(p.authors)) for p in papers]
        self._organizations = sorted({p.organization for p in papers if p.organization})
        self._tail = [_made_up_word(r) for r in range(TAIL_SIZE)]
        self._tail_cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(TAIL_SIZE)))
        self._authors, self._author_cum = self._author_pool(papers)

    def _author_pool(self, papers: Sequence[Paper]) -> tuple[list[str], list[float]]:
        """~100k names from the seed's first and last names; a few prolific authors."""
        names = [a.split() for p in papers for a in p.authors]
        first = sorted({n[0] for n in names if len(n) > 1})
        last = sorted({n[-1] for n in names if len(n) > 1})
        initials = [""] + [f" {c}." for c in "ABCDEFGHJKLMNPRSTW"]
        pool = [f"{f}{i} {la}" for f in first for la in last for i in initials]
        self._rnd.shuffle(pool)
        cum = list(itertools.accumulate(1.0 / (r + 1) ** 0.8 for r in range(len(pool))))
        return pool, cum

    def day(self, list_date: date, first_index: int, count: int) -> list[Paper]:
        """One day's list: `count` papers with ids arxiv_id(first_index...)."""
        return [self.paper(first_index + n, list_date) for n in range(count)]

    def paper(self, index: int, list_date: date) -> Paper:
        rnd = self._rnd
        primary, secondary = rnd.sample(self._docs, 2)
        paper_id = arxiv_id(index)
        title_words = self._runs(
            (primary.title, secondary.title, primary.abstract), (0.5, 0.75), TITLE_WORDS
        )
        title_words[0] = title_words[0][:1].upper() + title_words[0][1:]
        abstract_words = self._runs(
            (primary.abstract, secondary.abstract), (PRIMARY_SHARE,), ABSTRACT_WORDS
        )
        for _ in range(round(len(abstract_words) * TAIL_SHARE)):
            word = rnd.choices(self._tail, cum_weights=self._tail_cum)[0]
            abstract_words[rnd.randrange(len(abstract_words))] = word
        keywords = [*primary.keywords, *secondary.keywords[:2]]
        submitted = datetime.combine(list_date, time(), UTC) + timedelta(
            seconds=rnd.randrange(86_400)
        )
        has_repo = rnd.random() < 0.3
        return Paper(
            id=paper_id,
            title=" ".join(title_words),
            abstract=" ".join(abstract_words),
            authors=tuple(
                dict.fromkeys(
                    rnd.choices(
                        self._authors,
                        cum_weights=self._author_cum,
                        k=rnd.choice(self._author_counts),
                    )
                )
            ),
            published_at=datetime.combine(
                list_date - timedelta(days=rnd.randrange(1, 6)), time(), UTC
            ),
            submitted_at=submitted,
            upvotes=int(rnd.lognormvariate(1.5, 1.5)),
            num_comments=int(rnd.expovariate(0.7)),
            ai_summary=primary.ai_summary,
            ai_keywords=tuple(rnd.sample(keywords, min(len(keywords), rnd.randint(3, 8)))),
            github_repo=f"https://github.com/lab{index % 997}/repo{index}" if has_repo else None,
            github_stars=int(rnd.lognormvariate(3, 2)) if has_repo else None,
            thumbnail=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper_id}.png",
            organization=rnd.choice(self._organizations) if rnd.random() < 0.35 else None,
        )

    def _runs(
        self,
        sources: Sequence[list[str]],
        cut_points: Sequence[float],
        length_range: tuple[int, int],
    ) -> list[str]:
        """Copy runs of words until there are enough: runs come from sources[i] where i is
        the number of cut points below a uniform draw."""
        rnd = self._rnd
        length = rnd.randint(*length_range)
        out: list[str] = []
        while len(out) < length:
            draw = rnd.random()
            source = sources[sum(draw >= c for c in cut_points)]
            run = rnd.choice(RUN_LENGTHS)
            start = rnd.randrange(max(1, len(source) - run + 1))
            out.extend(source[start : start + run])
        del out[length:]
        return out

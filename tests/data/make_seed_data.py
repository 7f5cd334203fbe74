"""Build ``seed_days.json`` (fake Daily Papers lists) from the text renderings in ``seeds/``.

Each ``seeds/*.txt`` is a user's copy of one real Daily Papers page: a header ending in a day
("Jan 7"), then per paper a title, its abstract and usually "  • N authors", "·" and the arXiv
date ("Oct 9, 2023", optionally followed by a count). Everything the pages do not carry (ids,
author names, votes, AI keywords, ...) is synthesised deterministically: per-paper random
generators are seeded with the paper title, so re-running gives byte-identical output.

Usage: ``python tests/data/make_seed_data.py [--check]`` (``--check`` fails if the JSON is stale).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import textwrap
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEEDS_DIR = HERE / "seeds"
OUT_PATH = HERE / "seed_days.json"

BASE_YEAR = 2025  # header days carry no year; use this one unless it falls on a weekend
MAX_AUTHORS = 40
THUMBNAIL = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{}.png"


def words(text: str) -> tuple[str, ...]:
    """Split a whitespace-separated word list (keeps long constant lists compact)."""
    return tuple(text.split())


MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
DAY_RE = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2})$")
ARXIV_DATE_RE = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2})(?:, (?P<year>\d{4}))?(?: (?P<extra>\d+))?$"
)
AUTHORS_RE = re.compile(r"^\s*•\s*(?P<n>\d+)\s+authors?\s*$")
DOT_RE = re.compile(r"^\s*·\s*$")
URL_RE = re.compile(r"https?://[^\s,;)\]]+")
WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
SENTENCE_END_RE = re.compile(
    r"(?<!\be\.g)(?<!\bi\.e)(?<!\bal)(?<!\bvs)(?<!\bresp)[.?!]\s+(?=[A-Z(\[])"
)

FIRST_NAMES = words("""
Aditi Alejandro Amara Anders Aylin Beatriz Bo Chiara Chloe Daniel Dmitri Elena Emeka Fatima
Felix Gabriel Hana Haruto Ines Ivan Jakob Jia Jonas Kai Kavya Keisuke Laila Lars Leila Lucas
Mateo Mei Mihail Minseo Nadia Nikhil Noah Olga Omar Priya Rafael Rohan Sakura Samuel Sara
Shreya Sofia Tariq Thomas Valentina Wei Xinyi Yara Yusuf Zhen Zoe Ananya Hugo Julia Ming
""")
LAST_NAMES = words("""
Abebe Achterberg Bianchi Chen Costa Dubois Eriksen Fernandes Fischer Garcia Gupta Haddad Hansen
Ito Iyer Jensen Kang Kowalski Kumar Larsen Li Lindqvist Liu Moreau Nakamura Novak Okafor Park
Petrov Popescu Qureshi Rahman Rossi Sato Schmidt Silva Singh Sokolov Tanaka Tran Vasquez Wang
Weber Wu Xu Yamamoto Yilmaz Zhang Zhao Zielinski Osei Duarte Laurent Berg Horvat Mendez Zhou
""")
# Recurring authors (name, title pattern, slot) so that author search has several hits.
RECURRING_AUTHORS = (
    ("Cengiz Pehlevan", re.compile(r"\b(grokking|lazy|rich)\b", re.I), -1),
    ("Jared Kaplan", re.compile(r"\bscaling laws?\b", re.I), 1),
    ("Lenka Zdeborová", re.compile(r"\b(high-dimensional|large dimensions|sgd)\b", re.I), -1),
)
SUBMITTERS = (
    ("AK", "akhaliq", True, 9541),
    ("Mira Lindqvist", "mlindqvist", False, 212),
    ("Tomás Ferreira", "tomasf", True, 87),
    ("Qian Zhou", "qzhou-ml", False, 35),
    ("Ravi Menon", "ravimenon", False, 14),
)
ORGANIZATIONS = (
    ("northlake-ai", "Northlake AI"),
    ("meridian-research", "Meridian Research Institute"),
    ("aurora-ml", "University of Aurora ML Group"),
    ("kestrel-labs", "Kestrel Labs"),
)
STOPWORDS = frozenset(
    words("""
    a about above across after again against all also although among an and another any are
    as at be because been before being below between both but by can could do does done due
    each either et etc even ever every few for from further given had has have having here
    how however i ie eg if in into is it its itself just less many may might more moreover
    most much must namely near neither no nor not of off often on once one only onto or other
    our ours out over own per rather same several should since so some such than that the
    their them themselves then there thereby therefore these they this those though three
    through thus to too two under until up upon us very via was we well were what when where
    whereas whether which while who whom whose why will with within without would yet you
    paper work works propose proposed proposes show shows shown showing present presents study
    studies studied result results approach approaches method methods new novel use used using
    based provide provides provided first second way ways also find found known general
    specific particular recent recently different various existing key important significant
    significantly able however make makes made consider considered allow allows large small
    demonstrate demonstrates introduce introduces leads lead address obtain obtained
    cannot applied previous towards yields remained improving navigating
    bf cal rm mathbb mathcal mathrm textbf emph leq geq le ge
    """)
)
GENERIC_WORDS = frozenset(
    words(
        "model models learning data performance training network networks task tasks problem "
        "analysis framework theory time number set case cases effect effects"
    )
)


@dataclass
class SeedEntry:
    """One paper as read from a seed file."""

    title: str
    abstract: str = ""
    line: int = 0
    n_authors: int | None = None
    arxiv_date: tuple[int, int, int | None] | None = None  # month, day, year (None: page year)
    extra_count: int | None = None  # a number after the date line (a comment count on HF)
    meta: list[str] = field(default_factory=list)  # kinds of metadata lines, in order


@dataclass
class SeedPage:
    """One seed file: the list's header day and its entries in page order."""

    name: str
    month: int
    day: int
    entries: list[SeedEntry]


@dataclass
class Issues:
    """Deviations found while parsing, grouped for a short report."""

    found: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, source: str, kind: str, where: str) -> None:
        """Record one deviation of a given kind."""
        self.found[(source, kind)].append(where)

    def report(self) -> list[str]:
        """Return one line per (file, kind) with a count and a few examples."""
        lines = []
        for (source, kind), where in sorted(self.found.items()):
            examples = "; ".join(where[:3]) + ("; ..." if len(where) > 3 else "")
            lines.append(f"{source}: {kind}: {len(where)} ({examples})")
        return lines


# ---------------------------------------------------------------- parsing


def parse_seed_file(path: Path, issues: Issues) -> SeedPage:
    """Parse one text rendering into its header day and paper entries."""
    lines = [(n, text.rstrip()) for n, text in enumerate(path.read_text("utf-8").splitlines(), 1)]
    lines = [(n, text) for n, text in lines if text.strip()]
    start = next(i for i, (_, text) in enumerate(lines) if _is_day(text))
    header = [text for _, text in lines[:start]]
    if "Daily Papers" not in header:
        issues.add(path.name, "header lacks the 'Daily Papers' line", repr(header))
    match = DAY_RE.match(lines[start][1])
    assert match is not None
    entries: list[SeedEntry] = []
    for number, text in lines[start + 1 :]:
        if entries or not _is_meta(text):
            _feed_line(entries, number, text)
        else:
            issues.add(path.name, "metadata line before the first title, ignored", f"line {number}")
    for entry in entries:
        _check_entry(path.name, entry, issues)
    return SeedPage(path.name, MONTHS[match["mon"]], int(match["day"]), entries)


def _is_day(text: str) -> bool:
    """Tell whether a line is a bare "Mon D" day."""
    match = DAY_RE.match(text)
    return match is not None and match["mon"] in MONTHS


def _is_meta(text: str) -> bool:
    """Tell whether a line is an author count, a separator dot or an arXiv date."""
    return bool(AUTHORS_RE.match(text) or DOT_RE.match(text) or _arxiv_date(text))


def _arxiv_date(text: str) -> re.Match[str] | None:
    """Match an arXiv date line such as "Oct 9, 2023", "May 15" or "Mar 11, 2021 1"."""
    match = ARXIV_DATE_RE.match(text.strip())
    return match if match and match["mon"] in MONTHS else None


def _feed_line(entries: list[SeedEntry], number: int, text: str) -> None:
    """Attach one non-blank line to the entry list: a new title, an abstract or metadata."""
    if authors := AUTHORS_RE.match(text):
        entries[-1].n_authors = int(authors["n"])
        entries[-1].meta.append("authors")
    elif DOT_RE.match(text):
        entries[-1].meta.append("dot")
    elif date_match := _arxiv_date(text):
        year = int(date_match["year"]) if date_match["year"] else None
        entries[-1].arxiv_date = (MONTHS[date_match["mon"]], int(date_match["day"]), year)
        entries[-1].extra_count = int(date_match["extra"]) if date_match["extra"] else None
        entries[-1].meta.append("date")
    elif entries and not entries[-1].abstract:
        entries[-1].abstract = text.strip()
    else:
        entries.append(SeedEntry(title=" ".join(text.split()), line=number))


def _check_entry(source: str, entry: SeedEntry, issues: Issues) -> None:
    """Record anything about an entry that deviates from the usual five-part layout."""
    where = f"line {entry.line} {entry.title[:40]!r}"
    if not entry.abstract:
        issues.add(source, "no abstract", where)
    elif len(entry.abstract) < 200 or len(entry.title) > 250:
        issues.add(source, "title/abstract lengths look swapped", where)
    if not entry.meta:
        issues.add(source, "no '• N authors'/'·'/date lines", where)
    elif entry.meta != ["authors", "dot", "date"]:
        issues.add(source, f"metadata lines out of order {entry.meta}", where)
    if entry.arxiv_date and entry.arxiv_date[2] is None:
        issues.add(source, "arXiv date without a year (page year assumed)", where)
    if entry.extra_count is not None:
        issues.add(source, "count after the arXiv date (used as numComments)", where)


# ---------------------------------------------------------------- dates and ids


def list_date_for(month: int, day: int) -> date:
    """Put a header day in BASE_YEAR, or in the nearest year where it is a weekday."""
    for offset in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6):
        try:
            candidate = date(BASE_YEAR + offset, month, day)
        except ValueError:  # Feb 29 outside a leap year
            continue
        if candidate.weekday() < 5:
            return candidate
    raise ValueError(f"no weekday year for {month}-{day}")


def resolve_arxiv_date(raw: tuple[int, int, int | None], list_day: date) -> date:
    """Turn a (month, day, year?) arXiv date into a date; year-less ones are in the page year."""
    month, day, year = raw
    if year is not None:
        return date(year, month, day)
    guess = date(list_day.year, month, day)
    return guess if guess <= list_day else date(list_day.year - 1, month, day)


def make_arxiv_id(published: date, rng: random.Random, used: set[str], round_to: int) -> str:
    """Make a unique new-style arXiv id (4 digits up to 1412, 5 after) for a month."""
    yymm = f"{published.year % 100:02d}{published.month:02d}"
    digits = 4 if published < date(2015, 1, 1) else 5
    top = 9999 if digits == 4 else 24999
    number = rng.randint(1, top)
    number = max(round_to, number - number % round_to)
    while (arxiv_id := f"{yymm}.{number:0{digits}d}") in used:
        number = number + round_to if number + round_to <= top else round_to
    used.add(arxiv_id)
    return arxiv_id


def object_id(moment: datetime, salt: str, counter: int = 0) -> str:
    """Make a MongoDB-style 24-hex id: creation time, then stable hash bytes plus a counter."""
    digest = hashlib.sha256(salt.encode()).hexdigest()
    tail = (int(digest[10:16], 16) + counter) % 0x1000000
    return f"{int(moment.timestamp()):08x}{digest[:10]}{tail:06x}"


def iso_z(moment: datetime) -> str:
    """Format an aware UTC datetime the way the HF API does: millisecond precision and "Z"."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- text


def hard_wrap_title(title: str, rng: random.Random) -> str:
    """Wrap a title the arXiv way: continuation lines start with two spaces."""
    width = rng.randint(56, 68)
    return "\n  ".join(textwrap.wrap(title, width, break_long_words=False, break_on_hyphens=False))


def hard_wrap_abstract(abstract: str) -> str:
    """Wrap an abstract at about 80 columns with plain newlines, as arXiv abstracts come."""
    return "\n".join(textwrap.wrap(abstract, 79, break_long_words=False, break_on_hyphens=False))


def first_sentence(text: str, limit: int = 280) -> str:
    """Return the abstract's first sentence (two if the first is a stub), cut to a limit."""
    flat = " ".join(text.split())
    ends = [match.start() + 1 for match in SENTENCE_END_RE.finditer(flat)]
    cut = ends[0] if ends else len(flat)
    if cut < 40 and len(ends) > 1:
        cut = ends[1]
    sentence = flat[:cut]
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return sentence


def _display(word: str) -> str:
    """Keep acronyms and mixed-case parts (SGD, LoRA, KL-constrained), lowercase the rest."""
    parts = word.split("-")
    return "-".join(p if sum(ch.isupper() for ch in p) >= 2 else p.lower() for p in parts)


def _chunks(text: str) -> list[list[str]]:
    """Split text into runs of content words, breaking at stopwords and punctuation."""
    runs: list[list[str]] = []
    for segment in re.split(r"[.,;:!?()\[\]{}\"`]|--|\s-\s", text):
        run: list[str] = []
        for word in WORD_RE.findall(segment):
            if word.lower() in STOPWORDS or len(word) < 2 or word.isdigit():
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(word)
        if run:
            runs.append(run)
    return runs


def _phrase_counts(text: str) -> tuple[Counter[str], dict[str, str], dict[str, int]]:
    """Count 1-3 word content phrases; remember a display form and first position of each."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    first: dict[str, int] = {}
    for run in _chunks(text):
        for size in (1, 2, 3):
            for i in range(len(run) - size + 1):
                words = run[i : i + size]
                key = " ".join(w.lower() for w in words)
                counts[key] += 1
                shown.setdefault(key, " ".join(_display(w) for w in words))
                first.setdefault(key, len(first))
    return counts, shown, first


def pick_keywords(title: str, abstract: str, how_many: int) -> list[str]:
    """Pick salient noun-phrase-like keywords from a title and abstract."""
    counts, shown, first = _phrase_counts(f"{title}. {abstract}")
    title_keys = set(_phrase_counts(title)[0])
    candidates = [k for k in counts if counts[k] >= 2 or k in title_keys]
    scores = {k: _keyword_score(k, counts, candidates, k in title_keys) for k in candidates}
    candidates.sort(key=lambda k: (-scores[k], first[k]))
    chosen: list[str] = []
    for key in candidates:
        words = set(key.replace("-", " ").split())
        if any(
            words <= (other := set(c.replace("-", " ").split())) or other <= words for c in chosen
        ):
            continue
        chosen.append(key)
        if len(chosen) == how_many:
            break
    return [shown[k] for k in chosen]


def _keyword_score(key: str, counts: Counter[str], candidates: list[str], in_title: bool) -> float:
    """Score a phrase C-value style: longer and repeated is better, fragments count less."""
    size = key.count(" ") + 1
    padded = f" {key} "
    containers = [counts[c] for c in candidates if c != key and padded in f" {c} "]
    own = counts[key] - (max(containers) if containers else 0)
    bonus = 2.5 if in_title and (size <= 2 or counts[key] >= 2) else 0.0
    value = max(own, 0.5) * (1 + 0.6 * (size - 1)) + bonus
    return value * (0.3 if size == 1 and key in GENERIC_WORDS else 1)


# ---------------------------------------------------------------- people


def person_user(fullname: str, username: str, is_pro: bool) -> dict[str, Any]:
    """Build the HF user object used for submitters and claimed authors."""
    digest = hashlib.md5(username.encode()).hexdigest()
    return {
        "_id": hashlib.sha256(username.encode()).hexdigest()[:24],
        "avatarUrl": f"/avatars/{digest}.svg",
        "isPro": is_pro,
        "fullname": fullname,
        "user": username,
        "type": "user",
    }


def author_names(title: str, count: int, rng: random.Random) -> list[str]:
    """Pick distinct plausible names, slotting in recurring authors where the title fits."""
    recurring = {name for name, _, _ in RECURRING_AUTHORS}
    names: list[str] = []
    while len(names) < count:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in names and name not in recurring:
            names.append(name)
    free = list(range(count))
    for name, pattern, slot in RECURRING_AUTHORS:
        if not pattern.search(title) or not free:
            continue
        wanted = slot % count
        index = wanted if wanted in free else free[-1]
        names[index] = name
        free.remove(index)
    return names


def build_authors(
    names: list[str], submitted: datetime, paper_id: str, claimed: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Build the authors array; the first author is a claimed user when one is given."""
    authors: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        author: dict[str, Any] = {"_id": object_id(submitted, paper_id, index)}
        if index == 0 and claimed is not None:
            author["user"] = claimed
            author["name"] = name
            author["status"] = "claimed_verified"
            author["statusLastChangedAt"] = iso_z(submitted + timedelta(hours=3, minutes=7))
        else:
            author["name"] = name
        author["hidden"] = False
        authors.append(author)
    return authors


# ---------------------------------------------------------------- items


@dataclass
class Extras:
    """Optional links found in or invented for one paper."""

    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None


def slug_for(title: str) -> str:
    """Make a short repository-style slug from a title."""
    head = title.split(":")[0]
    words = [w.lower() for w in WORD_RE.findall(head) if w.lower() not in STOPWORDS]
    return "-".join(words[:3]) if len(head) > 20 else head.lower().replace(" ", "-")


def find_extras(title: str, abstract: str, rng: random.Random) -> Extras:
    """Take GitHub and project links from the abstract, or invent some for a few papers."""
    urls = [url.rstrip(".") for url in URL_RE.findall(abstract)]
    repos = [u for u in urls if u.startswith(("https://github.com/", "http://github.com/"))]
    pages = [u for u in urls if u not in repos]
    extras = Extras(repos[0] if repos else None, None, pages[0] if pages else None)
    if extras.github_repo is None and rng.random() < 0.15:
        org = rng.choice(ORGANIZATIONS)[0]
        extras.github_repo = f"https://github.com/{org}/{slug_for(title)}"
    if extras.github_repo and rng.random() < 0.85:
        extras.github_stars = int(4000 * rng.random() ** 3)
    if extras.project_page is None and rng.random() < 0.15:
        extras.project_page = f"https://{slug_for(title)}.github.io/"
    return extras


@dataclass
class Slot:
    """Where an entry lands: its list date, rank and index over all items."""

    list_day: date
    rank: int
    day_size: int
    index: int


def build_item(entry: SeedEntry, meta: SeedEntry, slot: Slot, used: set[str]) -> dict[str, Any]:
    """Turn one seed entry into a daily_papers API item (the §2.2 shape)."""
    rng = random.Random(f"paperboy-seed:{entry.title}")
    published = published_date(meta, slot.list_day, rng)
    round_to = 100 if slot.index % 25 == 7 else 10 if slot.index % 10 == 2 else 1
    paper_id = make_arxiv_id(published, rng, used, round_to)
    submitted = datetime.combine(slot.list_day, datetime.min.time(), UTC) + timedelta(
        seconds=int(20 * 3600 * rng.random() ** 2), milliseconds=rng.randint(0, 999)
    )
    title = (
        hard_wrap_title(entry.title, rng)
        if len(entry.title) > 60 and rng.random() < 0.5
        else entry.title
    )
    summary = hard_wrap_abstract(entry.abstract) if rng.random() < 0.6 else entry.abstract
    count = min(meta.n_authors or rng.randint(2, 9), MAX_AUTHORS)
    people = build_people(entry.title, count, submitted, paper_id, rng)
    if slot.index % 13 == 5:  # a few papers carry an extra author hidden from listings
        hidden = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        hidden_id = object_id(submitted, paper_id, count)
        people.authors.append({"_id": hidden_id, "name": hidden, "hidden": True})
    authors, submitter = people.authors, people.submitter
    paper: dict[str, Any] = {
        "id": paper_id,
        "authors": authors,
        "publishedAt": f"{published.isoformat()}T00:00:00.000Z",
        "submittedOnDailyAt": iso_z(submitted),
        "title": title,
        "submittedOnDailyBy": submitter,
        "summary": summary,
        "upvotes": upvotes_for(slot, rng),
        "discussionId": object_id(submitted, paper_id, len(authors)),
    }
    add_optional_fields(paper, entry, slot, rng)
    organization = organization_for(rng)
    if organization:
        paper["organization"] = organization
    item: dict[str, Any] = {
        "paper": paper,
        "publishedAt": paper["submittedOnDailyAt"],
        "title": title,
        "summary": summary,
        "thumbnail": THUMBNAIL.format(paper_id),
        "numComments": comments_for(meta, rng),
        "submittedBy": {**submitter, "followerCount": people.followers},
    }
    if organization:
        item["organization"] = organization
    item["isAuthorParticipating"] = people.participating
    return item


@dataclass
class People:
    """A paper's authors and the user who submitted it to Daily Papers."""

    authors: list[dict[str, Any]]
    submitter: dict[str, Any]
    followers: int
    participating: bool  # the submitter is the (claimed) first author


def build_people(
    title: str, count: int, submitted: datetime, paper_id: str, rng: random.Random
) -> People:
    """Pick author names and a submitter; a quarter of papers are submitted by an author."""
    names = author_names(title, count, rng)
    participating = rng.random() < 0.25
    fullname, username, is_pro, followers = rng.choice(SUBMITTERS)
    if participating:
        fullname, username, is_pro = names[0], _username(names[0]), rng.random() < 0.3
        followers = rng.randint(0, 60)
    submitter = person_user(fullname, username, is_pro)
    authors = build_authors(names, submitted, paper_id, submitter if participating else None)
    return People(authors, submitter, followers, participating)


def _username(name: str) -> str:
    """Derive a Hub-style username from a person's name."""
    first, _, last = name.partition(" ")
    return f"{first.lower()}{last[:1].lower()}" if last else first.lower()


def published_date(meta: SeedEntry, list_day: date, rng: random.Random) -> date:
    """Use the page's arXiv date, or invent one a few days before the list date."""
    if meta.arxiv_date is not None:
        return resolve_arxiv_date(meta.arxiv_date, list_day)
    return list_day - timedelta(days=rng.randint(1, 9))


def upvotes_for(slot: Slot, rng: random.Random) -> int:
    """Give higher-ranked papers more votes, with noise, a cap of 300 and some zeros."""
    if slot.index % 11 == 4:
        return 0
    top = 300 * (1 - slot.rank / (slot.day_size + 1)) ** 1.5
    return min(300, int(top * rng.uniform(0.25, 1.1)))


def comments_for(meta: SeedEntry, rng: random.Random) -> int:
    """Use the count printed after the date, else a small skewed number up to 20."""
    if meta.extra_count is not None:
        return meta.extra_count
    return int(21 * rng.random() ** 3)


def add_optional_fields(
    paper: dict[str, Any], entry: SeedEntry, slot: Slot, rng: random.Random
) -> None:
    """Add the optional links and AI fields in the order the API uses."""
    extras = find_extras(entry.title, entry.abstract, rng)
    has_summary = rng.random() < 0.8
    keywords = pick_keywords(entry.title, entry.abstract, rng.randint(3, 6))
    if extras.project_page:
        paper["projectPage"] = extras.project_page
    if extras.github_repo:
        paper["githubRepo"] = extras.github_repo
    if has_summary:
        paper["ai_summary"] = first_sentence(entry.abstract)
    if has_summary or slot.index % 2 == 0:
        paper["ai_keywords"] = keywords
    if extras.github_stars is not None:
        paper["githubStars"] = extras.github_stars


def organization_for(rng: random.Random) -> dict[str, Any] | None:
    """Attach an organisation to about a third of the papers."""
    if rng.random() >= 0.3:
        return None
    name, fullname = rng.choice(ORGANIZATIONS)
    return {
        "_id": hashlib.sha256(name.encode()).hexdigest()[:24],
        "name": name,
        "fullname": fullname,
        "avatar": f"https://cdn-avatars.huggingface.co/v1/production/uploads/{name}/logo.png",
    }


# ---------------------------------------------------------------- assembly


def title_key(title: str) -> str:
    """Normalise a title for de-duplication."""
    return " ".join(title.split()).casefold()


def build_days(pages: list[SeedPage], issues: Issues) -> dict[str, list[dict[str, Any]]]:
    """Lay the pages out by list date, one item per distinct paper (first list date wins)."""
    dated = sorted(((list_date_for(p.month, p.day), p) for p in pages), key=lambda dp: dp[0])
    metadata: dict[str, SeedEntry] = {}  # any page's author count and date serve all pages
    for _, page in dated:
        for entry in page.entries:
            if entry.meta:
                metadata.setdefault(title_key(entry.title), entry)
    seen: dict[str, tuple[str, SeedEntry]] = {}
    days: dict[str, list[dict[str, Any]]] = {}
    used_ids: set[str] = set()
    index = 0
    for list_day, page in dated:
        kept = [e for e in page.entries if not _seen_before(e, page.name, seen, issues)]
        items = days.setdefault(list_day.isoformat(), [])
        for rank, entry in enumerate(kept, start=1):
            meta = metadata.get(title_key(entry.title), entry)
            if not entry.meta:
                source = "copied from another page" if meta.meta else "synthesised"
                issues.add(page.name, f"missing authors/date {source}", entry.title[:40])
            slot = Slot(list_day, rank, len(kept), index)
            items.append(build_item(entry, meta, slot, used_ids))
            index += 1
    return days


def _seen_before(
    entry: SeedEntry, source: str, seen: dict[str, tuple[str, SeedEntry]], issues: Issues
) -> bool:
    """Track titles across pages; a repeat is dropped (ids stay unique across all days)."""
    key = title_key(entry.title)
    if key not in seen:
        seen[key] = (source, entry)
        return False
    first_source, first = seen[key]
    issues.add(
        source, f"duplicate of an earlier list, dropped (first in {first_source})", entry.title[:40]
    )
    if " ".join(first.abstract.split()) != " ".join(entry.abstract.split()):
        issues.add(source, "duplicate title with a different abstract", entry.title[:40])
    return True


def render(days: dict[str, list[dict[str, Any]]]) -> str:
    """Serialise the days as stable, human-diffable JSON."""
    return json.dumps(dict(sorted(days.items())), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Parse every seed file, write (or check) seed_days.json and report deviations."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the JSON is out of date")
    args = parser.parse_args(argv)
    issues = Issues()
    pages = [parse_seed_file(path, issues) for path in sorted(SEEDS_DIR.glob("*.txt"))]
    days = build_days(pages, issues)
    text = render(days)
    for line in issues.report():
        print(line, file=sys.stderr)
    for day, items in sorted(days.items()):
        print(f"{day}: {len(items)} papers", file=sys.stderr)
    if args.check:
        current = OUT_PATH.read_text("utf-8") if OUT_PATH.exists() else ""
        return 0 if current == text else 1
    OUT_PATH.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

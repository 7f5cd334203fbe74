"""Text analysis: the one reading of words that search, alerts and digest keywords share.

A paper's text (indexed for /search, matched by alerts and digest keywords) and a query's
words go through the same steps, so that whatever one side finds, the other finds too:

1. `words`: case-folded runs of letters and digits; everything else separates words.
2. `plain`: accents dropped (`naïve` -> `naive`, `ﬁ` -> `fi`); a word can only get shorter
   or split in two (`½` -> `1 2`), never join another.
3. `stem`: the Snowball English stemmer (`models` -> `model`, `diffusing` and `diffusion`
   -> `diffus`), plus the plural `s` that Snowball keeps when no vowel comes before it
   but the `u` of `us`: the acronyms of ML abstracts (`LLMs`, `GPUs`, `1990s`).

`analyze` is all three. Stems are for comparing, never for showing: snippets and reasons
quote the original text.
"""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from collections.abc import Collection, Iterable

import Stemmer

from bot.models import Snippet

_WORD = re.compile(r"[^\W_]+")
_WORD_MARKED = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")  # with combining accents
_MARK = re.compile(r"[\u0300-\u036f]")  # a combining accent (rare once composed: NFC)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Non-ASCII characters seen, and whether each only separates words (_only_separates):
# bounded by the characters there are, and a text holds few.
_separates: dict[str, bool] = {}
_VOWEL = re.compile(r"[aeiouy]")
_SPACE = re.compile(r"\s+")
# For ASCII text: letters lower-cased, digits kept, everything else a space.
_ASCII_WORDS = bytes(
    c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122) else 32 for c in range(256)
)
_SENTENCE_END = re.compile(r"[.?!]\s")
_STEMMER = Stemmer.Stemmer("english")
# PyStemmer's own cache (10,000 words) is purged, at some cost, each time it fills; _stems
# below already keeps every stem looked up, so it would only ever hold misses of that one.
_STEMMER.maxCacheSize = 0
# Words; a bounded cache (a paper has ~150 distinct words, a day's list ~10,000). Full, it
# holds ~7 MB; the similarity index's build reads every stored paper, so it does fill.
_CACHE_LIMIT = 50_000


class _StemCache(dict[str, str]):
    """Plain word -> interned stem; a word looked up for the first time is stemmed then
    (`__missing__`), so a text's words are read in one pass whether or not all are cached:
    a day of new papers has new words in most abstracts."""

    def __missing__(self, word: str) -> str:
        if len(self) > _CACHE_LIMIT:
            self.clear()
        found = self[word] = sys.intern(_stem(word))
        return found


_stems = _StemCache()
_plains: dict[str, tuple[str, ...]] = {}  # non-ASCII word -> its plain words

# Changes whenever any step could read a word differently (bump the /1 when a rule here
# changes): the store then rewrites its search index.
ANALYSIS_VERSION = (
    f"words+plain+snowball-english/1 pystemmer {Stemmer.version()}"
    f" unicode {unicodedata.unidata_version}"
)
SNIPPET_WORDS = 14


def normalise_space(text: str | None) -> str:
    """Collapse arXiv hard wraps and runs of white space into single spaces."""
    if not text:
        return ""
    # Most names and keywords are already clean: skip the split (a hot path when parsing).
    if (
        text.isascii()
        and text[0] != " "
        and text[-1] != " "
        and "\n" not in text
        and "  " not in text
        and "\t" not in text
        and "\r" not in text
    ):
        return text
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Case-folded word tokens (letters and digits), as typed: the units a query quotes."""
    if not text.isascii():
        spaced = _spaced(text)
        if spaced is None:
            return _unicode_words(text)
        text = spaced
    # The common case: several times faster than the regex.
    return text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()


def _spaced(text: str) -> str | None:
    """`text` with its non-ASCII characters as spaces, if each of them only ever separates
    words (`—`, `’`, a no-break space; not a letter, digit or accent): its words are then
    the ASCII text's. None if any might be part of a word."""
    for c in set(_NON_ASCII.findall(text)):
        separates = _separates.get(c)
        if separates is None:
            if len(_separates) > _CACHE_LIMIT:
                _separates.clear()
            separates = _separates[c] = _only_separates(c)
        if not separates:
            return None
    return _NON_ASCII.sub(" ", text)


def _only_separates(c: str) -> bool:
    """Whether `c` separates words wherever it stands: neither a word character nor a mark
    (which joins the letter before it), and left as it is by NFC and case folding."""
    return (
        not c.isalnum()
        and not unicodedata.category(c).startswith("M")
        and unicodedata.normalize("NFC", c) == c
        and c.casefold() == c
    )


def _unicode_words(text: str) -> list[str]:
    """`words` of a text with a non-ASCII letter, digit or mark."""
    # Accents stay inside a word, composed or not (and `İ` folds to `i` and a dot above).
    folded = unicodedata.normalize("NFC", text).casefold()
    # Without a combining accent, both patterns find the same words; the plain one is ~3x
    # faster (its alternation costs _WORD_MARKED a step per character).
    return (_WORD_MARKED if _MARK.search(folded) else _WORD).findall(folded)


def plain(word: str) -> tuple[str, ...]:
    """A case-folded word without its accents: usually one word, rarely none or two."""
    if word.isascii():
        return (word,)
    found = _plains.get(word)
    if found is None:
        if len(_plains) > _CACHE_LIMIT:
            _plains.clear()
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)
        )
        found = _plains[word] = tuple(_WORD.findall(bare.casefold()))
    return found


def plain_words(text: str) -> list[str]:
    """`words` without accents: the words `stem` takes."""
    if text.isascii():
        return words(text)
    spaced = _spaced(text)
    if spaced is None:
        return [p for t in _unicode_words(text) for p in plain(t)]
    return words(spaced)


def stem(word: str) -> str:
    """The stem of one plain word (as `plain_words` gives them), interned."""
    return _stems[word]


def _stem(word: str) -> str:
    stemmed: str = _STEMMER.stemWord(word)
    # Snowball keeps the s of `llms`, `cnns`, `gpus` (no vowel before it, or only the u of
    # `us`), the acronym plurals of ML abstracts; the singular would never meet them.
    if len(stemmed) >= 3 and stemmed[-1] == "s" and stemmed[-2] != "s" and stemmed.isascii():
        head = stemmed[:-2] if stemmed[-2] == "u" else stemmed[:-1]
        if not _VOWEL.search(head):
            return stemmed[:-1]
    return stemmed


def analyze(text: str) -> list[str]:
    """The analysed words of a text, in order: what search and alerts compare."""
    return stems_of(plain_words(text))


def analyzed(text: str) -> str:
    """`analyze(text)` joined by single spaces (what the search index holds), in one pass
    over the words."""
    return " ".join(map(_stems.__getitem__, plain_words(text)))


def stems_of(tokens: list[str]) -> list[str]:
    """The stems of plain words (as `plain_words` gives them), in order."""
    return list(map(_stems.__getitem__, tokens))


def analyze_words(tokens: Iterable[str]) -> tuple[str, ...]:
    """The analysed words of a query term's tokens (as `words` split them)."""
    return tuple(stem(p) for t in tokens for p in plain(t))


def snippet(text: str, wanted: Collection[str], size: int = SNIPPET_WORDS) -> Snippet:
    """About `size` words of `text` from around the first word whose analysis is `wanted`.

    Those words are highlighted; the window starts at the beginning of that word's sentence
    when it is near, and `…` marks a cut. Without such a word, the text's first words.
    """
    if text.isascii():
        # `words` splits an ASCII text into the words _WORD finds, lower-cased, each one
        # plain word: its analysis is its stem. Only the words up to the window's end
        # are found again (for where they are).
        tokens = words(text)
        count = len(tokens)
        first = next((i for i, t in enumerate(tokens) if stem(t) in wanted), None)
        upto = min((first or 0) + size + 1, count)
        found = list(itertools.islice(_WORD.finditer(text), upto))

        def hit(i: int) -> bool:
            return stem(tokens[i]) in wanted

    else:
        found = list(_WORD_MARKED.finditer(text))
        count = len(found)

        def hit(i: int) -> bool:
            return any(a in wanted for a in analyze(found[i].group()))

        first = next((i for i in range(count) if hit(i)), None)
    if not count:
        return Snippet()
    start = 0
    if first is not None:
        start = first
        # Back up to the start of the sentence, at most half a window.
        while start > 0 and first - start < size // 2 and not _sentence_starts(text, found, start):
            start -= 1
    end = min(start + size, count)
    parts: list[str] = ["…"] if start > 0 else []
    length = len(parts[0]) if parts else 0
    spans: list[tuple[int, int]] = []
    for i in range(start, end):
        if i > start:  # what stood between two words, on one line
            gap = _SPACE.sub(" ", text[found[i - 1].end() : found[i].start()])
            parts.append(gap)
            length += len(gap)
        word = found[i].group()
        if first is not None and hit(i):
            spans.append((length, length + len(word)))
        parts.append(word)
        length += len(word)
    if end < count:
        parts.append("…")
    return Snippet("".join(parts), tuple(spans))


def _sentence_starts(text: str, found: list[re.Match[str]], i: int) -> bool:
    """True if word i is the first of a sentence (a `.`, `?` or `!` and a space before it)."""
    if i == 0:
        return True
    gap = text[found[i - 1].end() : found[i].start()]
    return bool(_SENTENCE_END.search(gap))


def contains_run(hay: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    """True if `needle` occurs as consecutive items of `hay` (a C-speed index scan)."""
    first, n = needle[0], len(needle)
    i = -1
    try:
        while True:
            i = hay.index(first, i + 1)
            if hay[i : i + n] == needle:
                return True
    except ValueError:
        return False

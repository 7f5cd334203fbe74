"""The common words whose adjacent pairs PostgreSQL indexes (migration 0010): version 1.

A phrase of two common words is the slow one for GIN: it must test every paper holding both
words (tens of thousands at 200k papers). So a paper's `pairs` vector holds 'a~b' only where a
and b are both in PAIR_WORDS, and a phrase asks GIN for those pairs and for its other words
plainly. Indexing every pair cost ~190 GIN entries a paper (ingest 2.5x slower); these cost
~34 on the bench's papers. The list (bench/pair_words.py derives it; a test checks): the
analysed stems in at least 5% of the 147 real Hugging Face papers' titles and abstracts in
tests/data/seed_days.json, less Snowball's English stop words (PostgreSQL's english.stop).

The words are read from migration 0010, which writes them into the `pair_words` table that the
SQL function `search_pairs` reads: one list, in the one place a database gets it from. To
change it, bump PAIR_WORDS_VERSION and add a migration that rewrites `pair_words` and every
row's `pairs` (and read the words from that one).
"""

from importlib import resources

PAIR_WORDS_VERSION = 1
_MIGRATION = "0010_phrase_pairs.sql"
_QUOTE = "$words$"  # the list's dollar quotes in the migration


def _words() -> frozenset[str]:
    migration = resources.files("bot.store.postgres") / "migrations" / _MIGRATION
    text = migration.read_text(encoding="utf-8")
    return frozenset(text.split(_QUOTE)[1].split())


PAIR_WORDS = _words()

-- /search ranks a one-word query by bm25 over all its matches without scoring them all:
-- papers_fts_heads lists, for every word of every paper's title, that paper's bm25 weight
-- for the word alone (bot.store.fts.head_weights: the same column weights and constants as
-- FTS5's bm25), so the best papers for a word are the first rows of its range. A title
-- match counts ten times an abstract match, so the best papers for a word have it in their
-- title (bench/search.py measures how often that holds). Written by the store with
-- papers_fts; filled on open (SQLiteStore._index_search), which deleting the key below asks
-- for. Named papers_fts_* so that `paperboy store copy` leaves it to the target to write.
CREATE TABLE papers_fts_heads (
    stem TEXT NOT NULL,
    weight REAL NOT NULL,
    pk INTEGER NOT NULL,
    -- The weight's parts, to weigh it again against the average length of the day: the
    -- word's weighted count in the paper and the paper's length in tokens.
    freq REAL NOT NULL,
    length INTEGER NOT NULL,
    PRIMARY KEY (stem, weight, pk)
) WITHOUT ROWID;

DELETE FROM meta WHERE key = 'search_analysis';

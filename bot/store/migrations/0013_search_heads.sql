-- /search ranks a broad one-word query by bm25 over all its matches without scoring them
-- all: papers_fts_heads lists, for a word, every paper with it in its title and that
-- paper's bm25 weight for the word alone (bot.store.fts.head_weights: the same column
-- weights and constants as FTS5's bm25), so the best papers for the word are the first
-- rows of its range. A title match counts ten times an abstract match, so the best papers
-- for a word have it in their title (bench/search.py measures how often that holds).
-- Written for a word the first time a search needs them (papers_fts_heads_words lists those
-- words), then kept up by the store with papers_fts; emptied when papers_fts is written
-- again on open. Named papers_fts_* so that `paperboy store copy` leaves it to the target.
CREATE TABLE papers_fts_heads (
    stem TEXT NOT NULL,
    weight REAL NOT NULL,
    pk INTEGER NOT NULL,
    -- The weight's parts, to weigh it again against the average length of the day: the
    -- word's weighted count in the paper and the paper's length in tokens (-1 for both:
    -- written from FTS5's bm25, the weight is read as it is).
    freq REAL NOT NULL,
    length INTEGER NOT NULL,
    PRIMARY KEY (stem, weight, pk)
) WITHOUT ROWID;

CREATE TABLE papers_fts_heads_words (stem TEXT PRIMARY KEY) WITHOUT ROWID;

-- Author credits lose their name and surname indexes: each credit put a row at a random
-- place in both (two NOCASE B-trees), the largest cost of an ingest after the text itself
-- (bench/README, issue 16). Autocomplete and find_author now find the papers that may credit
-- a name through papers_fts_authors (FTS5, rowid = papers.pk, the paper's authors one a
-- line, as papers.authors holds them), then read those papers' credits by pk. FTS5 writes
-- a day's rows as one sorted segment instead of a page per credit.
-- The credits are kept WITHOUT ROWID, by (paper_pk, position): one B-tree instead of two.
CREATE TABLE author_credits_by_pk (
    paper_pk INTEGER NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    position INTEGER NOT NULL,                 -- 1-based, among the visible authors
    name     TEXT NOT NULL COLLATE NOCASE,
    surname  TEXT NOT NULL COLLATE NOCASE,     -- the name's last word (autocomplete)
    hf_user  TEXT COLLATE NOCASE,              -- the HF account that claimed it, if any
    PRIMARY KEY (paper_pk, position)
) WITHOUT ROWID;
INSERT INTO author_credits_by_pk (paper_pk, position, name, surname, hf_user)
SELECT paper_pk, position, name, surname, hf_user FROM author_credits;
DROP TABLE author_credits;
ALTER TABLE author_credits_by_pk RENAME TO author_credits;
CREATE INDEX author_credits_user ON author_credits (hf_user) WHERE hf_user IS NOT NULL;

-- No content of its own: a row is deleted by giving the authors it was written with.
-- unicode61 without removing accents: a name that starts with a prefix (NOCASE) holds the
-- prefix's words, the last as a prefix; '1 2' keeps short prefixes ("Wei L") cheap.
-- Named papers_fts_* so that `paperboy store copy` leaves it to the target, which writes
-- it again with papers_fts.
CREATE VIRTUAL TABLE papers_fts_authors USING fts5 (
    authors,
    content = '',
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1 2'
);
INSERT INTO papers_fts_authors (rowid, authors) SELECT pk, authors FROM papers WHERE authors != '';

-- Search finds words in vectors of one field kind each, derived by PostgreSQL from the
-- store's weighted `search` vector (so the write path is unchanged): `text_words` holds the
-- title's, keywords' and abstract's positions (weights A, B, D), `author_words` the authors'
-- (C). A query then needs no weight restriction, and GIN answers a plain word from the index
-- alone, with no recheck of each match against its stored vector. `search` ranks matches.
ALTER TABLE papers
    ADD COLUMN text_words TSVECTOR GENERATED ALWAYS AS (ts_filter(search, '{a,b,d}')) STORED,
    ADD COLUMN author_words TSVECTOR GENERATED ALWAYS AS (ts_filter(search, '{c}')) STORED;
CREATE INDEX papers_text_words ON papers USING gin (text_words);
CREATE INDEX papers_author_words ON papers USING gin (author_words);
DROP INDEX papers_search;

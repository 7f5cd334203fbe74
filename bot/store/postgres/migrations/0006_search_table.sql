-- Search reads a narrow table of its own, `paper_search`: one row per paper with its first list
-- date and its weighted `search` vector (kept inline, so ranking reads it from the row it has
-- already visited: about four rows a page instead of two ~3.4 KB paper rows, with the vectors
-- in TOAST). A trigger on `papers` keeps it equal to `papers.search`/`list_date`, so every
-- write path (ingest, refresh, re-indexing, `store copy`) stays as it was.
--
-- GIN indexes the matching vectors as expressions of `search` (nothing more is stored): the
-- title's, keywords' and abstract's positions (weights A, B, D) and the authors' (C). The text
-- one also holds two "block" lexemes per paper, '#13_' || pk >> 13 and '#15_' || pk >> 15
-- (analysed words never hold a '#'), so a search reading the newest pks can ask GIN for
-- `word & ('#13_23' | '#13_24')`: GIN walks those blocks' postings and skips through the
-- word's, instead of building a bitmap of all of a common word's matches
-- (bot/store/postgres/fts.py, bucket_tsquery).
CREATE TABLE paper_search (
    pk        BIGINT PRIMARY KEY REFERENCES papers (pk) ON DELETE CASCADE,
    list_date DATE,
    search    TSVECTOR NOT NULL
);
ALTER TABLE paper_search ALTER COLUMN search SET STORAGE MAIN;

CREATE FUNCTION paper_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO paper_search (pk, list_date, search) VALUES (NEW.pk, NEW.list_date, NEW.search)
    ON CONFLICT (pk) DO UPDATE SET list_date = excluded.list_date, search = excluded.search;
    RETURN NULL;
END
$$;
CREATE TRIGGER papers_search_insert AFTER INSERT ON papers
    FOR EACH ROW EXECUTE FUNCTION paper_search_sync();
CREATE TRIGGER papers_search_update AFTER UPDATE OF search, list_date ON papers
    FOR EACH ROW
    WHEN (OLD.search IS DISTINCT FROM NEW.search OR OLD.list_date IS DISTINCT FROM NEW.list_date)
    EXECUTE FUNCTION paper_search_sync();

INSERT INTO paper_search (pk, list_date, search) SELECT pk, list_date, search FROM papers;
CREATE INDEX paper_search_text ON paper_search USING gin ((
    ts_filter(search, '{a,b,d}')
    || ('''#13_' || (pk >> 13) || ''' ''#15_' || (pk >> 15) || '''')::tsvector));
CREATE INDEX paper_search_authors ON paper_search USING gin ((ts_filter(search, '{c}')));

DROP INDEX papers_text_words;
DROP INDEX papers_author_words;
ALTER TABLE papers DROP COLUMN text_words, DROP COLUMN author_words;

-- Phrases through GIN. A phrase was asked of GIN as all of its words, and `search @@ phrase`
-- was then tested on every paper holding them: for a phrase of two common words ("linear
-- models") that is tens of thousands of rows to read and decompress for a window of 2,000.
-- Now each paper also has a `pairs` vector: one lexeme 'a~b' for every two words at adjacent
-- text positions (weights A, B, D) of its `search` vector, with no positions, and the text
-- GIN index holds them too; a phrase asks GIN for its pairs (bot/store/postgres/fts.py), so
-- a phrase of two words finds exactly its papers and the exact test runs on those.
--
-- The store writes `pairs` with `search` (from the same positions, in Python: this function
-- costs ~0.5 ms a paper). A papers row whose `pairs` is NULL (rows stored before this
-- migration, or written by a process that does not know the column) gets them derived here,
-- as does one whose `search` changed while its `pairs` did not. `pairs` is kept out of line
-- in paper_search (STORAGE EXTERNAL): only GIN reads it, when a row is written, so the rows
-- a search visits stay as narrow as before.
CREATE FUNCTION search_pairs(v tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_to_tsvector(array_agg(DISTINCT a.lexeme || '~' || b.lexeme)), '')
    FROM (SELECT w.lexeme, p FROM unnest(ts_filter(v, '{a,b,d}')) w, unnest(w.positions) p) a
    JOIN (SELECT w.lexeme, p FROM unnest(ts_filter(v, '{a,b,d}')) w, unnest(w.positions) p) b
        ON b.p = a.p + 1
$$;

ALTER TABLE papers ADD COLUMN pairs TSVECTOR;
ALTER TABLE paper_search ADD COLUMN pairs TSVECTOR NOT NULL DEFAULT '';
ALTER TABLE paper_search ALTER COLUMN pairs SET STORAGE EXTERNAL;

CREATE OR REPLACE FUNCTION paper_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pairs tsvector := NEW.pairs;
BEGIN
    IF pairs IS NULL OR (TG_OP = 'UPDATE' AND OLD.search IS DISTINCT FROM NEW.search
                         AND OLD.pairs IS NOT DISTINCT FROM NEW.pairs) THEN
        pairs := search_pairs(NEW.search);
    END IF;
    INSERT INTO paper_search (pk, list_date, search, pairs)
    VALUES (NEW.pk, NEW.list_date, NEW.search, pairs)
    ON CONFLICT (pk) DO UPDATE
        SET list_date = excluded.list_date, search = excluded.search, pairs = excluded.pairs;
    RETURN NULL;
END
$$;
DROP TRIGGER papers_search_update ON papers;
CREATE TRIGGER papers_search_update AFTER UPDATE OF search, list_date, pairs ON papers
    FOR EACH ROW
    WHEN (OLD.search IS DISTINCT FROM NEW.search OR OLD.list_date IS DISTINCT FROM NEW.list_date
          OR OLD.pairs IS DISTINCT FROM NEW.pairs)
    EXECUTE FUNCTION paper_search_sync();

DROP INDEX paper_search_text;
UPDATE paper_search SET pairs = search_pairs(search);
CREATE INDEX paper_search_text ON paper_search USING gin ((
    ts_filter(search, '{a,b,d}') || pairs
    || ('''#13_' || (pk >> 13) || ''' ''#15_' || (pk >> 15) || '''')::tsvector));

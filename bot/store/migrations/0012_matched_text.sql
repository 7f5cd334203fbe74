-- The matchable text (title, abstract, authors, AI keywords) a paper had when it was last
-- matched against the alerts, kept by the write that changes it (or that marks the paper to
-- be matched again for its upvotes) and deleted by the re-match that marks it matched: a
-- re-match queues only what the new text matches and this text did not.
CREATE TABLE matched_text (
    paper_pk INTEGER PRIMARY KEY REFERENCES papers (pk) ON DELETE CASCADE,
    title    TEXT NOT NULL,
    abstract TEXT NOT NULL,
    authors  TEXT NOT NULL,                    -- one per line, as in papers
    keywords TEXT NOT NULL                     -- one per line, as in papers
);

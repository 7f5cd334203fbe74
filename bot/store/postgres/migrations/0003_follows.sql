-- The SQLite store's migration 0011, in PostgreSQL's types: who wrote each paper, in order,
-- with the Hugging Face account that claimed each credit (written at ingest), and the
-- authors each person follows. SQLite compares these names and accounts with NOCASE; here
-- the store compares lower(...) and the indexes are on those expressions.
CREATE TABLE author_credits (
    paper_pk BIGINT NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    position INTEGER NOT NULL,                 -- 1-based, among the visible authors
    name     TEXT NOT NULL,
    surname  TEXT NOT NULL,                    -- the name's last word (autocomplete)
    hf_user  TEXT,                             -- the HF account that claimed it, if any
    PRIMARY KEY (paper_pk, position)
);
-- Prefixes (LIKE 'abc%') and equality, in any database locale.
CREATE INDEX author_credits_name ON author_credits (lower(name) text_pattern_ops);
CREATE INDEX author_credits_surname ON author_credits (lower(surname) text_pattern_ops);
CREATE INDEX author_credits_user ON author_credits (lower(hf_user)) WHERE hf_user IS NOT NULL;

-- The papers stored so far: their authors' names, no accounts (those come with new lists).
INSERT INTO author_credits (paper_pk, position, name, surname, hf_user)
SELECT p.pk, a.position, a.name, regexp_replace(a.name, '^.* ', ''), NULL
FROM papers p, unnest(string_to_array(p.authors, E'\n')) WITH ORDINALITY AS a (name, position)
WHERE p.authors <> '' AND a.name <> '';

-- A followed author: by HF account where one claimed the papers (hf_user), else by name.
CREATE TABLE follows (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    hf_user    TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX follows_by_user ON follows (user_id, lower(hf_user)) WHERE hf_user IS NOT NULL;
CREATE UNIQUE INDEX follows_by_name ON follows (user_id, lower(name)) WHERE hf_user IS NULL;
CREATE INDEX follows_user ON follows (lower(hf_user)) WHERE hf_user IS NOT NULL;
CREATE INDEX follows_name ON follows (lower(name)) WHERE hf_user IS NULL;

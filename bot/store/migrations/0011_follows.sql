-- Who wrote each paper, in order, with the Hugging Face account that claimed each credit
-- (written at ingest; the old unused authors tables were dropped in 0006), and the authors
-- each person follows.
CREATE TABLE author_credits (
    paper_pk INTEGER NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    position INTEGER NOT NULL,                 -- 1-based, among the visible authors
    name     TEXT NOT NULL COLLATE NOCASE,
    surname  TEXT NOT NULL COLLATE NOCASE,     -- the name's last word (autocomplete)
    hf_user  TEXT COLLATE NOCASE,              -- the HF account that claimed it, if any
    PRIMARY KEY (paper_pk, position)
);
CREATE INDEX author_credits_name ON author_credits (name);
CREATE INDEX author_credits_surname ON author_credits (surname);
CREATE INDEX author_credits_user ON author_credits (hf_user) WHERE hf_user IS NOT NULL;

-- The papers stored so far: their authors' names, no accounts (those come with new lists).
WITH RECURSIVE split (pk, position, name, rest) AS (
    SELECT pk, 0, NULL, authors || char(10) FROM papers WHERE authors != ''
    UNION ALL
    SELECT pk, position + 1, substr(rest, 1, instr(rest, char(10)) - 1),
           substr(rest, instr(rest, char(10)) + 1)
    FROM split WHERE rest != ''
)
INSERT INTO author_credits (paper_pk, position, name, surname, hf_user)
SELECT pk, position, name,
       substr(name, length(rtrim(name, replace(name, ' ', ''))) + 1), NULL
FROM split WHERE position > 0 AND name != '';

-- A followed author: by HF account where one claimed the papers (hf_user), else by name.
CREATE TABLE follows (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    name       TEXT NOT NULL COLLATE NOCASE,
    hf_user    TEXT COLLATE NOCASE,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX follows_by_user ON follows (user_id, hf_user) WHERE hf_user IS NOT NULL;
CREATE UNIQUE INDEX follows_by_name ON follows (user_id, name) WHERE hf_user IS NULL;
CREATE INDEX follows_user ON follows (hf_user) WHERE hf_user IS NOT NULL;
CREATE INDEX follows_name ON follows (name) WHERE hf_user IS NULL;

-- Personal libraries (papers a person saved) and each server's shared reading list. Both name
-- stored papers only: a paper is looked up (and stored) before anyone can save it.
CREATE TABLE library (
    seq      INTEGER PRIMARY KEY,             -- the order papers were saved in
    user_id  INTEGER NOT NULL,
    paper_id TEXT NOT NULL REFERENCES papers (id),
    saved_at TEXT NOT NULL,
    UNIQUE (user_id, paper_id)
);

CREATE TABLE reading_list (
    seq      INTEGER PRIMARY KEY,             -- the order entries were added in
    guild_id INTEGER NOT NULL,
    paper_id TEXT NOT NULL REFERENCES papers (id),
    added_by INTEGER NOT NULL,
    note     TEXT NOT NULL DEFAULT '',        -- plain text, escaped when shown
    added_at TEXT NOT NULL,
    UNIQUE (guild_id, paper_id)
);

-- Papers, their authors, the daily lists they appeared on, and full-text search.
CREATE TABLE papers (
    pk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,          -- arXiv id, versionless, always text
    title         TEXT NOT NULL,
    abstract      TEXT NOT NULL DEFAULT '',
    authors       TEXT NOT NULL DEFAULT '',      -- names, one per line (FTS and display)
    keywords      TEXT NOT NULL DEFAULT '',      -- ai_keywords, one per line
    published_at  TEXT,                          -- arXiv publication time, ISO-8601 UTC
    submitted_at  TEXT,                          -- put on Daily Papers, ISO-8601 UTC
    upvotes       INTEGER NOT NULL DEFAULT 0,
    num_comments  INTEGER,
    ai_summary    TEXT,
    github_repo   TEXT,
    github_stars  INTEGER,
    project_page  TEXT,
    thumbnail     TEXT,
    organization  TEXT,
    list_date     TEXT,                          -- first daily list it appeared on
    first_seen_at TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX papers_list_date ON papers (list_date, upvotes);
CREATE INDEX papers_upvotes ON papers (upvotes);

CREATE TABLE authors (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);

CREATE TABLE paper_authors (
    paper_pk  INTEGER NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    author_id INTEGER NOT NULL REFERENCES authors (id),
    PRIMARY KEY (paper_pk, position)
);
CREATE INDEX paper_authors_author ON paper_authors (author_id);

CREATE TABLE listings (
    list_date TEXT NOT NULL,
    paper_pk  INTEGER NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    rank      INTEGER NOT NULL,                  -- 1-based position on HF's list that day
    PRIMARY KEY (list_date, paper_pk)
);
CREATE INDEX listings_paper ON listings (paper_pk);

CREATE TABLE scrape_runs (
    id          INTEGER PRIMARY KEY,
    list_date   TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    ok          INTEGER NOT NULL,
    found       INTEGER NOT NULL DEFAULT 0,
    new         INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX scrape_runs_finished ON scrape_runs (finished_at);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE VIRTUAL TABLE papers_fts USING fts5 (
    title, abstract, keywords, authors,
    content = 'papers', content_rowid = 'pk',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
    INSERT INTO papers_fts (rowid, title, abstract, keywords, authors)
    VALUES (new.pk, new.title, new.abstract, new.keywords, new.authors);
END;
CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, abstract, keywords, authors)
    VALUES ('delete', old.pk, old.title, old.abstract, old.keywords, old.authors);
END;
CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, abstract, keywords, authors ON papers BEGIN
    INSERT INTO papers_fts (papers_fts, rowid, title, abstract, keywords, authors)
    VALUES ('delete', old.pk, old.title, old.abstract, old.keywords, old.authors);
    INSERT INTO papers_fts (rowid, title, abstract, keywords, authors)
    VALUES (new.pk, new.title, new.abstract, new.keywords, new.authors);
END;

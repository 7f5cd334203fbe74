-- The whole schema of the SQLite store's migrations 0001-0006, in PostgreSQL's types:
-- snowflakes BIGINT, times timestamptz, dates date. Search vectors are written by the store
-- (bot/store/postgres/fts.py), never by PostgreSQL's own parser.
CREATE TABLE papers (
    pk             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,          -- arXiv id, versionless, always text
    title          TEXT NOT NULL,
    abstract       TEXT NOT NULL DEFAULT '',
    authors        TEXT NOT NULL DEFAULT '',      -- names, one per line
    keywords       TEXT NOT NULL DEFAULT '',      -- ai_keywords, one per line
    published_at   TIMESTAMPTZ,
    submitted_at   TIMESTAMPTZ,
    upvotes        INTEGER NOT NULL DEFAULT 0,
    num_comments   INTEGER,
    ai_summary     TEXT,
    github_repo    TEXT,
    github_stars   INTEGER,
    project_page   TEXT,
    thumbnail      TEXT,
    organization   TEXT,
    list_date      DATE,                          -- first daily list it appeared on
    first_seen_at  TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    alerts_matched BOOLEAN NOT NULL DEFAULT false,
    search         TSVECTOR NOT NULL DEFAULT '',  -- analysed words, weighted by field
    title_words    TSVECTOR NOT NULL DEFAULT ''   -- the title's plain words, for prefixes
);
CREATE INDEX papers_list_date ON papers (list_date, upvotes);
CREATE INDEX papers_upvotes ON papers (upvotes);
CREATE INDEX papers_unmatched ON papers (pk) WHERE NOT alerts_matched;
CREATE INDEX papers_search ON papers USING gin (search);
CREATE INDEX papers_title_words ON papers USING gin (title_words);

CREATE TABLE listings (
    list_date DATE NOT NULL,
    paper_pk  BIGINT NOT NULL REFERENCES papers (pk) ON DELETE CASCADE,
    rank      INTEGER NOT NULL,                   -- 1-based position on HF's list that day
    PRIMARY KEY (list_date, paper_pk)
);
CREATE INDEX listings_paper ON listings (paper_pk);

CREATE TABLE scrape_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_date   DATE NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    ok          BOOLEAN NOT NULL,
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

CREATE TABLE digest_subscriptions (
    channel_id     BIGINT PRIMARY KEY,
    guild_id       BIGINT NOT NULL,
    post_time      TEXT NOT NULL,                 -- HH:MM in `timezone`
    timezone       TEXT NOT NULL,                 -- IANA name
    top            INTEGER NOT NULL,
    min_upvotes    INTEGER NOT NULL DEFAULT 0,
    keywords       TEXT NOT NULL DEFAULT '',
    threads        BOOLEAN NOT NULL DEFAULT false,
    created_at     TIMESTAMPTZ NOT NULL,
    failing_reason TEXT,
    failing_since  TIMESTAMPTZ
);
CREATE INDEX digest_subscriptions_guild ON digest_subscriptions (guild_id);

CREATE TABLE digest_deliveries (
    channel_id  BIGINT NOT NULL,
    list_date   DATE NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    error       TEXT,
    PRIMARY KEY (channel_id, list_date)
);

CREATE TABLE digest_parts (
    channel_id BIGINT NOT NULL,
    list_date  DATE NOT NULL,
    part       INTEGER NOT NULL,
    payload    TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    message_id BIGINT,
    PRIMARY KEY (channel_id, list_date, part),
    FOREIGN KEY (channel_id, list_date) REFERENCES digest_deliveries (channel_id, list_date)
        ON DELETE CASCADE
);

CREATE TABLE alerts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    query      TEXT NOT NULL,
    deliver    TEXT NOT NULL CHECK (deliver IN ('dm', 'here')),
    channel_id BIGINT,
    guild_id   BIGINT,
    muted      BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX alerts_user ON alerts (user_id);

CREATE TABLE alert_users (
    user_id           BIGINT PRIMARY KEY,
    paused            BOOLEAN NOT NULL DEFAULT false,
    dm_blocked        TEXT,
    dm_block_notified BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE alert_guilds (
    guild_id         BIGINT PRIMARY KEY,
    channel_delivery BOOLEAN NOT NULL DEFAULT true
);

CREATE TABLE alert_outbox (
    user_id         BIGINT NOT NULL,
    paper_id        TEXT NOT NULL,
    alert_id        BIGINT NOT NULL,
    reason          TEXT NOT NULL,
    target          TEXT NOT NULL,                -- 'dm' or 'channel:<id>'
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'dropped')),
    batch           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    queued_at       TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    PRIMARY KEY (user_id, paper_id)
);
CREATE INDEX alert_outbox_pending ON alert_outbox (state, user_id)
    WHERE state IN ('queued', 'sending');

-- Alert changes, numbered in commit order (writers take a lock before numbering one).
CREATE TABLE alert_changes (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('alert', 'user', 'guild')),
    key        BIGINT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE guild_settings (
    guild_id          BIGINT PRIMARY KEY,
    health_channel_id BIGINT
);

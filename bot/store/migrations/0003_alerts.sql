-- Personal keyword alerts, who receives them how, and the delivery outbox.
CREATE TABLE alerts (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    query      TEXT NOT NULL,
    deliver    TEXT NOT NULL CHECK (deliver IN ('dm', 'here')),
    channel_id INTEGER,                     -- for deliver = 'here'
    guild_id   INTEGER,
    muted      INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX alerts_user ON alerts (user_id);

CREATE TABLE alert_users (
    user_id            INTEGER PRIMARY KEY,
    paused             INTEGER NOT NULL DEFAULT 0,
    dm_blocked         TEXT,                -- why Discord refused a DM (50007), if it did
    dm_block_notified  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE alert_guilds (
    guild_id         INTEGER PRIMARY KEY,
    channel_delivery INTEGER NOT NULL DEFAULT 1   -- may alerts post in this server's channels?
);

-- Papers not yet matched against the alerts. A paper is matched once, when it first arrives;
-- keeping the mark in the store means a crash between storing and matching loses nothing.
ALTER TABLE papers ADD COLUMN alerts_matched INTEGER NOT NULL DEFAULT 0;
UPDATE papers SET alerts_matched = 1;
CREATE INDEX papers_unmatched ON papers (pk) WHERE alerts_matched = 0;

-- One row per (user, paper): at most one delivery, however many of the user's alerts match.
CREATE TABLE alert_outbox (
    user_id         INTEGER NOT NULL,
    paper_id        TEXT NOT NULL,
    alert_id        INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    target          TEXT NOT NULL,           -- 'dm' or 'channel:<id>'
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'dropped')),
    batch           TEXT,                    -- the nonce of the message carrying it
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    queued_at       TEXT NOT NULL,
    sent_at         TEXT,
    PRIMARY KEY (user_id, paper_id)
);
CREATE INDEX alert_outbox_pending ON alert_outbox (state, user_id) WHERE state IN ('queued', 'sending');

-- A paper's life after its list day: upvote history, rising alerts, code watches, rising
-- channels and their outbox.

-- Upvotes as each refresh saw them: at most one point per paper per refresh (its time),
-- pruned after 30 days.
CREATE TABLE upvote_history (
    paper_id TEXT NOT NULL,
    at       TEXT NOT NULL,
    upvotes  INTEGER NOT NULL,
    PRIMARY KEY (paper_id, at)
) WITHOUT ROWID;
CREATE INDEX upvote_history_at ON upvote_history (at);

-- A rising alert delivers a match only once the paper has this many upvotes (0: at once).
ALTER TABLE alerts ADD COLUMN min_upvotes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX alerts_min_upvotes ON alerts (min_upvotes) WHERE min_upvotes > 0;

-- "Tell me when code is out": one watch per (person, paper). When the paper has a GitHub
-- repository, one notice goes to the alert outbox (paper_id '<id>#code', alert_id 0) and the
-- watch is marked notified. Watches end 90 days after they were made.
CREATE TABLE code_watches (
    user_id     INTEGER NOT NULL,
    paper_id    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    notified_at TEXT,
    PRIMARY KEY (user_id, paper_id)
);
CREATE INDEX code_watches_waiting ON code_watches (paper_id) WHERE notified_at IS NULL;

-- Channels that get each recent paper once it reaches `threshold` upvotes.
CREATE TABLE rising_channels (
    channel_id INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    threshold  INTEGER NOT NULL,
    keywords   TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

-- One row per (channel, paper), ever: planned (payload and nonce) before the send, so a
-- resend after a crash carries the same nonce and Discord posts it once.
CREATE TABLE rising_posts (
    channel_id INTEGER NOT NULL,
    paper_id   TEXT NOT NULL,
    payload    TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'sending' CHECK (state IN ('sending', 'sent', 'dropped')),
    message_id INTEGER,
    planned_at TEXT NOT NULL,
    PRIMARY KEY (channel_id, paper_id)
);
CREATE INDEX rising_posts_sending ON rising_posts (channel_id) WHERE state = 'sending';

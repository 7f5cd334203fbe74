-- Digest subscriptions (one row per channel) and the delivery outbox.
CREATE TABLE digest_subscriptions (
    channel_id     INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL,
    post_time      TEXT NOT NULL,                 -- HH:MM in `timezone`
    timezone       TEXT NOT NULL,                 -- IANA name
    top            INTEGER NOT NULL,
    min_upvotes    INTEGER NOT NULL DEFAULT 0,
    keywords       TEXT NOT NULL DEFAULT '',      -- query language; '' = no filter
    threads        INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    failing_reason TEXT,                          -- set when the channel is gone or forbidden
    failing_since  TEXT
);
CREATE INDEX digest_subscriptions_guild ON digest_subscriptions (guild_id);

-- One row per (channel, list date) ever attempted: at most one digest per list per channel.
CREATE TABLE digest_deliveries (
    channel_id  INTEGER NOT NULL,
    list_date   TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    error       TEXT,
    PRIMARY KEY (channel_id, list_date)
);

-- The planned messages of a delivery, rendered once: a resumed digest sends the same parts.
CREATE TABLE digest_parts (
    channel_id INTEGER NOT NULL,
    list_date  TEXT NOT NULL,
    part       INTEGER NOT NULL,
    payload    TEXT NOT NULL,                     -- JSON: content, embeds
    nonce      TEXT NOT NULL,
    message_id INTEGER,                           -- set once Discord has it
    PRIMARY KEY (channel_id, list_date, part),
    FOREIGN KEY (channel_id, list_date) REFERENCES digest_deliveries (channel_id, list_date)
        ON DELETE CASCADE
);

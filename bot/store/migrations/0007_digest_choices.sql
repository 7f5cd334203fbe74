-- Digest choices: daily or weekly, cards or compact; the outbox keyed by period.
ALTER TABLE digest_subscriptions ADD COLUMN frequency TEXT NOT NULL DEFAULT 'daily'
    CHECK (frequency IN ('daily', 'weekly'));
ALTER TABLE digest_subscriptions ADD COLUMN weekday INTEGER NOT NULL DEFAULT 0
    CHECK (weekday BETWEEN 0 AND 6);                -- 0 = Monday; weekly digests only
ALTER TABLE digest_subscriptions ADD COLUMN style TEXT NOT NULL DEFAULT 'cards'
    CHECK (style IN ('cards', 'compact'));
-- When the channel got its current frequency: a digest scheduled before that is not due.
ALTER TABLE digest_subscriptions ADD COLUMN frequency_since TEXT;
UPDATE digest_subscriptions SET frequency_since = created_at;

-- One row per (channel, period kind, period start): a weekly digest starting on a date can
-- never collide with the daily digest of that date's list.
CREATE TABLE digest_deliveries_new (
    channel_id  INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('day', 'week')),
    list_date   TEXT NOT NULL,                    -- the list's date, or the week's first day
    state       TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    error       TEXT,
    PRIMARY KEY (channel_id, kind, list_date)
);
INSERT INTO digest_deliveries_new
    SELECT channel_id, 'day', list_date, state, started_at, finished_at, error
    FROM digest_deliveries;

CREATE TABLE digest_parts_new (
    channel_id INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    list_date  TEXT NOT NULL,
    part       INTEGER NOT NULL,
    payload    TEXT NOT NULL,                     -- JSON: content, embeds
    nonce      TEXT NOT NULL,
    message_id INTEGER,                           -- set once Discord has it
    PRIMARY KEY (channel_id, kind, list_date, part),
    FOREIGN KEY (channel_id, kind, list_date)
        REFERENCES digest_deliveries_new (channel_id, kind, list_date) ON DELETE CASCADE
);
INSERT INTO digest_parts_new
    SELECT channel_id, 'day', list_date, part, payload, nonce, message_id FROM digest_parts;

DROP TABLE digest_parts;
DROP TABLE digest_deliveries;
-- Renaming also renames the reference in digest_parts_new's foreign key.
ALTER TABLE digest_deliveries_new RENAME TO digest_deliveries;
ALTER TABLE digest_parts_new RENAME TO digest_parts;

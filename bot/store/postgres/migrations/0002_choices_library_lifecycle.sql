-- The SQLite store's migrations 0007-0010, in PostgreSQL's types: digest choices and the
-- digest outbox keyed by period, libraries and reading lists, a paper's submitter and media,
-- and a paper's life after its list day (upvote history, rising alerts, code watches, rising
-- channels and their outbox).

-- 0007: daily or weekly, cards or compact.
ALTER TABLE digest_subscriptions
    ADD COLUMN frequency TEXT NOT NULL DEFAULT 'daily' CHECK (frequency IN ('daily', 'weekly')),
    ADD COLUMN weekday INTEGER NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6),  -- 0 = Monday
    ADD COLUMN style TEXT NOT NULL DEFAULT 'cards' CHECK (style IN ('cards', 'compact')),
    -- When the channel got its current frequency: a digest scheduled before that is not due.
    ADD COLUMN frequency_since TIMESTAMPTZ;
UPDATE digest_subscriptions SET frequency_since = created_at;

-- One delivery per (channel, period kind, period start): a weekly digest starting on a date
-- never collides with the daily digest of that date's list.
ALTER TABLE digest_parts DROP CONSTRAINT digest_parts_channel_id_list_date_fkey;
ALTER TABLE digest_parts DROP CONSTRAINT digest_parts_pkey;
ALTER TABLE digest_deliveries DROP CONSTRAINT digest_deliveries_pkey;
ALTER TABLE digest_deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'day'
    CHECK (kind IN ('day', 'week'));
ALTER TABLE digest_parts ADD COLUMN kind TEXT NOT NULL DEFAULT 'day';
ALTER TABLE digest_deliveries ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE digest_parts ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE digest_deliveries ADD PRIMARY KEY (channel_id, kind, list_date);
ALTER TABLE digest_parts ADD PRIMARY KEY (channel_id, kind, list_date, part);
ALTER TABLE digest_parts ADD FOREIGN KEY (channel_id, kind, list_date)
    REFERENCES digest_deliveries (channel_id, kind, list_date) ON DELETE CASCADE;

-- 0008: personal libraries and each server's shared reading list, of stored papers only.
CREATE TABLE library (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the order papers were saved in
    user_id  BIGINT NOT NULL,
    paper_id TEXT NOT NULL REFERENCES papers (id),
    saved_at TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, paper_id)
);

CREATE TABLE reading_list (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the order entries were added in
    guild_id BIGINT NOT NULL,
    paper_id TEXT NOT NULL REFERENCES papers (id),
    added_by BIGINT NOT NULL,
    note     TEXT NOT NULL DEFAULT '',                         -- plain text, escaped when shown
    added_at TIMESTAMPTZ NOT NULL,
    UNIQUE (guild_id, paper_id)
);

-- 0009: who put a paper on Daily Papers (an HF username) and its media (URLs, one a line).
ALTER TABLE papers
    ADD COLUMN submitter TEXT,
    ADD COLUMN media_urls TEXT NOT NULL DEFAULT '';

-- 0010: upvotes as each refresh saw them, one point per paper per refresh, kept 30 days.
CREATE TABLE upvote_history (
    paper_id TEXT NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    upvotes  INTEGER NOT NULL,
    PRIMARY KEY (paper_id, at)
);
CREATE INDEX upvote_history_at ON upvote_history (at);

-- A rising alert delivers a match only once the paper has this many upvotes (0: at once).
ALTER TABLE alerts ADD COLUMN min_upvotes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX alerts_min_upvotes ON alerts (min_upvotes) WHERE min_upvotes > 0;

-- "Tell me when code is out": one watch per (person, paper); the notice goes to the alert
-- outbox (paper_id '<id>#code', alert_id 0). Watches end 90 days after they were made.
CREATE TABLE code_watches (
    user_id     BIGINT NOT NULL,
    paper_id    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    notified_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, paper_id)
);
CREATE INDEX code_watches_waiting ON code_watches (paper_id) WHERE notified_at IS NULL;

-- Channels that get each recent paper once it reaches `threshold` upvotes.
CREATE TABLE rising_channels (
    channel_id BIGINT PRIMARY KEY,
    guild_id   BIGINT NOT NULL,
    threshold  INTEGER NOT NULL,
    keywords   TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

-- One row per (channel, paper), ever: planned (payload and nonce) before the send.
CREATE TABLE rising_posts (
    channel_id BIGINT NOT NULL,
    paper_id   TEXT NOT NULL,
    payload    TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'sending' CHECK (state IN ('sending', 'sent', 'dropped')),
    message_id BIGINT,
    planned_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel_id, paper_id)
);
CREATE INDEX rising_posts_sending ON rising_posts (channel_id) WHERE state = 'sending';

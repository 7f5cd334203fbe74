-- The SQLite store's migration 0016: alert outbox rows kept packed until the sender moves
-- them into alert_outbox, a bucket of people at a time (bot/store/deferred.py has the format).
CREATE TABLE alert_outbox_deferred (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket    INTEGER NOT NULL,            -- user id modulo deferred.BUCKETS
    queued_at TIMESTAMPTZ NOT NULL,        -- the rows' queued_at once in alert_outbox
    names     TEXT NOT NULL,               -- JSON: the papers, reasons and targets used
    packed    BYTEA NOT NULL,              -- 28 bytes a row (deferred.py)
    row_count INTEGER NOT NULL
);
CREATE INDEX alert_outbox_deferred_bucket ON alert_outbox_deferred (bucket, id);

-- Alert outbox rows kept packed until the sender moves them into alert_outbox, a bucket of
-- people at a time (bot/store/deferred.py has the format): a re-match of many papers writes
-- a few blobs instead of hundreds of thousands of rows before its first message can go.
CREATE TABLE alert_outbox_deferred (
    id        INTEGER PRIMARY KEY,
    bucket    INTEGER NOT NULL,            -- user id modulo deferred.BUCKETS
    queued_at TEXT NOT NULL,               -- the rows' queued_at once in alert_outbox
    names     TEXT NOT NULL,               -- JSON: the papers, reasons and targets used
    packed    BLOB NOT NULL,              -- 28 bytes a row (deferred.py)
    row_count INTEGER NOT NULL
);
CREATE INDEX alert_outbox_deferred_bucket ON alert_outbox_deferred (bucket, id);

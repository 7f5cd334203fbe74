-- Alert changes, counted in the database in the transaction that makes them, so that every
-- process sees them (alerts_version, alert_changes). The store keeps only the latest ones.
CREATE TABLE alert_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,   -- the version this change made
    kind       TEXT NOT NULL CHECK (kind IN ('alert', 'user', 'guild')),
    key        INTEGER NOT NULL,                    -- the alert, user or server id
    changed_at TEXT NOT NULL
);

-- Never read (author search uses the full-text index, authors are a column of papers).
DROP TABLE paper_authors;
DROP TABLE authors;

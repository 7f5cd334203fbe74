-- Several processes sharing the store (issue 15): who runs, delivery leases with fencing
-- tokens, and health problems reported once for all of them. On SQLite there is one process,
-- but it goes through the same tables and code.
CREATE TABLE cluster_processes (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    shard_count INTEGER,                 -- NULL: Discord's recommended count
    shard_ids   TEXT NOT NULL DEFAULT '', -- comma-separated; '' = every shard
    started_at  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    leader      INTEGER NOT NULL DEFAULT 0
);

-- One row per leased piece of work (a digest delivery, a rising post) while it is held.
CREATE TABLE leases (
    key        TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    token      INTEGER NOT NULL,
    expires_at TEXT NOT NULL
);

-- The last fencing token given: every grant takes the next one (released rows are deleted,
-- so the counter, not the rows, keeps tokens growing).
CREATE TABLE lease_tokens (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO lease_tokens (id, last) VALUES (1, 0);

CREATE TABLE health_problems (
    key      TEXT PRIMARY KEY,
    message  TEXT NOT NULL,
    guild_id INTEGER,
    since    TEXT NOT NULL
);

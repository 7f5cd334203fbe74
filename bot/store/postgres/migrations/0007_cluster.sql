-- Several processes sharing the store (issue 15): who runs, delivery leases with fencing
-- tokens, and health problems reported once for all of them.
CREATE TABLE cluster_processes (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    shard_count INTEGER,                  -- NULL: Discord's recommended count
    shard_ids   TEXT NOT NULL DEFAULT '', -- comma-separated; '' = every shard
    started_at  TIMESTAMPTZ NOT NULL,
    last_seen   TIMESTAMPTZ NOT NULL,
    leader      BOOLEAN NOT NULL DEFAULT FALSE
);

-- One row per leased piece of work (a digest delivery, a rising post) while it is held.
CREATE TABLE leases (
    key        TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Fencing tokens: every grant takes the next value, so tokens only grow.
CREATE SEQUENCE lease_tokens;

CREATE TABLE health_problems (
    key      TEXT PRIMARY KEY,
    message  TEXT NOT NULL,
    guild_id BIGINT,
    since    TIMESTAMPTZ NOT NULL
);

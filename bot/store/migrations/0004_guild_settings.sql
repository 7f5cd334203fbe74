-- Per-server settings: where health reports go.
CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    health_channel_id INTEGER
);

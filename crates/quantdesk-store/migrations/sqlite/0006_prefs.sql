-- Small per-user settings that follow the user between browsers (a replay cursor, say).
CREATE TABLE IF NOT EXISTS user_prefs (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, name)
);

-- Small per-user settings that follow the user between browsers (a replay cursor, say).
CREATE TABLE IF NOT EXISTS user_prefs (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, name)
);

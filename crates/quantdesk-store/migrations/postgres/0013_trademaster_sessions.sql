-- Sessions of the TradeMaster-compatible API (`/api/TradeMaster/…`): one row per session id the
-- API handed out, owned by the user who created it. `state` is the session's JSON (which
-- labeling and dynamics-test jobs it started, whether its labels were saved); `version` grows on
-- every update, so concurrent updates cannot overwrite each other (compare-and-set).
CREATE TABLE IF NOT EXISTS trademaster_sessions (
    session_id  TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT '{}',
    version     BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS trademaster_sessions_owner ON trademaster_sessions (owner);

-- The CSV files uploaded into a session (`upload_csv`), by name; a new upload of a name replaces it.
CREATE TABLE IF NOT EXISTS trademaster_datasets (
    session_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    data        BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, name)
);

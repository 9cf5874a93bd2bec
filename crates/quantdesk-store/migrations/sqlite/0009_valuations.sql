-- Valuations: every saved result (a user's history) and the cache of results. `valuation_date` is
-- '' when the request named none (everything stored). `request_hash` is the SHA-256 of the
-- canonical request JSON, `inputs_hash` the SHA-256 of the statements the model was given: a
-- cached result is used only while both are the same, so a new or revised statement row (which
-- changes the inputs) misses the cache without any write-time bookkeeping on `statements`.
CREATE TABLE IF NOT EXISTS valuations (
    id              INTEGER PRIMARY KEY,
    owner           TEXT NOT NULL,
    ts_code         TEXT NOT NULL,
    valuation_date  TEXT NOT NULL DEFAULT '',
    profile         TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    inputs_hash     TEXT NOT NULL,
    request         TEXT NOT NULL,
    result          TEXT NOT NULL,
    value_per_share REAL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS valuations_owner ON valuations (owner, created_at);
CREATE INDEX IF NOT EXISTS valuations_cache ON valuations (ts_code, valuation_date, request_hash, inputs_hash);

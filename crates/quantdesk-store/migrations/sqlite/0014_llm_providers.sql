-- LLM providers an admin configured: any OpenAI-compatible endpoint. `api_key_enc` is the key
-- encrypted by the application (AES-256-GCM, nonce first, hex), '' when the provider has no key;
-- `api_key_last4` its last four characters for display. The fallback order is `position`
-- ascending (then id); the first is the default.
CREATE TABLE IF NOT EXISTS llm_providers (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    preset        TEXT NOT NULL DEFAULT '',
    base_url      TEXT NOT NULL,
    model         TEXT NOT NULL,
    api_key_enc   TEXT NOT NULL DEFAULT '',
    api_key_last4 TEXT NOT NULL DEFAULT '',
    temperature   REAL,
    top_p         REAL,
    max_tokens    INTEGER,
    timeout_secs  INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
